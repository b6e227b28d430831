"""Pairwise (expo-style) judging: the next pair to compare, a comparison, undo.

The comparison log is append-only (`Comparison`); an undo appends a row that withdraws the
judge's latest comparison. The Crowd-BT state is rebuilt from the effective log
(`hackathon.pairwise.rebuild`), so an undone comparison leaves no trace in the ranking.
Judges never compare entries of a team they are in conflict with.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import User
from hackathon import pairwise, permissions
from hackathon.models import Comparison, Contest, JudgingMode, Submission
from hackathon.services.contests import current_round
from hackathon.services.judging import conflict_pairs, round_entries
from hackathon.services.phases import ensure_judging_open
from hackathon.services.results import comparison_log, effective_comparisons


@dataclass
class NextPair:
    first: Submission
    second: Submission
    compared: int


async def _state(contest: Contest):
    round_ = await current_round(contest)
    entries = {e.id: e for e in await round_entries(round_)}
    log = await comparison_log(round_)
    state = pairwise.rebuild([str(e) for e in sorted(entries)], effective_comparisons(log))
    return round_, entries, state


def _require_pairwise(contest: Contest) -> None:
    if contest.judging_mode != JudgingMode.PAIRWISE:
        raise Conflict(_("This contest is judged with a rubric, not in pairs."))


async def next_pair(judge: User, contest: Contest) -> NextPair | None:
    await permissions.ensure(judge, "contest.judge", contest)
    _require_pairwise(contest)
    _round, entries, state = await _state(contest)
    conflicts = await conflict_pairs(contest, [judge.id])
    excluded = [str(e.id) for e in entries.values() if (judge.id, e.team_id) in conflicts]  # type: ignore[attr-defined]
    pair = pairwise.choose_next(state, str(judge.id), excluded=excluded)
    compared = sum(1 for c in state.log if c.judge_id == str(judge.id))
    if pair is None:
        return None
    return NextPair(entries[int(pair[0])], entries[int(pair[1])], compared)


async def compare(judge: User, contest: Contest, winner_id: int, loser_id: int) -> Comparison:
    await permissions.ensure(judge, "contest.judge", contest)
    _require_pairwise(contest)
    if contest.results_published_at is not None:
        raise Conflict(_("The results are published: scores can no longer change."))
    if winner_id == loser_id:
        raise Invalid(_("Compare two different entries."), fields={"loser_id": "same"})
    round_ = await current_round(contest)
    entries = {e.id: e for e in await round_entries(round_)}
    if winner_id not in entries or loser_id not in entries:
        raise NotFound(_("This entry does not exist."))
    conflicts = await conflict_pairs(contest, [judge.id])
    for entry_id in (winner_id, loser_id):
        if (judge.id, entries[entry_id].team_id) in conflicts:  # type: ignore[attr-defined]
            raise NotPermitted(_("You declared a conflict of interest with this team."))
    for entry_id in (winner_id, loser_id):
        ensure_judging_open(contest, entries[entry_id].team)
    return await Comparison.create(
        round_id=round_.id, judge_id=judge.id, winner_id=winner_id, loser_id=loser_id
    )


async def undo(judge: User, contest: Contest) -> Comparison | None:
    """Withdraw the judge's latest comparison that is still in effect."""
    await permissions.ensure(judge, "contest.judge", contest)
    _require_pairwise(contest)
    round_ = await current_round(contest)
    async with atomic():
        rows = await Comparison.filter(round_id=round_.id, judge_id=judge.id).order_by("-id")
        withdrawn = {r.withdraws for r in rows if r.withdraws is not None}
        for row in rows:
            if row.withdraws is None and row.id not in withdrawn:
                return await Comparison.create(
                    round_id=round_.id,
                    judge_id=judge.id,
                    winner_id=row.winner_id,  # type: ignore[attr-defined]
                    loser_id=row.loser_id,  # type: ignore[attr-defined]
                    withdraws=row.id,
                )
    return None
