"""Demo data: the Becamex Business Incubator's 2018 cohort of nine tech startups and the
provincial Innovation Center's 2020 programme, with milestone plans, 24 months of KPI
history, mentors, a consented share and an open call.

`manager@example.org` manages the Becamex programme; `founder@example.org` founded one of
its startups and is a member of a second one (in the Innovation Center's programme).
The startups are illustrative (the province's documents count them but do not name them).
Idempotent: nothing is added once the Becamex programme exists.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

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
from ecosystem.security import hash_password
from ecosystem.text import fold
from incubator import periods
from incubator.models import (
    ApplicationCall,
    CallStatus,
    Cohort,
    Enrolment,
    EnrolmentStatus,
    MentorAssignment,
    MentoringSession,
    MentorProfile,
    Metric,
    Milestone,
    MilestoneStatus,
    Perk,
    Programme,
    ProgrammeRole,
    ProgrammeRoleKind,
    ReportRequest,
    RequestStatus,
    Schedule,
    Sector,
    ShareGrant,
    Stage,
    StartupProfile,
)
from incubator.services.programmes import STANDARD_METRICS
from incubator.services.reports import local_today

BECAMEX_SLUG = "becamex-incubation-2018"
CENTER_SLUG = "innovation-center-2020"
DEMO_PASSWORD = "demo-pass-2026"

# slug, name, sector, stage, founded, description, base monthly revenue (VND), base users
BECAMEX_STARTUPS = [
    (
        "lumi-eiu",
        "Lumi Smart Lighting",
        Sector.SMART_CITY,
        Stage.EARLY_REVENUE,
        date(2017, 9, 1),
        "Adaptive street and campus lighting, piloted in the EIU Living Lab.",
        180_000_000,
        40,
    ),
    (
        "bd-traffic-ai",
        "BD Traffic AI",
        Sector.SMART_CITY,
        Stage.MVP,
        date(2018, 1, 15),
        "Real-time traffic information from camera feeds for the provincial operations centre.",
        60_000_000,
        1200,
    ),
    (
        "greenfarm-iot",
        "GreenFarm IoT",
        Sector.AGRITECH,
        Stage.EARLY_REVENUE,
        date(2017, 6, 1),
        "Soil and irrigation sensors for rubber and fruit farms in Binh Duong.",
        95_000_000,
        310,
    ),
    (
        "factorylink",
        "FactoryLink",
        Sector.MANUFACTURING,
        Stage.GROWTH,
        date(2016, 11, 1),
        "Machine monitoring for the VSIP and Becamex industrial parks.",
        420_000_000,
        85,
    ),
    (
        "edumaker",
        "EduMaker",
        Sector.EDUCATION,
        Stage.EARLY_REVENUE,
        date(2017, 3, 1),
        "STEM kits and maker courses for secondary schools.",
        70_000_000,
        2600,
    ),
    (
        "medi-queue",
        "MediQueue",
        Sector.HEALTH,
        Stage.MVP,
        date(2018, 2, 1),
        "Online queueing for district hospitals.",
        25_000_000,
        5400,
    ),
    (
        "logi-bd",
        "LogiBD",
        Sector.LOGISTICS,
        Stage.EARLY_REVENUE,
        date(2017, 8, 1),
        "Route planning for container trucks between the industrial parks and the ports.",
        150_000_000,
        120,
    ),
    (
        "pay-local",
        "PayLocal",
        Sector.FINTECH,
        Stage.PROTOTYPE,
        date(2018, 4, 1),
        "Cashless payments for market stalls and public services.",
        8_000_000,
        900,
    ),
    (
        "solar-roof",
        "SolarRoof BD",
        Sector.ENERGY,
        Stage.EARLY_REVENUE,
        date(2017, 10, 1),
        "Rooftop solar for factories, financed by energy savings.",
        260_000_000,
        30,
    ),
]
CENTER_STARTUPS = [
    (
        "tourbd",
        "TourBD",
        Sector.SOFTWARE,
        Stage.MVP,
        date(2019, 11, 1),
        "Tourism information app for the province (an idea from the 2017 hackathon).",
        12_000_000,
        3800,
    ),
    (
        "civic-hub",
        "CivicHub",
        Sector.SMART_CITY,
        Stage.PROTOTYPE,
        date(2020, 2, 1),
        "Citizen information on policies and procedures, in plain Vietnamese.",
        0,
        700,
    ),
    (
        "airwatch",
        "AirWatch BD",
        Sector.SMART_CITY,
        Stage.MVP,
        date(2019, 6, 1),
        "Low-cost air quality sensors and a public real-time board.",
        18_000_000,
        2100,
    ),
]
FOUNDER_STARTUP = "lumi-eiu"  # founder@ is its owner
FOUNDER_SECOND = "airwatch"  # founder@ is a member

MILESTONES = [
    ("Pilot with a first paying customer", "A signed pilot agreement and the first invoice paid."),
    (
        "Product-market fit interviews",
        "Twenty customer interviews written up and shared with the mentor.",
    ),
    ("Seed funding round", "Term sheet signed with at least one investor."),
    ("Hire a head of sales", "Contract signed; onboarding plan agreed."),
    ("Launch version 2", "Released to all customers; release notes published."),
    ("Break-even month", "Monthly revenue covers monthly costs."),
]


async def _user(email: str, name: str, password_hash: str) -> User:
    user, _created = await User.get_or_create(
        email=email,
        defaults={
            "full_name": name,
            "password_hash": password_hash,
            "email_verified_at": timezone.now(),
        },
    )
    return user


async def _startup(entry: tuple) -> Organisation:
    slug, name, sector, stage, founded, description, _revenue, _users = entry
    organisation, created = await Organisation.get_or_create(
        slug=slug,
        defaults={
            "name": name,
            "search_key": fold(name),
            "description": description,
            "city": "Thủ Dầu Một",
            "verification": Verification.VERIFIED,
        },
    )
    if created:
        await OrganisationSphere.create(organisation=organisation, sphere=Sphere.STARTUP)
    await StartupProfile.get_or_create(
        organisation_id=organisation.id,
        defaults={
            "sector": sector,
            "stage": stage,
            "founded_on": founded,
            "team_size": 4 + len(name) % 9,
            "in_directory": slug != "pay-local",
            "links": [f"https://{slug}.example.vn"],
        },
    )
    return organisation


async def _programme(
    host: Organisation,
    slug: str,
    name: str,
    description: str,
    schedule: Schedule,
    translations: dict[str, dict[str, str]] | None = None,
) -> Programme:
    """A programme whose name and description are Vietnamese, with `translations`."""
    programme = await Programme.create(
        organisation=host,
        slug=slug,
        name=name,
        description=description,
        schedule=schedule,
        content_locale="vi",
        translations=translations or {},
    )
    await Metric.bulk_create(
        [
            Metric(programme=programme, key=key, name=label, unit=unit, integer=integer, position=i)
            for i, (key, label, unit, integer) in enumerate(STANDARD_METRICS)
        ]
    )
    return programme


def _history(today: date, months: int) -> list[str]:
    last = periods.add_months(date(today.year, today.month, 1), -2)  # the month before last
    first = periods.add_months(last, -(months - 1))
    return periods.months_between(periods.month_of(first), periods.month_of(last))


async def _reports(
    enrolment: Enrolment, entry: tuple, history: list[str], rng: random.Random
) -> None:
    _slug, _name, _sector, _stage, _founded, _d, revenue, users = entry
    rows = []
    funding = 0
    for index, period in enumerate(history):
        start, end = periods.bounds(period)  # type: ignore[misc]
        due = end + timedelta(days=9)
        growth = 1 + 0.035 * index + rng.uniform(-0.05, 0.05)
        if index and rng.random() < 0.08:
            funding += rng.choice([500_000_000, 1_000_000_000, 2_000_000_000])
        skipped = index and rng.random() < 0.05
        late_days = rng.choice([-6, -3, -1, 0, 2, 5]) if not skipped else 0
        submitted_at = datetime.combine(due + timedelta(days=late_days), time(3), tzinfo=UTC)
        rows.append(
            ReportRequest(
                enrolment=enrolment,
                startup_id=enrolment.startup_id,  # type: ignore[attr-defined]
                period=period,
                period_start=start,
                due_on=due,
                schedule="monthly",
                status=RequestStatus.SKIPPED if skipped else RequestStatus.SUBMITTED,
                skip_reason="Tết holiday: the team was off." if skipped else "",
                values={}
                if skipped
                else {
                    "revenue": int(round(revenue * growth, -5)),
                    "users": int(users * (1 + 0.06 * index) + rng.randint(0, 20)),
                    "funding": funding,
                    "headcount": 4 + index // 4,
                },
                narrative="" if skipped else "Steady month; see the milestone comments.",
                submitted_at=None if skipped else submitted_at,
            )
        )
    await ReportRequest.bulk_create(rows)


async def _milestones(
    enrolment: Enrolment, owner: User | None, today: date, rng: random.Random
) -> None:
    rows = []
    for index, (title, done_when) in enumerate(MILESTONES):
        due = today + timedelta(days=60 * (index - 3) + rng.randint(-10, 10))
        if due < today - timedelta(days=20):
            status, completed = (
                MilestoneStatus.DONE,
                due + timedelta(days=rng.choice([-5, -2, 0, 4])),
            )
        elif due < today:
            status, completed = MilestoneStatus.IN_PROGRESS, None  # late
        else:
            status, completed = (
                (MilestoneStatus.IN_PROGRESS if index == 3 else MilestoneStatus.PLANNED),
                None,
            )
        rows.append(
            Milestone(
                enrolment=enrolment,
                title=title,
                due_on=due,
                owner_id=owner.id if owner else None,
                definition_of_done=done_when,
                status=status,
                completed_on=completed,
            )
        )
    await Milestone.bulk_create(rows)


async def seed_incubator() -> None:
    if await Programme.exists(slug=BECAMEX_SLUG):
        return
    rng = random.Random(2018)
    today = local_today()
    password_hash = hash_password(DEMO_PASSWORD)
    users = {
        u.email: u
        for u in await User.filter(
            email__in=["manager@example.org", "founder@example.org", "judge@example.org"]
        )
    }
    manager = users.get("manager@example.org") or await _user(
        "manager@example.org", "Phạm Thu Hà", password_hash
    )
    founder = users.get("founder@example.org") or await _user(
        "founder@example.org", "Lê Hoàng Nam", password_hash
    )
    mentor = await _user("mentor@example.org", "Đỗ Minh Quân", password_hash)
    await MentorProfile.get_or_create(
        user_id=mentor.id,
        defaults={
            "headline": "Former plant manager, industrial IoT",
            "expertise": "go-to-market, manufacturing, hardware",
            "bio": "Twenty years in the industrial parks of Binh Duong.",
        },
    )
    bbi = await Organisation.get_or_none(slug="becamex-business-incubator")
    center = await Organisation.get_or_none(slug="trung-tam-doi-moi-sang-tao")
    funder = await Organisation.get_or_none(slug="sokhcn-binh-duong")
    if bbi is None or center is None:
        return  # the kernel's partners are seeded first

    becamex = await _programme(
        bbi,
        BECAMEX_SLUG,
        "Chương trình ươm tạo Becamex (BBI)",
        "Chương trình của Vườn ươm Doanh nghiệp Becamex (BBI) tại Trường Đại học Quốc tế "
        "Miền Đông (EIU), vận hành theo mô hình quốc tế: báo cáo KPI hằng tháng, kế hoạch cột "
        "mốc và cố vấn đến từ các khu công nghiệp.",
        Schedule.MONTHLY,
        {
            "en": {
                "name": "Becamex Incubation Programme (BBI)",
                "description": "The Becamex Business Incubator's programme at EIU, run on an "
                "international model: monthly KPI reports, milestone plans, mentors from the "
                "industrial parks.",
            },
            "ko": {
                "name": "Becamex 인큐베이션 프로그램(BBI)",
                "description": "Becamex 비즈니스 인큐베이터가 동부국제대학교(EIU)에서 국제 "
                "모델로 운영하는 프로그램입니다. 매월 KPI 보고, 마일스톤 계획, 산업단지 출신 "
                "멘토가 함께합니다.",
            },
        },
    )
    innovation = await _programme(
        center,
        CENTER_SLUG,
        "Chương trình hỗ trợ khởi nghiệp 2020",
        "Chương trình của Trung tâm Đổi mới sáng tạo tỉnh Bình Dương hỗ trợ các sáng kiến "
        "cộng đồng và startup.",
        Schedule.MONTHLY,
        {
            "en": {
                "name": "Startup Support Programme 2020",
                "description": "The provincial Innovation Center's support programme for "
                "community initiatives and startups.",
            },
            "ko": {
                "name": "2020 스타트업 지원 프로그램",
                "description": "빈즈엉성 혁신센터가 지역 사회 이니셔티브와 스타트업을 "
                "지원하는 프로그램입니다.",
            },
        },
    )
    await ProgrammeRole.get_or_create(
        programme=becamex, user=manager, role=ProgrammeRoleKind.MANAGER
    )
    await ProgrammeRole.get_or_create(programme=becamex, user=mentor, role=ProgrammeRoleKind.MENTOR)
    await ProgrammeRole.get_or_create(
        programme=innovation, user=mentor, role=ProgrammeRoleKind.MENTOR
    )
    if judge := users.get("judge@example.org"):
        await ProgrammeRole.get_or_create(
            programme=innovation, user=judge, role=ProgrammeRoleKind.REVIEWER
        )

    cohort_2018 = await Cohort.create(
        programme=becamex, name="Khóa 2018", starts_on=date(2018, 3, 1)
    )
    cohort_2020 = await Cohort.create(
        programme=innovation, name="Khóa 2020", starts_on=date(2020, 9, 1)
    )
    history = _history(today, 24)
    for cohort, entries, months in (
        (cohort_2018, BECAMEX_STARTUPS, 24),
        (cohort_2020, CENTER_STARTUPS, 14),
    ):
        metric_keys = list(
            await Metric.filter(programme_id=cohort.programme_id)  # type: ignore[attr-defined]
            .order_by("position")
            .values_list("key", flat=True)
        )
        for entry in entries:
            startup = await _startup(entry)
            owner = None
            if entry[0] == FOUNDER_STARTUP:
                await Membership.get_or_create(
                    user_id=founder.id,
                    organisation_id=startup.id,
                    defaults={"role": Role.OWNER, "status": MembershipStatus.ACTIVE},
                )
                owner = founder
            elif entry[0] == FOUNDER_SECOND:
                await Membership.get_or_create(
                    user_id=founder.id,
                    organisation_id=startup.id,
                    defaults={"role": Role.MEMBER, "status": MembershipStatus.ACTIVE},
                )
            # Demo enrolments are accepted by the startup (every metric, from the start).
            enrolment = await Enrolment.create(
                cohort=cohort,
                startup=startup,
                enrolled_on=cohort.starts_on,
                status=EnrolmentStatus.ACCEPTED,
                metrics=metric_keys,
                metrics_from=cohort.starts_on.replace(day=1),
                offered_at=timezone.now(),
                accepted_at=timezone.now(),
            )
            await _reports(enrolment, entry, history[-months:], rng)
            await _milestones(enrolment, owner, today, rng)
            if entry[0] in (FOUNDER_STARTUP, "factorylink", "airwatch"):
                await MentorAssignment.create(enrolment=enrolment, mentor=mentor)
                await MentoringSession.create(
                    enrolment=enrolment,
                    mentor=mentor,
                    held_on=today - timedelta(days=12),
                    topics="Pricing for the pilot; which KPI the sponsor cares about.",
                    actions="Send the pilot proposal by Friday; add the users metric to the deck.",
                )
            if entry[0] == FOUNDER_STARTUP and funder is not None:
                await ShareGrant.create(
                    startup=startup,
                    grantee=funder,
                    metrics=["revenue", "headcount"],
                    period_from=history[-12],
                    period_to=history[-1],
                    expires_at=timezone.now() + timedelta(days=180),
                    created_by=founder,
                )
    await ApplicationCall.create(
        programme=innovation,
        title="Gọi hồ sơ khởi nghiệp đổi mới sáng tạo 2027",
        description="Dành cho startup có giải pháp thành phố thông minh cho Bình Dương: nộp "
        "hồ sơ kèm một bài thuyết trình ngắn.",
        content_locale="vi",
        translations={
            "en": {
                "title": "Call for innovative startups 2027",
                "description": "Startups with a smart-city solution for Binh Duong: apply with "
                "a short pitch.",
            },
            "ko": {
                "title": "2027 혁신 스타트업 모집",
                "description": "빈즈엉을 위한 스마트 시티 솔루션을 가진 스타트업을 모집합니다. "
                "간단한 피치 자료와 함께 지원하세요.",
            },
        },
        questions=[
            {"key": "problem", "label": "Which problem of the province do you solve?"},
            {"key": "traction", "label": "What traction do you have?"},
        ],
        documents=[{"key": "pitch", "label": "Pitch deck"}],
        criteria=[
            {"id": "team", "label": "Team", "weight": 3, "scale_min": 1, "scale_max": 5},
            {
                "id": "impact",
                "label": "Impact for the province",
                "weight": 2,
                "scale_min": 1,
                "scale_max": 5,
            },
            {"id": "traction", "label": "Traction", "weight": 1, "scale_min": 1, "scale_max": 5},
        ],
        deadline=timezone.now() + timedelta(days=45),
        status=CallStatus.OPEN,
    )
    # The latest month's requests are open now, as the scheduler would have opened them.
    from incubator.services.reports import materialise

    await materialise(timezone.now())


PERK_BUDGET = 30_000_000  # VND the platform admins put into the Becamex programme's budget
PERK_NAME = "Tín dụng phòng lab cho tạo mẫu (Lab credit for prototyping)"


async def seed_demo_perks() -> None:
    """The Becamex programme's demo perk, granted to its 2018 cohort out of a funded budget.

    Idempotent: the budget is funded once (a ledger reference), the perk created once, and a
    perk is granted at most once per startup.
    """
    from ecosystem.payments.services import ledger
    from incubator.services.portfolio import grant_perk, perk_issuer_key

    programme = await Programme.get_or_none(slug=BECAMEX_SLUG).select_related("organisation")
    manager = await User.get_or_none(email="manager@example.org")
    if programme is None or manager is None:
        return
    await ledger.fund(
        perk_issuer_key(programme),
        PERK_BUDGET,
        reason="Demo: the province's support for the Becamex programme",
        reference=f"demo:budget:{programme.slug}",
    )
    perk, _created = await Perk.get_or_create(
        programme=programme, name=PERK_NAME, defaults={"amount": 2_000_000}
    )
    cohort = await Cohort.filter(programme_id=programme.id).order_by("starts_on").first()
    if cohort is not None:
        cohort.programme = programme
        await grant_perk(manager, perk.id, cohort)
