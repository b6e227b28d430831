"""Redis is disposable: when it is down, pages, sign-ins and jobs keep working.

- Jobs that cannot be queued in Redis run in the web process after the commit (no 500
  after the data committed, no lost email), and go to Redis again once it is back.
- The cache reads through to the database; rate limits count in memory meanwhile (still
  limited), then go back to Redis.
- The arq worker waits for Redis instead of stopping, and takes new jobs once it is back.

One app starts with Redis on a closed port; the others run over a private `redis-server`
of this module (skipped without it on PATH) that the tests stop and start again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ecosystem import cache, jobs
from ecosystem.db import atomic
from ecosystem.models import OutboxMessage
from ecosystem.settings import Settings
from ecosystem.worker import build_worker
from tests.conftest import PASSWORD, make_user, running_app
from tests.production.shape import PrivateRedis, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")

RUNS: list[tuple[str, int, str]] = []  # (value, job try, backend)
QUEUE = "arq:queue"


async def record(ctx: dict, value: str) -> None:
    RUNS.append((value, ctx["job_try"], ctx.get("backend", "arq")))


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs.register([record])
    RUNS.clear()
    monkeypatch.setattr(jobs, "START_CONN_RETRIES", 0)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    if not PrivateRedis.available():
        pytest.skip("redis-server is not on PATH")
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_up(private_redis: PrivateRedis) -> PrivateRedis:
    """The private Redis, running (a test that stops it need not start it again)."""
    if not private_redis.ping():
        private_redis.start()
    return private_redis


async def flushed(server: PrivateRedis) -> Redis:
    client = Redis.from_url(server.url())
    await client.flushall()  # our own server, nothing else lives in it
    return client


async def sign_in(browser, email: str, password: str) -> int:
    response = await browser().http.post(
        "/api/v1/auth/token", json={"email": email, "password": password}
    )
    return response.status_code


async def test_with_redis_unreachable_from_the_start_everything_still_works(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    caplog.set_level(logging.WARNING)
    async with running_app(down) as browser:
        assert jobs.backend().name == "redis"
        await make_user("mai@eiu.edu.vn", locale="en")
        assert (await browser().get("/")).status_code == 200
        assert (await browser().get("/organisations")).status_code == 200
        assert (await browser().get("/healthz")).json()["jobs"] == "redis"

        async with atomic():
            message = await OutboxMessage.create(to="a@example.org", subject="s", text_body="…")
            await jobs.enqueue(record, f"committed {message.id}", job_id="outage:1")
            assert RUNS == []  # after the commit, not before
        await jobs.drain()
        expected = [(f"committed {message.id}", 1, "inline")]
        assert expected == RUNS
        await jobs.enqueue(record, "again", job_id="outage:1")  # same id: once
        await jobs.drain()
        assert len(RUNS) == 1

        assert await sign_in(browser, "mai@eiu.edu.vn", PASSWORD) == 200
        # Still limited, per process, while the shared storage is down.
        statuses = [await sign_in(browser, "mai@eiu.edu.vn", "wrong-password!") for _ in range(6)]
        assert statuses[:5] == [401] * 5 and statuses[5] == 429, statuses
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "runs in this process" in messages
    assert "the cache (Redis) is unreachable" in messages
    assert "rate-limit storage unreachable" in messages


async def test_registration_while_redis_is_down_is_not_a_server_error(
    settings: Settings, redis_up: PrivateRedis
) -> None:
    """The verification email's job is enqueued after the account committed: no 500."""
    async with running_app(dataclasses.replace(settings, redis_url=redis_up.url())) as browser:
        redis_up.stop()
        person = browser()
        response = await person.post(
            "/register",
            {
                "full_name": "Trần Văn Bình",
                "email": "binh@becamex.com.vn",
                "password": PASSWORD,
                "locale": "en",
            },
        )
        assert response.status_code == 303, response.text[:500]
        await jobs.drain()
        message = await OutboxMessage.get(to="binh@becamex.com.vn")
        assert message.status != "queued"  # the email job ran here, in the web process


async def test_jobs_cache_and_limits_go_back_to_redis_when_it_returns(
    settings: Settings, redis_up: PrivateRedis
) -> None:
    client = await flushed(redis_up)
    computed: list[int] = []

    async def compute() -> dict:
        computed.append(1)
        return {"n": len(computed)}

    try:
        async with running_app(dataclasses.replace(settings, redis_url=redis_up.url())) as b:
            await make_user("an@tdmu.edu.vn", locale="en")
            await jobs.enqueue(record, "queued", job_id="r:1")
            assert await client.zcard(QUEUE) == 1 and RUNS == []  # waits for a worker
            assert await cache.remember("k", 60, compute) == {"n": 1}
            assert await cache.remember("k", 60, compute) == {"n": 1}  # from Redis

            redis_up.stop()
            await jobs.enqueue(record, "during", job_id="r:2")
            await jobs.drain()
            assert RUNS == [("during", 1, "inline")]
            assert jobs.backend().fallen_back == 1  # type: ignore[union-attr]
            assert await cache.remember("k", 60, compute) == {"n": 2}  # read through
            assert (await b().get("/organisations")).status_code == 200
            assert await sign_in(b, "an@tdmu.edu.vn", PASSWORD) == 200

            redis_up.start()  # empty, as after any restart without persistence
            await jobs.enqueue(record, "after", job_id="r:3")
            assert await client.zcard(QUEUE) == 1  # in Redis again, not run here
            assert jobs.backend().fallen_back == 1  # type: ignore[union-attr]
            await jobs.drain()
            assert [run[0] for run in RUNS] == ["during"]
            assert await cache.remember("k", 60, compute) == {"n": 3}
            assert await cache.remember("k", 60, compute) == {"n": 3}  # cached again
            assert await sign_in(b, "an@tdmu.edu.vn", PASSWORD) == 200
            limiter = b().http._transport.app.state.limiter  # type: ignore[attr-defined]
            assert limiter.degraded is False
    finally:
        await client.aclose()


async def test_the_worker_waits_for_redis_and_takes_jobs_once_it_is_back(
    settings: Settings, redis_up: PrivateRedis, tmp_path: Path
) -> None:
    client = await flushed(redis_up)
    redis_settings = dataclasses.replace(settings, redis_url=redis_up.url())
    try:
        async with running_app(redis_settings):
            worker = quiet_worker(redis_settings)
            task = asyncio.create_task(worker.async_run())
            try:
                await jobs.enqueue(record, "before", job_id="w:1")
                await _until(lambda: len(RUNS) == 1)

                await asyncio.to_thread(redis_up.stop)
                await asyncio.sleep(0.5)
                assert not task.done()  # arq's own worker would have stopped here
                assert worker.redis_outages == 1

                await asyncio.to_thread(redis_up.start)
                await jobs.enqueue(record, "after", job_id="w:2")
                await _until(lambda: len(RUNS) == 2, seconds=15)
                assert [(value, backend) for value, _t, backend in RUNS] == [
                    ("before", "arq"),
                    ("after", "arq"),
                ]
                await _until(lambda: idle(worker, complete=2))  # results stored too
            finally:
                worker.handle_sig(2)
                await asyncio.gather(task, return_exceptions=True)
                await worker.close()
    finally:
        await client.aclose()


def quiet_worker(settings: Settings):
    """A worker without the cron entries that run when it starts (the refund sweep): this
    module counts its own jobs, and Redis restarting under a queued sweep would lose it."""
    worker = build_worker(settings, poll_delay=0.05, handle_signals=False)
    worker.cron_jobs = [cron_job for cron_job in worker.cron_jobs if not cron_job.run_at_startup]
    return worker


def idle(worker, complete: int) -> bool:
    """`complete` jobs done and their results stored (stopping earlier cancels the store)."""
    return worker.jobs_complete == complete and all(t.done() for t in worker.tasks.values())


async def _until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {RUNS}")


async def test_a_worker_started_before_redis_waits_for_it(
    settings: Settings, redis_up: PrivateRedis
) -> None:
    redis_settings = dataclasses.replace(settings, redis_url=redis_up.url())
    async with running_app(redis_settings):
        await asyncio.to_thread(redis_up.stop)
        worker = quiet_worker(redis_settings)
        task = asyncio.create_task(worker.async_run())
        try:
            await asyncio.sleep(1.0)
            assert not task.done() and worker.redis_outages == 1
            await asyncio.to_thread(redis_up.start)
            await jobs.enqueue(record, "late", job_id="late:1")
            await _until(lambda: len(RUNS) == 1, seconds=15)
            assert RUNS == [("late", 1, "arq")]
            await _until(lambda: idle(worker, complete=1))  # its result is stored too
        finally:
            worker.handle_sig(2)
            await asyncio.gather(task, return_exceptions=True)
            await worker.close()
