"""The two timings that used to be asserts inside tests (a wall clock fails a test on a busy
machine, so they are measured here instead):

* week grid: ``labs.availability.week_grid`` for one week with 20,000 bookings (was
  ``tests/labs/test_availability.py``: a linear sweep, not cells x bookings; target < 5 s);
* contest demo data: ``hackathon.seed.seed_contests`` on a fresh SQLite database, after the
  kernel's demo data (was ``tests/hackathon/test_seed.py``: bulk inserts; target < 20 s).

Prints the median of ``--repeats`` runs of the grid and one seeding. Exit status 1 only when
something fails (not when slow). Run: ``python bench/former_timed_asserts.py``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from tortoise import Tortoise  # noqa: E402

from ecosystem.db import init_orm, run_migrations, tortoise_config  # noqa: E402
from ecosystem.packages import load_packages  # noqa: E402
from labs.availability import CellState, opening_intervals, week_grid  # noqa: E402
from labs.intervals import Interval  # noqa: E402

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = date(2026, 6, 1)


def report(label: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds < target else "SLOW"
    print(f"{label:52} {seconds * 1000:9.1f} ms   (target < {target * 1000:.0f} ms) {verdict}")


def week_grid_seconds(repeats: int) -> float:
    origin = datetime.combine(MONDAY, datetime.min.time().replace(hour=8), tzinfo=HCM)
    busy = [
        Interval(origin + timedelta(minutes=7 * i), origin + timedelta(minutes=7 * i + 5))
        for i in range(20_000)
    ]
    start = datetime.combine(MONDAY, datetime.min.time(), tzinfo=HCM)
    all_day = {weekday: [(clock(0), clock(0))] for weekday in range(7)}
    opened = opening_intervals(all_day, [], HCM, start, start + timedelta(days=7))
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        grid = week_grid(HCM, MONDAY, opened, busy, timedelta(minutes=15))
        timings.append(time.perf_counter() - began)
        if grid.rows[32].cells[0].state != CellState.BUSY:
            raise SystemExit("week grid: 08:00 on Monday should be busy")
    return statistics.median(timings)


async def seed_contests_seconds() -> float:
    from ecosystem.seed import seed_kernel
    from hackathon.seed import seed_contests

    with tempfile.TemporaryDirectory() as directory:
        config = tortoise_config(
            f"sqlite://{directory}/bench.sqlite3",
            load_packages(("labs", "incubator", "hackathon")),
        )
        try:
            await run_migrations(config)
        finally:
            await Tortoise.close_connections()
        await init_orm(config)
        try:
            await seed_kernel()
            began = time.perf_counter()
            await seed_contests()
            return time.perf_counter() - began
        finally:
            await Tortoise.close_connections()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of the week grid")
    args = parser.parse_args()
    report("week grid, 20,000 bookings (median)", week_grid_seconds(args.repeats), 5)
    report("seed_contests on SQLite (one run)", asyncio.run(seed_contests_seconds()), 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
