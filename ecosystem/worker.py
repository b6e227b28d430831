"""The arq worker: every package's jobs and cron entries, over the configured Redis.

Redis is disposable. arq's own worker stops with an exception when Redis goes away (or
is not there yet when it starts); this one (`ResilientWorker`) logs the outage, waits with
a growing pause (up to MAX_OUTAGE_PAUSE_SECONDS) and picks up where it was once Redis
answers again, so a Redis restart needs no worker restart. Jobs queued in a Redis
restarted without persistence are gone (jobs that could not be queued ran in the web
process instead: see `ecosystem.jobs`).

A worker killed in the middle of a job (kill -9, a lost machine) leaves the job in the
queue, marked in progress: another worker, or this one restarted, runs it again once that
mark expires, `JOB_TIMEOUT` + 10 seconds after the job started (`JOB_TIMEOUT`, an
environment variable, default 300 s, is also the longest a job may run). Jobs are
idempotent, so the second run completes what the first could not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any
from zoneinfo import ZoneInfo

from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func
from tortoise import Tortoise

from ecosystem import jobs
from ecosystem.db import init_orm, tortoise_config
from ecosystem.packages import load_packages
from ecosystem.settings import Settings, configure

logger = logging.getLogger("ecosystem.worker")

DEFAULT_JOB_TIMEOUT_SECONDS = 300
MAX_OUTAGE_PAUSE_SECONDS = 5.0


def job_timeout_seconds() -> int:
    raw = os.environ.get("JOB_TIMEOUT", "").strip()
    return int(raw) if raw else DEFAULT_JOB_TIMEOUT_SECONDS


class ResilientWorker(Worker):
    """An arq Worker that waits for Redis to come back instead of stopping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redis_outages = 0

    async def main(self) -> None:
        """arq's main loop, once Redis answers (a worker may start before Redis does)."""
        pause = 0.1
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    dataclasses.replace(self.redis_settings, conn_retries=0),
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except jobs.REDIS_DOWN_ERRORS as exc:
                if pause == 0.1:
                    self.redis_outages += 1
                    logger.warning("Redis is unreachable at start (%r): waiting for it", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_OUTAGE_PAUSE_SECONDS)
        await super().main()

    async def _poll_iteration(self) -> None:
        pause = 0.1
        while True:
            try:
                await super()._poll_iteration()
            except jobs.REDIS_DOWN_ERRORS as exc:
                if pause == 0.1:
                    self.redis_outages += 1
                    logger.warning("Redis is unreachable (%r): waiting for it", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_OUTAGE_PAUSE_SECONDS)
                continue
            if pause > 0.1:
                logger.warning("Redis is reachable again: picking up jobs")
            return

    async def close(self) -> None:
        try:
            await super().close()
        except jobs.REDIS_DOWN_ERRORS:  # Redis gone at shutdown: still close our side
            logger.warning("Redis is unreachable at shutdown", exc_info=True)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)


def build_worker(settings: Settings, **overrides: Any) -> ResilientWorker:
    """An arq Worker for `settings`; `overrides` go to arq (tests: burst=True, poll_delay=…).

    Inside a process that already runs the ORM and a Redis job backend (a test driving the
    worker in-process), the worker uses them and leaves them open when it stops.
    """
    if not settings.redis_url:
        raise SystemExit("The worker needs REDIS_URL: without it jobs run inside the web process.")
    configure(settings)
    packages = load_packages(settings.packages)
    for package in packages:
        jobs.register(package.jobs)
    # Fresh copies: arq keeps each entry's next run on the CronJob object itself.
    cron_jobs = [
        dataclasses.replace(cron_job, next_run=None)
        for package in packages
        for cron_job in package.cron_jobs
    ]

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["owns_orm"] = not Tortoise.is_inited()
        if ctx["owns_orm"]:
            await init_orm(tortoise_config(settings.database_url, packages))
        active = jobs.active_backend()
        ctx["owns_jobs"] = active is None or active.name != "redis"
        if ctx["owns_jobs"]:
            await jobs.start(settings.redis_url)  # jobs may enqueue follow-up jobs

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if ctx.get("owns_jobs"):
            await jobs.stop()
        if ctx.get("owns_orm"):
            await Tortoise.close_connections()

    options: dict[str, Any] = {
        "functions": [
            func(function, name=name, max_tries=jobs.MAX_TRIES)
            for name, function in jobs.registered().items()
        ],
        "cron_jobs": cron_jobs,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_tries": jobs.MAX_TRIES,
        "keep_result": jobs.KEEP_JOB_ID_SECONDS,
        "job_timeout": job_timeout_seconds(),
        "handle_signals": True,
        # Cron schedules are read in the platform's time zone, as InlineCron does.
        "timezone": ZoneInfo(settings.default_timezone),
    }
    options.update(overrides)
    return ResilientWorker(**options)
