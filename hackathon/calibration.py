"""Score aggregation corrected for each judge's leniency (offset) and spread (scale).

Model. Each judge's scores are first put in the judge's own units,
``z = (y - mean_j) / sd_j``. Then, with ``q_e`` the latent quality of entry ``e``::

    z[j, e] = a_j + b_j * q_e + noise,   noise ~ N(0, sigma_j^2 / w),   b_j >= B_MIN > 0

fitted jointly: entry quality ``q``, judge offset ``a``, judge scale ``b`` and judge noise
``sigma``. ``w`` is a row's a priori precision (1 for a complete sheet; less for a sheet with
empty criteria, see ``calibrate_criteria``). Priors:

* ``q_e ~ N(0, 1/LAMBDA_Q)`` and ``a_j ~ N(0, 1/LAMBDA_A)``, both weak. The offsets must stay
  nearly free: a judge who only sees strong entries (per-track or per-band panels) has a low
  ``a_j`` in its own units, and a pull of ``q`` towards 0 that is stronger than the pull of
  ``a`` towards 0 would move the gap between strong and weak pools into the offsets;
* the reliability ``b_j / sigma_j`` (signal over noise: it depends neither on the judge's units
  nor on the range of qualities the judge happened to see) is shrunk towards its geometric
  mean over the judges: ``b_j ~ N(RHO * sigma_j, sigma_j^2 / LAMBDA_B)``;
* ``sigma_j^2`` has a scaled-inverse-chi-square prior (``NOISE_PRIOR_*``).

Estimation: alternating least squares, a fixed number of rounds (``ROUNDS``):

1. ``b_j = 1``, equal weights: ridge least squares for ``(a, q)`` (the additive model);
2. per round: per judge, ``(a_j, b_j)`` by ridge regression of ``z`` on the current ``q``
   (``b_j`` clamped at ``B_MIN``, so a judge who scores against the others gets almost no
   weight), ``sigma_j^2`` from the residuals, and Huber weights for rows whose residual
   exceeds ``HUBER`` noise levels (heavy-tailed noise, occasional wild scores); then the
   weighted ridge least squares for ``(a, q)`` with those slopes and weights, solved exactly
   through the Schur complement on the judges.

A fixed number of exact stages keeps the estimate a smooth function of the data (full
convergence of this non-convex fit buys nothing measurable and lets the symmetric saddles
of tiny data sets flip rankings on rounding noise). ``bench/judging_fairness.py`` measures
the ranking against the plain mean, the median, per-judge z-scores and the additive model
"score = quality + judge offset" under several judge behaviours.

Invariance: the estimate only sees ``z`` and priors stated in ``z`` units, so it is invariant
(up to rounding) to adding a constant to one judge's scores or multiplying them by a
positive factor. Rankings treat latent qualities closer than ``EXACT_TIE`` as equal and
order them by entry id, so the ranking itself does not change.

A judge with fewer than two distinct scores carries no information about relative quality
under this model (its offset absorbs everything) and is left out of the fit; its scores
still count in the plain mean.

Uncertainty: the final weighted least squares gives the posterior covariance of ``q``
(including the uncertainty of the judges' offsets; slopes, noise levels and robust weights
are taken as known). ``latent_se`` is the marginal standard deviation of ``q_e``; two
adjacent entries are a statistical tie when ``|q_1 - q_2| < z * sd(q_1 - q_2)``, using the
covariance so that the poorly known common level of all entries is not counted.

Scores are reported on the input scale as the score an average judge would give:
``calibrated = mean_j(mean_j + sd_j * a_j) + mean_j(sd_j * b_j) * q_e``, clipped to the score
scale (0..100 unless the data go beyond it), and so are the intervals: an excellent entry's
interval ends at 100, not above it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ecosystem.scoring import Criterion
from hackathon.partial_sheets import CriterionRow, complete_sheets

ScoreRow = tuple[str, str, float]  # (judge_id, entry_id, score)
SCORE_SCALE = (0.0, 100.0)

LAMBDA_Q = 0.01  # weak: a stronger pull of q to 0 lets offsets absorb real level gaps
LAMBDA_A = 0.01
LAMBDA_B = 4.0  # pseudo-observations behind the reliability prior of each judge's slope
B_MIN = 0.05
NOISE_PRIOR_VARIANCE = 0.5  # in standardised units
NOISE_PRIOR_WEIGHT = 2.0  # pseudo-observations behind NOISE_PRIOR_VARIANCE
ROUNDS = 8
HUBER = 2.0  # residuals beyond this many noise levels are down-weighted
EXACT_TIE = 1e-9  # latent qualities closer than this are the same
DEFAULT_Z = 1.96


@dataclass(frozen=True, slots=True)
class EntryResult:
    """Aggregated result of one entry; scores on the input (0..100) scale."""

    entry_id: str
    calibrated: float  # within [lowest, highest]
    standard_error: float
    plain_mean: float
    n_scores: int
    latent: float  # q_e, the quality used for ranking
    latent_se: float
    lowest: float = -math.inf  # bounds of the score scale (intervals are clipped to them)
    highest: float = math.inf

    def interval(self, z: float = DEFAULT_Z) -> tuple[float, float]:
        """``calibrated ± z * standard_error``, clipped to the score scale."""
        return (
            max(self.lowest, self.calibrated - z * self.standard_error),
            min(self.highest, self.calibrated + z * self.standard_error),
        )


@dataclass(frozen=True, slots=True)
class JudgeProfile:
    """A judge's fitted behaviour on the input scale: score ≈ offset + scale * q."""

    judge_id: str
    offset: float  # the score this judge gives to an entry of average quality (q = 0)
    scale: float
    noise: float
    n_scores: int
    informative: bool


@dataclass(frozen=True, eq=False)
class _Posterior:
    """Posterior covariance of q: ``diag(1 / d_q) + left^T @ right`` (low rank + diagonal)."""

    position: dict[str, int]
    d_q: np.ndarray
    left: np.ndarray  # C D_q^-1, judges x entries
    right: np.ndarray  # S^-1 C D_q^-1

    def covariance(self, first: str, second: str) -> float:
        i, j = self.position[first], self.position[second]
        shared = float(self.left[:, i] @ self.right[:, j])
        return shared + (1.0 / float(self.d_q[i]) if i == j else 0.0)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of ``calibrate``: per entry and per judge."""

    entries: dict[str, EntryResult]
    judges: dict[str, JudgeProfile]
    posterior: _Posterior = field(repr=False)

    def difference_se(self, first: str, second: str) -> float:
        """Posterior standard deviation of ``latent(first) - latent(second)``.

        Unlike combining the two marginal errors, this ignores the uncertainty of the common
        level of all entries, which does not affect their order.
        """
        variance = (
            self.posterior.covariance(first, first)
            + self.posterior.covariance(second, second)
            - 2.0 * self.posterior.covariance(first, second)
        )
        return math.sqrt(max(variance, 0.0))


@dataclass(frozen=True, slots=True)
class RankedEntry:
    """One line of a ranking; ``rank`` is shared by exact ties (1, 2, 2, 4)."""

    rank: int
    result: EntryResult
    tied_with_next: bool  # the order with the next line is not statistically significant


@dataclass
class _Data:
    judge_ids: list[str]
    entry_ids: list[str]
    judge_index: np.ndarray  # per score
    entry_index: np.ndarray
    raw: np.ndarray
    z: np.ndarray
    judge_mean: np.ndarray
    judge_sd: np.ndarray
    informative: np.ndarray  # per judge, bool
    weight: np.ndarray  # per score: a priori precision (1 for a complete sheet)


@dataclass
class _Fit:
    q: np.ndarray
    a: np.ndarray
    b: np.ndarray
    noise_var: np.ndarray
    d_q: np.ndarray  # posterior covariance of q = diag(1 / d_q) + left^T @ right
    left: np.ndarray
    right: np.ndarray
    robust: np.ndarray  # Huber weight per fitted row

    def latent_variance(self) -> np.ndarray:
        return 1.0 / self.d_q + np.sum(self.left * self.right, axis=0)


def calibrate(scores: Iterable[ScoreRow], scale: tuple[float, float] = SCORE_SCALE) -> Calibration:
    """Fit the leniency/spread model to ``(judge_id, entry_id, score)`` rows.

    ``scale`` bounds the reported scores and intervals (widened to the data when scores fall
    outside it); it does not affect the ranking. Raises ``ValueError`` on a repeated
    (judge, entry) pair or a non-finite score.
    """
    return _calibrate(list(scores), None, scale)


def calibrate_criteria(
    values: Iterable[CriterionRow], criteria: Sequence[Criterion]
) -> Calibration:
    """Calibrate from ``(judge_id, entry_id, criterion_id, value)`` rows of a rubric.

    Unlike ``calibrate`` on complete sheets only, a sheet with empty criteria still counts:
    see ``hackathon.partial_sheets`` for how the gaps are filled and weighted.
    Scores, intervals and plain means are on the rubric's 0..100 scale; entries without any
    value are absent. Raises ``ValueError`` on unknown criteria, repeated values, values that
    are not finite numbers, or a rubric without positive weight.
    """
    sheets = complete_sheets(values, criteria)
    rows = [(sheet.judge_id, sheet.entry_id, sheet.score) for sheet in sheets]
    plain = [sheet.plain for sheet in sheets]
    weights = [sheet.weight for sheet in sheets]
    # Filled-in values may fall a little outside the rubric; the 0..100 bounds stay as they are.
    return _calibrate(rows, np.array(weights, dtype=np.float64), SCORE_SCALE, plain, widen=False)


def _calibrate(
    rows: list[ScoreRow],
    weights: np.ndarray | None,
    scale: tuple[float, float],
    plain: list[float] | None = None,
    *,
    widen: bool = True,
) -> Calibration:
    data = _prepare(rows, weights)
    fit = _fit(data)
    posterior = _Posterior(
        {entry_id: i for i, entry_id in enumerate(data.entry_ids)}, fit.d_q, fit.left, fit.right
    )
    shown = data.raw if plain is None else np.array(plain, dtype=np.float64)
    lowest, highest = scale
    if widen and data.raw.size:
        lowest, highest = min(lowest, float(data.raw.min())), max(highest, float(data.raw.max()))
    entries = _entry_results(data, fit, shown, (lowest, highest))
    return Calibration(entries, _judge_profiles(data, fit), posterior)


def rank_entries(
    calibration: Calibration,
    entry_ids: Collection[str] | None = None,
    z: float = DEFAULT_Z,
) -> list[RankedEntry]:
    """Rank ``entry_ids`` (default: all entries) by latent quality, best first."""
    chosen = calibration.entries if entry_ids is None else set(entry_ids)
    results = [calibration.entries[entry_id] for entry_id in chosen]
    ordered = _order_with_exact_ties(results)
    return _ranked_lines(calibration, ordered, z)


def rank_by_track(
    calibration: Calibration, track_of: Mapping[str, str], z: float = DEFAULT_Z
) -> dict[str, list[RankedEntry]]:
    """One ranking per track; entries without a track are left out."""
    members: dict[str, list[str]] = {}
    for entry_id in calibration.entries:
        if entry_id in track_of:
            members.setdefault(track_of[entry_id], []).append(entry_id)
    return {track: rank_entries(calibration, ids, z) for track, ids in sorted(members.items())}


def is_statistical_tie(
    calibration: Calibration, first: str, second: str, z: float = DEFAULT_Z
) -> bool:
    """Whether ``|latent(first) - latent(second)| < z * difference_se(first, second)``."""
    gap = abs(calibration.entries[first].latent - calibration.entries[second].latent)
    return gap < z * calibration.difference_se(first, second)


def _prepare(rows: list[ScoreRow], weights: np.ndarray | None = None) -> _Data:
    judge_ids = sorted({row[0] for row in rows})
    entry_ids = sorted({row[1] for row in rows})
    if len({(row[0], row[1]) for row in rows}) != len(rows):
        raise ValueError("each (judge, entry) pair may be scored only once")
    judge_pos = {judge_id: i for i, judge_id in enumerate(judge_ids)}
    entry_pos = {entry_id: i for i, entry_id in enumerate(entry_ids)}
    judge_index = np.array([judge_pos[row[0]] for row in rows], dtype=np.int64)
    entry_index = np.array([entry_pos[row[1]] for row in rows], dtype=np.int64)
    raw = np.array([float(row[2]) for row in rows], dtype=np.float64)
    if not np.all(np.isfinite(raw)):
        raise ValueError("scores must be finite numbers")
    mean, sd, informative = _judge_moments(judge_index, raw, len(judge_ids))
    z = np.where(informative[judge_index], (raw - mean[judge_index]) / sd[judge_index], 0.0)
    weight = np.ones(raw.size) if weights is None else weights
    return _Data(
        judge_ids, entry_ids, judge_index, entry_index, raw, z, mean, sd, informative, weight
    )


def _judge_moments(
    judge_index: np.ndarray, raw: np.ndarray, n_judges: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.bincount(judge_index, minlength=n_judges).astype(np.float64)
    mean = np.bincount(judge_index, raw, n_judges) / np.maximum(counts, 1)
    centred = raw - mean[judge_index]
    sd = np.sqrt(np.bincount(judge_index, centred**2, n_judges) / np.maximum(counts, 1))
    lowest = np.full(n_judges, np.inf)
    highest = np.full(n_judges, -np.inf)
    np.minimum.at(lowest, judge_index, raw)
    np.maximum.at(highest, judge_index, raw)
    # Compare raw values, not sd: a shifted constant judge must stay uninformative.
    informative = (highest > lowest) & (sd > 0)
    return mean, np.where(informative, sd, 1.0), informative


def _fit(data: _Data) -> _Fit:
    n_judges, n_entries = len(data.judge_ids), len(data.entry_ids)
    used = data.informative[data.judge_index]
    rows = _Rows(
        data.judge_index[used],
        data.entry_index[used],
        data.z[used],
        data.weight[used],
        n_judges,
        n_entries,
    )
    fit = _Fit(
        q=np.zeros(n_entries),
        a=np.zeros(n_judges),
        b=np.ones(n_judges),
        noise_var=np.ones(n_judges),
        d_q=np.full(n_entries, LAMBDA_Q),
        left=np.zeros((n_judges, n_entries)),
        right=np.zeros((n_judges, n_entries)),
        robust=np.ones(rows.z.size),
    )
    if rows.z.size == 0:
        return fit
    _solve_offsets_and_quality(fit, rows, covariance=ROUNDS == 0)
    for round_ in range(ROUNDS):
        _fit_slopes_and_noise(fit, rows)
        _solve_offsets_and_quality(fit, rows, covariance=round_ == ROUNDS - 1)
    return fit


@dataclass(frozen=True)
class _Rows:
    """The scores used in the fit (informative judges only), as index arrays."""

    judge: np.ndarray
    entry: np.ndarray
    z: np.ndarray
    weight: np.ndarray  # a priori precision of each row (1 for a complete sheet)
    n_judges: int
    n_entries: int


def _solve_offsets_and_quality(fit: _Fit, rows: _Rows, *, covariance: bool = False) -> None:
    """Exact weighted ridge least squares for (a, q) given slopes, noise levels and weights.

    Normal equations ``[[D_a, C], [C^T, D_q]] [a; q] = [r_a; r_q]`` with diagonal ``D_a``,
    ``D_q``; eliminating ``q`` leaves a small dense system on the judges (Schur complement
    ``S = D_a - C D_q^-1 C^T``), which is positive definite thanks to the priors. With
    ``covariance`` (the last stage), the posterior covariance of ``q`` is kept as well.
    """
    weight = rows.weight * fit.robust / fit.noise_var[rows.judge]
    slope_weight = weight * fit.b[rows.judge]
    d_a = np.bincount(rows.judge, weight, rows.n_judges) + LAMBDA_A
    d_q = np.bincount(rows.entry, slope_weight * fit.b[rows.judge], rows.n_entries) + LAMBDA_Q
    coupling = np.zeros((rows.n_judges, rows.n_entries))
    coupling[rows.judge, rows.entry] = slope_weight  # (judge, entry) pairs are unique
    r_a = np.bincount(rows.judge, weight * rows.z, rows.n_judges)
    r_q = np.bincount(rows.entry, slope_weight * rows.z, rows.n_entries)
    scaled = coupling / d_q  # C D_q^-1
    schur = np.diag(d_a) - scaled @ coupling.T
    fit.a = np.linalg.solve(schur, r_a - scaled @ r_q)
    fit.q = (r_q - coupling.T @ fit.a) / d_q
    if covariance:
        # The q-block of the inverse normal matrix: D_q^-1 + (C D_q^-1)^T S^-1 (C D_q^-1).
        fit.d_q, fit.left, fit.right = d_q, scaled, np.linalg.solve(schur, scaled)


def _fit_slopes_and_noise(fit: _Fit, rows: _Rows) -> None:
    """Per judge: robust ridge regression of z on the current q, then the noise level.

    ``b_j`` has the prior ``N(RHO * sigma_j, sigma_j^2 / LAMBDA_B)``: the judges' reliability
    ``b_j / sigma_j`` (signal over noise, which does not depend on the judge's units nor on the
    range of qualities the judge happened to see) is shrunk towards its geometric mean
    ``RHO`` over the judges. When the unconstrained ``b_j`` falls below ``B_MIN`` it is
    clamped and ``a_j`` re-solved. Rows whose residual exceeds ``HUBER`` noise levels get the
    Huber weight ``HUBER / |r / sigma_j|`` (iteratively reweighted least squares).
    """
    sigma = np.sqrt(fit.noise_var)
    reliability = np.exp(np.mean(np.log(np.maximum(fit.b, B_MIN) / sigma)))
    centre = reliability * sigma
    q = fit.q[rows.entry]
    w = rows.weight * fit.robust
    ridge_a = NOISE_PRIOR_VARIANCE * LAMBDA_A
    n = np.bincount(rows.judge, w, rows.n_judges) + ridge_a
    sum_q = np.bincount(rows.judge, w * q, rows.n_judges)
    sum_qq = np.bincount(rows.judge, w * q * q, rows.n_judges) + LAMBDA_B
    sum_z = np.bincount(rows.judge, w * rows.z, rows.n_judges)
    sum_zq = np.bincount(rows.judge, w * rows.z * q, rows.n_judges) + LAMBDA_B * centre
    determinant = n * sum_qq - sum_q**2  # > 0: both ridges are positive
    b = np.maximum((n * sum_zq - sum_q * sum_z) / determinant, B_MIN)
    a = (sum_z - b * sum_q) / n
    residual = rows.z - a[rows.judge] - b[rows.judge] * q
    rss = np.bincount(rows.judge, w * residual**2, rows.n_judges)
    counts = np.bincount(rows.judge, rows.weight, rows.n_judges)
    prior = NOISE_PRIOR_WEIGHT * NOISE_PRIOR_VARIANCE
    fit.b = b
    fit.noise_var = (rss + prior) / (counts + NOISE_PRIOR_WEIGHT)
    standardised = np.abs(residual) / np.sqrt(fit.noise_var[rows.judge])
    fit.robust = np.minimum(1.0, HUBER / np.maximum(standardised, 1e-12))


def _display_scale(data: _Data, fit: _Fit) -> tuple[float, float]:
    """Offset and slope of the average informative judge on the input scale."""
    if not data.informative.any():
        return float(np.mean(data.raw)) if data.raw.size else 0.0, 0.0
    mask = data.informative
    offsets = data.judge_mean[mask] + data.judge_sd[mask] * fit.a[mask]
    slopes = data.judge_sd[mask] * fit.b[mask]
    return float(np.mean(offsets)), float(np.mean(slopes))


def _entry_results(
    data: _Data, fit: _Fit, shown: np.ndarray, bounds: tuple[float, float]
) -> dict[str, EntryResult]:
    n_entries = len(data.entry_ids)
    latent_se = np.sqrt(fit.latent_variance())
    counts = np.bincount(data.entry_index, minlength=n_entries)
    plain = np.bincount(data.entry_index, shown, n_entries) / np.maximum(counts, 1)
    offset, slope = _display_scale(data, fit)
    lowest, highest = bounds
    return {
        entry_id: EntryResult(
            entry_id=entry_id,
            calibrated=min(highest, max(lowest, offset + slope * float(fit.q[i]))),
            standard_error=slope * float(latent_se[i]),
            plain_mean=float(plain[i]),
            n_scores=int(counts[i]),
            latent=float(fit.q[i]),
            latent_se=float(latent_se[i]),
            lowest=lowest,
            highest=highest,
        )
        for i, entry_id in enumerate(data.entry_ids)
    }


def _judge_profiles(data: _Data, fit: _Fit) -> dict[str, JudgeProfile]:
    counts = np.bincount(data.judge_index, minlength=len(data.judge_ids))
    return {
        judge_id: JudgeProfile(
            judge_id=judge_id,
            offset=float(data.judge_mean[i] + data.judge_sd[i] * fit.a[i]),
            scale=float(data.judge_sd[i] * fit.b[i]) if data.informative[i] else 0.0,
            noise=float(data.judge_sd[i] * math.sqrt(fit.noise_var[i])),
            n_scores=int(counts[i]),
            informative=bool(data.informative[i]),
        )
        for i, judge_id in enumerate(data.judge_ids)
    }


def _order_with_exact_ties(results: list[EntryResult]) -> list[list[EntryResult]]:
    """Groups of exact ties, best first; each group sorted by entry id.

    Grouping by gaps (rather than rounding) keeps the order stable under the tiny rounding
    differences that a shifted or rescaled judge produces.
    """
    by_quality = sorted(results, key=lambda result: (-result.latent, result.entry_id))
    groups: list[list[EntryResult]] = []
    for result in by_quality:
        if groups and groups[-1][-1].latent - result.latent <= EXACT_TIE:
            groups[-1].append(result)
        else:
            groups.append([result])
    return [sorted(group, key=lambda result: result.entry_id) for group in groups]


def _ranked_lines(
    calibration: Calibration, groups: list[list[EntryResult]], z: float
) -> list[RankedEntry]:
    flat = [
        (rank, group_index, result)
        for group_index, (rank, group) in enumerate(_positions(groups))
        for result in group
    ]
    lines = []
    for index, (rank, group_index, result) in enumerate(flat):
        tied = False
        if index + 1 < len(flat):
            _next_rank, next_group, following = flat[index + 1]
            tied = next_group == group_index or is_statistical_tie(
                calibration, result.entry_id, following.entry_id, z
            )
        lines.append(RankedEntry(rank, result, tied))
    return lines


def _positions(groups: list[list[EntryResult]]) -> Iterable[tuple[int, list[EntryResult]]]:
    position = 1
    for group in groups:
        yield position, group
        position += len(group)
