"""One person's first visit, in headless Chromium, on a desktop and on a phone.

The real app runs as a subprocess (uvicorn, `python -m ecosystem serve`) on a fresh SQLite
database, and sends its email to an SMTP server this test runs (aiosmtpd), so every link
the person opens is read from a received email. Before the journey an organisation owner
invites the person's address to two verified organisations. The journey: register →
open the emailed verification link → sign out → sign in → accept both emailed
invitations → switch the language to English and back → switch organisation in the
header. Screenshots of each step go to tests/e2e/screenshots/ (git-ignored).

Selectors are ids, form actions and classes, never translated text, so the test holds
whatever the Vietnamese catalogue says. Needs /usr/bin/chromium (Debian package): without
it the test is skipped, unless REQUIRE_BROWSER=1, where it fails.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tests.e2e.live import (
    HOST,
    PASSWORD,
    SCREENSHOTS,
    VIEWPORTS,
    LiveServer,
    free_port,
    live_server,
    no_horizontal_scroll,
    run_setup,
    setup_database,
)

OWNER = "owner@becamex.com.vn"
# Names sort in this order: the switcher starts on the first.
ORGANISATIONS = (("Becamex IDC", "enterprise"), ("Thu Dau Mot University", "university"))
EMAILS = {name: f"lan.{name}@tdmu.edu.vn" for name in VIEWPORTS}

pytestmark = pytest.mark.browser


# --- a real SMTP server -------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the aiosmtpd server received, readable from the test thread."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def link(self, to: str, path_prefix: str, base_url: str, timeout: float = 15.0) -> str:
        """The first link to `base_url + path_prefix…` in a message to `to` (waits for it)."""
        pattern = re.compile(re.escape(base_url + path_prefix) + r"[^\s<>\"]+")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if message["To"] != to:
                        continue
                    body = message.get_body(preferencelist=("plain",))
                    if body and (found := pattern.search(body.get_content())):
                        return found.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no email to {to} with a {path_prefix} link within {timeout} s")

    def links(self, to: str, path_prefix: str, base_url: str) -> list[str]:
        pattern = re.compile(re.escape(base_url + path_prefix) + r"[^\s<>\"]+")
        with self.lock:
            bodies = [
                m.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
                for m in self.messages
                if m["To"] == to
            ]
        return [found for body in bodies for found in pattern.findall(body)]


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname=HOST, port=port)
    controller.start()
    yield box, port
    controller.stop()


# --- the app as a subprocess --------------------------------------------------------------


@pytest.fixture(scope="module")
def app_server(mailbox: tuple[Mailbox, int]) -> Iterator[LiveServer]:
    """The app, its mail sent to `mailbox`; set up with the owner, two verified organisations
    and the invitations to EMAILS (delivered by SMTP)."""
    _, smtp_port = mailbox
    with live_server(
        "tests.e2e.test_browser_journey",
        extra_env={"SMTP_URL": f"smtp://{HOST}:{smtp_port}"},
        setup_args=list(EMAILS.values()),
    ) as server:
        yield server


async def _setup(*emails: str) -> None:
    """Run in a subprocess with the server's environment (keeps the ORM out of pytest's)."""
    from ecosystem import jobs
    from ecosystem.models import Verification
    from ecosystem.schemas import InvitationIn, OrganisationIn
    from ecosystem.services.accounts import create_user
    from ecosystem.services.organisations import create_organisation, invite

    async with setup_database(register_jobs=True):
        owner = await create_user(OWNER, PASSWORD, "Nguyễn Văn Minh")
        for name, sphere in ORGANISATIONS:
            organisation = await create_organisation(
                owner, OrganisationIn(name=name, spheres=[sphere], city="Thủ Dầu Một")
            )
            organisation.verification = Verification.VERIFIED
            await organisation.save(update_fields=["verification"])
            for email in emails:
                await invite(owner, organisation, InvitationIn(email=email))
        await jobs.drain()  # the invitation emails go out now, over SMTP


# --- the browser --------------------------------------------------------------------------


def _inside_viewport(page, selector: str) -> None:
    """An opened dropdown must not be cut off at either edge of the window."""
    box = page.locator(selector).bounding_box()
    width = page.viewport_size["width"]
    assert box is not None, f"{selector} is not displayed"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (
        f"{selector} spans x={box['x']:.0f}..{box['x'] + box['width']:.0f} in a {width}px window"
    )


def _tap_targets(page, selector: str, minimum: int = 44) -> None:
    """On a phone, every visible control matching `selector` is at least `minimum` px high."""
    heights = page.eval_on_selector_all(
        selector,
        """(nodes) => nodes.filter((n) => n.offsetParent !== null)
            .map((n) => [n.textContent.trim().slice(0, 30), n.getBoundingClientRect().height])""",
    )
    small = [(text, round(height)) for text, height in heights if height < minimum]
    assert heights and not small, f"tap targets under {minimum}px: {small}"


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_register_verify_sign_in_language_and_organisation(device, chromium, app_server, mailbox):
    from playwright.sync_api import expect

    box, _ = mailbox
    base, email = app_server.base_url, EMAILS[device]
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=SCREENSHOTS / f"{device}-{step:02d}-{name}.png", full_page=True)
        if device == "phone":
            no_horizontal_scroll(page)

    def open_menu() -> None:
        page.locator("details.menu > summary").click()
        expect(page.locator("details.menu")).to_have_attribute("open", "")
        _inside_viewport(page, ".menu-body")
        if device == "phone":
            _tap_targets(page, ".topbar summary, .topbar select, .menu-body a, .menu-body button")

    try:
        # Register: lands on the account page, which asks to verify the address.
        page.goto("/register")
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        page.fill("#f-full_name", "Trần Thị Lan")
        page.fill("#f-email", email)
        page.fill("#f-password", PASSWORD)
        shot("register")
        page.locator('form[action="/register"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/account")
        expect(page.locator(".flash-warning")).to_contain_text(email)
        shot("registered")

        # The emailed link verifies the address.
        page.goto(box.link(email, "/verify?token=", base))
        page.wait_for_url(f"{base}/account")
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator(".flash-warning")).to_have_count(0)
        shot("verified")

        # Sign out from the header menu, then sign in again.
        open_menu()
        shot("menu")
        page.mouse.click(5, page.viewport_size["height"] - 5)  # outside: the menu closes
        expect(page.locator("details.menu")).not_to_have_attribute("open", "")
        open_menu()
        page.locator('form[action="/logout"] button').click()
        page.wait_for_url(f"{base}/")
        expect(page.locator('details.menu a[href="/login"]')).to_have_count(1)
        page.goto("/login")
        page.fill("#f-email", email)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")  # everyone signed in lands on their dashboard
        expect(page.locator("main h1")).to_contain_text("Trần Thị Lan")

        # Both emailed invitations, accepted while signed in.
        invitations = box.links(email, "/invitations/", base)
        assert len(invitations) == len(ORGANISATIONS), invitations
        for number, link in enumerate(invitations):
            page.goto(link)
            if number == 0:
                shot("invitation")
            page.locator('main form[action^="/invitations/"] button').click()
            page.wait_for_url(re.compile(r"/organisations/[\w-]+$"))
            expect(page.locator(".flash-success")).to_be_visible()
        page.goto("/account")
        for name, _sphere in ORGANISATIONS:
            expect(page.locator("main .list")).to_contain_text(name)

        # Language: English, then back to Vietnamese (the choice survives the reload).
        language = page.locator("#language-select")
        language.select_option("en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(language).to_have_value("en")
        expect(language.locator("option:checked")).to_have_text("English")
        expect(page.locator("main h1")).to_have_text("My account")
        shot("english")
        language.select_option("vi")
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        expect(language).to_have_value("vi")
        expect(language.locator("option:checked")).to_have_text("Tiếng Việt")
        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        shot("vietnamese")

        # The organisation switcher: starts on the first by name, switches to the second.
        (first, _), (second, _) = ORGANISATIONS
        switcher = page.locator("details.switcher > summary")
        expect(switcher).to_have_text(first)
        switcher.click()
        option = page.locator(".switch-option", has_text=second)
        expect(option).to_be_visible()
        _inside_viewport(page, ".switcher-body")
        if device == "phone":
            _tap_targets(page, ".switch-option")
        shot("switcher")
        option.click()
        expect(switcher).to_have_text(second)
        expect(page.locator(".flash-success")).to_contain_text(second)
        switcher.click()
        expect(page.locator(".switch-option.current")).to_contain_text(second)
        shot("switched")

        # The partner directory, where phones show one card per row.
        page.goto("/organisations")
        expect(page.locator(".card.org")).to_have_count(len(ORGANISATIONS))
        shot("directory")
    finally:
        context.close()


run_setup(__name__, _setup)
