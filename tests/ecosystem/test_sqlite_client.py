"""SQLite reads outside a transaction do not take turns (`ecosystem.sqlite_client`), and
still never run inside another task's transaction."""

from __future__ import annotations

import asyncio

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
