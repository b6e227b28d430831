"""The pairwise model cache (issue 16, item 6): what a request pays for the Crowd-BT fit.

A log of 5,000 comparisons over 500 entries (20 judges). Three cases, each the median of
`--repeat` runs of `hackathon.services.results.fitted_pairwise` (what `expo.next_pair`,
the organiser's dashboard and the results call):
* refit: no usable cache (the former behaviour on every request);
* no new comparison: the same log again (the cache's hit, rows compared);
* one new comparison: the log grew by one row (a copy of the fit plus one update).

Run: ``python bench/pairwise_cache.py [--repeat 15]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from hackathon.services import results  # noqa: E402
from hackathon.services.results import fitted_pairwise  # noqa: E402

ENTRIES = 500
COMPARISONS = 5000
JUDGES = 20


def make_log(n: int, rng: random.Random, first_id: int = 1) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = rng.sample(range(1, ENTRIES + 1), 2)
        rows.append(
            {
                "id": first_id + i,
                "judge_id": rng.randint(1, JUDGES),
                "winner_id": a,
                "loser_id": b,
                "withdraws": None,
            }
        )
    return rows


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(2026)
    entries = [str(i) for i in range(1, ENTRIES + 1)]
    log = make_log(COMPARISONS, rng)

    def refit() -> None:
        results._FITS.clear()
        fitted_pairwise(1, entries, log)

    def hit() -> None:
        fitted_pairwise(1, entries, log)

    grown = log + make_log(1, rng, first_id=COMPARISONS + 1)

    refit_ms = timed(refit, args.repeat)
    fitted_pairwise(1, entries, log)
    hit_ms = timed(hit, args.repeat)
    samples = []
    for _ in range(args.repeat):
        results._FITS.clear()
        fitted_pairwise(1, entries, log)
        start = time.perf_counter()
        fitted_pairwise(1, entries, grown)
        samples.append((time.perf_counter() - start) * 1000)
    grow_ms = statistics.median(samples)
    print(f"{COMPARISONS} comparisons, {ENTRIES} entries, median of {args.repeat} runs")
    print(f"  refit (no cache, the former cost of every request): {refit_ms:8.1f} ms")
    print(f"  no new comparison (cache hit):                      {hit_ms:8.2f} ms")
    print(f"  one new comparison (copy + one update):             {grow_ms:8.2f} ms")


if __name__ == "__main__":
    main()
