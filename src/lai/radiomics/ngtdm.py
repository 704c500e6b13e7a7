"""Neighbourhood grey tone difference matrix (NGTDM) features, IBSI 1 section 3.10.

Each ROI voxel's neighbourhood is the ROI voxels within Chebyshev distance :math:`\\delta` (default 1: up to
26 neighbours in 3D, 8 in plane for 2D and 2.5D), the centre excluded. Voxels with no neighbour in the ROI
are left out (IBSI convention). With :math:`\\bar{X}` a voxel's neighbourhood mean, the NGTDM holds, per
grey level :math:`i`, :math:`n_i` (voxels of level i kept) and :math:`s_i = \\sum |i - \\bar{X}|` over them.
With :math:`N_{v,c} = \\sum_i n_i`, :math:`p_i = n_i / N_{v,c}` and :math:`N_{g,p}` the number of levels
with :math:`p_i > 0` (sums over :math:`i, j` run over those levels only):

==================  ====  ===============================================================================
base tag            IBSI  formula
==================  ====  ===============================================================================
ngt_coarseness      QCDE  coarseness :math:`1 / \\sum_i p_i s_i`
ngt_contrast        65HE  contrast :math:`\\frac{\\sum_{ij} p_i p_j (i-j)^2}{N_{g,p}(N_{g,p}-1)} \\frac{\\sum_i s_i}{N_{v,c}}`
ngt_busyness        NQ30  busyness :math:`\\sum_i p_i s_i / \\sum_{ij} |i p_i - j p_j|`
ngt_complexity      HDEZ  complexity :math:`\\frac{1}{N_{v,c}} \\sum_{ij} |i-j| \\frac{p_i s_i + p_j s_j}{p_i + p_j}`
ngt_strength        1X9X  strength :math:`\\sum_{ij} (p_i + p_j)(i-j)^2 / \\sum_i s_i`
==================  ====  ===============================================================================

A feature whose denominator vanishes is NaN, not a conventional constant: a constant ROI (all
:math:`s_i = 0`, one level) has NaN coarseness, contrast, busyness and strength and complexity 0; a ROI
where no voxel has a neighbour (one voxel) is NaN throughout.

Aggregation: ``"2D"`` one NGTDM per slice (array axis k), features averaged over the slices where they
are defined; ``"2_5D"`` the slices' NGTDMs added; ``"3D"`` one volumetric NGTDM.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.texture import (
    VOLUME_AGGREGATIONS,
    average_features,
    check_aggregation,
    compiled_numeric,
    neighbourhood_sums,
    roi_levels,
    slice_index,
)

__all__ = ["AGGREGATIONS", "FEATURES", "ngtdm_features", "ngtdm_matrix", "ngtdm_matrix_features"]

AGGREGATIONS: tuple[str, ...] = VOLUME_AGGREGATIONS

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("ngt_coarseness", "QCDE", "Coarseness", "ngtdm", "Coarseness"),
    FeatureDefinition("ngt_contrast", "65HE", "Contrast", "ngtdm", "Contrast"),
    FeatureDefinition("ngt_busyness", "NQ30", "Busyness", "ngtdm", "Busyness"),
    FeatureDefinition("ngt_complexity", "HDEZ", "Complexity", "ngtdm", "Complexity"),
    FeatureDefinition("ngt_strength", "1X9X", "Strength", "ngtdm", "Strength"),
)


def ngtdm_matrix_features(s: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """Return the five NGTDM features of a stack of NGTDMs, ``s`` and ``n`` of shape (matrices, N_g).

    Grey levels without voxels (``n = 0``) add nothing, so matrices of fewer levels may be padded with
    zeros to stack them.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n_valid = n.sum(axis=1)
        p = n / n_valid[:, None]
        i = np.arange(1, n.shape[1] + 1, dtype=np.float64)
        present = (p[:, :, None] > 0) & (p[:, None, :] > 0)
        pi, pj = p[:, :, None], p[:, None, :]
        si, sj = s[:, :, None], s[:, None, :]
        squared = ((i[:, None] - i[None, :]) ** 2)[None]
        absolute = np.abs(i[:, None] - i[None, :])[None]
        n_present = (p > 0).sum(axis=1)
        weighted = (p * s).sum(axis=1)
        s_total = s.sum(axis=1)
        weighted_difference = np.where(present, np.abs((i * p)[:, :, None] - (i * p)[:, None, :]), 0.0)
        complexity_terms = np.where(present, absolute * (pi * si + pj * sj) / (pi + pj), 0.0)
        features = {
            "ngt_coarseness": 1.0 / weighted,
            "ngt_contrast": (pi * pj * squared).sum(axis=(1, 2))
            / (n_present * (n_present - 1))
            * s_total
            / n_valid,
            "ngt_busyness": weighted / weighted_difference.sum(axis=(1, 2)),
            "ngt_complexity": complexity_terms.sum(axis=(1, 2)) / n_valid,
            "ngt_strength": np.where(present, (pi + pj) * squared, 0.0).sum(axis=(1, 2)) / s_total,
        }
    return {name: np.where(np.isfinite(value), value, np.nan) for name, value in features.items()}


def ngtdm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    aggregation: str,
    spacing: tuple[float, float, float],
    distance: int = 1,
    **family_options: Any,
) -> dict[str, float]:
    """Return the 5 IBSI NGTDM features {base tag: value} of the ROI ``mask`` of grey levels ``levels``.

    Parameters
    ----------
    levels : integer grey levels 1..n_levels inside the ROI (values outside the mask are ignored), axes (i, j, k).
    mask : boolean ROI of the same shape.
    n_levels : number of grey levels N_g.
    aggregation : ``"2D"``, ``"2_5D"`` or ``"3D"`` (see the module docstring).
    spacing : voxel size in mm; unused, neighbourhoods are defined in voxel steps.
    distance : Chebyshev radius of the neighbourhood (IBSI default 1).

    Examples
    --------
    >>> levels = np.array([[[1], [2]], [[2], [2]]])
    >>> features = ngtdm_features(levels, levels > 0, n_levels=2, aggregation="3D", spacing=(1, 1, 1))
    >>> round(features["ngt_coarseness"], 9)
    1.0
    """
    if family_options:
        msg = f"NGTDM takes only the option 'distance', got {sorted(family_options)}"
        raise TypeError(msg)
    s, n = ngtdm_matrix(levels, mask, n_levels=n_levels, aggregation=aggregation, distance=distance)
    return average_features(ngtdm_matrix_features(s, n))


def ngtdm_matrix(
    levels: np.ndarray, mask: np.ndarray, *, n_levels: int, aggregation: str, distance: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Return the NGTDM ``(s, n)``, each (matrices, N_g): one matrix, or one per slice holding ROI voxels (2D).

    ``s[., i-1]`` sums ``|i - mean of the neighbourhood|`` over the voxels of grey level i that have a
    neighbour in the ROI, ``n[., i-1]`` counts them.
    """
    check_aggregation(aggregation, AGGREGATIONS)
    levels, mask = roi_levels(levels, mask, n_levels)
    in_plane = aggregation != "3D"
    total, count = neighbourhood_sums(levels, mask, distance=distance, in_plane=in_plane)
    n_groups = mask.shape[2] if aggregation == "2D" else 1
    numeric = compiled_numeric()
    if numeric is not None:  # one C pass over the voxels, the same sums as below
        groups = slice_index(mask)[mask] if aggregation == "2D" else None
        s, n = numeric.ngtdm_accumulate(levels[mask], total, count, groups, n_levels, n_groups)
    else:
        has_neighbours = count > 0
        mean = total[has_neighbours] / count[has_neighbours]
        centre = levels[mask][has_neighbours]
        group = slice_index(mask)[mask][has_neighbours] if aggregation == "2D" else 0
        index = group * n_levels + centre - 1
        size = n_groups * n_levels
        s = np.bincount(index, weights=np.abs(centre - mean), minlength=size).reshape(n_groups, n_levels)
        n = np.bincount(index, minlength=size).reshape(n_groups, n_levels).astype(np.float64)
    if aggregation == "2D":
        kept = mask.any(axis=(0, 1))
        s, n = s[kept], n[kept]
    return s, n
