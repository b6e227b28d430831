"""Enrolment is the startup's act (issue 12, consent): a programme's manager offers a place in
a cohort, stating which metrics the programme will read and from which month; the startup's
owners or admins (or a platform admin) accept or decline. A startup whose own application
was admitted is enrolled at once (its application is its consent). A startup may leave: the
programme keeps what was reported while the startup was enrolled and sees nothing new."""

from __future__ import annotations

from datetime import date

from tortoise import timezone

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.labels import N_, humanise
from ecosystem.models import Organisation, User
from ecosystem.services import audit
from incubator import periods
from incubator.models import (
    Application,
    Cohort,
    Enrolment,
    EnrolmentStatus,
    Metric,
    Programme,
    StartupProfile,
)
from incubator.permissions import StartupAccess, ensure_manager
from incubator.services.reports import materialise
from incubator.services.startups import ensure_profile

STATUS_LABELS = {
    "offered": N_("Offered, waiting for the startup"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined by the startup"),
    "left": N_("Left the programme"),
}


def month_start(raw: str, field: str = "metrics_from") -> date:
    raw = (raw or "").strip()
    if not periods.MONTH.match(raw):
        raise Invalid(
            _("Please correct the highlighted fields."), {field: _("Give a month as YYYY-MM.")}
        )
    year, month = raw.split("-")
    return date(int(year), int(month), 1)


async def programme_metric_keys(programme_id: int) -> list[str]:
    return list(
        await Metric.filter(programme_id=programme_id)
        .order_by("position", "id")
        .values_list("key", flat=True)
    )


async def offer_candidates(cohort: Cohort) -> list[Organisation]:
    """Startups a manager may offer a place: those in the public directory, and those that
    applied to one of the programme's calls; never one already offered a place in the cohort."""
    taken = await Enrolment.filter(cohort_id=cohort.id).values_list("startup_id", flat=True)
    listed = await StartupProfile.filter(in_directory=True).values_list(
        "organisation_id", flat=True
    )
    applied = await Application.filter(call__programme_id=cohort.programme_id).values_list(  # type: ignore[attr-defined]
        "startup_id", flat=True
    )
    ids = (set(listed) | set(applied)) - set(taken)
    return await Organisation.filter(id__in=list(ids)).order_by("name") if ids else []


async def offer(actor: User, cohort: Cohort, startup_id: int, metrics_from: str = "") -> Enrolment:
    """Offer the startup a place in the cohort (the programme of a verified organisation)."""
    programme: Programme = cohort.programme
    access = await ensure_manager(actor, programme)
    if not access.can_offer:
        raise NotPermitted(
            _(
                "The programme's organisation is not verified yet: "
                "it cannot offer places to startups."
            )
        )
    allowed = {org.id for org in await offer_candidates(cohort)}
    startup = await Organisation.get_or_none(id=startup_id) if startup_id in allowed else None
    if startup is None:
        if await Enrolment.exists(cohort_id=cohort.id, startup_id=startup_id):
            raise Conflict(_("This startup has already been offered a place in this cohort."))
        raise Invalid(_("Choose a startup."), {"startup_id": _("Choose a startup.")})
    start = month_start(metrics_from) if metrics_from else cohort.starts_on.replace(day=1)
    await ensure_profile(startup)
    keys = await programme_metric_keys(programme.id)
    async with atomic():
        if await Enrolment.exists(cohort_id=cohort.id, startup_id=startup.id):
            raise Conflict(_("This startup has already been offered a place in this cohort."))
        enrolment = await Enrolment.create(
            cohort_id=cohort.id,
            startup_id=startup.id,
            enrolled_on=max(cohort.starts_on, timezone.now().date()),
            status=EnrolmentStatus.OFFERED,
            active=False,  # in the cohort only once accepted (perks, report requests)
            metrics=keys,
            metrics_from=start,
            offered_at=timezone.now(),
            offered_by_id=actor.id,
        )
        await audit.record(
            "incubator.enrolment_offered",
            actor=actor,
            target=startup,
            programme=programme.id,
            cohort=cohort.id,
        )
    return enrolment


async def enrol_admitted_application(
    actor: User, application: Application, cohort: Cohort, on: date
) -> Enrolment:
    """The startup applied and was admitted: its application is its consent. The programme
    reads its metrics from the month of enrolment on."""
    keys = await programme_metric_keys(cohort.programme_id)  # type: ignore[attr-defined]
    now = timezone.now()
    fields = {
        "status": EnrolmentStatus.ACCEPTED,
        "metrics": keys,
        "metrics_from": on.replace(day=1),
        "accepted_at": now,
        "declined_at": None,
        "left_at": None,
        "active": True,
        "decided_by_id": application.applicant_id,  # type: ignore[attr-defined]
    }
    enrolment = await Enrolment.get_or_none(
        cohort_id=cohort.id,
        startup_id=application.startup_id,  # type: ignore[attr-defined]
    )
    if enrolment is None:
        enrolment = await Enrolment.create(
            cohort_id=cohort.id,
            startup_id=application.startup_id,  # type: ignore[attr-defined]
            enrolled_on=on,
            offered_at=now,
            offered_by_id=actor.id,
            **fields,
        )
    elif enrolment.status == EnrolmentStatus.OFFERED:
        await Enrolment.filter(id=enrolment.id).update(**fields)
        await enrolment.refresh_from_db()
    return enrolment


async def offers_in(cohort: Cohort) -> list[Enrolment]:
    """Offers of the cohort not (or no longer) accepted: waiting, declined."""
    return (
        await Enrolment.filter(
            cohort_id=cohort.id,
            status__in=[EnrolmentStatus.OFFERED, EnrolmentStatus.DECLINED],
        )
        .select_related("startup")
        .order_by("startup__name")
    )


async def offers_of(startup: Organisation) -> list[Enrolment]:
    """Every enrolment of the startup, offers first, with programme and metric names."""
    found = (
        await Enrolment.filter(startup_id=startup.id)
        .prefetch_related("cohort__programme__organisation", "offered_by")
        .order_by("-id")
    )
    order = {"offered": 0, "accepted": 1, "left": 2, "declined": 3}
    return sorted(found, key=lambda e: (order.get(str(e.status.value), 9), -e.id))


async def metric_names(enrolments: list[Enrolment]) -> dict[int, list[str]]:
    """{enrolment id: names of the metrics it lets the programme read}."""
    programme_ids = {e.cohort.programme_id for e in enrolments}  # type: ignore[attr-defined]
    names: dict[tuple[int, str], str] = {
        (m.programme_id, m.key): m.name  # type: ignore[attr-defined]
        for m in await Metric.filter(programme_id__in=list(programme_ids))
    }
    return {
        e.id: [
            _(names[(e.cohort.programme_id, k)])
            if (e.cohort.programme_id, k) in names
            else humanise(k)
            for k in e.metrics or []
        ]  # type: ignore[attr-defined]
        for e in enrolments
    }


async def _enrolment(access: StartupAccess, enrolment_id: int) -> Enrolment:
    enrolment = await Enrolment.get_or_none(id=enrolment_id, startup_id=access.startup.id)
    if enrolment is None:
        raise NotFound(_("Not found."))
    return enrolment


def _ensure_may_answer(access: StartupAccess) -> None:
    if not access.can_answer_offers:
        raise NotPermitted(
            _("Only the startup's owners and admins, with a verified account, may answer this.")
        )


async def answer(actor: User, access: StartupAccess, enrolment_id: int, accept: bool) -> Enrolment:
    """Accept or decline an offer. Only an offer still waiting can be answered."""
    _ensure_may_answer(access)
    enrolment = await _enrolment(access, enrolment_id)
    now = timezone.now()
    change = (
        {"status": EnrolmentStatus.ACCEPTED, "accepted_at": now, "active": True}
        if accept
        else {"status": EnrolmentStatus.DECLINED, "declined_at": now, "active": False}
    )
    async with atomic():
        updated = await Enrolment.filter(id=enrolment.id, status=EnrolmentStatus.OFFERED).update(
            decided_by_id=actor.id, **change
        )
        if not updated:
            raise Conflict(_("This offer has already been answered."))
        await audit.record(
            "incubator.enrolment_accepted" if accept else "incubator.enrolment_declined",
            actor=actor,
            target=access.startup,
            enrolment=enrolment.id,
        )
    await enrolment.refresh_from_db()
    if accept:
        await materialise(now, await _programme_id(enrolment))
    return enrolment


async def _programme_id(enrolment: Enrolment) -> int:
    cohort = await Cohort.get(id=enrolment.cohort_id)  # type: ignore[attr-defined]
    return cohort.programme_id  # type: ignore[attr-defined]


async def leave(actor: User, access: StartupAccess, enrolment_id: int) -> Enrolment:
    """Leave a programme: it keeps what was reported so far and sees nothing new; its open
    report requests are cancelled."""
    _ensure_may_answer(access)
    enrolment = await _enrolment(access, enrolment_id)
    from incubator.models import ReportRequest, RequestStatus

    async with atomic():
        updated = await Enrolment.filter(id=enrolment.id, status=EnrolmentStatus.ACCEPTED).update(
            status=EnrolmentStatus.LEFT,
            left_at=timezone.now(),
            active=False,
            decided_by_id=actor.id,
        )
        if not updated:
            raise Conflict(_("The startup is not enrolled in this programme."))
        await ReportRequest.filter(
            enrolment_id=enrolment.id,
            status__in=[RequestStatus.OPEN, RequestStatus.DRAFT],
        ).update(status=RequestStatus.CANCELLED)
        await audit.record(
            "incubator.enrolment_left", actor=actor, target=access.startup, enrolment=enrolment.id
        )
    await enrolment.refresh_from_db()
    return enrolment
