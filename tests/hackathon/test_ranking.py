"""Rankings through the database: computed from the log only, unchanged when one judge's
scores shift by a constant, and undo leaves the ranking as if the change never happened."""

from __future__ import annotations

import random

from ecosystem.models import User
from hackathon.models import ContestRole, CurrentScore
from hackathon.services import judging, results
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_team

RUBRIC = [
    {"code": "impact", "name": "Impact", "weight": 3, "scale_min": 0, "scale_max": 20},
    {"code": "craft", "name": "Craft", "weight": 1, "scale_min": 0, "scale_max": 20},
]


async def _scored(slug: str = "base", shifted: int | None = None, shift: int = 0):
    """Eight entries of known quality, five judges of random leniency; judge number
    `shifted` adds `shift` to every score it gives."""
    contest = await make_contest(slug=slug, judges_per_entry=3, criteria=RUBRIC, **JUDGING_NOW)
    for i in range(8):
        await make_team(
            contest, f"T{i}", track="tourism" if i % 2 else "traffic", title=f"Entry {i}"
        )
    for i in range(5):
        await make_judge(contest, f"{slug}.r{i}@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    rng = random.Random(7)
    roles = await ContestRole.filter(contest_id=contest.id, role="judge").order_by("id")
    for number, role in enumerate(roles):
        judge = await User.get(id=role.user_id)
        lenient = rng.randint(-3, 3)
        extra = shift if number == shifted else 0
        queue = await judging.queue(judge, contest)
        for item in queue.items:
            quality = int(item.submission.title.split()[-1])
            noise = (number * 3 + quality * 5) % 3 - 1  # the same whatever the queue order
            scores = {
                "impact": 6 + quality + lenient + noise + extra,
                "craft": 8 + lenient + extra,
            }
            await judging.save_scores(judge, item.submission.id, scores)
    return contest


def _order(ranking) -> list[str]:
    return [line.submission.title for line in ranking.overall]


async def test_shifting_one_judges_scores_keeps_the_calibrated_ranking(app):
    base = await results.compute(await _scored("base"))
    shifted = await results.compute(await _scored("shifted", shifted=2, shift=3))
    assert _order(shifted) == _order(base)
    assert [line.tied_with_next for line in shifted.overall] == [
        line.tied_with_next for line in base.overall
    ]
    # The plain mean, kept beside it, does move with the shift.
    assert [line.plain_mean for line in shifted.overall] != [
        line.plain_mean for line in base.overall
    ]


async def test_undo_restores_the_ranking_and_the_log_explains_it(app):
    contest = await _scored()
    before = await results.compute(contest)
    judge = await User.get(email="base.r0@example.org")
    queue = await judging.queue(judge, contest)
    await judging.save_scores(judge, queue.items[0].submission.id, {"impact": 0, "craft": 0})
    changed = await results.compute(contest)
    assert changed.hash != before.hash
    await judging.undo_last(judge, contest)
    after = await results.compute(contest)
    assert _order(after) == _order(before)
    assert [round(line.calibrated, 9) for line in after.overall] == [
        round(line.calibrated, 9) for line in before.overall
    ]
    assert after.hash != before.hash  # the log keeps the change and its undo
    assert len(after.inputs) == len(before.inputs) + 4
    state = results.replay(after.inputs)
    rows = await CurrentScore.all().values("judge_id", "submission_id", "criterion_id", "value")
    assert {(r["judge_id"], r["submission_id"], r["criterion_id"]): r["value"] for r in rows} == (
        state
    )
