"""Grey-level discretisation: intensities to bin indices 1..N, by fixed bin width or fixed bin count."""

from __future__ import annotations

import numpy as np

# Values that sit exactly on a bin edge can land a hair below it after the division; this nudge (in
# units of bins) keeps them in the bin they belong to without moving any other value across an edge.
_EDGE_TOLERANCE = 1e-9


def discretise_fixed_bin_width(values: np.ndarray, bin_width: float) -> np.ndarray:
    """Return bin indices (1 = lowest occupied bin) of ``values`` on bins of width ``bin_width``.

    Bin edges are multiples of the bin width, as in PyRadiomics (IBSI starts them at the ROI minimum):

    .. math:: X_{b,i} = \\lfloor X_i / w \\rfloor - \\lfloor \\min(X) / w \\rfloor + 1
    """
    bins = np.floor(np.asarray(values, dtype=np.float64) / bin_width + _EDGE_TOLERANCE)
    return (bins - bins.min() + 1).astype(np.int64)


def discretise_fixed_bin_count(values: np.ndarray, bin_count: int) -> np.ndarray:
    """Return bin indices 1..``bin_count`` of ``values`` on equal bins spanning their range.

    .. math:: X_{b,i} = \\min\\left(\\left\\lfloor N_g \\frac{X_i - X_{min}}{X_{max} - X_{min}}
              \\right\\rfloor + 1,\\; N_g\\right)

    A constant region falls in bin 1.
    """
    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.ones(values.shape, dtype=np.int64)
    bins = np.floor(bin_count * (values - low) / (high - low) + _EDGE_TOLERANCE) + 1
    return np.minimum(bins, bin_count).astype(np.int64)
