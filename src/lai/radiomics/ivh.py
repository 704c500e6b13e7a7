"""IBSI intensity-volume histogram features (``ivh_*``): volume and intensity fractions of the ROI.

The IVH pairs each intensity ``i`` of a grid ``X_min, X_min + w, ..., X_max`` with the fraction of ROI
voxels at or above it, ``nu_i = |{X >= i}| / N``, and with its intensity fraction
``gamma_i = (i - X_min) / (X_max - X_min)``. Definitions and settings follow the IBSI 1 reference manual
(Zwanenburg et al., Radiology 2020; arXiv:1612.07003), "Intensity-volume histogram features":

- fixed bin number (``levels`` with ``n_levels``): the grid is the levels ``1..N_g``, ``X_min = 1``,
  ``X_max = N_g``;
- fixed bin size (``levels`` with ``bin_width`` and ``minimum``, the lower bound of the discretisation):
  a level ``k`` stands for its bin centre ``minimum + (k - 1/2) w``, the grid runs over the centres of
  bins 1..max level, or 1..the level of ``maximum`` when given;
- intensities used as they are, on a grid of step ``bin_width`` (the digital phantom: ``bin_width=1``),
  from ``X_min`` = ``minimum`` (default the ROI minimum) to ``X_max`` = ``maximum`` (default the ROI
  maximum);
- continuous intensities (nothing but ``values``): the grid is the distinct ROI intensities.

With a re-segmentation range the manual's IVH range is the range itself: pass its bounds as ``minimum``
and ``maximum``, so that ``gamma`` is the fraction of the range, not of the ROI's own intensities.

A constant ROI (``X_max = X_min``) has no intensity fractions: every feature that needs them is NaN.
"""

from __future__ import annotations

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.discretisation import discretise_fixed_bin_size

AGGREGATIONS: tuple[str, ...] = ()

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("ivh_v10", "BC2M", "Volume fraction at 10% intensity", "ivh"),
    FeatureDefinition("ivh_v90", "BC2M", "Volume fraction at 90% intensity", "ivh"),
    FeatureDefinition("ivh_i10", "GBPN", "Intensity at 10% volume", "ivh"),
    FeatureDefinition("ivh_i90", "GBPN", "Intensity at 90% volume", "ivh"),
    FeatureDefinition(
        "ivh_diff_v10_v90", "DDTU", "Volume fraction difference between 10% and 90% intensity", "ivh"
    ),
    FeatureDefinition("ivh_diff_i10_i90", "CNV2", "Intensity difference between 10% and 90% volume", "ivh"),
    FeatureDefinition("ivh_auc", "9CMM", "Area under the IVH curve", "ivh"),
)
"""The 7 IBSI intensity-volume histogram features of the reference set, in the manual's order."""


def _grid(
    values: np.ndarray,
    levels: np.ndarray | None,
    n_levels: int | None,
    bin_width: float | None,
    minimum: float | None,
    maximum: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the voxel intensities and the ascending IVH intensity grid for the chosen setting."""
    if maximum is not None and bin_width is None:
        msg = f"maximum={maximum} ends a grid of step bin_width; give bin_width (fixed bin size or step)"
        raise ValueError(msg)
    if levels is not None and n_levels is not None:
        return np.asarray(levels, np.float64).ravel(), np.arange(1.0, n_levels + 1.0)
    if levels is not None:
        if bin_width is None or minimum is None:
            msg = "IVH of discretised levels needs n_levels (fixed bin number) or bin_width and minimum"
            raise ValueError(msg)
        k = np.asarray(levels, np.float64).ravel()
        top = (
            k.max()
            if maximum is None
            else discretise_fixed_bin_size(np.array([maximum]), bin_width, minimum)[0][0]
        )
        if k.max() > top:
            msg = f"ROI levels reach {k.max():g}, beyond the level {top:g} of maximum={maximum}"
            raise ValueError(msg)
        centres = minimum + (np.arange(1.0, top + 1.0) - 0.5) * bin_width
        return minimum + (k - 0.5) * bin_width, centres
    x = np.asarray(values, np.float64).ravel()
    if bin_width is not None:
        low = x.min() if minimum is None else minimum
        high = x.max() if maximum is None else maximum
        if x.size and (x.min() < low or x.max() > high):
            msg = f"ROI intensities {x.min():g}..{x.max():g} fall outside the IVH range [{low:g}, {high:g}]"
            raise ValueError(msg)
        steps = np.floor((high - low) / bin_width + 1e-9)
        return x, low + np.arange(0.0, steps + 1.0) * bin_width
    return x, np.unique(x)


def ivh_features(
    values: np.ndarray,
    *,
    levels: np.ndarray | None = None,
    n_levels: int | None = None,
    bin_width: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> dict[str, float]:
    """Return the 7 IBSI intensity-volume histogram features of an ROI, keyed by base tag.

    Parameters
    ----------
    values
        Intensities of the ROI voxels (used when ``levels`` is None).
    levels
        Discretised grey levels of the ROI voxels (1..N_g), when the IVH is built on a discretisation.
    n_levels
        Number of levels of a fixed-bin-number discretisation.
    bin_width
        Bin width of a fixed-bin-size discretisation, or the grid step for intensities used as they are.
    minimum
        Lower bound of a fixed-bin-size discretisation, or the grid start (default: the ROI minimum).
    maximum
        Upper end of the IVH range with ``bin_width``: the re-segmentation range's upper bound, whose bin
        (fixed bin size) or grid point (intensities as they are) ends the grid (default: the ROI's
        highest level or intensity).

    Returns
    -------
    dict
        ``ivh_v10``, ``ivh_v90`` (BC2M) ``V_x = |{gamma >= x}| / N``, the volume fraction with at least
        intensity fraction ``x``;
        ``ivh_i10``, ``ivh_i90`` (GBPN) ``I_x = min {i in grid : nu_i <= x}``, the lowest grid intensity
        reached by at most a fraction ``x`` of the volume (NaN if no grid intensity qualifies);
        ``ivh_diff_v10_v90`` (DDTU) ``V_10 - V_90``; ``ivh_diff_i10_i90`` (CNV2) ``I_10 - I_90``;
        ``ivh_auc`` (9CMM) the trapezoidal area under ``nu`` against ``gamma`` over the grid.

    Examples
    --------
    >>> ivh_features(np.array([1.0, 1.0, 2.0, 3.0]), bin_width=1.0)["ivh_v90"]
    0.25
    """
    x, grid = _grid(values, levels, n_levels, bin_width, minimum, maximum)
    if x.size == 0:
        msg = "IVH features need at least one ROI voxel, got 0"
        raise ValueError(msg)
    low, high = grid[0], grid[-1]
    # nu_i = fraction of voxels with X >= i, from one sort rather than a comparison per grid point
    nu = 1.0 - np.searchsorted(np.sort(x), grid, side="left") / x.size

    def intensity_at(fraction: float) -> float:
        reached = np.flatnonzero(nu <= fraction)
        return float(grid[reached[0]]) if reached.size else float("nan")

    if high > low:
        gamma = (grid - low) / (high - low)
        v10, v90 = (float(np.mean(x >= low + f * (high - low))) for f in (0.1, 0.9))
        auc = float(np.trapezoid(nu, gamma))
    else:
        v10 = v90 = auc = float("nan")
    i10, i90 = intensity_at(0.1), intensity_at(0.9)
    return {
        "ivh_v10": v10,
        "ivh_v90": v90,
        "ivh_i10": i10,
        "ivh_i90": i90,
        "ivh_diff_v10_v90": v10 - v90,
        "ivh_diff_i10_i90": i10 - i90,
        "ivh_auc": auc,
    }
