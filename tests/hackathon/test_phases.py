"""Phases held by the server, per site (issue 16, item 1), the sheet that never claims a save
it did not make (item 2) and a results hash over every input (item 5), through HTTP and for
each role: judge, organiser, team member, unverified account."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from tortoise import timezone

from ecosystem.models import User
from hackathon.models import (
    Comparison,
    Contest,
    CurrentScore,
    JudgeAssignment,
    Round,
    ScoreEvent,
    Submission,
    SubmissionVersion,
    Team,
    TeamMember,
    Track,
    Vote,
)
from hackathon.services import judging, results
from tests.conftest import person
from tests.hackathon.conftest import JUDGING_NOW, bearer, make_contest, make_judge, make_team

TOKEN = re.compile(r'name="confirm" value="([0-9a-f]{64})"')


async def _two_sites_one_open(**fields) -> tuple[Contest, Submission, Submission, User]:
    """Submissions close at 'now + 1 h' on the contest's wall clock: still open at the
    Vietnamese site, closed an hour ago at the Korean one (Seoul is two hours ahead)."""
    contest = await make_contest(
        registration_in=timedelta(days=-3),
        submission_in=timedelta(hours=1),
        judges_per_entry=1,
        **fields,
    )
    vn = await make_team(contest, "Đội Bình Dương", site="vn", members=("vn@example.org",))
    kr = await make_team(contest, "Daejeon team", site="kr", members=("kr@example.org",))
    for team, title in ((vn, "Bản đồ"), (kr, "Bus map")):
        row = await Submission.create(contest_id=contest.id, team_id=team.id, title=title)
        await SubmissionVersion.create(submission_id=row.id, version=1, data={"title": title})
    judge = await make_judge(contest, "judge@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    return contest, await vn.submission, await kr.submission, judge


async def test_scores_wait_for_the_site_deadline_in_the_api_and_the_sheet(client, browser):
    contest, vn_entry, kr_entry, judge = await _two_sites_one_open()
    headers = await bearer(judge)
    criteria = await judging.criteria_of(await judging.current_round(contest))
    scores = {c.code: 7 for c in criteria}
    # Korean site closed: judging is open there.
    url = f"/api/v1/submissions/{kr_entry.id}/scores"
    assert (await client.put(url, json={"scores": scores}, headers=headers)).status_code == 200
    # Vietnamese site still in its submission phase: 409 with the reason, nothing written.
    events = await ScoreEvent.all().count()
    refused = await client.put(
        f"/api/v1/submissions/{vn_entry.id}/scores", json={"scores": scores}, headers=headers
    )
    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    assert "Vietnam Time" in message and "Asia/Ho_Chi_Minh" not in message  # named for people
    await browser.login(judge.email)
    sheet_url = f"/contests/{contest.slug}/judge/{vn_entry.id}"
    fragment = await browser.post(
        sheet_url, {f"c-{criteria[0].id}": "7"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 409
    assert "Vietnam Time" in fragment.text and "Saved." not in fragment.text
    plain = await browser.post(sheet_url, {f"c-{criteria[0].id}": "7"})
    assert plain.status_code == 409 and 'value="7"' in plain.text  # the typed value is kept
    assert await ScoreEvent.all().count() == events
    # Once the Vietnamese deadline has passed, the same save is accepted.
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        accepted = await client.put(
            f"/api/v1/submissions/{vn_entry.id}/scores", json={"scores": scores}, headers=headers
        )
        assert accepted.status_code == 200


async def test_an_unverified_account_and_a_team_member_cannot_score(client):
    contest, _vn, kr_entry, _judge = await _two_sites_one_open()
    url = f"/api/v1/submissions/{kr_entry.id}/scores"
    unverified = await person("unverified@example.org", verified=False)
    member = await User.get(email="kr@example.org")
    for user in (unverified, member, contest.organiser):
        response = await client.put(url, json={"scores": {"impact": 5}}, headers=await bearer(user))
        assert response.status_code == 403
    assert await ScoreEvent.all().count() == 0


async def test_comparisons_wait_for_judging_too(client, browser):
    contest, vn_entry, kr_entry, judge = await _two_sites_one_open(judging_mode="pairwise")
    other = await make_team(contest, "Seoul team", site="kr", title="Air quality")
    other_entry = await other.submission
    headers = await bearer(judge)
    url = f"/api/v1/contests/{contest.id}/comparisons"
    refused = await client.post(
        url, json={"winner_id": vn_entry.id, "loser_id": kr_entry.id}, headers=headers
    )
    assert refused.status_code == 409
    accepted = await client.post(
        url, json={"winner_id": other_entry.id, "loser_id": kr_entry.id}, headers=headers
    )
    assert accepted.status_code == 201
    await browser.login(judge.email)
    page = await browser.post(
        f"/contests/{contest.slug}/judge/pairs",
        {"winner": str(vn_entry.id), "loser": str(kr_entry.id)},
    )
    assert page.status_code == 409 and "Vietnam Time" in page.text
    assert await Comparison.all().count() == 1
    # The next pair never offers an entry whose site is still submitting.
    pair = (await client.get(f"/api/v1/contests/{contest.id}/pairs/next", headers=headers)).json()
    assert pair["pair"] is None or vn_entry.id not in {p["submission_id"] for p in pair["pair"]}


async def test_entries_and_members_freeze_at_the_site_deadline(client, browser):
    contest, vn_entry, kr_entry, _judge = await _two_sites_one_open()
    await browser.login("kr@example.org")
    page = await browser.get(f"/contests/{contest.slug}")
    assert 'id="entry-frozen"' in page.text
    assert 'id="edit-entry"' not in page.text and 'id="invite-form"' not in page.text
    viewing = await browser.get(f"/contests/{contest.slug}/entry")
    assert viewing.status_code == 200 and "Bus map" in viewing.text
    edit = await browser.post(f"/contests/{contest.slug}/entry", {"title": "Rewritten"})
    assert edit.status_code == 409
    invite = await browser.post(f"/contests/{contest.slug}/team/invite", {"email": "x@example.org"})
    assert invite.status_code == 409
    api = await client.post(
        f"/api/v1/contests/{contest.id}/submissions",
        json={"title": "Rewritten"},
        headers=await bearer(await User.get(email="kr@example.org")),
    )
    assert api.status_code == 409
    await kr_entry.refresh_from_db()
    assert kr_entry.title == "Bus map"
    assert (
        await TeamMember.filter(team_id=kr_entry.team_id, status="active").count() == 1  # type: ignore[attr-defined]
    )
    # An invitation sent before the deadline cannot be accepted after it.
    pending = await TeamMember.create(
        team_id=kr_entry.team_id,  # type: ignore[attr-defined]
        email="late.joiner@example.org",
        status="invited",
    )
    await person("late.joiner@example.org")
    await browser.login("late.joiner@example.org")
    late = await browser.post(f"/contests/{contest.slug}/invitations/{pending.id}/accept")
    assert late.status_code in (303, 409)
    await pending.refresh_from_db()
    assert pending.status.value == "invited" and pending.user_id is None  # type: ignore[attr-defined]
    # The Vietnamese team, whose site is still open, edits and invites as before.
    await browser.login("vn@example.org")
    page = await browser.get(f"/contests/{contest.slug}")
    assert 'id="edit-entry"' in page.text and 'id="invite-form"' in page.text
    invite = await browser.post(f"/contests/{contest.slug}/team/invite", {"email": "y@example.org"})
    assert invite.status_code == 303


async def _scored_contest(n: int = 4, judges: int = 2) -> Contest:
    contest = await make_contest(judges_per_entry=2, **JUDGING_NOW)
    for i in range(n):
        await make_team(
            contest,
            f"Team {i}",
            track="tourism" if i % 2 else "traffic",
            members=(f"member{i}@example.org",),
            title=f"Entry {i}",
        )
    for i in range(judges):
        await make_judge(contest, f"judge{i}@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    return contest


async def _score(contest: Contest, skip: set[int] = frozenset()) -> None:
    round_ = await judging.current_round(contest)
    criteria = await judging.criteria_of(round_)
    for row in await JudgeAssignment.filter(round_id=round_.id).select_related("judge"):
        if row.submission_id in skip:  # type: ignore[attr-defined]
            continue
        value = 3 + (row.submission_id * 7 + row.judge.id) % 7  # type: ignore[attr-defined]
        await judging.save_scores(
            row.judge,
            row.submission_id,  # type: ignore[attr-defined]
            {c.code: value for c in criteria},
        )


async def test_a_final_round_needs_complete_scores_or_an_override_listing_them(browser):
    contest = await _scored_contest(n=5)
    entries = await Submission.filter(contest_id=contest.id).order_by("id")
    await browser.login(contest.organiser.email)
    url = f"/contests/{contest.slug}/manage/shortlist"
    form = {"size": "2", "judges_per_entry": "1", "load_cap": "10"}
    nothing = await browser.post(url, form)  # nothing scored yet: the page says why
    assert nothing.status_code == 409 and 'id="shortlist-refused"' in nothing.text
    await _score(contest, skip={entries[4].id})
    refused = await browser.post(url, form)
    assert refused.status_code == 409
    assert "Entry 4" in refused.text and f'value="{entries[4].id}"' in refused.text
    assert await Round.filter(contest_id=contest.id).count() == 1
    # An override that does not list exactly the incomplete entries is refused too.
    wrong = await browser.post(url, {**form, "override": "1", "incomplete": str(entries[0].id)})
    assert wrong.status_code == 409
    assert await Round.filter(contest_id=contest.id).count() == 1
    done = await browser.post(url, {**form, "override": "1", "incomplete": str(entries[4].id)})
    assert done.status_code == 303
    final = await Round.get(contest_id=contest.id, number=2)
    # The final round's judges are assigned in the same step: one judge per finalist.
    assert await JudgeAssignment.filter(round_id=final.id).count() == 2
    # A judge may not open a final round at all.
    await browser.login("judge0@example.org")
    assert (await browser.post(url, form)).status_code == 403


async def test_a_final_round_with_complete_scores_opens_without_override(browser):
    contest = await _scored_contest(n=4)
    await _score(contest)
    await browser.login(contest.organiser.email)
    response = await browser.post(
        f"/contests/{contest.slug}/manage/shortlist",
        {"size": "2", "judges_per_entry": "2", "load_cap": "10"},
    )
    assert response.status_code == 303
    final = await Round.get(contest_id=contest.id, number=2)
    assert await JudgeAssignment.filter(round_id=final.id).count() == 4


async def test_publishing_shows_a_preview_then_needs_the_confirmation(browser, client):
    contest = await _scored_contest(n=4)
    await _score(contest)
    await browser.login(contest.organiser.email)
    url = f"/contests/{contest.slug}/manage/publish"
    preview = await browser.post(url)
    assert preview.status_code == 200
    await contest.refresh_from_db()
    assert contest.results_published_at is None
    # The preview names the ranking, the winners and how many e-mails go to whom.
    assert "Entry 0" in preview.text and 'id="preview-winners"' in preview.text
    assert re.search(r"6 e-mails will be sent", preview.text), preview.text  # 4 members, 2 judges
    assert "Judges: 2" in preview.text
    stale = await browser.post(url, {"confirm": "0" * 64})
    assert stale.status_code == 409
    await contest.refresh_from_db()
    assert contest.results_published_at is None
    token = TOKEN.search(preview.text).group(1)
    await browser.login("judge0@example.org")
    assert (await browser.post(url, {"confirm": token})).status_code == 403
    await browser.login(contest.organiser.email)
    published = await browser.post(url, {"confirm": token})
    assert published.status_code == 303
    await contest.refresh_from_db()
    assert contest.results_published_at is not None and contest.results_hash == token
    # After results: entries and teams are read-only, and nothing offers to change them.
    await browser.login("member0@example.org")
    page = await browser.get(f"/contests/{contest.slug}")
    assert 'id="edit-entry"' not in page.text and 'id="invite-form"' not in page.text
    invite = await browser.post(f"/contests/{contest.slug}/team/invite", {"email": "z@example.org"})
    assert invite.status_code == 409
    assert (
        await browser.post(f"/contests/{contest.slug}/entry", {"title": "Rewritten later"})
    ).status_code == 409
    # Scores are closed too.
    judge = await User.get(email="judge0@example.org")
    row = await JudgeAssignment.filter(judge_id=judge.id).first()
    late = await client.put(
        f"/api/v1/submissions/{row.submission_id}/scores",  # type: ignore[attr-defined]
        json={"scores": {"impact": 1}},
        headers=await bearer(judge),
    )
    assert late.status_code == 409


async def test_judges_and_organisers_cannot_vote_in_their_contest(client, browser):
    contest = await _scored_contest(n=2, judges=2)
    entry = await Submission.filter(contest_id=contest.id).first()
    url = f"/api/v1/contests/{contest.id}/votes"
    voter = await person("voter@example.org")
    await User.filter(id=voter.id).update(created_at=timezone.now() - timedelta(days=30))
    for user, status in (
        (await User.get(email="judge0@example.org"), 403),
        (contest.organiser, 403),
        (await person("unverified.voter@example.org", verified=False), 403),
        (voter, 201),
    ):
        response = await client.post(
            url, json={"submission_id": entry.id}, headers=await bearer(user)
        )
        assert response.status_code == status
    assert await Vote.all().count() == 1
    await browser.login("judge0@example.org")
    page = await browser.get(f"/contests/{contest.slug}")
    assert (
        'id="no-vote"' in page.text
        and 'action="/contests/' + contest.slug + '/vote"' not in page.text
    )


async def test_the_sheet_checks_range_and_step_and_reads_a_decimal_comma(browser):
    contest = await _scored_contest(n=2, judges=2)
    judge = await User.get(email="judge0@example.org")
    row = await JudgeAssignment.filter(judge_id=judge.id).first()
    criteria = await judging.criteria_of(await judging.current_round(contest))
    impact = criteria[0]
    await browser.login(judge.email)
    url = f"/contests/{contest.slug}/judge/{row.submission_id}"  # type: ignore[attr-defined]
    page = await browser.get(url)
    assert f'min="{impact.scale_min}"' in page.text and f'max="{impact.scale_max}"' in page.text
    assert 'step="0.5"' in page.text
    htmx = {"HX-Request": "true"}
    saved = await browser.post(url, {f"c-{impact.id}": "7,5"}, headers=htmx)
    assert saved.status_code == 200 and "Saved." in saved.text
    stored = await CurrentScore.get(judge_id=judge.id, criterion_id=impact.id)
    assert stored.value == 7.5  # never 75
    for bad in ("11", "-1", "7,3", "7.5.1", "7,5,0", "1e1", "abc"):
        refused = await browser.post(url, {f"c-{impact.id}": bad}, headers=htmx)
        assert refused.status_code == 422, bad
        assert "Saved." not in refused.text and 'class="error"' in refused.text, bad
    out = await browser.post(url, {f"c-{impact.id}": "11"}, headers=htmx)
    assert "between 0 and 10" in out.text
    off = await browser.post(url, {f"c-{impact.id}": "7,3"}, headers=htmx)
    assert "steps of 0.5" in off.text
    assert (await CurrentScore.get(judge_id=judge.id, criterion_id=impact.id)).value == 7.5
    assert await ScoreEvent.filter(judge_id=judge.id).count() == 1


async def test_the_results_hash_covers_tracks_entries_and_the_rubric(app):
    contest = await _scored_contest(n=4)
    await _score(contest)
    base = (await results.compute(contest)).hash
    assert (await results.compute(contest)).hash == base
    # A track renamed.
    track = await Track.filter(contest_id=contest.id).first()
    await Track.filter(id=track.id).update(name="Renamed")
    renamed = (await results.compute(contest)).hash
    assert renamed != base
    await Track.filter(id=track.id).update(name=track.name)
    assert (await results.compute(contest)).hash == base
    # An entry moved to another track, then back.
    team = await Team.filter(contest_id=contest.id).first()
    home = team.track_id  # type: ignore[attr-defined]
    other = await Track.filter(contest_id=contest.id).exclude(id=home).first()
    await Team.filter(id=team.id).update(track_id=other.id)
    assert (await results.compute(contest)).hash not in (base, renamed)
    await Team.filter(id=team.id).update(track_id=home)
    assert (await results.compute(contest)).hash == base
    # An entry without scores joins the set.
    await make_team(contest, "Late team", title="Unscored entry")
    with_new_entry = (await results.compute(contest)).hash
    assert with_new_entry != base
    # A rubric weight.
    round_ = await judging.current_round(contest)
    criterion = (await judging.criteria_of(round_))[0]
    await type(criterion).filter(id=criterion.id).update(weight=criterion.weight + 1)
    assert (await results.compute(contest)).hash != with_new_entry


async def test_results_published_with_the_first_hash_format_stay_verifiable(browser, client):
    from hackathon.results_hash import results_hash, results_hash_v1

    contest = await _scored_contest(n=4)
    await _score(contest)
    await browser.login(contest.organiser.email)
    token = TOKEN.search((await browser.post(f"/contests/{contest.slug}/manage/publish")).text)
    await browser.post(f"/contests/{contest.slug}/manage/publish", {"confirm": token.group(1)})
    inputs = (await client.get(f"/contests/{contest.slug}/results/inputs.json")).json()
    assert inputs["format"] == "results-inputs/v2"
    assert (
        inputs["results_hash"]
        == inputs["recomputed_hash"]
        == results_hash(inputs["scores"], inputs["parameters"])
    )
    # A contest published before v2: its stored parameters, the v1 encoding.
    await contest.refresh_from_db()
    old = {k: v for k, v in contest.results.items() if k != "hash_format"}
    old["parameters"] = {"contest": contest.id, "round": 1, "mode": "rubric"}
    old_hash = results_hash_v1(inputs["scores"], old["parameters"])
    await Contest.filter(id=contest.id).update(results=old, results_hash=old_hash)
    inputs = (await client.get(f"/contests/{contest.slug}/results/inputs.json")).json()
    assert inputs["format"] == "results-inputs/v1"
    assert inputs["recomputed_hash"] == inputs["results_hash"] == old_hash
    assert inputs["parameters"] == old["parameters"]


async def test_the_api_previews_then_publishes_with_the_token(client):
    contest = await _scored_contest(n=4)
    await _score(contest)
    url = f"/api/v1/contests/{contest.id}/publication"
    organiser = await bearer(contest.organiser)
    judge = await bearer(await User.get(email="judge0@example.org"))
    assert (await client.get(url, headers=judge)).status_code == 403
    preview = await client.get(url, headers=organiser)
    assert preview.status_code == 200
    body = preview.json()
    assert body["emails"] == {"winner": 2, "participant": 2, "judge": 2}
    assert len(body["overall"]) == 4 and body["winners"]
    await contest.refresh_from_db()
    assert contest.results_published_at is None
    assert (
        await client.post(url, json={"confirm": "x" * 64}, headers=organiser)
    ).status_code == 409
    assert (
        await client.post(url, json={"confirm": body["token"]}, headers=judge)
    ).status_code == 403
    done = await client.post(url, json={"confirm": body["token"]}, headers=organiser)
    assert done.status_code == 200 and done.json()["results_hash"] == body["token"]
    assert (
        await client.post(url, json={"confirm": body["token"]}, headers=organiser)
    ).status_code == 409
