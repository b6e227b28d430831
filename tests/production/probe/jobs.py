"""`slow_probe`: records each try as it starts, works for a while, then completes once.

Each start is a row in `probe_try` (committed at once, so a try killed mid-way still shows).
Completion is the row of `probe_done`, keyed by the job's key: a second completion would
violate its primary key, and a try that finds the row already there does nothing, so the
job is idempotent and "completed exactly once" can be read from the database.
"""

from __future__ import annotations

import asyncio
import os

from tortoise import connections

from ecosystem.db import atomic

TABLES = """
CREATE TABLE IF NOT EXISTS probe_try (
    id serial PRIMARY KEY, key text NOT NULL, job_try int NOT NULL, pid int NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS probe_done (
    key text PRIMARY KEY, job_try int NOT NULL, pid int NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now());
"""


async def slow_probe(ctx: dict, key: str, seconds: float) -> str:
    db = connections.get("default")
    await db.execute_query(
        "INSERT INTO probe_try (key, job_try, pid) VALUES ($1, $2, $3)",
        [key, ctx["job_try"], os.getpid()],
    )
    await asyncio.sleep(seconds)  # the work; a worker killed now leaves no completion
    async with atomic() as connection:
        _count, rows = await connection.execute_query(
            "SELECT 1 FROM probe_done WHERE key = $1 FOR UPDATE", [key]
        )
        if rows:
            return "already done"
        await connection.execute_query(
            "INSERT INTO probe_done (key, job_try, pid) VALUES ($1, $2, $3)",
            [key, ctx["job_try"], os.getpid()],
        )
    return "done"
