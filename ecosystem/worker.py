"""The arq worker: every package's jobs and cron entries, over the configured Redis."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from zoneinfo import ZoneInfo

from arq.connections import RedisSettings
from arq.worker import Worker, func
from tortoise import Tortoise

from ecosystem import jobs
from ecosystem.db import init_orm, tortoise_config
from ecosystem.packages import load_packages
from ecosystem.settings import Settings, configure

logger = logging.getLogger("ecosystem.worker")


def build_worker(settings: Settings, **overrides: Any) -> Worker:
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
        "job_timeout": 300,
        "handle_signals": True,
        # Cron schedules are read in the platform's time zone, as InlineCron does.
        "timezone": ZoneInfo(settings.default_timezone),
    }
    options.update(overrides)
    return Worker(**options)
