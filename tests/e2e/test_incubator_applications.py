"""An applicant applies, edits and follows the status; a manager runs the pipeline.

The real app runs as a subprocess on a fresh SQLite database with a programme, its manager and
two reviewers, an open call with one question, and another startup's application. In headless
Chromium: the founder, on a phone, applies → lands on the application's page with its status →
changes the answer → the call's page now links to the application instead of a blank form. The
manager, on a desktop, selects both applications → moves them to "shortlisted" → assigns both
reviewers to both at once → admits the founder's startup with a message → previews the e-mail →
sends it; on a phone the pipeline does not scroll sideways. The founder then reads "admitted"
and the message. Screenshots go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
STATE = "incubator-apps-e2e.txt"  # the setup writes "<call id> <cohort id> <startup id>" here

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pipeline_server() -> Iterator[tuple[LiveServer, int, int, int]]:
    packages = [p for p in os.environ.get("PACKAGES", "labs").split(",") if p]
    with live_server(
        "tests.e2e.test_incubator_applications",
        packages=",".join(dict.fromkeys([*packages, "incubator"])),
        extra_env=lambda server: {"E2E_STATE": str(server.workdir / STATE)},
    ) as server:
        call_id, cohort_id, startup_id = (server.workdir / STATE).read_text().split()
        yield server, int(call_id), int(cohort_id), int(startup_id)


async def _setup() -> None:
    """Run in a subprocess with the server's environment."""
    from datetime import date, timedelta

    from tortoise import timezone

    from ecosystem.models import Role
    from ecosystem.services.accounts import create_user
    from incubator.models import (
        Application,
        ApplicationCall,
        Cohort,
        ProgrammeRole,
        ProgrammeRoleKind,
    )
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
        other = await create_user("mai@greenfarm.vn", PASSWORD, "Trần Thị Mai", False, True)
        host = await organisation("Becamex Business Incubator")
        await member(manager, host, Role.ADMIN)
        prog = await programme(host, "Becamex incubation")
        await ProgrammeRole.create(programme=prog, user=manager, role=ProgrammeRoleKind.MANAGER)
        for email, name in (
            ("tung@eiu.edu.vn", "Võ Thanh Tùng"),
            ("anh@eiu.edu.vn", "Lý Ngọc Anh"),
        ):
            reviewer = await create_user(email, PASSWORD, name, False, True)
            await ProgrammeRole.create(
                programme=prog, user=reviewer, role=ProgrammeRoleKind.REVIEWER
            )
        lumi = await startup("Lumi Smart Lighting", founder, sector="smart_city", stage="mvp")
        green = await startup("GreenFarm IoT", other, sector="agritech", stage="growth")
        call = await ApplicationCall.create(
            programme=prog,
            title="Thành phố thông minh 2027",
            questions=[{"key": "problem", "label": "Startup giải quyết vấn đề gì?"}],
            criteria=[
                {"id": "team", "label": "Đội ngũ", "weight": 1, "scale_min": 1, "scale_max": 5}
            ],
            deadline=timezone.now() + timedelta(days=30),
        )
        await Application.create(
            call=call, startup=green, applicant=other, answers={"problem": "Tưới tiêu"}
        )
        # A cohort with a year of KPI reports (April missing) for the charts.
        cohort = await Cohort.create(programme=prog, name="Khóa 2026", starts_on=date(2025, 6, 1))
        names = ["Sản phẩm khả dụng tối thiểu", "Có doanh thu ổn định", "Tăng trưởng nhanh"]
        for n, (name, grow) in enumerate(
            ((lumi.name, 1), (green.name, 3), *[(x, 2) for x in names])
        ):
            if n < 2:
                org = (lumi, green)[n]
            else:
                org = await startup(name, stage="early_revenue")
            enrolment = await accepted_enrolment(cohort, org, date(2025, 6, 1))
            for month in range(12):
                day = date(2025 + (5 + month) // 12, (5 + month) % 12 + 1, 1)
                if day.month == 4:
                    continue
                revenue = 80_000_000 + month * grow * 45_000_000
                await submitted(
                    enrolment, f"{day:%Y-%m}", {"revenue": revenue, "users": 100 + month}
                )
        Path(os.environ["E2E_STATE"]).write_text(f"{call.id} {cohort.id} {lumi.id}")  # noqa: ASYNC240


def _sign_in(page, base: str, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator('form[action^="/login"] button[type="submit"]').click()
    page.wait_for_url(lambda url: url.startswith(base) and "/login" not in url)


def test_an_applicant_applies_and_a_manager_runs_the_pipeline(chromium, pipeline_server):
    from playwright.sync_api import expect

    server, call_id, _cohort_id, _startup_id = pipeline_server
    base = server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    phone = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
    desk = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["desktop"])
    try:
        founder = phone.new_page()
        founder.set_default_timeout(10_000)
        _sign_in(founder, base, FOUNDER)
        founder.goto(f"/incubator/calls/{call_id}")
        founder.fill("#f-q_problem", "Đèn đường tiêu tốn điện")
        founder.screenshot(path=SCREENSHOTS / "applications-phone-01-apply.png", full_page=True)
        no_horizontal_scroll(founder)
        founder.locator('#apply button[type="submit"]').click()
        founder.wait_for_url(f"{base}/incubator/applications/*")
        app_url = founder.url
        expect(founder.locator("#status-label")).to_have_text("Đã nộp")
        founder.fill("#f-q_problem", "Đèn đường tiêu tốn điện và khó bảo trì")
        founder.locator("#save-application").click()
        founder.wait_for_url(app_url)
        expect(founder.locator("#f-q_problem")).to_have_value(
            "Đèn đường tiêu tốn điện và khó bảo trì"
        )
        founder.screenshot(path=SCREENSHOTS / "applications-phone-02-status.png", full_page=True)
        no_horizontal_scroll(founder)
        founder.goto(f"/incubator/calls/{call_id}")
        expect(founder.locator("#apply form")).to_have_count(0)
        expect(founder.locator(f"#my-applications a[href='{app_url[len(base) :]}']")).to_have_count(
            1
        )

        manager = desk.new_page()
        manager.set_default_timeout(10_000)
        _sign_in(manager, base, MANAGER)
        manager.goto(f"/incubator/calls/{call_id}/applications")
        boxes = manager.locator("#pipeline input[name='application_id']")
        expect(boxes).to_have_count(2)
        boxes.nth(0).check()
        boxes.nth(1).check()
        manager.select_option("#f-stage", "shortlisted")
        manager.locator("#move-selected").click()
        manager.wait_for_url(f"{base}/incubator/calls/{call_id}/applications")
        expect(
            manager.locator("#pipeline tbody td:text-is('Vào danh sách rút gọn')")
        ).to_have_count(2)
        boxes.nth(0).check()
        boxes.nth(1).check()
        for reviewer in manager.locator("#pipeline input[name='reviewer_id']").all():
            reviewer.check()
        manager.screenshot(
            path=SCREENSHOTS / "applications-desktop-03-pipeline.png", full_page=True
        )
        manager.locator("#assign-selected").click()
        manager.wait_for_url(f"{base}/incubator/calls/{call_id}/applications")
        expect(manager.locator("#pipeline tbody td:text-is('0/2')")).to_have_count(2)
        manager.goto(app_url[len(base) :])
        manager.fill("#f-message", "Chào mừng Lumi đến với khóa 2027!")
        manager.locator("#decide button[value='admit']").click()
        manager.wait_for_url(f"{base}/incubator/calls/{call_id}/decisions")
        expect(manager.locator(".mail-preview")).to_contain_text(
            "Chào mừng Lumi đến với khóa 2027!"
        )
        manager.screenshot(path=SCREENSHOTS / "applications-desktop-04-preview.png", full_page=True)
        # Not sent yet: the applicant still reads the stage.
        founder.goto(app_url[len(base) :])
        expect(founder.locator("#status-label")).to_have_text("Vào danh sách rút gọn")
        manager.locator("#send-decisions").click()
        manager.wait_for_url(f"{base}/incubator/calls/{call_id}/applications")
        expect(manager.locator(".flash-success")).to_have_count(1)
        manager.goto(f"/incubator/calls/{call_id}/decisions")
        expect(manager.locator("#no-decisions")).to_have_count(1)

        founder.goto(app_url[len(base) :])
        expect(founder.locator("#status-label")).to_have_class("badge status-admitted")
        expect(founder.locator("#decision-message")).to_have_text(
            "Chào mừng Lumi đến với khóa 2027!"
        )
        founder.screenshot(path=SCREENSHOTS / "applications-phone-05-admitted.png", full_page=True)
        no_horizontal_scroll(founder)

        small = phone.new_page()
        small.set_default_timeout(10_000)
        small.context.clear_cookies()
        _sign_in(small, base, MANAGER)
        small.goto(f"/incubator/calls/{call_id}/applications")
        no_horizontal_scroll(small)
        small.screenshot(path=SCREENSHOTS / "applications-phone-06-pipeline.png", full_page=True)
    finally:
        phone.close()
        desk.close()


OVERLAPS = """(root) => {
  const boxes = [...root.querySelectorAll('text.chart-x-label')]
    .map(t => t.getBoundingClientRect());
  const hits = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
    if (!apart) hits.push([i, j]);
  }
  return {labels: boxes.length, hits};
}"""


@pytest.mark.parametrize("size", ["phone", "wide"])
def test_chart_labels_never_overlap(chromium, pipeline_server, size):
    """Every chart of the cohort and startup pages, at 390 px and 1366 px: no two x labels
    intersect on screen; months are named and amounts compacted in Vietnamese."""
    from playwright.sync_api import expect

    server, _call_id, cohort_id, startup_id = pipeline_server
    viewport = (
        VIEWPORTS["phone"] if size == "phone" else {"viewport": {"width": 1366, "height": 900}}
    )
    context = chromium.new_context(base_url=server.base_url, locale="vi-VN", **viewport)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        _sign_in(page, server.base_url, MANAGER)
        for url, shot in (
            (f"/incubator/cohorts/{cohort_id}", "cohort"),
            (f"/incubator/startups/{startup_id}", "startup"),
        ):
            page.goto(url)
            figures = page.locator("figure.chart")
            expect(figures.first).to_be_visible()
            assert figures.count() >= 2
            for i in range(figures.count()):
                found = figures.nth(i).evaluate(OVERLAPS)
                assert found["labels"] >= 1 and found["hits"] == [], (url, i, found)
            assert page.locator("text.chart-x-label", has_text="thg ").count() >= 2
            assert page.locator("text.chart-y-label", has_text="Tr").count() >= 1
            no_horizontal_scroll(page)
            page.screenshot(path=SCREENSHOTS / f"charts-{size}-{shot}.png", full_page=True)
    finally:
        context.close()


run_setup(__name__, _setup)
