"""SQLite reads outside a transaction do not take turns (`ecosystem.sqlite_client`), and
still never run inside another task's transaction."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from tortoise import connections

from ecosystem import rawsql
from ecosystem.db import atomic, is_sqlite
from ecosystem.models import OutboxMessage
from ecosystem.sqlite_client import ConcurrentReadsClient


@pytest.fixture
def sqlite_only(settings) -> None:
    if not is_sqlite(settings.database_url):
        pytest.skip("the client is SQLite's")


pytestmark = pytest.mark.usefixtures("sqlite_only")

COUNT = "SELECT COUNT(*) FROM outbox_message"
BY_ADDRESS = 'SELECT subject FROM outbox_message WHERE "to" = ?'


async def test_the_platform_runs_on_the_concurrent_reads_client(app) -> None:
    assert type(connections.get("default")) is ConcurrentReadsClient


async def test_a_read_waits_for_a_transaction_and_never_sees_what_it_rolled_back(app) -> None:
    inserted, read = asyncio.Event(), []

    async def reader() -> None:
        await inserted.wait()
        read.append((await rawsql.fetch(COUNT))[0][0])
        read.append(await OutboxMessage.all().count())

    async def writer() -> None:
        with pytest.raises(RuntimeError):
            async with atomic():
                await OutboxMessage.create(to="a@example.vn", subject="s", text_body="b")
                inserted.set()
                await asyncio.sleep(0.05)  # the reader asks now, inside this transaction
                assert not read  # …and waits for it
                raise RuntimeError("roll back")

    await asyncio.gather(reader(), writer())
    assert read == [0, 0]


async def test_reads_that_waited_for_a_transaction_do_not_take_turns_after_it(app) -> None:
    """Reads that arrived during a transaction wait for it without taking tortoise's lock:
    a read that held it would make every read arriving meanwhile queue behind it too, and
    under steady load (one write, then reads at once for ever) the queue never emptied."""
    client = connections.get("default")
    inserted, committed = asyncio.Event(), asyncio.Event()
    lock_seen: list[bool] = []

    async def writer() -> None:
        async with atomic():
            await OutboxMessage.create(to="a@example.vn", subject="s", text_body="b")
            inserted.set()
            await asyncio.sleep(0.05)
        committed.set()

    async def readers() -> list:
        await inserted.wait()
        reads = [
            asyncio.ensure_future(rawsql.fetch(COUNT, small=small)) for small in (False, True) * 10
        ]
        await asyncio.sleep(0)
        assert client._lock.locked() and not any(read.done() for read in reads)  # waiting
        await committed.wait()
        while not all(read.done() for read in reads):
            lock_seen.append(client._lock.locked())
            await asyncio.sleep(0)
        return [read.result() for read in reads]

    _, results = await asyncio.gather(writer(), readers())
    assert results == [[(1,)]] * 20  # each saw the committed row
    assert lock_seen and True not in lock_seen  # once it committed, no read held the lock


async def test_reads_at_once_give_each_its_own_rows_and_are_logged(app, count_queries) -> None:
    for n in range(5):
        await OutboxMessage.create(to=f"{n}@example.vn", subject=f"s{n}", text_body="b")

    with count_queries() as counted:
        found = await asyncio.gather(
            *(rawsql.fetch(BY_ADDRESS, (f"{n}@example.vn",)) for n in range(5)),
            OutboxMessage.filter(to="3@example.vn").values_list("subject", flat=True),
        )
    assert found[:5] == [[(f"s{n}",)] for n in range(5)]
    assert found[5] == ["s3"]
    assert len(counted.statements) == 6  # the tests' query counts still see every read


async def test_writes_take_their_turn_as_before(app) -> None:
    """An UPDATE is no read: it goes through tortoise's lock, and its row count is right."""
    for n in range(3):
        await OutboxMessage.create(to=f"{n}@example.vn", subject="s", text_body="b")
    updated = await asyncio.gather(
        *(OutboxMessage.filter(to=f"{n}@example.vn").update(subject="t") for n in range(3)),
        rawsql.fetch(COUNT),
    )
    assert updated[:3] == [1, 1, 1]
    assert await OutboxMessage.filter(subject="t").count() == 3


async def test_a_small_read_runs_on_the_loop_and_sees_every_committed_write(
    app, count_queries
) -> None:
    """`small=True` reads on the event loop's thread (no hop through aiosqlite's), logged
    like any read, seeing what the ORM committed an instant before, and never inside a
    transaction: there it waits its turn and does not see the rolled-back row."""
    client = connections.get("default")
    await OutboxMessage.create(to="1@example.vn", subject="s1", text_body="b")
    with count_queries() as counted:
        assert await rawsql.fetch(BY_ADDRESS, ("1@example.vn",), small=True) == [("s1",)]
    assert len(counted.statements) == 1
    assert client.read_on_loop(BY_ADDRESS, ["1@example.vn"]) is not None  # it ran there

    await OutboxMessage.filter(to="1@example.vn").update(subject="s2")
    assert await rawsql.fetch(BY_ADDRESS, ("1@example.vn",), small=True) == [("s2",)]

    inserted, read = asyncio.Event(), []

    async def reader() -> None:
        await inserted.wait()
        assert client.read_on_loop(COUNT, []) is None  # a transaction is open
        read.append((await rawsql.fetch(COUNT, small=True))[0][0])

    async def writer() -> None:
        with pytest.raises(RuntimeError):
            async with atomic():
                await OutboxMessage.create(to="2@example.vn", subject="s", text_body="b")
                inserted.set()
                await asyncio.sleep(0.05)
                raise RuntimeError("rolled back")

    await asyncio.gather(reader(), writer())
    assert read == [1]


async def test_a_small_read_is_read_only_and_its_errors_are_the_orms(app) -> None:
    """The loop's connection refuses writes; a broken statement gives up the loop and fails
    through aiosqlite with the ORM's own exception, as any read."""
    from tortoise.exceptions import OperationalError

    client = connections.get("default")
    assert client.read_on_loop("DELETE FROM outbox_message", []) is None  # not a SELECT
    with pytest.raises(OperationalError):
        await rawsql.fetch("SELECT nothing FROM outbox_message", small=True)
    loop_connection = client._on_loop
    assert loop_connection is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        loop_connection.execute("DELETE FROM outbox_message")
