"""Who may do what on a contest, per role: organiser (a contest role, or an admin of the
organising organisation), judge, team member, another signed-in person, nobody."""

from __future__ import annotations

import pytest

from ecosystem.models import Organisation, User, Verification
from hackathon import permissions
from hackathon.models import ContestRole, ContestRoleKind
from tests.conftest import add_member, person
from tests.hackathon.conftest import make_contest, make_judge, make_org, make_team

MANAGE_PAGES = ["/manage", "/manage/export/teams.csv", "/manage/export/scores.csv"]
MANAGE_ACTIONS = [
    "settings",
    "judges",
    "drop",
    "assign",
    "shortlist",
    "publish",
    "late",
    "conflict",
]


async def _world():
    office = await make_org("Smart City Office")
    contest = await make_contest(organisation_id=office.id)
    await make_team(contest, "Team A", members=("member@example.org",), title="Entry A")
    judge = await make_judge(contest, "judge.role@example.org")
    office_admin = await person("office.admin@example.org")
    await add_member(office_admin, office, "admin")
    office_member = await person("office.member@example.org")
    await add_member(office_member, office, "member")
    # Roles held by accounts whose e-mail was never verified: no power (DESIGN.md §3).
    unverified_judge = await person("unverified.judge@example.org", verified=False)
    await ContestRole.create(
        contest_id=contest.id, user_id=unverified_judge.id, role=ContestRoleKind.JUDGE
    )
    unverified_admin = await person("unverified.admin@example.org", verified=False)
    await add_member(unverified_admin, office, "admin")
    # The admin of an organisation still waiting for verification: a stranger here.
    pending_admin = await person("pending.admin@example.org")
    pending = await make_org("Pending Office")
    await Organisation.filter(id=pending.id).update(verification=Verification.PENDING)
    await add_member(pending_admin, pending, "admin")
    return contest, {
        "unverified_judge": unverified_judge,
        "unverified_admin": unverified_admin,
        "pending_admin": pending_admin,
        "organiser": contest.organiser,
        "office_admin": office_admin,
        "judge": judge,
        "member": await User.get(email="member@example.org"),
        "office_member": office_member,
        "stranger": await person("stranger.role@example.org"),
    }


@pytest.mark.parametrize(
    ("who", "manage", "see_ranking", "judge"),
    [
        ("organiser", True, True, False),
        ("office_admin", True, True, False),
        ("judge", False, False, True),
        ("member", False, False, False),
        ("office_member", False, False, False),
        ("stranger", False, False, False),
        ("unverified_judge", False, False, False),
        ("unverified_admin", False, False, False),
        ("pending_admin", False, False, False),
    ],
)
async def test_the_rules_per_role(app, who, manage, see_ranking, judge):
    contest, people = await _world()
    user = people[who]
    assert await permissions.allowed(user, "contest.manage", contest) is manage
    assert await permissions.allowed(user, "contest.see_ranking", contest) is see_ranking
    assert await permissions.allowed(user, "contest.judge", contest) is judge
    assert not await permissions.allowed(None, "contest.manage", contest)
    user.is_active = False
    assert not await permissions.allowed(user, "contest.manage", contest)


@pytest.mark.parametrize(
    "who",
    [
        "judge",
        "member",
        "office_member",
        "stranger",
        "unverified_judge",
        "unverified_admin",
        "pending_admin",
    ],
)
async def test_only_organisers_reach_the_organiser_pages_and_actions(new_browser, who):
    contest, people = await _world()
    browser = new_browser()
    await browser.login(people[who].email)
    for page in MANAGE_PAGES:
        response = await browser.get(f"/contests/{contest.slug}{page}")
        assert response.status_code == 403, page
    for action in MANAGE_ACTIONS:
        response = await browser.post(
            f"/contests/{contest.slug}/manage/{action}",
            {
                "judges_per_entry": "2",
                "load_cap": "5",
                "email": "x@example.org",
                "user_id": "1",
                "size": "1",
                "team_id": "1",
                "judge_id": "1",
                "until": "2030-01-01T00:00",
            },
        )
        assert response.status_code in (403, 404), (action, response.status_code)
        assert response.status_code == 403 or action in ("drop", "conflict", "late"), action


async def test_the_organisers_reach_them(new_browser):
    contest, people = await _world()
    for who in ("organiser", "office_admin"):
        browser = new_browser()
        await browser.login(people[who].email)
        for page in MANAGE_PAGES:
            response = await browser.get(f"/contests/{contest.slug}{page}")
            assert response.status_code == 200, (who, page)
    anonymous = new_browser()
    response = await anonymous.get(f"/contests/{contest.slug}/manage")
    assert response.status_code == 303 and "/login" in response.headers["location"]
