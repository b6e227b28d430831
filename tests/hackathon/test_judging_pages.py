"""The judge's pages: queue with progress, the sheet that saves as it goes, undo, conflicts,
and blind mode, which leaks no team name or member through any page, fragment or API."""

from __future__ import annotations

import re

from hackathon.models import Conflict, CurrentScore, JudgeAssignment, ScoreEvent
from hackathon.services import judging
from tests.hackathon.conftest import JUDGING_NOW, bearer, make_contest, make_judge, make_team

SECRET_TEAM = "Zebracorn Dynamics"
SECRET_MEMBER = "Quixotic Wanderbottom"
PROGRESS = re.compile(r'id="judge-progress"[^>]*>(\d+) / (\d+)<')


async def _blind_contest(blind: bool = True):
    contest = await make_contest(blind=blind, judges_per_entry=1, **JUDGING_NOW)
    from ecosystem.models import User

    team = await make_team(
        contest,
        SECRET_TEAM,
        members=("wander@example.org",),
        title="Bảng môi trường thời gian thực",
    )
    member = await User.get(email="wander@example.org")
    member.full_name = SECRET_MEMBER
    await member.save(update_fields=["full_name"])
    await make_team(contest, "Second team", title="Thông tin giao thông", track="traffic")
    judge = await make_judge(contest, "judge@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    return contest, team, judge


async def test_blind_mode_leaks_no_team_name_through_any_page_fragment_or_api(client, browser):
    contest, team, judge = await _blind_contest()
    submission = await team.submission
    await browser.login(judge.email)
    seen: list[str] = []
    for url in (
        "/contests",
        f"/contests/{contest.slug}",
        f"/contests/{contest.slug}/judge",
        f"/contests/{contest.slug}/judge/{submission.id}",
    ):
        response = await browser.get(url)
        assert response.status_code == 200, url
        seen.append(response.text)
    criteria = await judging.criteria_of(await judging.current_round(contest))
    fragment = await browser.post(
        f"/contests/{contest.slug}/judge/{submission.id}",
        {f"c-{criteria[0].id}": "7"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200
    seen.append(fragment.text)
    bad = await browser.post(
        f"/contests/{contest.slug}/judge/{submission.id}",
        {f"c-{criteria[0].id}": "70"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422
    seen.append(bad.text)
    undo = await browser.post(f"/contests/{contest.slug}/judge/undo", follow_redirects=True)
    seen.append(undo.text)
    headers = await bearer(judge)
    for response in (
        await client.get("/api/v1/judging/assignments", headers=headers),
        await client.get("/api/v1/contests", headers=headers),
        await client.put(
            f"/api/v1/submissions/{submission.id}/scores",
            json={"scores": {"impact": 3}},
            headers=headers,
        ),
    ):
        assert response.status_code == 200
        seen.append(response.text)
    assert (await client.get("/api/v1/judging/assignments", headers=headers)).json()["items"][0][
        "team"
    ] is None
    from hackathon.services.dashboard import judge_panel

    panel = await judge_panel(judge)
    from ecosystem.templating import templates

    seen.append(templates.get_template(panel.template).render(**panel.context))
    for text in seen:
        assert SECRET_TEAM not in text
        assert SECRET_MEMBER not in text
        assert "wander@example.org" not in text


async def test_without_blind_mode_the_judge_sees_the_team(browser):
    contest, team, judge = await _blind_contest(blind=False)
    await browser.login(judge.email)
    page = await browser.get(f"/contests/{contest.slug}/judge/{(await team.submission).id}")
    assert SECRET_TEAM in page.text


async def test_the_sheet_saves_as_the_judge_goes_and_the_progress_moves(browser):
    contest, team, judge = await _blind_contest()
    submission = await team.submission
    await browser.login(judge.email)
    queue = await browser.get(f"/contests/{contest.slug}/judge")
    assert PROGRESS.search(queue.text).groups() == ("0", "2")
    criteria = await judging.criteria_of(await judging.current_round(contest))
    url = f"/contests/{contest.slug}/judge/{submission.id}"
    # One criterion at a time, as the htmx form sends them on each change.
    for n, criterion in enumerate(criteria):
        response = await browser.post(
            url, {f"c-{criterion.id}": str(5 + n)}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
        expected = ("1", "2") if n == len(criteria) - 1 else ("0", "2")
        assert PROGRESS.search(response.text).groups() == expected
        assert 'hx-swap-oob="true"' in response.text
    assert await CurrentScore.filter(judge_id=judge.id).count() == len(criteria)
    assert await ScoreEvent.filter(judge_id=judge.id).count() == len(criteria)
    assignment = await JudgeAssignment.get(judge_id=judge.id, submission_id=submission.id)
    assert assignment.completed_at is not None
    # Comments: one for the team, one private; a plain form post works without JS too.
    response = await browser.post(url, {"comment": "Ý tưởng hay", "private_comment": "Xem lại"})
    assert response.status_code == 303
    await assignment.refresh_from_db()
    assert (assignment.comment_team, assignment.comment_private) == ("Ý tưởng hay", "Xem lại")

    # Undo the last change: the last criterion goes back to empty, by a new event.
    response = await browser.post(f"/contests/{contest.slug}/judge/undo")
    assert response.status_code == 303
    assert await CurrentScore.filter(judge_id=judge.id).count() == len(criteria) - 1
    events = await ScoreEvent.filter(judge_id=judge.id).order_by("id")
    assert len(events) == len(criteria) + 1
    assert events[-1].value is None and events[-1].undoes == events[-2].batch
    await assignment.refresh_from_db()
    assert assignment.completed_at is None
    page = await browser.get(f"/contests/{contest.slug}/judge")
    assert PROGRESS.search(page.text).groups() == ("0", "2")
    # Undo again walks further back.
    await browser.post(f"/contests/{contest.slug}/judge/undo")
    assert await CurrentScore.filter(judge_id=judge.id).count() == len(criteria) - 2


async def test_other_people_cannot_open_a_judges_sheet(browser, new_browser):
    contest, team, judge = await _blind_contest()
    submission = await team.submission
    other = await make_judge(contest, "other.judge@example.org")
    await browser.login(other.email)
    assert (await browser.get(f"/contests/{contest.slug}/judge/{submission.id}")).status_code == 403
    anonymous = new_browser()
    response = await anonymous.get(f"/contests/{contest.slug}/judge/{submission.id}")
    assert response.status_code == 303 and "/login" in response.headers["location"]
    # No judge, no organiser: the organiser dashboard is refused.
    assert (await browser.get(f"/contests/{contest.slug}/manage")).status_code == 403


async def test_a_declared_conflict_withdraws_the_assignment_and_blocks_scoring(client, browser):
    contest, team, judge = await _blind_contest()
    submission = await team.submission
    await browser.login(judge.email)
    response = await browser.post(
        f"/contests/{contest.slug}/judge/{submission.id}/conflict", {"reason": "My cousin"}
    )
    assert response.status_code == 303
    assert await Conflict.filter(judge_id=judge.id, team_id=team.id).exists()
    assert not await JudgeAssignment.filter(judge_id=judge.id, submission_id=submission.id).exists()
    response = await client.put(
        f"/api/v1/submissions/{submission.id}/scores",
        json={"scores": {"impact": 3}},
        headers=await bearer(judge),
    )
    assert response.status_code == 403
    # Re-assigning never gives the entry back to that judge: with one judge, it says why.
    outcome = await judging.run_assignment(contest.organiser, contest)
    assert not outcome.ok and any(
        "“Bảng môi trường thời gian thực”" in reason for reason in outcome.reasons
    )


async def test_the_contest_list_and_the_queue_take_constant_queries(browser, count_queries):
    contest, _team, judge = await _blind_contest()
    await browser.login(judge.email)
    with count_queries() as few:
        assert (await browser.get("/contests")).status_code == 200
    with count_queries() as few_queue:
        assert (await browser.get(f"/contests/{contest.slug}/judge")).status_code == 200
    for i in range(3):
        await make_contest(slug=f"more-{i}")
    for i in range(4):
        await make_team(contest, f"More {i}", title=f"More entry {i}")
    from hackathon.models import ContestRole

    role = await ContestRole.get(contest_id=contest.id, user_id=judge.id)
    role.active = True
    await role.save()
    await judging.current_round(contest)
    from hackathon.models import Round

    round_ = await Round.get(contest_id=contest.id)
    round_.load_cap = 20
    await round_.save()
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    with count_queries() as many:
        await browser.get("/contests")
    with count_queries() as many_queue:
        page = await browser.get(f"/contests/{contest.slug}/judge")
    assert PROGRESS.search(page.text).groups() == ("0", "6")
    assert len(many.statements) == len(few.statements)
    assert len(many_queue.statements) == len(few_queue.statements)
