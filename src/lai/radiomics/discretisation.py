"""Grey-level discretisation: intensities to bin indices 1..N, by fixed bin width or fixed bin count.

``discretise_fixed_bin_width`` and ``discretise_fixed_bin_count`` serve the PyRadiomics-style pipeline
(bin edges at multiples of the width); ``discretise_fixed_bin_number`` and ``discretise_fixed_bin_size``
follow the IBSI 1 reference manual (arXiv:1612.07003, section 2.7) and also return the number of grey
levels ``N_g`` the texture matrices span.
"""

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


def discretise_fixed_bin_number(values: np.ndarray, n_bins: int) -> tuple[np.ndarray, int]:
    """Return IBSI fixed-bin-number grey levels 1..``n_bins`` of ``values`` and ``N_g = n_bins``.

    IBSI 1 reference manual, "Fixed bin number" (arXiv:1612.07003, section 2.7):

    .. math:: X_{d,k} = \\begin{cases}
              \\left\\lfloor N_g \\frac{X_{gl,k} - X_{gl,min}}{X_{gl,max} - X_{gl,min}} \\right\\rfloor + 1
              & X_{gl,k} < X_{gl,max} \\\\
              N_g & X_{gl,k} = X_{gl,max} \\end{cases}

    with ``X_gl,min`` and ``X_gl,max`` the lowest and highest intensity of the ROI (``values``). The
    number of levels is ``n_bins`` whether or not every bin is occupied; a constant ROI falls in bin 1.

    Examples
    --------
    >>> discretise_fixed_bin_number(np.array([0.0, 0.5, 1.0, 2.0]), 4)
    (array([1, 2, 3, 4]), 4)
    """
    if int(n_bins) != n_bins or n_bins < 1:
        msg = f"Fixed bin number discretisation needs a whole number of bins >= 1, got n_bins={n_bins!r}"
        raise ValueError(msg)
    n_bins = int(n_bins)
    levels = discretise_fixed_bin_count(_roi_values(values, "fixed bin number"), n_bins)
    return levels, n_bins


def discretise_fixed_bin_size(
    values: np.ndarray, bin_width: float, minimum: float | None = None, *, maximum: float | None = None
) -> tuple[np.ndarray, int]:
    """Return IBSI fixed-bin-size grey levels of ``values`` and their number of levels ``N_g``.

    IBSI 1 reference manual, "Fixed bin size" (arXiv:1612.07003, section 2.7): bins of width ``w_b``
    start at ``X_gl,min``, the lower bound of the re-segmentation range when one is set (``minimum``,
    recommended), else the lowest ROI intensity - not at multiples of the bin width as in PyRadiomics:

    .. math:: X_{d,k} = \\left\\lfloor \\frac{X_{gl,k} - X_{gl,min}}{w_b} \\right\\rfloor + 1

    ``N_g`` is the level of ``maximum`` (the upper bound of the re-segmentation range) when given, so
    that every ROI of a study shares one grey-level scale, else the highest level in the ROI. Values
    below ``minimum`` or above ``maximum`` are refused: re-segment the ROI to the range first.

    Examples
    --------
    The IBSI CT configuration A (range [-500, 400] HU, 25 HU bins):

    >>> discretise_fixed_bin_size(np.array([-500.0, -400.0, 0.0, 399.0]), 25.0, -500.0, maximum=400.0)
    (array([ 1,  5, 21, 36]), 37)
    """
    if not bin_width > 0:
        msg = f"Fixed bin size discretisation needs a bin width > 0, got bin_width={bin_width!r}"
        raise ValueError(msg)
    x = _roi_values(values, "fixed bin size")
    low = float(x.min()) if minimum is None else float(minimum)
    if x.min() < low or (maximum is not None and x.max() > maximum):
        msg = (
            f"ROI intensities {x.min():g}..{x.max():g} fall outside the discretisation range "
            f"[{low:g}, {maximum if maximum is not None else 'inf'}]: re-segment the ROI to the range first"
        )
        raise ValueError(msg)
    levels = (np.floor((x - low) / bin_width + _EDGE_TOLERANCE) + 1).astype(np.int64)
    top = levels.max() if maximum is None else np.floor((maximum - low) / bin_width + _EDGE_TOLERANCE) + 1
    return levels, int(top)


def _roi_values(values: np.ndarray, method: str) -> np.ndarray:
    """Return ``values`` as float64, refusing an empty or non-finite ROI with the method's name."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        msg = f"{method} discretisation needs at least one value, all finite (got {x.size} values)"
        raise ValueError(msg)
    return x
