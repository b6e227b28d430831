"""Judging fairness simulation: the calibrated ranking against every simple model.

Each seed draws 120 entries of known true quality and 20 judges, assigns k = 3..5 judges per
entry (k drawn per seed), lets the judges fill in a 5-criterion rubric on an integer 1..10
scale (rounded and clipped, as on a real form) and turns the sheets into 0..100 scores with
``ecosystem.scoring.weighted_score``. Rankings are compared with the true order by Kendall's
tau and by the recall of the true top 10.

Behaviours (``--behaviour`` picks some; default all):

* ``leniency``: judges differ only by an offset (sd 1.5 rubric points);
* ``leniency+spread``: offsets and scales (log-scale sd 0.35);
* ``assortative-S``: leniency and spread, with two quality bands (entries above/below the
  median) and two halves of the jury; each of an entry's k judges is drawn from the entry's
  own band with probability S and from the whole jury otherwise (S = 0: random panels,
  S = 0.95: per-band panels such as per-track juries), loads kept even;
* ``adversarial``: leniency and spread, and 2 of the 20 judges score the reverse of merit;
* ``heavy-tails``: leniency and spread, noise from a Student t with 2 degrees of freedom;
* ``skipped``: leniency and spread, and each criterion value is left empty with probability
  0.15 (a sheet keeps at least one value).

Methods. The simple models see one score per sheet (a sheet with skipped criteria is scored
as the weighted mean of its filled-in criteria, the best they can do with it): plain mean,
median, per-judge z-score mean, and the additive least-squares model "score = entry quality +
judge offset". ``calibrated`` is ``hackathon.calibration.calibrate`` on the same sheet
scores; ``per-criterion`` is ``calibrate_criteria`` on the criterion values (the only method
that can tell which criteria a short sheet lacks).

Output per behaviour: mean tau and top-10 recall with 95 % intervals (mean ± 1.96 standard
errors over seeds), then the paired difference between the calibrated ranking and the best
simple model, with its 95 % interval.

Run: ``nice python bench/judging_fairness.py --seeds 200`` (under a minute per behaviour;
``--check`` exits 1 when a simple model is ahead anywhere).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from ecosystem.scoring import Criterion, weighted_score  # noqa: E402
from hackathon.assignment import Assignment, Entry, Judge, assign_judges  # noqa: E402
from hackathon.calibration import calibrate, calibrate_criteria  # noqa: E402

RUBRIC = [
    Criterion("impact", 3, 1, 10),
    Criterion("innovation", 2, 1, 10),
    Criterion("feasibility", 2, 1, 10),
    Criterion("presentation", 1, 1, 10),
    Criterion("team", 1, 1, 10),
]
ENTRIES, JUDGES, TOP = 120, 20, 10
SIMPLE = ("mean", "median", "z-score", "additive LS")
CALIBRATED = ("calibrated", "per-criterion")

SheetRow = tuple[str, str, float]
CriterionRow = tuple[str, str, str, float]


@dataclass(frozen=True)
class Behaviour:
    leniency: float = 1.5  # sd of judge offsets, rubric points
    spread: float = 0.35  # sd of log judge scales
    noise: float = 0.8  # sd (or t scale) of the noise, rubric points
    noise_df: float | None = None  # Student t degrees of freedom; None: Gaussian
    share: float | None = None  # same-band share; None: balanced min-cost assignment
    adversarial: int = 0  # judges who score the reverse of merit
    skip: float = 0.0  # probability that a criterion value is left empty


BEHAVIOURS = {
    "leniency": Behaviour(spread=0.0),
    "leniency+spread": Behaviour(),
    "assortative-0": Behaviour(share=0.0),
    "assortative-0.5": Behaviour(share=0.5),
    "assortative-0.8": Behaviour(share=0.8),
    "assortative-0.95": Behaviour(share=0.95),
    "adversarial": Behaviour(adversarial=2),
    "heavy-tails": Behaviour(noise_df=2.0),
    "skipped": Behaviour(skip=0.15),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="simulated contests per behaviour")
    parser.add_argument(
        "--behaviour", action="append", choices=sorted(BEHAVIOURS), help="default: all"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a simple model beats the calibration"
    )
    return parser.parse_args()


def simulate(seed: int, behaviour: Behaviour) -> dict[str, tuple[float, float]]:
    """{method: (tau, top-10 recall)} for one simulated contest."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 6))
    # Per-criterion merit: overall quality plus a small per-criterion profile; the true
    # quality is its rubric-weighted mean, which is what a perfect jury would measure.
    merit = rng.normal(0.0, 1.0, (ENTRIES, 1)) + rng.normal(0.0, 0.3, (ENTRIES, len(RUBRIC)))
    weights = np.array([float(criterion.weight) for criterion in RUBRIC])
    quality = merit @ weights / weights.sum()
    entry_ids = [f"e{i:03d}" for i in range(ENTRIES)]
    if behaviour.share is None:
        assignment = balanced_assignment(rng, entry_ids, k)
    else:
        assignment = banded_assignment(rng, entry_ids, quality, k, behaviour.share)
    values = fill_sheets(rng, merit, entry_ids, assignment, behaviour)
    sheets = sheet_scores(values)
    estimates: dict[str, dict[str, float]] = {
        "mean": per_entry(sheets, statistics.fmean),
        "median": per_entry(sheets, statistics.median),
        "z-score": zscore_means(sheets),
        "additive LS": additive_least_squares(sheets),
        "calibrated": latents(calibrate(sheets).entries),
        "per-criterion": latents(calibrate_criteria(values, RUBRIC).entries),
    }
    truth = dict(zip(entry_ids, quality, strict=True))
    return {method: score(truth, estimate) for method, estimate in estimates.items()}


def balanced_assignment(
    rng: np.random.Generator, entry_ids: list[str], k: int
) -> dict[str, tuple[str, ...]]:
    """The platform's own assignment (even loads, a few random conflicts)."""
    capacity = math.ceil(1.1 * ENTRIES * k / JUDGES)
    judges = [Judge(f"j{j:02d}", capacity) for j in range(JUDGES)]
    conflicts = {(j.id, e) for j in judges for e in entry_ids if rng.random() < 0.03}
    result = assign_judges([Entry(e) for e in entry_ids], judges, k, conflicts=conflicts)
    if not isinstance(result, Assignment):
        raise SystemExit(f"assignment infeasible: {result.reasons}")
    return result.judges_by_entry


def banded_assignment(
    rng: np.random.Generator, entry_ids: list[str], quality: np.ndarray, k: int, share: float
) -> dict[str, tuple[str, ...]]:
    """Judges j00, j02, ... form the weak band's jury, j01, j03, ... the strong band's."""
    median = float(np.median(quality))
    load = dict.fromkeys((f"j{j:02d}" for j in range(JUDGES)), 0)
    band_of_judge = {judge: int(judge[1:]) % 2 for judge in load}
    result: dict[str, tuple[str, ...]] = {}
    for index in rng.permutation(ENTRIES):
        band = int(quality[index] > median)
        chosen: list[str] = []
        for _ in range(k):
            own = rng.random() < share
            pool = [j for j in load if j not in chosen and (not own or band_of_judge[j] == band)]
            least = min(load[j] for j in pool)
            pick = str(rng.choice([j for j in pool if load[j] == least]))
            chosen.append(pick)
            load[pick] += 1
        result[entry_ids[index]] = tuple(sorted(chosen))
    return result


def fill_sheets(
    rng: np.random.Generator,
    merit: np.ndarray,
    entry_ids: list[str],
    assignment: dict[str, tuple[str, ...]],
    behaviour: Behaviour,
) -> list[CriterionRow]:
    """Integer 1..10 criterion values, one row per (judge, entry, criterion) filled in."""
    judges = sorted({j for panel in assignment.values() for j in panel})
    leniency = {j: rng.normal(0.0, behaviour.leniency) for j in judges}
    spread = {j: math.exp(rng.normal(0.0, behaviour.spread)) for j in judges}
    adversaries = set(rng.choice(judges, behaviour.adversarial, replace=False).tolist())
    rows: list[CriterionRow] = []
    for index, entry_id in enumerate(entry_ids):
        for judge_id in assignment[entry_id]:
            sign = -1.0 if judge_id in adversaries else 1.0
            signal = 5.5 + leniency[judge_id] + sign * 1.5 * spread[judge_id] * merit[index]
            if behaviour.noise_df is None:
                noise = rng.normal(0.0, behaviour.noise, len(RUBRIC))
            else:
                noise = behaviour.noise * rng.standard_t(behaviour.noise_df, len(RUBRIC))
            raw = np.clip(np.rint(signal + noise), 1, 10)
            filled = rng.random(len(RUBRIC)) >= behaviour.skip
            if not filled.any():
                filled[rng.integers(len(RUBRIC))] = True
            rows.extend(
                (judge_id, entry_id, criterion.id, float(value))
                for criterion, value, keep in zip(RUBRIC, raw, filled, strict=True)
                if keep
            )
    return rows


def sheet_scores(values: list[CriterionRow]) -> list[SheetRow]:
    """One 0..100 score per sheet; a short sheet is scored on its filled-in criteria."""
    sheets: dict[tuple[str, str], dict[str, float]] = {}
    for judge_id, entry_id, criterion_id, value in values:
        sheets.setdefault((judge_id, entry_id), {})[criterion_id] = value
    rows = []
    for (judge_id, entry_id), sheet in sorted(sheets.items()):
        criteria = [criterion for criterion in RUBRIC if criterion.id in sheet]
        rows.append((judge_id, entry_id, weighted_score(criteria, sheet)))
    return rows


def per_entry(rows: list[SheetRow], aggregate: Callable[[list[float]], float]) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for _, entry_id, value in rows:
        scores.setdefault(entry_id, []).append(value)
    return {entry_id: aggregate(values) for entry_id, values in scores.items()}


def zscore_means(rows: list[SheetRow]) -> dict[str, float]:
    """Standardise each judge's scores, then average per entry."""
    by_judge: dict[str, list[float]] = {}
    for judge_id, _, value in rows:
        by_judge.setdefault(judge_id, []).append(value)
    moments = {j: (statistics.fmean(s), statistics.pstdev(s) or 1.0) for j, s in by_judge.items()}
    standardised = [(j, e, (s - moments[j][0]) / moments[j][1]) for j, e, s in rows]
    return per_entry(standardised, statistics.fmean)


def additive_least_squares(rows: list[SheetRow]) -> dict[str, float]:
    """Least squares for ``score = quality_e + offset_j`` (a vanishing ridge fixes the level)."""
    judges = sorted({row[0] for row in rows})
    entries = sorted({row[1] for row in rows})
    design = np.zeros((len(rows), len(judges) + len(entries)))
    judge_pos = {j: i for i, j in enumerate(judges)}
    entry_pos = {e: len(judges) + i for i, e in enumerate(entries)}
    for row_index, (judge_id, entry_id, _) in enumerate(rows):
        design[row_index, judge_pos[judge_id]] = 1.0
        design[row_index, entry_pos[entry_id]] = 1.0
    target = np.array([row[2] for row in rows])
    normal = design.T @ design + 1e-6 * np.eye(design.shape[1])
    solution = np.linalg.solve(normal, design.T @ target)
    return {entry_id: float(solution[entry_pos[entry_id]]) for entry_id in entries}


def latents(entries: dict) -> dict[str, float]:
    return {entry_id: result.latent for entry_id, result in entries.items()}


def score(truth: dict[str, float], estimate: dict[str, float]) -> tuple[float, float]:
    """Kendall tau and top-N recall; an entry nobody scored counts as the worst."""
    ids = sorted(truth)
    true = np.array([truth[e] for e in ids])
    lowest = min(estimate.values()) - 1.0
    guess = np.array([estimate.get(e, lowest) for e in ids])
    true_top = set(np.argsort(-true)[:TOP])
    guessed_top = set(np.argsort(-guess, kind="stable")[:TOP])
    return float(kendalltau(true, guess).statistic), len(true_top & guessed_top) / TOP


def interval(values: list[float]) -> str:
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{mean:.3f} [{mean - half:.3f}, {mean + half:.3f}]"


def report(name: str, results: list[dict[str, tuple[float, float]]]) -> bool:
    """Print one behaviour's table; True when no simple model is ahead of the calibration."""
    print(f"\n## {name} ({len(results)} seeds)")
    print(f"{'method':16}{'Kendall tau':>26}{f'top-{TOP} recall':>26}")
    for method in SIMPLE + CALIBRATED:
        taus = [result[method][0] for result in results]
        recalls = [result[method][1] for result in results]
        print(f"{method:16}{interval(taus):>26}{interval(recalls):>26}")
    main_method = "per-criterion" if name == "skipped" else "calibrated"
    fine = True
    for position, label in ((0, "tau"), (1, "recall")):
        best = max(SIMPLE, key=lambda m: statistics.fmean(r[m][position] for r in results))
        gains = [r[main_method][position] - r[best][position] for r in results]
        ahead = statistics.fmean(gains) >= 0
        fine &= ahead
        print(
            f"{main_method} - {best} ({label}): {interval(gains)}" + ("" if ahead else "  BEHIND")
        )
    return fine


def main() -> None:
    args = parse_args()
    names = args.behaviour or list(BEHAVIOURS)
    started = time.perf_counter()
    fine = True
    for name in names:
        results = [simulate(seed, BEHAVIOURS[name]) for seed in range(args.seeds)]
        fine &= report(name, results)
    print(
        f"\n{len(names)} behaviours × {args.seeds} seeds in {time.perf_counter() - started:.0f} s"
    )
    print("verdict:", "never behind a simple model" if fine else "BEHIND a simple model somewhere")
    if args.check and not fine:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
