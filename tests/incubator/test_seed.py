"""The incubator's demo data: the Becamex 2018 cohort of nine startups, the Innovation
Center's 2020 programme, 12–24 months of KPI history, the demo people's roles, idempotence."""

from __future__ import annotations

from collections import Counter

from ecosystem.models import Membership, Organisation, Role, User
from ecosystem.seed import seed_kernel
from incubator import models
from incubator.models import (
    Cohort,
    Enrolment,
    Milestone,
    Programme,
    ReportRequest,
    RequestStatus,
)
from incubator.permissions import programme_access, startup_access
from incubator.seed import seed_incubator

MODELS = [
    models.Programme,
    models.ProgrammeRole,
    models.Cohort,
    models.Enrolment,
    models.StartupProfile,
    models.Milestone,
    models.ReportRequest,
    models.MentorAssignment,
    models.MentoringSession,
    models.ShareGrant,
    models.ApplicationCall,
]


async def test_the_demo_data_tells_the_story_of_the_issue(app):
    await seed_kernel()
    await seed_incubator()
    becamex = await Programme.get(slug="becamex-incubation-2018").select_related("organisation")
    assert becamex.organisation.slug == "becamex-business-incubator"
    cohort = await Cohort.get(programme_id=becamex.id)
    assert cohort.starts_on.year == 2018
    assert await Enrolment.filter(cohort_id=cohort.id).count() == 9
    center = await Programme.get(slug="innovation-center-2020").select_related("organisation")
    assert center.organisation.slug == "trung-tam-doi-moi-sang-tao"
    assert (await Cohort.get(programme_id=center.id)).starts_on.year == 2020

    manager = await User.get(email="manager@example.org")
    assert (await programme_access(manager, becamex)).manager
    assert not (await programme_access(manager, center)).manager

    founder = await User.get(email="founder@example.org")
    memberships = {
        m.organisation.slug: m.role
        for m in await Membership.filter(user_id=founder.id).select_related("organisation")
    }
    assert memberships == {"lumi-eiu": Role.OWNER, "airwatch": Role.MEMBER}
    lumi = await Organisation.get(slug="lumi-eiu")
    assert await Enrolment.exists(cohort_id=cohort.id, startup_id=lumi.id)
    access = await startup_access(founder, lumi)
    assert access.can_report and access.can_share

    history = Counter(
        await ReportRequest.filter(
            status__in=(RequestStatus.SUBMITTED, RequestStatus.SKIPPED)
        ).values_list("startup_id", flat=True)
    )
    assert len(history) == 12 and all(12 <= months <= 24 for months in history.values())
    assert history[lumi.id] == 24
    # The latest month waits for the founders, as the scheduler would have asked.
    assert await ReportRequest.filter(startup_id=lumi.id, status=RequestStatus.OPEN).count() == 1
    plan = await Milestone.filter(enrolment__startup_id=lumi.id)
    assert len(plan) >= 5 and {m.status for m in plan} >= {"done", "planned"}

    counts = [await model.all().count() for model in MODELS]
    await seed_kernel()
    await seed_incubator()
    assert [await model.all().count() for model in MODELS] == counts
