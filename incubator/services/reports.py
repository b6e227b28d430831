"""KPI reports: the scheduler that opens report requests and sends reminders, the founder's
draft / submit / skip, and the time series read by insiders and grantees.

Idempotency: a request is unique per (enrolment, period) and a reminder per (request,
kind). The scheduler may run any number of times, concurrently, after any edit of a due
date or a schedule: it updates due dates of requests nobody has answered, cancels the
untouched requests a changed schedule no longer asks for, and sends each reminder once.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, format_number
from ecosystem.models import Membership, MembershipStatus, Organisation, User
from ecosystem.services import audit
from ecosystem.settings import get_settings
from ecosystem.tabular import Table
from incubator import periods
from incubator.models import (
    Cohort,
    Enrolment,
    EnrolmentRead,
    EnrolmentStatus,
    MentorAssignment,
    Metric,
    Milestone,
    Programme,
    ProgrammeRole,
    ProgrammeRoleKind,
    ReminderKind,
    ReportCorrection,
    ReportNudge,
    ReportReminder,
    ReportRequest,
    RequestStatus,
    Schedule,
    ShareAccess,
)
from incubator.permissions import StartupAccess, ensure_manager

logger = logging.getLogger("incubator.reports")

ANSWERABLE = (RequestStatus.OPEN, RequestStatus.DRAFT)
MAX_VALUE = 10**15
MAX_NARRATIVE = 4000
MAX_EXPLANATION = 300
MAX_REASON = 500
# A value more than OUTLIER_FACTOR times (or under 1/OUTLIER_FACTOR of) the median of the
# startup's last HISTORY_PERIODS reported periods asks for a one-line explanation.
OUTLIER_FACTOR = 3
HISTORY_PERIODS = 3
NUDGE_INTERVAL = timedelta(hours=1)


class NeedsExplanation(Invalid):
    """Values far outside the startup's own history (`keys`) need a one-line explanation;
    `fields` may also name missing required metrics."""

    def __init__(self, message: str, fields: dict[str, str], keys: list[str]) -> None:
        super().__init__(message, fields)
        self.keys = keys


def local_today(now: datetime | None = None) -> date:
    now = now or timezone.now()
    return now.astimezone(ZoneInfo(get_settings().default_timezone)).date()


# --- the scheduler -----------------------------------------------------------------------


@dataclass
class SchedulerRun:
    opened: int = 0
    moved: int = 0
    cancelled: int = 0
    reminders: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _due_for(config: periods.ScheduleConfig, request: ReportRequest) -> date | None:
    """The due date the current schedule gives an existing request (None: leave it)."""
    span = periods.bounds(request.period)
    if span is None:
        return None
    if request.schedule == config.kind == Schedule.MONTHLY or (
        request.schedule == config.kind == Schedule.QUARTERLY
    ):
        return span[1] + timedelta(days=config.due_days - 1)
    if (
        request.schedule == config.kind == Schedule.ONE_OFF
        and request.period == config.one_off_period
    ):
        return config.one_off_due_on
    return None


async def materialise(now: datetime, programme_id: int | None = None) -> SchedulerRun:
    """Open the requests every programme's schedule (or one programme's) asks for on this
    local day, move the due dates of unanswered ones, cancel untouched ones no longer asked."""
    today = local_today(now)
    run = SchedulerRun()
    programmes = await (
        Programme.filter(id=programme_id) if programme_id is not None else Programme.all()
    )
    for programme in programmes:
        config = periods.ScheduleConfig.of(programme)
        enrolments = await Enrolment.filter(
            cohort__programme_id=programme.id, active=True, status=EnrolmentStatus.ACCEPTED
        )
        if not enrolments:
            continue
        milestone_days: dict[int, list[date]] = defaultdict(list)
        if config.kind == Schedule.MILESTONE:
            for enrolment_id, due_on in await Milestone.filter(
                enrolment_id__in=[e.id for e in enrolments]
            ).values_list("enrolment_id", "due_on"):
                milestone_days[enrolment_id].append(due_on)
        existing: dict[tuple[int, str], ReportRequest] = {
            (r.enrolment_id, r.period): r  # type: ignore[attr-defined]
            for r in await ReportRequest.filter(enrolment_id__in=[e.id for e in enrolments])
        }
        for enrolment in enrolments:
            wanted = periods.expected(
                config, today, enrolment.enrolled_on, milestone_days.get(enrolment.id, [])
            )
            wanted_periods = {w.period for w in wanted}
            for item in wanted:
                request = existing.get((enrolment.id, item.period))
                if request is None:
                    try:
                        async with atomic():
                            await ReportRequest.create(
                                enrolment_id=enrolment.id,
                                startup_id=enrolment.startup_id,  # type: ignore[attr-defined]
                                period=item.period,
                                period_start=item.period_start,
                                due_on=item.due_on,
                                schedule=config.kind,
                            )
                        run.opened += 1
                    except IntegrityError:
                        pass  # another run opened it at the same moment
                    continue
                if request.status in ANSWERABLE and request.due_on != item.due_on:
                    run.moved += await ReportRequest.filter(
                        id=request.id, status__in=ANSWERABLE
                    ).update(due_on=item.due_on, schedule=config.kind)
            # Existing requests: follow an edited due date; drop what the schedule no longer
            # asks for (never a request with a draft or an answer).
            for (enrolment_id, period), request in existing.items():
                if enrolment_id != enrolment.id or request.status not in ANSWERABLE:
                    continue
                if period in wanted_periods:
                    continue
                due = _due_for(config, request)
                if due is not None:
                    if due != request.due_on:
                        run.moved += await ReportRequest.filter(
                            id=request.id, status__in=ANSWERABLE
                        ).update(due_on=due)
                elif request.status == RequestStatus.OPEN:
                    run.cancelled += await ReportRequest.filter(
                        id=request.id, status=RequestStatus.OPEN
                    ).update(status=RequestStatus.CANCELLED)
    return run


async def _founders(startup_ids: list[int]) -> dict[int, list[User]]:
    """The people reminded of a startup's reports: its active members whose e-mail address
    is verified (an unverified address may not be theirs)."""
    rows = await Membership.filter(
        organisation_id__in=startup_ids,
        status=MembershipStatus.ACTIVE,
        user__is_active=True,
        user__email_verified_at__isnull=False,
    ).select_related("user")
    found: dict[int, list[User]] = defaultdict(list)
    for membership in rows:
        found[membership.organisation_id].append(membership.user)  # type: ignore[attr-defined]
    return found


async def _escalation_recipients(request: ReportRequest, programme_id: int) -> list[User]:
    mentors = await MentorAssignment.filter(enrolment_id=request.enrolment_id).select_related(  # type: ignore[attr-defined]
        "mentor"
    )
    people = [m.mentor for m in mentors if m.mentor.is_active]
    if not people:  # no mentor yet: the managers hear of it
        roles = await ProgrammeRole.filter(
            programme_id=programme_id, role=ProgrammeRoleKind.MANAGER
        ).select_related("user")
        people = [r.user for r in roles if r.user.is_active]
    return people


async def send_reminders(now: datetime) -> SchedulerRun:
    """Each run sends, per open request, at most one reminder to the founders (the most
    urgent kind earned and not yet recorded; less urgent ones are recorded as superseded)
    and the escalation to the mentors once. Recording and sending share a transaction; the
    unique (request, kind) key lets only one of two concurrent runs send."""
    today = local_today(now)
    run = SchedulerRun()
    requests = (
        await ReportRequest.filter(status__in=ANSWERABLE)
        .select_related("startup")
        # Prefetched, not joined: PostgreSQL cuts column aliases at 63 characters.
        .prefetch_related("enrolment__cohort__programme", "reminders")
        .order_by("id")
    )
    founders = await _founders(list({r.startup_id for r in requests}))  # type: ignore[attr-defined]
    for request in requests:
        programme = request.enrolment.cohort.programme
        config = periods.ScheduleConfig.of(programme)
        if config.kind == Schedule.NONE:
            continue
        recorded = {reminder.kind for reminder in request.reminders}
        earned = [
            k for k in periods.reminders_due(config, request.due_on, today) if k not in recorded
        ]
        founder_kinds = [k for k in earned if k != ReminderKind.ESCALATION]
        if founder_kinds:
            people = founders.get(request.startup_id, [])  # type: ignore[attr-defined]
            if await _remind(request, programme, founder_kinds, people):
                run.reminders[founder_kinds[0]] += 1
        if ReminderKind.ESCALATION in earned:
            people = await _escalation_recipients(request, programme.id)
            if await _remind(request, programme, [ReminderKind.ESCALATION.value], people):
                run.reminders[ReminderKind.ESCALATION.value] += 1
    return run


async def _remind(
    request: ReportRequest, programme: Programme, kinds: list[str], people: list[User]
) -> bool:
    """Record `kinds` (the first is sent, the rest superseded) and mail `people`, or do
    nothing if another run recorded one of them first."""
    kind = kinds[0]
    try:
        async with atomic():
            await ReportReminder.bulk_create(
                [
                    ReportReminder(
                        request=request,
                        kind=ReminderKind(k),
                        sent=k == kind,
                        recipients=len(people) if k == kind else 0,
                    )
                    for k in kinds
                ]
            )
            for person in people:
                await mail.send_mail(
                    person.email,
                    "incubator_report_reminder",
                    {
                        "kind": kind,
                        "request": request,
                        "startup": request.startup,
                        "programme": programme,
                        "person": person,
                    },
                    person.locale,
                    timezone=person.timezone,
                )
    except IntegrityError:
        return False  # another run recorded it first: it sends, this one does not
    return True


async def run_scheduler(now: datetime | None = None) -> SchedulerRun:
    now = (now or timezone.now()).astimezone(UTC)
    opened = await materialise(now)
    sent = await send_reminders(now)
    opened.reminders = sent.reminders
    return opened


# --- answering a request ------------------------------------------------------------------


async def _metrics_by_programme(programme_ids: list[int]) -> dict[int, dict[str, Metric]]:
    found: dict[int, dict[str, Metric]] = defaultdict(dict)
    for metric in await Metric.filter(programme_id__in=programme_ids).order_by("position"):
        found[metric.programme_id][metric.key] = metric  # type: ignore[attr-defined]
    return found


def _check_values(metrics: dict[str, Metric], values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        name = f"metrics.{key}"
        metric = metrics.get(key)
        if metric is None:
            errors[name] = _("This programme does not ask for this metric.")
            continue
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors[name] = _("Enter a number.")
            continue
        if not math.isfinite(value) or abs(value) > MAX_VALUE:
            errors[name] = _("This number is out of range.")
            continue
        if metric.integer:
            if value != int(value):
                errors[name] = _("Enter a whole number.")
                continue
            value = int(value)
        if value < 0 and metric.unit in ("VND", "users", "people"):
            errors[name] = _("This number cannot be negative.")
            continue
        clean[key] = value
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    return clean


async def open_requests(startup: Organisation) -> list[ReportRequest]:
    return await open_requests_of([startup.id])


async def open_requests_of(startup_ids: list[int]) -> list[ReportRequest]:
    """The open or drafted requests of these startups, soonest due first."""
    if not startup_ids:
        return []
    return (
        await ReportRequest.filter(startup_id__in=startup_ids, status__in=ANSWERABLE)
        .prefetch_related("enrolment__cohort__programme")
        .order_by("due_on", "id")
    )


async def get_request(access: StartupAccess, request_id: int) -> ReportRequest:
    request = await ReportRequest.get_or_none(
        id=request_id, startup_id=access.startup.id
    ).prefetch_related("enrolment__cohort__programme")
    if request is None:
        raise NotFound(_("There is no such report."))
    return request


async def request_metrics(request: ReportRequest) -> list[Metric]:
    return await Metric.filter(programme_id=request.enrolment.cohort.programme_id).order_by(  # type: ignore[attr-defined]
        "position"
    )


def _median(numbers: list[float]) -> float:
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def is_outlier(value: float, median: float) -> bool:
    """Far outside the history: more than 3× or under 1/3 of a positive median."""
    if median <= 0:
        return False
    return value > OUTLIER_FACTOR * median or value * OUTLIER_FACTOR < median


async def history_medians(startup_id: int, before: date) -> dict[str, float]:
    """Per metric, the median of the startup's last three reported values before `before`."""
    rows = (
        await ReportRequest.filter(
            startup_id=startup_id, status=RequestStatus.SUBMITTED, period_start__lt=before
        )
        .order_by("-period_start", "-id")
        .limit(8 * HISTORY_PERIODS)
        .values_list("values", flat=True)
    )
    seen: dict[str, list[float]] = defaultdict(list)
    for values in rows:
        for key, value in (values or {}).items():
            if isinstance(value, int | float) and len(seen[key]) < HISTORY_PERIODS:
                seen[key].append(value)
    return {key: _median(found) for key, found in seen.items() if found}


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


async def _check_report(
    request: ReportRequest,
    metrics: dict[str, Metric],
    clean: dict[str, Any],
    narrative: str,
    explanations: dict[str, Any],
) -> dict[str, str]:
    """The rules of a submitted report (not of a draft): at least one figure, every metric
    the programme requires, and a one-line explanation of each value far outside the
    startup's own history. Returns the explanations to keep."""
    errors: dict[str, str] = {}
    for key, metric in metrics.items():
        if metric.required and key not in clean:
            errors[f"metrics.{key}"] = _("The programme requires this figure.")
    if not clean and (metrics or not narrative.strip()):
        raise Invalid(
            _("A report needs at least one figure: it cannot be submitted blank."),
            errors  # the required figures, or else every figure the programme asks for
            or {f"metrics.{key}": _("Fill in this figure.") for key in metrics}
            or {"narrative": _("Say what happened this period.")},
        )
    medians = await history_medians(request.startup_id, request.period_start)  # type: ignore[attr-defined]
    asked: list[str] = []
    kept: dict[str, str] = {}
    for key, value in clean.items():
        median = medians.get(key)
        if median is None or not is_outlier(value, median):
            continue
        text = _one_line(explanations.get(key))
        if not text:
            asked.append(key)
            errors[f"metrics.{key}"] = _(
                "This is far from your recent figures (median %(median)s): explain it in "
                "one line before submitting.",
                median=format_number(median),
            )
        elif len(text) > MAX_EXPLANATION:
            asked.append(key)
            errors[f"explanations.{key}"] = _("At most %(n)d characters.", n=MAX_EXPLANATION)
        else:
            kept[key] = text
    if asked:
        raise NeedsExplanation(
            _("Some figures are far from your recent ones: explain each in one line."),
            errors,
            asked,
        )
    if errors:
        raise Invalid(_("Fill in every figure the programme requires."), errors)
    return kept


async def submit_report(
    actor: User,
    access: StartupAccess,
    period: str,
    values: dict[str, Any],
    narrative: str = "",
    *,
    draft: bool = False,
    request_id: int | None = None,
    explanations: dict[str, Any] | None = None,
) -> ReportRequest:
    """Save a draft of, or submit, the startup's open report for `period`. A submission
    needs a figure, every required metric, and an explanation of each outlier."""
    if not access.can_report:
        raise NotPermitted(_("Only the startup's members may report for it."))
    if len(narrative) > MAX_NARRATIVE:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"narrative": _("At most %(n)d characters.", n=MAX_NARRATIVE)},
        )
    query = ReportRequest.filter(startup_id=access.startup.id, status__in=ANSWERABLE)
    query = query.filter(id=request_id) if request_id else query.filter(period=period)
    candidates = await query.select_related("enrolment__cohort").order_by("due_on", "id")
    if not candidates:
        raise Invalid(
            _("There is no open report request for this period."),
            {"period": _("There is no open report request for this period.")},
        )
    metrics = await _metrics_by_programme([c.enrolment.cohort.programme_id for c in candidates])  # type: ignore[attr-defined]
    request = next(
        (
            c
            for c in candidates
            if set(values) <= set(metrics[c.enrolment.cohort.programme_id])  # type: ignore[attr-defined]
        ),
        candidates[0],
    )
    asked_for = metrics[request.enrolment.cohort.programme_id]  # type: ignore[attr-defined]
    clean = _check_values(asked_for, values)
    kept: dict[str, str] = {}
    if not draft:
        kept = await _check_report(request, asked_for, clean, narrative, explanations or {})
    async with atomic():
        status = RequestStatus.DRAFT if draft else RequestStatus.SUBMITTED
        updated = await ReportRequest.filter(id=request.id, status__in=ANSWERABLE).update(
            values=clean,
            explanations=kept,
            narrative=narrative.strip(),
            status=status,
            submitted_by_id=actor.id,
            submitted_at=None if draft else timezone.now(),
            updated_at=timezone.now(),
        )
        if not updated:
            raise Invalid(_("There is no open report request for this period."), {"period": ""})
        if not draft:
            await audit.record(
                "incubator.report_submitted",
                actor=actor,
                target=access.startup,
                period=request.period,
            )
    await request.refresh_from_db()
    return request


async def correct_report(
    actor: User,
    access: StartupAccess,
    request_id: int,
    values: dict[str, Any],
    narrative: str,
    reason: str,
    explanations: dict[str, Any] | None = None,
) -> ReportCorrection:
    """Correct a submitted report: the same rules as a submission, and the history keeps who
    corrected what, when (old → new), and why."""
    if not access.can_report:
        raise NotPermitted(_("Only the startup's members may report for it."))
    request = await get_request(access, request_id)
    if request.status != RequestStatus.SUBMITTED:
        raise Invalid(_("Only a submitted report can be corrected."), {})
    errors: dict[str, str] = {}
    if len(narrative) > MAX_NARRATIVE:
        errors["narrative"] = _("At most %(n)d characters.", n=MAX_NARRATIVE)
    reason = _one_line(reason)
    if len(reason) < 3:
        errors["reason"] = _("Say in a few words what was wrong.")
    elif len(reason) > MAX_REASON:
        errors["reason"] = _("At most %(n)d characters.", n=MAX_REASON)
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    metrics = {m.key: m for m in await request_metrics(request)}
    clean = _check_values(metrics, values)
    old = dict(request.values or {})
    # Values of metrics the programme no longer asks for stay as they were.
    clean = {**{k: v for k, v in old.items() if k not in metrics}, **clean}
    narrative = narrative.strip()
    previous = {
        k: v
        for k, v in (request.explanations or {}).items()
        if k in clean and old.get(k) == clean.get(k)
    }
    kept = await _check_report(
        request, metrics, clean, narrative, {**previous, **(explanations or {})}
    )
    changes: list[dict[str, Any]] = [
        {"field": key, "old": old.get(key), "new": clean.get(key)}
        for key in [*metrics, *[k for k in old if k not in metrics]]
        if old.get(key) != clean.get(key)
    ]
    if narrative != request.narrative:
        changes.append({"field": "narrative", "old": request.narrative, "new": narrative})
    if not changes:
        raise Invalid(_("Nothing has changed: change a figure or the narrative."), {"reason": ""})
    async with atomic():
        updated = await ReportRequest.filter(id=request.id, status=RequestStatus.SUBMITTED).update(
            values=clean,
            narrative=narrative,
            explanations=kept,
            corrected_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if not updated:
            raise Invalid(_("Only a submitted report can be corrected."), {})
        correction = await ReportCorrection.create(
            request_id=request.id, author_id=actor.id, changes=changes, reason=reason
        )
        await audit.record(
            "incubator.report_corrected",
            actor=actor,
            target=access.startup,
            period=request.period,
            fields=[c["field"] for c in changes],
        )
    return correction


async def skip_report(
    actor: User, access: StartupAccess, request_id: int, reason: str
) -> ReportRequest:
    if not access.can_report:
        raise NotPermitted(_("Only the startup's members may report for it."))
    reason = reason.strip()
    if len(reason) < 3:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"reason": _("Say why this period is skipped.")},
        )
    request = await get_request(access, request_id)
    updated = await ReportRequest.filter(id=request.id, status__in=ANSWERABLE).update(
        status=RequestStatus.SKIPPED,
        skip_reason=reason[:500],
        submitted_by_id=actor.id,
        submitted_at=timezone.now(),
    )
    if not updated:
        raise Invalid(_("This report is no longer open."), {"reason": ""})
    await audit.record(
        "incubator.report_skipped", actor=actor, target=access.startup, period=request.period
    )
    await request.refresh_from_db()
    return request


# --- reading the time series ----------------------------------------------------------------


@dataclass
class SeriesMetric:
    key: str
    name: str
    unit: str
    period: str
    points: list[tuple[str, float]]


async def time_series(
    access: StartupAccess, actor: User | None, channel: str = "web"
) -> list[SeriesMetric]:
    """The startup's submitted KPI values per metric. Its members see everything; a
    programme only the metrics and months its accepted enrolment covers (after the startup
    left, only what was submitted before); a grantee only what its live grants cover. Every
    read by someone other than the startup's members is logged for the startup."""
    if not access.can_view_metrics:
        raise NotPermitted(_("You may not see this startup's metrics."))
    reports = await (
        ReportRequest.filter(startup_id=access.startup.id, status=RequestStatus.SUBMITTED)
        .select_related("enrolment__cohort")
        .order_by("period_start", "id")
    )
    enrolments = Enrolment.filter(startup_id=access.startup.id)
    if not access.member:
        enrolments = enrolments.filter(id__in=[v.enrolment_id for v in access.views] or [0])
    programme_ids = set(await enrolments.values_list("cohort__programme_id", flat=True))
    if not access.member and access.grants:  # a grantee sees the names of granted metrics
        programme_ids |= set(
            await Enrolment.filter(startup_id=access.startup.id).values_list(
                "cohort__programme_id", flat=True
            )
        )
    metrics = await Metric.filter(programme_id__in=programme_ids).order_by(
        "programme_id", "position"
    )
    definitions: dict[str, Metric] = {}
    for metric in metrics:
        definitions.setdefault(metric.key, metric)

    def allowed(key: str, report: ReportRequest) -> bool:
        if access.member:
            return True
        if any(v.covers(key, report.period_start, report.submitted_at) for v in access.views):
            return True
        return any(
            key in grant.metrics
            and periods.period_contains(grant.period_from, grant.period_to, report.period)
            for grant in access.grants
        )

    points: dict[str, dict[str, float]] = defaultdict(dict)
    for report in reports:
        for key, value in (report.values or {}).items():
            if allowed(key, report):
                points[key].setdefault(report.period, value)
    if not access.member:
        user_id = actor.id if actor else None
        await ShareAccess.bulk_create(
            [
                ShareAccess(grant_id=grant.id, user_id=user_id, channel=channel)
                for grant in access.grants
            ]
        )
        await EnrolmentRead.bulk_create(
            [
                EnrolmentRead(enrolment_id=view.enrolment_id, user_id=user_id, channel=channel)
                for view in access.views
            ]
        )
    series: list[SeriesMetric] = []
    for key, metric in definitions.items():
        by_period = points.get(key, {})
        if not access.member and not by_period:
            continue
        ordered = sorted(by_period.items(), key=lambda item: periods.bounds(item[0]) or (date.min,))
        series.append(SeriesMetric(key, metric.name, metric.unit, metric.period.value, ordered))
    return series


async def log_programme_reads(enrolment_ids: list[int], actor: User | None, channel: str) -> None:
    """Programme staff read these enrolments' figures (a cohort dashboard or its export):
    each read is logged for the startup, like any other."""
    await EnrolmentRead.bulk_create(
        [
            EnrolmentRead(enrolment_id=e, user_id=actor.id if actor else None, channel=channel)
            for e in enrolment_ids
        ]
    )


async def log_pitch_read(access: StartupAccess, actor: User) -> None:
    """Programme staff downloaded the startup's pitch deck: logged for the startup like a read
    of its figures (its own members' downloads are not)."""
    if access.member:
        return
    await EnrolmentRead.bulk_create(
        [
            EnrolmentRead(enrolment_id=view.enrolment_id, user_id=actor.id, channel="pitch")
            for view in access.views
            if view.current and (view.manager or view.mentor)
        ]
    )


def series_table(series: list[SeriesMetric]) -> Table:
    """period, then one column per metric key; periods in time order (CSV/.xlsx)."""
    by_period: dict[str, dict[str, Any]] = defaultdict(dict)
    for metric in series:
        for period, value in metric.points:
            by_period[period][metric.key] = value
    ordered = sorted(by_period, key=lambda p: periods.bounds(p) or (date.min,))
    return Table(
        columns=["period", *[m.key for m in series]],
        rows=[[period, *[by_period[period].get(m.key) for m in series]] for period in ordered],
        sheet="kpi",
    )


async def latest_values(startup: Organisation, before: date) -> dict[str, Any]:
    """The most recent submitted value of each metric before `before` (a hint on the form)."""
    found: dict[str, Any] = {}
    rows = (
        await ReportRequest.filter(
            startup_id=startup.id, status=RequestStatus.SUBMITTED, period_start__lt=before
        )
        .order_by("-period_start", "-id")
        .limit(12)
        .values_list("values", flat=True)
    )
    for values in rows:
        for key, value in (values or {}).items():
            found.setdefault(key, value)
    return found


async def reports_of(
    startup: Organisation, enrolment_ids: list[int] | None = None
) -> list[ReportRequest]:
    """The startup's report requests (only those of these enrolments, if given)."""
    query = ReportRequest.filter(startup_id=startup.id)
    if enrolment_ids is not None:
        query = query.filter(enrolment_id__in=enrolment_ids or [0])
    return (
        await query.exclude(status=RequestStatus.CANCELLED)
        .prefetch_related("enrolment__cohort__programme")
        .order_by("-period_start", "-id")
    )


# --- a report's history, reminders by hand ----------------------------------------------------


@dataclass
class HistoryEvent:
    at: datetime
    kind: str  # reminder | nudge | correction | submitted | skipped
    recipients: int = 0
    reminder: str = ""  # the reminder's kind
    sent: bool = True
    person: User | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""


@dataclass
class ReportHistory:
    request: ReportRequest
    metrics: list[Metric]
    values: dict[str, Any]
    explanations: dict[str, str]
    events: list[HistoryEvent]
    reachable: bool
    can_remind: bool


async def reachable_startups(startup_ids: list[int]) -> set[int]:
    """The startups with someone to remind: an active member with a verified e-mail."""
    if not startup_ids:
        return set()
    return set(
        await Membership.filter(
            organisation_id__in=startup_ids,
            status=MembershipStatus.ACTIVE,
            user__is_active=True,
            user__email_verified_at__isnull=False,
        ).values_list("organisation_id", flat=True)
    )


async def report_history(access: StartupAccess, actor: User, request_id: int) -> ReportHistory:
    """One report with what happened to it: reminders (automatic and by hand, with how many
    people they reached), submission, corrections (old → new). The startup's members see
    everything; the managers and mentors of its programme only the metrics its enrolment
    covers (and the read is logged for the startup)."""
    request = await get_request(access, request_id)
    enrolment_id = request.enrolment_id  # type: ignore[attr-defined]
    view = next((v for v in access.views if v.enrolment_id == enrolment_id), None)
    if not access.member and not access.staff_on(enrolment_id, mentor=True):
        raise NotPermitted(_("You may not see this report."))

    def allowed(key: str) -> bool:
        if access.member:
            return True
        if key == "narrative":
            return True
        return view is not None and view.covers(key, request.period_start, request.submitted_at)

    metrics = [m for m in await request_metrics(request) if allowed(m.key)]
    events: list[HistoryEvent] = [
        HistoryEvent(r.created_at, "reminder", r.recipients, r.kind.value, r.sent)
        for r in await ReportReminder.filter(request_id=request.id)
    ]
    for nudge in await ReportNudge.filter(request_id=request.id).select_related("sent_by"):
        events.append(
            HistoryEvent(nudge.created_at, "nudge", nudge.recipients, person=nudge.sent_by)
        )
    for correction in await ReportCorrection.filter(request_id=request.id).select_related("author"):
        changes = [c for c in correction.changes or [] if allowed(c.get("field", ""))]
        events.append(
            HistoryEvent(
                correction.created_at,
                "correction",
                person=correction.author,
                changes=changes,
                reason=correction.reason,
            )
        )
    if request.submitted_at is not None and request.status in (
        RequestStatus.SUBMITTED,
        RequestStatus.SKIPPED,
    ):
        await request.fetch_related("submitted_by")
        events.append(
            HistoryEvent(request.submitted_at, request.status.value, person=request.submitted_by)
        )
    events.sort(key=lambda e: e.at)
    if not access.member and view is not None:
        await EnrolmentRead.create(enrolment_id=view.enrolment_id, user_id=actor.id, channel="web")
    reachable = bool(await reachable_startups([access.startup.id]))
    return ReportHistory(
        request=request,
        metrics=metrics,
        values={k: v for k, v in (request.values or {}).items() if allowed(k)},
        explanations={k: v for k, v in (request.explanations or {}).items() if allowed(k)},
        events=events,
        reachable=reachable,
        can_remind=access.staff_on(enrolment_id) and request.status in ANSWERABLE,
    )


@dataclass
class NudgeRun:
    sent: int = 0  # requests whose founders were mailed
    unreachable: int = 0  # requests with no one to remind (recorded, nobody mailed)
    throttled: int = 0  # reminded by hand within the last hour: left alone


async def remind_now(
    actor: User, cohort: Cohort, enrolment_id: int | None = None, now: datetime | None = None
) -> NudgeRun:
    """A manager reminds one startup of the cohort (its open reports) or every startup whose
    report is late, now. Each request is reminded by hand at most once an hour (the row lock
    makes two concurrent clicks send once); each reminder goes through the outbox and is
    recorded on the request's history, with how many people it reached."""
    programme = await Programme.get(id=cohort.programme_id)  # type: ignore[attr-defined]
    await ensure_manager(actor, programme)
    now = now or timezone.now()
    today = local_today(now)
    query = ReportRequest.filter(
        enrolment__cohort_id=cohort.id,
        enrolment__status=EnrolmentStatus.ACCEPTED,
        status__in=ANSWERABLE,
    )
    if enrolment_id is not None:
        if not await Enrolment.exists(
            id=enrolment_id, cohort_id=cohort.id, status=EnrolmentStatus.ACCEPTED
        ):
            raise NotFound(_("Not found."))
        query = query.filter(enrolment_id=enrolment_id)
    else:
        query = query.filter(due_on__lt=today)
    requests = await query.select_related("startup").order_by("due_on", "id")
    founders = await _founders(list({r.startup_id for r in requests}))  # type: ignore[attr-defined]
    run = NudgeRun()
    for request in requests:
        people = founders.get(request.startup_id, [])  # type: ignore[attr-defined]
        async with atomic():
            await ReportRequest.filter(id=request.id).select_for_update().values_list("id")
            if await ReportNudge.exists(request_id=request.id, created_at__gt=now - NUDGE_INTERVAL):
                run.throttled += 1
                continue
            await ReportNudge.create(
                request_id=request.id, sent_by_id=actor.id, recipients=len(people)
            )
            kind = ReminderKind.OVERDUE if request.due_on < today else ReminderKind.BEFORE
            for person in people:
                await mail.send_mail(
                    person.email,
                    "incubator_report_reminder",
                    {
                        "kind": kind.value,
                        "request": request,
                        "startup": request.startup,
                        "programme": programme,
                        "person": person,
                    },
                    person.locale,
                    timezone=person.timezone,
                )
        if people:
            run.sent += 1
        else:
            run.unreachable += 1
    if run.sent or run.unreachable:
        await audit.record(
            "incubator.reports_reminded",
            actor=actor,
            target=programme,
            cohort=cohort.id,
            sent=run.sent,
            unreachable=run.unreachable,
        )
    return run
