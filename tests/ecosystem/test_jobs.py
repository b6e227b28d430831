"""The in-process job backend: after commit, idempotent by job id, retried, drained; cron.

The arq/Redis side of the same contract is in test_worker.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import types
from datetime import UTC, datetime, timedelta

import pytest

from ecosystem import jobs
from ecosystem.db import atomic
from ecosystem.models import OutboxMessage
from ecosystem.packages import DomainPackage
from ecosystem.settings import Settings
from tests.conftest import running_app

# What the test jobs did, in order: (job name, argument, job try, extra).
RUNS: list[tuple[str, object, int, object]] = []
FAILURES_BEFORE_SUCCESS: dict[str, int] = {}
PRODUCTION_RETRY_BASE = jobs.RETRY_BASE_SECONDS  # read before the fixture lowers it


async def record(ctx: dict, value: object) -> None:
    RUNS.append(("record", value, ctx["job_try"], None))


async def record_outbox_visible(ctx: dict, message_id: int) -> None:
    """Records whether the row written by the enqueuing transaction is visible to the job."""
    visible = await OutboxMessage.filter(id=message_id).exists()
    RUNS.append(("visible", message_id, ctx["job_try"], visible))


async def flaky(ctx: dict, key: str) -> str:
    RUNS.append(("flaky", key, ctx["job_try"], None))
    if ctx["job_try"] <= FAILURES_BEFORE_SUCCESS.get(key, 0):
        raise ConnectionError(f"{key} is not reachable yet")
    return "done"


async def slow(ctx: dict, seconds: float) -> None:
    await asyncio.sleep(seconds)
    RUNS.append(("slow", seconds, ctx["job_try"], None))


async def tick(ctx: dict) -> None:
    RUNS.append(("tick", None, ctx["job_try"], datetime.now(UTC)))


@pytest.fixture(autouse=True)
def _registered_test_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs.register([record, record_outbox_visible, flaky, slow, tick])
    RUNS.clear()
    FAILURES_BEFORE_SUCCESS.clear()
    monkeypatch.setattr(jobs, "RETRY_BASE_SECONDS", 0.01)


def runs(kind: str) -> list[tuple[object, int, object]]:
    return [(value, job_try, extra) for name, value, job_try, extra in RUNS if name == kind]


async def new_message(subject: str) -> OutboxMessage:
    return await OutboxMessage.create(to="a@example.org", subject=subject, text_body="…")


async def test_a_job_enqueued_in_a_transaction_runs_after_the_commit(app) -> None:
    assert jobs.backend().name == "inline"
    async with atomic():
        message = await new_message("committed")
        await jobs.enqueue(record_outbox_visible, message.id)
        await jobs.drain()
        await asyncio.sleep(0.05)
        assert runs("visible") == []  # nothing started before the commit
    await jobs.drain()
    assert runs("visible") == [(message.id, 1, True)]  # and it sees the committed row


async def test_nothing_runs_when_the_transaction_rolls_back(app) -> None:
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with atomic():
            message = await new_message("rolled back")
            await jobs.enqueue(record, "rolled back", job_id="once")
            raise RuntimeError("changed my mind")
    await jobs.drain()
    await asyncio.sleep(0.05)
    assert RUNS == []
    assert not await OutboxMessage.filter(id=message.id).exists()
    # The rolled-back enqueue did not claim the job id.
    await jobs.enqueue(record, "second chance", job_id="once")
    await jobs.drain()
    assert runs("record") == [("second chance", 1, None)]


async def test_a_failed_savepoint_drops_only_its_own_jobs(app) -> None:
    async with atomic():
        await jobs.enqueue(record, "outer")
        with pytest.raises(ValueError):
            async with atomic():
                await jobs.enqueue(record, "inner")
                raise ValueError("inner fails")
        async with atomic():
            await jobs.enqueue(record, "second inner")
        assert RUNS == []
    await jobs.drain()
    assert sorted(value for value, _, _ in runs("record")) == ["outer", "second inner"]


async def test_enqueue_outside_a_transaction_runs_at_once(app) -> None:
    await jobs.enqueue(record, "now")
    for _ in range(20):  # no commit to wait for: the job starts on the next loop turns
        if RUNS:
            break
        await asyncio.sleep(0.01)
    assert runs("record") == [("now", 1, None)]


async def test_the_same_job_id_runs_once(app) -> None:
    await jobs.enqueue(record, "first", job_id="welcome-mail:7")
    await jobs.enqueue(record, "second", job_id="welcome-mail:7")
    async with atomic():
        await jobs.enqueue(record, "third", job_id="welcome-mail:7")
        await jobs.enqueue(record, "other", job_id="welcome-mail:8")
    await jobs.drain()
    await jobs.enqueue(record, "after it ran", job_id="welcome-mail:7")
    await jobs.drain()
    assert sorted(runs("record")) == [("first", 1, None), ("other", 1, None)]


async def test_a_failing_job_is_retried_until_it_succeeds(app) -> None:
    FAILURES_BEFORE_SUCCESS["smtp"] = 2
    await jobs.enqueue(flaky, "smtp", job_id="flaky:smtp")
    await jobs.drain()
    assert [job_try for _, job_try, _ in runs("flaky")] == [1, 2, 3]


async def test_a_job_that_keeps_failing_stops_after_max_tries(app, caplog) -> None:
    FAILURES_BEFORE_SUCCESS["down"] = 99
    await jobs.enqueue(flaky, "down")
    await jobs.drain()
    assert [job_try for _, job_try, _ in runs("flaky")] == list(range(1, jobs.MAX_TRIES + 1))
    assert f"failed for good after {jobs.MAX_TRIES} tries" in caplog.text


def test_retry_delays_double_and_production_waits_are_sane(monkeypatch) -> None:
    monkeypatch.setattr(jobs, "RETRY_BASE_SECONDS", PRODUCTION_RETRY_BASE)
    delays = [jobs.retry_delay_seconds(n) for n in range(1, jobs.MAX_TRIES)]
    assert all(later == 2 * earlier for earlier, later in zip(delays, delays[1:], strict=False))
    assert 1 <= delays[0] <= 60  # not hammering a server that is down ...
    assert 60 <= sum(delays) <= 3600  # ... and giving it minutes, not days, to come back
    assert jobs.retry_delay_seconds(50) == jobs.RETRY_MAX_SECONDS


async def test_enqueueing_an_unregistered_job_fails_loudly(app) -> None:
    async def not_registered(ctx: dict) -> None:  # pragma: no cover - never runs
        pass

    with pytest.raises(LookupError):
        await jobs.enqueue(not_registered)


async def test_drain_waits_for_running_and_retried_jobs(app) -> None:
    FAILURES_BEFORE_SUCCESS["later"] = 1
    await jobs.enqueue(slow, 0.5)
    await jobs.enqueue(flaky, "later")
    await jobs.enqueue(record, "soon", defer_until=datetime.now(UTC) + timedelta(seconds=0.6))
    await asyncio.sleep(0.05)
    assert runs("slow") == [] and runs("record") == []
    await jobs.drain()
    assert runs("slow") == [(0.5, 1, None)]
    assert runs("record") == [("soon", 1, None)]
    assert [job_try for _, job_try, _ in runs("flaky")] == [1, 2]


async def test_drain_does_not_wait_for_a_job_deferred_far_ahead(app) -> None:
    await jobs.enqueue(record, "tomorrow", defer_until=datetime.now(UTC) + timedelta(days=1))
    await asyncio.wait_for(jobs.drain(), timeout=5)
    assert RUNS == []


# --- cron entries declared by a package, run by InlineCron ------------------------------

CRON_PACKAGE = "jobs_test_cron_pkg"


async def test_a_package_cron_entry_runs_in_process_without_redis(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType(f"{CRON_PACKAGE}.package")
    module.package = DomainPackage(  # type: ignore[attr-defined]
        name=CRON_PACKAGE,
        jobs=[tick],
        cron_jobs=[jobs.cron(tick, second=None)],  # every second
    )
    monkeypatch.setitem(sys.modules, f"{CRON_PACKAGE}.package", module)
    settings = dataclasses.replace(
        settings, packages=(*settings.packages, CRON_PACKAGE), inline_cron=True
    )
    async with running_app(settings):
        for _ in range(100):  # two ticks need about two seconds
            if len(runs("tick")) >= 2:
                break
            await asyncio.sleep(0.05)
    ticks = [at for _, _, at in runs("tick")]
    assert len(ticks) >= 2, RUNS
    assert (ticks[1] - ticks[0]).total_seconds() >= 0.5  # once per scheduled second
    assert module.package.cron_jobs[0].next_run is None  # the shared entry is not mutated


def test_a_job_id_is_remembered_for_its_window_then_forgotten(monkeypatch) -> None:
    """The in-process backend forgets ids in claim order once their window has passed,
    without scanning every remembered id at each enqueue."""
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    backend = jobs.InlineBackend()
    assert backend._claim("a") and not backend._claim("a")
    clock[0] += jobs.KEEP_JOB_ID_SECONDS / 2
    assert backend._claim("b") and not backend._claim("a")
    clock[0] += jobs.KEEP_JOB_ID_SECONDS / 2  # "a"'s window ends, "b"'s goes on
    assert backend._claim("a") and not backend._claim("b")
    assert list(backend._seen_job_ids) == ["b", "a"]
    clock[0] += jobs.KEEP_JOB_ID_SECONDS * 2
    assert backend._claim("c")
    assert list(backend._seen_job_ids) == ["c"]
