"""Judging: conflicts, guaranteed assignments, the judge's queue and scoring sheet, undo.

Scores are an append-only log (`ScoreEvent`) with a projection (`CurrentScore`, unique per
(round, judge, submission, criterion)) written in the same transaction; see the module
docstring of `hackathon.models`. A save that changes three criteria appends three events
sharing one `batch`; "undo" appends events restoring the previous values of the judge's
latest batch that is not yet undone (undo again to go further back).

Assignments come from `hackathon.assignment` (min-cost flow): every entry gets exactly
`k` distinct judges, no judge goes over the load cap, no conflicted pair is used, site and
language match when the contest requires it; otherwise nothing is written and the organiser
reads why. Pairs a judge has started scoring are locked; a judge who drops out keeps the
entries already finished and the rest is repaired with as few changes as possible.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count

from ecosystem import offload
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, format_number, ngettext
from ecosystem.models import Membership, MembershipStatus, User
from ecosystem.scoring import Criterion as RubricCriterion
from ecosystem.scoring import weighted_score
from ecosystem.services import audit
from hackathon import permissions
from hackathon.assignment import (
    Entry,
    Infeasible,
    Judge,
    assign_judges,
    is_eligible,
    repair_assignment,
)
from hackathon.models import (
    Bid,
    BidLevel,
    Contest,
    ContestRole,
    ContestRoleKind,
    Criterion,
    CurrentScore,
    JudgeAssignment,
    MemberStatus,
    Round,
    ScoreEvent,
    Shortlist,
    Site,
    Submission,
    TeamMember,
    Track,
)
from hackathon.models import (
    Conflict as DeclaredConflict,
)
from hackathon.services.contests import criteria_of, current_round
from hackathon.services.phases import ensure_judging_open


def rubric(criteria: list[Criterion]) -> list[RubricCriterion]:
    return [RubricCriterion(str(c.id), c.weight, c.scale_min, c.scale_max) for c in criteria]


# --- entries and conflicts ------------------------------------------------------------------


async def round_entries(round_: Round) -> list[Submission]:
    """The entries of a round: every submission in round 1, the shortlist afterwards."""
    query = Submission.filter(contest_id=round_.contest_id)  # type: ignore[attr-defined]
    if round_.number > 1:
        ids = await Shortlist.filter(round_id=round_.id).values_list("submission_id", flat=True)
        query = query.filter(id__in=list(ids))
    return await query.select_related("team__site", "team__track").order_by("id")


async def conflict_pairs(contest: Contest, judge_ids: list[int]) -> dict[tuple[int, int], str]:
    """(judge user id, team id) -> why: declared, the team's organisation, or a member."""
    found: dict[tuple[int, int], str] = {}
    if not judge_ids:
        return found
    for row in await DeclaredConflict.filter(contest_id=contest.id, judge_id__in=judge_ids):
        found[(row.judge_id, row.team_id)] = row.reason or "declared"  # type: ignore[attr-defined]
    teams = await contest.teams.all().values("id", "organisation_id")
    by_org: dict[int, list[int]] = defaultdict(list)
    for team in teams:
        if team["organisation_id"]:
            by_org[team["organisation_id"]].append(team["id"])
    if by_org:
        memberships = await Membership.filter(
            user_id__in=judge_ids,
            organisation_id__in=list(by_org),
            status=MembershipStatus.ACTIVE,
        ).values("user_id", "organisation_id")
        for row in memberships:
            for team_id in by_org[row["organisation_id"]]:
                found.setdefault((row["user_id"], team_id), "organisation")
    members = await TeamMember.filter(
        team__contest_id=contest.id, user_id__in=judge_ids, status=MemberStatus.ACTIVE
    ).values("user_id", "team_id")
    for row in members:
        found[(row["user_id"], row["team_id"])] = "member"
    return found


async def is_conflicted(judge: User, submission: Submission, contest: Contest) -> bool:
    pairs = await conflict_pairs(contest, [judge.id])
    return (judge.id, submission.team_id) in pairs  # type: ignore[attr-defined]


async def declare_conflict(judge: User, submission_id: int, reason: str) -> DeclaredConflict:
    """A judge declares a conflict: any unscored assignment to that entry is withdrawn."""
    submission = await _submission(submission_id)
    contest = submission.contest
    await permissions.ensure(judge, "contest.judge", contest)
    async with atomic():
        row, _created = await DeclaredConflict.get_or_create(
            contest_id=contest.id,
            judge_id=judge.id,
            team_id=submission.team_id,  # type: ignore[attr-defined]
            defaults={"reason": reason[:300] or "declared"},
        )
        await JudgeAssignment.filter(
            judge_id=judge.id, submission_id=submission.id, completed_at=None
        ).delete()
        await audit.record("contest.conflict", actor=judge, target=contest, entry=submission.id)
    return row


async def record_conflict(
    actor: User, contest: Contest, judge_id: int, team_id: int, reason: str
) -> DeclaredConflict:
    """An organiser records a conflict a judge declared to them (before any assignment)."""
    await permissions.ensure(actor, "contest.manage", contest)
    if not await ContestRole.exists(
        contest_id=contest.id, user_id=judge_id, role=ContestRoleKind.JUDGE
    ):
        raise NotFound(_("This person is not a judge of the contest."))
    if not await contest.teams.filter(id=team_id).exists():
        raise NotFound(_("This team does not exist."))
    async with atomic():
        row, _created = await DeclaredConflict.get_or_create(
            contest_id=contest.id,
            judge_id=judge_id,
            team_id=team_id,
            defaults={"reason": reason[:300] or "declared"},
        )
        await JudgeAssignment.filter(
            judge_id=judge_id, submission__team_id=team_id, completed_at=None
        ).delete()
        await audit.record("contest.conflict", actor=actor, target=contest, judge=judge_id)
    return row


# --- assignment -----------------------------------------------------------------------------


@dataclass
class AssignmentOutcome:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    created: int = 0
    removed: int = 0


async def _problem(contest: Contest, round_: Round, roles: list[ContestRole]):
    entries = await round_entries(round_)
    sites = {s.id: s.code for s in await Site.filter(contest_id=contest.id)}
    judge_ids = [role.user_id for role in roles]  # type: ignore[attr-defined]
    conflicts = await conflict_pairs(contest, judge_ids)
    by_team = defaultdict(list)
    for (judge_id, team_id), _why in conflicts.items():
        by_team[team_id].append(judge_id)
    pairs = {
        (str(judge_id), str(entry.id))
        for entry in entries
        for judge_id in by_team.get(entry.team_id, [])  # type: ignore[attr-defined]
    }
    solver_entries = [Entry(str(e.id), e.team.site.code, e.team.site.language) for e in entries]
    solver_judges = [
        Judge(
            str(role.user_id),  # type: ignore[attr-defined]
            round_.load_cap,
            frozenset([sites[role.site_id]] if role.site_id else sites.values()),  # type: ignore[attr-defined]
            frozenset(part for part in role.languages.split(",") if part),
        )
        for role in roles
    ]
    return entries, solver_entries, solver_judges, pairs


async def _started_pairs(round_: Round) -> set[tuple[str, str]]:
    rows = await CurrentScore.filter(round_id=round_.id).values("judge_id", "submission_id")
    return {(str(r["judge_id"]), str(r["submission_id"])) for r in rows}


async def _write_assignment(round_: Round, pairs: set[tuple[str, str]]) -> tuple[int, int]:
    existing = await JudgeAssignment.filter(round_id=round_.id).values(
        "id", "judge_id", "submission_id"
    )
    have = {(str(r["judge_id"]), str(r["submission_id"])): r["id"] for r in existing}
    stale = [row_id for pair, row_id in have.items() if pair not in pairs]
    if stale:
        await JudgeAssignment.filter(id__in=stale).delete()
    new = [
        JudgeAssignment(round_id=round_.id, judge_id=int(j), submission_id=int(e))
        for j, e in sorted(pairs, key=lambda pair: (int(pair[0]), int(pair[1])))
        if (j, e) not in have
    ]
    if new:
        await JudgeAssignment.bulk_create(new)
    return len(new), len(stale)


async def run_assignment(actor: User, contest: Contest) -> AssignmentOutcome:
    """Assign k judges to every entry of the current round, or explain why it cannot be."""
    await permissions.ensure(actor, "contest.manage", contest)
    round_ = await current_round(contest)
    outcome = await assign_round(contest, round_)
    if outcome.ok:
        await audit.record(
            "contest.assigned",
            actor=actor,
            target=contest,
            created=outcome.created,
            removed=outcome.removed,
        )
    return outcome


async def assign_round(contest: Contest, round_: Round) -> AssignmentOutcome:
    """The solver's assignment of `round_`, written (nothing written when it is impossible).
    The caller checked the actor's right to do it."""
    roles = [r for r in await _judge_roles(contest, round_) if r.active]
    entries, solver_entries, solver_judges, conflicts = await _problem(contest, round_, roles)
    if not entries:
        return AssignmentOutcome(False, [_("There are no entries to assign yet.")])
    if not solver_judges:
        return AssignmentOutcome(False, [_("The contest has no judges yet.")])
    previous = {
        (str(r["judge_id"]), str(r["submission_id"]))
        for r in await JudgeAssignment.filter(round_id=round_.id).values(
            "judge_id", "submission_id"
        )
    }
    active_ids = {j.id for j in solver_judges}
    started = {p for p in await _started_pairs(round_) if p[0] in active_ids}
    bids = await bid_costs(contest, [int(j) for j in active_ids])
    # The solver is CPU work (seconds for 1,000 entries x 100 judges): it runs in a worker
    # process so this one keeps serving everyone else meanwhile.
    result = await offload.in_process(
        assign_judges,
        solver_entries,
        solver_judges,
        round_.judges_per_entry,
        conflicts=conflicts,
        require_site=contest.require_site,
        require_language=contest.require_language,
        locked=started - conflicts,
        previous=previous,
        affinity=bids,
    )
    if isinstance(result, Infeasible):
        reasons = explain(contest, round_, roles, entries, solver_judges, conflicts, result)
        return AssignmentOutcome(False, reasons)
    async with atomic():
        created, removed = await _write_assignment(round_, result.pairs())
    return AssignmentOutcome(True, [], created, removed)


async def drop_judge(actor: User, contest: Contest, judge_id: int) -> AssignmentOutcome:
    """A judge drops out: finished entries keep their scores, the rest is re-assigned."""
    await permissions.ensure(actor, "contest.manage", contest)
    role = await ContestRole.get_or_none(
        contest_id=contest.id, user_id=judge_id, role=ContestRoleKind.JUDGE
    )
    if role is None:
        raise NotFound(_("This person is not a judge of the contest."))
    round_ = await current_round(contest)
    roles = await _judge_roles(contest, round_)
    entries, solver_entries, solver_judges, conflicts = await _problem(
        contest, round_, [r for r in roles if r.active or r.id == role.id]
    )
    rows = await JudgeAssignment.filter(round_id=round_.id).values(
        "judge_id", "submission_id", "completed_at"
    )
    current: dict[str, list[str]] = defaultdict(list)
    finished = set()
    for row in rows:
        pair = (str(row["judge_id"]), str(row["submission_id"]))
        current[pair[1]].append(pair[0])
        if row["completed_at"] is not None:
            finished.add(pair)
    result = await offload.in_process(  # CPU work, in a worker process (as in run_assignment)
        repair_assignment,
        solver_entries,
        solver_judges,
        round_.judges_per_entry,
        current,
        [str(judge_id)],
        finished - conflicts,
        conflicts=conflicts,
        require_site=contest.require_site,
        require_language=contest.require_language,
        affinity=await bid_costs(contest, [int(j.id) for j in solver_judges]),
    )
    if isinstance(result, Infeasible):
        kept = [r for r in roles if r.active and r.id != role.id]
        reasons = explain(contest, round_, kept, entries, solver_judges, conflicts, result)
        return AssignmentOutcome(False, reasons)
    async with atomic():
        role.active = False
        await role.save(update_fields=["active"])
        created, removed = await _write_assignment(round_, result.pairs())
        await audit.record("contest.judge_dropped", actor=actor, target=contest, user_id=judge_id)
    return AssignmentOutcome(True, [], created, removed)


# Soft costs of bids for the solver, in units of one step of load imbalance (lower preferred).
BID_COST = {BidLevel.WANT: -4.0, BidLevel.COULD: -1.0, BidLevel.RATHER_NOT: 4.0}


async def bid_costs(contest: Contest, judge_ids: list[int]) -> dict[tuple[str, str], float]:
    """The judges' bids as the solver's soft costs: (judge id, entry id) -> cost (one query)."""
    if not judge_ids:
        return {}
    rows = await Bid.filter(contest_id=contest.id, judge_id__in=judge_ids).values(
        "judge_id", "submission_id", "level"
    )
    return {
        (str(row["judge_id"]), str(row["submission_id"])): BID_COST[BidLevel(row["level"])]
        for row in rows
    }


def _names(names: list[str], limit: int = 8) -> str:
    if not names:
        return _("nobody")
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        return _("%(names)s and %(n)d more", names=shown, n=len(names) - limit)
    return shown


def explain(
    contest: Contest,
    round_: Round,
    roles: list[ContestRole],
    entries: list[Submission],
    judges: list[Judge],
    conflicts: set[tuple[str, str]],
    result: Infeasible,
) -> list[str]:
    """Why the solver found no assignment, in the reader's language, naming entries and judges
    by name (the solver itself speaks in ids, for its tests and logs)."""
    k = round_.judges_per_entry
    name_of = {str(r.user_id): r.user.full_name or r.user.email for r in roles}  # type: ignore[attr-defined]
    solver_entries = {
        str(e.id): Entry(str(e.id), e.team.site.code, e.team.site.language) for e in entries
    }
    reasons = []
    capacity = sum(j.capacity for j in judges if j.id in name_of)
    need = len(entries) * k
    if capacity < need:
        reasons.append(
            _(
                "The %(judges)d judges can score %(capacity)d entries in all (load cap "
                "%(cap)d each), but %(entries)d entries × %(k)d judges need %(need)d: add "
                "judges or raise the load cap.",
                judges=len(name_of),
                capacity=capacity,
                cap=round_.load_cap,
                entries=len(entries),
                k=k,
                need=need,
            )
        )
    by_id = {str(e.id): e for e in entries}
    for entry_id, missing in sorted(result.short_entries.items(), key=lambda x: int(x[0]))[:10]:
        entry = by_id.get(entry_id)
        if entry is None:
            continue
        eligible = [
            name_of[j.id]
            for j in judges
            if j.id in name_of
            and is_eligible(
                j,
                solver_entries[entry_id],
                conflicts,
                contest.require_site,
                contest.require_language,
            )
        ]
        in_conflict = [name_of[j] for j, e in sorted(conflicts) if e == entry_id and j in name_of]
        text = ngettext(
            "“%(entry)s” (team %(team)s) has %(num)d eligible judge but needs %(k)d: %(names)s.",
            "“%(entry)s” (team %(team)s) has %(num)d eligible judges but needs %(k)d: %(names)s.",
            len(eligible),
            entry=entry.title,
            team=entry.team.name,
            k=k,
            names=_names(eligible),
        )
        if len(eligible) >= k:
            text = _(
                "“%(entry)s” (team %(team)s) lacks %(n)d judges: its eligible judges (%(names)s) "
                "are at their load cap.",
                entry=entry.title,
                team=entry.team.name,
                n=missing,
                names=_names(eligible),
            )
        if in_conflict:
            text += " " + _("In conflict: %(names)s.", names=_names(in_conflict))
        reasons.append(text)
    if not reasons:
        reasons.append(
            _(
                "Judges who already started scoring an entry may no longer judge it (a "
                "conflict, the site or the language): the assignment cannot keep their work."
            )
        )
    return reasons


async def _judge_roles(contest: Contest, round_: Round) -> list[ContestRole]:
    """The contest's judges, or the round's own jury when it has one."""
    query = ContestRole.filter(contest_id=contest.id, role=ContestRoleKind.JUDGE)
    if round_.judge_ids is not None:
        query = query.filter(user_id__in=list(round_.judge_ids))
    return await query.select_related("user").order_by("id")


# --- the judge's side ---------------------------------------------------------------------


@dataclass
class QueueItem:
    assignment: JudgeAssignment
    submission: Submission
    scores: dict[int, float]


@dataclass
class Queue:
    contest: Contest
    round: Round
    criteria: list[Criterion]
    items: list[QueueItem]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.assignment.completed_at is not None)

    @property
    def total(self) -> int:
        return len(self.items)


async def progress(judge: User, round_: Round) -> tuple[int, int]:
    total = await JudgeAssignment.filter(round_id=round_.id, judge_id=judge.id).count()
    done = await JudgeAssignment.filter(
        round_id=round_.id, judge_id=judge.id, completed_at__not_isnull=True
    ).count()
    return done, total


async def queue(judge: User, contest: Contest) -> Queue:
    """The judge's assigned entries in the current round, with their own scores only."""
    await permissions.ensure(judge, "contest.judge", contest)
    round_ = await current_round(contest)
    assignments = (
        await JudgeAssignment.filter(round_id=round_.id, judge_id=judge.id)
        .select_related("submission__team__site", "submission__team__track")
        .order_by("id")
    )
    scores: dict[int, dict[int, float]] = defaultdict(dict)
    for row in await CurrentScore.filter(round_id=round_.id, judge_id=judge.id).values(
        "submission_id", "criterion_id", "value"
    ):
        scores[row["submission_id"]][row["criterion_id"]] = row["value"]
    items = [QueueItem(a, a.submission, scores[a.submission.id]) for a in assignments]
    return Queue(contest, round_, await criteria_of(round_), items)


async def all_queues(judge: User) -> list[Queue]:
    """The judge's queues in every contest that is not over (for the dashboard and API)."""
    contest_ids = await ContestRole.filter(
        user_id=judge.id, role=ContestRoleKind.JUDGE, active=True
    ).values_list("contest_id", flat=True)
    contests = await Contest.filter(id__in=list(contest_ids), results_published_at=None).order_by(
        "judging_closes_at"
    )
    return [await queue(judge, contest) for contest in contests]


async def _submission(submission_id: int) -> Submission:
    if not 0 < submission_id <= 2**31 - 1:
        raise NotFound(_("This entry does not exist."))
    submission = await Submission.get_or_none(id=submission_id).select_related(
        "contest", "team__site", "team__track"
    )
    if submission is None:
        raise NotFound(_("This entry does not exist."))
    return submission


@dataclass
class Sheet:
    contest: Contest
    round: Round
    submission: Submission
    assignment: JudgeAssignment
    criteria: list[Criterion]
    scores: dict[int, float]
    done: int
    total: int
    can_undo: bool
    next_entry: tuple[int, str] | None = None  # (submission id, title) of the next unscored

    @property
    def weighted(self) -> float | None:
        values = {str(k): v for k, v in self.scores.items()}
        if len(values) < len(self.criteria) or not self.criteria:
            return None
        return round(weighted_score(rubric(self.criteria), values), 2)


async def _judge_context(
    judge: User, submission_id: int
) -> tuple[Submission, Round, JudgeAssignment]:
    """403 unless the caller is an active judge assigned to this entry and not conflicted."""
    submission = await _submission(submission_id)
    contest = submission.contest
    if not await permissions.is_judge(judge, contest):
        raise NotPermitted(_("Only a judge assigned to this entry may score it."))
    round_ = await current_round(contest)
    assignment = await JudgeAssignment.get_or_none(
        round_id=round_.id, judge_id=judge.id, submission_id=submission.id
    )
    if assignment is None:
        raise NotPermitted(_("Only a judge assigned to this entry may score it."))
    if await is_conflicted(judge, submission, contest):
        raise NotPermitted(_("You declared a conflict of interest with this team."))
    return submission, round_, assignment


async def sheet(judge: User, submission_id: int) -> Sheet:
    submission, round_, assignment = await _judge_context(judge, submission_id)
    return await _sheet(judge, submission, round_, assignment)


async def _sheet(
    judge: User, submission: Submission, round_: Round, assignment: JudgeAssignment
) -> Sheet:
    scores = {
        row["criterion_id"]: row["value"]
        for row in await CurrentScore.filter(
            round_id=round_.id, judge_id=judge.id, submission_id=submission.id
        ).values("criterion_id", "value")
    }
    done, total = await progress(judge, round_)
    can_undo = await _last_batch(judge, round_) is not None
    next_entry = await _next_unscored(judge, round_, assignment)
    return Sheet(
        submission.contest,
        round_,
        submission,
        assignment,
        await criteria_of(round_),
        scores,
        done,
        total,
        can_undo,
        next_entry,
    )


async def _next_unscored(
    judge: User, round_: Round, current: JudgeAssignment
) -> tuple[int, str] | None:
    """The judge's next entry to score in this round: the first unscored assignment after this
    one in the queue's order, else the first before it (one query)."""
    rows = (
        await JudgeAssignment.filter(round_id=round_.id, judge_id=judge.id, completed_at=None)
        .exclude(id=current.id)
        .order_by("id")
        .values_list("id", "submission_id", "submission__title")
    )
    after = [row for row in rows if row[0] > current.id]
    chosen = (after or rows or [None])[0]
    return None if chosen is None else (chosen[1], chosen[2])


def _match_criteria(criteria: list[Criterion], scores: dict[str, float]) -> dict[int, float]:
    by_key: dict[str, Criterion] = {}
    for criterion in criteria:
        by_key[str(criterion.id)] = criterion
        by_key[criterion.code] = criterion
    values: dict[int, float] = {}
    errors: dict[str, str] = {}
    for key, value in scores.items():
        criterion = by_key.get(str(key))
        if criterion is None:
            errors[str(key)] = _("Unknown criterion.")
            continue
        number = float(value)
        if not math.isfinite(number) or not criterion.scale_min <= number <= criterion.scale_max:
            errors[str(key)] = _(
                "%(criterion)s: give a score between %(low)d and %(high)d.",
                criterion=criterion.name,
                low=criterion.scale_min,
                high=criterion.scale_max,
            )
            continue
        if not on_step(number, criterion.scale_min, criterion.step):
            errors[str(key)] = _(
                "%(criterion)s: give a score in steps of %(step)s from %(low)d.",
                criterion=criterion.name,
                step=format_number(criterion.step),
                low=criterion.scale_min,
            )
            continue
        values[criterion.id] = number
    if errors:
        raise Invalid(_("Some scores are outside the scale."), fields=errors)
    return values


def on_step(value: float, low: float, step: float) -> bool:
    """Is `value` `low` plus a whole number of `step`s (up to float rounding)?"""
    if step <= 0:
        return True
    units = (value - low) / step
    return abs(units - round(units)) < 1e-6


async def save_scores(
    judge: User,
    submission_id: int,
    scores: dict[str, float],
    comment: str | None = None,
    private_comment: str | None = None,
) -> Sheet:
    """Record the judge's scores (all or some criteria) and comments; 403/409/422 as due."""
    submission, round_, assignment = await _judge_context(judge, submission_id)
    ensure_judging_open(submission.contest, submission.team)
    criteria = await criteria_of(round_)
    values = _match_criteria(criteria, scores)
    batch = uuid.uuid4().hex
    try:
        async with atomic():
            await _apply(judge, round_, submission.id, values, batch)
            fields = []
            if comment is not None:
                assignment.comment_team = comment
                fields.append("comment_team")
            if private_comment is not None:
                assignment.comment_private = private_comment
                fields.append("comment_private")
            await _refresh_completion(assignment, round_, len(criteria), fields)
    except IntegrityError as exc:
        raise Conflict(_("Your scores changed in another window; reload the sheet.")) from exc
    return await _sheet(judge, submission, round_, assignment)


async def _apply(
    judge: User,
    round_: Round,
    submission_id: int,
    values: dict[int, float | None],
    batch: str,
    undoes: str = "",
) -> int:
    current = {
        row.criterion_id: row  # type: ignore[attr-defined]
        for row in await CurrentScore.filter(
            round_id=round_.id, judge_id=judge.id, submission_id=submission_id
        )
    }
    changed = 0
    for criterion_id, value in sorted(values.items()):
        row = current.get(criterion_id)
        previous = row.value if row else None
        if previous == value:
            continue
        event = await ScoreEvent.create(
            round_id=round_.id,
            judge_id=judge.id,
            submission_id=submission_id,
            criterion_id=criterion_id,
            value=value,
            previous=previous,
            batch=batch,
            undoes=undoes,
        )
        changed += 1
        if value is None:
            if row is not None:
                await row.delete()
        elif row is None:
            await CurrentScore.create(
                round_id=round_.id,
                judge_id=judge.id,
                submission_id=submission_id,
                criterion_id=criterion_id,
                value=value,
                event_id=event.id,
            )
        else:
            row.value, row.event_id = value, event.id
            await row.save(update_fields=["value", "event_id"])
    return changed


async def _refresh_completion(
    assignment: JudgeAssignment, round_: Round, n_criteria: int, fields: list[str]
) -> None:
    scored = await CurrentScore.filter(
        round_id=round_.id,
        judge_id=assignment.judge_id,  # type: ignore[attr-defined]
        submission_id=assignment.submission_id,  # type: ignore[attr-defined]
    ).count()
    complete = n_criteria > 0 and scored >= n_criteria
    if complete and assignment.completed_at is None:
        assignment.completed_at = timezone.now()
        fields.append("completed_at")
    elif not complete and assignment.completed_at is not None:
        assignment.completed_at = None
        fields.append("completed_at")
    if fields:
        await assignment.save(update_fields=fields)


async def _last_batch(judge: User, round_: Round) -> str | None:
    """The judge's latest batch of changes that is not an undo and not undone yet."""
    rows = (
        await ScoreEvent.filter(round_id=round_.id, judge_id=judge.id)
        .order_by("-id")
        .values("batch", "undoes")
    )
    undone = {row["undoes"] for row in rows if row["undoes"]}
    for row in rows:
        if not row["undoes"] and row["batch"] not in undone:
            return row["batch"]
    return None


async def undo_last(judge: User, contest: Contest) -> Sheet | None:
    """Revert the judge's last change (a new event per score); None if nothing to undo."""
    await permissions.ensure(judge, "contest.judge", contest)
    if contest.results_published_at is not None:
        raise Conflict(_("The results are published: scores can no longer change."))
    round_ = await current_round(contest)
    async with atomic():
        batch = await _last_batch(judge, round_)
        if batch is None:
            return None
        events = await ScoreEvent.filter(round_id=round_.id, judge_id=judge.id, batch=batch)
        submission_id = events[0].submission_id  # type: ignore[attr-defined]
        restore = {e.criterion_id: e.previous for e in events}  # type: ignore[attr-defined]
        await _apply(judge, round_, submission_id, restore, uuid.uuid4().hex, undoes=batch)
        assignment = await JudgeAssignment.get_or_none(
            round_id=round_.id, judge_id=judge.id, submission_id=submission_id
        )
        if assignment is not None:
            await _refresh_completion(assignment, round_, len(await criteria_of(round_)), [])
    if assignment is None:
        return None
    submission = await _submission(submission_id)
    return await _sheet(judge, submission, round_, assignment)


# --- the organiser's side ------------------------------------------------------------------


async def incomplete_entries(round_: Round) -> list[Submission]:
    """The round's entries with fewer finished score sheets than the round asks for."""
    entries = await round_entries(round_)
    finished: dict[int, int] = defaultdict(int)
    for submission_id in await JudgeAssignment.filter(
        round_id=round_.id, completed_at__not_isnull=True
    ).values_list("submission_id", flat=True):
        finished[submission_id] += 1
    return [e for e in entries if finished[e.id] < round_.judges_per_entry]


@dataclass
class Coverage:
    round: Round
    rows: list[dict]  # per entry: submission, assigned, completed, short
    judges: list[dict]  # per judge: user, done, total

    @property
    def short(self) -> int:
        return sum(1 for row in self.rows if row["completed"] < self.round.judges_per_entry)

    @property
    def any_completed(self) -> bool:
        return any(row["completed"] for row in self.rows)


@dataclass(slots=True)
class TeamRow:
    """What lists of entries show of a team; `site` and `track` are the contest's rows."""

    id: int
    name: str
    site: Site | None
    track: Track | None


@dataclass(slots=True)
class EntryRow:
    """An entry of a round as the organiser's lists show it (no ORM object per row)."""

    id: int
    title: str
    team: TeamRow


async def round_entry_rows(round_: Round, sites: list[Site], tracks: list[Track]) -> list[EntryRow]:
    """The entries of a round (as `round_entries`) in one query of plain values: building
    1,200 submissions with their teams, sites and tracks as ORM objects cost more than the
    rest of the organiser's dashboard together."""
    query = Submission.filter(contest_id=round_.contest_id)  # type: ignore[attr-defined]
    if round_.number > 1:
        query = query.filter(
            id__in=Subquery(Shortlist.filter(round_id=round_.id).values("submission_id"))
        )
    site_by_id = {site.id: site for site in sites}
    track_by_id = {track.id: track for track in tracks}
    rows = await query.order_by("id").values(
        "id", "title", "team_id", "team__name", "team__site_id", "team__track_id"
    )
    return [
        EntryRow(
            row["id"],
            row["title"],
            TeamRow(
                row["team_id"],
                row["team__name"],
                site_by_id.get(row["team__site_id"]),
                track_by_id.get(row["team__track_id"]),
            ),
        )
        for row in rows
    ]


async def coverage(
    actor: User,
    contest: Contest,
    *,
    round_: Round | None = None,
    entries: list[EntryRow] | None = None,
) -> Coverage:
    """Assigned and finished sheets per entry of the current round and per judge.

    A constant number of queries whatever the size: the counts are aggregated by the
    database (grouped by entry, then by judge), the entries are plain rows
    (`round_entry_rows`, or the caller's, who read them already)."""
    await permissions.ensure(actor, "contest.see_ranking", contest)
    round_ = round_ or await current_round(contest)
    if entries is None:
        view_sites = await Site.filter(contest_id=contest.id)
        view_tracks = await Track.filter(contest_id=contest.id)
        entries = await round_entry_rows(round_, view_sites, view_tracks)
    finished = Count("id", _filter=Q(completed_at__not_isnull=True))
    per_entry = {
        row["submission_id"]: (row["assigned"], row["completed"])
        for row in await JudgeAssignment.filter(round_id=round_.id)
        .annotate(assigned=Count("id"), completed=finished)
        .group_by("submission_id")
        .values("submission_id", "assigned", "completed")
    }
    per_judge = {
        row["judge_id"]: (row["completed"], row["assigned"])
        for row in await JudgeAssignment.filter(round_id=round_.id)
        .annotate(assigned=Count("id"), completed=finished)
        .group_by("judge_id")
        .values("judge_id", "assigned", "completed")
    }
    roles = (
        await ContestRole.filter(contest_id=contest.id, role=ContestRoleKind.JUDGE)
        .select_related("user", "site")
        .order_by("user__full_name", "id")
    )
    k = round_.judges_per_entry
    entry_rows = []
    for entry in entries:
        assigned, completed = per_entry.get(entry.id, (0, 0))
        entry_rows.append(
            {
                "submission": entry,
                "assigned": assigned,
                "completed": completed,
                "short": completed < k,
            }
        )
    judges = [
        {
            "role": role,
            "user": role.user,
            "done": per_judge.get(role.user.id, (0, 0))[0],
            "total": per_judge.get(role.user.id, (0, 0))[1],
        }
        for role in roles
    ]
    return Coverage(round_, entry_rows, judges)
