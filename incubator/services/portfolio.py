"""Portfolio dashboards (per startup, per cohort), the CSV export, and perks (lab credit)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotFound
from ecosystem.i18n import _, format_money
from ecosystem.inputs import whole_dong
from ecosystem.models import Organisation, User
from ecosystem.packages import CreditIssuer
from ecosystem.payments.models import AccountKind
from ecosystem.permissions import (
    ensure_verified_identity,
    ensure_verified_organisation,
    is_verified_organisation,
)
from ecosystem.services import audit
from ecosystem.tabular import Table
from incubator.models import (
    Cohort,
    Enrolment,
    EnrolmentStatus,
    Metric,
    Milestone,
    MilestoneStatus,
    Perk,
    PerkAward,
    Programme,
    ReportRequest,
    RequestStatus,
    StartupProfile,
)
from incubator.permissions import enrolment_covers, ensure_manager
from incubator.services.reports import local_today, reachable_startups


@dataclass
class StartupRow:
    enrolment: Enrolment
    profile: StartupProfile | None
    milestones_total: int = 0
    milestones_done: int = 0
    milestones_late: int = 0
    reports_due: int = 0
    reports_on_time: int = 0
    reports_late: int = 0
    reports_open: int = 0
    reports_corrected: int = 0
    reachable: bool = True  # someone to remind: an active member with a verified e-mail
    latest: dict[str, Any] = field(default_factory=dict)
    # Every submitted value the programme may read, per metric: [(period, value)] in order.
    history: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


@dataclass
class CohortDashboard:
    cohort: Cohort
    rows: list[StartupRow]
    metrics: list[Metric]
    by_stage: dict[str, int]
    milestones_on_time: float | None
    reports_on_time: float | None
    totals: dict[str, float]


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def cohort_dashboard(cohort: Cohort, today: date | None = None) -> CohortDashboard:
    """Aggregates of one cohort in a fixed number of queries, whatever its size."""
    today = today or local_today()
    # Only startups that accepted (or have left: what they reported while enrolled).
    enrolments = (
        await Enrolment.filter(
            cohort_id=cohort.id, status__in=[EnrolmentStatus.ACCEPTED, EnrolmentStatus.LEFT]
        )
        .select_related("startup")
        .order_by("startup__name")
    )
    startup_ids = [e.startup_id for e in enrolments]  # type: ignore[attr-defined]
    profiles = {
        p.organisation_id: p  # type: ignore[attr-defined]
        for p in await StartupProfile.filter(organisation_id__in=startup_ids)
    }
    rows = {e.id: StartupRow(e, profiles.get(e.startup_id)) for e in enrolments}  # type: ignore[attr-defined]
    milestone_due = milestone_kept = 0
    for enrolment_id, due_on, status, completed_on in await Milestone.filter(
        enrolment_id__in=list(rows)
    ).values_list("enrolment_id", "due_on", "status", "completed_on"):
        row = rows[enrolment_id]
        row.milestones_total += 1
        if status == MilestoneStatus.DONE:
            row.milestones_done += 1
        if status == MilestoneStatus.DROPPED:
            continue
        late = (completed_on > due_on) if completed_on else today > due_on
        row.milestones_late += int(late and status != MilestoneStatus.DONE)
        if due_on <= today or completed_on:
            milestone_due += 1
            milestone_kept += int(not late)
    report_due = report_kept = 0
    reports = (
        await ReportRequest.filter(enrolment_id__in=list(rows))
        .exclude(status=RequestStatus.CANCELLED)
        .order_by("period_start")
    )
    for report in reports:
        row = rows[report.enrolment_id]  # type: ignore[attr-defined]
        if report.status in (RequestStatus.OPEN, RequestStatus.DRAFT):
            row.reports_open += 1
            if today > report.due_on:
                row.reports_late += 1
                row.reports_due += 1
                report_due += 1
            continue
        row.reports_due += 1
        report_due += 1
        row.reports_corrected += int(report.corrected_at is not None)
        on_time = report.status == RequestStatus.SKIPPED or (
            report.submitted_at is not None and _local_day(report.submitted_at) <= report.due_on
        )
        row.reports_on_time += int(on_time)
        report_kept += int(on_time)
        if report.status == RequestStatus.SUBMITTED:
            covered = {
                key: value
                for key, value in (report.values or {}).items()
                if enrolment_covers(row.enrolment, key, report.period_start, report.submitted_at)
            }
            row.latest.update(covered)
            for key, value in covered.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    row.history.setdefault(key, []).append((report.period, value))
    reachable = await reachable_startups(startup_ids)
    for row in rows.values():
        row.reachable = row.enrolment.startup_id in reachable  # type: ignore[attr-defined]
    metrics = await Metric.filter(programme_id=cohort.programme_id).order_by("position")  # type: ignore[attr-defined]
    totals: dict[str, float] = defaultdict(float)
    for row in rows.values():
        for key, value in row.latest.items():
            totals[key] += value
    stages = Counter(p.stage.value for p in profiles.values())
    return CohortDashboard(
        cohort,
        list(rows.values()),
        list(metrics),
        dict(sorted(stages.items())),
        _share(milestone_kept, milestone_due),
        _share(report_kept, report_due),
        dict(totals),
    )


def _local_day(moment) -> date:
    from incubator.services.reports import local_today as today_of

    return today_of(moment)


def cohort_table(dashboard: CohortDashboard) -> Table:
    """The cohort dashboard as a table (CSV/.xlsx through ecosystem.tabular)."""
    keys = [m.key for m in dashboard.metrics]
    columns = [
        "startup_id",
        "startup",
        "stage",
        "sector",
        "milestones",
        "milestones_done",
        "milestones_late",
        "reports_due",
        "reports_on_time",
        "reports_open",
        *keys,
    ]
    rows = []
    for row in dashboard.rows:
        startup = row.enrolment.startup
        rows.append(
            [
                startup.id,
                startup.name,
                row.profile.stage.value if row.profile else None,
                row.profile.sector.value if row.profile else None,
                row.milestones_total,
                row.milestones_done,
                row.milestones_late,
                row.reports_due,
                row.reports_on_time,
                row.reports_open,
                *[row.latest.get(key) for key in keys],
            ]
        )
    return Table(columns=columns, rows=rows, sheet="cohort")


# --- perks: lab credit --------------------------------------------------------------------------


def perk_issuer_key(programme: Programme) -> str:
    """The programme's credit budget in the kernel's ledger (funded by platform admins)."""
    return f"incubator.programme:{programme.id}"


async def _ensure_issuer(actor: User, programme: Programme) -> None:
    """Issuing perks needs a verified manager and a verified host organisation (403)."""
    await ensure_manager(actor, programme)
    ensure_verified_identity(actor)
    ensure_verified_organisation(await Organisation.get_or_none(id=programme.organisation_id))  # type: ignore[attr-defined]


async def credit_issuers() -> list[CreditIssuer]:
    """Every programme, as an issuer of perks (for the platform admins' budgets page)."""
    programmes = await Programme.all().select_related("organisation").order_by("name")
    return [
        CreditIssuer(
            key=perk_issuer_key(p),
            name=p.name,
            organisation_name=p.organisation.name,
            organisation_verified=is_verified_organisation(p.organisation),
        )
        for p in programmes
    ]


async def perk_budget(programme: Programme) -> int:
    """What is left in the programme's credit budget."""
    from ecosystem.payments.services.ledger import budget_balance

    return await budget_balance(perk_issuer_key(programme))


async def create_perk(actor: User, programme: Programme, name: str, amount: str) -> Perk:
    """A perk of `amount` VND per startup: at most what the programme's budget holds now
    (422 beyond it; each grant is checked against the budget again)."""
    await _ensure_issuer(actor, programme)
    errors = {}
    if not name.strip():
        errors["name"] = _("Give a name.")
    value = whole_dong(amount, 1000, 10**10) or 0
    if not value:
        errors["amount"] = _("Give a whole amount of dong, at least 1,000.")
    if value:
        left = await perk_budget(programme)
        if value > left:
            errors["amount"] = _(
                "The programme's budget has %(left)s left: a perk cannot be worth more. "
                "A platform administrator can top the budget up.",
                left=format_money(left),
            )
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    return await Perk.create(programme=programme, name=name.strip()[:200], amount=value)


async def perks_of(programme: Programme) -> list[Perk]:
    return await Perk.filter(programme_id=programme.id).prefetch_related("awards").order_by("id")


async def grant_perk(actor: User, perk_id: int, cohort: Cohort) -> int:
    """Credit every enrolled, verified startup of the cohort with the perk, once each, out of
    the programme's budget. All or nothing: BudgetExceeded (409) if the budget cannot cover
    every startup still due, and nothing is granted. Returns how many startups were credited
    now (the ledger is idempotent on the reference too)."""
    from ecosystem.payments.services import ledger

    programme = cohort.programme
    await _ensure_issuer(actor, programme)
    perk = await Perk.get_or_none(id=perk_id, programme_id=programme.id)
    if perk is None:
        raise NotFound(_("Not found."))
    budget = await ledger.issuer_account(AccountKind.BUDGET, perk_issuer_key(programme))
    awarded = 0
    async with atomic():
        # 1. Lock the budget first: grants of this programme run one after the other.
        await ledger.lock_account(budget)
        # 2. Under the lock: who is still due (verified startups without this award).
        enrolments = (
            await Enrolment.filter(cohort_id=cohort.id, active=True)
            .select_related("startup")
            .order_by("startup_id")
        )
        done = set(await PerkAward.filter(perk_id=perk.id).values_list("startup_id", flat=True))
        due = [
            e.startup
            for e in enrolments
            if e.startup.id not in done and is_verified_organisation(e.startup)
        ]
        left = await perk_budget(programme)
        if perk.amount * len(due) > left:
            message = _(
                "The programme's budget has %(left)s left, not enough for %(n)d startups "
                "at %(amount)s each. A platform administrator can top it up.",
                left=format_money(left),
                n=len(due),
                amount=format_money(perk.amount),
            )
            raise ledger.BudgetExceeded(message)
        # 3. One award and one transfer per startup.
        for startup in due:
            await PerkAward.create(perk_id=perk.id, startup_id=startup.id, awarded_by_id=actor.id)
            await ledger.grant_credit(
                actor=actor,
                amount=perk.amount,
                reason=f"{programme.name}: {perk.name}",
                source=f"incubator:programme:{programme.id}",
                reference=f"perk:{perk.id}:{startup.id}",
                issuer_key=perk_issuer_key(programme),
                organisation=startup,
                currency=perk.currency,
            )
            awarded += 1
    await audit.record(
        "incubator.perk_granted", actor=actor, target=perk, cohort=cohort.id, startups=awarded
    )
    return awarded
