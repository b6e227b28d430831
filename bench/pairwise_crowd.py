"""Pairwise judging for a crowd (issue 16, item 4): simulation and timing.

1. Crowd vs one at a time. 80 entries of hidden Bradley-Terry strength (N(0, 1.5²)), 20
   careful judges who answer with the Bradley-Terry probability of the true strengths. Two
   ways of judging, the same code as the server (`hackathon.pairwise.choose_next` with the
   exclusions `hackathon.services.expo.next_pair` passes):
   * one at a time: one judge asks, answers, the model is updated, the next judge asks;
   * 20 at once: in each round every judge asks at the same moment (each request sees the
     pairs already handed out in that round, as the server's leases show them), then all
     answer, then the model learns the 20 answers;
   * for reference, the former choice (deterministic, no exclusion) with 20 at once.
   For each, the comparisons needed until Kendall's tau between the model's ranking and the
   true one reaches 0.8 (checked every 20 comparisons, capped at 3,000), over `--seeds`
   contests. Target: 20 at once within 1.2 x one at a time.
2. Reliability: 20 judges of whom 4 answer at random (the rest careful); after 1,500
   comparisons (20 at once), the mean reliability of each group by `judge_agreement`, and
   by Crowd-BT's own Beta belief for contrast.
3. Timing of `choose_next` with 500 entries after 5,000 comparisons: a judge's first pair
   with 19 pairs held by other judges and 250 pairs already compared (target < 50 ms).

Run: ``python bench/pairwise_crowd.py [--seeds 10]``
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from hackathon.pairwise import (  # noqa: E402
    Comparison,
    apply_comparison,
    choose_next,
    judge_agreement,
    judge_reliability,
    new_state,
)

ENTRIES = 80
JUDGES = 20
TARGET_TAU = 0.8
CAP = 3000
CHECK_EVERY = 20


def answer(rng: random.Random, strength: dict[str, float], a: str, b: str, careless: bool):
    if careless:
        return (a, b) if rng.random() < 0.5 else (b, a)
    p = 1 / (1 + math.exp(strength[b] - strength[a]))
    return (a, b) if rng.random() < p else (b, a)


def tau(state, strength) -> float:
    ids = state.entry_ids
    return float(kendalltau([state.belief(e)[0] for e in ids], [strength[e] for e in ids])[0])


def simulate(seed: int, mode: str, careless: frozenset[str] = frozenset(), cap: int = CAP):
    """Comparisons until tau >= TARGET_TAU (None if never), and the final state."""
    rng = random.Random(seed)
    ids = [f"e{i:03d}" for i in range(ENTRIES)]
    strength = {e: rng.gauss(0, 1.5) for e in ids}
    judges = [f"j{k:02d}" for k in range(JUDGES)]
    state = new_state(ids)
    seen: dict[str, list[tuple[str, str]]] = {j: [] for j in judges}
    done = 0
    reached = None
    request = random.Random(seed * 7919 + 1)  # the server seeds each request afresh
    while done < cap:
        batch_judges = [judges[done % JUDGES]] if mode == "one" else judges
        handed: list[tuple[str, tuple[str, str]]] = []
        for judge in batch_judges:
            if mode == "former":
                pair = choose_next(state, judge)
            else:
                busy = [pair for _j, pair in handed]
                pair = choose_next(
                    state,
                    judge,
                    seen_pairs=seen[judge],
                    busy_pairs=busy,
                    busy_entries={e for p in busy for e in p},
                    rng=random.Random(request.getrandbits(64)),
                )
            if pair is not None:
                handed.append((judge, pair))
        if not handed:
            break
        for judge, (a, b) in handed:  # everyone answers, then the model learns
            winner, loser = answer(rng, strength, a, b, judge in careless)
            apply_comparison(state, Comparison(judge, winner, loser))
            seen[judge].append((a, b))
            done += 1
            if reached is None and done % CHECK_EVERY == 0 and tau(state, strength) >= TARGET_TAU:
                reached = done
        if reached is not None and not careless:
            break
    return reached, state


def crowd(seeds: int) -> None:
    print(f"1. comparisons to reach tau {TARGET_TAU} ({ENTRIES} entries, {JUDGES} judges)")
    figures: dict[str, list[float]] = {}
    for mode, label in (
        ("one", "one at a time"),
        ("crowd", "20 at once (leases, exclusions, exploration)"),
        ("former", "20 at once, former choice (for reference)"),
    ):
        reached = []
        started = time.perf_counter()
        for seed in range(seeds):
            n, _state = simulate(seed, mode)
            reached.append(n)
        ok = [n for n in reached if n is not None]
        median = statistics.median(ok) if ok else float("nan")
        figures[mode] = ok
        print(
            f"   {label:48s} reached in {len(ok)}/{seeds}; median {median:7.0f}; "
            f"mean {statistics.mean(ok) if ok else float('nan'):7.0f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
    if figures["one"] and figures["crowd"]:
        ratio = statistics.median(figures["crowd"]) / statistics.median(figures["one"])
        verdict = "OK" if ratio <= 1.2 else "ABOVE TARGET"
        print(f"   ratio crowd / one at a time (medians): {ratio:.2f}  (target <= 1.2: {verdict})")


def reliability(seeds: int) -> None:
    print("2. reliability after 1,500 comparisons, 4 of 20 judges answering at random")
    careless = frozenset(f"j{k:02d}" for k in range(4))
    ours = {"random": [], "careful": []}
    crowd_bt = {"random": [], "careful": []}
    for seed in range(seeds):
        _n, state = simulate(seed, "crowd", careless, cap=1500)
        agreement = judge_agreement(state)
        for judge, row in agreement.items():
            group = "random" if judge in careless else "careful"
            ours[group].append(row.reliability)
            crowd_bt[group].append(judge_reliability(state, judge))
    for name, table in (("judge_agreement", ours), ("Crowd-BT Beta belief", crowd_bt)):
        print(
            f"   {name:22s} random {statistics.mean(table['random']):.3f} "
            f"(max {max(table['random']):.3f})   careful {statistics.mean(table['careful']):.3f} "
            f"(min {min(table['careful']):.3f})"
        )


def timing(repeats: int = 30) -> None:
    print("3. choose_next with 500 entries after 5,000 comparisons")
    rng = random.Random(3)
    ids = [f"e{i:03d}" for i in range(500)]
    strength = {e: rng.gauss(0, 1.5) for e in ids}
    state = new_state(ids)
    for n in range(5000):
        a, b = rng.sample(ids, 2)
        winner, loser = answer(rng, strength, a, b, False)
        apply_comparison(state, Comparison(f"j{n % 20}", winner, loser))
    seen = [(c.winner_id, c.loser_id) for c in state.log if c.judge_id == "j1"]
    busy = [tuple(rng.sample(ids, 2)) for _ in range(19)]
    cases = {
        "first pair, greedy": dict(rng=None),
        "first pair, crowd (seen, busy, exploring)": dict(
            seen_pairs=seen, busy_pairs=busy, busy_entries={e for p in busy for e in p}
        ),
        "with a current entry, crowd": dict(
            current=ids[0],
            seen_pairs=seen,
            busy_pairs=busy,
            busy_entries={e for p in busy for e in p},
        ),
    }
    for label, kwargs in cases.items():
        times = []
        for r in range(repeats):
            extra = {} if "rng" in kwargs else {"rng": random.Random(r)}
            started = time.perf_counter()
            choose_next(state, "j1", **kwargs, **extra)
            times.append(time.perf_counter() - started)
        print(f"   {label:44s} median {1000 * statistics.median(times):6.1f} ms (target < 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    np.seterr(all="ignore")
    timing()
    reliability(max(2, args.seeds // 2))
    crowd(args.seeds)


if __name__ == "__main__":
    main()
