"""The public vote (verified accounts, one per user per contest, bursts flagged) and the
pairwise expo mode (Crowd-BT, undo, per-track ranking)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.models import User
from hackathon.models import Comparison, Vote
from hackathon.services import expo, results, votes
from tests.conftest import person
from tests.hackathon.conftest import bearer, make_contest, make_judge, make_team


async def _judging_contest(**fields):
    contest = await make_contest(
        registration_in=timedelta(days=-2), submission_in=timedelta(days=-1), **fields
    )
    entries = []
    for i in range(4):
        team = await make_team(
            contest, f"Team {i}", track="tourism" if i < 2 else "traffic", title=f"Entry {i}"
        )
        entries.append(await team.submission)
    return contest, entries


async def _old_account(email: str, verified: bool = True) -> User:
    user = await person(email, verified=verified)
    await User.filter(id=user.id).update(created_at=timezone.now() - timedelta(days=30))
    return await User.get(id=user.id)


async def test_one_vote_per_verified_user_per_contest(client):
    contest, entries = await _judging_contest()
    voter = await _old_account("voter@example.org")
    headers = await bearer(voter)
    url = f"/api/v1/contests/{contest.id}/votes"
    first = await client.post(url, json={"submission_id": entries[0].id}, headers=headers)
    assert first.status_code == 201
    second = await client.post(url, json={"submission_id": entries[1].id}, headers=headers)
    assert second.status_code == 409
    unverified = await bearer(await _old_account("new@example.org", verified=False))
    assert (
        await client.post(url, json={"submission_id": entries[0].id}, headers=unverified)
    ).status_code == 403
    assert (
        await client.post(
            url,
            json={"submission_id": 99999},
            headers=await bearer(await _old_account("x@example.org")),
        )
    ).status_code == 404
    # The database itself refuses a second vote.
    with pytest.raises(IntegrityError):
        await Vote.create(contest_id=contest.id, user_id=voter.id, submission_id=entries[2].id)


async def test_a_burst_of_votes_from_new_accounts_is_flagged(browser):
    contest, entries = await _judging_contest()
    for i in range(3):
        await votes.cast_vote(await _old_account(f"old{i}@example.org"), contest, entries[1].id)
    for i in range(votes.BURST_SIZE):
        await votes.cast_vote(
            await person(f"fresh{i}@example.org"), contest, entries[0].id, ip=f"198.51.100.{i}"
        )
    flagged = await Vote.filter(suspicious=True).count()
    assert flagged == votes.BURST_SIZE
    assert await votes.tally(contest) == {entries[1].id: 3}
    await browser.login(contest.organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage")
    assert page.text.count("fresh") >= votes.BURST_SIZE


async def test_the_public_vote_page_form(browser):
    contest, entries = await _judging_contest()
    voter = await _old_account("page.voter@example.org")
    await browser.login(voter.email)
    page = await browser.get(f"/contests/{contest.slug}")
    assert 'id="public-vote"' in page.text
    response = await browser.post(
        f"/contests/{contest.slug}/vote", {"submission_id": str(entries[2].id)}
    )
    assert response.status_code == 303
    assert await Vote.filter(user_id=voter.id, submission_id=entries[2].id).exists()
    response = await browser.post(f"/contests/{contest.slug}/vote", {"submission_id": "abc"})
    assert response.status_code == 303


async def test_pairwise_judging_with_undo_and_rankings(client, browser):
    contest, entries = await _judging_contest(judging_mode="pairwise")
    judge = await make_judge(contest, "expo.judge@example.org")
    headers = await bearer(judge)
    nxt = await client.get(f"/api/v1/contests/{contest.id}/pairs/next", headers=headers)
    assert nxt.status_code == 200 and len(nxt.json()["pair"]) == 2
    url = f"/api/v1/contests/{contest.id}/comparisons"
    # Entry 0 beats everything; 1 beats 2 and 3; 2 beats 3.
    for winner in range(4):
        for loser in range(winner + 1, 4):
            response = await client.post(
                url,
                json={"winner_id": entries[winner].id, "loser_id": entries[loser].id},
                headers=headers,
            )
            assert response.status_code == 201
    # A mis-click, then undone from the page.
    await client.post(
        url, json={"winner_id": entries[3].id, "loser_id": entries[0].id}, headers=headers
    )
    await browser.login(judge.email)
    assert (await browser.get(f"/contests/{contest.slug}/judge/pairs")).status_code == 200
    response = await browser.post(f"/contests/{contest.slug}/judge/pairs", {"action": "undo"})
    assert response.status_code == 303
    withdrawal = await Comparison.filter(withdraws__not_isnull=True).first()
    assert withdrawal is not None
    ranking = await results.compute(contest)
    assert [line.submission.id for line in ranking.overall] == [e.id for e in entries]
    assert set(ranking.by_track) == {"tourism", "traffic"}
    # Same result as if the mis-click had never happened.
    log = await results.comparison_log(ranking.round)
    assert len(results.effective_comparisons(log)) == 6
    same = await client.post(
        url, json={"winner_id": entries[0].id, "loser_id": entries[0].id}, headers=headers
    )
    assert same.status_code == 422
    outsider = await bearer(await person("outsider@example.org"))
    assert (
        await client.post(
            url, json={"winner_id": entries[0].id, "loser_id": entries[1].id}, headers=outsider
        )
    ).status_code == 403
    # The rubric API is refused in pairwise mode's pair routes for a rubric contest.
    rubric_contest = await make_contest(slug="rubric")
    from hackathon.services import contests

    await contests.add_judge(rubric_contest.organiser, rubric_contest, judge.email)
    response = await client.get(f"/api/v1/contests/{rubric_contest.id}/pairs/next", headers=headers)
    assert response.status_code == 409
    assert await expo.undo(judge, contest) is not None


async def test_the_score_and_comparison_logs_refuse_edits(app, backend):
    """Append-only is held by the database: an UPDATE of a logged row fails (and on
    PostgreSQL a DELETE too)."""
    from hackathon.models import ScoreEvent
    from hackathon.services import judging

    contest, entries = await _judging_contest(judges_per_entry=1)
    judge = await make_judge(contest, "log.judge@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    await judging.save_scores(judge, entries[0].id, {"impact": 4})
    event = await ScoreEvent.first()
    with pytest.raises(Exception, match="append-only"):
        await ScoreEvent.filter(id=event.id).update(value=10)
    assert (await ScoreEvent.get(id=event.id)).value == 4
    if backend == "postgres":
        with pytest.raises(Exception, match="append-only"):
            await ScoreEvent.filter(id=event.id).delete()
    row = await Comparison.create(
        round_id=event.round_id, judge_id=judge.id, winner_id=entries[0].id, loser_id=entries[1].id
    )
    with pytest.raises(Exception, match="append-only"):
        await Comparison.filter(id=row.id).update(winner_id=entries[2].id)
