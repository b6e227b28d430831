"""Tests for leniency/spread-corrected aggregation and tie-aware rankings."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hackathon.calibration import (
    Calibration,
    RankedEntry,
    ScoreRow,
    calibrate,
    rank_by_track,
    rank_entries,
)


def simulate(
    seed: int, n_entries: int = 40, n_judges: int = 10, per_entry: int = 4
) -> tuple[list[ScoreRow], dict[str, float]]:
    """Judges with random leniency and spread score random subsets of entries."""
    rng = np.random.default_rng(seed)
    quality = {f"e{i:03d}": float(q) for i, q in enumerate(rng.normal(0, 1, n_entries))}
    leniency = rng.normal(0, 10, n_judges)
    spread = np.exp(rng.normal(0, 0.4, n_judges))
    rows = []
    for entry_id, q in quality.items():
        for j in rng.choice(n_judges, per_entry, replace=False):
            score = 60 + leniency[j] + 12 * spread[j] * q + rng.normal(0, 4)
            rows.append((f"j{j}", entry_id, float(np.clip(score, 0, 100))))
    return rows, quality


def order(ranking: list[RankedEntry]) -> list[str]:
    return [line.result.entry_id for line in ranking]


def kendall_tau(first: list[float], second: list[float]) -> float:
    concordant = 0
    total = 0
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            concordant += np.sign(first[i] - first[j]) * np.sign(second[i] - second[j])
            total += 1
    return concordant / total


def test_calibrated_ranking_beats_the_plain_mean() -> None:
    gains = []
    for seed in range(12):
        rows, quality = simulate(seed)
        calibration = calibrate(rows)
        ids = sorted(quality)
        truth = [quality[e] for e in ids]
        plain = kendall_tau(truth, [calibration.entries[e].plain_mean for e in ids])
        calibrated = kendall_tau(truth, [calibration.entries[e].latent for e in ids])
        gains.append(calibrated - plain)
    assert np.mean(gains) > 0.03
    assert sum(gain > 0 for gain in gains) >= 9


def test_plain_mean_and_counts() -> None:
    rows = [("a", "x", 10.0), ("b", "x", 20.0), ("a", "y", 30.0), ("b", "y", 50.0)]
    entries = calibrate(rows).entries
    assert entries["x"].plain_mean == pytest.approx(15.0)
    assert entries["y"].plain_mean == pytest.approx(40.0)
    assert entries["x"].n_scores == entries["y"].n_scores == 2


def test_lenient_judge_does_not_decide_the_ranking() -> None:
    # A harsh judge and a lenient judge each see a different half; two linking entries are
    # seen by both. True order: A1 > B1 > A2 > B2 (A = harsh judge's half).
    rows = [
        ("harsh", "A1", 70.0), ("harsh", "A2", 50.0), ("harsh", "L1", 60.0),
        ("harsh", "L2", 40.0), ("lenient", "B1", 85.0), ("lenient", "B2", 65.0),
        ("lenient", "L1", 80.0), ("lenient", "L2", 60.0),
        ("third", "A1", 72.0), ("third", "B1", 66.0), ("third", "L1", 61.0),
        ("third", "A2", 52.0), ("third", "B2", 46.0), ("third", "L2", 41.0),
    ]  # fmt: skip
    calibration = calibrate(rows)
    assert order(rank_entries(calibration, ["A1", "A2", "B1", "B2"])) == ["A1", "B1", "A2", "B2"]
    plain = sorted(["A1", "A2", "B1", "B2"], key=lambda e: -calibration.entries[e].plain_mean)
    assert plain != ["A1", "B1", "A2", "B2"]  # the plain mean is fooled


def test_judge_profiles_recover_leniency_and_spread() -> None:
    rows, _ = simulate(3, n_entries=60, n_judges=6, per_entry=6)
    profiles = calibrate(rows).judges
    by_offset = sorted(profiles, key=lambda j: profiles[j].offset)
    assert by_offset[0] != by_offset[-1]
    assert all(profile.scale > 0 and profile.informative for profile in profiles.values())


def test_constant_judge_is_uninformative_but_counted() -> None:
    rows = [("flat", "x", 70.0), ("flat", "y", 70.0), ("a", "x", 40.0), ("a", "y", 60.0)]
    calibration = calibrate(rows)
    assert not calibration.judges["flat"].informative
    assert order(rank_entries(calibration)) == ["y", "x"]
    assert calibration.entries["x"].n_scores == 2


def test_entries_without_information_tie() -> None:
    rows = [("a", "x", 40.0), ("b", "y", 90.0)]  # each judge scored one entry only
    ranking = rank_entries(calibrate(rows))
    assert order(ranking) == ["x", "y"]
    assert [line.rank for line in ranking] == [1, 1]
    assert ranking[0].tied_with_next


def test_identical_entries_share_a_rank_and_are_tied() -> None:
    rows = [(j, e, s) for j in ("a", "b") for e, s in (("p", 80.0), ("q", 80.0), ("r", 20.0))]
    ranking = rank_entries(calibrate(rows))
    assert order(ranking) == ["p", "q", "r"]
    assert [line.rank for line in ranking] == [1, 1, 3]
    assert ranking[0].tied_with_next


def test_clear_gap_is_not_a_tie() -> None:
    rows = [
        (j, f"e{i}", 10.0 * i + offset)
        for j, offset in (("a", 0.0), ("b", 5.0), ("c", -3.0), ("d", 1.0))
        for i in range(4)
    ]
    ranking = rank_entries(calibrate(rows))
    assert order(ranking) == [f"e{i}" for i in reversed(range(4))]
    assert not any(line.tied_with_next for line in ranking)
    low, high = ranking[0].result.interval()
    assert low < ranking[0].result.calibrated < high


def test_rank_by_track_splits_entries() -> None:
    rows, quality = simulate(1, n_entries=20)
    track_of = {e: "ai" if int(e[1:]) % 2 else "health" for e in quality}
    calibration = calibrate(rows)
    tracks = rank_by_track(calibration, track_of)
    assert set(tracks) == {"ai", "health"}
    assert sorted(order(tracks["ai"])) == sorted(e for e in quality if track_of[e] == "ai")
    overall = order(rank_entries(calibration))
    assert order(tracks["ai"]) == [e for e in overall if track_of[e] == "ai"]


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="only once"):
        calibrate([("a", "x", 1.0), ("a", "x", 2.0)])
    with pytest.raises(ValueError, match="finite"):
        calibrate([("a", "x", float("nan"))])


def test_empty_input() -> None:
    calibration = calibrate([])
    assert calibration.entries == {} and rank_entries(calibration) == []


# Realistic 0..100 scores: two decimals, or weighted rubric values such as 100 * 7 / 9.
# (Arbitrary floats like 1e-92 next to 0.0 are not: shifting them by 1.0 erases them.)
rubric_scores = st.one_of(
    st.integers(0, 10_000).map(lambda cents: cents / 100),
    st.tuples(st.integers(1, 60), st.integers(0, 60)).map(
        lambda frac: 100 * min(frac[1], frac[0]) / frac[0]
    ),
)


@st.composite
def score_logs(draw: st.DrawFn) -> list[ScoreRow]:
    n_entries = draw(st.integers(2, 12))
    n_judges = draw(st.integers(2, 6))
    rows = []
    for j in range(n_judges):
        seen = draw(st.sets(st.integers(0, n_entries - 1), min_size=1))
        for e in sorted(seen):
            rows.append((f"j{j}", f"e{e}", draw(rubric_scores)))
    return rows


def fingerprint(calibration: Calibration) -> list[tuple[str, int, bool]]:
    return [
        (line.result.entry_id, line.rank, line.tied_with_next) for line in rank_entries(calibration)
    ]


def transform_judge(rows: list[ScoreRow], judge: str, scale: float, shift: float) -> list[ScoreRow]:
    return [(j, e, s * scale + shift if j == judge else s) for j, e, s in rows]


@settings(max_examples=300, deadline=None)
@given(score_logs(), st.data(), st.floats(-50, 50, allow_nan=False))
def test_shifting_one_judge_keeps_the_ranking(
    rows: list[ScoreRow], data: st.DataObject, shift: float
) -> None:
    judge = data.draw(st.sampled_from(sorted({row[0] for row in rows})))
    before = calibrate(rows)
    after = calibrate(transform_judge(rows, judge, 1.0, shift))
    assert fingerprint(after) == fingerprint(before)
    for entry_id, result in before.entries.items():
        assert after.entries[entry_id].latent == pytest.approx(result.latent, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(score_logs(), st.data(), st.floats(0.05, 20), st.floats(-30, 30))
def test_scaling_one_judge_keeps_the_ranking(
    rows: list[ScoreRow], data: st.DataObject, scale: float, shift: float
) -> None:
    judge = data.draw(st.sampled_from(sorted({row[0] for row in rows})))
    before = calibrate(rows)
    assert fingerprint(calibrate(transform_judge(rows, judge, scale, 0.0))) == fingerprint(before)
    assert fingerprint(calibrate(transform_judge(rows, judge, scale, shift))) == fingerprint(before)


@settings(max_examples=60, deadline=None)
@given(score_logs(), st.randoms())
def test_row_order_does_not_matter(rows: list[ScoreRow], rng: random.Random) -> None:
    shuffled = list(rows)
    rng.shuffle(shuffled)
    assert fingerprint(calibrate(shuffled)) == fingerprint(calibrate(rows))


@settings(max_examples=60, deadline=None)
@given(score_logs())
def test_results_are_well_formed(rows: list[ScoreRow]) -> None:
    calibration = calibrate(rows)
    ranking = rank_entries(calibration)
    assert len(ranking) == len({row[1] for row in rows})
    assert ranking[-1].tied_with_next is False
    for line in ranking:
        result = line.result
        assert np.isfinite(result.calibrated) and result.standard_error >= 0
        assert result.latent_se > 0
    latents = [line.result.latent for line in ranking]
    assert all(a >= b - 1e-9 for a, b in zip(latents, latents[1:], strict=False))
