"""Rubric sheets with empty criteria turned into one comparable score per sheet.

A judge who leaves a criterion empty still said something about the entry. Dropping the
sheet loses it (at k = 3 a contest loses a few entries altogether); scoring it on its
filled-in criteria only mixes criteria that the judge rates differently (a judge who is
harsh on "impact" and kind on "team" looks kind on a sheet without "impact").

Model, on normalised values ``u = (value - min) / (max - min)``: judge ``j`` rates criterion
``c`` around its own mean ``m[j, c]``, and a sheet sits at a common ``level`` above the judge's
means. The level is the mean of ``u_c - m[j, c]`` over the filled-in criteria; an empty
criterion is filled with ``m[j, c] + level``. A criterion the judge never filled in gets the
mean of all judges for it, moved by the judge's average distance to the others on the
criteria it did fill in. Everything is relative to the judge's own values, so shifting or
scaling all of one judge's values moves the judge's scores the same way (the calibration is
invariant to that).

Each completed sheet has a weight: the variance of a complete sheet's score divided by the
variance of this one, both under independent noise of equal size on every criterion (a
sheet with fewer values is noisier). A complete sheet has weight 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ecosystem.scoring import Criterion

CriterionRow = tuple[str, str, str, float]  # (judge_id, entry_id, criterion_id, value)


@dataclass(frozen=True, slots=True)
class CompletedSheet:
    judge_id: str
    entry_id: str
    score: float  # 0..100 rubric score of the completed sheet
    plain: float  # 0..100 weighted mean of the filled-in criteria only
    weight: float  # in (0, 1]; 1 for a complete sheet
    filled: int  # number of criteria filled in


def complete_sheets(
    values: Iterable[CriterionRow], criteria: Sequence[Criterion]
) -> list[CompletedSheet]:
    """One completed sheet per (judge, entry) with at least one value, sorted by both ids.

    Raises ``ValueError`` on an unknown criterion, a repeated (judge, entry, criterion), a
    value that is not a finite number, duplicate criterion ids or no positive weight.
    """
    rubric = {criterion.id: criterion for criterion in criteria}
    if len(rubric) != len(criteria):
        raise ValueError("criterion ids must be unique")
    if not any(float(criterion.weight) > 0 for criterion in criteria):
        raise ValueError("at least one criterion must have a positive weight")
    sheets = _normalised_sheets(values, rubric)
    means = _judge_means(sheets, list(rubric))
    weights = {criterion.id: float(criterion.weight) for criterion in criteria}
    total = math.fsum(weights.values())
    complete_variance = math.fsum(w * w for w in weights.values()) / total**2
    completed = []
    for (judge_id, entry_id), sheet in sorted(sheets.items()):
        own = means[judge_id]
        level = math.fsum(u - own[c] for c, u in sheet.items()) / len(sheet)
        filled = {c: sheet.get(c, own[c] + level) for c in rubric}
        score = 100.0 * math.fsum(weights[c] * u for c, u in filled.items()) / total
        present_weight = math.fsum(weights[c] for c in sheet)
        plain = (
            100.0 * math.fsum(weights[c] * u for c, u in sheet.items()) / present_weight
            if present_weight > 0
            else score
        )
        share = (total - present_weight) / len(sheet)  # empty weight spread over filled ones
        variance = math.fsum((weights[c] + share) ** 2 for c in sheet) / total**2
        completed.append(
            CompletedSheet(
                judge_id,
                entry_id,
                score,
                plain,
                min(1.0, complete_variance / variance),
                len(sheet),
            )
        )
    return completed


def _normalised_sheets(
    values: Iterable[CriterionRow], rubric: dict[str, Criterion]
) -> dict[tuple[str, str], dict[str, float]]:
    sheets: dict[tuple[str, str], dict[str, float]] = {}
    for judge_id, entry_id, criterion_id, value in values:
        criterion = rubric.get(criterion_id)
        if criterion is None:
            raise ValueError(f"unknown criterion {criterion_id!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("scores must be finite numbers")
        sheet = sheets.setdefault((judge_id, entry_id), {})
        if criterion_id in sheet:
            raise ValueError("each (judge, entry, criterion) may be scored only once")
        width = criterion.scale_max - criterion.scale_min
        sheet[criterion_id] = (number - criterion.scale_min) / width
    return sheets


def _judge_means(
    sheets: dict[tuple[str, str], dict[str, float]], criterion_ids: list[str]
) -> dict[str, dict[str, float]]:
    """``m[j, c]``: each judge's mean normalised value per criterion (see the module doc)."""
    sums: dict[str, dict[str, list[float]]] = {}
    for (judge_id, _), sheet in sheets.items():
        per_criterion = sums.setdefault(judge_id, {})
        for criterion_id, value in sheet.items():
            per_criterion.setdefault(criterion_id, []).append(value)
    own = {
        judge_id: {c: math.fsum(v) / len(v) for c, v in per_criterion.items()}
        for judge_id, per_criterion in sums.items()
    }
    overall: dict[str, float] = {}
    for criterion_id in criterion_ids:
        judge_means = [means[criterion_id] for means in own.values() if criterion_id in means]
        overall[criterion_id] = math.fsum(judge_means) / len(judge_means) if judge_means else 0.0
    means: dict[str, dict[str, float]] = {}
    for judge_id, judged in own.items():
        shift = math.fsum(judged[c] - overall[c] for c in judged) / len(judged)
        means[judge_id] = {c: judged.get(c, overall[c] + shift) for c in criterion_ids}
    return means
