"""Links point where the site is served: BASE_URL when it is set; else `serve --port P`
makes e-mails, the calendar feed, QR codes and certificates link to that port; a link shown
on a request's own page may use the address that request came to."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ecosystem import settings as settings_module
from ecosystem.settings import SERVED_URL_ENV, Settings, served_url
from tests.conftest import PASSWORD, BrowserSession, make_user, running_app
from tests.production.shape import free_port, stop_process, tail, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_base_url_comes_from_base_url_then_the_served_address_then_the_default(monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.delenv(SERVED_URL_ENV, raising=False)
    assert Settings.from_env().base_url == "http://127.0.0.1:8000"
    assert not Settings.from_env().base_url_is_set
    monkeypatch.setenv(SERVED_URL_ENV, "http://127.0.0.1:8811")
    assert Settings.from_env().base_url == "http://127.0.0.1:8811"
    assert not Settings.from_env().base_url_is_set
    monkeypatch.setenv("BASE_URL", "https://innovation.binhduong.gov.vn/")
    configured = Settings.from_env()
    assert configured.base_url == "https://innovation.binhduong.gov.vn"
    assert configured.base_url_is_set


def test_the_served_address_of_every_kind_of_bind():
    assert served_url("127.0.0.1", 8811) == "http://127.0.0.1:8811"
    assert served_url("0.0.0.0", 8811) == "http://127.0.0.1:8811"
    assert served_url("::", 9000) == "http://[::1]:9000"
    assert served_url("fe80::1", 9000) == "http://[fe80::1]:9000"
    assert served_url("lab.local", 80) == "http://lab.local:80"


def test_serve_on_another_port_links_its_emails_to_that_port(tmp_path):
    """`python -m ecosystem serve --port P` without BASE_URL: the verification e-mail of a
    new account links to port P (the issue: `make run PORT=8811` linked to 8000)."""
    database = tmp_path / "site.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BASE_URL", SERVED_URL_ENV, "REDIS_URL", "DATABASE_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite://{database}",
        SECRET_KEY="base-url-test-secret",
        MEDIA_DIR=str(tmp_path / "media"),
        PYTHONPATH=str(ROOT),
    )
    subprocess.run(
        [sys.executable, "-m", "ecosystem", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "ecosystem", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, f"serve did not answer: {tail(server)}")

        async def register() -> int:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                browser = BrowserSession(http, lang="en")
                await browser.get("/register")
                response = await browser.post(
                    "/register",
                    {
                        "full_name": "Trần Văn Bình",
                        "email": "binh@becamex.com.vn",
                        "password": PASSWORD,
                        "locale": "en",
                    },
                )
                return response.status_code

        assert asyncio.run(register()) == 303

        def mailed() -> bool:
            with sqlite3.connect(database) as db:
                return bool(db.execute("SELECT count(*) FROM outbox_message").fetchone()[0])

        wait_until(mailed, 20, "no verification e-mail")
        with sqlite3.connect(database) as db:
            [(body,)] = db.execute(
                "SELECT text_body FROM outbox_message WHERE \"to\" = 'binh@becamex.com.vn'"
            ).fetchall()
    finally:
        stop_process(server)
        log.close()
    assert f"{base}/" in body, body
    assert "127.0.0.1:8000" not in body


async def test_a_page_links_to_the_address_it_was_asked_on_unless_base_url_is_set(
    settings: Settings,
):
    """The calendar feed and the check-in QR code: without BASE_URL, the request's own
    address; with BASE_URL, BASE_URL (behind a proxy the request's address is internal)."""
    from labs.models import Booking
    from tests.labs.conftest import at, local_day, make_equipment, make_lab

    for configured, expected in (
        (False, "http://testserver"),
        (True, "http://innovation.binhduong.test"),
    ):
        current = dataclasses.replace(
            settings,
            base_url="http://innovation.binhduong.test" if configured else "http://x:1",
            base_url_is_set=configured,
        )
        async with running_app(current) as new_browser:
            assert settings_module.get_settings().base_url_is_set is configured
            user = await make_user("lan@eiu.edu.vn", locale="en")
            browser = new_browser()
            await browser.login(user.email)
            page = await browser.post("/bookings/calendar", {"action": "create"})
            assert f"{expected}/calendar/" in page.text, page.text[:2000]
            lab = await make_lab()
            machine = await make_equipment(lab, "Prusa MK4")
            start = at(local_day(3), 9)
            booking = await Booking.create(
                equipment=machine,
                user=user,
                starts_at=start,
                ends_at=start.replace(hour=10),
                status="confirmed",
                check_in_code=f"code-{int(configured)}",
            )
            qr = await browser.get(f"/bookings/{booking.id}/qr.svg")
            assert qr.status_code == 200
            # The very QR code of the check-in address at `expected`.
            url = f"{expected}/labs/checkin/{booking.check_in_code}"
            assert qr.content == qr_svg(url)


def qr_svg(url: str) -> bytes:
    import qrcode
    from qrcode.image.svg import SvgPathImage

    return qrcode.make(url, image_factory=SvgPathImage, box_size=10, border=2).to_string()


@pytest.fixture(autouse=True)
def _no_served_url(monkeypatch):
    monkeypatch.delenv(SERVED_URL_ENV, raising=False)
