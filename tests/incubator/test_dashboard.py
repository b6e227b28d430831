"""The incubator's providers for the kernel's personal dashboard and open indicators."""

from __future__ import annotations

from datetime import date, timedelta

from tortoise import timezone

from ecosystem.templating import environment
from incubator.dashboard import indicators, panel
from incubator.models import (
    Application,
    ApplicationCall,
    Milestone,
    MilestoneStatus,
    ReportRequest,
    RequestStatus,
    Sector,
    Stage,
    StartupProfile,
)
from incubator.services.reports import local_today
from tests.conftest import person
from tests.incubator.conftest import open_request, startup, world


def render(result) -> str:
    """As the kernel's /dashboard includes it: with the panel's `context`."""
    return environment.get_template(result.template).render(context=result.context)


async def test_panels_for_founders_mentors_managers_and_nobody(app):
    w = await world()
    today = local_today()
    await open_request(w.enrolment, "2026-10", due=today - timedelta(days=2))
    await Milestone.create(
        enrolment=w.enrolment, title="Pilot at EIU", due_on=today + timedelta(days=5)
    )
    await Milestone.create(
        enrolment=w.enrolment, title="Far away", due_on=today + timedelta(days=90)
    )
    call = await ApplicationCall.create(
        programme=w.programme, title="Call 2027", deadline=timezone.now() + timedelta(days=9)
    )
    applicant = await startup("AirWatch BD")
    await Application.create(call=call, startup=applicant)

    founder = await panel(w.founder)
    assert founder is not None and founder.urgent
    html = render(founder)
    assert "Lumi Smart Lighting · 2026-10" in html and "Pilot at EIU" in html
    assert "Far away" not in html

    mentor = await panel(w.mentor)
    assert mentor is not None and not mentor.urgent
    assert "Lumi Smart Lighting" in render(mentor)

    manager = render(await panel(w.manager))
    assert "AirWatch BD" in manager  # waiting for a decision
    assert "2026-10" in manager  # a late report

    assert await panel(w.stranger) is None
    assert await panel(await person("nobody@example.org")) is None


STAGES = [stage.value for stage in Stage]
SECTORS = [sector.value for sector in Sector]


async def test_indicators_use_directory_startups_and_round_small_groups(app):
    w = await world()
    start, end = date(2026, 1, 1), date(2027, 1, 1)
    result = await indicators(start, end)
    # One directory startup (GreenFarm): its counts round to 0, its share is not shown.
    assert result["startups_in_directory"] == 0
    assert result["startups_by_stage"] == dict.fromkeys(STAGES, 0)  # every stage, even empty
    assert result["milestones_on_time_share"] is None

    for index in range(3):
        made = await startup(f"Agri {index}", sector="agritech", stage="mvp", in_directory=True)
        enrolment = await w.cohort.enrolments.create(startup=made, enrolled_on=date(2026, 1, 1))
        await Milestone.create(
            enrolment=enrolment,
            title="M",
            due_on=date(2026, 5, 1),
            status=MilestoneStatus.DONE,
            completed_on=date(2026, 4, 28) if index else date(2026, 5, 9),
        )
        await ReportRequest.create(
            enrolment=enrolment,
            startup=made,
            period="2026-05",
            period_start=date(2026, 5, 1),
            due_on=date(2026, 6, 10),
            status=RequestStatus.SUBMITTED,
        )
    # The private startup's data never counts.
    await Milestone.create(enrolment=w.enrolment, title="Private", due_on=date(2026, 5, 1))
    result = await indicators(start, end)
    # 4 startups → 5; the stages add up to it (1 + 3 → 0 + 5): no cell is a blank that the
    # total gives away.
    assert result["startups_in_directory"] == 5
    assert result["startups_by_stage"] == {**dict.fromkeys(STAGES, 0), "mvp": 5}
    assert result["startups_by_sector"] == {**dict.fromkeys(SECTORS, 0), "agritech": 5}
    assert result["milestones_on_time_share"] == round(2 / 3, 3)
    assert result["reports_on_time_share"] == 0.0  # submitted_at unknown: not on time
    assert await StartupProfile.filter(in_directory=False).count() == 1
