"""The contests' JSON API as tools use it: shapes, status codes per role, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from hackathon.models import Contest, JudgeAssignment, ScoreEvent
from hackathon.services import judging, results
from tests.conftest import person
from tests.hackathon.conftest import (
    JUDGING_NOW,
    bearer,
    make_contest,
    make_judge,
    make_org,
    make_team,
)


async def test_the_contest_list_has_the_documented_shape_and_phases(client):
    contest = await make_contest()
    await make_contest(
        slug="hackathon-2017",
        registration_in=timedelta(days=-3),
        submission_in=timedelta(days=-2),
        judging_in=timedelta(days=-1),
    )
    anonymous = await client.get("/api/v1/contests")  # public: no token needed
    assert anonymous.status_code == 200
    headers = await bearer(await person("reader@example.org"))
    response = await client.get("/api/v1/contests", headers=headers)
    assert response.status_code == 200
    items = {item["slug"]: item for item in response.json()["items"]}
    item = items["smart-city-2018"]
    assert item["id"] == contest.id and item["title"] == "Smart City Initiative Contest"
    assert {s["code"] for s in item["sites"]} == {"vn", "kr"}
    assert {t["code"] for t in item["tracks"]} == {"tourism", "traffic"}
    assert item["phase"] == "registration"
    assert items["hackathon-2017"]["phase"] == "judging"
    korea = next(s for s in item["sites"] if s["code"] == "kr")
    assert korea["timezone"] == "Asia/Seoul" and korea["language"] == "ko"
    # A bad token is refused even on a public route.
    bad = await client.get("/api/v1/contests", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"]


async def test_a_team_member_submits_and_every_version_is_kept(client):
    contest = await make_contest()
    team = await make_team(contest, "Sóng Việt", members=("lan@tdmu.edu.vn",))
    from ecosystem.models import User

    lan = await User.get(email="lan@tdmu.edu.vn")
    headers = await bearer(lan)
    url = f"/api/v1/contests/{contest.id}/submissions"
    body = {
        "title": "Du lịch Bình Dương",
        "summary": "Bản đồ du lịch",
        "repository_url": "https://git.example.org/song-viet",
    }
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["team_id"] == team.id
    second = await client.post(url, json={**body, "title": "Du lịch BD 2.0"}, headers=headers)
    assert second.status_code == 201 and second.json()["version"] == 2
    from hackathon.models import SubmissionVersion

    versions = await SubmissionVersion.filter(submission_id=first.json()["id"]).order_by("version")
    assert [v.data["title"] for v in versions] == ["Du lịch Bình Dương", "Du lịch BD 2.0"]

    outsider = await bearer(await person("outsider@example.org"))
    assert (await client.post(url, json=body, headers=outsider)).status_code == 403
    bad = await client.post(url, json={"title": ""}, headers=headers)
    assert bad.status_code == 422 and "title" in bad.json()["error"]["fields"]
    assert (await client.post(url, content=b"{", headers=headers)).status_code == 400
    assert (await client.post(url, json=body)).status_code == 401
    assert (
        await client.post("/api/v1/contests/999999/submissions", json=body, headers=headers)
    ).status_code == 404


async def test_deadlines_hold_in_each_sites_own_time_zone(client):
    """Submissions close at 17:00 local time at each site: 15:00 in Vietnam is 17:00 in
    Seoul, so the Korean team is refused while the Vietnamese team may still submit."""
    from ecosystem.models import User

    closes = datetime(2018, 10, 10, 10, 0, tzinfo=UTC)  # 17:00 in Hồ Chí Minh City
    with time_machine.travel(datetime(2018, 10, 1, tzinfo=UTC), tick=False):
        contest = await make_contest(
            registration_in=timedelta(days=5),
            submission_in=timedelta(days=9, hours=10),
            judging_in=timedelta(days=20),
        )
    assert contest.submission_closes_at == closes
    await make_team(contest, "Hanbit", site="kr", members=("minjun@kaist.ac.kr",))
    await make_team(contest, "Sông Bé", site="vn", members=("an@eiu.edu.vn",))
    korean = await bearer(await User.get(email="minjun@kaist.ac.kr"))
    vietnamese = await bearer(await User.get(email="an@eiu.edu.vn"))
    url = f"/api/v1/contests/{contest.id}/submissions"
    body = {"title": "Smart parking"}
    # 14:59 ICT = 16:59 KST: both sites open.
    with time_machine.travel(datetime(2018, 10, 10, 7, 59, tzinfo=UTC), tick=False):
        assert (await client.post(url, json=body, headers=korean)).status_code == 201
    # 15:00 ICT = 17:00 KST: Korea closed, Vietnam still open.
    with time_machine.travel(datetime(2018, 10, 10, 8, 0, tzinfo=UTC), tick=False):
        late = await client.post(url, json=body, headers=korean)
        assert late.status_code == 409 and late.json()["error"]["code"] == "deadline_passed"
        assert (await client.post(url, json=body, headers=vietnamese)).status_code == 201
    # 17:00 ICT: Vietnam closed too.
    with time_machine.travel(datetime(2018, 10, 10, 10, 0, tzinfo=UTC), tick=False):
        assert (await client.post(url, json=body, headers=vietnamese)).status_code == 409
        listed = (await client.get("/api/v1/contests", headers=vietnamese)).json()["items"][0]
        assert listed["phase"] == "judging"
        # An organiser grants the Korean team a late window: it may submit again.
        from hackathon.services import teams

        team = await contest.teams.filter(name="Hanbit").first()
        organiser = contest.organiser
        await teams.grant_late_window(organiser, team.id, closes + timedelta(hours=2))
        assert (await client.post(url, json=body, headers=korean)).status_code == 201
        assert (await client.post(url, json=body, headers=vietnamese)).status_code == 409


async def _scored_contest(blind: bool = False) -> tuple[Contest, list, list]:
    contest = await make_contest(blind=blind, **JUDGING_NOW)
    titles = ["Bản đồ du lịch", "Xe buýt thông minh", "Cổng dịch vụ công", "Bảng môi trường"]
    teams = [
        await make_team(
            contest,
            f"Team {i}",
            track="tourism" if i % 2 else "traffic",
            members=(f"member{i}@example.org",),
            title=title,
        )
        for i, title in enumerate(titles)
    ]
    judges = [await make_judge(contest, f"judge{i}@example.org") for i in range(3)]
    outcome = await judging.run_assignment(contest.organiser, contest)
    assert outcome.ok, outcome.reasons
    return contest, teams, judges


async def test_scores_from_an_assigned_judge_only_and_within_the_scale(client):
    contest, _teams, judges = await _scored_contest()
    judge = judges[0]
    headers = await bearer(judge)
    listed = await client.get("/api/v1/judging/assignments", headers=headers)
    assert listed.status_code == 200
    payload = listed.json()
    assert payload["total"] == len(payload["items"]) > 0 and payload["done"] == 0
    item = payload["items"][0]
    criteria = {c["code"]: c for c in item["criteria"]}
    scores = {str(c["id"]): c["scale_max"] - 1 for c in criteria.values()}
    url = f"/api/v1/submissions/{item['submission_id']}/scores"
    saved = await client.put(url, json={"scores": scores, "comment": "Rõ ràng"}, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["completed"] is True and saved.json()["done"] == 1
    # Out of scale, unknown criterion, not a number: 422 and nothing written.
    events = await ScoreEvent.all().count()
    impact = str(criteria["impact"]["id"])
    for bad in ({impact: 11}, {impact: -1}, {"nope": 3}, {impact: "x"}):
        response = await client.put(url, json={"scores": bad}, headers=headers)
        assert response.status_code == 422, bad
    assert await ScoreEvent.all().count() == events
    # A judge of the contest who is not assigned to the entry, and someone else: 403.
    assigned = set(
        await JudgeAssignment.filter(submission_id=item["submission_id"]).values_list(
            "judge_id", flat=True
        )
    )
    other = next(j for j in judges if j.id not in assigned) if len(assigned) < 3 else None
    if other is not None:
        refused = await client.put(url, json={"scores": scores}, headers=await bearer(other))
        assert refused.status_code == 403
    stranger = await bearer(await person("stranger@example.org"))
    assert (await client.put(url, json={"scores": scores}, headers=stranger)).status_code == 403
    assert (
        await client.put(
            "/api/v1/submissions/987654/scores", json={"scores": scores}, headers=headers
        )
    ).status_code == 404


async def test_a_conflicted_judge_is_refused_even_when_assigned(client):
    contest = await make_contest(judges_per_entry=1, **JUDGING_NOW)
    university = await make_org("Thu Dau Mot University")
    team = await make_team(
        contest,
        "TDMU Makers",
        members=("maker@tdmu.edu.vn",),
        organisation=university,
        title="Smart lighting",
    )
    judge = await make_judge(contest, "lecturer@tdmu.edu.vn")
    # Assigned before joining the team's organisation (e.g. a stale assignment).
    outcome = await judging.run_assignment(contest.organiser, contest)
    assert outcome.ok
    from tests.conftest import add_member

    await add_member(judge, university)
    submission = await team.submission
    url = f"/api/v1/submissions/{submission.id}/scores"
    response = await client.put(url, json={"scores": {"impact": 5}}, headers=await bearer(judge))
    assert response.status_code == 403
    # And the solver reports that nobody else can judge the entry.
    outcome = await judging.run_assignment(contest.organiser, contest)
    assert not outcome.ok and "“Smart lighting” (team TDMU Makers)" in outcome.reasons[0]


async def test_results_are_hidden_until_published_then_carry_a_reproducible_hash(client):
    contest, _teams, judges = await _scored_contest()
    url = f"/api/v1/contests/{contest.id}/results"
    reader = await bearer(await person("reader@example.org"))
    assert (await client.get(url, headers=reader)).status_code == 404
    for judge in judges:
        queue = await judging.queue(judge, contest)
        for n, item in enumerate(queue.items):
            scores = {c.code: (item.submission.id * 3 + n + judge.id) % 11 for c in queue.criteria}
            await judging.save_scores(judge, item.submission.id, scores)
    assert (await client.get(url, headers=await bearer(judges[0]))).status_code == 404
    assert (await client.get(url)).status_code == 404  # anonymous: the same 404 before
    await results.publish(
        contest.organiser,
        contest,
        confirm=(await results.preview(contest.organiser, contest)).token,
    )
    assert (await client.get(url)).status_code == 200  # published results are public
    response = await client.get(url, headers=reader)
    assert response.status_code == 200
    data = response.json()
    assert len(data["overall"]) == 4 and data["results_hash"]
    assert set(data["by_track"]) == {"tourism", "traffic"}
    assert {w["prize"] for w in data["winners"]} >= {"First prize, tourism", "First prize, traffic"}
    line = data["overall"][0]
    assert line["low"] <= line["calibrated"] <= line["high"] and "plain_mean" in line
    # Anyone can recompute the hash from the published inputs.
    from hackathon.results_hash import results_hash

    inputs = (await client.get(f"/contests/{contest.slug}/results/inputs.json")).json()
    assert results_hash(inputs["scores"], inputs["parameters"]) == data["results_hash"]
    assert inputs["recomputed_hash"] == data["results_hash"]
    # Scores can no longer change.
    queue = await judging.queue(judges[0], contest)
    response = await client.put(
        f"/api/v1/submissions/{queue.items[0].submission.id}/scores",
        json={"scores": {"impact": 1}},
        headers=await bearer(judges[0]),
    )
    assert response.status_code == 409


async def test_the_openapi_document_describes_every_contest_route(client):
    document = (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    for path, method in [
        ("/api/v1/contests", "get"),
        ("/api/v1/contests/{contest_id}/submissions", "post"),
        ("/api/v1/judging/assignments", "get"),
        ("/api/v1/submissions/{submission_id}/scores", "put"),
        ("/api/v1/contests/{contest_id}/results", "get"),
    ]:
        assert method in paths[path], path
