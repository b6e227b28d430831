"""Weighted rubric scoring shared by contests and incubator applications.

Model: each criterion ``c`` has a weight ``w_c >= 0`` and an integer scale
``[scale_min, scale_max]``. A score ``s_c`` is normalised to ``(s_c - min) / (max - min)``
in ``[0, 1]``; the rubric score is the weighted average of the normalised values, times 100.

Guarantee: ``weighted_score`` returns a value in ``[0, 100]``, exactly ``0.0`` when every score
is at its minimum and exactly ``100.0`` when every score is at its maximum. Sums use
``math.fsum`` (correctly rounded), so the result does not depend on the order of the
criteria; it is within a few ulps of the exact rational value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

MISSING = "missing score"
UNKNOWN = "unknown criterion"
NOT_A_NUMBER = "must be a number"


@dataclass(frozen=True, slots=True)
class Criterion:
    """One rubric line: ``weight`` is relative (only ratios between criteria matter)."""

    id: str
    weight: float | int
    scale_min: int
    scale_max: int

    def __post_init__(self) -> None:
        if self.scale_max <= self.scale_min:
            raise ValueError(f"criterion {self.id!r}: scale_max must exceed scale_min")
        if not _is_number(self.weight) or self.weight < 0:
            raise ValueError(f"criterion {self.id!r}: weight must be a finite number >= 0")


def validate_scores(criteria: Sequence[Criterion], scores: Mapping[str, float]) -> dict[str, str]:
    """Return ``{criterion_id: error message}``; an empty dict means the scores are valid."""
    errors: dict[str, str] = {}
    known = {criterion.id for criterion in criteria}
    for criterion in criteria:
        if criterion.id not in scores:
            errors[criterion.id] = MISSING
            continue
        value = scores[criterion.id]
        if not _is_number(value):
            errors[criterion.id] = NOT_A_NUMBER
        elif not criterion.scale_min <= value <= criterion.scale_max:
            errors[criterion.id] = (
                f"must be between {criterion.scale_min} and {criterion.scale_max}"
            )
    for criterion_id in scores:
        if criterion_id not in known:
            errors[criterion_id] = UNKNOWN
    return errors


def weighted_score(criteria: Sequence[Criterion], scores: Mapping[str, float]) -> float:
    """Weighted average of the normalised scores on a 0..100 scale.

    Raises ``ValueError`` when the scores are invalid (see ``validate_scores``), when two
    criteria share an id, or when all weights are zero.
    """
    _check_rubric(criteria)
    errors = validate_scores(criteria, scores)
    if errors:
        details = ", ".join(f"{key}: {message}" for key, message in sorted(errors.items()))
        raise ValueError(f"invalid scores ({details})")
    largest = max(float(criterion.weight) for criterion in criteria)
    weights = [float(criterion.weight) / largest for criterion in criteria]  # no underflow
    total_weight = math.fsum(weights)
    weighted = math.fsum(
        weight * _normalised(criterion, scores[criterion.id])
        for weight, criterion in zip(weights, criteria, strict=True)
    )
    return min(100.0, 100.0 * weighted / total_weight)


def _normalised(criterion: Criterion, value: float) -> float:
    return (float(value) - criterion.scale_min) / (criterion.scale_max - criterion.scale_min)


def _check_rubric(criteria: Sequence[Criterion]) -> None:
    ids = [criterion.id for criterion in criteria]
    if len(set(ids)) != len(ids):
        raise ValueError("criterion ids must be unique")
    if not any(criterion.weight > 0 for criterion in criteria):
        raise ValueError("at least one criterion must have a positive weight")


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
        return False
    return math.isfinite(value)
