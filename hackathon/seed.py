"""Demo data of the contests (idempotent), from the province's documents (CONTEXT.md):

- the 2017 Binh Duong Hackathon (25–26 Nov 2017 at Eastern International University): apps
  for the provincial administration in four themes (tourism information, traffic
  information, citizen information on policies and procedures, real-time environment
  boards); scored and published with winners and certificates;
- the 2018 Smart City Initiative Contest (10–12 Oct 2018, during WTA 2018), run at two sites
  at once, Vietnam (Asia/Ho_Chi_Minh, vi) and Korea (Asia/Seoul, ko): 120 teams, 22 of them
  at the Korean site, 20 judges, every entry scored by three judges (not yet published);
- an open idea contest of 2026 in its judging phase, organised by organiser@example.org,
  where judge@example.org has an assignment queue with some entries already scored.

Runs after the kernel seed (its organisations and demo accounts). A contest whose slug
exists is left alone. Everything of size is written with bulk_create (fast `seed --demo`).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from tortoise import timezone

from ecosystem.db import atomic
from ecosystem.models import Organisation, User
from hackathon.assignment import Entry, Judge, assign_judges
from hackathon.models import (
    Contest,
    ContestRole,
    ContestRoleKind,
    Criterion,
    CurrentScore,
    JudgeAssignment,
    MemberStatus,
    Round,
    ScoreEvent,
    Site,
    Submission,
    SubmissionVersion,
    Team,
    TeamMember,
    Track,
)
from hackathon.schemas import ContestIn
from hackathon.services import contests, results

THEMES = [
    ("tourism", "Thông tin du lịch", "Thông tin du lịch cho du khách đến Bình Dương"),
    ("traffic", "Thông tin giao thông", "Thông tin giao thông và phương tiện công cộng"),
    (
        "citizen",
        "Thông tin chính sách, thủ tục hành chính",
        "Thông tin cho người dân về chính sách và thủ tục hành chính",
    ),
    (
        "environment",
        "Bảng thông số môi trường thời gian thực",
        "Bảng theo dõi môi trường, khí hậu và ô nhiễm theo thời gian thực",
    ),
]
# the themes in the partners' languages (content in several languages, issue 18)
THEME_TEXTS = {
    "tourism": {
        "en": {
            "name": "Tourism information",
            "description": "Tourism information for visitors of Binh Duong",
        },
        "ko": {"name": "관광 정보", "description": "빈즈엉을 찾는 방문객을 위한 관광 정보"},
    },
    "traffic": {
        "en": {
            "name": "Traffic information",
            "description": "Traffic and public transport information",
        },
        "ko": {"name": "교통 정보", "description": "도로 교통과 대중교통 정보"},
    },
    "citizen": {
        "en": {
            "name": "Policies and administrative procedures",
            "description": "Citizen information on policies and administrative procedures",
        },
        "ko": {
            "name": "정책·행정 절차 정보",
            "description": "정책과 행정 절차에 관한 시민 안내",
        },
    },
    "environment": {
        "en": {
            "name": "Real-time environment boards",
            "description": "Real-time environment, climate and pollution boards",
        },
        "ko": {
            "name": "실시간 환경 정보판",
            "description": "환경·기후·대기 오염 정보를 실시간으로 보여 주는 정보판",
        },
    },
}
RUBRIC = [
    {
        "code": "impact",
        "name": "Tác động",
        "weight": 3,
        "description": "Giá trị cho người dân và chính quyền tỉnh",
        "translations": {
            "en": {
                "name": "Impact",
                "description": "Value for the people and the government of the province",
            },
            "ko": {"name": "영향력", "description": "주민과 지방 정부에 주는 가치"},
        },
    },
    {
        "code": "innovation",
        "name": "Sáng tạo",
        "weight": 2,
        "description": "Tính mới của ý tưởng",
        "translations": {
            "en": {"name": "Innovation", "description": "Originality of the idea"},
            "ko": {"name": "혁신성", "description": "아이디어의 독창성"},
        },
    },
    {
        "code": "feasibility",
        "name": "Khả thi",
        "weight": 2,
        "description": "Có thể triển khai và vận hành",
        "translations": {
            "en": {"name": "Feasibility", "description": "Can it be built and run?"},
            "ko": {"name": "실현 가능성", "description": "실제로 구축하고 운영할 수 있는지"},
        },
    },
    {
        "code": "presentation",
        "name": "Trình bày",
        "weight": 1,
        "description": "Rõ ràng, thuyết phục",
        "translations": {
            "en": {"name": "Presentation", "description": "Clear and convincing"},
            "ko": {"name": "발표", "description": "명확하고 설득력 있는 발표"},
        },
    },
]


def _first_prizes(amount: int) -> list[dict]:
    """A first prize per theme, named in the three languages."""
    return [
        {
            "name": f"Giải nhất – {n}",
            "track": c,
            "amount": amount,
            "translations": {
                "en": {"name": f"First prize – {THEME_TEXTS[c]['en']['name']}"},
                "ko": {"name": f"대상 – {THEME_TEXTS[c]['ko']['name']}"},
            },
        }
        for c, n, _d in THEMES
    ]


TITLES = {
    "tourism": [
        "Bản đồ du lịch Bình Dương",
        "Hướng dẫn viên ảo",
        "Lễ hội trong tầm tay",
        "Ẩm thực Thủ Dầu Một",
        "Du lịch làng nghề sơn mài",
    ],
    "traffic": [
        "Xe buýt thông minh",
        "Bãi đỗ xe trống",
        "Cảnh báo kẹt xe",
        "Đi chung xe",
        "Đèn giao thông thích ứng",
    ],
    "citizen": [
        "Cổng thủ tục một chạm",
        "Trợ lý chính sách",
        "Hỏi đáp 1022",
        "Lịch hẹn hành chính",
        "Phản ánh hiện trường",
    ],
    "environment": [
        "Bảng chất lượng không khí",
        "Cảm biến ngập nước",
        "Bản đồ tiếng ồn",
        "Quan trắc nước sông Sài Gòn",
        "Khí hậu đô thị",
    ],
}
KOREAN_TITLES = [
    "Smart Parking Daejeon",
    "K-Tour Guide",
    "Air Quality Mesh",
    "Civic Chatbot",
    "Bus Arrival AI",
    "Flood Sensor Net",
]


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _users(
    prefix: str, count: int, names: list[str], password_hash: str, korean: int = 0
) -> list[User]:
    """Demo people `prefix01@example.org`…, created in one statement when missing; the first
    `korean` of them read Korean on Seoul's clock (the Korean site's people)."""
    emails = [f"{prefix}{i + 1:02d}@example.org" for i in range(count)]
    existing = {u.email: u for u in await User.filter(email__in=emails)}
    missing = [
        User(
            email=email,
            full_name=names[i % len(names)] + f" {i + 1}",
            password_hash=password_hash,
            email_verified_at=timezone.now(),
            locale="ko" if i < korean else "vi",
            timezone="Asia/Seoul" if i < korean else "Asia/Ho_Chi_Minh",
        )
        for i, email in enumerate(emails)
        if email not in existing
    ]
    if missing:
        await User.bulk_create(missing)
    found = {u.email: u for u in await User.filter(email__in=emails)}
    return [found[email] for email in emails]


async def _contest(organiser: User, office: Organisation | None, **spec) -> Contest:
    data = ContestIn.model_validate({"organisation_id": office.id if office else None, **spec})
    async with atomic():
        contest = await contests.create_contest(organiser, data)
    return contest


async def _teams(
    contest: Contest, plan: list[tuple[str, str, str, str]], leads: list[User], created: datetime
) -> list[Submission]:
    """plan: (team name, site code, track code, title); one lead member each, an entry."""
    sites = {s.code: s.id for s in await Site.filter(contest_id=contest.id)}
    tracks = {t.code: t.id for t in await Track.filter(contest_id=contest.id)}
    await Team.bulk_create(
        [
            Team(contest_id=contest.id, name=name, site_id=sites[site], track_id=tracks[track])
            for name, site, track, _title in plan
        ]
    )
    teams = {t.name: t for t in await Team.filter(contest_id=contest.id)}
    await TeamMember.bulk_create(
        [
            TeamMember(
                team_id=teams[name].id,
                user_id=lead.id,
                email=lead.email,
                status=MemberStatus.ACTIVE,
                is_lead=True,
            )
            for (name, *_rest), lead in zip(plan, leads, strict=True)
        ]
    )
    await Submission.bulk_create(
        [
            Submission(
                contest_id=contest.id,
                team_id=teams[name].id,
                title=title,
                summary=f"{title}: ứng dụng cho chính quyền và người dân Bình Dương.",
                problem="Người dân thiếu thông tin kịp thời.",
                solution="Ứng dụng di động và web dùng dữ liệu mở của tỉnh.",
            )
            for name, _site, _track, title in plan
        ]
    )
    submissions = await Submission.filter(contest_id=contest.id).order_by("id")
    await SubmissionVersion.bulk_create(
        [
            SubmissionVersion(
                submission_id=s.id,
                version=1,
                data={"title": s.title},
                author_id=None,
                created_at=created,
            )
            for s in submissions
        ]
    )
    return submissions


async def _judges(contest: Contest, judges: list[tuple[User, str | None, str]]) -> None:
    sites = {s.code: s.id for s in await Site.filter(contest_id=contest.id)}
    await ContestRole.bulk_create(
        [
            ContestRole(
                contest_id=contest.id,
                user_id=user.id,
                role=ContestRoleKind.JUDGE,
                site_id=sites[site] if site else None,
                languages=languages,
            )
            for user, site, languages in judges
        ]
    )


async def _assign_and_score(
    contest: Contest,
    rng: random.Random,
    *,
    score_share: float = 1.0,
    partial_for: int | None = None,
    partial_done: int = 0,
) -> None:
    """Assign with the real solver, then write finished scores to the log and projection.

    `partial_for` (a judge's user id) finishes only `partial_done` of that judge's entries.
    """
    round_ = await Round.get(contest_id=contest.id, number=1)
    criteria = await Criterion.filter(round_id=round_.id).order_by("position")
    submissions = await Submission.filter(contest_id=contest.id).select_related("team__site")
    roles = await ContestRole.filter(contest_id=contest.id, role=ContestRoleKind.JUDGE)
    site_codes = {s.id: s.code for s in await Site.filter(contest_id=contest.id)}
    result = assign_judges(
        [Entry(str(s.id), s.team.site.code, s.team.site.language) for s in submissions],
        [
            Judge(
                str(r.user_id),
                round_.load_cap,  # type: ignore[attr-defined]
                frozenset([site_codes[r.site_id]] if r.site_id else site_codes.values()),  # type: ignore[attr-defined]
                frozenset(r.languages.split(",")),
            )
            for r in roles
        ],
        round_.judges_per_entry,
        require_site=contest.require_site,
        require_language=contest.require_language,
    )
    pairs = sorted(result.pairs(), key=lambda p: (int(p[0]), int(p[1])))  # type: ignore[union-attr]
    quality = {s.id: rng.gauss(0, 1) for s in submissions}
    leniency = {r.user_id: rng.gauss(0, 1.2) for r in roles}  # type: ignore[attr-defined]
    spread = {r.user_id: rng.uniform(0.6, 1.6) for r in roles}  # type: ignore[attr-defined]
    done_count: dict[int, int] = {}
    now = timezone.now()
    assignments, events, current = [], [], []
    for judge_str, entry_str in pairs:
        judge_id, entry_id = int(judge_str), int(entry_str)
        finish = rng.random() < score_share
        if partial_for is not None and judge_id == partial_for:
            finish = done_count.get(judge_id, 0) < partial_done
        assignments.append(
            JudgeAssignment(
                round_id=round_.id,
                judge_id=judge_id,
                submission_id=entry_id,
                completed_at=now if finish else None,
            )
        )
        if not finish:
            continue
        done_count[judge_id] = done_count.get(judge_id, 0) + 1
        batch = uuid.uuid4().hex
        for criterion in criteria:
            middle = (criterion.scale_min + criterion.scale_max) / 2
            raw = middle + leniency[judge_id] + spread[judge_id] * 1.5 * quality[entry_id]
            raw += rng.gauss(0, 0.8)
            value = float(min(criterion.scale_max, max(criterion.scale_min, round(raw))))
            events.append(
                ScoreEvent(
                    round_id=round_.id,
                    judge_id=judge_id,
                    submission_id=entry_id,
                    criterion_id=criterion.id,
                    value=value,
                    previous=None,
                    batch=batch,
                )
            )
    await JudgeAssignment.bulk_create(assignments)
    await ScoreEvent.bulk_create(events, batch_size=500)
    for event in await ScoreEvent.filter(round_id=round_.id).order_by("id"):
        current.append(
            CurrentScore(
                round_id=round_.id,
                judge_id=event.judge_id,  # type: ignore[attr-defined]
                submission_id=event.submission_id,  # type: ignore[attr-defined]
                criterion_id=event.criterion_id,  # type: ignore[attr-defined]
                value=event.value,
                event_id=event.id,
            )
        )
    await CurrentScore.bulk_create(current, batch_size=500)


async def seed_contests() -> None:
    organiser = await User.get_or_none(email="organiser@example.org")
    judge = await User.get_or_none(email="judge@example.org")
    if organiser is None or judge is None:
        return  # the kernel seed has not run
    office = await Organisation.get_or_none(slug="smart-city-office")
    password_hash = organiser.password_hash
    rng = random.Random(2018)
    tracks = [
        {"code": c, "name": n, "description": d, "translations": THEME_TEXTS[c]}
        for c, n, d in THEMES
    ]

    if not await Contest.exists(slug="hackathon-binh-duong-2017"):
        contest = await _contest(
            organiser,
            office,
            slug="hackathon-binh-duong-2017",
            title="Hackathon Bình Dương 2017",
            kind="hackathon",
            description="Thiết kế ứng dụng quản lý nhà nước cho Bình Dương (di động hoặc web), "
            "25–26/11/2017 tại Trường Đại học Quốc tế Miền Đông (EIU).",
            eligibility="Sinh viên và lập trình viên, đội 2–5 người.",
            translations={
                "en": {
                    "title": "Binh Duong Hackathon 2017",
                    "description": "Design apps for the provincial administration of Binh "
                    "Duong (mobile or web), 25–26 Nov 2017 at Eastern International "
                    "University (EIU).",
                    "eligibility": "Students and developers, teams of 2–5.",
                },
                "ko": {
                    "title": "2017 빈즈엉 해커톤",
                    "description": "빈즈엉 성 행정을 위한 앱(모바일 또는 웹)을 설계합니다. "
                    "2017년 11월 25~26일, 동부국제대학교(EIU)에서 열립니다.",
                    "eligibility": "대학생과 개발자, 2~5명으로 구성된 팀",
                },
            },
            registration_closes_at=_utc(2017, 11, 20, 10),
            submission_closes_at=_utc(2017, 11, 26, 5),
            judging_closes_at=_utc(2017, 11, 26, 9),
            team_min=2,
            team_max=5,
            judges_per_entry=3,
            load_cap=16,
            sites=[
                {
                    "code": "eiu",
                    "name": "EIU, Thủ Dầu Một",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "language": "vi",
                }
            ],
            tracks=tracks,
            prizes=_first_prizes(30_000_000),
            criteria=RUBRIC,
        )
        leads = await _users(
            "hackathon2017-", 16, ["Nguyễn Văn", "Trần Thị", "Lê Minh"], password_hash
        )
        plan = [
            (f"Đội {i + 1:02d}", "eiu", THEMES[i % 4][0], TITLES[THEMES[i % 4][0]][i // 4])
            for i in range(16)
        ]
        await _teams(contest, plan, leads, _utc(2017, 11, 26, 3))
        jury = await _users("jury2017-", 5, ["Phạm Quốc", "Đỗ Thu"], password_hash)
        await _judges(contest, [(u, None, "vi,en") for u in jury])
        await _assign_and_score(contest, rng)
        shown = await results.preview(organiser, contest)
        await results.publish(organiser, contest, confirm=shown.token, notify=False)
        await Contest.filter(id=contest.id).update(results_published_at=_utc(2017, 11, 26, 10))

    if not await Contest.exists(slug="smart-city-initiative-2018"):
        contest = await _contest(
            organiser,
            office,
            slug="smart-city-initiative-2018",
            title="Cuộc thi Sáng kiến xây dựng Thành phố thông minh Bình Dương 2018",
            kind="idea",
            description="Smart City Initiative Contest 2018, trong khuôn khổ WTA 2018 "
            "(10–12/10/2018): khoảng 120 đội Việt Nam và quốc tế, thi đồng thời tại hai điểm.",
            eligibility="Đội 1–5 người: sinh viên, người dân, doanh nghiệp khởi nghiệp.",
            translations={
                "en": {
                    "title": "Binh Duong Smart City Initiative Contest 2018",
                    "description": "Smart City Initiative Contest 2018, part of WTA 2018 "
                    "(10–12 Oct 2018): about 120 teams from Vietnam and abroad, competing at "
                    "two sites at once.",
                    "eligibility": "Teams of 1–5: students, residents and startups.",
                },
                "ko": {
                    "title": "2018 빈즈엉 스마트 시티 아이디어 공모전",
                    "description": "WTA 2018(2018년 10월 10~12일)과 함께 열리는 스마트 시티 "
                    "아이디어 공모전입니다. 베트남과 해외의 약 120개 팀이 두 개최지에서 동시에 "
                    "경쟁합니다.",
                    "eligibility": "1~5명으로 구성된 팀: 대학생, 시민, 스타트업",
                },
            },
            registration_closes_at=_utc(2018, 9, 20, 10),
            submission_closes_at=_utc(2018, 10, 10, 10),
            judging_closes_at=_utc(2018, 10, 12, 10),
            team_min=1,
            team_max=5,
            judges_per_entry=3,
            load_cap=24,
            require_site=True,
            blind=True,
            sites=[
                {
                    "code": "vn",
                    "name": "Bình Dương, Việt Nam",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "language": "vi",
                    "country": "VN",
                },
                {
                    "code": "kr",
                    "name": "Daejeon, Korea",
                    "timezone": "Asia/Seoul",
                    "language": "ko",
                    "country": "KR",
                },
            ],
            tracks=tracks,
            prizes=_first_prizes(50_000_000)
            + [
                {
                    "name": "Giải bình chọn",
                    "public_vote": True,
                    "amount": 10_000_000,
                    "translations": {
                        "en": {"name": "Public choice award"},
                        "ko": {"name": "인기상"},
                    },
                }
            ],
            criteria=RUBRIC,
        )
        leads = await _users(
            "smartcity2018-",
            120,
            ["Nguyễn", "Trần", "Lê", "Phạm", "Kim", "Park"],
            password_hash,
            korean=22,  # the leads of the 22 Korean teams (the first 22 of the plan)
        )
        plan = []
        for i in range(120):
            korean = i < 22
            track = THEMES[i % 4][0]
            title = (
                KOREAN_TITLES[i % len(KOREAN_TITLES)] if korean else TITLES[track][i % 5]
            ) + f" #{i + 1}"
            plan.append(
                (
                    f"{'Team KR' if korean else 'Đội VN'} {i + 1:03d}",
                    "kr" if korean else "vn",
                    track,
                    title,
                )
            )
        await _teams(contest, plan, leads, _utc(2018, 10, 10, 3))
        jury = await _users(
            "jury2018-", 20, ["Hoàng", "Vũ", "Lee", "Choi"], password_hash, korean=5
        )  # the first five judge at the Korean site
        await _judges(
            contest,
            [
                (u, "kr" if i < 5 else "vn", "ko,en" if i < 5 else "vi,en")
                for i, u in enumerate(jury)
            ],
        )
        await _assign_and_score(contest, rng)

    if not await Contest.exists(slug="innovation-challenge-2026"):
        now = timezone.now()
        contest = await _contest(
            organiser,
            office,
            slug="innovation-challenge-2026",
            title="Thử thách Đổi mới sáng tạo Bình Dương 2026",
            kind="idea",
            description="Ý tưởng cho Vùng đổi mới sáng tạo Bình Dương: dịch vụ công, "
            "môi trường, giao thông, du lịch.",
            translations={
                "en": {
                    "title": "Binh Duong Innovation Challenge 2026",
                    "description": "Ideas for the Binh Duong innovation region: public "
                    "services, environment, traffic, tourism.",
                },
                "ko": {
                    "title": "2026 빈즈엉 혁신 챌린지",
                    "description": "빈즈엉 혁신 지역을 위한 아이디어: 공공 서비스, 환경, "
                    "교통, 관광",
                },
            },
            registration_closes_at=now - timedelta(days=10),
            submission_closes_at=now - timedelta(days=1),
            judging_closes_at=now + timedelta(days=14),
            judges_per_entry=2,
            load_cap=8,
            sites=[
                {
                    "code": "vn",
                    "name": "Trung tâm Đổi mới sáng tạo Bình Dương",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "language": "vi",
                }
            ],
            tracks=tracks,
            prizes=_first_prizes(20_000_000),
            criteria=RUBRIC,
        )
        leads = await _users("challenge2026-", 12, ["Nguyễn", "Trần", "Lê"], password_hash)
        plan = [
            (f"Nhóm {i + 1:02d}", "vn", THEMES[i % 4][0], TITLES[THEMES[i % 4][0]][i // 4])
            for i in range(12)
        ]
        await _teams(contest, plan, leads, now - timedelta(days=2))
        jury = [judge, *await _users("jury2026-", 2, ["Đặng", "Bùi"], password_hash)]
        await _judges(contest, [(u, None, "vi,en,ko") for u in jury])
        await _assign_and_score(contest, rng, score_share=0.5, partial_for=judge.id, partial_done=3)
