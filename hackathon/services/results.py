"""Results: computed from the score log only, published with a hash of their inputs.

`score_log(round)` is the full append-only log of a round; `replay` turns it into the last
value of every (judge, entry, criterion); a judge's sheet counts once every criterion has a
value. Each complete sheet gives a weighted rubric score (`ecosystem.scoring`) and the
ranking is `hackathon.calibration` (leniency and spread corrected, with uncertainty and
statistical ties), the plain mean kept beside it. In pairwise mode the ranking is Crowd-BT
over the comparison log.

The published hash is `hackathon.results_hash` (RFC 8785 JSON, SHA-256) over the log rows and
the parameters – everything else the ranking depends on: round, model, rubric (weights, scales,
steps), tracks and the set of entries with their track and site. Anyone can download the
inputs from the public results page and recompute it. Publishing is two steps: `preview`
(ranking, winners, e-mails; nothing written) and `publish` with the preview's token.
"""

from __future__ import annotations

import json
import math
import secrets
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

from tortoise import timezone

from ecosystem import offload, rawsql
from ecosystem.db import atomic
from ecosystem.errors import Conflict, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.labels import N_
from ecosystem.models import User
from ecosystem.services import audit
from hackathon import calibration, pairwise, permissions
from hackathon.models import (
    Award,
    Certificate,
    CertificateKind,
    Comparison,
    Contest,
    ContestRole,
    ContestRoleKind,
    CurrentScore,
    JudgingMode,
    MemberStatus,
    Prize,
    Round,
    ScoreEvent,
    Shortlist,
    Submission,
    TeamMember,
    Track,
    Vote,
)
from hackathon.results_hash import FORMAT as HASH_FORMAT
from hackathon.results_hash import results_hash, results_hash_v1
from hackathon.services.contests import add_round, criteria_of, current_round
from hackathon.services.judging import assign_round, incomplete_entries, round_entries, rubric

MODEL = "calibration/quality-offset-scale/v2"
PAIRWISE_MODEL = "crowd-bt/v1"
Z = calibration.DEFAULT_Z
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


async def score_log(round_: Round) -> list[dict[str, Any]]:
    return (
        await ScoreEvent.filter(round_id=round_.id)
        .order_by("id")
        .values(
            "id",
            "judge_id",
            "submission_id",
            "criterion_id",
            "value",
            "previous",
            "batch",
            "undoes",
        )
    )


def replay(log: list[dict[str, Any]]) -> dict[tuple[int, int, int], float]:
    """The last value of every (judge, submission, criterion); withdrawn scores are absent."""
    state: dict[tuple[int, int, int], float] = {}
    for row in sorted(log, key=lambda r: r["id"]):
        key = (row["judge_id"], row["submission_id"], row["criterion_id"])
        if row["value"] is None:
            state.pop(key, None)
        else:
            state[key] = row["value"]
    return state


async def comparison_log(round_: Round) -> list[dict[str, Any]]:
    return (
        await Comparison.filter(round_id=round_.id)
        .order_by("id")
        .values("id", "judge_id", "winner_id", "loser_id", "withdraws")
    )


def effective_comparisons(log: list[dict[str, Any]]) -> list[pairwise.Comparison]:
    withdrawn = {row["withdraws"] for row in log if row["withdraws"] is not None}
    return [
        pairwise.Comparison(str(r["judge_id"]), str(r["winner_id"]), str(r["loser_id"]))
        for r in log
        if r["withdraws"] is None and r["id"] not in withdrawn
    ]


# --- the pairwise model, fitted once per state of the comparison log -----------------------

_Row = tuple[int, int, int, int, int | None]
_FITS: OrderedDict[tuple[int, tuple[str, ...]], tuple[list[_Row], pairwise.PairwiseState]] = (
    OrderedDict()
)
_FITS_KEPT = 32  # contests' rounds kept per process (least recently used dropped)


def _copy_state(state: pairwise.PairwiseState) -> pairwise.PairwiseState:
    return pairwise.PairwiseState(
        entry_ids=state.entry_ids,
        mu=state.mu.copy(),
        sigma_sq=state.sigma_sq.copy(),
        judges={k: pairwise.JudgeBelief(v.alpha, v.beta) for k, v in state.judges.items()},
        log=list(state.log),
        index=dict(state.index),
    )


def fitted_pairwise(
    round_id: int, entry_ids: list[str], log: list[dict[str, Any]]
) -> pairwise.PairwiseState:
    """The Crowd-BT state of a round's comparison log, without refitting when nothing new.

    The refit replays every comparison (about 245 ms at 5,000). The log is append-only, so a
    request that reads the same rows as the last fit reuses its state; a log that only grew
    by new comparisons is brought up to date by applying just those to a copy; a new
    withdrawal (undo) or other entries refit from the start. The rows themselves are the key's
    check (comparing 5,000 short tuples costs about a millisecond), so a reused id – another
    database, a test – can never return another log's fit, and nothing needs invalidating.
    The cache is per process (several web processes each fit once per new state), bounded to
    the `_FITS_KEPT` most recently used rounds. The state returned is shared: read it only."""
    key = (round_id, tuple(entry_ids))
    rows: list[_Row] = [
        (r["id"], r["judge_id"], r["winner_id"], r["loser_id"], r["withdraws"]) for r in log
    ]
    cached = _FITS.get(key)
    state = None
    if cached is not None:
        old_rows, old_state = cached
        if old_rows == rows:
            _FITS.move_to_end(key)
            return old_state
        n = len(old_rows)
        fresh = log[n:]
        if (
            n < len(rows)
            and rows[:n] == old_rows
            and all(row["withdraws"] is None for row in fresh)
        ):
            state = _copy_state(old_state)
            for comparison in effective_comparisons(fresh):
                pairwise.apply_comparison(state, comparison)
    if state is None:
        state = pairwise.rebuild(entry_ids, effective_comparisons(log))
    _FITS[key] = (rows, state)
    _FITS.move_to_end(key)
    while len(_FITS) > _FITS_KEPT:
        _FITS.popitem(last=False)
    return state


@dataclass
class Line:
    rank: int
    submission: Submission
    calibrated: float
    low: float
    high: float
    plain_mean: float
    n_scores: int
    tied_with_next: bool

    def as_dict(self, blind_names: bool = False) -> dict[str, Any]:
        team = self.submission.team
        return {
            "rank": self.rank,
            "submission_id": self.submission.id,
            "title": self.submission.title,
            "team": "" if blind_names else team.name,
            "track": team.track.code,
            "site": team.site.code,
            "calibrated": round(self.calibrated, 2),
            "low": round(self.low, 2),
            "high": round(self.high, 2),
            "plain_mean": round(self.plain_mean, 2),
            "n_scores": self.n_scores,
            "tied_with_next": self.tied_with_next,
        }


@dataclass
class Ranking:
    round: Round
    overall: list[Line]
    by_track: dict[str, list[Line]]
    hash: str
    parameters: dict[str, Any]
    inputs: list[dict[str, Any]]
    unscored: list[Submission]
    ranked: int | None = None  # entries ranked, when `overall` holds only the first ones


async def _parameters(
    contest: Contest, round_: Round, entries: dict[int, Submission]
) -> dict[str, Any]:
    """Every input of the ranking other than the log: round, model, rubric, tracks, entries."""
    criteria = await criteria_of(round_)
    tracks = await Track.filter(contest_id=contest.id).order_by("position", "id")
    return {
        "contest": contest.id,
        "round": round_.number,
        "judges_per_entry": round_.judges_per_entry,
        "mode": contest.judging_mode.value,
        "model": MODEL if contest.judging_mode == JudgingMode.RUBRIC else PAIRWISE_MODEL,
        "z": Z,
        "criteria": [
            {
                "id": c.id,
                "code": c.code,
                "weight": c.weight,
                "min": c.scale_min,
                "max": c.scale_max,
                "step": c.step,
            }
            for c in criteria
        ],
        "tracks": [{"id": t.id, "code": t.code, "name": t.name} for t in tracks],
        "entries": [
            {"id": e.id, "track": e.team.track.code, "site": e.team.site.code}
            for _id, e in sorted(entries.items())
        ],
    }


async def compute(contest: Contest, round_: Round | None = None) -> Ranking:
    """The ranking of a round (default: the current one), from the log only."""
    round_ = round_ or await current_round(contest)
    entries = {entry.id: entry for entry in await round_entries(round_)}
    parameters = await _parameters(contest, round_, entries)
    if contest.judging_mode == JudgingMode.PAIRWISE:
        return await _compute_pairwise(contest, round_, entries, parameters)
    return _ranking(round_, entries, parameters, await _rubric_fit(round_, entries, parameters))


@dataclass(frozen=True)
class _RubricFit:
    """A rubric ranking without its entries' rows: what the log and parameters determine."""

    fit: calibration.Calibration
    overall: list[calibration.RankedEntry]
    by_track: dict[str, list[calibration.RankedEntry]]
    hash: str
    inputs: list[dict[str, Any]]


async def _rubric_fit(round_: Round, entries: dict, parameters: dict[str, Any]) -> _RubricFit:
    criteria = await criteria_of(round_)
    log = await score_log(round_)
    state = replay(log)
    criterion_ids = {str(c.id) for c in criteria}
    # Every value counts, also on sheets left incomplete (hackathon.partial_sheets fills a gap
    # from that judge's own habit for the criterion and gives the sheet less weight).
    values = [
        (str(judge_id), str(submission_id), str(criterion_id), value)
        for (judge_id, submission_id, criterion_id), value in sorted(state.items())
        if submission_id in entries and str(criterion_id) in criterion_ids
    ]
    # The fit is CPU work (numpy over every score): in a worker process, off the event loop.
    fit = await offload.in_process(calibration.calibrate_criteria, values, rubric(criteria))
    track_of = {str(e.id): e.team.track.code for e in entries.values()}
    inputs = [{k: v for k, v in row.items()} for row in log]
    return _RubricFit(
        fit,
        calibration.rank_entries(fit),
        calibration.rank_by_track(fit, track_of),
        results_hash(inputs, parameters),
        inputs,
    )


def _ranking(
    round_: Round,
    entries: dict,
    parameters: dict[str, Any],
    fitted: _RubricFit,
    shown: int | None = None,
) -> Ranking:
    """The ranking's lines over `entries`; with `shown`, only the first `shown` overall
    lines and no per-track ones (what the dashboard shows)."""
    if shown is None:
        overall = _lines(fitted.fit, fitted.overall, entries)
        by_track = {
            track: _lines(fitted.fit, ranked, entries) for track, ranked in fitted.by_track.items()
        }
    else:
        overall, by_track = _lines(fitted.fit, fitted.overall[:shown], entries), {}
    ranked_ids = {int(key) for key in fitted.fit.entries}
    unscored = [e for e in entries.values() if e.id not in ranked_ids]
    return Ranking(
        round_,
        overall,
        by_track,
        fitted.hash,
        parameters,
        fitted.inputs,
        unscored,
        len(fitted.overall),
    )


_RUBRIC_FITS: OrderedDict[tuple, _RubricFit] = OrderedDict()


async def _log_fingerprint(round_: Round) -> tuple:
    """Count, last id and id-weighted sums of a round's score log, in one aggregate query.

    The log is append-only, so within one database (count, last id) already names its state;
    the sums make a fit of another database's log (tests, a restored copy) with the same
    round id, count and last id unusable unless every row agrees in all of them."""
    rows = await rawsql.fetch(_FINGERPRINT_SQL, [round_.id])
    return tuple(None if value is None else float(value) for value in rows[0]) if rows else ()


_FINGERPRINT_SQL = (
    "SELECT COUNT(*), MAX(id), SUM(id * judge_id), SUM(id * submission_id),"
    " SUM(id * criterion_id), SUM(id * value)"
    " FROM hackathon_score_event WHERE round_id = ?"
)


async def running_ranking(
    actor: User, contest: Contest, round_: Round, entries: list[Any], shown: int | None = None
) -> Ranking:
    """The running ranking of `round_` for the organiser's dashboard, over `entries` (the
    caller's rows of the round's entries: `Submission`s or `judging.EntryRow`s).

    The fit, the order and the hash depend only on the score log and the parameters, so
    they are kept per process for the `_FITS_KEPT` most recent (round, log state,
    parameters): a dashboard viewed again before a new score reuses them (one aggregate
    query instead of reading and hashing the whole log and fitting in a worker process).
    The lines are built from `entries` on every view, so renamed entries show at once; with
    `shown`, only the first `shown` overall lines (`ranked` says how many there are)."""
    await permissions.ensure(actor, "contest.see_ranking", contest)
    if contest.judging_mode == JudgingMode.PAIRWISE:
        return await compute(contest, round_)
    by_id = {entry.id: entry for entry in entries}
    parameters = await _parameters(contest, round_, by_id)
    described = json.dumps(parameters, sort_keys=True, default=str)
    key = (round_.id, await _log_fingerprint(round_), described)
    fitted = _RUBRIC_FITS.get(key)
    if fitted is None:
        fitted = await _rubric_fit(round_, by_id, parameters)
        _RUBRIC_FITS[key] = fitted
    _RUBRIC_FITS.move_to_end(key)
    while len(_RUBRIC_FITS) > _FITS_KEPT:
        _RUBRIC_FITS.popitem(last=False)
    return _ranking(round_, by_id, parameters, fitted, shown)


def _lines(
    fit: calibration.Calibration, ranked: list[calibration.RankedEntry], entries: dict
) -> list[Line]:
    lines = []
    for line in ranked:
        result = line.result
        low, high = result.interval(Z)
        lines.append(
            Line(
                line.rank,
                entries[int(result.entry_id)],
                result.calibrated,
                low,
                high,
                result.plain_mean,
                result.n_scores,
                line.tied_with_next,
            )
        )
    return lines


async def _compute_pairwise(
    contest: Contest, round_: Round, entries: dict[int, Submission], parameters: dict
) -> Ranking:
    log = await comparison_log(round_)
    state = fitted_pairwise(round_.id, [str(e) for e in sorted(entries)], log)
    counts: dict[str, int] = defaultdict(int)
    wins: dict[str, int] = defaultdict(int)
    for comparison in state.log:
        counts[comparison.winner_id] += 1
        counts[comparison.loser_id] += 1
        wins[comparison.winner_id] += 1

    def lines(ranked: list[pairwise.PairwiseRanked]) -> list[Line]:
        out = []
        for line in ranked:
            spread = Z * math.sqrt(line.sigma_sq)
            n = counts[line.entry_id]
            out.append(
                Line(
                    line.rank,
                    entries[int(line.entry_id)],
                    line.mu,
                    line.mu - spread,
                    line.mu + spread,
                    (wins[line.entry_id] / n) if n else 0.0,
                    n,
                    line.tied_with_next,
                )
            )
        return out

    track_of = {str(e.id): e.team.track.code for e in entries.values()}
    by_track = {t: lines(r) for t, r in pairwise.rank_by_track(state, track_of).items()}
    inputs = [dict(row) for row in log]
    return Ranking(
        round_,
        lines(pairwise.rank_entries(state)),
        by_track,
        results_hash(inputs, parameters),
        parameters,
        inputs,
        [],
    )


async def ranking_for(actor: User, contest: Contest) -> Ranking:
    """The running ranking: organisers only (judges never see it before publication)."""
    await permissions.ensure(actor, "contest.see_ranking", contest)
    return await compute(contest)


async def check_projection(round_: Round) -> None:
    """Refuse to publish if the projection disagrees with the log (it never should)."""
    state = replay(await score_log(round_))
    rows = await CurrentScore.filter(round_id=round_.id).values(
        "judge_id", "submission_id", "criterion_id", "value"
    )
    projected = {(r["judge_id"], r["submission_id"], r["criterion_id"]): r["value"] for r in rows}
    if projected != state:
        raise Conflict(_("The score log and the current scores disagree; nothing was published."))


async def _vote_winner(contest: Contest) -> int | None:
    counts: dict[int, int] = defaultdict(int)
    for submission_id in await Vote.filter(contest_id=contest.id, suspicious=False).values_list(
        "submission_id", flat=True
    ):
        counts[submission_id] += 1
    if not counts:
        return None
    return min(counts, key=lambda s: (-counts[s], s))


async def incomplete_for_final(contest: Contest, round_: Round) -> list[Submission]:
    """Entries of the round whose judging is not complete: fewer finished sheets than the
    round asks for (rubric), or never compared (pairwise)."""
    if contest.judging_mode == JudgingMode.PAIRWISE:
        entries = await round_entries(round_)
        compared: set[int] = set()
        for comparison in effective_comparisons(await comparison_log(round_)):
            compared.update((int(comparison.winner_id), int(comparison.loser_id)))
        return [e for e in entries if e.id not in compared]
    return await incomplete_entries(round_)


async def shortlist(
    actor: User,
    contest: Contest,
    size: int,
    judges_per_entry: int,
    load_cap: int,
    *,
    criteria: list | None = None,
    judge_emails: list[str] | None = None,
    override: list[int] | None = None,
) -> Round:
    """Start a final round with the current round's top `size` entries, its own rubric
    (default: a copy of the current one) and its own jury (default: every judge), and assign
    its judges in the same step.

    Refused (409, nothing written) while an entry of the current round lacks complete scores,
    unless `override` lists exactly those entries (the organiser saw which ones they leave
    behind); refused too when the final round's judges cannot be assigned.
    """
    from hackathon.schemas import CriterionIn
    from hackathon.services.contests import add_judge

    await permissions.ensure(actor, "contest.manage", contest)
    jury: list[int] | None = None
    if contest.results_published_at is not None:
        raise Conflict(_("The results are already published."))
    ranking = await compute(contest)
    incomplete = await incomplete_for_final(contest, ranking.round)
    missing = sorted(entry.id for entry in incomplete)
    if missing and sorted(set(override or [])) != missing:
        listing = ", ".join(f"#{entry.id} {entry.title}" for entry in incomplete[:50])
        raise Conflict(
            _(
                "%(n)d entries lack complete scores: %(entries)s. Complete their scores, or "
                "confirm the override listing exactly these entries.",
                n=len(missing),
                entries=listing,
            ),
            fields={"incomplete": " ".join(str(i) for i in missing)},
            code="scores_incomplete",
        )
    if size < 1 or size > len(ranking.overall):
        raise Conflict(
            _("Choose a shortlist of 1 to %(n)d scored entries.", n=len(ranking.overall))
        )
    criteria = criteria or [
        CriterionIn(
            code=c.code,
            name=c.name,
            description=c.description,
            weight=c.weight,
            scale_min=c.scale_min,
            scale_max=c.scale_max,
            step=c.step,
            content_locale=c.content_locale,
            translations={
                locale: {"name": texts.get("name", ""), "description": texts.get("description", "")}
                for locale, texts in (c.translations or {}).items()
                if locale in ("vi", "en", "ko")
                and locale != c.content_locale
                and isinstance(texts, dict)
            },
        )
        for c in await criteria_of(ranking.round)
    ]
    async with atomic():
        if judge_emails:
            roles = [await add_judge(actor, contest, email) for email in judge_emails]
            jury = [role.user_id for role in roles]  # type: ignore[attr-defined]
        final = await add_round(
            contest,
            ranking.round.number + 1,
            N_("Final round"),
            judges_per_entry,
            load_cap,
            criteria,
            shortlist_size=size,
        )
        if jury is not None:
            final.judge_ids = jury
            await final.save(update_fields=["judge_ids"])
        await Shortlist.bulk_create(
            [
                Shortlist(round_id=final.id, submission_id=line.submission.id)
                for line in ranking.overall[:size]
            ]
        )
        if contest.judging_mode == JudgingMode.RUBRIC:
            outcome = await assign_round(contest, final)
            if not outcome.ok:  # raising rolls the new round back
                raise Conflict(
                    _(
                        "The final round cannot get its judges: %(why)s",
                        why="; ".join(outcome.reasons[:10]),
                    ),
                    code="assignment_impossible",
                )
        await audit.record(
            "contest.shortlisted", actor=actor, target=contest, size=size, override=missing
        )
    return final


@dataclass
class Preview:
    """What publishing would do: the ranking, the winners, the e-mails; `token` confirms it."""

    ranking: Ranking
    awards: list[tuple[Prize, Submission]]
    emails: dict[str, int]  # winner / participant / judge -> how many e-mails

    @property
    def token(self) -> str:
        return self.ranking.hash

    @property
    def total_emails(self) -> int:
        return sum(self.emails.values())


async def _awards(contest: Contest, ranking: Ranking) -> list[tuple[Prize, Submission]]:
    prizes = (
        await Prize.filter(contest_id=contest.id)
        .select_related("track")
        .order_by("track_id", "rank")
    )
    awards: list[tuple[Prize, Submission]] = []
    for prize in prizes:
        if prize.public_vote:
            winner_id = await _vote_winner(contest)
            if winner_id is not None:
                winner = await Submission.get(id=winner_id).select_related("team__track")
                awards.append((prize, winner))
            continue
        lines = ranking.by_track.get(prize.track.code, []) if prize.track else ranking.overall
        if len(lines) >= prize.rank:
            awards.append((prize, lines[prize.rank - 1].submission))
    return awards


async def _email_counts(contest: Contest, awards: list[tuple[Prize, Submission]]) -> dict[str, int]:
    """One e-mail per certificate publishing would issue (see `issue_certificates`)."""
    won = {submission.team_id for _prize, submission in awards}  # type: ignore[attr-defined]
    members = await TeamMember.filter(
        team__contest_id=contest.id,
        status=MemberStatus.ACTIVE,
        user_id__not_isnull=True,
        team__submission__id__not_isnull=True,
    ).values_list("team_id", flat=True)
    judges = await ContestRole.filter(contest_id=contest.id, role=ContestRoleKind.JUDGE).count()
    winners = sum(1 for team_id in members if team_id in won)
    return {"winner": winners, "participant": len(members) - winners, "judge": judges}


async def preview(actor: User, contest: Contest) -> Preview:
    """The publication as it would be now (nothing written): organisers only."""
    await permissions.ensure(actor, "contest.manage", contest)
    if contest.results_published_at is not None:
        raise Conflict(_("The results are already published."))
    round_ = await current_round(contest)
    await check_projection(round_)
    ranking = await compute(contest, round_)
    if not ranking.overall:
        raise Conflict(_("No entry has a complete score yet."))
    awards = await _awards(contest, ranking)
    return Preview(ranking, awards, await _email_counts(contest, awards))


async def publish(actor: User, contest: Contest, *, confirm: str, notify: bool = True) -> Contest:
    """Fix the ranking, its hash and the winners per track; issue certificates.

    `confirm` is the token of the preview the organiser saw (`preview(...).token`, the hash
    of its inputs): if anything changed since, nothing is published (409) and the organiser
    looks at the new preview.
    """
    shown = await preview(actor, contest)
    if not confirm or confirm != shown.token:
        raise Conflict(
            _("The results changed since the preview, or were not confirmed: check the preview."),
            code="not_confirmed",
        )
    round_, ranking, awards = shown.ranking.round, shown.ranking, shown.awards
    async with atomic():
        contest.results_published_at = timezone.now()
        contest.results_hash = ranking.hash
        contest.results = {
            "hash_format": HASH_FORMAT,
            "round": round_.number,
            "parameters": ranking.parameters,
            "overall": [line.as_dict() for line in ranking.overall],
            "by_track": {
                t: [line.as_dict() for line in lines] for t, lines in ranking.by_track.items()
            },
            "winners": [
                {
                    "prize": prize.name,
                    "track": prize.track.code if prize.track else None,
                    "rank": prize.rank,
                    "amount": prize.amount,
                    "currency": prize.currency,
                    "submission_id": submission.id,
                    "title": submission.title,
                    "team": submission.team.name,
                }
                for prize, submission in awards
            ],
        }
        await contest.save(update_fields=["results_published_at", "results_hash", "results"])
        await Award.bulk_create([Award(prize_id=p.id, submission_id=s.id) for p, s in awards])
        await issue_certificates(contest, awards)
        await audit.record("contest.published", actor=actor, target=contest, hash=ranking.hash)
        if notify:
            from ecosystem import jobs
            from hackathon.jobs import notify_results

            await jobs.enqueue(notify_results, contest.id, job_id=f"contest-results:{contest.id}")
    return contest


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


async def issue_certificates(contest: Contest, awards: list[tuple[Prize, Submission]]) -> int:
    """One certificate per participant (winner when their team won) and per judge."""
    won: dict[int, list[str]] = defaultdict(list)
    for prize, submission in awards:
        won[submission.team_id].append(prize.name)  # type: ignore[attr-defined]
    members = await TeamMember.filter(
        team__contest_id=contest.id,
        status=MemberStatus.ACTIVE,
        user_id__not_isnull=True,
        team__submission__id__not_isnull=True,
    ).select_related("team", "user")
    existing = set(await Certificate.filter(contest_id=contest.id).values_list("user_id", "kind"))
    rows = []
    for member in members:
        kind = CertificateKind.WINNER if member.team.id in won else CertificateKind.PARTICIPANT
        if (member.user.id, kind.value) in existing or (member.user.id, kind) in existing:
            continue
        detail = member.team.name
        if member.team.id in won:
            detail += " — " + ", ".join(won[member.team.id])
        rows.append(
            Certificate(
                code=new_code(),
                contest_id=contest.id,
                user_id=member.user.id,
                kind=kind,
                holder_name=member.user.full_name,
                detail=detail[:300],
            )
        )
    judges = await ContestRole.filter(
        contest_id=contest.id, role=ContestRoleKind.JUDGE
    ).select_related("user")
    for role in judges:
        if (role.user.id, CertificateKind.JUDGE.value) in existing:
            continue
        rows.append(
            Certificate(
                code=new_code(),
                contest_id=contest.id,
                user_id=role.user.id,
                kind=CertificateKind.JUDGE,
                holder_name=role.user.full_name,
            )
        )
    await Certificate.bulk_create(rows)
    return len(rows)


def recomputed_hash(contest: Contest, ranking: Ranking) -> str:
    """The hash of the published contest recomputed from its inputs today, in the format it
    was published with (results published before v2 carry no `hash_format`)."""
    stored = contest.results or {}
    if stored.get("hash_format") == HASH_FORMAT:
        return ranking.hash
    return results_hash_v1(ranking.inputs, stored.get("parameters", {}))


async def published(contest: Contest, actor: User | None = None) -> dict[str, Any]:
    """The published results; 404 before publication (403 for a signed-in outsider? no: 404)."""
    if contest.results_published_at is None or not contest.results:
        raise NotFound(_("The results of this contest are not published yet."))
    return contest.results


async def certificates_of(user: User, contest: Contest) -> list[Certificate]:
    return await Certificate.filter(contest_id=contest.id, user_id=user.id).order_by("kind")


async def certificate(code: str) -> Certificate:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())[:16]
    found = await Certificate.get_or_none(code=cleaned).select_related("contest", "user")
    if found is None:
        raise NotFound(_("No certificate has this code."))
    return found


async def own_certificate(user: User, code: str) -> Certificate:
    found = await certificate(code)
    if found.user.id != user.id:
        raise NotPermitted(_("This certificate belongs to someone else."))
    return found
