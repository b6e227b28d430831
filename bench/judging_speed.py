"""Timing of the judging computations at the sizes of a large contest.

* ranking: 1,000 entries x 7 judges each x 5 criteria -> weighted rubric scores,
  calibration, overall and per-track rankings (target < 1 s);
* assignment: 1,000 entries, 100 judges, k=5, random conflicts (target < 5 s), also with
  site and language matching required;
* pairwise: next-pair choice with 500 entries after 5,000 comparisons (target < 50 ms),
  with a current entry (the usual call) and for a judge's first pair; undo of a comparison.

Prints the median of ``--repeats`` runs for each. Run: ``python bench/judging_speed.py``
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from ecosystem.scoring import Criterion, weighted_score  # noqa: E402
from hackathon.assignment import Assignment, Entry, Judge, assign_judges  # noqa: E402
from hackathon.calibration import calibrate, rank_by_track, rank_entries  # noqa: E402
from hackathon.pairwise import (  # noqa: E402
    Comparison,
    apply_comparison,
    choose_next,
    new_state,
    undo_last,
)

RUBRIC = [Criterion(f"c{i}", weight, 1, 10) for i, weight in enumerate((3, 2, 2, 1, 1))]
SITES = ("north", "south", "east")
LANGUAGES = ("en", "fr")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def report(label: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds < target else "SLOW"
    print(f"{label:58} {seconds * 1000:9.1f} ms   (target < {target * 1000:.0f} ms) {verdict}")


def ranking_pipeline(rng: random.Random) -> Callable[[], object]:
    entries = [f"e{i:04d}" for i in range(1000)]
    judges = [f"j{i:03d}" for i in range(100)]
    leniency = {j: rng.gauss(0, 1.5) for j in judges}
    sheets = []
    for entry_id in entries:
        quality = rng.gauss(0, 1)
        for judge_id in rng.sample(judges, 7):
            marks = {
                c.id: min(
                    10, max(1, round(5.5 + leniency[judge_id] + 1.5 * quality + rng.gauss(0, 1)))
                )
                for c in RUBRIC
            }
            sheets.append((judge_id, entry_id, marks))
    track_of = {entry_id: f"track{i % 5}" for i, entry_id in enumerate(entries)}

    def run() -> object:
        rows = [(j, e, weighted_score(RUBRIC, marks)) for j, e, marks in sheets]
        calibration = calibrate(rows)
        return rank_entries(calibration), rank_by_track(calibration, track_of)

    return run


def assignment_problem(rng: random.Random, matching: bool) -> Callable[[], object]:
    entries = [Entry(f"e{i:04d}", rng.choice(SITES), rng.choice(LANGUAGES)) for i in range(1000)]
    capacity = math.ceil(1.2 * 1000 * 5 / 100)
    judges = [
        Judge(
            f"j{i:03d}",
            capacity,
            frozenset(rng.sample(SITES, rng.randint(2, 3))),
            frozenset(rng.sample(LANGUAGES, rng.randint(1, 2))),
        )
        for i in range(100)
    ]
    conflicts = {(rng.choice(judges).id, entry.id) for entry in entries for _ in range(3)}

    def run() -> object:
        result = assign_judges(
            entries,
            judges,
            5,
            conflicts=conflicts,
            require_site=matching,
            require_language=matching,
        )
        if not isinstance(result, Assignment):
            raise SystemExit(f"unexpectedly infeasible: {result.reasons[:3]}")
        return result

    return run


def pairwise_state(rng: random.Random) -> tuple[object, list[str]]:
    ids = [f"e{i:03d}" for i in range(500)]
    quality = {e: rng.gauss(0, 1) for e in ids}
    state = new_state(ids)
    for _ in range(5000):
        a, b = rng.sample(ids, 2)
        winner, loser = (
            (a, b) if rng.random() < 1 / (1 + math.exp(quality[b] - quality[a])) else (b, a)
        )
        apply_comparison(state, Comparison(f"j{rng.randrange(40)}", winner, loser))
    return state, ids


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    print(f"median of {args.repeats} runs")
    report(
        "ranking 1,000 entries x 7 judges x 5 criteria",
        median_seconds(ranking_pipeline(rng), args.repeats),
        1.0,
    )
    report(
        "assignment 1,000 entries, 100 judges, k=5, conflicts",
        median_seconds(assignment_problem(rng, matching=False), args.repeats),
        5.0,
    )
    report(
        "assignment, same + site and language required",
        median_seconds(assignment_problem(rng, matching=True), args.repeats),
        5.0,
    )
    state, ids = pairwise_state(rng)
    seen = set(rng.sample(ids, 40))
    pair_repeats = max(args.repeats, 50)
    report(
        "pairwise next entry (500 entries, judge has a current one)",
        median_seconds(
            lambda: choose_next(state, "j1", current=ids[0], excluded=seen), pair_repeats
        ),
        0.05,
    )
    report(
        "pairwise first pair (500 entries, no current entry)",
        median_seconds(lambda: choose_next(state, "j1", excluded=seen), pair_repeats),
        0.05,
    )

    def undo_and_redo() -> None:
        removed = undo_last(state, "j1")
        if removed is not None:
            apply_comparison(state, removed)

    report(
        "pairwise undo (rebuild from a 5,000-comparison log)",
        median_seconds(undo_and_redo, args.repeats),
        1.0,
    )


if __name__ == "__main__":
    main()
