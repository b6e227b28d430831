"""List pages run a constant number of SQL statements, whatever the number of rows.

Each test measures a page with 3 rows, adds 37 more, measures again, and asks for the same
count (and a small absolute bound). An N+1 (a relation fetched per row) fails it at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from tortoise import timezone

from ecosystem import cache
from ecosystem.models import (
    AuditEvent,
    Invitation,
    MediaFile,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationDomain,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from ecosystem.packages import load_packages
from ecosystem.services.organisations import DIRECTORY_CACHE
from ecosystem.settings import get_settings
from ecosystem.text import fold
from tests.conftest import api_token, person

SMALL, LARGE = 3, 40


async def extra_users(start: int, stop: int) -> list[User]:
    """Rows for lists: created directly (no password hashing), none of them signs in."""
    await User.bulk_create(
        [
            User(email=f"user{n:03d}@example.vn", full_name=f"User {n:03d}", password_hash="x")
            for n in range(start, stop)
        ]
    )
    return await User.filter(email__startswith="user").order_by("email")


async def organisations(
    start: int, stop: int, verification: Verification = Verification.VERIFIED
) -> list[Organisation]:
    """Organisations with two spheres, an email domain and (every other one) a logo."""
    created = []
    for n in range(start, stop):
        logo = None
        if n % 2:
            logo = await MediaFile.create(
                purpose="logo", content_type="image/webp", width=64, height=64, size_bytes=100
            )
        name = f"Partner {n:03d} ({verification.value})"
        created.append(
            await Organisation.create(
                name=name,
                slug=f"partner-{n:03d}-{verification.value}",
                search_key=fold(name),
                verification=verification,
                logo=logo,
            )
        )
    await OrganisationSphere.bulk_create(
        [
            OrganisationSphere(organisation_id=o.id, sphere=sphere)
            for o in created
            for sphere in (Sphere.ENTERPRISE, Sphere.UNIVERSITY)
        ]
    )
    await OrganisationDomain.bulk_create(
        [OrganisationDomain(organisation_id=o.id, domain=f"{o.slug}.example.vn") for o in created]
    )
    return created


async def counted(count_queries, fetch: Callable[[], Awaitable[httpx.Response]]):
    # Rows are inserted directly, behind the services' backs: measure the uncached path.
    await cache.invalidate(DIRECTORY_CACHE)
    with count_queries() as queries:
        response = await fetch()
    assert response.status_code == 200, response.text[:300]
    return len(queries.statements), response, queries.statements


def assert_constant(small: int, large: int, bound: int, statements: list[str]) -> None:
    assert small == large, "\n".join(statements)
    assert large <= bound, "\n".join(statements)


# --- the partner directory -------------------------------------------------------------------


@pytest.mark.usefixtures("english")  # asserts the English count line
async def test_directory_page_and_fragment(browser, count_queries):
    await organisations(0, SMALL)
    await organisations(100, 100 + SMALL, Verification.PENDING)  # never listed
    page = lambda: browser.get("/organisations")  # noqa: E731
    fragment = lambda: browser.get("/organisations", headers={"HX-Request": "true"})  # noqa: E731
    searched = lambda: browser.get("/organisations?q=partner&sphere=university")  # noqa: E731
    await page()  # warm up

    small = [await counted(count_queries, fetch) for fetch in (page, fragment, searched)]
    await organisations(SMALL, LARGE)
    await organisations(100 + SMALL, 100 + LARGE, Verification.PENDING)
    large = [await counted(count_queries, fetch) for fetch in (page, fragment, searched)]

    for (n_small, _r, _s), (n_large, response, statements) in zip(small, large, strict=True):
        assert_constant(n_small, n_large, 4, statements)
        assert response.text.count('class="card org"') == 24  # a full page of 24
        assert "40 organisations" in response.text


async def test_directory_page_for_a_member_of_many_organisations(browser, count_queries):
    """Signed in, the header's organisation switcher lists every membership, in one query."""
    viewer = await person("viewer@example.vn")
    await browser.login(viewer.email)

    async def join(rows: list[Organisation]) -> None:
        await Membership.bulk_create(
            [
                Membership(
                    user_id=viewer.id,
                    organisation_id=o.id,
                    role=Role.MEMBER,
                    status=MembershipStatus.ACTIVE,
                )
                for o in rows
            ]
        )

    await join(await organisations(0, SMALL))
    await browser.get("/organisations")
    n_small, _response, _ = await counted(count_queries, lambda: browser.get("/organisations"))
    await join(await organisations(SMALL, LARGE))
    n_large, response, statements = await counted(
        count_queries, lambda: browser.get("/organisations")
    )

    assert_constant(n_small, n_large, 6, statements)
    assert response.text.count('name="organisation_id"') == LARGE


async def test_api_directory(client, count_queries):
    caller = await person("caller@example.vn")
    headers = await api_token(client, caller.email)
    fetch = lambda: client.get("/api/v1/organisations?page_size=100", headers=headers)  # noqa: E731
    await organisations(0, SMALL)
    await fetch()  # the first use of a token is recorded once; measure the steady state

    n_small, _response, _ = await counted(count_queries, fetch)
    await organisations(SMALL, LARGE)
    n_large, response, statements = await counted(count_queries, fetch)

    assert_constant(n_small, n_large, 4, statements)
    items = response.json()["items"]
    assert len(items) == LARGE
    assert all(item["spheres"] == ["enterprise", "university"] for item in items)
    assert sum(1 for item in items if item["logo_url"]) == LARGE // 2


# --- members of one organisation -------------------------------------------------------------


async def test_members_page(browser, count_queries):
    owner = await person("owner@eiu.edu.vn")
    eiu = await Organisation.create(
        name="EIU", slug="eiu", search_key="eiu", verification=Verification.VERIFIED
    )
    await Membership.create(
        user_id=owner.id, organisation_id=eiu.id, role=Role.OWNER, status=MembershipStatus.ACTIVE
    )
    await browser.login(owner.email)

    async def grow(start: int, stop: int) -> None:
        users = (await extra_users(start, stop))[start:stop]
        await Membership.bulk_create(
            [
                Membership(
                    user_id=u.id,
                    organisation_id=eiu.id,
                    role=Role.ADMIN if n % 5 == 0 else Role.MEMBER,
                    status=MembershipStatus.REQUESTED if n % 4 == 0 else MembershipStatus.ACTIVE,
                )
                for n, u in enumerate(users, start)
            ]
        )
        await Invitation.bulk_create(
            [
                Invitation(
                    organisation_id=eiu.id,
                    email=f"guest{n}@example.vn",
                    role=Role.MEMBER,
                    token_hash=f"{n:064d}",
                    invited_by_id=owner.id,
                    expires_at=timezone.now() + timedelta(days=7),
                )
                for n in range(start, stop)
            ]
        )

    fetch = lambda: browser.get("/organisations/eiu/members")  # noqa: E731
    await grow(0, SMALL)
    await fetch()
    n_small, _response, _ = await counted(count_queries, fetch)
    await grow(SMALL, LARGE)
    n_large, response, statements = await counted(count_queries, fetch)

    assert_constant(n_small, n_large, 12, statements)
    assert response.text.count("@example.vn</td>") == LARGE  # every member and request
    assert response.text.count('value="accept"') == LARGE // 4
    assert response.text.count("guest") == LARGE  # every open invitation


# --- platform administration -----------------------------------------------------------------


async def test_audit_log_page(browser, count_queries):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await browser.login(admin.email)

    async def grow(start: int, stop: int) -> None:
        users = (await extra_users(start, stop))[start:stop]
        await AuditEvent.bulk_create(
            [AuditEvent(action="login.succeeded", actor_id=u.id, target_type="user") for u in users]
        )

    fetch = lambda: browser.get("/admin/audit")  # noqa: E731
    await grow(0, SMALL)
    await fetch()
    n_small, _response, _ = await counted(count_queries, fetch)
    await grow(SMALL, LARGE)
    n_large, response, statements = await counted(count_queries, fetch)

    assert_constant(n_small, n_large, 6, statements)
    assert response.text.count("@example.vn</td>") == LARGE  # each event's actor


async def test_admin_users_page(browser, count_queries):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await browser.login(admin.email)
    fetch = lambda: browser.get("/admin/users")  # noqa: E731
    await extra_users(0, SMALL)
    await fetch()
    n_small, _response, _ = await counted(count_queries, fetch)
    await extra_users(SMALL, LARGE)
    n_large, response, statements = await counted(count_queries, fetch)

    assert_constant(n_small, n_large, 4, statements)
    assert response.text.count("@example.vn</td>") == LARGE


async def test_admin_verification_queue(browser, count_queries):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await browser.login(admin.email)
    fetch = lambda: browser.get("/admin")  # noqa: E731
    await organisations(0, SMALL, Verification.PENDING)
    await fetch()
    n_small, _response, _ = await counted(count_queries, fetch)
    await organisations(SMALL, LARGE, Verification.PENDING)
    n_large, response, statements = await counted(count_queries, fetch)

    # One statement per mounted package that says what pending organisations wait to publish.
    providers = [p for p in load_packages(get_settings().packages) if p.pending_publications]
    assert_constant(n_small, n_large, 6 + len(providers), statements)
    assert response.text.count('value="verified"') == LARGE
    assert response.text.count(".example.vn") == LARGE  # each one's email domain
