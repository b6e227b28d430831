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
run inside someone else's transaction – but it does not take the lock itself: a read that
held it while aiosqlite ran it would make every read arriving meanwhile queue behind it, and
under steady load that queue never empties (one write was enough to make every later read
of the process take turns). Statements are logged as tortoise logs them.

A small read – a few rows found through an index, such as a token or a machine by its key
(`ecosystem.rawsql`'s `small=True`) – does not need aiosqlite's thread at all: the hop there
and back costs 35–65 µs of CPU, the read itself 5 µs. `read_on_loop` runs it on the event
loop's thread over a second, read-only connection, which in WAL mode sees every committed
write. It never waits: when the database is busy it answers None and the read goes through
aiosqlite as any other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteClientWithRegexpSupport,
    translate_exceptions,
)


class ConcurrentReadsClient(SqliteClient):
    _on_loop: sqlite3.Connection | None = None

    def read_on_loop(self, query: str, values: Sequence[Any]) -> list[Any] | None:
        """The rows of a small SELECT run on the event loop's thread, or None where it cannot
        run there (a transaction or statement of tortoise's running, an in-memory database,
        the database busy, any error): the caller reads through `execute_query` then."""
        if not self._reads_now(query) or self.filename == ":memory:":
            return None
        try:
            connection = self._on_loop or self._open_on_loop()
            self.log.debug("%s: %s", query, values)
            return connection.execute(query.replace("\x00", "'||CHAR(0)||'"), values).fetchall()
        except sqlite3.Error:
            return None  # busy, or an error that the read through aiosqlite will raise

    async def fetch_small(self, query: str, values: Sequence[Any]) -> Sequence[Any]:
        """The rows of a small SELECT: on the event loop's thread once no transaction is open
        (`read_on_loop`), else as any read."""
        await self._wait_for_turn(query)
        rows = self.read_on_loop(query, values)
        if rows is None:
            _count, rows = await self.execute_query(query, values)
        return rows

    async def _wait_for_turn(self, query: str) -> None:
        """For a SELECT: wait until no transaction or write of tortoise's holds the lock,
        without holding it (anything else takes the lock in tortoise's client).

        The caller must hand its read to aiosqlite (or run it) before its next `await`: the
        lock's next holder, woken now, runs only after that, so its BEGIN comes after the read.
        """
        while self._is_select(query) and self._lock.locked():
            async with self._lock:
                pass

    def _open_on_loop(self) -> sqlite3.Connection:
        # timeout=0: a busy database answers at once rather than blocking the event loop.
        connection = sqlite3.connect(
            self.filename, isolation_level=None, timeout=0, check_same_thread=False
        )
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only = ON")
        self._on_loop = connection
        return connection

    async def close(self) -> None:
        if self._on_loop is not None:
            self._on_loop.close()
            self._on_loop = None
        await super().close()

    def _reads_now(self, query: str) -> bool:
        """A SELECT, no transaction or statement of tortoise's running, a connection open."""
        return not self._lock.locked() and self._connection is not None and self._is_select(query)

    @staticmethod
    def _is_select(query: str) -> bool:
        return query.lstrip()[:6].upper() == "SELECT"

    async def _read(self, query: str, values: list | None) -> Sequence[Any]:
        query = query.replace("\x00", "'||CHAR(0)||'")  # as tortoise's client does
        self.log.debug("%s: %s", query, values)
        return await self._connection.execute_fetchall(query, values)

    @translate_exceptions
    async def execute_query(
        self, query: str, values: list | None = None
    ) -> tuple[int, Sequence[Any]]:
        await self._wait_for_turn(query)
        if not self._reads_now(query):
            return await super().execute_query(query, values)
        rows = await self._read(query, values)
        return len(rows), rows

    @translate_exceptions
    async def execute_query_dict(self, query: str, values: list | None = None) -> list[dict]:
        await self._wait_for_turn(query)
        if not self._reads_now(query):
            return await super().execute_query_dict(query, values)
        return list(map(dict, await self._read(query, values)))


def get_client_class(db_info: dict) -> type[SqliteClient]:
    """tortoise's engine hook (as `tortoise.backends.sqlite`): REGEXP support is not used."""
    if db_info.get("credentials", {}).get("install_regexp_functions"):
        return SqliteClientWithRegexpSupport
    return ConcurrentReadsClient


client_class = ConcurrentReadsClient
