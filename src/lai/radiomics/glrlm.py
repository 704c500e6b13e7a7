"""IBSI grey level run length matrix features (``rlm_*``, IBSI 3.7, code TP0I).

A run is a maximal line of consecutive ROI voxels with the same grey level along one direction; a voxel
outside the ROI ends a run. The run length matrix ``r_ij`` counts the runs of grey level ``i`` and length
``j``. Directions, slices and aggregations (``2D_avg`` ... ``3D_comb``) are those of the co-occurrence
family (see :mod:`lai.radiomics.glcm`; both take them from :mod:`lai.radiomics.texture`): 13 directions in 3D, the 4 in-slice directions in 2D and 2.5D,
slices along the last array axis k.

Runs are found without a loop over voxels and without sorting: for each direction, one reordered copy
of the padded level array (:func:`lai.radiomics.texture.lines_along`) lays every line out contiguously,
lines separated by background; the positions where the level changes cut it into constant segments, and
the segments of a non-zero level are the runs, their lengths the differences of consecutive changes. All matrices of every slice and direction then come from one ``np.bincount``.

Notation (IBSI manual): ``N_s = sum_ij r_ij`` runs, ``r_i. = sum_j r_ij`` runs per grey level,
``r_.j = sum_i r_ij`` runs per length, ``p_ij = r_ij / N_s``; ``N_v`` voxels, counted once per merged
direction (it equals ``sum_ij j r_ij``, as every ROI voxel lies in exactly one run per direction).

Degenerate ROIs: any ROI with a voxel has runs, so every feature has a value (a one-voxel ROI has a single
run of length 1, a constant ROI zero grey level variance); an empty ROI gives NaN for every feature.
"""

from __future__ import annotations

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.texture import (
    DIRECTIONAL_AGGREGATIONS,
    aggregation_dims,
    average_features,
    compiled,
    count_matrix_features,
    direction_steps,
    directions,
    lines_along,
    matrices_for_aggregation,
    padded_roi,
    roi_levels,
)

AGGREGATIONS: tuple[str, ...] = DIRECTIONAL_AGGREGATIONS

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("rlm_sre", "22OV", "Short runs emphasis", "glrlm", "ShortRunEmphasis"),
    FeatureDefinition("rlm_lre", "W4KF", "Long runs emphasis", "glrlm", "LongRunEmphasis"),
    FeatureDefinition("rlm_lgre", "V3SW", "Low grey level run emphasis", "glrlm", "LowGrayLevelRunEmphasis"),
    FeatureDefinition(
        "rlm_hgre", "G3QZ", "High grey level run emphasis", "glrlm", "HighGrayLevelRunEmphasis"
    ),
    FeatureDefinition(
        "rlm_srlge",
        "HTZT",
        "Short run low grey level emphasis",
        "glrlm",
        "ShortRunLowGrayLevelEmphasis",
    ),
    FeatureDefinition(
        "rlm_srhge",
        "GD3A",
        "Short run high grey level emphasis",
        "glrlm",
        "ShortRunHighGrayLevelEmphasis",
    ),
    FeatureDefinition(
        "rlm_lrlge",
        "IVPO",
        "Long run low grey level emphasis",
        "glrlm",
        "LongRunLowGrayLevelEmphasis",
    ),
    FeatureDefinition(
        "rlm_lrhge",
        "3KUM",
        "Long run high grey level emphasis",
        "glrlm",
        "LongRunHighGrayLevelEmphasis",
    ),
    FeatureDefinition("rlm_glnu", "R5YN", "Grey level non-uniformity", "glrlm", "GrayLevelNonUniformity"),
    FeatureDefinition(
        "rlm_glnu_norm",
        "OVBL",
        "Normalised grey level non-uniformity",
        "glrlm",
        "GrayLevelNonUniformityNormalized",
    ),
    FeatureDefinition("rlm_rlnu", "W92Y", "Run length non-uniformity", "glrlm", "RunLengthNonUniformity"),
    FeatureDefinition(
        "rlm_rlnu_norm",
        "IC23",
        "Normalised run length non-uniformity",
        "glrlm",
        "RunLengthNonUniformityNormalized",
    ),
    FeatureDefinition("rlm_r_perc", "9ZK5", "Run percentage", "glrlm", "RunPercentage"),
    FeatureDefinition("rlm_gl_var", "8CE5", "Grey level variance", "glrlm", "GrayLevelVariance"),
    FeatureDefinition("rlm_rl_var", "SXLW", "Run length variance", "glrlm", "RunVariance"),
    FeatureDefinition("rlm_rl_entr", "HJ9O", "Run entropy", "glrlm", "RunEntropy"),
)
"""The 16 IBSI run length features, in the manual's order, with PyRadiomics' names (same definitions)."""


# --- Matrices ---


def run_length_matrices(levels: np.ndarray, mask: np.ndarray, *, n_levels: int, dims: int) -> np.ndarray:
    """Return the run length counts of every slice and direction, shape (S, D, N_g, L).

    For ``dims=2`` one matrix per slice along the last axis (S slices of the ROI's bounding box) and per
    in-slice direction (D = 4); for ``dims=3`` one per 3D direction (S = 1, D = 13). ``L`` is the longest
    run found (1 for an empty ROI). Entry ``[s, d, i-1, j-1]`` counts the runs of level ``i`` and length
    ``j`` along direction ``d`` starting in slice ``s``.
    """
    roi, roi_mask = roi_levels(levels, mask, n_levels)
    offsets = directions(dims)
    n_slices = roi.shape[2] if dims == 2 else 1
    if roi.size == 0:
        return np.zeros((n_slices, len(offsets), n_levels, 1), dtype=np.int64)
    flat, padded_shape = padded_roi(roi, roi_mask)
    steps = direction_steps(dims, padded_shape)
    bound = max(padded_shape)  # no run is longer than the box; longer background segments are clipped
    kernels = compiled()
    if kernels is not None:
        counts = kernels.run_lengths(flat, steps, n_levels, bound, padded_shape[2], n_slices)
    else:
        counts = _run_length_counts(flat, [int(step) for step in steps], padded_shape, n_levels, n_slices)
    # (D, S, level 0..N_g, length 0..bound-1) without the background row and the empty length 0
    matrices = counts.reshape(len(offsets), n_slices, n_levels + 1, bound)[:, :, 1:, 1:].swapaxes(0, 1)
    present = np.flatnonzero(matrices.any(axis=(0, 1, 2)))
    longest = int(present[-1]) + 1 if present.size else 1
    return np.ascontiguousarray(matrices[..., :longest])


def _run_length_counts(
    flat: np.ndarray, steps: list[int], padded_shape: tuple[int, ...], n_levels: int, n_slices: int
) -> np.ndarray:
    """Return the run counts per direction and key as :func:`lai.radiomics.kernels.run_lengths`, in numpy."""
    size = flat.size
    flat = np.concatenate([flat, np.zeros(max(steps), dtype=flat.dtype)])  # background to fill the last row
    bound = max(padded_shape)  # no run is longer than the box; longer background segments are clipped
    per_direction = n_slices * (n_levels + 1) * bound
    counts = np.zeros((len(steps), per_direction), dtype=np.int64)
    for d, step in enumerate(steps):
        lines, rows = lines_along(flat, step, size)
        # the level changes between positions b and b + 1: the array is cut into constant segments,
        # those of a non-zero level are the runs (the array starts and ends with background)
        changes = np.flatnonzero(lines[1:] != lines[:-1])
        first = changes[:-1] + 1
        keys = lines[first].astype(np.intp) * bound + np.minimum(np.diff(changes), bound - 1)
        if n_slices > 1:
            position = (first % rows) * step + first // rows
            keys += np.clip(position % padded_shape[2] - 1, 0, n_slices - 1) * ((n_levels + 1) * bound)
        counts[d] = np.bincount(keys, minlength=per_direction)
    return counts


# --- Features of a stack of run length matrices ---


_AS_COUNT_FEATURE = {
    "rlm_sre": "small_emphasis",  # sum_j r_.j / j^2 / N_s
    "rlm_lre": "large_emphasis",  # sum_j r_.j j^2 / N_s
    "rlm_lgre": "low_grey_emphasis",  # sum_i r_i. / i^2 / N_s
    "rlm_hgre": "high_grey_emphasis",  # sum_i r_i. i^2 / N_s
    "rlm_srlge": "small_low_grey_emphasis",  # sum_ij r_ij / (i^2 j^2) / N_s
    "rlm_srhge": "small_high_grey_emphasis",  # sum_ij r_ij i^2 / j^2 / N_s
    "rlm_lrlge": "large_low_grey_emphasis",  # sum_ij r_ij j^2 / i^2 / N_s
    "rlm_lrhge": "large_high_grey_emphasis",  # sum_ij r_ij i^2 j^2 / N_s
    "rlm_glnu": "grey_non_uniformity",  # sum_i r_i.^2 / N_s
    "rlm_glnu_norm": "grey_non_uniformity_norm",  # sum_i r_i.^2 / N_s^2
    "rlm_rlnu": "count_non_uniformity",  # sum_j r_.j^2 / N_s
    "rlm_rlnu_norm": "count_non_uniformity_norm",  # sum_j r_.j^2 / N_s^2
    "rlm_r_perc": "percentage",  # N_s / N_v
    "rlm_gl_var": "grey_variance",  # sum_ij (i - mu)^2 p_ij, mu = sum_ij i p_ij
    "rlm_rl_var": "count_variance",  # sum_ij (j - mu)^2 p_ij, mu = sum_ij j p_ij
    "rlm_rl_entr": "count_entropy",  # -sum_ij p_ij log2 p_ij
}
"""Each run length feature (IBSI's formula beside it) as the count-matrix feature of the same formula
(:data:`lai.radiomics.texture.COUNT_FEATURES`), the run length read as the count."""


def glrlm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    aggregation: str,
    spacing: tuple[float, float, float],
) -> dict[str, float]:
    """Return the 16 IBSI run length features of the ROI, keyed by base tag (``rlm_sre``, ...).

    Parameters
    ----------
    levels
        Integer grey levels ``1..n_levels`` (values outside ``mask`` are ignored), axes (i, j, k) with k the
        slice axis of the 2D and 2.5D aggregations.
    mask
        Boolean ROI of the same shape.
    n_levels
        Number of grey levels ``N_g``, empty levels included.
    aggregation
        One of :data:`AGGREGATIONS`.
    spacing
        Voxel size in mm; unused, as runs are counted in voxels (part of the common family API).

    Returns
    -------
    dict
        ``{base_tag: value}`` in :data:`FEATURES` order; NaN for every feature of an empty ROI.

    Examples
    --------
    >>> import numpy as np
    >>> levels = np.array([1, 1, 2, 2, 2]).reshape(5, 1, 1)
    >>> glrlm_features(levels, levels > 0, n_levels=2, aggregation="2D_comb", spacing=(1.0, 1.0, 1.0))[
    ...     "rlm_r_perc"
    ... ]
    0.85
    """
    del spacing
    matrices = run_length_matrices(levels, mask, n_levels=n_levels, dims=aggregation_dims(aggregation))
    stack = matrices_for_aggregation(matrices, aggregation)
    if len(stack) == 0:
        return {f.base_tag: float("nan") for f in FEATURES}
    return average_features(glrlm_matrix_features(stack))


def glrlm_matrix_features(stack: np.ndarray) -> dict[str, np.ndarray]:
    """Return the 16 run length features (by base tag) of each matrix of a stack (M, N_g, L), one value each.

    Rows of absent grey levels and columns of absent lengths add nothing, so matrices of different sizes
    may be padded with zeros to stack them. A run length matrix is a count matrix whose counts are the
    lengths 1..L, its voxels ``N_v = sum_j j r_.j``: the formulas are
    :func:`lai.radiomics.texture.count_matrix_features` (one C pass per matrix with the extension).
    """
    r = np.asarray(stack, dtype=np.float64)
    lengths = np.arange(1, r.shape[2] + 1, dtype=np.float64)
    columns = count_matrix_features(r, lengths, r.sum(axis=1) @ lengths)
    return {f.base_tag: columns[_AS_COUNT_FEATURE[f.base_tag]] for f in FEATURES}
