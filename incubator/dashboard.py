"""The incubator's part of the kernel's personal dashboard and open indicators.

Panels: founders see their due KPI reports and milestones; mentors their mentees; managers
pending applications and late reports. Indicators: startups by stage and sector and the
share of milestones and reports on time, over public-directory startups only, with small
groups suppressed (ecosystem.indicators.suppress).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from ecosystem.disclosure import rounded_table
from ecosystem.i18n import _
from ecosystem.indicators import suppress
from ecosystem.labels import N_
from ecosystem.models import User
from ecosystem.packages import DashboardPanel
from incubator.models import (
    Application,
    ApplicationStatus,
    Enrolment,
    Milestone,
    MilestoneStatus,
    ReportRequest,
    RequestStatus,
    Sector,
    Stage,
    StartupProfile,
)
from incubator.permissions import managed_programme_ids
from incubator.services import applications, milestones, reports, startups

SOON_DAYS = 14

# Titles of the indicator keys for the kernel's ecosystem page (the JSON keeps the keys).
INDICATOR_TITLES = {
    "startups_in_directory": N_("Startups in the public directory"),
    "startups_by_stage": N_("Startups by stage"),
    "startups_by_sector": N_("Startups by sector"),
    "milestones_on_time_share": N_("Share of milestones done on time"),
    "reports_on_time_share": N_("Share of KPI reports sent on time"),
}


async def panel(user: User) -> DashboardPanel | None:
    today = reports.local_today()
    mine = await startups.my_startups(user)
    startup_ids = [s.id for s in mine]
    due_reports = (
        await ReportRequest.filter(
            startup_id__in=startup_ids, status__in=(RequestStatus.OPEN, RequestStatus.DRAFT)
        )
        .select_related("startup")
        .order_by("due_on")
        if startup_ids
        else []
    )
    due_milestones = (
        await Milestone.filter(
            enrolment__startup_id__in=startup_ids,
            status__in=(MilestoneStatus.PLANNED, MilestoneStatus.IN_PROGRESS),
            due_on__lte=today + timedelta(days=SOON_DAYS),
        )
        .select_related("enrolment__startup")
        .order_by("due_on")
        if startup_ids
        else []
    )
    mine_applied = await applications.my_applications(startup_ids)
    mentees = await milestones.mentees(user)
    managed = await managed_programme_ids(user)
    pending: list[Application] = []
    late: list[ReportRequest] = []
    if managed:
        pending = (
            await Application.filter(
                call__programme_id__in=managed, status=ApplicationStatus.SUBMITTED
            )
            .select_related("startup", "call")
            .order_by("id")
        )
        late = (
            await ReportRequest.filter(
                enrolment__cohort__programme_id__in=managed,
                status__in=(RequestStatus.OPEN, RequestStatus.DRAFT),
                due_on__lt=today,
            )
            .select_related("startup")
            .order_by("due_on")
        )
    if not (due_reports or due_milestones or mentees or pending or late or mine_applied):
        return None
    urgent = any(r.due_on <= today for r in due_reports) or any(
        m.due_on < today for m in due_milestones
    )
    return DashboardPanel(
        title=_("Incubator"),
        template="incubator/_dashboard.html",
        context={
            "due_reports": due_reports,
            "due_milestones": due_milestones,
            "mentees": mentees,
            "pending_applications": pending,
            "my_applications": mine_applied,
            "applicant_status": applications.applicant_status,
            "late_reports": late,
            "today": today,
        },
        urgent=urgent,
        order=20,
    )


async def indicators(start: date, end: date) -> dict[str, Any]:
    """Public-directory startups only: counts rounded to five (ecosystem.disclosure), shares
    only over enough startups."""
    profiles = await StartupProfile.filter(in_directory=True)
    public_ids = [p.organisation_id for p in profiles]  # type: ignore[attr-defined]
    by_stage = Counter(p.stage.value for p in profiles)
    by_sector = Counter(p.sector.value for p in profiles)
    enrolment_ids = await Enrolment.filter(startup_id__in=public_ids).values_list("id", flat=True)
    due = (
        await Milestone.filter(
            enrolment_id__in=list(enrolment_ids), due_on__gte=start, due_on__lt=end
        )
        .exclude(status=MilestoneStatus.DROPPED)
        .values_list("enrolment__startup_id", "due_on", "completed_on")
    )
    kept = sum(1 for _s, due_on, done in due if done is not None and done <= due_on)
    milestone_startups = len({s for s, _d, _c in due})
    requests = await ReportRequest.filter(
        enrolment_id__in=list(enrolment_ids),
        due_on__gte=start,
        due_on__lt=end,
        status__in=(
            RequestStatus.SUBMITTED,
            RequestStatus.SKIPPED,
            RequestStatus.OPEN,
            RequestStatus.DRAFT,
        ),
    ).values_list("startup_id", "due_on", "status", "submitted_at")
    on_time = 0
    for _s, due_on, status, submitted_at in requests:
        if status == RequestStatus.SKIPPED or (
            submitted_at is not None and reports.local_today(submitted_at) <= due_on
        ):
            on_time += 1
    report_startups = len({s for s, *_rest in requests})
    startups, startups_per_stage, startups_per_sector = rounded_table(  # empty groups too
        len(profiles),
        {stage.value: by_stage.get(stage.value, 0) for stage in Stage},
        {sector.value: by_sector.get(sector.value, 0) for sector in Sector},
    )
    return {
        "startups_in_directory": startups,
        "startups_by_stage": startups_per_stage,
        "startups_by_sector": startups_per_sector,
        "milestones_on_time_share": suppress(
            round(kept / len(due), 3) if due else None, milestone_startups
        ),
        "reports_on_time_share": suppress(
            round(on_time / len(requests), 3) if requests else None, report_startups
        ),
    }
