"""The pairwise model cache (issue 16): a request without new comparisons does not refit, a
log that grew is brought up to date, a withdrawal refits – always equal to a full rebuild."""

from __future__ import annotations

import random

import numpy as np

from hackathon import pairwise
from hackathon.services import results
from hackathon.services.results import effective_comparisons, fitted_pairwise

ENTRIES = [str(i) for i in range(1, 31)]


def _log(n: int, seed: int, first_id: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.sample(range(1, 31), 2)
        rows.append(
            {"id": first_id + i, "judge_id": rng.randint(1, 5), "winner_id": a, "loser_id": b}
            | {"withdraws": None}
        )
    return rows


def _same(state: pairwise.PairwiseState, log: list[dict]) -> None:
    expected = pairwise.rebuild(ENTRIES, effective_comparisons(log))
    np.testing.assert_allclose(state.mu, expected.mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state.sigma_sq, expected.sigma_sq, rtol=1e-12, atol=1e-12)
    assert state.log == expected.log
    assert {k: (v.alpha, v.beta) for k, v in state.judges.items()} == {
        k: (v.alpha, v.beta) for k, v in expected.judges.items()
    }


def test_no_new_comparison_reuses_the_fit(monkeypatch):
    results._FITS.clear()
    log = _log(200, seed=1)
    first = fitted_pairwise(7, ENTRIES, log)
    calls = []
    monkeypatch.setattr(pairwise, "rebuild", lambda *a: calls.append(a))
    monkeypatch.setattr(pairwise, "apply_comparison", lambda *a: calls.append(a))
    assert fitted_pairwise(7, ENTRIES, [dict(row) for row in log]) is first
    assert calls == []


def test_new_comparisons_extend_a_copy_and_match_a_rebuild():
    results._FITS.clear()
    log = _log(150, seed=2)
    before = fitted_pairwise(7, ENTRIES, log)
    mu_before = before.mu.copy()
    grown = log + _log(40, seed=3, first_id=151)
    after = fitted_pairwise(7, ENTRIES, grown)
    assert after is not before
    np.testing.assert_array_equal(before.mu, mu_before)  # the shared state was not changed
    _same(after, grown)


def test_a_withdrawal_or_another_log_refits():
    results._FITS.clear()
    log = _log(120, seed=4)
    fitted_pairwise(7, ENTRIES, log)
    undone = log + [
        {"id": 121, "judge_id": 1, "winner_id": 1, "loser_id": 2, "withdraws": log[50]["id"]}
    ]
    _same(fitted_pairwise(7, ENTRIES, undone), undone)
    # the same ids with other content (another database): never the cached fit
    other = _log(121, seed=5)
    _same(fitted_pairwise(7, ENTRIES, other), other)
    # other entries: another key
    _same(fitted_pairwise(7, ENTRIES, []), [])


def test_the_cache_is_bounded():
    results._FITS.clear()
    for round_id in range(results._FITS_KEPT + 10):
        fitted_pairwise(round_id, ENTRIES, _log(3, seed=round_id))
    assert len(results._FITS) == results._FITS_KEPT
