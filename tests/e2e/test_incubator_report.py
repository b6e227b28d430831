"""A founder sends a monthly KPI report from a phone; the manager sees the new point.

The real app runs as a subprocess (`python -m ecosystem serve`, the test's PACKAGES plus incubator)
on a fresh SQLite database, set up with a programme, a cohort, a startup with six months of
reports and the last month's request open. The journey, in headless Chromium: the founder
signs in on a phone-sized window → opens the report from the incubator page → fills the
metrics → submits → is asked to explain a revenue far above the last months' → explains it in
one line → submits → sees the startup page → files a correction of the users; then the
manager, signed in elsewhere, opens the startup and finds the new month's point on the revenue
chart (and in its data table), and the report's page with the explanation and the correction
(old → new).
Screenshots go to tests/e2e/screenshots/. Selectors are ids, actions and data attributes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
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
MANAGER = "ha@bbi.vn"
STATE = "incubator-e2e.txt"  # the setup writes "<startup id> <period>" here

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def incubator_server() -> Iterator[tuple[LiveServer, int, str]]:
    packages = [p for p in os.environ.get("PACKAGES", "labs").split(",") if p]
    with live_server(
        "tests.e2e.test_incubator_report",
        packages=",".join(dict.fromkeys([*packages, "incubator"])),
        extra_env=lambda server: {"E2E_STATE": str(server.workdir / STATE)},
    ) as server:
        startup_id, period = (server.workdir / STATE).read_text().split()
        yield server, int(startup_id), period


async def _setup() -> None:
    """Run in a subprocess with the server's environment."""
    from tortoise import timezone

    from ecosystem.models import Role
    from ecosystem.services.accounts import create_user
    from incubator import periods
    from incubator.models import Cohort, ProgrammeRole, ProgrammeRoleKind, ReportRequest
    from incubator.services.reports import local_today, materialise
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
        manager = await create_user(MANAGER, PASSWORD, "Phạm Thu Hà", False, True)
        host = await organisation("Becamex Business Incubator")
        await member(manager, host, Role.ADMIN)
        prog = await programme(host, "Becamex incubation")
        await ProgrammeRole.create(programme=prog, user=manager, role=ProgrammeRoleKind.MANAGER)
        cohort = await Cohort.create(programme=prog, name="Khóa 2018", starts_on=date(2018, 3, 1))
        lumi = await startup("Lumi Smart Lighting", founder, sector="smart_city", stage="mvp")
        enrolment = await accepted_enrolment(cohort, lumi, date(2018, 3, 1))
        today = local_today()
        last = periods.add_months(date(today.year, today.month, 1), -1)
        for back in range(6, 0, -1):
            month = periods.month_of(periods.add_months(last, -back))
            await submitted(
                enrolment, month, {"revenue": 100_000_000 + back * 1_000_000, "users": 300}
            )
        await materialise(timezone.now())  # opens last month's request
        request = await ReportRequest.get(startup_id=lumi.id, status="open")
        state = Path(os.environ["E2E_STATE"])
        state.write_text(f"{lumi.id} {request.period}")  # noqa: ASYNC240 (a one-off setup)


def _sign_in(page, base: str, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator('form[action^="/login"] button[type="submit"]').click()
    page.wait_for_url(lambda url: url.startswith(base) and "/login" not in url)


def test_a_founder_reports_on_a_phone_and_the_manager_sees_the_point(chromium, incubator_server):
    from playwright.sync_api import expect

    server, startup_id, period = incubator_server
    base = server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    phone = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
    desk = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["desktop"])
    try:
        page = phone.new_page()
        page.set_default_timeout(10_000)
        _sign_in(page, base, FOUNDER)
        page.goto("/incubator")
        link = page.locator(f"#my-reports a[href^='/incubator/startups/{startup_id}/reports/']")
        expect(link).to_have_count(1)
        no_horizontal_scroll(page)
        link.click()
        page.wait_for_url(f"{base}/incubator/startups/{startup_id}/reports/**")
        expect(page.locator("details.skip-period summary")).to_be_visible()  # skip, with a reason
        page.fill("#f-m_revenue", "387500000")
        page.fill("#f-m_users", "412")
        page.fill("#f-m_headcount", "9")
        page.screenshot(path=SCREENSHOTS / "incubator-phone-01-report.png", full_page=True)
        no_horizontal_scroll(page)
        submit = page.locator("#submit-report")
        box = submit.bounding_box()
        assert box is not None and box["height"] >= 44  # a thumb-sized target
        submit.click()
        # More than 3x the median of the last three months: one line of explanation first.
        explain = page.locator("#f-x_revenue")
        expect(explain).to_be_visible()
        expect(page.locator("#f-m_revenue")).to_have_value("387500000")  # kept
        expect(page.locator("#f-m_users")).to_have_value("412")
        page.screenshot(path=SCREENSHOTS / "incubator-phone-01b-explain.png", full_page=True)
        no_horizontal_scroll(page)
        explain.fill("Hợp đồng chiếu sáng với Becamex")
        page.locator("#submit-report").click()
        page.wait_for_url(f"{base}/incubator/startups/{startup_id}")
        expect(page.locator(".flash-success")).to_have_count(1)
        expect(page.locator(f"#chart-revenue circle[data-label='{period}']")).to_have_count(1)
        page.screenshot(path=SCREENSHOTS / "incubator-phone-02-startup.png", full_page=True)
        no_horizontal_scroll(page)
        # A correction after submission keeps the history.
        page.locator(f"#reports a:text-is('{period}')").click()
        page.wait_for_url("**/history")
        page.locator("#correct-link").click()
        page.wait_for_url("**/correct")
        page.fill("#f-m_users", "415")
        page.fill("#f-reason", "Đếm trùng 3 tài khoản")
        page.screenshot(path=SCREENSHOTS / "incubator-phone-02b-correct.png", full_page=True)
        no_horizontal_scroll(page)
        page.locator("#submit-correction").click()
        page.wait_for_url("**/history")
        expect(page.locator("#history .event-correction")).to_have_count(1)
        page.screenshot(path=SCREENSHOTS / "incubator-phone-02c-history.png", full_page=True)
        no_horizontal_scroll(page)

        manager = desk.new_page()
        manager.set_default_timeout(10_000)
        _sign_in(manager, base, MANAGER)
        manager.goto(f"/incubator/startups/{startup_id}")
        points = manager.locator("#chart-revenue circle.chart-point")
        expect(points).to_have_count(7)  # six months of history and the new one
        newest = manager.locator(f"#chart-revenue circle[data-label='{period}']")
        expect(newest).to_have_attribute("data-value", "387500000")
        chart = manager.locator("#chart-revenue svg[role='img']")
        expect(chart).to_have_attribute("aria-label", "Doanh thu theo kỳ")
        row = manager.locator(f"#chart-revenue table tr:has(th:text-is('{period}'))")
        expect(row).to_have_count(1)
        manager.screenshot(path=SCREENSHOTS / "incubator-desktop-03-manager.png", full_page=True)
        manager.locator(f"#reports a:text-is('{period}')").click()
        manager.wait_for_url("**/history")
        expect(manager.locator("[data-explanation='revenue']")).to_contain_text("Becamex")
        correction = manager.locator("#history .event-correction")
        expect(correction).to_contain_text("Đếm trùng 3 tài khoản")
        expect(correction.locator("del")).to_have_text("412")
        expect(correction.locator("ins")).to_have_text("415")
        manager.screenshot(path=SCREENSHOTS / "incubator-desktop-04-history.png", full_page=True)
        # The cohort view marks the corrected report, on a desktop and on a phone.
        manager.goto(f"/incubator/startups/{startup_id}")
        manager.locator(".enrolments a[href^='/incubator/cohorts/']").click()
        manager.wait_for_url("**/incubator/cohorts/*")
        expect(manager.locator("#portfolio .badge.corrected")).to_have_count(1)
        manager.screenshot(path=SCREENSHOTS / "incubator-desktop-05-cohort.png", full_page=True)
        cohort_url = manager.url
        on_phone = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
        try:
            small = on_phone.new_page()
            small.set_default_timeout(10_000)
            _sign_in(small, base, MANAGER)
            small.goto(cohort_url)
            expect(small.locator("#portfolio .badge.corrected")).to_have_count(1)
            no_horizontal_scroll(small)
            small.screenshot(path=SCREENSHOTS / "incubator-phone-06-cohort.png", full_page=True)
        finally:
            on_phone.close()
    finally:
        phone.close()
        desk.close()


run_setup(__name__, _setup)
