"""Hand-written statements for the few reads and writes on hot paths.

Building a statement with the ORM costs several times running it: a machine with its lab
takes about 0.85 ms of CPU through tortoise and 0.15 ms as plain SQL (SQLite, measured for
`bench/labs_bench.py`); on PostgreSQL a one-row UPDATE costs 0.29 ms through a queryset and
0.16 ms as plain SQL. The reads a busy page makes on every request use these helpers, and
so do the writes every booking makes (the machine's lock, the booking's INSERT, the mail and
its delivery status); everything else stays with the ORM.

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

from tortoise import connections, fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

M = TypeVar("M", bound=Model)


@cache
def _in_driver_style(sql: str, driver: str) -> str:
    """`?` placeholders as the driver wants them: asyncpg `$1, $2, …`, psycopg `%s`."""
    if driver == "psycopg":
        return sql.replace("?", "%s")
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _match: f"${next(counter)}", sql)


async def fetch(sql: str, params: Sequence[Any] = (), *, small: bool = False) -> list[tuple]:
    """The rows of a SELECT written with `?` placeholders.

    `small`: the statement finds a few rows through an index (a key, one machine's week);
    on SQLite it then runs on the event loop's thread (see `ecosystem.sqlite_client`)."""
    connection, sql = _connection_for(sql)
    values = list(params)
    fetch_small = getattr(connection, "fetch_small", None) if small else None
    if fetch_small is not None:
        rows = await fetch_small(sql, values)
    else:
        _count, rows = await connection.execute_query(sql, values)
    return [tuple(row) for row in rows]


async def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run an UPDATE, INSERT or DELETE written with `?` placeholders; the rows it changed."""
    connection, sql = _connection_for(sql)
    changed, _rows = await connection.execute_query(sql, list(params))
    return changed


async def returning(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of a write's RETURNING clause (`execute` only counts them on PostgreSQL)."""
    connection, sql = _connection_for(sql)
    return [tuple(row.values()) for row in await connection.execute_query_dict(sql, list(params))]


async def insert(instance: Model, guard: str = "", guard_params: Sequence[Any] = ()) -> bool:
    """INSERT a new instance as the ORM's `save()` does – the same columns, each field's own
    conversion, its `auto_now` stamps set on the instance – and set its key from RETURNING.

    `guard` (PostgreSQL only): a statement run first, in the same statement, as
    `WITH guard AS (…)`; the row is inserted only if it returns a row. A write that must
    come first, such as a lock (`labs.services.lock`), then costs no round trip of its own.
    False when the guard returned no row (nothing is inserted).
    """
    model = type(instance)
    fields_map = model._meta.fields_map
    values = [
        fields_map[name].to_db_value(getattr(instance, name), instance)
        for name in _insert_fields(model)
    ]
    rows = await returning(_insert_sql(model, guard), (*guard_params, *values))
    if not rows:
        return False
    instance.pk = rows[0][0]
    instance._saved_in_db = True
    return True


@cache
def _insert_fields(model: type[Model]) -> tuple[str, ...]:
    """The fields an INSERT writes: all but a generated key (tortoise's executor's list)."""
    meta = model._meta
    return tuple(name for name in meta.fields_db_projection if not meta.fields_map[name].generated)


@cache
def _insert_sql(model: type[Model], guard: str) -> str:
    meta = model._meta
    columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name in _insert_fields(model))
    values = ", ".join("?" * len(_insert_fields(model)))
    into = f'INSERT INTO "{meta.db_table}" ({columns})'
    key = f' RETURNING "{meta.db_pk_column}"'
    if guard:
        return f"WITH guard AS ({guard}) {into} SELECT {values} FROM guard{key}"
    return f"{into} VALUES ({values}){key}"


def dialect() -> str:
    """The database's dialect: "postgres" or "sqlite" (for a statement only one of them has)."""
    return connections.get("default").capabilities.dialect


def _connection_for(sql: str) -> tuple[BaseDBAsyncClient, str]:
    """The current connection (the transaction's, when one is open) and the statement in
    its driver's placeholder style."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        driver = "psycopg" if "psycopg" in type(connection).__module__ else "asyncpg"
        sql = _in_driver_style(sql, driver)
    return connection, sql


@cache
def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{column}"' for column in _column_names(model))


@cache
def _column_names(model: type[Model]) -> tuple[str, ...]:
    # Foreign-key columns join the model's fields only when the ORM is initialised.
    if not model._meta._inited:
        raise RuntimeError(f"{model.__name__}: the ORM is not initialised")
    return tuple(model._meta.fields_db_projection.values())


@cache
def _datetime_columns(model: type[Model]) -> frozenset[str]:
    projection = model._meta.fields_db_projection
    return frozenset(
        column
        for name, column in projection.items()
        if isinstance(model._meta.fields_map[name], fields.DatetimeField)
    )


def _instance(model: type[M], values: Sequence[Any]) -> M:
    row = dict(zip(_column_names(model), values, strict=True))
    for column in _datetime_columns(model):
        if isinstance(text := row[column], str):  # SQLite text; ~70x faster than the ORM's parser
            row[column] = datetime.fromisoformat(text)
    return model._init_from_db(**row)


@cache
def _select(model: type[Model], relation: str | None) -> str:
    table = f'"{model._meta.db_table}" m'
    if relation is None:
        return f"SELECT {_columns(model, 'm')} FROM {table}"
    field = model._meta.fields_map[relation]
    related = field.related_model  # type: ignore[attr-defined]
    return (
        f"SELECT {_columns(model, 'm')}, {_columns(related, 'r')} FROM {table}"
        f' JOIN "{related._meta.db_table}" r'
        f' ON r."{related._meta.db_pk_column}" = m."{field.source_field}"'  # type: ignore[attr-defined]
    )


async def select(
    model: type[M],
    tail: str,
    params: Sequence[Any] = (),
    *,
    related: str | None = None,
    small: bool = False,
) -> list[M]:
    """Instances of `model` from `SELECT <its columns> FROM <its table> m <tail>`, loaded as
    the ORM loads them. With `related`, that foreign key's object is joined as `r` (an inner
    join: the key must not be null) and set on each instance, as `select_related` does.

    `tail` is the rest of the statement (other JOINs, WHERE, ORDER BY, LIMIT); the model's
    table is `m`, the related one `r`. `small` as for `fetch`.
    """
    rows = await fetch(f"{_select(model, related)} {tail}", params, small=small)
    if related is None:
        return [_instance(model, row) for row in rows]
    width = len(_column_names(model))
    target = model._meta.fields_map[related].related_model  # type: ignore[attr-defined]
    loaded = []
    for row in rows:
        instance = _instance(model, row[:width])
        object.__setattr__(instance, f"_{related}", _instance(target, row[width:]))
        loaded.append(instance)
    return loaded


def as_datetime(value: datetime | str) -> datetime:
    """A datetime column read by `fetch` (SQLite returns the stored UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
