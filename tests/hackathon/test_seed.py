"""The contests' demo data: the 2017 hackathon published with winners, the 2018 two-site
contest with 120 teams (22 in Korea), 20 judges and finished scores, and an open contest
where judge@example.org has a queue; idempotent (its speed: bench/former_timed_asserts.py)."""

from __future__ import annotations

from ecosystem.models import User
from ecosystem.seed import seed_kernel
from hackathon.models import (
    Certificate,
    Contest,
    ContestRole,
    CurrentScore,
    JudgeAssignment,
    ScoreEvent,
    Submission,
    Team,
)
from hackathon.seed import seed_contests
from hackathon.services import judging, results
from tests.hackathon.conftest import bearer


async def test_the_demo_contests(client):
    await seed_kernel()
    await seed_contests()  # its speed: bench/former_timed_asserts.py

    past = await Contest.get(slug="hackathon-binh-duong-2017")
    assert past.results_published_at.year == 2017 and past.results_hash
    assert len(past.results["winners"]) == 4
    assert await Certificate.filter(contest_id=past.id).count() == 16 + 5

    contest = await Contest.get(slug="smart-city-initiative-2018")
    assert await Team.filter(contest_id=contest.id).count() == 120
    assert await Team.filter(contest_id=contest.id, site__code="kr").count() == 22
    assert await ContestRole.filter(contest_id=contest.id, role="judge").count() == 20
    sites = {s.code: s for s in await contest.sites.all()}
    assert sites["kr"].timezone == "Asia/Seoul" and sites["kr"].language == "ko"
    assert sites["vn"].timezone == "Asia/Ho_Chi_Minh"
    assert (
        await JudgeAssignment.filter(round__contest_id=contest.id, completed_at=None).count() == 0
    )
    ranking = await results.compute(contest)
    assert len(ranking.overall) == 120
    await results.check_projection(ranking.round)  # the projection equals the log
    # Korean entries were judged by Korean-site judges only.
    kr_judges = set(
        await ContestRole.filter(contest_id=contest.id, site__code="kr").values_list(
            "user_id", flat=True
        )
    )
    kr_entries = set(
        await Submission.filter(contest_id=contest.id, team__site__code="kr").values_list(
            "id", flat=True
        )
    )
    for row in await JudgeAssignment.filter(submission_id__in=list(kr_entries)).values("judge_id"):
        assert row["judge_id"] in kr_judges
    # The Korean site's judges and team members read Korean on Seoul's clock; the others not.
    kr_people = kr_judges | set(
        await Team.filter(contest_id=contest.id, site__code="kr").values_list(
            "members__user_id", flat=True
        )
    )
    assert len(kr_people) == 5 + 22
    settings_of = {
        row["id"]: (row["locale"], row["timezone"])
        for row in await User.filter(email__startswith="jury2018-").values(
            "id", "locale", "timezone"
        )
    } | {
        row["id"]: (row["locale"], row["timezone"])
        for row in await User.filter(email__startswith="smartcity2018-").values(
            "id", "locale", "timezone"
        )
    }
    for user_id, chosen in settings_of.items():
        expected = ("ko", "Asia/Seoul") if user_id in kr_people else ("vi", "Asia/Ho_Chi_Minh")
        assert chosen == expected, (user_id, chosen)

    judge = await User.get(email="judge@example.org")
    organiser = await User.get(email="organiser@example.org")
    open_contest = await Contest.get(slug="innovation-challenge-2026")
    queue = await judging.queue(judge, open_contest)
    assert queue.total == 8 and queue.done == 3
    assert await judging.permissions.is_organiser(organiser, open_contest)
    response = await client.get("/api/v1/judging/assignments", headers=await bearer(judge))
    assert response.json()["total"] == 8
    phases = {
        c["slug"]: c["phase"]
        for c in (await client.get("/api/v1/contests", headers=await bearer(judge))).json()["items"]
    }
    assert phases == {
        "hackathon-binh-duong-2017": "results",
        "smart-city-initiative-2018": "judging",
        "innovation-challenge-2026": "judging",
    }

    counts = [await model.all().count() for model in (Contest, Team, ScoreEvent, CurrentScore)]
    await seed_contests()
    assert [await model.all().count() for model in (Contest, Team, ScoreEvent, CurrentScore)] == (
        counts
    )
