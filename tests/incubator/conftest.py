"""Factories for the incubator tests: a programme with its people, startups, grants.

`world()` builds, in a few dozen inserts, everyone the permission matrix speaks of: a
startup's member (founder), another startup's founder, the programme's manager and mentor,
a grantee organisation in scope, one whose grant covers another startup (out of scope), a
revoked grantee, and a platform outsider. People sign in with tests.conftest.PASSWORD.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise import timezone

from ecosystem.models import (
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from ecosystem.services.tokens import create_token
from incubator.models import (
    Cohort,
    Enrolment,
    EnrolmentStatus,
    MentorAssignment,
    Metric,
    Programme,
    ProgrammeRole,
    ProgrammeRoleKind,
    ReportRequest,
    RequestStatus,
    ShareGrant,
    StartupProfile,
)
from incubator.services.programmes import STANDARD_METRICS
from tests.conftest import person


async def organisation(name: str, *spheres: Sphere) -> Organisation:
    slug = name.lower().replace(" ", "-")
    org = await Organisation.create(
        name=name, slug=slug, search_key=slug, verification=Verification.VERIFIED
    )
    for sphere in spheres or (Sphere.ENTERPRISE,):
        await OrganisationSphere.create(organisation=org, sphere=sphere)
    return org


async def member(user: User, org: Organisation, role: Role = Role.MEMBER) -> Membership:
    return await Membership.create(
        user_id=user.id, organisation_id=org.id, role=role, status=MembershipStatus.ACTIVE
    )


async def startup(name: str, founder: User | None = None, **profile) -> Organisation:
    org = await organisation(name, Sphere.STARTUP)
    await StartupProfile.create(organisation=org, **profile)
    if founder is not None:
        await member(founder, org, Role.OWNER)
    return org


async def programme(host: Organisation, name: str = "BBI Programme", **fields) -> Programme:
    made = await Programme.create(
        organisation=host, name=name, slug=name.lower().replace(" ", "-"), **fields
    )
    await Metric.bulk_create(
        [
            Metric(programme=made, key=key, name=label, unit=unit, integer=integer, position=i)
            for i, (key, label, unit, integer) in enumerate(STANDARD_METRICS)
        ]
    )
    return made


async def bearer(user: User) -> dict[str, str]:
    _token, plaintext = await create_token(user, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


def month_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


async def submitted(enrolment: Enrolment, period: str, values: dict, due: date | None = None):
    start = month_start(period)
    return await ReportRequest.create(
        enrolment=enrolment,
        startup_id=enrolment.startup_id,  # type: ignore[attr-defined]
        period=period,
        period_start=start,
        due_on=due or start + timedelta(days=40),
        status=RequestStatus.SUBMITTED,
        values=values,
        submitted_at=timezone.now(),
    )


async def open_request(enrolment: Enrolment, period: str, due: date | None = None):
    start = month_start(period)
    return await ReportRequest.create(
        enrolment=enrolment,
        startup_id=enrolment.startup_id,  # type: ignore[attr-defined]
        period=period,
        period_start=start,
        due_on=due or start + timedelta(days=40),
    )


async def accepted_enrolment(
    cohort: Cohort, startup: Organisation, enrolled_on: date = date(2026, 1, 1), **fields
) -> Enrolment:
    """An enrolment the startup accepted: the programme reads every standard metric."""
    values = {
        "status": EnrolmentStatus.ACCEPTED,
        "metrics": [key for key, *_rest in STANDARD_METRICS],
        "accepted_at": timezone.now(),
        **fields,
    }
    return await Enrolment.create(cohort=cohort, startup=startup, enrolled_on=enrolled_on, **values)


@dataclass
class World:
    host: Organisation
    programme: Programme
    cohort: Cohort
    startup: Organisation  # founder's, in the programme, not in the directory
    other: Organisation  # other founder's, in the programme, in the directory
    enrolment: Enrolment
    other_enrolment: Enrolment
    founder: User
    other_founder: User
    manager: User
    mentor: User
    grantee: User  # member of an organisation with a live grant on `startup`
    outsider_grantee: User  # its organisation's grant covers `other` only
    revoked_grantee: User
    stranger: User
    grant: ShareGrant
    people: dict[str, User | None]


async def world(enrolled_on: date = date(2026, 1, 1)) -> World:
    founder = await person("founder@lumi.vn", name="Lê Hoàng Nam")
    other_founder = await person("founder@greenfarm.vn", name="Trần Thị Mai")
    manager = await person("manager@bbi.vn", name="Phạm Thu Hà")
    mentor = await person("mentor@bbi.vn", name="Đỗ Minh Quân")
    grantee = await person("officer@sokhcn.gov.vn", name="Nguyễn Văn An")
    outsider = await person("analyst@fund.vn", name="Kim Min-jun")
    revoked = await person("partner@vc.vn", name="Hoàng Lan")
    stranger = await person("student@eiu.edu.vn", name="Nguyễn Thị Lan")
    host = await organisation("Becamex Business Incubator", Sphere.ENTERPRISE)
    prog = await programme(host)
    cohort = await Cohort.create(programme=prog, name="Khóa 2026", starts_on=enrolled_on)
    await ProgrammeRole.create(programme=prog, user=manager, role=ProgrammeRoleKind.MANAGER)
    await ProgrammeRole.create(programme=prog, user=mentor, role=ProgrammeRoleKind.MENTOR)
    lumi = await startup("Lumi Smart Lighting", founder, sector="smart_city", stage="mvp")
    green = await startup(
        "GreenFarm IoT", other_founder, sector="agritech", stage="growth", in_directory=True
    )
    enrolment = await accepted_enrolment(cohort, lumi, enrolled_on)
    other_enrolment = await accepted_enrolment(cohort, green, enrolled_on)
    await MentorAssignment.create(enrolment=enrolment, mentor=mentor)
    funder = await organisation("Sở Khoa học và Công nghệ", Sphere.GOVERNMENT)
    fund = await organisation("Mekong Fund", Sphere.INVESTOR)
    vc = await organisation("Saigon Ventures", Sphere.INVESTOR)
    await member(grantee, funder)
    await member(outsider, fund)
    await member(revoked, vc)
    later = timezone.now() + timedelta(days=90)
    grant = await ShareGrant.create(
        startup=lumi,
        grantee=funder,
        metrics=["revenue"],
        period_from="2026-01",
        period_to="2026-06",
        expires_at=later,
        created_by=founder,
    )
    await ShareGrant.create(
        startup=green,
        grantee=fund,
        metrics=["revenue"],
        period_from="2026-01",
        period_to="2026-12",
        expires_at=later,
        created_by=other_founder,
    )
    await ShareGrant.create(
        startup=lumi,
        grantee=vc,
        metrics=["revenue", "users"],
        period_from="2026-01",
        period_to="2026-12",
        expires_at=later,
        revoked_at=datetime(2026, 3, 1, tzinfo=UTC),
        created_by=founder,
    )
    people: dict[str, User | None] = {
        "member": founder,
        "other_founder": other_founder,
        "manager": manager,
        "mentor": mentor,
        "grantee": grantee,
        "grantee_out_of_scope": outsider,
        "revoked_grantee": revoked,
        "stranger": stranger,
        "anonymous": None,
    }
    return World(
        host,
        prog,
        cohort,
        lumi,
        green,
        enrolment,
        other_enrolment,
        founder,
        other_founder,
        manager,
        mentor,
        grantee,
        outsider,
        revoked,
        stranger,
        grant,
        people,
    )
