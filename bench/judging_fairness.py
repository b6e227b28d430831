"""Judging fairness simulation: plain mean versus leniency/spread-calibrated ranking.

Each seed draws entries of known true quality and judges with random leniency (offset) and
spread (scale). Judges are assigned with ``hackathon.assignment`` (k judges per entry, random
conflicts), fill in a 5-criterion rubric on an integer 1..10 scale (rounded and clipped, as
on a real form), and the sheets are turned into 0..100 scores with
``ecosystem.scoring.weighted_score``. The rankings from the plain mean, the per-judge z-score
mean and ``hackathon.calibration`` are compared with the true order by Kendall's tau and by
the recall of the true top 10.

Run: ``python bench/judging_fairness.py --seeds 200``
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from ecosystem.scoring import Criterion, weighted_score  # noqa: E402
from hackathon.assignment import Assignment, Entry, Judge, assign_judges  # noqa: E402
from hackathon.calibration import calibrate, rank_entries  # noqa: E402

RUBRIC = [
    Criterion("impact", 3, 1, 10),
    Criterion("innovation", 2, 1, 10),
    Criterion("feasibility", 2, 1, 10),
    Criterion("presentation", 1, 1, 10),
    Criterion("team", 1, 1, 10),
]


@dataclass(frozen=True)
class Options:
    entries: int
    judges: int
    per_entry: int
    leniency: float
    spread: float
    noise: float
    conflict_rate: float
    top: int


@dataclass(frozen=True)
class SeedResult:
    tau_plain: float
    tau_zscore: float
    tau_calibrated: float
    recall_plain: float
    recall_zscore: float
    recall_calibrated: float
    adjacent_ties: int
    adjacent_separated: int
    adjacent_separated_correct: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="number of simulated contests")
    parser.add_argument("--entries", type=int, default=120)
    parser.add_argument("--judges", type=int, default=20)
    parser.add_argument("--per-entry", type=int, default=5, help="judges per entry (k)")
    parser.add_argument(
        "--leniency", type=float, default=1.5, help="sd of judge offsets, rubric points"
    )
    parser.add_argument("--spread", type=float, default=0.35, help="sd of log judge scales")
    parser.add_argument("--noise", type=float, default=0.8, help="sd of score noise, points")
    parser.add_argument("--conflict-rate", type=float, default=0.03)
    parser.add_argument("--top", type=int, default=10, help="size of the top-N for recall")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 unless calibration wins on average"
    )
    return parser.parse_args()


def simulate(seed: int, options: Options) -> SeedResult:
    rng = np.random.default_rng(seed)
    # Per-criterion merit: overall quality plus a small per-criterion profile; the true
    # quality is its rubric-weighted mean, which is what a perfect jury would measure.
    merit = rng.normal(0.0, 1.0, (options.entries, 1)) + rng.normal(
        0.0, 0.3, (options.entries, len(RUBRIC))
    )
    weights = np.array([float(criterion.weight) for criterion in RUBRIC])
    quality = merit @ weights / weights.sum()
    entry_ids = [f"e{i:03d}" for i in range(options.entries)]
    rows = score_sheets(rng, merit, entry_ids, assign(rng, entry_ids, options), options)
    calibration = calibrate(rows)
    plain = np.array([calibration.entries[e].plain_mean for e in entry_ids])
    calibrated = np.array([calibration.entries[e].latent for e in entry_ids])
    zscore = zscore_means(rows, entry_ids)
    ties, separated, correct = adjacent_pairs(
        calibration, dict(zip(entry_ids, quality, strict=True))
    )
    return SeedResult(
        tau_plain=kendalltau(quality, plain).statistic,
        tau_zscore=kendalltau(quality, zscore).statistic,
        tau_calibrated=kendalltau(quality, calibrated).statistic,
        recall_plain=top_recall(quality, plain, options.top),
        recall_zscore=top_recall(quality, zscore, options.top),
        recall_calibrated=top_recall(quality, calibrated, options.top),
        adjacent_ties=ties,
        adjacent_separated=separated,
        adjacent_separated_correct=correct,
    )


def assign(rng: np.random.Generator, entry_ids: list[str], options: Options) -> Assignment:
    capacity = math.ceil(1.1 * options.entries * options.per_entry / options.judges)
    judges = [Judge(f"j{j:02d}", capacity) for j in range(options.judges)]
    conflicts = {
        (judge.id, entry_id)
        for judge in judges
        for entry_id in entry_ids
        if rng.random() < options.conflict_rate
    }
    entries = [Entry(entry_id) for entry_id in entry_ids]
    result = assign_judges(entries, judges, options.per_entry, conflicts=conflicts)
    if not isinstance(result, Assignment):
        raise SystemExit(f"assignment infeasible: {result.reasons}")
    return result


def score_sheets(
    rng: np.random.Generator,
    merit: np.ndarray,
    entry_ids: list[str],
    assignment: Assignment,
    options: Options,
) -> list[tuple[str, str, float]]:
    """Integer rubric sheets -> weighted 0..100 scores, one row per (judge, entry)."""
    leniency = {j: rng.normal(0.0, options.leniency) for j in assignment.load()}
    spread = {j: math.exp(rng.normal(0.0, options.spread)) for j in assignment.load()}
    rows = []
    for index, entry_id in enumerate(entry_ids):
        for judge_id in assignment.judges_by_entry[entry_id]:
            signal = 5.5 + leniency[judge_id] + 1.5 * spread[judge_id] * merit[index]
            raw = np.clip(np.rint(signal + rng.normal(0.0, options.noise, len(RUBRIC))), 1, 10)
            sheet = {criterion.id: int(value) for criterion, value in zip(RUBRIC, raw, strict=True)}
            rows.append((judge_id, entry_id, weighted_score(RUBRIC, sheet)))
    return rows


def zscore_means(rows: list[tuple[str, str, float]], entry_ids: list[str]) -> np.ndarray:
    """Baseline: standardise each judge's scores, then average per entry."""
    by_judge: dict[str, list[float]] = {}
    for judge_id, _, score in rows:
        by_judge.setdefault(judge_id, []).append(score)
    moments = {j: (statistics.fmean(s), statistics.pstdev(s) or 1.0) for j, s in by_judge.items()}
    totals: dict[str, list[float]] = {e: [] for e in entry_ids}
    for judge_id, entry_id, score in rows:
        mean, sd = moments[judge_id]
        totals[entry_id].append((score - mean) / sd)
    return np.array([statistics.fmean(totals[e]) for e in entry_ids])


def top_recall(quality: np.ndarray, estimate: np.ndarray, top: int) -> float:
    true_top = set(np.argsort(-quality)[:top])
    estimated_top = set(np.argsort(-estimate, kind="stable")[:top])
    return len(true_top & estimated_top) / top


def adjacent_pairs(calibration: object, truth: dict[str, float]) -> tuple[int, int, int]:
    ranking = rank_entries(calibration)  # type: ignore[arg-type]
    ties = separated = correct = 0
    for line, following in zip(ranking, ranking[1:], strict=False):
        if line.tied_with_next:
            ties += 1
            continue
        separated += 1
        correct += truth[line.result.entry_id] > truth[following.result.entry_id]
    return ties, separated, correct


def summarise(results: list[SeedResult], options: Options, elapsed: float) -> bool:
    def stat(name: str) -> str:
        values = [getattr(result, name) for result in results]
        return f"{statistics.fmean(values):.4f} ± {statistics.pstdev(values):.4f}"

    wins = sum(r.tau_calibrated > r.tau_plain for r in results)
    print(
        f"{len(results)} seeds, {options.entries} entries, {options.judges} judges, "
        f"k={options.per_entry} ({elapsed:.1f} s)"
    )
    print(f"{'':22}{'Kendall tau':>20}{f'top-{options.top} recall':>20}")
    for label, key in (
        ("plain mean", "plain"),
        ("z-score mean", "zscore"),
        ("calibrated", "calibrated"),
    ):
        print(f"{label:22}{stat('tau_' + key):>20}{stat('recall_' + key):>20}")
    print(f"calibrated tau > plain tau in {wins}/{len(results)} seeds")
    ties = sum(r.adjacent_ties for r in results)
    separated = sum(r.adjacent_separated for r in results)
    correct = sum(r.adjacent_separated_correct for r in results)
    print(
        f"adjacent pairs flagged as statistical ties: {ties / (ties + separated):.1%}; "
        f"non-tied adjacent pairs in the true order: {correct / max(separated, 1):.1%}"
    )
    better = statistics.fmean(r.tau_calibrated - r.tau_plain for r in results) > 0
    print("verdict:", "calibrated ranking is better on average" if better else "NOT better")
    return better


def main() -> None:
    args = parse_args()
    options = Options(
        args.entries,
        args.judges,
        args.per_entry,
        args.leniency,
        args.spread,
        args.noise,
        args.conflict_rate,
        args.top,
    )
    started = time.perf_counter()
    results = [simulate(seed, options) for seed in range(args.seeds)]
    better = summarise(results, options, time.perf_counter() - started)
    if args.check and not better:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
