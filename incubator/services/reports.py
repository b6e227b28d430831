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
from ecosystem.i18n import _
from ecosystem.models import Membership, MembershipStatus, Organisation, User
from ecosystem.services import audit
from ecosystem.settings import get_settings
from ecosystem.tabular import Table
from incubator import periods
from incubator.models import (
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
    ReportReminder,
    ReportRequest,
    RequestStatus,
    Schedule,
    ShareAccess,
)
from incubator.permissions import StartupAccess

logger = logging.getLogger("incubator.reports")

ANSWERABLE = (RequestStatus.OPEN, RequestStatus.DRAFT)
MAX_VALUE = 10**15
MAX_NARRATIVE = 4000


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
    rows = await Membership.filter(
        organisation_id__in=startup_ids, status=MembershipStatus.ACTIVE, user__is_active=True
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


async def submit_report(
    actor: User,
    access: StartupAccess,
    period: str,
    values: dict[str, Any],
    narrative: str = "",
    *,
    draft: bool = False,
    request_id: int | None = None,
) -> ReportRequest:
    """Save a draft of, or submit, the startup's open report for `period`."""
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
    clean = _check_values(metrics[request.enrolment.cohort.programme_id], values)  # type: ignore[attr-defined]
    async with atomic():
        status = RequestStatus.DRAFT if draft else RequestStatus.SUBMITTED
        updated = await ReportRequest.filter(id=request.id, status__in=ANSWERABLE).update(
            values=clean,
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
