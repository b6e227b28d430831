"""Background work. `enqueue` is the one way to start it.

With REDIS_URL set, jobs go to arq and `python -m ecosystem worker` runs them together with
every package's cron entries; without it they run in this process, after the transaction
that enqueued them commits. Either way a job id makes enqueueing idempotent and a failing
job is retried with exponential backoff (RETRY_BASE_SECONDS, doubling) up to MAX_TRIES.

A job is `async def name(ctx, *args)`: pass ids and plain values, never ORM objects (arq
pickles the arguments). `ctx` holds at least `job_id` and `job_try` on both backends.

Redis is disposable. When it cannot be reached at the moment a job is enqueued (it is
restarting, the network blinked), the data that needed the job has already committed, so
failing the request would be wrong (a 500 after the booking was made) and dropping the job
would lose an email. `RedisBackend` then hands the job to an in-process fallback that runs
it in this web process exactly like the embedded default does: after the commit, with the
same retries, deduplicated by job id within the process. It is logged as a warning. Jobs
are idempotent by contract, so the rare job that both reached Redis and ran here (the
connection broke after Redis had taken it) does no harm. A deferred job taken by the
fallback waits in this process and is lost if the process stops first, as with the
embedded default.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from arq import cron as arq_cron
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.cron import CronJob
from arq.worker import Retry
from redis.exceptions import RedisError

from ecosystem.db import on_commit

logger = logging.getLogger("ecosystem.jobs")

JobFunction = Callable[..., Awaitable[Any]]
MAX_TRIES = 5
RETRY_BASE_SECONDS = 10.0  # waits 10, 20, 40, 80 s between the five tries
RETRY_MAX_SECONDS = 600.0
KEEP_JOB_ID_SECONDS = 3600  # the same window arq keeps results (dedupe window)
# At shutdown the in-process backend waits for jobs due within this horizon; jobs deferred
# further (a retry far ahead, a reminder tomorrow) are dropped, as on any restart.
DRAIN_HORIZON_SECONDS = 30.0
START_CONN_RETRIES = 1  # a web process waits about this many seconds for Redis at start-up

# What an unreachable Redis raises (refused, reset, timed out, DNS).
REDIS_DOWN_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)

_registry: dict[str, JobFunction] = {}


def job_name(function: JobFunction) -> str:
    return f"{function.__module__}.{function.__name__}"


def retry_delay_seconds(job_try: int) -> float:
    """The wait before try `job_try + 1`: RETRY_BASE_SECONDS doubling, capped."""
    return min(RETRY_BASE_SECONDS * 2 ** (job_try - 1), RETRY_MAX_SECONDS)


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
    run.__doc__ = function.__doc__
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
        self._wake_at: dict[asyncio.Task[None], float] = {}  # tasks waiting (defer, retry)
        self._seen_job_ids: dict[str, float] = {}

    async def enqueue(
        self, name: str, args: tuple[Any, ...], job_id: str | None, defer_until: datetime | None
    ) -> bool:
        if name not in _registry:
            raise LookupError(f"job {name} is not registered by any package")
        if job_id and not self._claim(job_id):
            return False
        task = asyncio.create_task(self._run(name, args, job_id, defer_until))
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return True

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake_at.pop(task, None)

    def _claim(self, job_id: str) -> bool:
        now = time.monotonic()
        # Ids expire in the order they were claimed (the window is the same for all): drop
        # the expired ones from the front, not by scanning every id at each enqueue.
        seen = self._seen_job_ids
        while seen and seen[oldest := next(iter(seen))] <= now:
            del seen[oldest]
        if job_id in seen:
            return False
        seen[job_id] = now + KEEP_JOB_ID_SECONDS
        return True

    async def _wait(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._wake_at[task] = time.monotonic() + seconds
        try:
            await asyncio.sleep(seconds)
        finally:
            self._wake_at.pop(task, None)

    async def _run(
        self, name: str, args: tuple[Any, ...], job_id: str | None, defer_until: datetime | None
    ) -> None:
        if defer_until is not None:
            await self._wait(max(0.0, (defer_until - datetime.now(UTC)).total_seconds()))
        function = _registry[name]
        for job_try in range(1, MAX_TRIES + 1):
            ctx = {"job_id": job_id, "job_try": job_try, "backend": self.name}
            try:
                await function(ctx, *args)
                return
            except Retry as retry:
                if job_try >= MAX_TRIES:
                    logger.error("job %s gave up after %s tries", name, job_try)
                    return
                await self._wait((retry.defer_score or 0) / 1000)
            except Exception:
                return  # already logged by with_retries on the last try

    def _due_tasks(self) -> list[asyncio.Task[None]]:
        horizon = time.monotonic() + DRAIN_HORIZON_SECONDS
        return [
            task
            for task in self._tasks
            if not task.done() and self._wake_at.get(task, 0.0) <= horizon
        ]

    async def drain(self) -> None:
        """Wait until every queued in-process job has finished, retries included.

        Jobs that will not wake up within DRAIN_HORIZON_SECONDS are not waited for.
        """
        while due := self._due_tasks():
            await asyncio.wait(due, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)

    async def close(self) -> None:
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            logger.warning("dropping %d deferred in-process job(s) at shutdown", len(pending))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class RedisBackend:
    """Jobs go to arq; while Redis cannot be reached they run in this process (see above)."""

    name = "redis"

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool
        self.fallback = InlineBackend()
        self.fallen_back = 0  # jobs run in-process because Redis was down (for tests, logs)

    async def enqueue(
        self, name: str, args: tuple[Any, ...], job_id: str | None, defer_until: datetime | None
    ) -> bool:
        try:
            job = await self.pool.enqueue_job(name, *args, _job_id=job_id, _defer_until=defer_until)
        except REDIS_DOWN_ERRORS as exc:
            logger.warning(
                "Redis is unreachable (%r): job %s (id %s) runs in this process", exc, name, job_id
            )
            self.fallen_back += 1
            return await self.fallback.enqueue(name, args, job_id, defer_until)
        return job is not None

    async def drain(self) -> None:
        """Wait for the jobs the fallback took while Redis was down (arq's are the worker's)."""
        await self.fallback.drain()

    async def close(self) -> None:
        await self.fallback.close()
        try:
            await self.pool.aclose()
        except REDIS_DOWN_ERRORS:  # closing a pool whose server is gone
            logger.warning("could not close the Redis pool cleanly", exc_info=True)


_backend: InlineBackend | RedisBackend | None = None


async def start(redis_url: str | None) -> InlineBackend | RedisBackend:
    global _backend
    _backend = RedisBackend(await _arq_pool(redis_url)) if redis_url else InlineBackend()
    return _backend


async def _arq_pool(redis_url: str) -> ArqRedis:
    """arq's pool; a web process also starts while Redis is down (it connects when it can)."""
    settings = RedisSettings.from_dsn(redis_url)
    try:
        return await create_pool(dataclasses.replace(settings, conn_retries=START_CONN_RETRIES))
    except REDIS_DOWN_ERRORS as exc:
        logger.warning("Redis is unreachable at start-up (%r): jobs run in-process for now", exc)
        return ArqRedis.from_url(redis_url, socket_connect_timeout=settings.conn_timeout)


async def stop() -> None:
    global _backend
    if _backend is not None:
        previous, _backend = _backend, None
        await previous.close()


def backend() -> InlineBackend | RedisBackend:
    global _backend
    if _backend is None:
        _backend = InlineBackend()
    return _backend


def active_backend() -> InlineBackend | RedisBackend | None:
    """The started backend, or None (unlike `backend()`, never creates one)."""
    return _backend


async def enqueue(
    function: JobFunction | str,
    *args: Any,
    job_id: str | None = None,
    defer_until: datetime | None = None,
) -> None:
    """Queue a job once the current `atomic()` transaction commits (at once outside one).

    Nothing is queued if the transaction rolls back. Pass ids and plain values, never ORM
    objects. A second enqueue with the same job id while the first is queued or recently
    done (KEEP_JOB_ID_SECONDS) is ignored.
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
    """Runs cron entries in the web process when there is no Redis (the embedded default).

    Schedules are read in `timezone` (default: the platform's, Asia/Ho_Chi_Minh), like the
    arq worker does, so `hour=2` means 02:00 in the region on both backends. The CronJob
    objects are not mutated: the next runs are kept here.
    """

    def __init__(self, cron_jobs: Sequence[CronJob], timezone: tzinfo | None = None) -> None:
        self.cron_jobs = list(cron_jobs)
        self.timezone = timezone or _default_timezone()
        self._task: asyncio.Task[None] | None = None
        for cron_job in self.cron_jobs:
            _registry.setdefault(cron_job.name, cron_job.coroutine)

    def start(self) -> None:
        if self.cron_jobs:
            self._task = asyncio.create_task(self._loop())

    def _next(self, cron_job: CronJob, after: datetime) -> datetime:
        probe = dataclasses.replace(cron_job, next_run=None)
        probe.calculate_next(after)
        assert probe.next_run is not None
        return probe.next_run

    async def _loop(self) -> None:
        now = datetime.now(self.timezone)
        next_runs = {
            index: now if cron_job.run_at_startup else self._next(cron_job, now)
            for index, cron_job in enumerate(self.cron_jobs)
        }
        while True:
            due = min(next_runs.values())
            await asyncio.sleep(max(0.0, (due - datetime.now(self.timezone)).total_seconds()))
            now = datetime.now(self.timezone)
            for index, cron_job in enumerate(self.cron_jobs):
                scheduled = next_runs[index]
                if scheduled > now:
                    continue
                job_id = f"cron:{cron_job.name}:{int(scheduled.timestamp())}"
                try:
                    await backend().enqueue(cron_job.name, (), job_id, None)
                except Exception:
                    logger.exception("could not start cron job %s", cron_job.name)
                next_runs[index] = self._next(cron_job, max(scheduled, now))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def _default_timezone() -> tzinfo:
    from ecosystem.settings import get_settings

    return ZoneInfo(get_settings().default_timezone)


def cron(function: JobFunction, **schedule: Any) -> CronJob:
    """A cron entry for a job, e.g. `cron(expire_holds, minute={0, 15, 30, 45})`.

    Times are in the platform's time zone. Failures are retried like any job.
    """
    schedule.setdefault("max_tries", MAX_TRIES)
    return arq_cron(with_retries(function), name=job_name(function), unique=True, **schedule)
