"""Tests for Crowd-BT pairwise judging: updates, undo, rankings and next-pair choice."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betaln, psi

from hackathon.pairwise import (
    GAMMA,
    KAPPA,
    PAIR_SHORTLIST,
    Comparison,
    JudgeBelief,
    PairwiseState,
    apply_comparison,
    choose_next,
    expected_information_gain,
    judge_reliability,
    new_state,
    rank_by_track,
    rank_entries,
    rebuild,
    undo_last,
)

# Reference: the moment-matching update of Chen et al. (2013), written with plain
# exponentials exactly as in the paper, to check the numerically stable implementation.


def reference_update(
    alpha: float, beta: float, mu_w: float, var_w: float, mu_l: float, var_l: float
) -> tuple[float, float, float, float, float, float, float]:
    ew, el = math.exp(mu_w), math.exp(mu_l)
    c1 = ew / (ew + el) + 0.5 * (var_w + var_l) * (ew * el * (el - ew)) / (ew + el) ** 3
    c2 = 1 - c1
    c = (c1 * alpha + c2 * beta) / (alpha + beta)
    s = alpha + beta
    e1 = (c1 * (alpha + 1) * alpha + c2 * alpha * beta) / (c * (s + 1) * s)
    e2 = (c1 * (alpha + 2) * (alpha + 1) * alpha + c2 * (alpha + 1) * alpha * beta) / (
        c * (s + 2) * (s + 1) * s
    )
    new_alpha = (e1 - e2) * e1 / (e2 - e1**2)
    new_beta = (e1 - e2) * (1 - e1) / (e2 - e1**2)
    step = alpha * ew / (alpha * ew + beta * el) - ew / (ew + el)
    var_step = (alpha * ew * beta * el) / (alpha * ew + beta * el) ** 2 - (ew * el) / (ew + el) ** 2
    return (
        new_alpha,
        new_beta,
        mu_w + var_w * step,
        var_w * max(1 + var_w * var_step, KAPPA),
        mu_l - var_l * step,
        var_l * max(1 + var_l * var_step, KAPPA),
        c,
    )


def reference_gain(
    alpha: float, beta: float, mu_a: float, var_a: float, mu_b: float, var_b: float
) -> float:
    def kl_gauss(m1: float, v1: float, m2: float, v2: float) -> float:
        return (m1 - m2) ** 2 / (2 * v2) + (v1 / v2 - 1 - math.log(v1 / v2)) / 2

    def kl_beta(a1: float, b1: float, a2: float, b2: float) -> float:
        return float(
            betaln(a2, b2)
            - betaln(a1, b1)
            + (a1 - a2) * psi(a1)
            + (b1 - b2) * psi(b1)
            + (a2 - a1 + b2 - b1) * psi(a1 + b1)
        )

    al1, be1, ma1, va1, mb1, vb1, prob = reference_update(alpha, beta, mu_a, var_a, mu_b, var_b)
    al2, be2, mb2, vb2, ma2, va2, _ = reference_update(alpha, beta, mu_b, var_b, mu_a, var_a)
    win = (
        kl_gauss(ma1, va1, mu_a, var_a)
        + kl_gauss(mb1, vb1, mu_b, var_b)
        + GAMMA * kl_beta(al1, be1, alpha, beta)
    )
    lose = (
        kl_gauss(ma2, va2, mu_a, var_a)
        + kl_gauss(mb2, vb2, mu_b, var_b)
        + GAMMA * kl_beta(al2, be2, alpha, beta)
    )
    return prob * win + (1 - prob) * lose


beliefs = st.tuples(
    st.floats(0.5, 30),  # alpha
    st.floats(0.5, 30),  # beta
    st.floats(-4, 4),
    st.floats(0.01, 1.5),
    st.floats(-4, 4),
    st.floats(0.01, 1.5),
)


@settings(max_examples=200, deadline=None)
@given(beliefs)
def test_update_matches_the_paper_formulas(values: tuple[float, ...]) -> None:
    alpha, beta, mu_w, var_w, mu_l, var_l = values
    state = new_state(["w", "l"])
    state.mu[:] = [mu_w, mu_l]
    state.sigma_sq[:] = [var_w, var_l]
    state.judges["j"] = JudgeBelief(alpha, beta)
    apply_comparison(state, Comparison("j", "w", "l"))
    expected = reference_update(alpha, beta, mu_w, var_w, mu_l, var_l)
    got = (
        state.judges["j"].alpha,
        state.judges["j"].beta,
        state.mu[0],
        state.sigma_sq[0],
        state.mu[1],
        state.sigma_sq[1],
    )
    assert got == pytest.approx(expected[:6], rel=1e-8, abs=1e-10)


@settings(max_examples=200, deadline=None)
@given(beliefs)
def test_information_gain_matches_the_paper_formulas(values: tuple[float, ...]) -> None:
    gain = float(expected_information_gain(*values))
    assert gain == pytest.approx(reference_gain(*values), rel=1e-7, abs=1e-12)


def assert_same_state(first: PairwiseState, second: PairwiseState) -> None:
    assert first.entry_ids == second.entry_ids
    assert np.array_equal(first.mu, second.mu)
    assert np.array_equal(first.sigma_sq, second.sigma_sq)
    assert first.judges == second.judges
    assert first.log == second.log


ENTRIES = [f"e{i}" for i in range(6)]
JUDGES = ["ann", "bob", "cyd"]

comparisons = st.lists(
    st.builds(
        lambda judge, pair, flip: Comparison(judge, *(pair[::-1] if flip else pair)),
        st.sampled_from(JUDGES),
        st.sampled_from(list(itertools.combinations(ENTRIES, 2))),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(comparisons, st.sampled_from(JUDGES))
def test_undo_equals_rebuild_from_the_log(log: list[Comparison], judge: str) -> None:
    state = new_state(ENTRIES)
    for comparison in log:
        apply_comparison(state, comparison)
    assert_same_state(state, rebuild(ENTRIES, log))
    positions = [i for i, c in enumerate(log) if c.judge_id == judge]
    removed = undo_last(state, judge)
    if not positions:
        assert removed is None
        assert_same_state(state, rebuild(ENTRIES, log))
        return
    assert removed == log[positions[-1]]
    remaining = log[: positions[-1]] + log[positions[-1] + 1 :]
    assert_same_state(state, rebuild(ENTRIES, remaining))


def test_undo_then_redo_restores_the_state() -> None:
    log = [Comparison("ann", "e0", "e1"), Comparison("bob", "e2", "e0")]
    state = rebuild(ENTRIES, log)
    removed = undo_last(state, "ann")
    assert removed is not None
    apply_comparison(state, removed)
    assert_same_state(state, rebuild(ENTRIES, [log[1], log[0]]))


def test_winner_rises_loser_falls_and_uncertainty_shrinks() -> None:
    state = new_state(["a", "b"])
    apply_comparison(state, Comparison("j", "a", "b"))
    (mu_a, var_a), (mu_b, var_b) = state.belief("a"), state.belief("b")
    assert mu_a > 0 > mu_b
    assert var_a < 1 and var_b < 1


def test_invalid_comparisons_are_rejected() -> None:
    state = new_state(["a", "b"])
    with pytest.raises(ValueError, match="itself"):
        apply_comparison(state, Comparison("j", "a", "a"))
    with pytest.raises(ValueError, match="unknown"):
        apply_comparison(state, Comparison("j", "a", "zzz"))
    with pytest.raises(ValueError, match="unique"):
        new_state(["a", "a"])


def simulated_state(
    seed: int, n_entries: int = 30, n_votes: int = 900
) -> tuple[PairwiseState, dict[str, float]]:
    rng = random.Random(seed)
    ids = [f"e{i:02d}" for i in range(n_entries)]
    quality = {e: rng.gauss(0, 1.5) for e in ids}
    state = new_state(ids)
    for _ in range(n_votes):
        judge = rng.choice(["good1", "good2", "noisy"])
        a, b = rng.sample(ids, 2)
        p_a = 1 / (1 + math.exp(quality[b] - quality[a]))
        a_wins = rng.random() < p_a
        if judge == "noisy":
            a_wins = rng.random() < 0.5
        winner, loser = (a, b) if a_wins else (b, a)
        apply_comparison(state, Comparison(judge, winner, loser))
    return state, quality


def test_ranking_recovers_the_true_order_and_judge_reliability() -> None:
    state, quality = simulated_state(7)
    ranking = rank_entries(state)
    truth = [quality[line.entry_id] for line in ranking]
    concordant = sum(
        np.sign(truth[i] - truth[j]) for i in range(len(truth)) for j in range(i + 1, len(truth))
    )
    tau = concordant / (len(truth) * (len(truth) - 1) / 2)
    assert tau > 0.6
    assert judge_reliability(state, "noisy") < judge_reliability(state, "good1")
    assert ranking[-1].tied_with_next is False
    mus = [line.mu for line in ranking]
    assert mus == sorted(mus, reverse=True)


def test_rank_by_track() -> None:
    state, quality = simulated_state(3, n_entries=10, n_votes=100)
    track_of = {e: "even" if int(e[1:]) % 2 == 0 else "odd" for e in quality}
    tracks = rank_by_track(state, track_of)
    assert set(tracks) == {"even", "odd"}
    overall = [line.entry_id for line in rank_entries(state)]
    assert [line.entry_id for line in tracks["odd"]] == [e for e in overall if track_of[e] == "odd"]
    assert [line.rank for line in tracks["odd"]] == [1, 2, 3, 4, 5]


def test_fresh_entries_are_tied() -> None:
    ranking = rank_entries(new_state(["b", "a"]))
    assert [line.entry_id for line in ranking] == ["a", "b"]
    assert ranking[0].tied_with_next


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sets(st.integers(0, 19), max_size=15), st.booleans())
def test_next_partner_is_the_best_eligible_one(
    seed: int, excluded_ix: set[int], track: bool
) -> None:
    state, _ = simulated_state(seed, n_entries=20, n_votes=60)
    excluded = {f"e{i:02d}" for i in excluded_ix}
    candidates = {f"e{i:02d}" for i in range(0, 20, 2)} if track else None
    current = "e03"
    pair = choose_next(state, "good1", current=current, excluded=excluded, candidates=candidates)
    allowed = [
        e
        for e in state.entry_ids
        if e not in excluded and e != current and (candidates is None or e in candidates)
    ]
    if not allowed:
        assert pair is None
        return
    assert pair is not None and pair[0] == current and pair[1] in allowed
    judge = state.judges["good1"]
    gains = {
        e: float(
            expected_information_gain(
                judge.alpha, judge.beta, *state.belief(current), *state.belief(e)
            )
        )
        for e in allowed
    }
    assert gains[pair[1]] == pytest.approx(max(gains.values()), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sets(st.integers(0, 19), max_size=19))
def test_first_pair_is_the_best_eligible_pair(seed: int, excluded_ix: set[int]) -> None:
    state, _ = simulated_state(seed, n_entries=20, n_votes=60)
    excluded = {f"e{i:02d}" for i in excluded_ix}
    pair = choose_next(state, "new judge", excluded=excluded)
    allowed = [e for e in state.entry_ids if e not in excluded]
    if len(allowed) < 2:
        assert pair is None
        return
    assert pair is not None and set(pair) <= set(allowed) and pair[0] != pair[1]
    gains = {
        (a, b): float(expected_information_gain(10.0, 1.0, *state.belief(a), *state.belief(b)))
        for a, b in itertools.combinations(allowed, 2)
    }
    assert gains[pair] == pytest.approx(max(gains.values()), rel=1e-12)


def test_first_pair_uses_the_least_known_entries_when_there_are_many() -> None:
    ids = [f"e{i:03d}" for i in range(PAIR_SHORTLIST + 50)]
    state = new_state(ids)
    rng = random.Random(1)
    for _ in range(400):
        a, b = rng.sample(ids[:150], 2)
        apply_comparison(state, Comparison("j", a, b))
    pair = choose_next(state, "j2")
    assert pair is not None
    shortlist_floor = sorted(state.sigma_sq, reverse=True)[PAIR_SHORTLIST - 1]
    assert all(state.belief(e)[1] >= shortlist_floor for e in pair)
