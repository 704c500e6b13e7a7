"""Corrected resampled t interval: the Nadeau & Bengio formula by hand, always inside [0, 1] when bounded."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from lai.validation.metrics import weighted_auc
from lai.validation.uncertainty import corrected_resampled_t_interval

T_4_975 = 2.776445105197799
"""Student's t, 97.5% quantile, 4 degrees of freedom (statistical tables)."""


def test_raw_interval_matches_the_formula_by_hand():
    scores = [0.80, 0.85, 0.75, 0.90, 0.70]
    # mean 0.8; sample variance (0 + 0.0025 + 0.0025 + 0.01 + 0.01) / 4 = 0.00625
    # corrected variance of the mean (1/5 + 20/80) * 0.00625 = 0.0028125
    half = T_4_975 * math.sqrt(0.0028125)
    found = corrected_resampled_t_interval(scores, n_train=80, n_test=20, bounded=False)
    assert found.value == pytest.approx(0.8, abs=1e-12)
    assert found.ci_low == pytest.approx(0.8 - half, abs=1e-9)
    assert found.ci_high == pytest.approx(0.8 + half, abs=1e-9)
    assert found.ci_low == pytest.approx(0.6527568, abs=1e-7)
    assert "Nadeau & Bengio" in found.method


def test_bounded_interval_is_the_logit_interval_back_transformed():
    scores = [0.80, 0.85, 0.75, 0.90, 0.70]
    half_logit = T_4_975 * math.sqrt(0.0028125) / (0.8 * 0.2)
    centre = math.log(0.8 / 0.2)
    found = corrected_resampled_t_interval(scores, n_train=80, n_test=20)
    assert found.ci_low == pytest.approx(1 / (1 + math.exp(-(centre - half_logit))), abs=1e-9)
    assert found.ci_high == pytest.approx(1 / (1 + math.exp(-(centre + half_logit))), abs=1e-9)


def test_correction_widens_the_naive_interval():
    scores = np.random.default_rng(0).normal(0.75, 0.05, 100)
    naive_half = 1.984216952 * scores.std(ddof=1) / 10  # t_99 quantile
    found = corrected_resampled_t_interval(scores, n_train=400, n_test=100, bounded=False)
    assert (found.ci_high - found.ci_low) / 2 == pytest.approx(
        naive_half * math.sqrt(1 + 100 * 0.25), rel=1e-6
    )


def test_raw_interval_of_high_aucs_passes_one_but_the_bounded_one_does_not():
    scores = [1.0, 0.96, 1.0, 0.93, 1.0, 0.99, 0.9, 1.0]
    assert corrected_resampled_t_interval(scores, 80, 20, bounded=False).ci_high > 1.0
    bounded = corrected_resampled_t_interval(scores, 80, 20)
    assert 0.0 < bounded.ci_low < bounded.value < bounded.ci_high < 1.0


@pytest.mark.parametrize("seed", range(300))
def test_bounded_interval_never_leaves_zero_one(seed):
    rng = np.random.default_rng(seed)
    n_splits = int(rng.integers(2, 60))
    centre = rng.choice([0.0, 0.02, 0.5, 0.9, 0.98, 0.999, 1.0])
    scores = np.clip(rng.normal(centre, rng.uniform(0.0, 0.2), n_splits), 0.0, 1.0)
    n_train = int(rng.integers(5, 500))
    found = corrected_resampled_t_interval(
        scores, n_train, int(rng.integers(1, 500)), level=rng.uniform(0.5, 0.999)
    )
    assert 0.0 <= found.ci_low <= found.value <= found.ci_high <= 1.0


def test_all_perfect_scores_give_a_single_point():
    found = corrected_resampled_t_interval([1.0] * 10, 80, 20)
    assert (found.value, found.ci_low, found.ci_high) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("scores", "kwargs", "message"),
    [
        ([0.8], {}, "at least 2"),
        ([0.8, 1.2], {}, r"\[0, 1\]"),
        ([0.8, float("nan")], {}, "finite"),
        ([0.8, 0.9], {"n_train": 0}, "positive"),
        ([0.8, 0.9], {"level": 1.0}, "level"),
    ],
)
def test_bad_input_is_refused(scores, kwargs, message):
    arguments = {"n_train": 80, "n_test": 20, **kwargs}
    with pytest.raises(ValueError, match=message):
        corrected_resampled_t_interval(scores, **arguments)


@pytest.mark.slow
def test_corrected_interval_covers_the_expected_auc_of_the_procedure_and_the_naive_one_does_not():
    # binormal population (cases shifted by mu, unit covariance); the "model" is the difference of class
    # means, whose true AUC is Phi(w.mu / (sqrt(2) |w|)); the target of Nadeau & Bengio's interval is the
    # expected true AUC of models trained on n_train lesions
    rng = np.random.default_rng(0)
    mu = np.array([2.0, 1.0, 0.0, 0.0, 0.0])
    n, n_test, n_splits = 150, 30, 25

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.random(m) < 0.4
        return rng.normal(0, 1, (m, mu.size)) + np.outer(y, mu), y

    def fit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return X[y].mean(axis=0) - X[~y].mean(axis=0)

    trained = [fit(*draw(n - n_test)) for _ in range(4000)]
    truth = np.mean([norm.cdf(w @ mu / (math.sqrt(2) * np.linalg.norm(w))) for w in trained])
    corrected, naive = [], []
    for _ in range(200):
        X, y = draw(n)
        scores = []
        for _ in range(n_splits):
            order = rng.permutation(n)
            test, train = order[:n_test], order[n_test:]
            w = fit(X[train], y[train])
            scores.append(weighted_auc(y[test], X[test] @ w, np.ones((1, n_test)))[0])
        found = corrected_resampled_t_interval(scores, n - n_test, n_test)
        corrected.append(found.ci_low <= truth <= found.ci_high)
        half = student_t.ppf(0.975, n_splits - 1) * np.std(scores, ddof=1) / math.sqrt(n_splits)
        naive.append(abs(np.mean(scores) - truth) <= half)
    assert truth == pytest.approx(0.94, abs=0.01)
    assert 0.90 <= np.mean(corrected) <= 0.99
    assert np.mean(naive) < 0.7
