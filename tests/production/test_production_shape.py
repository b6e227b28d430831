"""The production shape, proven: two web processes and one arq worker over PostgreSQL and
Redis, started with the README's commands (`migrate`, `seed --demo`, `serve` ×2, `worker`).

1. Fifty people book one slot at once, through both processes: exactly one wins.
2. A mixed load (browse, search, book, cancel, …) for a bounded time: no error, no double
   booking.
3. The worker is killed (-9) in the middle of a slow job; after a restart the job completes,
   exactly once.
4. Redis is stopped and started again: both web processes keep serving pages, bookings and
   sign-ins during the outage and after it, and the same worker goes on taking jobs.
5. The backup of docs/operations.md (pg_dump, tar of the media) restores into a new
   database that the app serves with the same data.

Needs TEST_DATABASE_URL (a fresh database is created and dropped) and `redis-server` on
PATH (a private one on a free port, so restarting it disturbs nothing else).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from tests.conftest import TEST_PACKAGES
from tests.production.load import HCMC, actions_for, run_mixed_load
from tests.production.probe.jobs import TABLES
from tests.production.shape import (
    DEMO_PASSWORD,
    PrivateRedis,
    ProductionShape,
    active_statuses,
    free_port,
    pg,
    stop_process,
    tail,
    wait_until,
    with_database,
)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
PROBE_JOB = "tests.production.probe.jobs.slow_probe"
JOB_TIMEOUT = 5  # the worker's JOB_TIMEOUT: a killed job is taken again 15 s after it started

pytestmark = [
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="TEST_DATABASE_URL is not set"),
    pytest.mark.skipif(not PrivateRedis.available(), reason="redis-server is not on PATH"),
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def shape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionShape]:
    workdir = tmp_path_factory.mktemp("production-shape")
    with ProductionShape(
        TEST_DATABASE_URL, workdir, packages=TEST_PACKAGES, job_timeout=JOB_TIMEOUT
    ) as running:
        running.prepare(users=50, machines=12)
        pg(running.database_url, TABLES)
        running.start_web(2)
        running.start_worker()
        yield running


def slot_json(machine: int, start: datetime, end: datetime) -> dict:
    return {"equipment_id": machine, "start": start.isoformat(), "end": end.isoformat()}


def at(days: int, hour: int, minute: int = 0) -> datetime:
    day = (datetime.now(HCMC) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HCMC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def assert_one_winner(responses: list[httpx.Response]) -> None:
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: len(responses) - 1}, [
        (r.status_code, r.text[:200]) for r in responses if r.status_code not in (201, 409)
    ] or statuses


# --- 1. concurrent booking across both processes ---------------------------------------------


def test_fifty_people_booking_one_slot_through_two_processes_get_one_booking(shape):
    tokens, machines = shape.fixtures["tokens"], shape.fixtures["machines"]
    bases = shape.bases
    assert len(bases) == 2 and len(tokens) == 50

    async def race() -> tuple[list[httpx.Response], list[httpx.Response]]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            same = slot_json(machines[0], at(3, 9), at(3, 10))
            first = await asyncio.gather(
                *(
                    http.post(f"{bases[n % 2]}/api/v1/bookings", json=same, headers=bearer(t))
                    for n, t in enumerate(tokens)
                )
            )
            # Twelve different slots that all contain 10:30–11:00 on another machine.
            second = await asyncio.gather(
                *(
                    http.post(
                        f"{bases[n % 2]}/api/v1/bookings",
                        json=slot_json(
                            machines[1],
                            at(3, 9) + timedelta(minutes=30 * (n % 4)),
                            at(3, 11) + timedelta(minutes=30 * (n % 3)),
                        ),
                        headers=bearer(t),
                    )
                    for n, t in enumerate(tokens)
                )
            )
        return first, second

    first, second = asyncio.run(race())
    assert_one_winner(first)
    assert_one_winner(second)
    assert shape.double_bookings() == 0


# --- 2. mixed load --------------------------------------------------------------------------


def test_a_mixed_load_on_both_processes_has_no_error_and_no_double_booking(shape):
    result = asyncio.run(run_mixed_load(shape.bases, shape.fixtures, seconds=8, concurrency=12))
    print(result.summary())
    assert result.errors == [], "\n".join(result.errors[:20])
    assert result.requests >= 100, result.summary()
    actions = [action.name for action in actions_for(shape.fixtures)]
    assert {"browse", "search", "book", "cancel"} <= set(actions)
    if "incubator" in shape.packages:
        assert "report" in actions, "no open report request in the incubator's demo data"
    if "hackathon" in shape.packages:
        assert "score" in actions, "no demo judge"
    for action in actions:
        assert result.latencies[action], f"{action} never ran: {result.summary()}"
    assert result.statuses["book"][201] > 0, result.summary()
    assert shape.double_bookings() == 0
    assert all(process.poll() is None for process in shape.web)


# --- 3. the worker killed in the middle of a job --------------------------------------------


async def arq_pool(shape: ProductionShape) -> ArqRedis:
    assert shape.redis is not None
    return await create_pool(RedisSettings.from_dsn(shape.redis.url(0)))


def enqueue_probe(shape: ProductionShape, key: str, seconds: float) -> bool:
    async def go() -> bool:
        pool = await arq_pool(shape)
        try:
            job = await pool.enqueue_job(PROBE_JOB, key, seconds, _job_id=f"probe:{key}")
            return job is not None
        finally:
            await pool.aclose()

    return asyncio.run(go())


def probe_rows(shape: ProductionShape, key: str) -> tuple[list, list]:
    tries = pg(
        shape.database_url, "SELECT job_try, pid FROM probe_try WHERE key = $1 ORDER BY id", key
    )
    done = pg(shape.database_url, "SELECT job_try, pid FROM probe_done WHERE key = $1", key)
    return [tuple(row) for row in tries], [tuple(row) for row in done]


def test_a_job_whose_worker_is_killed_completes_exactly_once_after_a_restart(shape):
    assert shape.worker is not None
    first_pid = shape.worker.pid
    assert enqueue_probe(shape, "kill", seconds=2.5)
    wait_until(lambda: probe_rows(shape, "kill")[0], 20, "the worker did not start the job")

    shape.kill_worker()  # in the middle of the job's work
    tries, done = probe_rows(shape, "kill")
    assert (tries, done) == ([(1, first_pid)], [])

    second = shape.start_worker()
    assert second.pid != first_pid
    # arq marks the job in progress for JOB_TIMEOUT + 10 s; then the new worker takes it.
    wait_until(lambda: probe_rows(shape, "kill")[1], JOB_TIMEOUT + 30, "the job never completed")
    time.sleep(0.5)
    tries, done = probe_rows(shape, "kill")
    assert tries == [(1, first_pid), (2, second.pid)], tail(second)
    assert done == [(2, second.pid)]
    # Completed once: the same job id is not taken again within the kept-result window.
    assert enqueue_probe(shape, "kill", seconds=0) is False
    time.sleep(1.0)
    assert probe_rows(shape, "kill") == (tries, done)


# --- 4. Redis restarted -----------------------------------------------------------------------


async def serve_and_book(shape: ProductionShape, days: int, label: str) -> list[str]:
    """Pages, a booking and its cancellation, and a sign-in on each process; the failures."""
    failures: list[str] = []
    machine = shape.fixtures["machines"][-1]
    token = shape.fixtures["tokens"][-1]
    async with httpx.AsyncClient(timeout=20) as http:
        for n, base in enumerate(shape.bases):
            for path in ("/", "/labs", "/organisations", f"/equipment/{machine}/week"):
                response = await http.get(base + path)
                if response.status_code != 200:
                    failures.append(f"{label} GET {base}{path}: {response.status_code}")
            slot = slot_json(machine, at(days, 8 + 2 * n), at(days, 9 + 2 * n))
            booked = await http.post(f"{base}/api/v1/bookings", json=slot, headers=bearer(token))
            if booked.status_code != 201:
                failures.append(f"{label} book on {base}: {booked.status_code} {booked.text}")
                continue
            cancelled = await http.post(  # enqueues the waitlist job after the commit
                f"{base}/api/v1/bookings/{booked.json()['id']}/cancel", headers=bearer(token)
            )
            if cancelled.status_code != 200:
                failures.append(f"{label} cancel on {base}: {cancelled.status_code}")
            again = await http.post(f"{base}/api/v1/bookings", json=slot, headers=bearer(token))
            if again.status_code != 201:
                failures.append(f"{label} rebook on {base}: {again.status_code} {again.text}")
            signed_in = await http.post(
                f"{base}/api/v1/auth/token",
                json={"email": "student@example.org", "password": DEMO_PASSWORD},
            )
            if signed_in.status_code != 200:
                failures.append(f"{label} sign-in on {base}: {signed_in.status_code}")
    return failures


def test_web_processes_keep_serving_while_redis_restarts_and_the_worker_carries_on(shape):
    assert shape.redis is not None and shape.worker is not None
    worker_pid = shape.worker.pid
    assert asyncio.run(serve_and_book(shape, 40, "before")) == []

    shape.redis.stop()
    assert asyncio.run(serve_and_book(shape, 41, "during the outage")) == []
    assert all(process.poll() is None for process in shape.web)
    # The jobs that could not be queued ran inside the web processes instead.
    web_logs = "".join(tail(process, 200_000) for process in shape.web)
    assert "runs in this process" in web_logs
    assert "Traceback" not in web_logs, web_logs[-4000:]
    # The worker polls every half second: the outage lasts until it has met it.
    wait_until(
        lambda: "Redis is unreachable" in tail(shape.worker, 200_000),
        15,
        "the worker did not notice the outage",
    )

    shape.redis.start()  # empty: Redis is disposable
    assert asyncio.run(serve_and_book(shape, 42, "after")) == []
    assert enqueue_probe(shape, "after-restart", seconds=0)
    wait_until(
        lambda: probe_rows(shape, "after-restart")[1], 30, "the worker did not take new jobs"
    )
    assert shape.worker.poll() is None and shape.worker.pid == worker_pid
    assert shape.double_bookings() == 0


# --- 5. backup and restore, as docs/operations.md says -----------------------------------------


@pytest.mark.skipif(not shutil.which("pg_dump"), reason="pg_dump is not on PATH")
def test_a_dump_restores_into_a_working_database(shape, tmp_path):
    """`pg_dump --format=custom` + `pg_restore` into a new database, media by tar: the app
    serves the restored copy with the same bookings and images."""
    media = Path(shape.env()["MEDIA_DIR"])
    (media / "0f0e0d0c-0000-4000-8000-000000000001").mkdir(parents=True, exist_ok=True)
    (media / "0f0e0d0c-0000-4000-8000-000000000001" / "thumb.webp").write_bytes(b"RIFF-test")
    dump, archive = tmp_path / "innovation.dump", tmp_path / "media.tar.gz"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
         f"--dbname={shape.database_url}", f"--file={dump}"],
        check=True, timeout=60,
    )  # fmt: skip
    subprocess.run(["tar", "-C", str(media), "-czf", str(archive), "."], check=True, timeout=60)

    restored_name = f"eco_restored_{uuid.uuid4().hex[:8]}"
    restored_url = with_database(shape.admin_url, restored_name)
    restored_media = tmp_path / "restored-media"
    restored_media.mkdir()
    pg(shape.admin_url, f'CREATE DATABASE "{restored_name}"')
    server = None
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)],
            check=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            ["tar", "-C", str(restored_media), "-xzf", str(archive)], check=True, timeout=60
        )
        count = "SELECT count(*) FROM labs_booking WHERE status = ANY($1::text[])"
        statuses = active_statuses()
        assert (
            pg(restored_url, count, statuses)[0][0] == pg(shape.database_url, count, statuses)[0][0]
        )
        assert (restored_media / "0f0e0d0c-0000-4000-8000-000000000001" / "thumb.webp").exists()

        port = free_port()
        env = shape.env(DATABASE_URL=restored_url, MEDIA_DIR=str(restored_media))
        server = shape._spawn(["serve", "--port", str(port)], "restored", env)
        base = f"http://127.0.0.1:{port}"
        shape._wait_healthy(server, base)
        assert httpx.get(f"{base}/labs/{shape.fixtures['lab_slug']}").status_code == 200
        mine = httpx.get(f"{base}/api/v1/bookings", headers=bearer(shape.fixtures["tokens"][-1]))
        assert mine.status_code == 200 and mine.json()["items"]
    finally:
        if server is not None:
            stop_process(server)
        pg(shape.admin_url, f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
