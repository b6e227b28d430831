"""Jobs over Redis: a real arq worker, in this process and as `python -m ecosystem worker`.

Needs TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15); that Redis database is flushed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import re
import socket
import subprocess
import sys
import time
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from ecosystem import jobs
from ecosystem.db import atomic
from ecosystem.models import OutboxMessage, User
from ecosystem.packages import DomainPackage
from ecosystem.settings import PROJECT_ROOT, Settings
from ecosystem.worker import build_worker
from tests.conftest import PASSWORD, TEST_REDIS_URL, running_app

pytestmark = [
    pytest.mark.redis,
    # arq 0.28 closes its pool with redis-py's deprecated close()
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

QUEUE = "arq:queue"  # arq's default queue name
VERIFY_LINK = re.compile(r"http://testserver(/verify\?token=[A-Za-z0-9_.\-]+)")

TRIES: dict[str, list[int]] = {}
FAILURES_BEFORE_SUCCESS: dict[str, int] = {}


async def flaky(ctx: dict, key: str) -> str:
    TRIES.setdefault(key, []).append(ctx["job_try"])
    if ctx["job_try"] <= FAILURES_BEFORE_SUCCESS.get(key, 0):
        raise ConnectionError(f"{key} is not reachable yet")
    return f"{key} done"


async def tick(ctx: dict) -> None:
    TRIES.setdefault("tick", []).append(ctx["job_try"])


@pytest.fixture(autouse=True)
def _registered_test_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs.register([flaky, tick])
    TRIES.clear()
    FAILURES_BEFORE_SUCCESS.clear()
    monkeypatch.setattr(jobs, "RETRY_BASE_SECONDS", 0.05)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def redis_settings(settings: Settings, redis: Redis) -> Settings:
    return dataclasses.replace(settings, redis_url=TEST_REDIS_URL)


async def run_burst(settings: Settings):
    """A burst of an arq worker over the queue; `worker.cron_runs` counts the cron entries it
    ran: those run at start-up, and any whose time came during the burst (a run that
    crosses a scheduled minute runs them too)."""
    worker = build_worker(settings, burst=True, poll_delay=0.05, handle_signals=False)
    runs: collections.Counter = collections.Counter()
    for cron_job in worker.cron_jobs:  # the objects the worker runs (its `functions` too)
        cron_job.coroutine = _counted(cron_job.coroutine, cron_job.name, runs)
    worker.cron_runs = runs  # type: ignore[attr-defined]
    try:
        await asyncio.wait_for(worker.async_run(), timeout=15)
    finally:
        await worker.close()
    return worker


def _counted(coroutine, name: str, runs: collections.Counter):
    async def run(ctx, *args, **kwargs):
        runs[name] += 1
        return await coroutine(ctx, *args, **kwargs)

    return run


# --- the web side -------------------------------------------------------------------------


async def test_health_reports_the_redis_job_backend(redis_settings: Settings) -> None:
    async with running_app(redis_settings) as browser:
        response = await browser().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "jobs": "redis"}


# --- an arq worker in this process ---------------------------------------------------------


async def test_an_arq_worker_runs_committed_jobs_once_and_retries_failures(
    redis_settings: Settings, redis: Redis
) -> None:
    FAILURES_BEFORE_SUCCESS["partner-api"] = 2
    async with running_app(redis_settings):
        assert jobs.backend().name == "redis"
        await jobs.enqueue(flaky, "partner-api", job_id="sync:partner-api")
        await jobs.enqueue(flaky, "partner-api", job_id="sync:partner-api")  # a duplicate
        async with atomic():
            await jobs.enqueue(flaky, "committed", job_id="sync:committed")
            assert await redis.zcard(QUEUE) == 1  # not before the commit
        with pytest.raises(RuntimeError):
            async with atomic():
                await jobs.enqueue(flaky, "rolled back", job_id="sync:rolled-back")
                raise RuntimeError("abandon")
        assert await redis.zcard(QUEUE) == 2

        worker = await run_burst(redis_settings)

        assert TRIES == {"partner-api": [1, 2, 3], "committed": [1]}
        # Besides these two, the cron entries: at least those that run when a worker starts
        # (the refund sweep), and any that fell due during the burst.
        at_startup = {cron_job.name for cron_job in worker.cron_jobs if cron_job.run_at_startup}
        assert at_startup and at_startup <= set(worker.cron_runs)
        assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (
            2 + worker.cron_runs.total(),
            2,
            0,
        )
        pool = jobs.backend().pool  # type: ignore[union-attr]
        job = Job("sync:partner-api", pool)
        assert await job.status() == JobStatus.complete
        info = await job.result_info()
        assert info is not None and info.success and info.result == "partner-api done"
        assert info.job_try == 3
        # The same id within the kept-result window is still ignored.
        await jobs.enqueue(flaky, "partner-api", job_id="sync:partner-api")
        assert await redis.zcard(QUEUE) == 0
        assert await Job("sync:rolled-back", pool).status() == JobStatus.not_found
        # The app's ORM and Redis pool are still usable after the in-process worker stopped.
        assert await OutboxMessage.all().count() == 0
        await jobs.enqueue(flaky, "after", job_id="sync:after")
        assert await redis.zcard(QUEUE) == 1


async def test_a_job_that_keeps_failing_is_given_up_after_max_tries(
    redis_settings: Settings, redis: Redis
) -> None:
    FAILURES_BEFORE_SUCCESS["down"] = 99
    async with running_app(redis_settings):
        await jobs.enqueue(flaky, "down", job_id="sync:down")
        worker = await run_burst(redis_settings)
        info = await Job("sync:down", jobs.backend().pool).result_info()  # type: ignore[union-attr]
    assert TRIES["down"] == list(range(1, jobs.MAX_TRIES + 1))
    assert worker.jobs_failed == 1
    assert info is not None and not info.success and isinstance(info.result, ConnectionError)


CRON_PACKAGE = "worker_test_cron_pkg"


async def test_a_package_cron_entry_runs_in_the_arq_worker(
    redis_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType(f"{CRON_PACKAGE}.package")
    entry = jobs.cron(tick, minute=None, run_at_startup=True)  # every minute, and now
    module.package = DomainPackage(name=CRON_PACKAGE, cron_jobs=[entry])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"{CRON_PACKAGE}.package", module)
    settings = dataclasses.replace(
        redis_settings, packages=(*redis_settings.packages, CRON_PACKAGE)
    )

    worker = await run_burst(settings)  # the worker opens (and closes) the ORM and Redis itself

    assert TRIES["tick"] == [1]
    assert worker.jobs_complete >= 1
    assert entry.next_run is None  # each worker schedules from a fresh copy
    assert jobs.active_backend() is None


# --- `python -m ecosystem worker` end to end: registration → Redis → worker → SMTP ------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def worker_process(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "SMTP_URL": settings.smtp_url or "",
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": settings.base_url,
        "PACKAGES": ",".join(settings.packages),
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecosystem", "worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def test_the_worker_command_delivers_the_verification_email_over_smtp(
    redis_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as smtp_port:
        settings = dataclasses.replace(redis_settings, smtp_url=f"smtp://127.0.0.1:{smtp_port}")
        async with running_app(settings) as new_browser:
            browser = new_browser()
            response = await browser.post(
                "/register",
                {
                    "full_name": "Trần Văn Bình",
                    "email": "binh@becamex.com.vn",
                    "password": PASSWORD,
                    "locale": "en",
                },
            )
            assert response.status_code == 303, response.text[:500]
            message = await OutboxMessage.get(to="binh@becamex.com.vn")
            assert message.status == "queued"  # waiting in Redis for a worker
            assert await redis.zcard(QUEUE) == 1
            assert mailbox.messages == []

            log_path = tmp_path / "worker.log"
            with worker_process(settings, log_path) as process:
                deadline = time.monotonic() + 20
                while not mailbox.messages and time.monotonic() < deadline:
                    assert process.poll() is None, log_path.read_text()[-3000:]
                    await asyncio.sleep(0.1)
                assert mailbox.messages, log_path.read_text()[-3000:]
                while time.monotonic() < deadline:  # the worker records the delivery
                    await message.refresh_from_db()
                    if message.status != "queued":
                        break
                    await asyncio.sleep(0.1)

            email = mailbox.messages[0]
            assert email["To"] == "binh@becamex.com.vn"
            assert email["Subject"] == "Confirm your email address"
            assert email["Content-Language"] == "en"
            text = email.get_body(preferencelist=("plain",)).get_content()
            link = VERIFY_LINK.search(text)
            assert link, text
            assert (message.status, message.attempts) == ("sent", 1)
            assert len(mailbox.messages) == 1

            assert (await User.get(email="binh@becamex.com.vn")).email_verified_at is None
            response = await browser.get(link.group(1))
            assert response.status_code == 303
            assert (await User.get(email="binh@becamex.com.vn")).email_verified_at is not None
