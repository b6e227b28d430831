"""The arq worker: every package's jobs and cron entries, over the configured Redis."""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func

from ecosystem import jobs
from ecosystem.db import init_orm, tortoise_config
from ecosystem.packages import load_packages
from ecosystem.settings import Settings, configure

logger = logging.getLogger("ecosystem.worker")


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    if not settings.redis_url:
        raise SystemExit("The worker needs REDIS_URL: without it jobs run inside the web process.")
    configure(settings)
    packages = load_packages(settings.packages)
    for package in packages:
        jobs.register(package.jobs)
    cron_jobs = [cron_job for package in packages for cron_job in package.cron_jobs]

    async def on_startup(ctx: dict[str, Any]) -> None:
        await init_orm(tortoise_config(settings.database_url, packages))
        await jobs.start(settings.redis_url)  # jobs may enqueue follow-up jobs

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        from tortoise import Tortoise

        await jobs.stop()
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
    }
    options.update(overrides)
    return Worker(**options)
