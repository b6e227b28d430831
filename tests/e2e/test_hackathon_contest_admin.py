"""In headless Chromium (desktop and a 390 px phone): an organiser edits a contest and sends an
announcement after its preview; a judge declares a conflict and a preference before the
assignment, then follows "next entry" on the scoring sheet.

The real app runs as a subprocess on a fresh SQLite database; one contest per viewport, in
its judging phase (so the rubric shows as locked). Selectors are ids, never translated text.
Needs /usr/bin/chromium (skipped without it, unless REQUIRE_BROWSER=1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.live import (
    PASSWORD,
    SCREENSHOTS,
    VIEWPORTS,
    LiveServer,
    live_server,
    no_horizontal_scroll,
    run_setup,
)
from tests.e2e.live import setup_database as _database

ORGANISER = "organiser.admin-e2e@example.org"
JUDGES = {name: f"judge.admin-{name}@example.org" for name in VIEWPORTS}
HELPERS = {name: f"helper.admin-{name}@example.org" for name in VIEWPORTS}

pytestmark = pytest.mark.browser


def slug(device: str) -> str:
    return f"admin-e2e-{device}"


@pytest.fixture(scope="module")
def admin_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_hackathon_contest_admin", packages="labs,hackathon") as server:
        yield server


async def _setup() -> None:
    from datetime import timedelta

    from tortoise import timezone

    from ecosystem.models import User
    from ecosystem.services.accounts import create_user
    from hackathon.models import MemberStatus, Submission, Team, TeamMember
    from hackathon.schemas import ContestIn
    from hackathon.services import contests

    async with _database():
        organiser = await create_user(ORGANISER, PASSWORD, "Võ Thanh Tùng", True, True)
        await User.filter(id=organiser.id).update(locale="vi")
        now = timezone.now()
        for device in VIEWPORTS:
            contest = await contests.create_contest(
                organiser,
                ContestIn.model_validate(
                    {
                        "slug": slug(device),
                        "title": f"Hackathon Bình Dương {device}",
                        "registration_closes_at": now - timedelta(days=3),
                        "submission_closes_at": now - timedelta(days=1),
                        "judging_closes_at": now + timedelta(days=7),
                        "judges_per_entry": 1,
                        "load_cap": 3,
                        "sites": [{"code": "vn", "name": "EIU"}],
                        "tracks": [{"code": "tourism", "name": "Thông tin du lịch"}],
                    }
                ),
            )
            site = await contest.sites.all().first()
            track = await contest.tracks.all().first()
            for i in range(3):
                team = await Team.create(
                    contest_id=contest.id, name=f"Đội {i}", site_id=site.id, track_id=track.id
                )
                member = await create_user(
                    f"member{i}.{device}@example.org", PASSWORD, f"Thí sinh {i}", False, True
                )
                await TeamMember.create(
                    team_id=team.id,
                    user_id=member.id,
                    email=member.email,
                    status=MemberStatus.ACTIVE,
                    is_lead=True,
                )
                await Submission.create(
                    contest_id=contest.id, team_id=team.id, title=f"Bài thi {i}", summary="Tóm tắt"
                )
            for email in (JUDGES[device], HELPERS[device]):
                await create_user(email, PASSWORD, email.split("@")[0], False, True)
                await User.filter(email=email).update(locale="vi")
                await contests.add_judge(organiser, contest, email)


def _login(page, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator('form[action^="/login"] button[type="submit"]').click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_organiser_edits_and_announces_judge_declares_and_moves_on(device, chromium, admin_server):
    from playwright.sync_api import expect

    base = admin_server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    step = 0
    contest = slug(device)

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(
            path=SCREENSHOTS / f"contest-admin-{device}-{step:02d}-{name}.png", full_page=True
        )
        if device == "phone":
            no_horizontal_scroll(page)

    try:
        # the judge: a conflict with entry 0, wants entries 1 and 2, before any assignment
        _login(page, JUDGES[device])
        page.goto(f"/contests/{contest}/judge")
        page.locator("#preferences-link").click()
        page.wait_for_url(f"{base}/contests/{contest}/judge/preferences")
        selects = page.locator("#preferences-form select")
        expect(selects).to_have_count(3)
        selects.nth(0).select_option("conflict")
        page.locator("#preferences-form input[name^='r-']").first.fill("Em họ tôi trong đội")
        selects.nth(1).select_option("want")
        selects.nth(2).select_option("want")
        shot("preferences")
        page.locator("#preferences-form button[type='submit']").click()
        page.wait_for_url(f"{base}/contests/{contest}/judge/preferences")
        expect(page.locator("#preferences-form select").nth(0)).to_have_value("conflict")

        # the organiser: edit the contest, assign, announce
        _login(page, ORGANISER)
        page.goto(f"/contests/{contest}/manage")
        page.locator("#edit-contest-link").click()
        page.wait_for_url(f"{base}/contests/{contest}/manage/edit")
        expect(page.locator("#h-criteria")).to_be_visible()  # judging started: rubric locked
        page.fill("#f-title__vi", f"Hackathon Bình Dương 2026 {device}")
        page.fill("#f-tracks", "tourism | Thông tin du lịch\nhealth | Y tế thông minh")
        shot("edit")
        page.locator("#edit-contest button[type='submit']").click()
        page.wait_for_url(f"{base}/contests/{contest}/manage")
        page.locator("#assign-button").click()
        page.wait_for_url(f"{base}/contests/{contest}/manage")
        page.locator("#announce-link").click()
        page.fill("#f-title", "Đổi phòng thuyết trình")
        page.fill("#f-body", "Các đội thuyết trình ở hội trường B.")
        page.locator("#preview-button").click()
        expect(page.locator("#announcement-preview")).to_be_visible()
        expect(page.locator("#announcement-preview")).to_contain_text(f"member0.{device}")
        shot("announce-preview")
        page.locator("#send-button").click()
        page.wait_for_url(f"{base}/contests/{contest}#announcements")
        expect(page.locator("#announcements")).to_contain_text("hội trường B")
        expect(page.locator("h1")).to_contain_text("2026")
        shot("contest-page")

        # the judge: the two wanted entries, "next entry" from the first to the second
        _login(page, JUDGES[device])
        page.goto(f"/contests/{contest}/judge")
        expect(page.locator("#judge-progress")).to_have_text("0 / 2")
        assert "Bài thi 0" not in page.content()  # never the conflicted entry
        page.locator(".queue-item a").first.click()
        first = page.url
        expect(page.locator("#next-entry")).to_be_visible()
        shot("sheet-next")
        page.locator("#next-entry").click()
        page.wait_for_url(lambda url: url != first and "/judge/" in url)
        expect(page.locator("h1")).to_contain_text("Bài thi")
        shot("next-sheet")
    finally:
        context.close()


run_setup(__name__, _setup)
