"""Office hours and investor updates in a real browser (issue 17, items 4 and 5).

The real app runs as a subprocess on a fresh SQLite database with a programme, its mentor, a
startup enrolled in it with one submitted report, and an investor whose organisation holds a
live share grant of the startup. The journey, in headless Chromium: the mentor (desktop)
publishes weekly office hours → the founder (phone, 390 px) books the first slot → both find
the meeting on their "My office hours" page; then the founder (phone) sends an investor
update with the revenue → the investor reads it (desktop, then phone) → the founder sees who
read it. Screenshots go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e.live import (
    PASSWORD,
    SCREENSHOTS,
    VIEWPORTS,
    LiveServer,
    live_server,
    no_horizontal_scroll,
    run_setup,
    setup_database,
)

FOUNDER = "nam@lumi.vn"
MENTOR = "quan@bbi.vn"
INVESTOR = "an@mekongfund.vn"
STATE = "office-e2e.txt"  # the setup writes "<programme id> <startup id>" here

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office_server() -> Iterator[tuple[LiveServer, int, int]]:
    packages = [p for p in os.environ.get("PACKAGES", "labs").split(",") if p]
    with live_server(
        "tests.e2e.test_incubator_office_updates",
        packages=",".join(dict.fromkeys([*packages, "incubator"])),
        extra_env=lambda server: {"E2E_STATE": str(server.workdir / STATE)},
    ) as server:
        programme_id, startup_id = (server.workdir / STATE).read_text().split()
        yield server, int(programme_id), int(startup_id)


async def _setup() -> None:
    """Run in a subprocess with the server's environment."""
    from tortoise import timezone

    from ecosystem.models import Sphere
    from ecosystem.services.accounts import create_user
    from incubator.models import Cohort, ProgrammeRole, ProgrammeRoleKind, ShareGrant
    from tests.incubator.conftest import (
        accepted_enrolment,
        member,
        organisation,
        programme,
        startup,
        submitted,
    )

    async with setup_database():
        founder = await create_user(FOUNDER, PASSWORD, "Lê Hoàng Nam", False, True)
        mentor = await create_user(MENTOR, PASSWORD, "Đỗ Minh Quân", False, True)
        investor = await create_user(INVESTOR, PASSWORD, "Nguyễn Văn An", False, True)
        host = await organisation("Becamex Business Incubator")
        prog = await programme(host, "Becamex incubation")
        await ProgrammeRole.create(programme=prog, user=mentor, role=ProgrammeRoleKind.MENTOR)
        cohort = await Cohort.create(programme=prog, name="Khóa 2026", starts_on=date(2026, 1, 1))
        lumi = await startup("Lumi Smart Lighting", founder, sector="smart_city", stage="mvp")
        enrolment = await accepted_enrolment(cohort, lumi, date(2026, 1, 1))
        await submitted(enrolment, "2026-10", {"revenue": 387_500_000, "users": 412})
        fund = await organisation("Mekong Fund", Sphere.INVESTOR)
        await member(investor, fund)
        await ShareGrant.create(
            startup=lumi,
            grantee=fund,
            metrics=["revenue"],
            period_from="2026-01",
            period_to="2026-12",
            expires_at=timezone.now() + timedelta(days=90),
            created_by=founder,
        )
        state = Path(os.environ["E2E_STATE"])
        state.write_text(f"{prog.id} {lumi.id}")  # noqa: ASYNC240 (a one-off setup)


def _sign_in(page, base: str, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator('form[action^="/login"] button[type="submit"]').click()
    page.wait_for_url(lambda url: url.startswith(base) and "/login" not in url)


def test_office_hours_and_an_investor_update_on_desktop_and_phone(chromium, office_server):
    from playwright.sync_api import expect

    server, programme_id, startup_id = office_server
    base = server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    contexts = {
        name: chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[size])
        for name, size in (
            ("mentor", "desktop"),
            ("founder", "phone"),
            ("investor", "desktop"),
            ("investor_phone", "phone"),
        )
    }
    try:
        # 1. The mentor publishes weekly office hours, a week from now.
        mentor = contexts["mentor"].new_page()
        mentor.set_default_timeout(10_000)
        _sign_in(mentor, base, MENTOR)
        board = f"/incubator/programmes/{programme_id}/office-hours"
        mentor.goto(board)
        day = date.today() + timedelta(days=7)
        mentor.select_option("#f-weekday", str(day.weekday()))
        mentor.fill("#f-start", "09:00")
        mentor.fill("#f-slots", "3")
        mentor.fill("#f-first_day", day.isoformat())
        mentor.fill("#f-weeks", "4")
        mentor.fill("#f-place", "EIU, phòng B2.03")
        mentor.locator("#publish button[type='submit']").click()
        mentor.wait_for_url(f"{base}{board}")
        expect(mentor.locator(".flash-success")).to_have_count(1)
        expect(mentor.locator("#hours li")).to_have_count(1)
        mentor.screenshot(path=SCREENSHOTS / "office-desktop-01-published.png", full_page=True)

        # 2. The founder books the first slot on a phone.
        founder = contexts["founder"].new_page()
        founder.set_default_timeout(10_000)
        _sign_in(founder, base, FOUNDER)
        founder.goto(f"/incubator/programmes/{programme_id}")
        founder.locator("#office-hours-link").click()
        founder.wait_for_url(f"{base}{board}")
        no_horizontal_scroll(founder)
        founder.screenshot(path=SCREENSHOTS / "office-phone-02-board.png", full_page=True)
        first = founder.locator("li.office-slot").first
        start = first.get_attribute("data-start")
        first.locator("input[name='topic']").fill("Gọi vốn vòng hạt giống")
        button = first.locator("button[type='submit']")
        box = button.bounding_box()
        assert box is not None and box["height"] >= 36
        button.click()
        founder.wait_for_url("**/incubator/office-hours/bookings/*")
        expect(founder.locator(".flash-success")).to_have_count(1)
        expect(founder.locator("#booking")).to_contain_text("Gọi vốn vòng hạt giống")
        no_horizontal_scroll(founder)
        founder.screenshot(path=SCREENSHOTS / "office-phone-03-booked.png", full_page=True)
        founder.goto("/incubator/office-hours")
        expect(founder.locator("#as-founder li a")).to_have_count(1)
        no_horizontal_scroll(founder)

        # 3. The mentor sees it on their page and on the board.
        mentor.goto("/incubator/office-hours")
        expect(mentor.locator("#as-mentor")).to_contain_text("Lumi Smart Lighting")
        mentor.screenshot(path=SCREENSHOTS / "office-desktop-04-mine.png", full_page=True)
        mentor.goto(board)
        taken = mentor.locator(f"li.office-slot[data-start='{start}']")
        expect(taken).to_contain_text("Lumi Smart Lighting")

        # 4. The founder sends an investor update from the phone.
        founder.goto(f"/incubator/startups/{startup_id}")
        founder.locator("#updates-link").click()
        founder.wait_for_url(f"{base}/incubator/startups/{startup_id}/updates")
        founder.fill("#f-title", "Bản tin tháng 10")
        founder.locator("input[name='metrics'][value='revenue']").check()
        founder.fill("#f-narrative", "Lumi ký hợp đồng chiếu sáng với KCN Mỹ Phước 3.")
        no_horizontal_scroll(founder)
        founder.screenshot(path=SCREENSHOTS / "office-phone-05-compose.png", full_page=True)
        founder.locator("#compose button[type='submit']").click()
        founder.wait_for_url(f"{base}/incubator/startups/{startup_id}/updates/*")
        update_url = founder.url
        expect(founder.locator("#receipts li.muted")).to_have_count(1)  # no one yet

        # 5. The investor reads it, on a desktop and on a phone.
        investor = contexts["investor"].new_page()
        investor.set_default_timeout(10_000)
        _sign_in(investor, base, INVESTOR)
        investor.goto("/incubator/updates")
        investor.locator("#inbox a").first.click()
        investor.wait_for_url(update_url)
        expect(investor.locator("#narrative")).to_contain_text("Mỹ Phước 3")
        expect(investor.locator("#metrics")).to_contain_text("387.500.000")
        expect(investor.locator("#receipts")).to_have_count(0)
        investor.screenshot(path=SCREENSHOTS / "updates-desktop-06-read.png", full_page=True)
        small = contexts["investor_phone"].new_page()
        small.set_default_timeout(10_000)
        _sign_in(small, base, INVESTOR)
        small.goto(update_url)
        expect(small.locator("#metrics")).to_contain_text("387.500.000")
        no_horizontal_scroll(small)
        small.screenshot(path=SCREENSHOTS / "updates-phone-07-read.png", full_page=True)

        # 6. The founder sees who read it.
        founder.reload()
        expect(founder.locator("#receipts .receipts li")).to_have_count(1)
        expect(founder.locator("#receipts")).to_contain_text("Nguyễn Văn An")
        no_horizontal_scroll(founder)
        founder.screenshot(path=SCREENSHOTS / "updates-phone-08-receipts.png", full_page=True)
    finally:
        for context in contexts.values():
            context.close()


run_setup(__name__, _setup)
