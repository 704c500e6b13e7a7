"""Grey level dependence matrix (GLDM) features, in PyRadiomics' definitions and names (no IBSI family).

A neighbour of a voxel (Chebyshev distance ``distance``, 26 neighbours in 3D, 8 in plane) *depends* on it
when both lie in the ROI and their grey levels differ by at most ``alpha`` (PyRadiomics' ``gldm_a``,
default 0). The dependence count ``j`` of a voxel is its number of dependent neighbours plus one for the
voxel itself, so ``j >= 1``. The GLDM ``P(i, j)`` counts ROI voxels of grey level ``i`` and dependence
``j``; with ``N_z = sum_ij P(i, j)`` (the number of ROI voxels) and ``p(i, j) = P(i, j) / N_z``:

==========================================  ===================================================
PyRadiomics name                            formula
==========================================  ===================================================
SmallDependenceEmphasis                     :math:`\\sum_{ij} p(i,j) / j^2`
LargeDependenceEmphasis                     :math:`\\sum_{ij} p(i,j) j^2`
GrayLevelNonUniformity                      :math:`\\sum_i (\\sum_j P(i,j))^2 / N_z`
DependenceNonUniformity                     :math:`\\sum_j (\\sum_i P(i,j))^2 / N_z`
DependenceNonUniformityNormalized           :math:`\\sum_j (\\sum_i P(i,j))^2 / N_z^2`
GrayLevelVariance                           :math:`\\sum_{ij} p(i,j) (i - \\mu_i)^2`, :math:`\\mu_i = \\sum_{ij} p(i,j) i`
DependenceVariance                          :math:`\\sum_{ij} p(i,j) (j - \\mu_j)^2`, :math:`\\mu_j = \\sum_{ij} p(i,j) j`
DependenceEntropy                           :math:`-\\sum_{ij} p(i,j) \\log_2 p(i,j)`
LowGrayLevelEmphasis                        :math:`\\sum_{ij} p(i,j) / i^2`
HighGrayLevelEmphasis                       :math:`\\sum_{ij} p(i,j) i^2`
SmallDependenceLowGrayLevelEmphasis         :math:`\\sum_{ij} p(i,j) / (i^2 j^2)`
SmallDependenceHighGrayLevelEmphasis        :math:`\\sum_{ij} p(i,j) i^2 / j^2`
LargeDependenceLowGrayLevelEmphasis         :math:`\\sum_{ij} p(i,j) j^2 / i^2`
LargeDependenceHighGrayLevelEmphasis        :math:`\\sum_{ij} p(i,j) i^2 j^2`
==========================================  ===================================================

This is IBSI's NGLDM with the coarseness ``alpha`` (:mod:`lai.radiomics.ngldm`): the dependence counts
and the formulas of the count-matrix families come from :mod:`lai.radiomics.texture`
(:func:`~lai.radiomics.texture.dependence_counts`, :func:`~lai.radiomics.texture.count_matrix_features`). With ``in_plane=True`` (PyRadiomics' ``force2D``) the neighbourhood lies in the
slice (last array axis) and every slice's voxels add to one matrix.
"""

from __future__ import annotations

import numpy as np

from lai.radiomics.texture import count_matrices, count_matrix_features, dependence_per_voxel, roi_levels

FEATURES: dict[str, str] = {
    "SmallDependenceEmphasis": "small_emphasis",
    "LargeDependenceEmphasis": "large_emphasis",
    "GrayLevelNonUniformity": "grey_non_uniformity",
    "DependenceNonUniformity": "count_non_uniformity",
    "DependenceNonUniformityNormalized": "count_non_uniformity_norm",
    "GrayLevelVariance": "grey_variance",
    "DependenceVariance": "count_variance",
    "DependenceEntropy": "count_entropy",
    "LowGrayLevelEmphasis": "low_grey_emphasis",
    "HighGrayLevelEmphasis": "high_grey_emphasis",
    "SmallDependenceLowGrayLevelEmphasis": "small_low_grey_emphasis",
    "SmallDependenceHighGrayLevelEmphasis": "small_high_grey_emphasis",
    "LargeDependenceLowGrayLevelEmphasis": "large_low_grey_emphasis",
    "LargeDependenceHighGrayLevelEmphasis": "large_high_grey_emphasis",
}
"""PyRadiomics GLDM feature name -> the count-matrix formula computing it (see the module docstring)."""


def dependence_matrix(
    levels: np.ndarray, mask: np.ndarray, *, n_levels: int, alpha: int = 0, distance: int = 1, in_plane: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return (P, dependence counts): ``P[i-1, c]`` voxels of grey level i with dependence ``counts[c]``.

    Only dependence counts that occur get a column. ``levels`` are 1..n_levels inside ``mask``.
    """
    levels, mask = roi_levels(levels, mask, n_levels)
    counts = dependence_per_voxel(levels, mask, alpha=alpha, distance=distance, in_plane=in_plane)
    grey = levels[mask]
    matrices, values = count_matrices(np.zeros_like(grey), grey, counts, 1, n_levels)
    return matrices[0], values


def gldm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    alpha: int = 0,
    distance: int = 1,
    in_plane: bool = False,
) -> dict[str, float]:
    """Return the 14 PyRadiomics GLDM features {name: value} of the ROI ``mask`` of grey levels ``levels``.

    Parameters
    ----------
    levels : integer grey levels 1..n_levels inside the ROI (values outside are ignored), axes (i, j, k).
    mask : boolean ROI of the same shape.
    n_levels : number of grey levels N_g.
    alpha : largest grey level difference of a dependent neighbour (PyRadiomics ``gldm_a``).
    distance : Chebyshev radius of the neighbourhood.
    in_plane : neighbourhoods within the slice (array axis k), as PyRadiomics' ``force2D``.

    Examples
    --------
    >>> levels = np.array([[[1], [1]], [[2], [1]]])
    >>> gldm_features(levels, levels > 0, n_levels=2)["LargeDependenceEmphasis"]
    7.0
    """
    matrix, values = dependence_matrix(
        levels, mask, n_levels=n_levels, alpha=alpha, distance=distance, in_plane=in_plane
    )
    computed = count_matrix_features(matrix[None], values, np.array([matrix.sum()]))
    return {name: float(computed[formula][0]) for name, formula in FEATURES.items()}
