"""Cost curves (issue 21): each scale figure at three sizes, ×1, ×10 and ×100, side by side.

* labs (``bench/labs_bench.py --no-wrk --pg ''`` at each size): the cross-lab search p50
  over the whole network (×1 = 100 machines and 5,000 bookings), the big lab's day and week
  grid p50 (×1 = 3 machines; ×100 = 332, LibreBooking's published case), the week view and
  availability p50 of one machine;
* judge assignment (``hackathon.assignment.assign_judges`` in this process): entries ×
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
TARGETS = {
    "search": "< 100 ms at ×100",
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
    args = parser.parse_args()
    factors = [int(value) for value in args.sizes.split(",")]
    began = time.monotonic()
    print("load:", os.getloadavg(), flush=True)
    columns: dict[int, dict[str, str]] = {}
    for factor in factors:
        figures = labs_figures(factor, args.sequential)
        figures["assignment"] = assignment_figure(factor)
        columns[factor] = figures
        print(f"×{factor} done ({time.monotonic() - began:.0f} s)", flush=True)
    names = [*LABS_ROWS, "assignment"]
    print()
    print(f"{'figure':16}" + "".join(f"{'×' + str(f):>20}" for f in factors) + "   target")
    for name in names:
        cells = "".join(f"{columns[f][name]:>20}" for f in factors)
        print(f"{name:16}{cells}   {TARGETS.get(name, '-')}")
    print("sizes: ×1 = 100 machines (3 in the big lab), 5,000 bookings; 50 entries × 10 judges")
    print("load:", os.getloadavg(), f"total {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
