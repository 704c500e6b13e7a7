"""First-order (intensity statistics and histogram) features, in PyRadiomics' definitions and names.

``X`` are the N intensities inside the region of interest, ``c`` the voxel array shift, ``V_voxel`` one
voxel's volume, ``P_k`` the k-th percentile (linear interpolation), ``p(i)`` the fraction of voxels in
bin ``i`` after discretisation. Moments are population moments (divided by N). IBSI codes follow each
name; where PyRadiomics differs from IBSI the docstring says so.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from lai.radiomics.discretisation import discretise_fixed_bin_count, discretise_fixed_bin_width
from lai.radiomics.texture import compiled_numeric

_EPS = float(np.spacing(1))


def energy(x: np.ndarray, shift: float) -> float:
    """Return Energy = sum_i (X_i + c)^2 (IBSI N8CA, which has c = 0)."""
    return float(np.sum((x + shift) ** 2))


def total_energy(x: np.ndarray, shift: float, voxel_volume: float) -> float:
    """Return TotalEnergy = V_voxel * sum_i (X_i + c)^2 (PyRadiomics only)."""
    return voxel_volume * energy(x, shift)


def root_mean_squared(x: np.ndarray, shift: float) -> float:
    """Return RootMeanSquared = sqrt(sum_i (X_i + c)^2 / N) (IBSI 5ZWQ, which has c = 0)."""
    return float(np.sqrt(np.mean((x + shift) ** 2)))


def entropy(p: np.ndarray) -> float:
    """Return Entropy = -sum_i p(i) log2(p(i) + eps), eps the float64 machine epsilon (IBSI TLU2)."""
    return float(-np.sum(p * np.log2(p + _EPS)))


def uniformity(p: np.ndarray) -> float:
    """Return Uniformity = sum_i p(i)^2 (IBSI BJ5W)."""
    return float(np.sum(p**2))


def minimum(x: np.ndarray) -> float:
    """Return Minimum = min(X) (IBSI 1GSF)."""
    return float(np.min(x))


def maximum(x: np.ndarray) -> float:
    """Return Maximum = max(X) (IBSI 84IY)."""
    return float(np.max(x))


def percentile_10(x: np.ndarray) -> float:
    """Return 10Percentile = P_10 (IBSI QG58)."""
    return float(np.percentile(x, 10))


def percentile_90(x: np.ndarray) -> float:
    """Return 90Percentile = P_90 (IBSI 8DWT)."""
    return float(np.percentile(x, 90))


def mean(x: np.ndarray) -> float:
    """Return Mean = sum_i X_i / N (IBSI Q4LE)."""
    return float(np.mean(x))


def median(x: np.ndarray) -> float:
    """Return Median = P_50 (IBSI Y12H)."""
    return float(np.median(x))


def interquartile_range(x: np.ndarray) -> float:
    """Return InterquartileRange = P_75 - P_25 (IBSI SALO)."""
    q25, q75 = np.percentile(x, [25, 75])
    return float(q75 - q25)


def value_range(x: np.ndarray) -> float:
    """Return Range = max(X) - min(X) (IBSI 2OJQ)."""
    return float(np.ptp(x))


def mean_absolute_deviation(x: np.ndarray) -> float:
    """Return MeanAbsoluteDeviation = sum_i |X_i - mean(X)| / N (IBSI 4FUA)."""
    return float(np.mean(np.abs(x - np.mean(x))))


def robust_mean_absolute_deviation(x: np.ndarray) -> float:
    """Return RobustMeanAbsoluteDeviation: the mean absolute deviation of the X_i with P_10 <= X_i <= P_90.

    .. math:: \\frac{1}{N_{10-90}} \\sum_{i} |X_{10-90,i} - \\overline{X}_{10-90}|

    (IBSI 1128). NaN when no value lies between the percentiles, as with two voxels of different values.
    """
    p10, p90 = np.percentile(x, [10, 90])
    kept = x[(x >= p10) & (x <= p90)]
    if kept.size == 0:
        return float("nan")
    return float(np.mean(np.abs(kept - np.mean(kept))))


def variance(x: np.ndarray) -> float:
    """Return Variance = sum_i (X_i - mean(X))^2 / N (IBSI ECT3)."""
    return float(np.var(x))


def standard_deviation(x: np.ndarray) -> float:
    """Return StandardDeviation = sqrt(Variance) (no IBSI code)."""
    return float(np.std(x))


def skewness(x: np.ndarray) -> float:
    """Return Skewness = m_3 / m_2^(3/2), m_k the k-th central moment; 0 for a constant region (IBSI KE2A)."""
    centred = x - np.mean(x)
    m2 = np.mean(centred**2)
    return 0.0 if m2 == 0 else float(np.mean(centred**3) / m2**1.5)


def kurtosis(x: np.ndarray) -> float:
    """Return Kurtosis = m_4 / m_2^2; 0 for a constant region.

    This is PyRadiomics' kurtosis, not the excess kurtosis of IBSI IPH6 (which is this minus 3).
    """
    centred = x - np.mean(x)
    m2 = np.mean(centred**2)
    return 0.0 if m2 == 0 else float(np.mean(centred**4) / m2**2)


_PLAIN: dict[str, Callable[[np.ndarray], float]] = {
    "Minimum": minimum,
    "10Percentile": percentile_10,
    "90Percentile": percentile_90,
    "Maximum": maximum,
    "Mean": mean,
    "Median": median,
    "InterquartileRange": interquartile_range,
    "Range": value_range,
    "MeanAbsoluteDeviation": mean_absolute_deviation,
    "RobustMeanAbsoluteDeviation": robust_mean_absolute_deviation,
    "StandardDeviation": standard_deviation,
    "Skewness": skewness,
    "Kurtosis": kurtosis,
    "Variance": variance,
}

FEATURE_NAMES: tuple[str, ...] = (
    "Energy",
    "TotalEnergy",
    "Entropy",
    "Minimum",
    "10Percentile",
    "90Percentile",
    "Maximum",
    "Mean",
    "Median",
    "InterquartileRange",
    "Range",
    "MeanAbsoluteDeviation",
    "RobustMeanAbsoluteDeviation",
    "RootMeanSquared",
    "StandardDeviation",
    "Skewness",
    "Kurtosis",
    "Variance",
    "Uniformity",
)
"""First-order feature names, in PyRadiomics' spelling and order."""


_QUARTILES_AND_DECILES = np.array([10.0, 25.0, 50.0, 75.0, 90.0])


def percentiles_by_bins(
    values: np.ndarray, bins: np.ndarray, q: np.ndarray, *, counts: np.ndarray | None = None
) -> np.ndarray:
    """Return ``numpy.percentile(values, q)`` (linear interpolation, Hyndman & Fan 1996 type 7), bit for bit.

    ``bins`` is a discretisation of ``values`` (same shape, non-negative integers that never decrease when
    the value increases), such as the fixed bin number or bin width bins. The order statistics a percentile
    needs lie in bins whose ranks the bin counts give, so only those bins' values are partitioned, not the
    whole region: the same numbers as ``numpy.percentile`` with a fraction of its work on large regions.
    Values holding NaN fall back to ``numpy.percentile`` (which returns NaN). ``counts`` is
    ``numpy.bincount(bins)`` when the caller has it.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    keys = np.asarray(bins).ravel()
    n = x.size
    if n == 0 or keys.size != n or np.isnan(x.min()):
        return np.asarray(np.percentile(x, q), dtype=np.float64)
    virtual, previous, following, ranks = _percentile_ranks(n, q)
    ends = np.cumsum(
        np.bincount(keys) if counts is None else counts
    )  # ends[b]: the number of values in bins 0..b
    holders = np.searchsorted(ends, ranks, side="right")
    ordered = np.empty(ranks.size)
    for holder in np.unique(holders):
        members = x[keys == holder]
        here = holders == holder
        local = ranks[here] - (ends[holder] - members.size)
        ordered[here] = np.partition(members, local)[local]
    return _interpolate(ordered, ranks, virtual, previous, following)


def _percentile_ranks(n: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return numpy's virtual index of each percentile ``q`` of ``n`` values, the ranks below and above it,
    and all those ranks once, increasing."""
    virtual = (n - 1) * np.true_divide(np.asarray(q, dtype=np.float64), 100)
    below = np.floor(virtual)
    at_end = virtual >= n - 1  # numpy takes the largest value there
    previous = np.where(at_end, n - 1, below).astype(np.intp)
    following = np.where(at_end, n - 1, below + 1).astype(np.intp)
    return virtual, previous, following, np.unique(np.concatenate((previous, following)))


def _interpolate(
    ordered: np.ndarray, ranks: np.ndarray, virtual: np.ndarray, previous: np.ndarray, following: np.ndarray
) -> np.ndarray:
    """Return the percentiles from the order statistics ``ordered`` at ``ranks``, with numpy's lerp."""
    lower = ordered[np.searchsorted(ranks, previous)]
    upper = ordered[np.searchsorted(ranks, following)]
    gamma = virtual - np.floor(virtual)
    difference = upper - lower
    result = lower + difference * gamma
    np.subtract(upper, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def firstorder_features(
    values: np.ndarray,
    *,
    voxel_volume: float,
    bin_width: float | None = None,
    bin_count: int | None = None,
    shift: float = 0.0,
    bins: np.ndarray | None = None,
) -> dict[str, float]:
    """Return every first-order feature of the intensities ``values`` of one region, by PyRadiomics name.

    Parameters
    ----------
    values
        Intensities of the voxels in the region (any shape; flattened).
    voxel_volume
        Volume of one voxel in mm^3 (for TotalEnergy).
    bin_width, bin_count
        Discretisation for Entropy and Uniformity: exactly one is given.
    shift
        Voxel array shift ``c`` added before Energy, TotalEnergy and RootMeanSquared.
    bins
        The discretisation of ``values`` with ``bin_width`` or ``bin_count`` when the caller already has
        it (same shape as ``values``); computed here otherwise.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        msg = "firstorder_features: the region holds no voxel"
        raise ValueError(msg)
    if (bin_width is None) == (bin_count is None):
        msg = f"firstorder_features: give exactly one of bin_width={bin_width} and bin_count={bin_count}"
        raise ValueError(msg)
    if bins is None:
        bins = (
            discretise_fixed_bin_width(x, bin_width)
            if bin_width is not None
            else discretise_fixed_bin_count(x, int(bin_count or 0))
        )
    else:
        bins = np.asarray(bins).ravel()
        if bins.size != x.size:
            msg = f"firstorder_features: {bins.size} bins for {x.size} values"
            raise ValueError(msg)
    counts = np.bincount(bins)
    p = counts[1:] / x.size
    p = p[p > 0]
    numeric = compiled_numeric()
    computed = None if numeric is None else _moments_compiled(numeric, x, bins, counts, shift, voxel_volume)
    if computed is None:
        computed = _moments(x, bins, counts, shift, voxel_volume)
    computed["Entropy"] = entropy(p)
    computed["Uniformity"] = uniformity(p)
    return {name: computed[name] for name in FEATURE_NAMES}


def _moments(
    x: np.ndarray, bins: np.ndarray, counts: np.ndarray, shift: float, voxel_volume: float
) -> dict[str, float]:
    """Return the first-order features but Entropy and Uniformity, in numpy."""
    # the percentiles from the bins holding them, one pass per moment, shared by the features below
    p10, q25, p50, q75, p90 = percentiles_by_bins(x, bins, _QUARTILES_AND_DECILES, counts=counts)
    constant = x.min() == x.max()  # the mean of equal values may round off them: centre exactly
    mu = float(x[0]) if constant else float(np.mean(x))
    centred = x - mu
    squared = centred * centred
    m2 = float(np.mean(squared))
    robust = x[(x >= p10) & (x <= p90)]
    shifted = x + shift
    sum_squares = float(np.dot(shifted, shifted))
    return {
        "Energy": sum_squares,
        "TotalEnergy": voxel_volume * sum_squares,
        "Minimum": float(x.min()),
        "10Percentile": float(p10),
        "90Percentile": float(p90),
        "Maximum": float(x.max()),
        "Mean": mu,
        "Median": float(p50),
        "InterquartileRange": float(q75 - q25),
        "Range": float(x.max() - x.min()),
        "MeanAbsoluteDeviation": float(np.mean(np.abs(centred))),
        "RobustMeanAbsoluteDeviation": (
            0.0
            if constant
            else float(np.mean(np.abs(robust - np.mean(robust))))
            if robust.size
            else float("nan")
        ),
        "RootMeanSquared": float(np.sqrt(sum_squares / x.size)),
        "StandardDeviation": float(np.sqrt(m2)),
        "Skewness": 0.0 if m2 == 0 else float(np.mean(squared * centred) / m2**1.5),
        "Kurtosis": 0.0 if m2 == 0 else float(np.mean(squared * squared) / m2**2),
        "Variance": m2,
    }


def _moments_compiled(
    numeric: ModuleType,
    x: np.ndarray,
    bins: np.ndarray,
    counts: np.ndarray,
    shift: float,
    voxel_volume: float,
) -> dict[str, float] | None:
    """Return ``_moments`` from the C passes: exact order statistics by selection in the bins holding them
    (so the percentiles are numpy's bit for bit), then two passes of sums. ``None`` when ``x`` holds NaN
    (numpy's path handles it)."""
    n = x.size
    virtual, previous, following, ranks = _percentile_ranks(n, _QUARTILES_AND_DECILES)
    ordered = numeric.order_statistics(x, ranks, keys=bins, counts=counts)
    if ordered is None:
        return None
    p10, q25, p50, q75, p90 = _interpolate(ordered, ranks, virtual, previous, following).tolist()
    sums = numeric.firstorder_sums(x, shift, p10, p90)
    smallest, largest = sums["minimum"], sums["maximum"]
    constant = smallest == largest  # as _moments: the centred values are exactly 0
    m2 = 0.0 if constant else sums["centred_2"] / n
    robust = sums["robust_count"]
    return {
        "Energy": sums["shifted_squares"],
        "TotalEnergy": voxel_volume * sums["shifted_squares"],
        "Minimum": smallest,
        "10Percentile": p10,
        "90Percentile": p90,
        "Maximum": largest,
        "Mean": smallest if constant else sums["sum"] / n,
        "Median": p50,
        "InterquartileRange": q75 - q25,
        "Range": largest - smallest,
        "MeanAbsoluteDeviation": 0.0 if constant else sums["absolute_deviation"] / n,
        "RobustMeanAbsoluteDeviation": (
            (0.0 if constant else sums["robust_absolute_deviation"] / robust) if robust else float("nan")
        ),
        "RootMeanSquared": float(np.sqrt(sums["shifted_squares"] / n)),
        "StandardDeviation": float(np.sqrt(m2)),
        "Skewness": 0.0 if m2 == 0 else sums["centred_3"] / n / m2**1.5,
        "Kurtosis": 0.0 if m2 == 0 else sums["centred_4"] / n / m2**2,
        "Variance": m2,
    }
