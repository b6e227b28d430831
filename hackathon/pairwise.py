"""Pairwise (expo-style) judging with the Crowd-BT model.

Model (Chen, Bennett, Collins-Thompson and Horvitz, "Pairwise ranking aggregation in a
crowdsourced setting", WSDM 2013; the variant used by Gavel): entry ``i`` has a Gaussian
belief ``N(mu_i, sigma_sq_i)`` over its Bradley-Terry strength; judge ``k`` has a
``Beta(alpha_k, beta_k)`` belief over its reliability ``eta_k``, the probability that it
reports the Bradley-Terry outcome rather than the opposite one::

    P(judge k prefers i over j) = eta_k * e^mu_i / (e^mu_i + e^mu_j)
                                  + (1 - eta_k) * e^mu_j / (e^mu_i + e^mu_j)

Each comparison updates the two entries and the judge by moment matching (the paper's
online approximate Bayesian update). The next pair for a judge maximises the expected
information gain: the expected KL divergence between the updated and the current beliefs,
``GAMMA`` weighting the judge's reliability part.

Guarantees: the state is a deterministic function of the entry ids and the comparison log
(``rebuild``); ``undo_last`` removes a judge's last comparison from the log and rebuilds,
so the state after an undo is bit-for-bit the state built from the remaining log.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.special import betaln, expit, psi

GAMMA = 0.1  # weight of the judge-reliability information in the expected gain
KAPPA = 1e-4  # keeps variances positive
MU_PRIOR = 0.0
SIGMA_SQ_PRIOR = 1.0
ALPHA_PRIOR = 10.0
BETA_PRIOR = 1.0
DEFAULT_Z = 1.96
PAIR_SHORTLIST = 128  # a judge's first pair is searched among this many least-known entries
EXPLORATION = 0.25  # Gavel's epsilon: the share of requests answered with a random pair

Real = float | np.ndarray  # the update formulas work on scalars and on arrays alike


@dataclass(frozen=True, slots=True)
class Comparison:
    """``judge_id`` preferred ``winner_id`` over ``loser_id``."""

    judge_id: str
    winner_id: str
    loser_id: str


@dataclass(slots=True)
class JudgeBelief:
    """Beta belief over the judge's reliability (probability of an honest answer)."""

    alpha: float = ALPHA_PRIOR
    beta: float = BETA_PRIOR

    @property
    def reliability(self) -> float:
        return self.alpha / (self.alpha + self.beta)


@dataclass
class PairwiseState:
    """Beliefs over every entry and judge, plus the log they were built from."""

    entry_ids: tuple[str, ...]
    mu: np.ndarray
    sigma_sq: np.ndarray
    judges: dict[str, JudgeBelief] = field(default_factory=dict)
    log: list[Comparison] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def belief(self, entry_id: str) -> tuple[float, float]:
        """``(mu, sigma_sq)`` of an entry."""
        position = self.index[entry_id]
        return float(self.mu[position]), float(self.sigma_sq[position])


@dataclass(frozen=True, slots=True)
class PairwiseRanked:
    """One line of a pairwise ranking; ``rank`` is the position (1-based)."""

    rank: int
    entry_id: str
    mu: float
    sigma_sq: float
    tied_with_next: bool  # |mu - mu_next| < z * sqrt(sigma_sq + sigma_sq_next)


def new_state(entry_ids: Iterable[str]) -> PairwiseState:
    """Prior beliefs for the given entries and no comparison."""
    ids = tuple(entry_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("entry ids must be unique")
    return PairwiseState(
        entry_ids=ids,
        mu=np.full(len(ids), MU_PRIOR),
        sigma_sq=np.full(len(ids), SIGMA_SQ_PRIOR),
        index={entry_id: i for i, entry_id in enumerate(ids)},
    )


def apply_comparison(state: PairwiseState, comparison: Comparison) -> None:
    """Update the beliefs with one comparison and append it to the log."""
    winner, loser = _positions_of(state, comparison)
    judge = state.judges.setdefault(comparison.judge_id, JudgeBelief())
    mu_w, mu_l = float(state.mu[winner]), float(state.mu[loser])
    var_w, var_l = float(state.sigma_sq[winner]), float(state.sigma_sq[loser])
    alpha, beta, _ = _updated_judge(judge.alpha, judge.beta, mu_w, var_w, mu_l, var_l)
    new_mu_w, new_mu_l = _updated_mus(judge.alpha, judge.beta, mu_w, var_w, mu_l, var_l)
    new_var_w, new_var_l = _updated_variances(judge.alpha, judge.beta, mu_w, var_w, mu_l, var_l)
    state.mu[winner], state.mu[loser] = new_mu_w, new_mu_l
    state.sigma_sq[winner], state.sigma_sq[loser] = new_var_w, new_var_l
    judge.alpha, judge.beta = float(alpha), float(beta)
    state.log.append(comparison)


def rebuild(entry_ids: Iterable[str], log: Iterable[Comparison]) -> PairwiseState:
    """The state obtained by applying ``log`` in order to the prior."""
    state = new_state(entry_ids)
    for comparison in log:
        apply_comparison(state, comparison)
    return state


def undo_last(state: PairwiseState, judge_id: str) -> Comparison | None:
    """Remove ``judge_id``'s most recent comparison and rebuild the state from the log.

    Returns the removed comparison, or ``None`` (state unchanged) if the judge has none.
    """
    for position in range(len(state.log) - 1, -1, -1):
        if state.log[position].judge_id == judge_id:
            removed = state.log[position]
            remaining = state.log[:position] + state.log[position + 1 :]
            fresh = rebuild(state.entry_ids, remaining)
            state.mu, state.sigma_sq = fresh.mu, fresh.sigma_sq
            state.judges, state.log = fresh.judges, fresh.log
            return removed
    return None


def judge_reliability(state: PairwiseState, judge_id: str) -> float:
    """Posterior mean probability that the judge answers in line with the model."""
    return state.judges.get(judge_id, JudgeBelief()).reliability


def rank_entries(
    state: PairwiseState, entry_ids: Collection[str] | None = None, z: float = DEFAULT_Z
) -> list[PairwiseRanked]:
    """Entries by decreasing ``mu`` (ties broken by entry id), with statistical-tie flags."""
    chosen = state.entry_ids if entry_ids is None else tuple(entry_ids)
    beliefs = sorted(
        ((entry_id, *state.belief(entry_id)) for entry_id in chosen),
        key=lambda item: (-item[1], item[0]),
    )
    lines = []
    for position, (entry_id, mu, sigma_sq) in enumerate(beliefs):
        tied = False
        if position + 1 < len(beliefs):
            _, next_mu, next_sigma_sq = beliefs[position + 1]
            tied = abs(mu - next_mu) < z * math.sqrt(sigma_sq + next_sigma_sq)
        lines.append(PairwiseRanked(position + 1, entry_id, mu, sigma_sq, tied))
    return lines


def rank_by_track(
    state: PairwiseState, track_of: Mapping[str, str], z: float = DEFAULT_Z
) -> dict[str, list[PairwiseRanked]]:
    """One ranking per track; entries without a track are left out."""
    members: dict[str, list[str]] = {}
    for entry_id in state.entry_ids:
        if entry_id in track_of:
            members.setdefault(track_of[entry_id], []).append(entry_id)
    return {track: rank_entries(state, ids, z) for track, ids in sorted(members.items())}


def choose_next(
    state: PairwiseState,
    judge_id: str,
    *,
    current: str | None = None,
    excluded: Collection[str] = (),
    candidates: Collection[str] | None = None,
    seen_pairs: Iterable[tuple[str, str]] = (),
    busy_pairs: Iterable[tuple[str, str]] = (),
    busy_entries: Collection[str] = (),
    rng: random.Random | None = None,
    exploration: float = EXPLORATION,
) -> tuple[str, str] | None:
    """The next pair for ``judge_id``, or ``None`` if there is none.

    With ``current`` (the entry the judge has just seen), returns ``(current, best)`` where
    ``best`` maximises the expected information gain against ``current`` over all eligible
    entries. Without ``current`` (a judge's first pair), returns the pair with the largest
    gain among the ``PAIR_SHORTLIST`` eligible entries with the largest variance (all pairs
    when there are fewer, or when every shortlisted pair is ruled out), since an exhaustive
    search over 500 entries costs ~60 ms. Entries in ``excluded`` (conflicted) and, when
    given, entries outside ``candidates`` are never proposed. Ties go to the earlier entry in
    ``state.entry_ids``.

    A crowd of judges: pairs in ``seen_pairs`` (this judge compared them already) and in
    ``busy_pairs`` (handed to another judge who has not answered yet) are never proposed;
    entries in ``busy_entries`` (in another judge's hands) are avoided while at least one
    other pair remains. With ``rng``, a share ``exploration`` of the requests gets a random
    allowed pair instead of the most informative one (Gavel's epsilon-greedy choice), so
    judges asking at the same moment spread over the entries; without ``rng`` the choice is
    deterministic.
    """
    judge = state.judges.get(judge_id, JudgeBelief())
    pool = _eligible_positions(state, excluded, candidates, current)
    forbidden = _pair_codes(state, [*seen_pairs, *busy_pairs])
    busy = np.zeros(len(state.entry_ids), dtype=bool)
    busy[[state.index[e] for e in busy_entries if e in state.index]] = True
    idle = pool[~busy[pool]]
    explore = rng is not None and rng.random() < exploration
    for chosen_pool in (idle, pool) if idle.size < pool.size else (pool,):
        if current is not None:
            found = _partner(
                state, judge, state.index[current], chosen_pool, forbidden, rng, explore
            )
        else:
            found = _pair(state, judge, chosen_pool, forbidden, rng, explore)
        if found is not None:
            return found
    return None


def expected_information_gain(
    alpha: float,
    beta: float,
    mu_a: Real,
    sigma_sq_a: Real,
    mu_b: Real,
    sigma_sq_b: Real,
) -> Real:
    """Expected KL gain of asking a judge with Beta(alpha, beta) to compare a and b."""
    alpha_1, beta_1, prob_a_wins = _updated_judge(alpha, beta, mu_a, sigma_sq_a, mu_b, sigma_sq_b)
    mu_a_1, mu_b_1 = _updated_mus(alpha, beta, mu_a, sigma_sq_a, mu_b, sigma_sq_b)
    var_a_1, var_b_1 = _updated_variances(alpha, beta, mu_a, sigma_sq_a, mu_b, sigma_sq_b)
    alpha_2, beta_2, _ = _updated_judge(alpha, beta, mu_b, sigma_sq_b, mu_a, sigma_sq_a)
    mu_b_2, mu_a_2 = _updated_mus(alpha, beta, mu_b, sigma_sq_b, mu_a, sigma_sq_a)
    var_b_2, var_a_2 = _updated_variances(alpha, beta, mu_b, sigma_sq_b, mu_a, sigma_sq_a)
    gain_if_a_wins = (
        _kl_gaussian(mu_a_1, var_a_1, mu_a, sigma_sq_a)
        + _kl_gaussian(mu_b_1, var_b_1, mu_b, sigma_sq_b)
        + GAMMA * _kl_beta(alpha_1, beta_1, alpha, beta)
    )
    gain_if_b_wins = (
        _kl_gaussian(mu_a_2, var_a_2, mu_a, sigma_sq_a)
        + _kl_gaussian(mu_b_2, var_b_2, mu_b, sigma_sq_b)
        + GAMMA * _kl_beta(alpha_2, beta_2, alpha, beta)
    )
    return prob_a_wins * gain_if_a_wins + (1 - prob_a_wins) * gain_if_b_wins


def _positions_of(state: PairwiseState, comparison: Comparison) -> tuple[int, int]:
    if comparison.winner_id == comparison.loser_id:
        raise ValueError("an entry cannot be compared with itself")
    try:
        return state.index[comparison.winner_id], state.index[comparison.loser_id]
    except KeyError as error:
        raise ValueError(f"unknown entry {error.args[0]!r}") from None


def _eligible_positions(
    state: PairwiseState,
    excluded: Collection[str],
    candidates: Collection[str] | None,
    current: str | None,
) -> np.ndarray:
    allowed = np.ones(len(state.entry_ids), dtype=bool)
    if candidates is not None:
        allowed[:] = False
        allowed[[state.index[e] for e in candidates if e in state.index]] = True
    blocked = [state.index[e] for e in excluded if e in state.index]
    if current is not None:
        blocked.append(state.index[current])
    allowed[blocked] = False
    return np.flatnonzero(allowed)


def _pair_codes(state: PairwiseState, pairs: Iterable[tuple[str, str]]) -> np.ndarray:
    """Unordered pairs of known entries as sorted integer codes ``low * n + high``."""
    n = len(state.entry_ids)
    codes = []
    for a, b in pairs:
        i, j = state.index.get(a), state.index.get(b)
        if i is not None and j is not None and i != j:
            codes.append(min(i, j) * n + max(i, j))
    return np.unique(np.asarray(codes, dtype=np.int64))


def _allowed(state: PairwiseState, left: np.ndarray, right: np.ndarray, forbidden: np.ndarray):
    if forbidden.size == 0:
        return np.ones(left.shape, dtype=bool)
    n = len(state.entry_ids)
    codes = np.minimum(left, right).astype(np.int64) * n + np.maximum(left, right)
    return ~np.isin(codes, forbidden, assume_unique=False)


def _partner(
    state: PairwiseState,
    judge: JudgeBelief,
    current: int,
    pool: np.ndarray,
    forbidden: np.ndarray,
    rng: random.Random | None,
    explore: bool,
) -> tuple[str, str] | None:
    if pool.size == 0:
        return None
    allowed = pool[_allowed(state, np.full(pool.shape, current), pool, forbidden)]
    if allowed.size == 0:
        return None
    if explore and rng is not None:
        best = int(allowed[rng.randrange(allowed.size)])
        return state.entry_ids[current], state.entry_ids[best]
    return _best_partner(state, judge, current, allowed)


def _pair(
    state: PairwiseState,
    judge: JudgeBelief,
    pool: np.ndarray,
    forbidden: np.ndarray,
    rng: random.Random | None,
    explore: bool,
) -> tuple[str, str] | None:
    if pool.size < 2:
        return None
    if explore and rng is not None:
        for _attempt in range(64):  # a random allowed pair; almost always the first try
            i, j = rng.sample(range(pool.size), 2)
            left, right = np.array([pool[i]]), np.array([pool[j]])
            if _allowed(state, left, right, forbidden)[0]:
                return state.entry_ids[int(pool[min(i, j)])], state.entry_ids[int(pool[max(i, j)])]
    found = _best_pair(state, judge, pool, forbidden)
    if found is None and pool.size > PAIR_SHORTLIST:
        found = _best_pair(state, judge, pool, forbidden, shortlist=False)
    return found


def _best_partner(
    state: PairwiseState, judge: JudgeBelief, current: int, pool: np.ndarray
) -> tuple[str, str] | None:
    if pool.size == 0:
        return None
    gains = expected_information_gain(
        judge.alpha,
        judge.beta,
        state.mu[current],
        state.sigma_sq[current],
        state.mu[pool],
        state.sigma_sq[pool],
    )
    best = int(pool[int(np.argmax(gains))])
    return state.entry_ids[current], state.entry_ids[best]


def _best_pair(
    state: PairwiseState,
    judge: JudgeBelief,
    pool: np.ndarray,
    forbidden: np.ndarray | None = None,
    *,
    shortlist: bool = True,
) -> tuple[str, str] | None:
    if pool.size < 2:
        return None
    if shortlist and pool.size > PAIR_SHORTLIST:
        least_known = np.argsort(-state.sigma_sq[pool], kind="stable")[:PAIR_SHORTLIST]
        pool = np.sort(pool[least_known])
    first, second = np.triu_indices(pool.size, k=1)
    left, right = pool[first], pool[second]
    if forbidden is not None and forbidden.size:
        keep = _allowed(state, left, right, forbidden)
        if not keep.any():
            return None
        left, right = left[keep], right[keep]
    gains = expected_information_gain(
        judge.alpha,
        judge.beta,
        state.mu[left],
        state.sigma_sq[left],
        state.mu[right],
        state.sigma_sq[right],
    )
    best = int(np.argmax(gains))
    return state.entry_ids[int(left[best])], state.entry_ids[int(right[best])]


def judge_agreement(state: PairwiseState) -> dict[str, JudgeAgreement]:
    """How often each judge's answers agree with the ranking of the whole crowd.

    Crowd-BT's own reliability belief starts at Beta(10, 1) and moves slowly, so a judge who
    answers at random still shows ~.9 after many comparisons. This estimate counts, for each
    judge, the comparisons whose winner the current model ranks higher, each comparison
    weighted by how sure the model is of that order (a coin-flip pair says nothing about the
    judge), and reports the Beta(1, 1) posterior mean: near .5 for random answers (a little
    above: the judge's own answers pulled the model; a leave-one-judge-out refit removed that
    bias in the bench but separated no better, at 35 times the cost), near 1 for a careful
    judge. `bench/pairwise_crowd.py` reports both groups.
    """
    tallies: dict[str, list[float]] = {}
    for comparison in state.log:
        winner, loser = state.index[comparison.winner_id], state.index[comparison.loser_id]
        difference = float(state.mu[winner] - state.mu[loser])
        spread = math.sqrt(float(state.sigma_sq[winner] + state.sigma_sq[loser]))
        weight = abs(math.erf(difference / (spread * math.sqrt(2)))) if spread > 0 else 1.0
        tally = tallies.setdefault(comparison.judge_id, [0.0, 0.0, 0])
        tally[0] += weight if difference > 0 else 0.0
        tally[1] += weight
        tally[2] += 1
    return {
        judge_id: JudgeAgreement(int(count), agree, weight, (agree + 1) / (weight + 2))
        for judge_id, (agree, weight, count) in tallies.items()
    }


@dataclass(frozen=True, slots=True)
class JudgeAgreement:
    comparisons: int
    agreeing_weight: float
    total_weight: float
    reliability: float  # posterior mean probability of answering with the crowd's order


# The three updates below are the paper's moment-matching formulas, written with
# p = sigmoid(mu_winner - mu_loser) instead of raw exponentials so they cannot overflow.


def _updated_mus(
    alpha: float,
    beta: float,
    mu_winner: Real,
    sigma_sq_winner: Real,
    mu_loser: Real,
    sigma_sq_loser: Real,
) -> tuple[Real, Real]:
    difference = mu_winner - mu_loser
    step = expit(difference + math.log(alpha / beta)) - expit(difference)
    return mu_winner + sigma_sq_winner * step, mu_loser - sigma_sq_loser * step


def _updated_variances(
    alpha: float,
    beta: float,
    mu_winner: Real,
    sigma_sq_winner: Real,
    mu_loser: Real,
    sigma_sq_loser: Real,
) -> tuple[Real, Real]:
    difference = mu_winner - mu_loser
    p_judge = expit(difference + math.log(alpha / beta))
    p_model = expit(difference)
    step = p_judge * (1 - p_judge) - p_model * (1 - p_model)
    return (
        sigma_sq_winner * np.maximum(1 + sigma_sq_winner * step, KAPPA),
        sigma_sq_loser * np.maximum(1 + sigma_sq_loser * step, KAPPA),
    )


def _updated_judge(
    alpha: Real,
    beta: Real,
    mu_winner: Real,
    sigma_sq_winner: Real,
    mu_loser: Real,
    sigma_sq_loser: Real,
) -> tuple[Real, Real, Real]:
    """Returns (alpha', beta', probability that the judge reports winner over loser)."""
    p = expit(mu_winner - mu_loser)
    c_1 = p + 0.5 * (sigma_sq_winner + sigma_sq_loser) * p * (1 - p) * (1 - 2 * p)
    c_2 = 1 - c_1
    total = alpha + beta
    c = (c_1 * alpha + c_2 * beta) / total
    mean = (c_1 * (alpha + 1) * alpha + c_2 * alpha * beta) / (c * (total + 1) * total)
    second_moment = (c_1 * (alpha + 2) * (alpha + 1) * alpha + c_2 * (alpha + 1) * alpha * beta) / (
        c * (total + 2) * (total + 1) * total
    )
    variance = second_moment - mean**2
    shared = (mean - second_moment) / variance
    return shared * mean, shared * (1 - mean), c


def _kl_gaussian(mu_1: Real, sigma_sq_1: Real, mu_2: Real, sigma_sq_2: Real) -> Real:
    ratio = sigma_sq_1 / sigma_sq_2
    return (mu_1 - mu_2) ** 2 / (2 * sigma_sq_2) + (ratio - 1 - np.log(ratio)) / 2


def _kl_beta(alpha_1: Real, beta_1: Real, alpha_2: Real, beta_2: Real) -> Real:
    return (
        betaln(alpha_2, beta_2)
        - betaln(alpha_1, beta_1)
        + (alpha_1 - alpha_2) * psi(alpha_1)
        + (beta_1 - beta_2) * psi(beta_1)
        + (alpha_2 - alpha_1 + beta_2 - beta_1) * psi(alpha_1 + beta_1)
    )
