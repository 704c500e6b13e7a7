"""IBSI intensity statistics (``stat_*``): first-order statistics of the ROI's intensities.

``X`` holds the ``N`` intensities of the ROI voxels, ``mu`` their mean, ``sigma^2 = sum (X - mu)^2 / N``
their (population) variance and ``P_q`` their q-th percentile (linear interpolation between order
statistics, numpy's default). The definitions follow the IBSI 1 reference manual (Zwanenburg et al.,
Radiology 2020; arXiv:1612.07003), section "Intensity-based statistical features".

Degenerate ROIs give values, not warnings: for a constant ROI (``sigma = 0``) skewness and kurtosis are 0,
as the manual prescribes; the coefficient of variation is NaN when ``mu = 0``, the quartile coefficient
of dispersion is NaN when ``P_75 + P_25 = 0``, and the robust mean absolute deviation is NaN when no
intensity lies between ``P_10`` and ``P_90`` (two distinct values, for instance). An empty ROI is refused.
"""

from __future__ import annotations

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition

AGGREGATIONS: tuple[str, ...] = ()

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("stat_mean", "Q4LE", "Mean", "statistics", "Mean"),
    FeatureDefinition("stat_var", "ECT3", "Variance", "statistics", "Variance"),
    FeatureDefinition("stat_skew", "KE2A", "Skewness", "statistics", "Skewness"),
    FeatureDefinition("stat_kurt", "IPH6", "(Excess) kurtosis", "statistics"),
    FeatureDefinition("stat_median", "Y12H", "Median", "statistics", "Median"),
    FeatureDefinition("stat_min", "1GSF", "Minimum", "statistics", "Minimum"),
    FeatureDefinition("stat_p10", "QG58", "10th percentile", "statistics", "10Percentile"),
    FeatureDefinition("stat_p90", "8DWT", "90th percentile", "statistics", "90Percentile"),
    FeatureDefinition("stat_max", "84IY", "Maximum", "statistics", "Maximum"),
    FeatureDefinition("stat_iqr", "SALO", "Interquartile range", "statistics", "InterquartileRange"),
    FeatureDefinition("stat_range", "2OJQ", "Range", "statistics", "Range"),
    FeatureDefinition("stat_mad", "4FUA", "Mean absolute deviation", "statistics", "MeanAbsoluteDeviation"),
    FeatureDefinition(
        "stat_rmad",
        "1128",
        "Robust mean absolute deviation",
        "statistics",
        "RobustMeanAbsoluteDeviation",
    ),
    FeatureDefinition("stat_medad", "N72L", "Median absolute deviation", "statistics"),
    FeatureDefinition("stat_cov", "7TET", "Coefficient of variation", "statistics"),
    FeatureDefinition("stat_qcod", "9S40", "Quartile coefficient of dispersion", "statistics"),
    FeatureDefinition("stat_energy", "N8CA", "Energy", "statistics", "Energy"),
    FeatureDefinition("stat_rms", "5ZWQ", "Root mean square", "statistics", "RootMeanSquared"),
)
"""The 18 IBSI intensity statistics, in the manual's order. PyRadiomics' Kurtosis is not excess kurtosis
(it lacks the -3), so that name is not attached."""


def statistics_features(values: np.ndarray) -> dict[str, float]:
    """Return the 18 IBSI intensity statistics of the ROI intensities ``values``, keyed by base tag.

    Parameters
    ----------
    values
        Intensities of the ROI voxels, any shape (flattened).

    Returns
    -------
    dict
        ``stat_mean`` (Q4LE) ``mu = sum X / N``;
        ``stat_var`` (ECT3) ``sigma^2 = sum (X - mu)^2 / N``;
        ``stat_skew`` (KE2A) ``m_3 / sigma^3`` with ``m_k = sum (X - mu)^k / N`` (0 when ``sigma = 0``);
        ``stat_kurt`` (IPH6) excess kurtosis ``m_4 / sigma^4 - 3`` (0 when ``sigma = 0``);
        ``stat_median`` (Y12H) ``P_50``; ``stat_min`` (1GSF) ``min X``; ``stat_p10`` (QG58) ``P_10``;
        ``stat_p90`` (8DWT) ``P_90``; ``stat_max`` (84IY) ``max X``;
        ``stat_iqr`` (SALO) ``P_75 - P_25``; ``stat_range`` (2OJQ) ``max X - min X``;
        ``stat_mad`` (4FUA) ``sum |X - mu| / N``;
        ``stat_rmad`` (1128) ``sum |X' - mu'| / N'`` over the voxels with ``P_10 <= X <= P_90``
        (``mu'`` their mean);
        ``stat_medad`` (N72L) ``sum |X - P_50| / N``;
        ``stat_cov`` (7TET) ``sigma / mu``;
        ``stat_qcod`` (9S40) ``(P_75 - P_25) / (P_75 + P_25)``;
        ``stat_energy`` (N8CA) ``sum X^2``; ``stat_rms`` (5ZWQ) ``sqrt(sum X^2 / N)``.

    Examples
    --------
    >>> round(statistics_features(np.array([1.0, 2.0, 3.0, 4.0]))["stat_var"], 3)
    1.25
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        msg = "Intensity statistics need at least one ROI voxel, got 0"
        raise ValueError(msg)
    mean = x.mean()
    deviation = x - mean
    variance = float(np.mean(deviation**2))
    p10, p25, median, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    if variance > 0:
        skewness = float(np.mean(deviation**3) / variance**1.5)
        kurtosis = float(np.mean(deviation**4) / variance**2 - 3.0)
    else:
        skewness = kurtosis = 0.0
    std = np.sqrt(variance)
    return {
        "stat_mean": float(mean),
        "stat_var": variance,
        "stat_skew": skewness,
        "stat_kurt": kurtosis,
        "stat_median": float(median),
        "stat_min": float(x.min()),
        "stat_p10": float(p10),
        "stat_p90": float(p90),
        "stat_max": float(x.max()),
        "stat_iqr": float(p75 - p25),
        "stat_range": float(x.max() - x.min()),
        "stat_mad": float(np.mean(np.abs(deviation))),
        "stat_rmad": float(np.mean(np.abs(robust - robust.mean()))) if robust.size else float("nan"),
        "stat_medad": float(np.mean(np.abs(x - median))),
        "stat_cov": float(std / mean) if mean != 0 else float("nan"),
        "stat_qcod": float((p75 - p25) / (p75 + p25)) if p75 + p25 != 0 else float("nan"),
        "stat_energy": float(np.sum(x**2)),
        "stat_rms": float(np.sqrt(np.mean(x**2))),
    }
