"""Factories for the contest tests: a two-site contest, teams with entries, judges.

People are created directly (no password hashing, see tests.conftest.person); API tokens
come from the token service.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise import timezone

from ecosystem.models import Organisation, Verification
from ecosystem.services.tokens import create_token
from hackathon.models import (
    Contest,
    MemberStatus,
    Submission,
    SubmissionVersion,
    Team,
    TeamMember,
)
from hackathon.schemas import ContestIn
from hackathon.services import contests
from tests.conftest import add_member, person

SITES = [
    {"code": "vn", "name": "Bình Dương", "timezone": "Asia/Ho_Chi_Minh", "language": "vi"},
    {"code": "kr", "name": "Daejeon", "timezone": "Asia/Seoul", "language": "ko", "country": "KR"},
]
TRACKS = [
    {"code": "tourism", "name": "Tourism information"},
    {"code": "traffic", "name": "Traffic information"},
]


# Deadlines that put a contest in its judging phase now (both sites' submissions closed).
JUDGING_NOW = {"registration_in": timedelta(days=-3), "submission_in": timedelta(days=-1)}


async def make_org(name: str = "Smart City Office") -> Organisation:
    slug = name.lower().replace(" ", "-")
    return await Organisation.create(
        name=name, slug=slug, search_key=slug, verification=Verification.VERIFIED
    )


async def make_contest(
    organiser=None,
    *,
    slug: str = "smart-city-2018",
    registration_in: timedelta = timedelta(days=1),
    submission_in: timedelta = timedelta(days=2),
    judging_in: timedelta = timedelta(days=5),
    **fields,
) -> Contest:
    """A two-site contest (Vietnam, Korea) organised by `organiser` (a platform admin if
    none), with the default rubric, k=2 and a load cap of 10."""
    organiser = organiser or await person(f"organiser-{slug}@example.org", admin=True)
    now = timezone.now()
    data = ContestIn.model_validate(
        {
            "slug": slug,
            "title": fields.pop("title", "Smart City Initiative Contest"),
            "registration_closes_at": now + registration_in,
            "submission_closes_at": now + submission_in,
            "judging_closes_at": now + judging_in,
            "sites": fields.pop("sites", SITES),
            "tracks": fields.pop("tracks", TRACKS),
            "judges_per_entry": fields.pop("judges_per_entry", 2),
            "load_cap": fields.pop("load_cap", 10),
            "prizes": fields.pop(
                "prizes",
                [
                    {"name": "First prize, tourism", "track": "tourism", "amount": 20_000_000},
                    {"name": "First prize, traffic", "track": "traffic", "amount": 20_000_000},
                    {"name": "Public choice", "public_vote": True},
                ],
            ),
            **fields,
        }
    )
    contest = await contests.create_contest(organiser, data)
    contest.organiser = organiser  # type: ignore[attr-defined]
    return contest


async def make_team(
    contest: Contest,
    name: str,
    *,
    site: str = "vn",
    track: str = "tourism",
    members: tuple[str, ...] = (),
    organisation: Organisation | None = None,
    title: str | None = None,
) -> Team:
    """A team (members created as people) with an entry, written directly (no deadline)."""
    site_row = await contest.sites.filter(code=site).first()
    track_row = await contest.tracks.filter(code=track).first()
    team = await Team.create(
        contest_id=contest.id,
        name=name,
        site_id=site_row.id,
        track_id=track_row.id,
        organisation_id=organisation.id if organisation else None,
    )
    for i, email in enumerate(members):
        user = await person(email)
        await TeamMember.create(
            team_id=team.id,
            user_id=user.id,
            email=email,
            status=MemberStatus.ACTIVE,
            is_lead=i == 0,
        )
    if title is not None:
        submission = await Submission.create(
            contest_id=contest.id, team_id=team.id, title=title, summary=f"{title} summary"
        )
        await SubmissionVersion.create(
            submission_id=submission.id, version=1, data={"title": title}
        )
    return team


async def make_judge(contest: Contest, email: str, site: str = "", languages: str = "vi,en,ko"):
    user = await person(email)
    await contests.add_judge(contest.organiser, contest, email, site, languages)  # type: ignore[attr-defined]
    return user


async def bearer(user) -> dict[str, str]:
    _token, raw = await create_token(user, "test")
    return {"Authorization": f"Bearer {raw}"}


async def member_of(user, organisation: Organisation):
    return await add_member(user, organisation)
