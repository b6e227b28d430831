"""The summary of free time repaired by the `free_time_refresh` job on a real arq worker over
Redis (needs TEST_REDIS_URL; its database is flushed)."""

from __future__ import annotations

import dataclasses

import pytest
from redis.asyncio import Redis

from ecosystem import jobs
from ecosystem.settings import Settings
from labs.models import Booking, BookingStatus, FreeDay
from tests.conftest import TEST_REDIS_URL, running_app
from tests.ecosystem.test_worker import run_burst
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

pytestmark = [
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest.fixture
async def redis():
    client = Redis.from_url(TEST_REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


async def test_the_worker_makes_missing_rows_and_repairs_stale_ones(settings: Settings, redis):
    configured = dataclasses.replace(settings, redis_url=TEST_REDIS_URL)
    async with running_app(configured):
        assert jobs.backend().name == "redis"
        day = local_day(3)
        machine = await make_equipment(await make_lab())
        user = await quick_user("lan@eiu.edu.vn")
        assert not await FreeDay.filter(equipment_id=machine.id).exists()

        await jobs.enqueue("labs.jobs.free_time_refresh", job_id="free-time-1")
        assert await redis.zcard("arq:queue") == 1
        await run_burst(configured)
        row = await FreeDay.get(equipment_id=machine.id, day=day)
        assert (row.stale, row.free_minutes) == (False, 600)  # 08:00-18:00, nothing booked

        await Booking.create(
            equipment=machine,
            user=user,
            starts_at=at(day, 8),
            ends_at=at(day, 12),
            status=BookingStatus.CONFIRMED,
            check_in_code="worker-1",
        )
        assert (await FreeDay.get(id=row.id)).stale  # marked by the trigger, not by the job
        await jobs.enqueue("labs.jobs.free_time_refresh", job_id="free-time-2")
        await run_burst(configured)
        row = await FreeDay.get(id=row.id)
        assert (row.stale, row.free_minutes, row.longest_free_minutes) == (False, 360, 360)
