"""Shared fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

- `app` / `client`: the real app (lifespan entered) over a migrated, emptied database.
- `browser_session`: an HTTP client that behaves like a browser (cookies, CSRF token).
- Pages are in Vietnamese (the default) unless a test opts into English: the `english`
  fixture (the `client`/`browser` send `lang=en`), `new_browser(lang="en")`, and
  `make_user(..., locale="en")` for people who sign in (signing in brings their own locale).
- `count_queries`: counts the SQL statements a block runs (for constant-query tests).
- TEST_REDIS_URL enables the tests marked `redis` (a real arq worker).
- TEST_TRAVEL_TO=2027-02-05T10:00+07:00[,2027-12-31T23:30+07:00,...]: every test runs once
  per moment, with the clock moved there (time-machine, ticking) – `make test-days`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import time_machine
from tortoise import Tortoise, connections

from ecosystem import labels
from ecosystem.app import create_app
from ecosystem.db import is_postgres, run_migrations, tortoise_config
from ecosystem.packages import load_packages
from ecosystem.settings import Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _redis_for_this_worker(url: str) -> str:
    """Under pytest-xdist each worker flushes a Redis database of its own: worker gwN uses the
    configured database number minus N (modulo 16)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    configured = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(configured - int(worker[2:])) % 16}"))


TEST_REDIS_URL = _redis_for_this_worker(os.environ.get("TEST_REDIS_URL", ""))
TEST_PACKAGES = tuple(
    p for p in os.environ.get("PACKAGES", "labs,incubator,hackathon").split(",") if p
)
PASSWORD = "correct-horse-battery"
LANG_COOKIE = "lang"  # ecosystem.middleware.LOCALE_COOKIE: a browser's language choice

# A stored value without a display name fails the test instead of showing its key.
labels.STRICT = True

BACKENDS = ["sqlite", "postgres"] if TEST_DATABASE_URL else ["sqlite"]
TRAVEL_TO = [
    datetime.fromisoformat(m) for m in os.environ.get("TEST_TRAVEL_TO", "").split(",") if m
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if TRAVEL_TO and "travel_to" in metafunc.fixturenames:
        ids = [moment.strftime("%a-%Y-%m-%dT%H:%M%z") for moment in TRAVEL_TO]
        metafunc.parametrize("travel_to", TRAVEL_TO, ids=ids, indirect=True)


@pytest.fixture(autouse=True)
def travel_to(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """Each test starts at one moment of TEST_TRAVEL_TO (the clock ticks on), else today."""
    moment = getattr(request, "param", None)
    if moment is None:
        yield None
        return
    with time_machine.travel(moment, tick=True):
        yield moment


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_redis = pytest.mark.skip(reason="TEST_REDIS_URL is not set")
    for item in items:
        if "redis" in item.keywords and not TEST_REDIS_URL:
            item.add_marker(skip_redis)


# --- databases, migrated once per test session ----------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def _admin_execute(url: str, statement: str) -> None:
    import asyncpg

    parts = urlsplit(url)
    connection = await asyncpg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        database=parts.path.lstrip("/") or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=BACKENDS)
async def empty_url(request, tmp_path):
    """The URL of an empty database of each backend, for migration tests to fill and upgrade."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        return
    name = f"eco_upgrade_{uuid.uuid4().hex[:10]}"
    await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(TEST_DATABASE_URL, name)
    finally:
        await _admin_execute(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate_to(config: dict, target: str | None = None) -> None:
    """For upgrade tests: the committed migrations applied up to `target` (all of them by
    default; a `target` below the current state goes back down to it), connections closed."""
    from tortoise.migrations.api.migrate import migrate

    try:
        if target is None:
            await run_migrations(config)
        else:
            await migrate(config=config, target=target)
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def orm_on(config: dict) -> AsyncIterator[None]:
    """For upgrade tests: the ORM on `config`'s database for the block, started afresh (its
    statement cache must not carry another dialect's: the suite switches databases)."""
    from ecosystem.db import init_orm

    await init_orm(config)
    try:
        yield
    finally:
        await Tortoise.close_connections()


async def _migrate(url: str) -> None:
    try:
        await run_migrations(tortoise_config(url, load_packages(TEST_PACKAGES)))
    finally:
        await Tortoise.close_connections()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    urls = {"sqlite": f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"}
    created = None
    if TEST_DATABASE_URL:
        created = f"eco_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{created}"'))
        urls["postgres"] = _with_database(TEST_DATABASE_URL, created)
    for url in urls.values():
        asyncio.run(_migrate(url))
    yield urls
    if created:
        asyncio.run(
            _admin_execute(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')
        )


async def empty_database(url: str) -> None:
    """Delete every row (the schema stays, migrated once)."""
    connection = connections.get("default")
    tables = [model._meta.db_table for app in Tortoise.apps.values() for model in app.values()]
    if is_postgres(url):
        quoted = ", ".join(f'"{t}"' for t in tables)
        await connection.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        await connection.execute_script(
            "PRAGMA foreign_keys = OFF;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "DELETE FROM sqlite_sequence;"
            + "PRAGMA foreign_keys = ON;"
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(backend: str, database_urls: dict[str, str], tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_urls[backend],
        redis_url=None,
        secret_key="test-secret-key-" + "x" * 32,
        base_url="http://testserver",
        smtp_url=None,
        media_dir=tmp_path / "media",
        packages=TEST_PACKAGES,
        inline_cron=False,  # a test that wants cron entries switches them on
        # Tests of admin pages sign in with a password; tests/ecosystem/test_second_factor*
        # switch the policy on.
        admins_need_second_factor=False,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await empty_database(settings.database_url)
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# --- a browser-like session -------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class BrowserSession:
    """Cookies and the CSRF token, like a person's browser tab."""

    http: httpx.AsyncClient
    csrf_token: str = ""
    history: list[httpx.Response] = field(default_factory=list)
    lang: str | None = None  # e.g. "en": the language this browser has chosen (default vi)

    def __post_init__(self) -> None:
        if self.lang:
            self.http.cookies.set(LANG_COOKIE, self.lang)

    async def get(self, url: str, **kwargs) -> httpx.Response:
        response = await self.http.get(url, **kwargs)
        if match := CSRF_INPUT.search(response.text):
            self.csrf_token = match.group(1)
        self.history.append(response)
        return response

    async def ensure_token(self) -> str:
        if not self.csrf_token:
            await self.get("/login")
        return self.csrf_token

    async def post(
        self, url: str, data: dict | None = None, files=None, **kwargs
    ) -> httpx.Response:
        payload = {"csrf_token": await self.ensure_token(), **(data or {})}
        response = await self.http.post(url, data=payload, files=files, **kwargs)
        self.history.append(response)
        return response

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
        self.csrf_token = ""  # a new session gets a new token
        return response


@pytest.fixture
def browser(client: httpx.AsyncClient) -> BrowserSession:
    return BrowserSession(client)


@pytest.fixture
def english(client: httpx.AsyncClient) -> None:
    """Opt-in for tests that read English page text: `client` and `browser` send `lang=en`.

    Use it as `@pytest.mark.usefixtures("english")`. Signed-in people see their own locale:
    create them with `make_user(..., locale="en")`.
    """
    client.cookies.set(LANG_COOKIE, "en")


@pytest.fixture
def new_browser(app):
    """A factory of independent browser sessions (several people at once).

    `new_browser(lang="en")` is a browser that has chosen English.
    """
    opened: list[httpx.AsyncClient] = []

    def make(lang: str | None = None) -> BrowserSession:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50001))
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(http)
        return BrowserSession(http, lang=lang)

    yield make
    for http in opened:
        asyncio.get_event_loop().create_task(http.aclose())


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Callable[[], BrowserSession]]:
    """The app for `settings` (which become the process-wide ones) and a browser factory."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await empty_database(settings.database_url)
        async with AsyncExitStack() as clients:

            def browser() -> BrowserSession:
                transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
                http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
                clients.push_async_callback(http.aclose)
                return BrowserSession(http)

            yield browser


# --- data helpers -------------------------------------------------------------------------


async def make_user(
    email: str,
    password: str = PASSWORD,
    name: str = "",
    admin: bool = False,
    verified: bool = True,
    locale: str | None = None,
):
    """A person; `locale="en"` for one who reads the pages in English once signed in."""
    from ecosystem.services.accounts import create_user

    user = await create_user(email, password, name or email.split("@")[0].title(), admin, verified)
    if locale is not None and locale != user.locale:
        user.locale = locale
        await user.save(update_fields=["locale"])
    return user


@cache
def password_hash() -> str:
    """PASSWORD hashed once per test run: `person` creates users without hashing again."""
    from ecosystem.security import hash_password

    return hash_password(PASSWORD)


async def person(
    email: str, *, verified: bool = True, admin: bool = False, name: str = "", locale: str = "en"
):
    """A person who signs in with PASSWORD, created directly (fast), reading English."""
    from tortoise import timezone

    from ecosystem.models import User

    return await User.create(
        email=email,
        full_name=name or email.split("@")[0].title(),
        password_hash=password_hash(),
        locale=locale,
        email_verified_at=timezone.now() if verified else None,
        is_platform_admin=admin,
    )


async def make_organisation(
    owner,
    name: str = "Eastern International University",
    spheres: tuple[str, ...] = ("university",),
    verified: bool = True,
    domains: tuple[str, ...] = (),
):
    from ecosystem.models import Verification
    from ecosystem.schemas import OrganisationIn
    from ecosystem.services.organisations import create_organisation

    organisation = await create_organisation(
        owner, OrganisationIn(name=name, spheres=list(spheres), email_domains=list(domains))
    )
    if verified:
        organisation.verification = Verification.VERIFIED
        await organisation.save(update_fields=["verification"])
    return organisation


async def add_member(user, organisation, role: str = "member"):
    from ecosystem.models import Membership, MembershipStatus, Role

    return await Membership.create(
        user_id=user.id,
        organisation_id=organisation.id,
        role=Role(role),
        status=MembershipStatus.ACTIVE,
    )


async def api_token(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict:
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


# --- pages shared by anonymous visitors ---------------------------------------------------

# A CSRF token in a page: the hidden form field and htmx's header.
TOKEN = re.compile(r'(name="csrf_token" value=|"X-CSRF-Token": )"[^"]+"')


def tokens_in(page: str) -> set[str]:
    return {match.group(0).rsplit('"', 2)[-2] for match in TOKEN.finditer(page)}


# --- counting queries ---------------------------------------------------------------------

SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


class _QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if SQL_START.match(message):
            self.statements.append(message)


@contextmanager
def _counting() -> Iterator[_QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    handler, previous_level = _QueryCounter(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


@pytest.fixture
def count_queries():
    """`with count_queries() as counted: ...; len(counted.statements)`"""
    return _counting
