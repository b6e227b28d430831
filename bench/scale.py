"""Cost curves (issue 21): each scale figure at three sizes, ×1, ×10 and ×100, side by side.

* labs (``bench/labs_bench.py --no-wrk --pg ''`` at each size): the cross-lab search p50
  over the whole network (×1 = 100 machines and 5,000 bookings), the big lab's day and week
  grid p50 (×1 = 3 machines; ×100 = 332, LibreBooking's published case), the week view and
  availability p50 of one machine;
* the same search on PostgreSQL (``bench/search_pg.py`` at each size; ``--pg ''`` skips it);
* the organiser dashboard of a contest (``bench/contest_bench.py --entries N``: 12 / 120 /
  1,200 entries) p50 on the server;
* judge assignment (``hackathon.assignment.assign_judges`` in a child process): entries ×
  judges with k = 3 and three random conflicts per entry (×1 = 50 × 10, ×10 = 500 × 30,
  ×100 = 5,000 × 300),
  wall time and the peak memory of a child process.

Growth is read along a row: a figure that stays flat from ×1 to ×100 does not depend on the
size. A measurement, not a test; run on a quiet machine (``uptime`` is printed). Run:
``python bench/scale.py`` (``--sizes 1,10`` for the two smaller ones only).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABS_ROWS = {
    "search": re.compile(r"^search [\d,]+ machines p50\s+([\d.]+) ms", re.M),
    "lab day grid": re.compile(r"^lab day grid p50 \(sequential\)\s+([\d.]+) ms", re.M),
    "lab week grid": re.compile(r"^lab week grid p50 \(sequential\)\s+([\d.]+) ms", re.M),
    "week view": re.compile(r"^week view p50 \(sequential\)\s+([\d.]+) ms", re.M),
    "availability": re.compile(r"^availability p50 \(sequential\)\s+([\d.]+) ms", re.M),
}
PG_SEARCH = re.compile(r"^PG search [\d,]+ machines p50 ([\d.]+) ms", re.M)
DASHBOARD = re.compile(r"^dashboard [\d,]+ entries p50\s+([\d.]+) ms", re.M)
TARGETS = {
    "search": "< 100 ms at ×100",
    "PG search": "< 100 ms at ×100",
    "dashboard": "< 100 ms at ×100 (1,200 entries)",
    "lab week grid": "< 100 ms at ×100",
    "assignment": "< 2 s at ×100",
}

ASSIGN = """
import random, resource, sys, time
sys.path.insert(0, {root!r})
from hackathon.assignment import Assignment, Entry, Judge, assign_judges
rng = random.Random(21)
entries = [Entry(f"e{{n}}") for n in range({entries})]
judges = [Judge(f"j{{n}}", {capacity}) for n in range({judges})]
conflicts = {{(rng.choice(judges).id, e.id) for e in entries for _ in range(3)}}
began = time.perf_counter()
result = assign_judges(entries, judges, 3, conflicts=conflicts)
seconds = time.perf_counter() - began
assert isinstance(result, Assignment)
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def labs_figures(factor: int, sequential: int) -> dict[str, str]:
    command = [
        sys.executable,
        str(ROOT / "bench" / "labs_bench.py"),
        *("--no-wrk", "--pg", "", "--sequential", str(sequential)),
        *("--machines", str(100 * factor)),
        *("--lab-machines", str(max(3, round(3.32 * factor)))),
        *("--bookings", str(5000 * factor)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if done.returncode:
        raise SystemExit(f"labs_bench failed:\n{done.stdout}\n{done.stderr}")
    return {
        name: (f"{found.group(1)} ms" if (found := pattern.search(done.stdout)) else "?")
        for name, pattern in LABS_ROWS.items()
    }


def run_bench(command: list[str], pattern: re.Pattern[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if done.returncode:
        raise SystemExit(f"{command[1]} failed:\n{done.stdout}\n{done.stderr}")
    found = pattern.search(done.stdout)
    return f"{found.group(1)} ms" if found else "?"


def pg_search_figure(factor: int, sequential: int, pg: str) -> str:
    sizes = ("--machines", str(100 * factor), "--lab-machines", str(max(3, round(3.32 * factor))))
    command = [sys.executable, str(ROOT / "bench" / "search_pg.py"), *sizes]
    command += ["--bookings", str(5000 * factor), "--sequential", str(sequential), "--pg", pg]
    return run_bench(command, PG_SEARCH)


def dashboard_figure(factor: int, sequential: int) -> str:
    command = [sys.executable, str(ROOT / "bench" / "contest_bench.py")]
    command += ["--entries", str(12 * factor), "--sequential", str(sequential)]
    return run_bench(command, DASHBOARD)


def assignment_figure(factor: int) -> str:
    entries, judges = 50 * factor, max(10, 3 * factor)
    capacity = -(-entries * 3 // judges) + 10
    code = ASSIGN.format(root=str(ROOT), entries=entries, judges=judges, capacity=capacity)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True
    )
    seconds, megabytes = (float(value) for value in done.stdout.split())
    return f"{seconds:.2f} s, {megabytes:.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100", help="factors (default 1,10,100)")
    parser.add_argument("--sequential", type=int, default=30, help="requests per p50 (30)")
    parser.add_argument(
        "--pg",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server for the PG search row ('' skips it)",
    )
    args = parser.parse_args()
    factors = [int(value) for value in args.sizes.split(",")]
    began = time.monotonic()
    print("load:", os.getloadavg(), flush=True)
    columns: dict[int, dict[str, str]] = {}
    for factor in factors:
        figures = labs_figures(factor, args.sequential)
        pg_search = pg_search_figure(factor, args.sequential, args.pg) if args.pg else "-"
        figures["PG search"] = pg_search
        figures["dashboard"] = dashboard_figure(factor, args.sequential)
        figures["assignment"] = assignment_figure(factor)
        columns[factor] = figures
        print(f"×{factor} done ({time.monotonic() - began:.0f} s)", flush=True)
    names = [*LABS_ROWS, "PG search", "dashboard", "assignment"]
    print()
    print(f"{'figure':16}" + "".join(f"{'×' + str(f):>20}" for f in factors) + "   target")
    for name in names:
        cells = "".join(f"{columns[f][name]:>20}" for f in factors)
        print(f"{name:16}{cells}   {TARGETS.get(name, '-')}")
    print(
        "sizes: ×1 = 100 machines (3 in the big lab), 5,000 bookings; a contest of 12 entries;"
        " assignment 50 entries × 10 judges"
    )
    print("load:", os.getloadavg(), f"total {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
