"""Conflicts and bids before assignment (issue 16, item 6): judges declare conflicts with an
entry's team and preferences (want / could / rather not); the solver never assigns a
conflict and favours bids; an impossible assignment is explained in the reader's language,
naming entries and judges. Per role, through HTTP."""

from __future__ import annotations

import pytest

from ecosystem.i18n import use_locale
from hackathon.models import Bid, Conflict, ContestRole, ContestRoleKind, JudgeAssignment
from hackathon.services import judging
from tests.conftest import add_member, person
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_org, make_team


async def _world(n_teams: int = 4, **fields):
    contest = await make_contest(judges_per_entry=1, **fields)
    teams = []
    for i in range(n_teams):
        team = await make_team(
            contest, f"Team {i}", members=(f"member{i}@example.org",), title=f"Entry {i}"
        )
        teams.append(team)
    return contest, teams


async def test_a_judge_declares_conflicts_and_bids_and_the_solver_honours_them(new_browser):
    contest, teams = await _world()
    judge_a = await make_judge(contest, "judge.a@example.org")
    judge_b = await make_judge(contest, "judge.b@example.org")
    entries = [await team.submission for team in teams]
    browser = new_browser()
    await browser.login(judge_a.email)
    page = await browser.get(f"/contests/{contest.slug}/judge/preferences")
    assert page.status_code == 200
    assert all(f"Entry {i}" in page.text for i in range(4))
    form = {
        f"p-{entries[0].id}": "conflict",
        f"r-{entries[0].id}": "My cousin's team",
        f"p-{entries[1].id}": "want",
        f"p-{entries[2].id}": "want",
        f"p-{entries[3].id}": "rather_not",
    }
    response = await browser.post(f"/contests/{contest.slug}/judge/preferences", form)
    assert response.status_code == 303, response.text[:500]
    conflict = await Conflict.get(judge_id=judge_a.id, team_id=teams[0].id)
    assert conflict.reason == "My cousin's team"
    levels = dict(await Bid.filter(judge_id=judge_a.id).values_list("submission_id", "level"))
    assert levels == {entries[1].id: "want", entries[2].id: "want", entries[3].id: "rather_not"}
    page = await browser.get(f"/contests/{contest.slug}/judge/preferences")
    assert "My cousin&#39;s team" in page.text or "My cousin's team" in page.text
    # the solver: never the conflict, the wanted entries, not the "rather not" one
    outcome = await judging.run_assignment(contest.organiser, contest)
    assert outcome.ok, outcome.reasons
    mine = set(
        await JudgeAssignment.filter(judge_id=judge_a.id).values_list("submission_id", flat=True)
    )
    assert mine == {entries[1].id, entries[2].id}
    theirs = set(
        await JudgeAssignment.filter(judge_id=judge_b.id).values_list("submission_id", flat=True)
    )
    assert theirs == {entries[0].id, entries[3].id}
    # a judge withdraws their own conflict and their bid
    form = {f"p-{entries[0].id}": "", f"p-{entries[1].id}": ""}
    response = await browser.post(f"/contests/{contest.slug}/judge/preferences", form)
    assert response.status_code == 303
    assert not await Conflict.filter(judge_id=judge_a.id).exists()
    assert not await Bid.filter(judge_id=judge_a.id, submission_id=entries[1].id).exists()


async def test_declaring_a_conflict_after_assignment_withdraws_it(new_browser):
    contest, teams = await _world(n_teams=2)
    judge_a = await make_judge(contest, "judge.a@example.org")
    await make_judge(contest, "judge.b@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    assigned = await JudgeAssignment.filter(judge_id=judge_a.id).first()
    browser = new_browser()
    await browser.login(judge_a.email)
    response = await browser.post(
        f"/contests/{contest.slug}/judge/preferences", {f"p-{assigned.submission_id}": "conflict"}
    )
    assert response.status_code == 303
    assert not await JudgeAssignment.filter(
        judge_id=judge_a.id, submission_id=assigned.submission_id
    ).exists()
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    assert not await JudgeAssignment.filter(
        judge_id=judge_a.id, submission_id=assigned.submission_id
    ).exists()


async def test_an_organisation_conflict_is_shown_and_cannot_be_withdrawn(new_browser):
    contest, _teams = await _world(n_teams=1)
    university = await make_org("Thu Dau Mot University")
    team = await make_team(contest, "TDMU", organisation=university, title="Smart lighting")
    judge = await make_judge(contest, "lecturer@example.org")
    await add_member(judge, university)
    entry = await team.submission
    browser = new_browser()
    await browser.login(judge.email)
    page = await browser.get(f"/contests/{contest.slug}/judge/preferences")
    assert "you belong to the team&#39;s organisation" in page.text or "organisation." in page.text
    response = await browser.post(
        f"/contests/{contest.slug}/judge/preferences", {f"p-{entry.id}": "want"}
    )
    assert response.status_code == 303
    assert not await Bid.filter(judge_id=judge.id).exists()


async def test_only_judges_declare_preferences(new_browser):
    contest, teams = await _world(n_teams=1)
    entry = await teams[0].submission
    other_org_admin = await person("other.admin@example.org")
    await add_member(other_org_admin, await make_org("Another Office"), "admin")
    unverified = await person("unverified.judge@example.org", verified=False)
    await ContestRole.create(
        contest_id=contest.id, user_id=unverified.id, role=ContestRoleKind.JUDGE
    )
    url = f"/contests/{contest.slug}/judge/preferences"
    for email in (
        contest.organiser.email,
        "member0@example.org",
        other_org_admin.email,
        unverified.email,
    ):
        browser = new_browser()
        await browser.login(email)
        assert (await browser.get(url)).status_code == 403, email
        assert (await browser.post(url, {f"p-{entry.id}": "want"})).status_code == 403
    assert not await Bid.all().exists()
    assert (await new_browser().get(url)).status_code == 303  # to the login page


async def test_bad_answers_are_refused_and_nothing_is_written(new_browser):
    contest, teams = await _world(n_teams=2)
    judge = await make_judge(contest, "judge.a@example.org")
    entries = [await team.submission for team in teams]
    browser = new_browser()
    await browser.login(judge.email)
    url = f"/contests/{contest.slug}/judge/preferences"
    for form in (
        {f"p-{entries[0].id}": "want", f"p-{entries[1].id}": "maybe"},
        {f"p-{entries[0].id}": "want", "p-999999": "want"},
    ):
        response = await browser.post(url, form)
        assert response.status_code == 422, response.text[:300]
        assert "selected>" in response.text
    assert not await Bid.all().exists()


@pytest.mark.parametrize("locale", ["en", "vi"])
async def test_an_impossible_assignment_names_entries_and_judges(client, locale):
    contest, teams = await _world(n_teams=2, **JUDGING_NOW)
    judge = await make_judge(contest, "judge.a@example.org")
    judge.full_name = "Nguyễn Thị Lan"
    await judge.save(update_fields=["full_name"])
    entry = await teams[0].submission
    await Conflict.create(contest_id=contest.id, judge_id=judge.id, team_id=teams[0].id)
    with use_locale(locale):
        outcome = await judging.run_assignment(contest.organiser, contest)
    assert not outcome.ok
    text = " ".join(outcome.reasons)
    assert f"“{entry.title}”" in text and "Team 0" in text and "Nguyễn Thị Lan" in text
    if locale == "en":
        assert "has 0 eligible judges but needs 1" in text
    else:
        assert "eligible" not in text
