"""The SQLite client the platform uses: tortoise's, with reads that do not queue one by one.

tortoise's SQLite client shares one aiosqlite connection and holds an asyncio lock around
every statement, so that a transaction (which holds the lock from BEGIN to COMMIT) never
sees another task's statement inside it. That also makes concurrent *reads* take turns: each
waits for the previous one's result before it is even handed to aiosqlite's thread, so a
busy page costs a thread hand-off and an event-loop wake-up per statement and request.

A SELECT outside a transaction needs no turn when the lock is free: nothing of tortoise's
is running then, and aiosqlite runs what it is given in order on its one thread, so the
read runs whole (execute and fetch are one call there) before any BEGIN queued after it.
While the lock is held (a transaction is open) a read waits for it as before – it must not
run inside someone else's transaction. Statements are logged as tortoise logs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteClientWithRegexpSupport,
    translate_exceptions,
)


def _is_read(query: str) -> bool:
    return query[:6].upper() == "SELECT"


class ConcurrentReadsClient(SqliteClient):
    @translate_exceptions
    async def execute_query(
        self, query: str, values: list | None = None
    ) -> tuple[int, Sequence[Any]]:
        if self._lock.locked() or self._connection is None or not _is_read(query.lstrip()):
            return await super().execute_query(query, values)
        query = query.replace("\x00", "'||CHAR(0)||'")
        self.log.debug("%s: %s", query, values)
        rows = await self._connection.execute_fetchall(query, values)
        return len(rows), rows

    @translate_exceptions
    async def execute_query_dict(self, query: str, values: list | None = None) -> list[dict]:
        if self._lock.locked() or self._connection is None or not _is_read(query.lstrip()):
            return await super().execute_query_dict(query, values)
        query = query.replace("\x00", "'||CHAR(0)||'")
        self.log.debug("%s: %s", query, values)
        return list(map(dict, await self._connection.execute_fetchall(query, values)))


def get_client_class(db_info: dict) -> type[SqliteClient]:
    """tortoise's engine hook (as `tortoise.backends.sqlite`): REGEXP support is not used."""
    if db_info.get("credentials", {}).get("install_regexp_functions"):
        return SqliteClientWithRegexpSupport
    return ConcurrentReadsClient


client_class = ConcurrentReadsClient
