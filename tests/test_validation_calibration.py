"""Calibration: a calibrated simulated predictor scores slope 1 and intercept 0, miscalibration is detected."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from lai.validation.calibration import (
    calibration_intercept_slope,
    expected_calibration_error,
    reliability_curve,
    wilson_interval,
)


def calibrated_population(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True risks and outcomes drawn from them: the true risk is a perfectly calibrated prediction."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(2.0, 3.0, n)
    return (rng.random(n) < risk).astype(int), risk


def test_perfectly_calibrated_predictor_has_slope_one_and_intercept_zero():
    y, risk = calibrated_population(20000, seed=0)
    intercept, slope = calibration_intercept_slope(y, risk)
    assert slope == pytest.approx(1.0, abs=0.06)
    assert intercept == pytest.approx(0.0, abs=0.04)


def test_too_extreme_predictions_have_slope_below_one_and_too_modest_above():
    y, risk = calibrated_population(20000, seed=1)
    _, extreme = calibration_intercept_slope(y, expit(2.0 * logit(risk)))
    _, modest = calibration_intercept_slope(y, expit(0.5 * logit(risk)))
    assert extreme == pytest.approx(0.5, abs=0.04)
    assert modest == pytest.approx(2.0, abs=0.15)


def test_underestimated_risks_give_a_positive_intercept():
    y, risk = calibrated_population(20000, seed=2)
    intercept, slope = calibration_intercept_slope(y, expit(logit(risk) - 1.0))
    assert intercept == pytest.approx(1.0, abs=0.06)
    assert slope == pytest.approx(1.0, abs=0.06)


def test_slope_equals_an_unpenalised_logistic_regression_on_the_logit():
    rng = np.random.default_rng(3)
    y, risk = calibrated_population(500, seed=3)
    predicted = np.clip(risk + rng.normal(0, 0.1, risk.size), 0.01, 0.99)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(logit(predicted)[:, None], y)
    _, slope = calibration_intercept_slope(y, predicted)
    assert slope == pytest.approx(reference.coef_[0, 0], abs=1e-6)


def test_intercept_solves_the_score_equation_with_slope_fixed_at_one():
    y, risk = calibrated_population(300, seed=4)
    predicted = np.clip(risk * 0.8, 0.01, 0.99)
    expected = brentq(lambda a: np.sum(y - expit(a + logit(predicted))), -5, 5, xtol=1e-12)
    intercept, _ = calibration_intercept_slope(y, predicted)
    assert intercept == pytest.approx(expected, abs=1e-8)


def test_multiclass_is_one_vs_rest_per_class():
    rng = np.random.default_rng(5)
    proba = rng.dirichlet(np.ones(3), 600)
    y = np.array([rng.choice(3, p=row) for row in proba])
    intercepts, slopes = calibration_intercept_slope(y, proba)
    ece = expected_calibration_error(y, proba)
    curve = reliability_curve(y, proba, n_bins=5)
    for k in range(3):
        assert (intercepts[k], slopes[k]) == pytest.approx(calibration_intercept_slope(y == k, proba[:, k]))
        assert ece[k] == pytest.approx(expected_calibration_error(y == k, proba[:, k]))
        binary = reliability_curve((y == k).astype(int), proba[:, k], n_bins=5)
        assert curve[curve["class"] == k].drop(columns="class").reset_index(drop=True).equals(binary)


def test_reliability_curve_of_a_hand_made_example():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.12, 0.18, 0.85, 0.9, 0.95, 0.88])
    curve = reliability_curve(y, p, n_bins=10, strategy="uniform")
    assert curve["bin"].tolist() == [0, 1, 8, 9]
    assert curve["count"].tolist() == [1, 3, 2, 2]
    np.testing.assert_allclose(curve["predicted"], [0.05, (0.15 + 0.12 + 0.18) / 3, 0.865, 0.925])
    np.testing.assert_allclose(curve["observed"], [0.0, 1 / 3, 0.5, 1.0])


def test_quantile_bins_hold_equal_counts():
    y, risk = calibrated_population(1000, seed=6)
    curve = reliability_curve(y, risk, n_bins=10)
    assert curve["count"].tolist() == [100] * 10
    assert (np.diff(curve["predicted"]) > 0).all()
    assert ((curve["ci_low"] <= curve["observed"]) & (curve["observed"] <= curve["ci_high"])).all()


def test_wilson_interval_matches_published_value():
    # 8 events out of 10, 95%: Wilson score interval 0.4902 to 0.9433 (R: prop.test(8, 10, correct = FALSE))
    low, high = wilson_interval(np.array([8]), np.array([10]))
    assert low[0] == pytest.approx(0.4902, abs=5e-5)
    assert high[0] == pytest.approx(0.9433, abs=5e-5)


def test_expected_calibration_error_by_hand():
    y = np.array([0, 1, 1, 1, 0, 0])
    p = np.array([0.2, 0.3, 0.7, 0.8, 0.9, 0.6])
    # bin [0, 0.5): mean p 0.25, observed 0.5, 2 lesions; bin [0.5, 1]: mean p 0.75, observed 0.5, 4 lesions
    expected = 2 / 6 * 0.25 + 4 / 6 * 0.25
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected)


def test_calibrated_predictor_has_small_ece_and_miscalibrated_large():
    y, risk = calibrated_population(20000, seed=7)
    assert expected_calibration_error(y, risk) < 0.015
    assert expected_calibration_error(y, expit(2.5 * logit(risk))) > 0.05


def test_outcome_without_events_has_undefined_intercept_and_slope():
    intercept, slope = calibration_intercept_slope(np.zeros(5, dtype=int), np.full(5, 0.2))
    assert np.isnan(intercept) and np.isnan(slope)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.2, 1.3], r"\[0, 1\]"),
        ([0, 2], [0.2, 0.3], "0/1"),
        ([0, 1, 1], [0.2, 0.3], "Inconsistent shapes"),
    ],
)
def test_bad_input_is_refused(y, p, message):
    with pytest.raises(ValueError, match=message):
        calibration_intercept_slope(np.array(y), np.array(p))
