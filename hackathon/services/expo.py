"""Pairwise (expo-style) judging: the next pair to compare, a comparison, undo.

The comparison log is append-only (`Comparison`); an undo appends a row that withdraws the
judge's latest comparison. The Crowd-BT state is rebuilt from the effective log
(`hackathon.pairwise.rebuild`), so an undone comparison leaves no trace in the ranking.
Judges never compare entries of a team they are in conflict with.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import User
from hackathon import pairwise, permissions
from hackathon.models import (
    Comparison,
    Contest,
    ContestRole,
    ContestRoleKind,
    JudgingMode,
    PairLease,
    Submission,
)
from hackathon.services import results
from hackathon.services.contests import current_round
from hackathon.services.judging import conflict_pairs, round_entries
from hackathon.services.phases import ensure_judging_open, judging_open
from hackathon.services.results import comparison_log, fitted_pairwise

LEASE = timedelta(minutes=5)  # how long a pair handed to a judge is kept from the others


@dataclass
class NextPair:
    first: Submission
    second: Submission
    compared: int


async def _state(contest: Contest):
    round_ = await current_round(contest)
    entries = {e.id: e for e in await round_entries(round_)}
    log = await comparison_log(round_)
    state = fitted_pairwise(round_.id, [str(e) for e in sorted(entries)], log)
    return round_, entries, state


def _require_pairwise(contest: Contest) -> None:
    if contest.judging_mode != JudgingMode.PAIRWISE:
        raise Conflict(_("This contest is judged with a rubric, not in pairs."))


async def next_pair(judge: User, contest: Contest, *, seed: int | None = None) -> NextPair | None:
    """The next pair for this judge, held for them for `LEASE` (see `PairLease`).

    Never a pair the judge already compared, nor one another judge holds; entries in other
    judges' hands are avoided while others remain; a share of requests explores at random
    (`pairwise.EXPLORATION`), drawn from `random.Random(seed)` (a fresh seed per request
    unless a test fixes it). Entries whose site is still taking submissions are left out;
    409 when the contest is not in its judging phase at all.
    """
    await permissions.ensure(judge, "contest.judge", contest)
    _require_pairwise(contest)
    round_, entries, state = await _state(contest)
    open_entries = [e for e in entries.values() if judging_open(contest, e.team)]
    for entry in entries.values() if not open_entries else ():
        ensure_judging_open(contest, entry.team)  # 409: results out, or no site closed yet
    conflicts = await conflict_pairs(contest, [judge.id])
    excluded = [str(e.id) for e in entries.values() if (judge.id, e.team_id) in conflicts]  # type: ignore[attr-defined]
    me = str(judge.id)
    seen = [(c.winner_id, c.loser_id) for c in state.log if c.judge_id == me]
    compared = len(seen)
    now = timezone.now()
    leases = await PairLease.filter(round_id=round_.id, expires_at__gt=now).values(
        "judge_id", "entry_a_id", "entry_b_id"
    )
    busy_pairs: list[tuple[str, str]] = []
    busy_entries: set[str] = set()
    candidates = {str(e.id) for e in open_entries}
    seen_set = {frozenset(pair) for pair in seen}
    for lease in leases:
        pair = (str(lease["entry_a_id"]), str(lease["entry_b_id"]))
        if lease["judge_id"] == judge.id:
            # The same request again (a reload): the pair the judge holds, if still open.
            if frozenset(pair) not in seen_set and set(pair) <= candidates - set(excluded):
                return NextPair(entries[int(pair[0])], entries[int(pair[1])], compared)
            continue
        busy_pairs.append(pair)
        busy_entries.update(pair)
    rng = random.Random(seed if seed is not None else secrets.randbits(64))
    pair = pairwise.choose_next(
        state,
        me,
        excluded=excluded,
        candidates=candidates,
        seen_pairs=seen,
        busy_pairs=busy_pairs,
        busy_entries=busy_entries,
        rng=rng,
    )
    if pair is None:
        await PairLease.filter(round_id=round_.id, judge_id=judge.id).delete()
        return None
    lease = {"entry_a_id": int(pair[0]), "entry_b_id": int(pair[1]), "expires_at": now + LEASE}
    try:
        await PairLease.update_or_create(round_id=round_.id, judge_id=judge.id, defaults=lease)
    except IntegrityError:  # the same judge's other request created it meanwhile
        await PairLease.filter(round_id=round_.id, judge_id=judge.id).update(**lease)
    return NextPair(entries[int(pair[0])], entries[int(pair[1])], compared)


async def compare(judge: User, contest: Contest, winner_id: int, loser_id: int) -> Comparison:
    await permissions.ensure(judge, "contest.judge", contest)
    _require_pairwise(contest)
    if contest.results_published_at is not None:
        raise Conflict(_("The results are published: scores can no longer change."))
    if winner_id == loser_id:
        message = _("Compare two different entries.")
        raise Invalid(message, fields={"loser_id": message})
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
    async with atomic():
        row = await Comparison.create(
            round_id=round_.id, judge_id=judge.id, winner_id=winner_id, loser_id=loser_id
        )
        await PairLease.filter(round_id=round_.id, judge_id=judge.id).delete()
    return row


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


# --- the organiser's view --------------------------------------------------------------------


@dataclass
class PairwiseOverview:
    """A pairwise round for its organisers: coverage, each judge's progress, the ranking."""

    entries: int
    comparisons: int
    pairs_covered: int  # distinct pairs compared at least once
    pairs_total: int
    per_entry: list[dict]  # submission, comparisons
    judges: list[dict]  # role, user, comparisons, reliability, holding
    ranking: results.Ranking

    @property
    def never_compared(self) -> int:
        return sum(1 for row in self.per_entry if row["comparisons"] == 0)

    @property
    def least_compared(self) -> int:
        return min((row["comparisons"] for row in self.per_entry), default=0)


async def overview(actor: User, contest: Contest) -> PairwiseOverview:
    """Coverage, per-judge progress and reliability (`pairwise.judge_agreement`) and the
    current ranking with its intervals; organisers only."""
    await permissions.ensure(actor, "contest.see_ranking", contest)
    _require_pairwise(contest)
    round_, entries, state = await _state(contest)
    per_entry: dict[str, int] = {str(e): 0 for e in entries}
    pairs: set[frozenset[str]] = set()
    per_judge: dict[str, int] = {}
    for comparison in state.log:
        per_entry[comparison.winner_id] = per_entry.get(comparison.winner_id, 0) + 1
        per_entry[comparison.loser_id] = per_entry.get(comparison.loser_id, 0) + 1
        pairs.add(frozenset((comparison.winner_id, comparison.loser_id)))
        per_judge[comparison.judge_id] = per_judge.get(comparison.judge_id, 0) + 1
    agreement = pairwise.judge_agreement(state)
    holding = set(
        await PairLease.filter(round_id=round_.id, expires_at__gt=timezone.now()).values_list(
            "judge_id", flat=True
        )
    )
    roles = (
        await ContestRole.filter(contest_id=contest.id, role=ContestRoleKind.JUDGE)
        .select_related("user")
        .order_by("user__full_name", "id")
    )
    judges = [
        {
            "role": role,
            "user": role.user,
            "comparisons": per_judge.get(str(role.user.id), 0),
            "reliability": (
                agreement[str(role.user.id)].reliability if str(role.user.id) in agreement else None
            ),
            "holding": role.user.id in holding,
        }
        for role in roles
    ]
    n = len(entries)
    return PairwiseOverview(
        entries=n,
        comparisons=len(state.log),
        pairs_covered=len(pairs),
        pairs_total=n * (n - 1) // 2,
        per_entry=[
            {"submission": entries[e], "comparisons": per_entry[str(e)]} for e in sorted(entries)
        ],
        judges=judges,
        ranking=await results.compute(contest, round_),
    )
