"""CPU-heavy pure work runs in a worker process (ecosystem.offload), not in the web process."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys

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


def _ended(pid: int) -> bool:
    """Gone, or a zombie its new parent has not reaped yet (it runs no more either way)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
async def test_the_worker_ends_when_the_process_that_started_it_is_killed(tmp_path):
    """A web process killed at once (SIGKILL, out of memory) does not leave its worker behind:
    the worker waited for work forever before 5 Dec 2026. (The worker's number comes through
    a file: a pipe would be inherited by the worker and held open.)"""
    found = tmp_path / "worker"
    program = (
        "import asyncio, os, sys\n"
        "from ecosystem import offload\n"
        "async def main():\n"
        "    worker = await offload.in_process(os.getpid)\n"
        "    open(sys.argv[1] + '.tmp', 'w').write(str(worker))\n"
        "    os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "    await asyncio.sleep(120)\n"
        "asyncio.run(main())\n"
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", program, str(found), stdout=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(6000):
            if found.exists() or parent.returncode is not None:
                break
            await asyncio.sleep(0.01)
        worker = int(found.read_text())
        assert worker != parent.pid and not _ended(worker)
    finally:
        parent.kill()
        await parent.wait()
    for _ in range(500):
        if _ended(worker):
            break
        await asyncio.sleep(0.01)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived the process that started it")
