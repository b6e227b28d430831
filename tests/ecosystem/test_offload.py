"""CPU-heavy pure work runs in a worker process (ecosystem.offload), not in the web process."""

from __future__ import annotations

import asyncio
import math
import os
import signal

import pytest

from ecosystem import offload


async def test_work_runs_in_another_process_and_its_errors_come_back():
    assert await offload.in_process(os.getpid) != os.getpid()
    assert await offload.in_process(int, "ff", base=16) == 255  # arguments by name too
    with pytest.raises(ValueError, match="math domain error"):
        await offload.in_process(math.sqrt, -1)


async def test_a_worker_that_died_is_replaced():
    dead = await offload.in_process(os.getpid)
    os.kill(dead, signal.SIGKILL)
    for _ in range(100):  # until the kernel has reaped it
        try:
            os.kill(dead, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.01)
    assert await offload.in_process(os.getpid) not in (dead, os.getpid())


async def test_the_worker_runs_at_a_lower_priority():
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    theirs = await offload.in_process(os.getpriority, os.PRIO_PROCESS, 0)
    assert theirs == max(mine, offload.BACKGROUND_NICE)
