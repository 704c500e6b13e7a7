"""Cluster bootstrap confidence intervals: resample patients, not lesions.

Lesions of one patient share anatomy, scanner and reader, so they are not independent; resampling whole
patients (the cluster bootstrap; Davison & Hinkley 1997, section 3.8; Field & Welsh 2007) keeps that
correlation inside each resample. A resample is expressed as a weight per lesion (how many times its patient
was drawn), so a statistic written over weights evaluates every resample in one vectorised call.

References
----------
Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall. Chapters 13-14
(percentile and BCa intervals) and 11 (jackknife).
Davison AC, Hinkley DV (1997). Bootstrap Methods and their Application. Cambridge University Press.
Field CA, Welsh AH (2007). Bootstrapping clustered data. J R Stat Soc B 69(3):369-390.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

Statistic = Callable[[np.ndarray], Mapping[str, np.ndarray]]
"""A statistic of lesion weights: ``(R, n)`` weights in, ``{name: array of shape (R, ...)}`` out."""

IntervalMethod = Literal["percentile", "bca"]

_CHUNK = 250


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval and the method that produced the interval.

    Examples
    --------
    >>> Estimate(0.8, 0.7, 0.9, "cluster bootstrap (patients), percentile, 2000 resamples").to_dict()["value"]
    0.8
    """

    value: float
    ci_low: float
    ci_high: float
    method: str
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """Return the estimate as JSON-ready values (``None`` where a number is undefined)."""
        return {
            "value": json_number(self.value),
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
            "level": self.level,
            "method": self.method,
        }


def json_number(value: float) -> float | None:
    """Return ``value`` as a plain float, or ``None`` when it is NaN or infinite (JSON has neither)."""
    number = float(value)
    return number if math.isfinite(number) else None


def cluster_codes(groups: Any) -> np.ndarray:
    """Return one integer code per observation, ``0..P-1``, numbering the clusters (patients)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(groups)), sort=True)
    if (codes < 0).any():
        msg = "Cluster ids (patient_id) must not be missing"
        raise ValueError(msg)
    return codes


def cluster_resample_counts(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    """Return ``(n_resamples, n_clusters)`` draw counts: each row draws ``n_clusters`` clusters with replacement."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_resamples)


def cluster_bootstrap(
    statistic: Statistic,
    groups: Any,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    method: IntervalMethod = "percentile",
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return ``{name: (point, ci_low, ci_high)}`` for each output of ``statistic``, resampling clusters.

    Parameters
    ----------
    statistic
        Function of lesion weights (shape ``(R, n)``) returning arrays whose first axis is ``R``; with all
        weights 1 it gives the point estimate.
    groups
        Cluster id (patient) of each of the ``n`` observations.
    n_resamples
        Bootstrap resamples; Efron & Tibshirani (1993) advise at least 1000 for percentile and BCa intervals.
    level
        Coverage of the interval.
    method
        ``"percentile"`` or ``"bca"`` (bias-corrected and accelerated, Efron 1987; the acceleration comes
        from the leave-one-cluster-out jackknife).
    seed
        Seed of the resampling; the same seed gives the same intervals.

    Returns
    -------
    dict
        For each statistic name, arrays (point, lower, upper) of the statistic's trailing shape. Resamples in
        which a statistic is undefined (NaN, e.g. an AUC without positives) are left out of its interval.
    """
    if not 0.0 < level < 1.0:
        msg = f"Confidence level must be in (0, 1), got {level}"
        raise ValueError(msg)
    if method not in ("percentile", "bca"):
        msg = f"Unknown interval method {method!r}: use 'percentile' or 'bca'"
        raise ValueError(msg)
    codes = cluster_codes(groups)
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    if n_clusters < 2:
        msg = f"The cluster bootstrap needs at least 2 clusters (patients), got {n_clusters}"
        raise ValueError(msg)
    point = {name: np.asarray(value)[0] for name, value in statistic(np.ones((1, codes.size))).items()}
    counts = cluster_resample_counts(n_clusters, n_resamples, seed)
    parts = [
        statistic(counts[start : start + _CHUNK][:, codes].astype(np.float64))
        for start in range(0, n_resamples, _CHUNK)
    ]
    boot = {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in point}
    if method == "percentile":
        return {name: (point[name], *percentile_interval(boot[name], level)) for name in point}
    jack_weights = (codes[None, :] != np.arange(n_clusters)[:, None]).astype(np.float64)
    jack = {name: np.asarray(value) for name, value in statistic(jack_weights).items()}
    return {name: (point[name], *bca_interval(point[name], boot[name], jack[name], level)) for name in point}


def percentile_interval(boot: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the percentile interval of bootstrap replicates along axis 0 (Efron & Tibshirani 1993, 13.3)."""
    alpha = (1.0 - level) / 2.0
    low, high = np.full(boot.shape[1:], np.nan), np.full(boot.shape[1:], np.nan)
    for index in np.ndindex(boot.shape[1:]):
        values = boot[(slice(None), *index)]
        values = values[np.isfinite(values)]
        if values.size:
            low[index], high[index] = np.quantile(values, [alpha, 1.0 - alpha])
    return low, high


def bca_interval(
    point: np.ndarray, boot: np.ndarray, jack: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the BCa interval along axis 0 (Efron & Tibshirani 1993, section 14.3).

    ``boot`` holds the bootstrap replicates, ``jack`` the leave-one-cluster-out replicates. Where every
    replicate equals the estimate (a perfect classifier's AUC) the interval is that single value.
    """
    z_alpha = norm.ppf([(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0])
    low, high = np.full(boot.shape[1:], np.nan), np.full(boot.shape[1:], np.nan)
    for index in np.ndindex(boot.shape[1:]):
        theta = float(point[index])
        values = boot[(slice(None), *index)]
        values = values[np.isfinite(values)]
        jacks = jack[(slice(None), *index)]
        jacks = jacks[np.isfinite(jacks)]
        if not values.size or not math.isfinite(theta):
            continue
        below = np.mean(values < theta) + 0.5 * np.mean(values == theta)
        if below in (0.0, 1.0) or np.all(values == theta):
            low[index], high[index] = np.quantile(values, [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0])
            continue
        z0 = norm.ppf(below)
        spread = jacks.mean() - jacks
        denominator = 6.0 * np.sum(spread**2) ** 1.5
        acceleration = np.sum(spread**3) / denominator if denominator > 0 else 0.0
        shifted = z0 + z_alpha
        quantiles = norm.cdf(z0 + shifted / (1.0 - acceleration * shifted))
        low[index], high[index] = np.quantile(values, quantiles)
    return low, high
