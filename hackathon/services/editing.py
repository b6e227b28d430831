"""Editing a contest after creation: texts, deadlines, tracks, prizes and the rubric.

What may change, and until when (each refusal says why, nothing is half-written):

* nothing once the results are published (409): the ranking and its hash are fixed;
* the rubric until judging starts – the first site's submission deadline has passed, or a
  score or a comparison exists (409 `rubric_locked` afterwards): a criterion changed under
  a judge's feet would make two sheets of one entry incomparable;
* a deadline until it has passed at its first site (it closed a phase: moving it would
  reopen entries that judges may already score), and only to a moment still ahead;
* tracks while no team is in them (a track with teams can be renamed, not removed);
* prizes until publication (no award exists before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise import timezone

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid
from ecosystem.i18n import _
from ecosystem.models import User
from ecosystem.services import audit
from hackathon import permissions
from hackathon.models import (
    Comparison,
    Contest,
    Criterion,
    Prize,
    Round,
    ScoreEvent,
    Site,
    Team,
    Track,
)
from hackathon.schemas import ContestEditIn, CriterionIn, stored_translations
from hackathon.services.contests import (
    check_translations,
    content_of,
    criteria_of,
    current_round,
    site_deadline,
)

DEADLINES = ("registration_closes_at", "submission_closes_at", "judging_closes_at")


@dataclass
class EditState:
    """What the edit form shows: the current values and what is locked, with why."""

    contest: Contest
    round: Round
    sites: list[Site]
    tracks: list[Track]
    prizes: list[Prize]
    criteria: list[Criterion]
    rubric_locked: bool
    passed: set[str] = field(default_factory=set)  # deadlines that can no longer move


def first_closing(contest: Contest, sites: list[Site], instant: datetime) -> datetime:
    """The earliest instant at which a deadline passes at one of the contest's sites."""
    if not sites:
        return instant
    return min(site_deadline(contest, site, instant) for site in sites)


async def judging_started(contest: Contest, sites: list[Site], now: datetime) -> bool:
    """Has judging begun anywhere? (the first site's submissions closed, or a score or a
    comparison exists in any round)."""
    if now >= first_closing(contest, sites, contest.submission_closes_at):
        return True
    round_ids = await Round.filter(contest_id=contest.id).values_list("id", flat=True)
    if len(round_ids) > 1:
        return True
    return bool(round_ids) and (
        await ScoreEvent.exists(round_id__in=list(round_ids))
        or await Comparison.exists(round_id__in=list(round_ids))
    )


async def edit_state(actor: User, contest: Contest) -> EditState:
    await permissions.ensure(actor, "contest.manage", contest)
    now = timezone.now()
    sites = await Site.filter(contest_id=contest.id).order_by("id")
    round_ = await current_round(contest)
    passed = {
        name for name in DEADLINES if now >= first_closing(contest, sites, getattr(contest, name))
    }
    return EditState(
        contest=contest,
        round=round_,
        sites=sites,
        tracks=await Track.filter(contest_id=contest.id).order_by("position", "id"),
        prizes=await Prize.filter(contest_id=contest.id).select_related("track").order_by("id"),
        criteria=await criteria_of(round_),
        rubric_locked=await judging_started(contest, sites, now),
        passed=passed,
    )


def _rubric_key(items) -> list[tuple]:
    return [
        (c.code, c.name, c.description, float(c.weight), c.scale_min, c.scale_max, float(c.step))
        for c in items
    ]


def _check_rubric(criteria: list[CriterionIn]) -> None:
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise Invalid(_("Codes must be unique."), fields={"criteria": _("Codes must be unique.")})
    for criterion in criteria:
        if criterion.scale_max <= criterion.scale_min:
            raise Invalid(
                _("A scale must go from a lower to a higher number."),
                fields={"criteria": criterion.code},
            )
    if not any(c.weight > 0 for c in criteria):
        raise Invalid(
            _("At least one criterion needs a positive weight."),
            fields={"criteria": _("At least one criterion needs a positive weight.")},
        )


def _minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def _check_deadlines(state: EditState, data: ContestEditIn, now: datetime) -> list[str]:
    """The deadlines that change; Invalid when one may not (see the module doc)."""
    contest = state.contest
    if not data.registration_closes_at <= data.submission_closes_at <= data.judging_closes_at:
        raise Invalid(
            _("Registration must close before submissions, and submissions before judging."),
            fields={"submission_closes_at": _("Check the order of the deadlines.")},
        )
    changed = []
    for name in DEADLINES:
        new = getattr(data, name)
        if _minute(new) == _minute(getattr(contest, name)):
            continue  # the form shows minutes: the same minute is no change
        if name in state.passed:
            raise Invalid(
                _("This deadline has passed: it can no longer move."),
                fields={name: _("This deadline has passed: it can no longer move.")},
            )
        if first_closing(contest, state.sites, new) <= now:
            raise Invalid(
                _("A deadline can only move to a moment still ahead at every site."),
                fields={name: _("Choose a moment still ahead at every site.")},
            )
        changed.append(name)
    return changed


async def edit_contest(actor: User, contest: Contest, data: ContestEditIn) -> list[str]:
    """Apply an organiser's edit; returns the names of what changed.

    403 for anyone but an organiser (a verified account); 409 once the results are published
    or, for a changed rubric, once judging started (`rubric_locked`); 422 for a deadline that
    may not move, a removed track that has teams, a prize naming an unknown track, a bad
    rubric. All or nothing: one transaction."""
    state = await edit_state(actor, contest)
    check_translations(data)
    if contest.results_published_at is not None:
        raise Conflict(
            _("The results are published: the contest can no longer change."),
            code="results_published",
        )
    now = timezone.now()
    changed = _check_deadlines(state, data, now)
    # tracks: by code; one with teams may be renamed, not removed
    codes = [t.code for t in data.tracks]
    if len(set(codes)) != len(codes):
        raise Invalid(_("Codes must be unique."), fields={"tracks": _("Codes must be unique.")})
    existing = {t.code: t for t in state.tracks}
    removed = [t for code, t in existing.items() if code not in codes]
    if removed:
        used = set(
            await Team.filter(track_id__in=[t.id for t in removed]).values_list(
                "track_id", flat=True
            )
        )
        for track in removed:
            if track.id in used:
                message = _(
                    "The track “%(name)s” has teams: rename it, it cannot be removed.",
                    name=track.name,
                )
                raise Invalid(message, fields={"tracks": message})
    for prize in data.prizes:
        if prize.track is not None and prize.track not in codes:
            message = _("A prize names an unknown track.")
            raise Invalid(message, fields={"prizes": f"{message} ({prize.track})"})
    rubric_changes = bool(data.criteria) and _rubric_key(data.criteria) != _rubric_key(
        state.criteria
    )
    if rubric_changes:
        _check_rubric(list(data.criteria))
        if state.rubric_locked:
            raise Conflict(
                _(
                    "Judging has started: the rubric is locked so that every sheet of an entry "
                    "is scored on the same criteria."
                ),
                code="rubric_locked",
                fields={"criteria": _("Locked since judging started.")},
            )
    async with atomic():
        texts = {"title": data.title, "description": data.description}
        texts["eligibility"] = data.eligibility
        texts["content_locale"] = data.content_locale
        texts["translations"] = stored_translations(data.translations)
        for name, value in texts.items():
            if getattr(contest, name) != value:
                setattr(contest, name, value)
                changed.append(name)
        for name in DEADLINES:
            if name in changed:
                setattr(contest, name, getattr(data, name))
        await contest.save(update_fields=[*texts, *DEADLINES])
        new_tracks = [content_of(t, data.content_locale) for t in data.tracks]
        if _track_key(state.tracks) != [_content_key(t) for t in new_tracks]:
            changed.append("tracks")
            if removed:
                await Track.filter(id__in=[t.id for t in removed]).delete()
            for position, item in enumerate(new_tracks):
                track = existing.get(item["code"])
                if track is None:
                    await Track.create(contest_id=contest.id, position=position, **item)
                else:
                    track.update_from_dict({**item, "position": position})
                    await track.save(
                        update_fields=[
                            "name",
                            "description",
                            "content_locale",
                            "translations",
                            "position",
                        ]
                    )
        old_prizes = [
            (
                p.name,
                p.track.code if p.track else None,
                p.rank,
                p.amount,
                p.currency,
                p.public_vote,
                p.content_locale,
                p.translations or {},
            )
            for p in state.prizes
        ]
        prize_rows = [content_of(p, data.content_locale) for p in data.prizes]
        new_prizes = [
            (
                p["name"],
                p["track"],
                p["rank"],
                p["amount"],
                p["currency"],
                p["public_vote"],
                p["content_locale"],
                p["translations"],
            )
            for p in prize_rows
        ]
        if old_prizes != new_prizes:
            changed.append("prizes")
            track_ids = {
                t.code: t.id for t in await Track.filter(contest_id=contest.id).only("id", "code")
            }
            await Prize.filter(contest_id=contest.id).delete()
            await Prize.bulk_create(
                [
                    Prize(
                        contest_id=contest.id,
                        track_id=track_ids[p["track"]] if p["track"] else None,
                        **{k: v for k, v in p.items() if k != "track"},
                    )
                    for p in prize_rows
                ]
            )
        if rubric_changes:
            changed.append("criteria")
            await Criterion.filter(round_id=state.round.id).delete()
            await Criterion.bulk_create(
                [
                    Criterion(
                        round_id=state.round.id,
                        position=i,
                        **content_of(item, data.content_locale),
                    )
                    for i, item in enumerate(data.criteria)
                ]
            )
        elif data.criteria:
            # the same rubric: its other languages may still change, even once locked (a
            # translation changes no score)
            for current, item in zip(state.criteria, data.criteria, strict=True):
                row = content_of(item, data.content_locale)
                if _content_key(row) != _content_key(_columns(current)):
                    current.content_locale = row["content_locale"]
                    current.translations = row["translations"]
                    await current.save(update_fields=["content_locale", "translations"])
                    if "criteria" not in changed:
                        changed.append("criteria")
        if changed:
            await audit.record("contest.edited", actor=actor, target=contest, changed=changed)
    return changed


def _columns(item: Track | Criterion) -> dict:
    return {
        "code": item.code,
        "name": item.name,
        "description": item.description,
        "content_locale": item.content_locale,
        "translations": item.translations or {},
    }


def _content_key(row: dict) -> tuple:
    return (
        row["code"],
        row["name"],
        row["description"],
        row["content_locale"],
        sorted((k, sorted(v.items())) for k, v in row["translations"].items()),
    )


def _track_key(tracks: list[Track]) -> list[tuple]:
    return [_content_key(_columns(t)) for t in tracks]
