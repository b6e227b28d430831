"""Background work. `enqueue` is the one way to start it.

With REDIS_URL set, jobs go to arq and `python -m ecosystem worker` runs them together with
every package's cron entries; without it they run in this process, after the transaction
that enqueued them commits. Either way a job id makes enqueueing idempotent and a failing
job is retried with backoff up to MAX_TRIES.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from arq import cron as arq_cron
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.cron import CronJob
from arq.worker import Retry

from ecosystem.db import on_commit

logger = logging.getLogger("ecosystem.jobs")

JobFunction = Callable[..., Awaitable[Any]]
MAX_TRIES = 5
KEEP_JOB_ID_SECONDS = 3600  # the same window arq keeps results (dedupe window)

_registry: dict[str, JobFunction] = {}


def job_name(function: JobFunction) -> str:
    return f"{function.__module__}.{function.__name__}"


def retry_delay_seconds(job_try: int) -> int:
    return min(2 ** (job_try - 1), 300)


def with_retries(function: JobFunction) -> JobFunction:
    """Turn any failure into arq's Retry with backoff until the last try."""

    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        try:
            return await function(ctx, *args)
        except Retry:
            raise
        except Exception as exc:
            job_try = ctx.get("job_try", 1)
            if job_try >= MAX_TRIES:
                logger.exception(
                    "job %s failed for good after %s tries", job_name(function), job_try
                )
                raise
            logger.warning("job %s failed (try %s): %r; retrying", job_name(function), job_try, exc)
            raise Retry(defer=retry_delay_seconds(job_try)) from exc

    run.__name__ = function.__name__
    run.__qualname__ = function.__qualname__
    run.__module__ = function.__module__
    return run


def register(functions: Sequence[JobFunction]) -> None:
    for function in functions:
        _registry[job_name(function)] = with_retries(function)


def registered() -> dict[str, JobFunction]:
    return dict(_registry)


class InlineBackend:
    """Runs jobs as tasks of this process; deferred jobs are lost on restart."""

    name = "inline"

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen_job_ids: dict[str, float] = {}

    async def enqueue(
        self, name: str, args: tuple[Any, ...], job_id: str | None, defer_until: datetime | None
    ) -> bool:
        if job_id and not self._claim(job_id):
            return False
        task = asyncio.create_task(self._run(name, args, job_id, defer_until))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _claim(self, job_id: str) -> bool:
        now = time.monotonic()
        self._seen_job_ids = {k: v for k, v in self._seen_job_ids.items() if v > now}
        if job_id in self._seen_job_ids:
            return False
        self._seen_job_ids[job_id] = now + KEEP_JOB_ID_SECONDS
        return True

    async def _run(
        self, name: str, args: tuple[Any, ...], job_id: str | None, defer_until: datetime | None
    ) -> None:
        if defer_until is not None:
            await asyncio.sleep(max(0.0, (defer_until - datetime.now(UTC)).total_seconds()))
        function = _registry[name]
        for job_try in range(1, MAX_TRIES + 1):
            ctx = {"job_id": job_id, "job_try": job_try, "backend": self.name}
            try:
                await function(ctx, *args)
                return
            except Retry as retry:
                await asyncio.sleep((retry.defer_score or 0) / 1000)
            except Exception:
                return  # already logged by with_retries on the last try

    async def drain(self) -> None:
        """Wait until every queued in-process job has finished (tests, CLI commands)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


class RedisBackend:
    name = "redis"

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    async def enqueue(
        self, name: str, args: tuple[Any, ...], job_id: str | None, defer_until: datetime | None
    ) -> bool:
        job = await self.pool.enqueue_job(name, *args, _job_id=job_id, _defer_until=defer_until)
        return job is not None

    async def drain(self) -> None:
        return None

    async def close(self) -> None:
        await self.pool.aclose()


_backend: InlineBackend | RedisBackend | None = None


async def start(redis_url: str | None) -> InlineBackend | RedisBackend:
    global _backend
    if redis_url:
        _backend = RedisBackend(await create_pool(RedisSettings.from_dsn(redis_url)))
    else:
        _backend = InlineBackend()
    return _backend


async def stop() -> None:
    global _backend
    if _backend is not None:
        await _backend.close()
        _backend = None


def backend() -> InlineBackend | RedisBackend:
    global _backend
    if _backend is None:
        _backend = InlineBackend()
    return _backend


async def enqueue(
    function: JobFunction | str,
    *args: Any,
    job_id: str | None = None,
    defer_until: datetime | None = None,
) -> None:
    """Queue a job once the current transaction commits (at once outside a transaction).

    Pass ids and plain values, never ORM objects. A second enqueue with the same job id
    while the first is queued or recently done is ignored.
    """
    name = function if isinstance(function, str) else job_name(function)
    if name not in _registry:
        raise LookupError(f"job {name} is not registered by any package")

    async def dispatch() -> None:
        await backend().enqueue(name, args, job_id, defer_until)

    await on_commit(dispatch)


async def drain() -> None:
    await backend().drain()


class InlineCron:
    """Runs cron entries in the web process when there is no Redis (the embedded default)."""

    def __init__(self, cron_jobs: Sequence[CronJob]) -> None:
        self.cron_jobs = list(cron_jobs)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.cron_jobs:
            self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        now = datetime.now(UTC)
        for cron_job in self.cron_jobs:
            cron_job.calculate_next(now)
        while True:
            due = min(c.next_run for c in self.cron_jobs if c.next_run is not None)
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            for cron_job in self.cron_jobs:
                if cron_job.next_run is not None and cron_job.next_run <= datetime.now(UTC):
                    job_id = f"cron:{cron_job.name}:{int(cron_job.next_run.timestamp())}"
                    await backend().enqueue(job_name(cron_job.coroutine), (), job_id, None)
                    cron_job.calculate_next(cron_job.next_run)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def cron(function: JobFunction, **schedule: Any) -> CronJob:
    """A cron entry for a registered job, e.g. `cron(expire_holds, minute={0, 15, 30, 45})`."""
    return arq_cron(with_retries(function), name=job_name(function), unique=True, **schedule)
