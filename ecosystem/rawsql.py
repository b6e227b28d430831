"""Hand-written SELECTs for the few reads on hot paths.

Building a statement with the ORM costs several times running it: a machine with its lab
takes about 0.85 ms of CPU through tortoise and 0.15 ms as plain SQL (SQLite, measured for
`bench/labs_bench.py`). The reads a busy page makes on every request use these helpers;
everything else, and every write, stays with the ORM.

Statements are written once with `?` placeholders (never a `?` inside a string literal)
and run in the current transaction when there is one. Rows come back as tuples; model
instances are built with tortoise's own row loader, so field conversions are the ORM's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

M = TypeVar("M", bound=Model)


def _connection() -> BaseDBAsyncClient:
    return connections.get("default")


@cache
def _in_driver_style(sql: str, driver: str) -> str:
    """`?` placeholders as the driver wants them: asyncpg `$1, $2, …`, psycopg `%s`."""
    if driver == "psycopg":
        return sql.replace("?", "%s")
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _match: f"${next(counter)}", sql)


async def fetch(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of a SELECT written with `?` placeholders."""
    connection = _connection()
    if connection.capabilities.dialect == "postgres":
        driver = "psycopg" if "psycopg" in type(connection).__module__ else "asyncpg"
        sql = _in_driver_style(sql, driver)
    _count, rows = await connection.execute_query(sql, list(params))
    return [tuple(row) for row in rows]


@cache
def columns(model: type[Model], alias: str) -> str:
    """The model's columns qualified by a table alias, in the order `fetch_models` reads them.

    Only once the ORM is initialised (foreign-key columns are added then).
    """
    return ", ".join(f'{alias}."{column}"' for column in _column_names(model))


@cache
def _column_names(model: type[Model]) -> tuple[str, ...]:
    if not model._meta._inited:
        raise RuntimeError(f"{model.__name__}: the ORM is not initialised")
    return tuple(model._meta.fields_db_projection.values())


def _instance(model: type[M], values: Sequence[Any]) -> M:
    return model._init_from_db(**dict(zip(_column_names(model), values, strict=True)))


async def fetch_models(
    sql: str, params: Sequence[Any], *models: type[Model]
) -> list[tuple[Model, ...]]:
    """Each row as one instance per model, selected in that order with `columns(model, …)`."""
    loaded = []
    for row in await fetch(sql, params):
        instances, offset = [], 0
        for model in models:
            width = len(_column_names(model))
            instances.append(_instance(model, row[offset : offset + width]))
            offset += width
        loaded.append(tuple(instances))
    return loaded


def attach(instance: Model, relation: str, related: Model) -> Model:
    """Set a loaded foreign-key object on an instance, as `select_related` does."""
    object.__setattr__(instance, f"_{relation}", related)
    return instance


@cache
def _select_with_related(model: type[Model], relation: str) -> str:
    field = model._meta.fields_map[relation]
    related = field.related_model  # type: ignore[attr-defined]
    return (
        f"SELECT {columns(model, 'm')}, {columns(related, 'r')}"
        f' FROM "{model._meta.db_table}" m JOIN "{related._meta.db_table}" r'
        f' ON r."{related._meta.db_pk_column}" = m."{field.source_field}"'  # type: ignore[attr-defined]
    )


async def fetch_one_with_related(
    model: type[M], relation: str, where: str, params: Sequence[Any]
) -> M | None:
    """The first row of `model` matching `where` (on `m.` columns, or `r.` of the related
    table) with its foreign key `relation` loaded, as `.select_related(relation)` would."""
    related = model._meta.fields_map[relation].related_model  # type: ignore[attr-defined]
    sql = f"{_select_with_related(model, relation)} {where}"
    rows = await fetch_models(sql, params, model, related)
    if not rows:
        return None
    instance, loaded = rows[0]
    return attach(instance, relation, loaded)  # type: ignore[return-value]


def as_datetime(value: datetime | str) -> datetime:
    """A datetime column read by `fetch` (SQLite returns the stored UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
