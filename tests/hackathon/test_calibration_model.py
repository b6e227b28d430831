"""The joint quality/offset/scale model: invariance, robustness, clipping, incomplete sheets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecosystem.scoring import Criterion, weighted_score
from hackathon.calibration import (
    Calibration,
    ScoreRow,
    calibrate,
    calibrate_criteria,
    rank_entries,
)
from hackathon.partial_sheets import complete_sheets

RUBRIC = [
    Criterion("impact", 3, 1, 10),
    Criterion("innovation", 2, 1, 10),
    Criterion("feasibility", 2, 1, 10),
    Criterion("presentation", 1, 1, 10),
    Criterion("team", 1, 1, 10),
]


def contest(
    seed: int,
    n_entries: int = 60,
    n_judges: int = 12,
    per_entry: int = 4,
    same_band: float = 0.0,
    adversaries: int = 0,
    noise_df: float | None = None,
) -> tuple[list[tuple[str, str, str, float]], dict[str, float]]:
    """Integer 1..10 rubric sheets from judges with leniency and spread.

    With ``same_band`` > 0, judges j0, j2, ... mostly see the weak half and j1, j3, ... the
    strong half (per-band panels); ``adversaries`` judges score the reverse of merit;
    ``noise_df`` draws the noise from a Student t instead of a normal distribution.
    """
    rng = np.random.default_rng(seed)
    merit = rng.normal(0, 1, n_entries)
    median = float(np.median(merit))
    leniency = rng.normal(0, 1.5, n_judges)
    spread = np.exp(rng.normal(0, 0.35, n_judges))
    sign = np.ones(n_judges)
    sign[:adversaries] = -1.0
    load = np.zeros(n_judges)
    values = []
    for e in range(n_entries):
        band = int(merit[e] > median)
        chosen: list[int] = []
        for _ in range(per_entry):
            own = rng.random() < same_band
            pool = [j for j in range(n_judges) if j not in chosen and (not own or j % 2 == band)]
            least = min(load[j] for j in pool)
            j = int(rng.choice([j for j in pool if load[j] == least]))
            chosen.append(j)
            load[j] += 1
            signal = 5.5 + leniency[j] + sign[j] * 1.5 * spread[j] * merit[e]
            if noise_df is None:
                noise = rng.normal(0, 0.8, len(RUBRIC))
            else:
                noise = 0.8 * rng.standard_t(noise_df, len(RUBRIC))
            raw = np.clip(np.rint(signal + noise), 1, 10)
            values.extend(
                (f"j{j:02d}", f"e{e:03d}", c.id, float(v)) for c, v in zip(RUBRIC, raw, strict=True)
            )
    return values, {f"e{e:03d}": float(m) for e, m in enumerate(merit)}


def sheets(values: list[tuple[str, str, str, float]]) -> list[ScoreRow]:
    by_sheet: dict[tuple[str, str], dict[str, float]] = {}
    for judge, entry, criterion, value in values:
        by_sheet.setdefault((judge, entry), {})[criterion] = value
    return [(j, e, weighted_score(RUBRIC, sheet)) for (j, e), sheet in sorted(by_sheet.items())]


def tau(truth: dict[str, float], estimate: dict[str, float]) -> float:
    ids = sorted(truth)
    total = concordant = 0
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            concordant += np.sign(truth[first] - truth[second]) * np.sign(
                estimate[first] - estimate[second]
            )
            total += 1
    return concordant / total


def latents(calibration: Calibration) -> dict[str, float]:
    return {e: result.latent for e, result in calibration.entries.items()}


def order(calibration: Calibration) -> list[str]:
    return [line.result.entry_id for line in rank_entries(calibration)]


def additive_fit(rows: list[ScoreRow]) -> dict[str, float]:
    """The simple model "score = quality + judge offset" by least squares."""
    judges = sorted({r[0] for r in rows})
    entries = sorted({r[1] for r in rows})
    design = np.zeros((len(rows), len(judges) + len(entries)))
    for i, (j, e, _) in enumerate(rows):
        design[i, judges.index(j)] = 1.0
        design[i, len(judges) + entries.index(e)] = 1.0
    target = np.array([r[2] for r in rows])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return {e: float(solution[len(judges) + i]) for i, e in enumerate(entries)}


# -- invariance on a realistic contest ---------------------------------------------------


@pytest.mark.parametrize(("scale", "shift"), [(1.0, 37.5), (0.2, 0.0), (3.0, -120.0)])
def test_one_judge_shifted_or_scaled_keeps_order_and_latents(scale: float, shift: float) -> None:
    rows = sheets(contest(5)[0])
    before = calibrate(rows)
    for judge in ("j00", "j07"):
        moved = [(j, e, s * scale + shift if j == judge else s) for j, e, s in rows]
        after = calibrate(moved)
        assert order(after) == order(before)
        for entry, result in before.entries.items():
            assert after.entries[entry].latent == pytest.approx(result.latent, abs=1e-9)


def test_per_criterion_fit_is_invariant_to_one_judge_shifting_all_values() -> None:
    values, _ = contest(6)
    before = calibrate_criteria(values, RUBRIC)
    moved = [(j, e, c, v + 2.0 if j == "j03" else v) for j, e, c, v in values]
    assert order(calibrate_criteria(moved, RUBRIC)) == order(before)


# -- accuracy against the simple models ---------------------------------------------------


def test_per_band_panels_do_not_break_the_calibration() -> None:
    # Judges who see mostly one quality band: the old fit (scores standardised per judge,
    # q pulled to 0) fell far behind the additive model here (issue 16).
    gaps = []
    for seed in range(6):
        values, truth = contest(seed, n_entries=80, n_judges=12, same_band=0.95)
        rows = sheets(values)
        gaps.append(tau(truth, latents(calibrate(rows))) - tau(truth, additive_fit(rows)))
    assert np.mean(gaps) > -0.005
    assert min(gaps) > -0.03


def test_adversarial_judge_gets_almost_no_say() -> None:
    values, truth = contest(2, n_entries=60, n_judges=12, adversaries=1)
    rows = sheets(values)
    calibration = calibrate(rows)
    honest = [p.scale for j, p in calibration.judges.items() if j != "j00"]
    assert calibration.judges["j00"].scale < 0.2 * min(honest)
    assert tau(truth, latents(calibration)) > tau(truth, additive_fit(rows)) + 0.03


def test_heavy_tailed_noise_hurts_less_than_in_the_additive_model() -> None:
    gaps = []
    for seed in range(12):
        values, truth = contest(seed, n_entries=80, n_judges=12, noise_df=2.0)
        rows = sheets(values)
        gaps.append(tau(truth, latents(calibrate(rows))) - tau(truth, additive_fit(rows)))
    assert np.mean(gaps) > 0.0


# -- intervals stay on the scale ----------------------------------------------------------


def test_interval_of_a_top_entry_stops_at_100() -> None:
    rows = [
        (judge, entry, score)
        for judge in ("a", "b", "c")
        for entry, score in (("top", 100.0), ("mid", 55.0), ("low", 20.0), ("x", 70.0))
    ] + [("d", "top", 97.0), ("d", "low", 10.0)]
    result = calibrate(rows).entries["top"]
    low, high = result.interval()
    assert high <= 100.0 and low >= 0.0
    assert low <= result.calibrated <= high <= 100.0
    assert result.standard_error > 0  # the clip, not a zero error, keeps it on the scale


def test_scale_widens_to_the_data() -> None:
    rows = [("a", "x", 150.0), ("a", "y", 120.0), ("b", "x", 140.0), ("b", "y", 100.0)]
    entry = calibrate(rows).entries["x"]
    assert entry.highest == 150.0 and entry.calibrated <= 150.0
    custom = calibrate(rows, scale=(0.0, 200.0)).entries["x"]
    assert custom.highest == 200.0


scores_0_100 = st.integers(0, 10_000).map(lambda cents: cents / 100)


@st.composite
def score_logs(draw: st.DrawFn) -> list[ScoreRow]:
    n_entries = draw(st.integers(2, 10))
    rows = []
    for j in range(draw(st.integers(2, 5))):
        for e in sorted(draw(st.sets(st.integers(0, n_entries - 1), min_size=1))):
            rows.append((f"j{j}", f"e{e}", draw(scores_0_100)))
    return rows


@settings(max_examples=80, deadline=None)
@given(score_logs(), st.floats(0.5, 5.0))
def test_intervals_never_leave_the_scale(rows: list[ScoreRow], z: float) -> None:
    for result in calibrate(rows).entries.values():
        low, high = result.interval(z)
        assert 0.0 <= low <= result.calibrated <= high <= 100.0


# -- incomplete sheets --------------------------------------------------------------------


def test_incomplete_sheets_are_ranked() -> None:
    values, truth = contest(4, n_entries=40, n_judges=8, per_entry=3)
    rng = np.random.default_rng(0)
    kept = [row for row in values if row[2] == "impact" or rng.random() > 0.3]
    complete = {
        (j, e)
        for j, e, _ in sheets(values)
        if sum(1 for row in kept if row[:2] == (j, e)) == len(RUBRIC)
    }
    only_complete = [row for row in kept if row[:2] in complete]
    dropped = set(truth) - {e for _, e in complete}
    assert dropped  # the old rule (complete sheets only) leaves these entries unranked
    calibration = calibrate_criteria(kept, RUBRIC)
    assert set(calibration.entries) == set(truth)
    assert tau(truth, latents(calibration)) > 0.6
    for entry in dropped:
        assert calibration.entries[entry].n_scores == 3
    assert set(calibrate_criteria(only_complete, RUBRIC).entries) == set(truth) - dropped


def test_complete_sheets_give_the_same_fit_as_sheet_scores() -> None:
    values, _ = contest(8, n_entries=30, n_judges=6)
    by_criteria = calibrate_criteria(values, RUBRIC)
    by_sheet = calibrate(sheets(values))
    assert order(by_criteria) == order(by_sheet)
    for entry, result in by_sheet.entries.items():
        assert by_criteria.entries[entry].latent == pytest.approx(result.latent, abs=1e-9)
        assert by_criteria.entries[entry].plain_mean == pytest.approx(result.plain_mean)


def test_an_empty_criterion_is_filled_with_the_judges_own_habit() -> None:
    # Judge "h" always gives impact 3 points less than the other criteria: a sheet without
    # impact must not look better than the same entry with impact filled in.
    values = []
    for e, level in (("p", 8), ("q", 6), ("r", 4)):
        values += [("h", e, "impact", float(level - 3))]
        values += [("h", e, c.id, float(level)) for c in RUBRIC[1:]]
    values += [("h", "s", c.id, 6.0) for c in RUBRIC[1:]]  # like q, impact left empty
    by_entry = {sheet.entry_id: sheet for sheet in complete_sheets(values, RUBRIC)}
    assert by_entry["s"].score == pytest.approx(by_entry["q"].score)
    assert by_entry["s"].plain > by_entry["q"].plain  # the naive score is inflated
    assert by_entry["q"].weight == 1.0
    assert 0 < by_entry["s"].weight < 1.0
    assert by_entry["s"].filled == 4


def test_fewer_values_weigh_less() -> None:
    values = [("j", "full", c.id, 5.0) for c in RUBRIC]
    values += [("j", "two", c.id, 5.0) for c in RUBRIC[:2]]
    values += [("j", "one", "team", 5.0)]
    weight = {sheet.entry_id: sheet.weight for sheet in complete_sheets(values, RUBRIC)}
    assert weight["full"] == 1.0 > weight["two"] > weight["one"] > 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([("a", "x", "nope", 5.0)], "unknown criterion"),
        ([("a", "x", "team", 5.0), ("a", "x", "team", 6.0)], "only once"),
        ([("a", "x", "team", math.nan)], "finite"),
    ],
)
def test_bad_criterion_rows_are_rejected(values: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate_criteria(values, RUBRIC)


def test_rubric_without_weight_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        calibrate_criteria([("a", "x", "c", 1.0)], [Criterion("c", 0, 1, 10)])


def test_no_values_no_entries() -> None:
    assert calibrate_criteria([], RUBRIC).entries == {}


def test_per_criterion_intervals_stay_within_0_and_100() -> None:
    # Judge "h" gives team 5 where the rest get 10; a sheet with only team = 10 is filled in
    # above the rubric's maximum.
    values = [("h", e, c.id, 5.0 if c.id == "team" else 10.0) for e in ("p", "q") for c in RUBRIC]
    values += [("h", "r", "team", 10.0)]
    values += [("h", "s", c.id, 1.0) for c in RUBRIC]
    values += [("g", e, c.id, v) for e, v in (("p", 9.0), ("r", 10.0), ("s", 2.0)) for c in RUBRIC]
    filled = {
        sheet.entry_id: sheet.score
        for sheet in complete_sheets(values, RUBRIC)
        if sheet.judge_id == "h"
    }
    assert filled["r"] > 100.0
    for result in calibrate_criteria(values, RUBRIC).entries.values():
        low, high = result.interval()
        assert 0.0 <= low <= result.calibrated <= high <= 100.0
        assert (result.lowest, result.highest) == (0.0, 100.0)
