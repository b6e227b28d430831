"""Tests for the weighted rubric score."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecosystem.scoring import Criterion, validate_scores, weighted_score

RUBRIC = [
    Criterion("impact", 3, 1, 10),
    Criterion("feasibility", 2, 0, 5),
    Criterion("team", 1, 1, 5),
]


def test_valid_scores_have_no_errors() -> None:
    assert validate_scores(RUBRIC, {"impact": 10, "feasibility": 0, "team": 3.5}) == {}


def test_missing_unknown_and_out_of_scale_are_reported() -> None:
    errors = validate_scores(RUBRIC, {"impact": 11, "team": 0, "design": 4})
    assert errors == {
        "impact": "must be between 1 and 10",
        "feasibility": "missing score",
        "team": "must be between 1 and 5",
        "design": "unknown criterion",
    }


@pytest.mark.parametrize("bad", [math.nan, math.inf, "7", None, True])
def test_non_numbers_are_reported(bad: object) -> None:
    errors = validate_scores(RUBRIC, {"impact": bad, "feasibility": 1, "team": 1})
    assert errors == {"impact": "must be a number"}


def test_weighted_score_known_value() -> None:
    # impact 5.5 -> 0.5, feasibility 5 -> 1, team 1 -> 0: (3*0.5 + 2*1 + 0) / 6 = 3.5 / 6
    score = weighted_score(RUBRIC, {"impact": 5.5, "feasibility": 5, "team": 1})
    assert score == pytest.approx(100 * 3.5 / 6, abs=1e-12)


def test_extremes_are_exact() -> None:
    assert weighted_score(RUBRIC, {"impact": 10, "feasibility": 5, "team": 5}) == 100.0
    assert weighted_score(RUBRIC, {"impact": 1, "feasibility": 0, "team": 1}) == 0.0


def test_decimal_and_fraction_scores_are_accepted() -> None:
    scores = {"impact": Decimal("5.5"), "feasibility": Fraction(5), "team": 1}
    assert weighted_score(RUBRIC, scores) == pytest.approx(100 * 3.5 / 6)


def test_zero_weight_criterion_is_ignored() -> None:
    rubric = [Criterion("a", 1, 0, 10), Criterion("b", 0, 0, 10)]
    assert weighted_score(rubric, {"a": 4, "b": 10}) == pytest.approx(40.0)


def test_invalid_scores_raise() -> None:
    with pytest.raises(ValueError, match="feasibility: missing score"):
        weighted_score(RUBRIC, {"impact": 3, "team": 2})


@pytest.mark.parametrize(
    ("rubric", "message"),
    [
        ([Criterion("a", 1, 0, 5), Criterion("a", 1, 0, 5)], "unique"),
        ([Criterion("a", 0, 0, 5)], "positive weight"),
        ([], "positive weight"),
    ],
)
def test_invalid_rubrics_raise(rubric: list[Criterion], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        weighted_score(rubric, {c.id: 1 for c in rubric})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": 1, "scale_min": 5, "scale_max": 5}, "scale_max"),
        ({"weight": -1, "scale_min": 0, "scale_max": 5}, "weight"),
        ({"weight": math.nan, "scale_min": 0, "scale_max": 5}, "weight"),
    ],
)
def test_invalid_criterion_raises(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Criterion("x", **kwargs)  # type: ignore[arg-type]


@st.composite
def rubric_and_scores(draw: st.DrawFn) -> tuple[list[Criterion], dict[str, float]]:
    size = draw(st.integers(1, 6))
    criteria = []
    scores: dict[str, float] = {}
    for index in range(size):
        low = draw(st.integers(-5, 5))
        high = low + draw(st.integers(1, 10))
        weight = draw(st.one_of(st.integers(0, 10), st.floats(0, 10, allow_nan=False)))
        criteria.append(Criterion(f"c{index}", weight, low, high))
        scores[f"c{index}"] = draw(st.floats(low, high, allow_nan=False))
    if not any(c.weight > 0 for c in criteria):
        criteria[0] = Criterion("c0", 1, criteria[0].scale_min, criteria[0].scale_max)
    return criteria, scores


def exact_score(criteria: list[Criterion], scores: dict[str, float]) -> Fraction:
    total = sum(Fraction(c.weight) for c in criteria)
    weighted = sum(
        Fraction(c.weight) * (Fraction(scores[c.id]) - c.scale_min) / (c.scale_max - c.scale_min)
        for c in criteria
    )
    return 100 * weighted / total


@settings(max_examples=200, deadline=None)
@given(rubric_and_scores(), st.randoms())
def test_score_is_bounded_exact_and_order_free(
    case: tuple[list[Criterion], dict[str, float]], rng: object
) -> None:
    criteria, scores = case
    score = weighted_score(criteria, scores)
    assert 0.0 <= score <= 100.0
    assert score == pytest.approx(float(exact_score(criteria, scores)), rel=1e-12, abs=1e-12)
    shuffled = list(criteria)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert weighted_score(shuffled, scores) == score


@settings(max_examples=100, deadline=None)
@given(rubric_and_scores(), st.data())
def test_raising_one_score_never_lowers_the_result(
    case: tuple[list[Criterion], dict[str, float]], data: st.DataObject
) -> None:
    criteria, scores = case
    target = data.draw(st.sampled_from(criteria))
    higher = data.draw(st.floats(scores[target.id], target.scale_max, allow_nan=False))
    raised = {**scores, target.id: higher}
    assert weighted_score(criteria, raised) >= weighted_score(criteria, scores)
