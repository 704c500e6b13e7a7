"""Calibration: do predicted probabilities match observed frequencies?

Three views of one question. The reliability curve bins lesions by predicted probability and compares each
bin's mean prediction with its observed fraction of events (with Wilson intervals). Logistic recalibration
summarises the whole curve by two numbers: the calibration slope (1 is ideal; below 1 predictions are too
extreme, the usual sign of overfitting) and the calibration intercept, or calibration-in-the-large (0 is
ideal; above 0 the model under-predicts on average). The expected calibration error is the mean absolute gap
of the reliability curve, weighted by bin size.

Multi-class predictions (an ``(n, K)`` probability array) are assessed one-vs-rest: class ``k``'s probability
against "the lesion is of class ``k``", for every ``k``.

References
----------
Cox DR (1958). Two further applications of a model for binary regression. Biometrika 45:562-565.
Van Calster B, Nieboer D, Vergouwe Y, De Cock B, Pencina MJ, Steyerberg EW (2016). A calibration hierarchy
for risk models was defined: from utopia to empirical data. J Clin Epidemiol 74:167-176.
Van Calster B, McLernon DJ, van Smeden M, Wynants L, Steyerberg EW (2019). Calibration: the Achilles heel of
predictive analytics. BMC Med 17:230.
Wilson EB (1927). Probable inference, the law of succession, and statistical inference. J Am Stat Assoc
22:209-212.
Naeini MP, Cooper GF, Hauskrecht M (2015). Obtaining well calibrated probabilities using Bayesian binning.
AAAI 2015:2901-2907 (expected calibration error).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

BinStrategy = Literal["quantile", "uniform"]

PROBABILITY_FLOOR = 1e-12
"""Probabilities are clipped to ``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]`` before taking logits."""


def reliability_curve(
    y_true: np.ndarray,
    p: np.ndarray,
    n_bins: int = 10,
    strategy: BinStrategy = "quantile",
    level: float = 0.95,
) -> pd.DataFrame:
    """Return the reliability diagram's points: per bin, mean prediction, observed fraction and its Wilson CI.

    Parameters
    ----------
    y_true
        Binary: 0/1 or boolean outcomes with ``p`` of shape ``(n,)``. Multi-class: integer class codes
        ``0..K-1`` with ``p`` of shape ``(n, K)``.
    p
        Predicted probability of the event (binary) or of each class (multi-class).
    n_bins
        Number of bins.
    strategy
        ``"quantile"``: bins of (nearly) equal counts, edges at quantiles of ``p`` (ties may merge bins);
        ``"uniform"``: equal-width bins on [0, 1].
    level
        Coverage of the Wilson interval of each bin's observed fraction.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin`` (0-based), ``predicted`` (mean predicted probability),
        ``observed`` (fraction of events), ``count``, ``ci_low``, ``ci_high``; multi-class adds a first
        column ``class`` (the class code) and repeats the bins per class.

    Examples
    --------
    >>> reliability_curve(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]), n_bins=2)["count"].tolist()
    [2, 2]
    """
    y, probabilities = _binary_columns(y_true, p)
    if n_bins < 1:
        msg = f"n_bins must be at least 1, got {n_bins}"
        raise ValueError(msg)
    frames = []
    for k in range(probabilities.shape[1]):
        frame = _reliability_of(y[:, k], probabilities[:, k], n_bins, strategy, level)
        if probabilities.shape[1] > 1:
            frame.insert(0, "class", k)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def calibration_intercept_slope(
    y_true: np.ndarray, p: np.ndarray
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Return the calibration intercept (calibration-in-the-large) and slope by logistic recalibration.

    The slope ``b`` is the coefficient of ``logit(p)`` in the logistic regression
    ``logit P(y = 1) = a + b * logit(p)`` (Cox 1958). The intercept is fitted with the slope fixed at 1,
    ``logit P(y = 1) = a + logit(p)`` (``logit(p)`` as an offset), as Van Calster et al. (2016, 2019)
    recommend: it then measures calibration-in-the-large alone. A perfectly calibrated model has intercept 0
    and slope 1; slope < 1 means predictions too extreme (overfitting), > 1 too modest; intercept > 0 means
    risks underestimated on average. Both are maximum-likelihood fits by Newton-Raphson, without penalty;
    probabilities are clipped to ``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]`` so 0 and 1 have finite logits.

    Parameters
    ----------
    y_true
        Binary outcomes with ``p`` of shape ``(n,)``, or class codes with ``p`` of shape ``(n, K)``.
    p
        Predicted probabilities.

    Returns
    -------
    tuple
        ``(intercept, slope)`` as floats (binary) or as arrays of shape ``(K,)``, one-vs-rest per class.
        NaN when the outcome has a single value (no events or no non-events), where neither is defined.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    >>> intercept, slope = calibration_intercept_slope(y, np.array([.2, .6, .4, .7, .9, .3, .5, .6]))
    >>> round(slope, 2) > 0
    True

    References
    ----------
    Cox DR (1958). Two further applications of a model for binary regression. Biometrika 45:562-565.
    Van Calster B et al. (2016). J Clin Epidemiol 74:167-176; Van Calster B et al. (2019). BMC Med 17:230.
    """
    y, probabilities = _binary_columns(y_true, p)
    intercepts, slopes = np.full(y.shape[1], np.nan), np.full(y.shape[1], np.nan)
    for k in range(y.shape[1]):
        outcome = y[:, k]
        if outcome.min() == outcome.max():
            continue
        logit = _logit(probabilities[:, k])
        intercepts[k] = _logistic_fit(np.ones((outcome.size, 1)), outcome, offset=logit)[0]
        slopes[k] = _logistic_fit(np.column_stack([np.ones(outcome.size), logit]), outcome)[1]
    if np.ndim(p) == 1:
        return float(intercepts[0]), float(slopes[0])
    return intercepts, slopes


def expected_calibration_error(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float | np.ndarray:
    """Return the expected calibration error: ``sum_b (n_b / n) * |mean(p in b) - mean(y in b)|``.

    Bins are ``n_bins`` equal-width intervals of [0, 1] (Naeini et al. 2015; Guo et al. 2017), the last one
    closed. 0 is perfect; the value depends on the binning and is biased upwards in small samples (a
    perfectly calibrated model of ``n`` lesions scores about ``sqrt(n_bins / n) / 2``), so compare models on
    the same data and binning.

    Parameters
    ----------
    y_true
        Binary outcomes with ``p`` of shape ``(n,)``, or class codes with ``p`` of shape ``(n, K)``.
    p
        Predicted probabilities.
    n_bins
        Number of equal-width bins.

    Returns
    -------
    float or numpy.ndarray
        The error (binary), or one per class, shape ``(K,)`` (one-vs-rest).

    Examples
    --------
    >>> expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.25, 0.25, 0.75, 0.75]), n_bins=2)
    0.25

    References
    ----------
    Naeini MP, Cooper GF, Hauskrecht M (2015). AAAI 2015:2901-2907.
    Guo C, Pleiss G, Sun Y, Weinberger KQ (2017). On calibration of modern neural networks. ICML 2017.
    """
    y, probabilities = _binary_columns(y_true, p)
    errors = np.empty(y.shape[1])
    for k in range(y.shape[1]):
        bins = _uniform_bins(probabilities[:, k], n_bins)
        gap = np.bincount(bins, weights=probabilities[:, k] - y[:, k], minlength=n_bins)
        errors[k] = np.sum(np.abs(gap)) / y.shape[0]
    return float(errors[0]) if np.ndim(p) == 1 else errors


def wilson_interval(
    events: np.ndarray, count: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval of the proportion ``events / count`` (Wilson 1927).

    Unlike the Wald interval it stays inside [0, 1] and keeps close to nominal coverage for small counts
    and proportions near 0 or 1 (Brown, Cai & DasGupta 2001).
    """
    events = np.asarray(events, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    z = float(norm.ppf(0.5 + level / 2.0))
    share = events / count
    denominator = 1.0 + z**2 / count
    centre = (share + z**2 / (2.0 * count)) / denominator
    half = z * np.sqrt(share * (1.0 - share) / count + z**2 / (4.0 * count**2)) / denominator
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


# --- Internals ---


def _binary_columns(y_true: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(outcomes, probabilities)`` as ``(n, K)`` float arrays: one column (binary) or one per class."""
    probabilities = np.asarray(p, dtype=np.float64)
    y = np.asarray(y_true)
    if probabilities.ndim not in (1, 2) or probabilities.shape[0] != y.shape[0] or y.ndim != 1:
        msg = f"Inconsistent shapes: y_true {y.shape}, p {probabilities.shape}"
        raise ValueError(msg)
    if y.size == 0:
        msg = "Calibration needs at least one prediction"
        raise ValueError(msg)
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0.0 or probabilities.max() > 1.0:
        msg = "Predicted probabilities must be finite and lie in [0, 1]"
        raise ValueError(msg)
    if probabilities.ndim == 1:
        outcome = y.astype(np.float64)
        if not np.all(np.isin(outcome, (0.0, 1.0))):
            msg = f"Binary outcomes must be 0/1 or boolean, got values {sorted(set(y.tolist()))[:5]}"
            raise ValueError(msg)
        return outcome[:, None], probabilities[:, None]
    codes = y.astype(np.int64)
    if codes.min() < 0 or codes.max() >= probabilities.shape[1]:
        msg = f"Class codes must lie in 0..{probabilities.shape[1] - 1}, got {codes.min()}..{codes.max()}"
        raise ValueError(msg)
    return np.eye(probabilities.shape[1])[codes], probabilities


def _uniform_bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the equal-width bin (0..n_bins-1) of each probability; 1.0 falls in the last bin."""
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def _reliability_of(y: np.ndarray, p: np.ndarray, n_bins: int, strategy: str, level: float) -> pd.DataFrame:
    """Return the reliability points of one binary outcome."""
    if strategy == "uniform":
        bins = _uniform_bins(p, n_bins)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(edges.size - 2, 0))
    else:
        msg = f"Unknown binning strategy {strategy!r}: use 'quantile' or 'uniform'"
        raise ValueError(msg)
    count = np.bincount(bins)
    used = np.flatnonzero(count)
    events = np.bincount(bins, weights=y)[used]
    low, high = wilson_interval(events, count[used], level)
    return pd.DataFrame(
        {
            "bin": used,
            "predicted": np.bincount(bins, weights=p)[used] / count[used],
            "observed": events / count[used],
            "count": count[used],
            "ci_low": low,
            "ci_high": high,
        }
    )


def _logit(p: np.ndarray) -> np.ndarray:
    """Return ``log(p / (1 - p))`` with ``p`` clipped away from 0 and 1."""
    clipped = np.clip(p, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return np.log(clipped) - np.log1p(-clipped)


def _logistic_fit(
    design: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, max_iter: int = 100
) -> np.ndarray:
    """Return the maximum-likelihood coefficients of a logistic regression (Newton-Raphson, no penalty)."""
    shift = np.zeros(y.size) if offset is None else offset
    beta = np.zeros(design.shape[1])
    for _ in range(max_iter):
        eta = design @ beta + shift
        mu = 0.5 * (1.0 + np.tanh(0.5 * eta))
        weight = np.maximum(mu * (1.0 - mu), 1e-12)
        gradient = design.T @ (y - mu)
        hessian = design.T @ (design * weight[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return np.full(design.shape[1], np.nan)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta
