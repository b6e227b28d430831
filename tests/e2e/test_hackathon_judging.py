"""A judge scores an entry on the sheet in headless Chromium and sees the progress move.

The real app runs as a subprocess (`python -m ecosystem serve` with PACKAGES=labs,hackathon)
on a fresh SQLite database. The journey: sign in → the judging queue shows "0 / 2" → open
the first entry → type a score per criterion (htmx saves each change, no reload) → the
counter on the same page reads "1 / 2" → back on the queue the entry is marked scored.
Blind mode is on: the team's name never appears. Selectors are ids and classes, never
translated text. Needs /usr/bin/chromium (skipped without it, unless REQUIRE_BROWSER=1).
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
    setup_database,
)

JUDGES = {name: f"judge.{name}@example.org" for name in VIEWPORTS}
SLUG = "e2e-contest"
SECRET_TEAM = "Hidden Name Team"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def contest_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_hackathon_judging", packages="labs,hackathon") as server:
        yield server


async def _setup() -> None:
    """Run in a subprocess with the server's environment: a blind contest, two entries per
    judge, one judge per viewport, assignments made by the solver."""
    from datetime import timedelta

    from tortoise import timezone

    from ecosystem.models import User
    from ecosystem.services.accounts import create_user
    from hackathon.models import Submission, Team
    from hackathon.schemas import ContestIn
    from hackathon.services import contests, judging

    async with setup_database():
        organiser = await create_user(
            "organiser.e2e@example.org", PASSWORD, "Võ Thanh Tùng", True, True
        )
        now = timezone.now()
        contest = await contests.create_contest(
            organiser,
            ContestIn.model_validate(
                {
                    "slug": SLUG,
                    "title": "Hackathon Bình Dương",
                    "blind": True,
                    "registration_closes_at": now - timedelta(days=3),
                    "submission_closes_at": now - timedelta(days=1),
                    "judging_closes_at": now + timedelta(days=7),
                    "judges_per_entry": 1,
                    "load_cap": 2,
                    "sites": [{"code": "vn", "name": "EIU"}],
                    "tracks": [{"code": "tourism", "name": "Thông tin du lịch"}],
                }
            ),
        )
        site = await contest.sites.all().first()
        track = await contest.tracks.all().first()
        for i in range(2 * len(JUDGES)):
            team = await Team.create(
                contest_id=contest.id, name=f"{SECRET_TEAM} {i}", site_id=site.id, track_id=track.id
            )
            await Submission.create(
                contest_id=contest.id,
                team_id=team.id,
                title=f"Bản đồ du lịch {i}",
                summary="Ứng dụng du lịch",
            )
        for email in JUDGES.values():
            await create_user(email, PASSWORD, "Kim Min-jun", False, True)
            await User.filter(email=email).update(locale="vi")
            await contests.add_judge(organiser, contest, email)
        outcome = await judging.run_assignment(organiser, contest)
        assert outcome.ok, outcome.reasons


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_judge_scores_an_entry_and_sees_the_progress_move(device, chromium, contest_server):
    from playwright.sync_api import expect

    base = contest_server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(
            path=SCREENSHOTS / f"hackathon-{device}-{step:02d}-{name}.png", full_page=True
        )
        if device == "phone":
            no_horizontal_scroll(page)

    try:
        page.goto("/login")
        page.fill("#f-email", JUDGES[device])
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(lambda url: "/login" not in url)  # /account or /dashboard

        page.goto(f"/contests/{SLUG}/judge")
        expect(page.locator("#judge-progress")).to_have_text("0 / 2")
        assert SECRET_TEAM not in page.content()
        shot("queue")
        page.locator(".queue-item a").first.click()
        page.wait_for_url(f"{base}/contests/{SLUG}/judge/*")
        sheet_url = page.url
        expect(page.locator("#judge-progress")).to_have_text("0 / 2")
        inputs = page.locator("#score-form input[type='number']")
        count = inputs.count()
        assert count >= 2
        for i in range(count):
            field = inputs.nth(i)
            field.fill(str(6 + i % 3))
            field.dispatch_event("change")
            if i < count - 1:
                expect(page.locator("#sheet-status .saved")).to_be_visible()
        expect(page.locator("#judge-progress")).to_have_text("1 / 2")
        expect(page.locator("#sheet-status")).to_contain_text("/ 100")
        assert page.url == sheet_url, "htmx saved without leaving the page"
        assert SECRET_TEAM not in page.content()
        shot("scored")

        page.goto(f"/contests/{SLUG}/judge")
        expect(page.locator("#judge-progress")).to_have_text("1 / 2")
        expect(page.locator(".queue-item.done")).to_have_count(1)
        shot("queue-after")
    finally:
        context.close()


run_setup(__name__, _setup)
