"""DeLong's variance of the AUC and the paired test of two correlated AUCs.

The AUC's variance is estimated from placement values (each case's fraction of controls it outscores, each
control's fraction of cases that outscore it), computed from mid-ranks as in Sun & Xu (2014). Unlike the
cluster bootstrap this treats lesions as independent, so it fits one-lesion-per-patient data.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under two or more correlated receiver
operating characteristic curves: a nonparametric approach. Biometrics 44:837-845.
Sun X, Xu W (2014). Fast implementation of DeLong's algorithm for comparing the areas under correlated
receiver operating characteristic curves. IEEE Signal Process Lett 21:1389-1393.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


@dataclass(frozen=True)
class DeLongTest:
    """The paired DeLong test of ``auc_1 - auc_2``: statistic, two-sided p-value and CI of the difference."""

    difference: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float


def _placements(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return AUCs ``(M,)`` and placement values of cases ``(M, m)`` and controls ``(M, n)`` for ``M`` markers."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n_cases, n_controls = int(positive.sum()), int((~positive).sum())
    if n_cases == 0 or n_controls == 0:
        msg = f"DeLong needs cases and controls, got {n_cases} case(s) and {n_controls} control(s)"
        raise ValueError(msg)
    all_ranks = rankdata(scores, axis=1)
    case_ranks = rankdata(scores[:, positive], axis=1)
    control_ranks = rankdata(scores[:, ~positive], axis=1)
    cases = (all_ranks[:, positive] - case_ranks) / n_controls
    controls = 1.0 - (all_ranks[:, ~positive] - control_ranks) / n_cases
    return cases.mean(axis=1), cases, controls


def _covariance(cases: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """Return DeLong's covariance matrix of the ``M`` AUCs from their placement values."""
    return np.atleast_2d(np.cov(cases)) / cases.shape[1] + np.atleast_2d(np.cov(controls)) / controls.shape[1]


def delong_variance(positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Return ``(auc, variance)`` of one marker's AUC by DeLong et al. (1988)."""
    auc, cases, controls = _placements(positive, score)
    return float(auc[0]), float(_covariance(cases, controls)[0, 0])


def delong_interval(
    positive: np.ndarray, score: np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Return ``(auc, low, high)``: the AUC with its normal-theory DeLong interval, clipped to [0, 1]."""
    auc, variance = delong_variance(positive, score)
    half = float(norm.ppf(0.5 + level / 2.0)) * np.sqrt(variance)
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def delong_test(
    positive: np.ndarray, score_1: np.ndarray, score_2: np.ndarray, level: float = 0.95
) -> DeLongTest:
    """Return the paired two-sided DeLong test of two markers' AUCs measured on the same lesions."""
    auc, cases, controls = _placements(positive, np.vstack([score_1, score_2]))
    covariance = _covariance(cases, controls)
    difference = float(auc[0] - auc[1])
    se = float(np.sqrt(covariance[0, 0] + covariance[1, 1] - 2.0 * covariance[0, 1]))
    z = difference / se
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    return DeLongTest(difference, z, float(2.0 * norm.sf(abs(z))), difference - half, difference + half)
