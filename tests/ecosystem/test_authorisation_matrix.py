"""Every role against every organisation and platform administration action, over HTTP.

Each cell states the exact status: anonymous visitors and deactivated accounts are sent
to sign in (303 to /login), everyone else who may not gets 403, and those who may get
the page (200) or the redirect after the change (303). Every cell also checks the
database: a refused action changed nothing, an allowed one did its work.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.routing import Match

from ecosystem.models import (
    Invitation,
    Membership,
    MembershipStatus,
    Organisation,
    Role,
    User,
    Verification,
)
from ecosystem.payments import routes as payment_routes
from ecosystem.routes import admin as admin_routes
from ecosystem.routes import media as media_routes
from ecosystem.routes import organisations as organisation_routes
from ecosystem.routes import security as security_routes
from ecosystem.services.accounts import deactivate_user
from tests.conftest import add_member, make_organisation, person

ROLES = [
    "anonymous",
    "unverified user",
    "plain user",
    "member",
    "org admin",
    "org owner",
    "platform admin",
    "deactivated",
    "unverified org admin",  # named admin of EIU, e-mail never verified
    "pending org owner",  # verified, owner of an organisation still waiting for verification
]


@dataclass
class World:
    eiu: Organisation  # verified, with a member, an admin, an owner and a join request
    pending: Organisation  # waiting for a platform admin
    draft: Organisation  # the pending organisation an unverified newcomer created
    target: Membership  # an ordinary member others act upon
    request: Membership  # a join request
    victim: User  # an account a platform admin may deactivate
    actors: dict[str, User | None]


async def build_world() -> World:
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", domains=("eiu.edu.vn",))
    admin = await person("admin@eiu.edu.vn")
    await add_member(admin, eiu, "admin")
    member = await person("member@eiu.edu.vn")
    await add_member(member, eiu, "member")
    gone = await person("gone@eiu.edu.vn")  # was an org admin, then deactivated
    await add_member(gone, eiu, "admin")
    target = await add_member(await person("target@eiu.edu.vn"), eiu, "member")
    applicant = await person("applicant@eiu.edu.vn")
    request = await Membership.create(
        user_id=applicant.id, organisation_id=eiu.id, status=MembershipStatus.REQUESTED
    )
    pending = await make_organisation(applicant, "Pending Lab", verified=False)
    newcomer = await person("new@example.com", verified=False)
    draft = await make_organisation(newcomer, "Newcomer Draft", verified=False)
    unverified_admin = await person("unverified-admin@eiu.edu.vn", verified=False)
    await add_member(unverified_admin, eiu, "admin")
    return World(
        eiu=eiu,
        pending=pending,
        draft=draft,
        target=target,
        request=request,
        victim=await person("victim@example.com"),
        actors={
            "anonymous": None,
            "unverified user": newcomer,
            "plain user": await person("plain@example.com"),
            "member": member,
            "org admin": admin,
            "org owner": owner,
            "platform admin": await person("admin@binhduong.gov.vn", admin=True),
            "deactivated": gone,
            "unverified org admin": unverified_admin,
            "pending org owner": applicant,
        },
    )


@dataclass
class Action:
    method: str
    url: Callable[[World], str]
    allowed: frozenset[str]
    success: int  # the status of an allowed request
    data: Callable[[World], dict] | None = None
    done: Callable[[World], Awaitable[bool]] | None = None  # did the change happen?
    # An organisation not verified yet is hidden (404) from all but its members and platform
    # admins; None: the target is public.
    visible_to: frozenset[str] | None = None


async def _renamed(w: World) -> bool:
    return (await Organisation.get(id=w.eiu.id)).name == "EIU renamed"


async def _invited(w: World) -> bool:
    return await Invitation.filter(email="guest@example.com").exists()


async def _promoted(w: World) -> bool:
    return (await Membership.get(id=w.target.id)).role == Role.ADMIN


async def _removed(w: World) -> bool:
    return (await Membership.get(id=w.target.id)).status == MembershipStatus.LEFT


async def _accepted(w: World) -> bool:
    return (await Membership.get(id=w.request.id)).status == MembershipStatus.ACTIVE


async def _verified(w: World) -> bool:
    return (await Organisation.get(id=w.pending.id)).verification == Verification.VERIFIED


async def _created(w: World) -> bool:
    # Whoever creates an organisation gets a pending draft, never a verified one.
    return await Organisation.filter(name="New Co", verification=Verification.PENDING).exists()


async def _pending_renamed(w: World) -> bool:
    return (await Organisation.get(id=w.pending.id)).name == "Pending renamed"


async def _draft_renamed(w: World) -> bool:
    return (await Organisation.get(id=w.draft.id)).name == "Draft renamed"


async def _invited_to_pending(w: World) -> bool:
    return await Invitation.filter(organisation_id=w.pending.id).exists()


async def _invited_to_draft(w: World) -> bool:
    return await Invitation.filter(organisation_id=w.draft.id).exists()


async def _victim_deactivated(w: World) -> bool:
    return not (await User.get(id=w.victim.id)).is_active


MANAGERS = frozenset({"org admin", "org owner"})
PLATFORM = frozenset({"platform admin"})
SIGNED_IN = frozenset(
    {
        "unverified user",
        "plain user",
        "member",
        "org admin",
        "org owner",
        "platform admin",
        "unverified org admin",
        "pending org owner",
    }
)

ACTIONS: dict[str, Action] = {
    "edit org": Action(
        "POST",
        lambda w: f"/organisations/{w.eiu.slug}/edit",
        MANAGERS,
        303,
        data=lambda w: {"name": "EIU renamed", "spheres": ["university"]},
        done=_renamed,
    ),
    "view members": Action(
        "GET",
        lambda w: f"/organisations/{w.eiu.slug}/members",
        MANAGERS | PLATFORM | {"member", "unverified org admin"},  # reading, not power
        200,
    ),
    "create org": Action(
        "POST",
        lambda w: "/organisations/new",
        SIGNED_IN,
        303,
        data=lambda w: {"name": "New Co", "spheres": ["startup"]},
        done=_created,
    ),
    "edit pending org": Action(
        "POST",
        lambda w: f"/organisations/{w.pending.slug}/edit",
        frozenset({"pending org owner"}),
        303,
        data=lambda w: {"name": "Pending renamed", "spheres": ["university"]},
        done=_pending_renamed,
        visible_to=frozenset({"pending org owner", "platform admin"}),
    ),
    "invite to pending org": Action(
        "POST",
        lambda w: f"/organisations/{w.pending.slug}/invitations",
        frozenset({"pending org owner"}),  # drafts are prepared together
        303,
        data=lambda w: {"email": "colleague@example.com", "role": "member"},
        done=_invited_to_pending,
        visible_to=frozenset({"pending org owner", "platform admin"}),
    ),
    "edit own draft (unverified)": Action(
        "POST",
        lambda w: f"/organisations/{w.draft.slug}/edit",
        frozenset({"unverified user"}),
        303,
        data=lambda w: {"name": "Draft renamed", "spheres": ["startup"]},
        done=_draft_renamed,
        visible_to=frozenset({"unverified user", "platform admin"}),
    ),
    "invite to own draft (unverified)": Action(
        "POST",
        lambda w: f"/organisations/{w.draft.slug}/invitations",
        frozenset(),  # an unverified account gives nobody a role, not even in its own draft
        303,
        data=lambda w: {"email": "friend@example.com", "role": "admin"},
        done=_invited_to_draft,
        visible_to=frozenset({"unverified user", "platform admin"}),
    ),
    "invite": Action(
        "POST",
        lambda w: f"/organisations/{w.eiu.slug}/invitations",
        MANAGERS,
        303,
        data=lambda w: {"email": "guest@example.com", "role": "member"},
        done=_invited,
    ),
    "change role": Action(
        "POST",
        lambda w: f"/organisations/{w.eiu.slug}/members/{w.target.id}",
        MANAGERS,
        303,
        data=lambda w: {"action": "role", "role": "admin"},
        done=_promoted,
    ),
    "remove member": Action(
        "POST",
        lambda w: f"/organisations/{w.eiu.slug}/members/{w.target.id}",
        MANAGERS,
        303,
        data=lambda w: {"action": "remove"},
        done=_removed,
    ),
    "answer join request": Action(
        "POST",
        lambda w: f"/organisations/{w.eiu.slug}/members/{w.request.id}",
        MANAGERS,
        303,
        data=lambda w: {"action": "accept"},
        done=_accepted,
    ),
    "verify org": Action(
        "POST",
        lambda w: f"/admin/organisations/{w.pending.id}/verification",
        PLATFORM,
        303,
        data=lambda w: {"state": "verified"},
        done=_verified,
    ),
    "deactivate user": Action(
        "POST",
        lambda w: f"/admin/users/{w.victim.id}",
        PLATFORM,
        303,
        data=lambda w: {"action": "deactivate"},
        done=_victim_deactivated,
    ),
    "read audit log": Action("GET", lambda w: "/admin/audit", PLATFORM, 200),
    "read outbox": Action("GET", lambda w: "/admin/outbox", PLATFORM, 200),
}

SIGNED_OUT = {"anonymous", "deactivated"}


def expected_status(role: str, action: Action) -> int:
    if role in SIGNED_OUT:
        return 303
    if role in action.allowed:
        return action.success
    if action.visible_to is not None and role not in action.visible_to:
        return 404
    return 403


# The kernel's routes for organisation managers and platform admins, read from the app's own
# route tables: each one is a cell row of this matrix or has its refusals tested in another
# file (named here with a text that file must contain). A new guarded route fails this test
# until someone says where its permissions are proven.
GUARDED_ROUTES = [
    *admin_routes.routes,
    *organisation_routes.routes,
    *media_routes.routes,
    *payment_routes.routes,  # /admin/budgets, the credit ledger's page
    *security_routes.routes,  # the organisation's two-factor policy
]
GUARDED_PATH = re.compile(r"^/admin(/|$)|^/organisations/\{slug\}/")
OPEN_TO_EVERYONE = {("POST", "/organisations/{slug}/join")}  # any signed-in person may ask
TESTED_ELSEWHERE = {
    ("GET", "/admin"): ("test_admin.py", 'session.get("/admin")'),
    ("GET", "/admin/users"): ("test_admin.py", 'session.get("/admin/users")'),
    ("GET", "/admin/outbox/{message_id:int}"): ("test_mail.py", '/admin/outbox/{message.id}")'),
    ("GET", "/organisations/{slug}/edit"): ("test_organisations.py", "/edit"),
    ("POST", "/organisations/{slug}/invitations/{invitation_id:int}/revoke"): (
        "test_memberships.py",
        "/revoke",
    ),
    ("POST", "/organisations/{slug}/logo"): ("test_media.py", "/logo"),
    ("GET", "/admin/budgets"): ("../payments/test_budgets.py", 'browser.get("/admin/budgets")'),
    ("POST", "/admin/budgets"): ("../payments/test_budgets.py", 'browser.post("/admin/budgets"'),
    ("POST", "/organisations/{slug}/second-factor-policy"): (
        "test_second_factor.py",
        "test_only_verified_owners_and_admins_may_set_the_policy",
    ),
    # Sign-in providers: anonymous, member and unverified admin refused, per route and method.
    ("GET", "/admin/identity-providers"): ("test_oidc_admin.py", '("/admin/identity-providers", f'),
    ("POST", "/admin/identity-providers"): ("test_oidc_admin.py", "browser.post(path, FORM)"),
    ("GET", "/admin/identity-providers/{provider_id:int}"): (
        "test_oidc_admin.py",
        'f"/admin/identity-providers/{row.id}")',
    ),
    ("POST", "/admin/identity-providers/{provider_id:int}"): (
        "test_oidc_admin.py",
        "browser.post(path, FORM)",
    ),
}


def _route_of(method: str, url: str) -> str:
    scope = {"type": "http", "method": method, "path": url, "root_path": ""}
    matches = [r.path for r in GUARDED_ROUTES if r.matches(scope)[0] == Match.FULL]
    assert len(matches) == 1, (method, url, matches)
    return matches[0]


def test_every_guarded_route_is_in_the_matrix_or_proven_elsewhere():
    allowed_anywhere = set().union(*(a.allowed for a in ACTIONS.values()))
    assert allowed_anywhere <= set(ROLES) - SIGNED_OUT
    sample = SimpleNamespace(
        eiu=SimpleNamespace(slug="eiu", id=1),
        pending=SimpleNamespace(id=2, slug="pending"),
        draft=SimpleNamespace(id=6, slug="draft"),
        target=SimpleNamespace(id=3),
        request=SimpleNamespace(id=4),
        victim=SimpleNamespace(id=5),
    )
    in_matrix = {(a.method, _route_of(a.method, a.url(sample))) for a in ACTIONS.values()}
    guarded = {
        (method, route.path)
        for route in GUARDED_ROUTES
        if GUARDED_PATH.match(route.path)
        for method in route.methods - {"HEAD"}
    } - OPEN_TO_EVERYONE
    assert guarded - in_matrix == set(TESTED_ELSEWHERE)
    for test_file, text in TESTED_ELSEWHERE.values():
        assert text in (Path(__file__).parent / test_file).read_text(), (test_file, text)


@pytest.mark.parametrize("action_name", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
async def test_role_against_action(new_browser, role, action_name):
    action = ACTIONS[action_name]
    world = await build_world()
    session = new_browser()
    actor = world.actors[role]
    if actor is not None:
        await session.login(actor.email)
    if role == "deactivated":
        await deactivate_user(world.actors["platform admin"], actor)
    url = action.url(world)

    if action.method == "GET":
        response = await session.get(url)
    else:
        response = await session.post(url, action.data(world) if action.data else {})

    assert response.status_code == expected_status(role, action), response.text[:300]
    if role in SIGNED_OUT:
        assert response.headers["location"].startswith("/login?next=/")
    elif role in action.allowed and action.method == "POST":
        assert response.headers["location"].startswith("/")
    if action.done is not None:
        assert await action.done(world) is (role in action.allowed and role not in SIGNED_OUT)
