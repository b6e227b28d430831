"""Database configuration, migrations and transactions."""

from __future__ import annotations

import contextvars
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

from ecosystem.packages import DomainPackage, declared_packages
from ecosystem.settings import Settings

logger = logging.getLogger("ecosystem.db")

SQLITE_PRAGMAS = {"journal_mode": "wal", "busy_timeout": "10000", "foreign_keys": "ON"}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite://")


def is_postgres(url: str) -> bool:
    return url.split("://", 1)[0] in ("postgres", "postgresql", "asyncpg", "psycopg")


def connection_url(url: str) -> str:
    """Add the PRAGMAs the platform relies on to an SQLite URL (WAL, busy wait, FKs)."""
    if not is_sqlite(url) or ":memory:" in url:
        return url
    present = url.split("?", 1)[1] if "?" in url else ""
    extra = "&".join(f"{k}={v}" for k, v in SQLITE_PRAGMAS.items() if f"{k}=" not in present)
    if not extra:
        return url
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def tortoise_config(database_url: str, packages: Sequence[DomainPackage]) -> dict[str, Any]:
    """Only the packages' model and migration module names are read (declared is enough)."""
    apps = {
        package.name: {
            "models": package.model_modules,
            "default_connection": "default",
            "migrations": package.migrations_module,
        }
        for package in packages
        if package.models
    }
    return {
        "connections": {"default": _connection_config(database_url)},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }


def _connection_config(database_url: str) -> str | dict[str, Any]:
    """SQLite with the platform's PRAGMAs and its client, whose reads outside a transaction
    do not take turns (`ecosystem.sqlite_client`); PostgreSQL's pool without a reset query."""
    url = connection_url(database_url)
    if is_sqlite(url):
        return {**expand_db_url(url), "engine": "ecosystem.sqlite_client"}
    if is_postgres(url):
        config = expand_db_url(url)
        config["credentials"].setdefault("reset", _leave_session)
        return config
    return url


async def _leave_session(connection: Any) -> None:
    """Releasing a connection to asyncpg's pool runs its reset query by default (advisory
    unlock, CLOSE ALL, UNLISTEN, RESET ALL): one more round trip for every statement outside
    a transaction, a third of a booking's. The platform leaves no session state behind (no
    SET, LISTEN, advisory lock or cursor outside a transaction) and asyncpg still rolls back
    a transaction left open, so there is nothing to reset."""


def config_from_env() -> dict[str, Any]:
    settings = Settings.from_env()
    return tortoise_config(settings.database_url, declared_packages(settings.packages))


async def run_migrations(config: dict[str, Any]) -> None:
    """Apply every package's committed migrations (the same files on SQLite and PostgreSQL)."""
    from tortoise.migrations.api.migrate import migrate

    await migrate(config=config)


async def init_orm(config: dict[str, Any]) -> None:
    # tortoise caches INSERT statements per connection name and table, across inits: a
    # process that switches databases (the test suite: SQLite, then PostgreSQL) must not
    # reuse another dialect's placeholders.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config, _enable_global_fallback=True)
    _store_sqlite_datetimes_in_utc()


def _utc_text(value: datetime) -> str:
    return (value.astimezone(UTC) if value.tzinfo else value).isoformat(" ")


def _store_sqlite_datetimes_in_utc() -> None:
    """SQLite keeps datetimes as text, and tortoise writes an aware value with its own offset.

    Text with mixed offsets compares wrongly (10:00+07:00 sorts after 09:00+00:00), so every
    aware datetime, stored or compared, is written in UTC. Replaces tortoise's adapter, which
    its SQLite backend registers on import (before this runs).
    """
    sqlite3.register_adapter(datetime, _utc_text)


# Jobs enqueued inside `atomic()` wait here until the transaction commits.
_after_commit: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = (
    contextvars.ContextVar("after_commit", default=None)
)


@asynccontextmanager
async def atomic() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction whose `on_commit` callbacks run only once it has committed.

    A nested call is a savepoint: its callbacks join the outer transaction's only if the
    savepoint itself succeeded.
    """
    outer = _after_commit.get()
    callbacks: list[Callable[[], Awaitable[None]]] = []
    token = _after_commit.set(callbacks)
    try:
        async with in_transaction() as connection:
            yield connection
    finally:
        _after_commit.reset(token)
    if outer is not None:
        outer.extend(callbacks)
        return
    await _run_callbacks(callbacks)


async def _run_callbacks(callbacks: list[Callable[[], Awaitable[None]]]) -> None:
    """Run every callback even if one fails (the data is committed), then raise the first."""
    first_error: Exception | None = None
    for callback in callbacks:
        try:
            await callback()
        except Exception as exc:
            logger.exception("an after-commit callback failed")
            first_error = first_error or exc
    if first_error is not None:
        raise first_error


async def on_commit(callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` after the surrounding `atomic()` commits, or now outside one.

    Nothing runs if the transaction rolls back. Only `atomic()` knows about these
    callbacks: inside a bare `in_transaction()` they would run at once, before the commit,
    so services open their transactions with `atomic()`.
    """
    pending = _after_commit.get()
    if pending is None:
        await callback()
    else:
        pending.append(callback)


def __getattr__(name: str) -> Any:
    # `python -m tortoise makemigrations` reads the config from here (see pyproject.toml).
    if name == "TORTOISE_ORM":
        return config_from_env()
    raise AttributeError(name)
