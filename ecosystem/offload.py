"""CPU-heavy pure computations, run outside the web process's event loop and its GIL.

`in_process(function, *args, **kwargs)` runs a module-level function of a pure module (judge
assignment, calibration: numpy and OR-Tools, no I/O, no database, no request context) in a
small pool of worker processes and awaits its result. A thread would not be enough: pure
Python work holds the GIL, and every other request of the process then waits for it in turn
(measured by bench/healthz_under_load.py). Arguments and results travel by pickle, so pass
plain data (the pure modules' dataclasses), never ORM objects.

The pool starts on first use with the "spawn" method (a fresh interpreter: forking a process
that runs an event loop and database threads is unsafe) and is shut down at exit; a worker
also ends when the process that started it ends, even killed at once. Its workers
run at a lower CPU priority (`BACKGROUND_NICE`), so on a busy machine the scheduler still gives
the web processes' event loops the CPU first. Work that
needs the request's context (translations, the locale) is not for this pool: lay out PDFs and
the like with `asyncio.to_thread`, which copies the context.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

WORKERS = 1  # one CPU-heavy solve at a time per web process; the others queue
BACKGROUND_NICE = 10  # the niceness of the workers (and of media's decoding threads)
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def lower_priority() -> None:
    """Lower the calling thread's CPU priority to niceness BACKGROUND_NICE, never raise it.

    Linux schedules threads one by one (a thread id is a PRIO_PROCESS target); elsewhere this
    lowers the whole process, which is right for a worker process. Best effort.
    """
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, thread) < BACKGROUND_NICE:
            os.setpriority(os.PRIO_PROCESS, thread, BACKGROUND_NICE)


def _exit_with_parent() -> None:
    """End this worker when the process that started it ends. A pool's worker otherwise
    outlives a web process that was killed (SIGKILL, out of memory): it holds both ends of
    its own call queue, so it waits for work forever, an orphan."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="offload-parent-watch", daemon=True).start()


def _start_worker() -> None:
    lower_priority()
    _exit_with_parent()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        return _pool


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def in_process(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a worker process; its exceptions are raised here.

    A pool whose worker died (killed, out of memory) is replaced and the call tried once more.
    """
    call = functools.partial(function, *args, **kwargs)
    loop = asyncio.get_running_loop()
    for attempt in range(2):
        pool = _executor()
        try:
            return await loop.run_in_executor(pool, call)
        except BrokenProcessPool:
            _discard(pool)
            if attempt:
                raise
    raise AssertionError("unreachable")
