"""IBSI grey level co-occurrence matrix features (``cm_*``, IBSI 3.6, code LFYI).

A co-occurrence matrix counts pairs of ROI voxels at Chebyshev distance ``distance`` along one direction:
``M[i, j]`` is the number of pairs whose first voxel has grey level ``i`` and second ``j``. Pairs are taken
both ways, so the matrix is symmetric. 3D features use the 13 directions of a voxel's 26-neighbourhood
(each direction and its opposite once); 2D and 2.5D features use the 4 directions in the slice (array axes
i, j), with slices along the last array axis k. A pair counts only when both voxels lie in the ROI.

Every matrix of the ROI (each slice and direction) is counted by one ``np.bincount`` in
:func:`cooccurrence_matrices`; :func:`lai.radiomics.texture.matrices_for_aggregation` then merges them as
the IBSI aggregation asks, and each feature is evaluated on the whole stack of merged matrices at once:

- ``2D_avg``: a matrix per slice and direction, features averaged over all of them;
- ``2D_comb``: the 4 directions of a slice summed, features averaged over slices;
- ``2_5D_avg``: a direction's matrices summed over slices, features averaged over the 4 directions;
- ``2_5D_comb``: one matrix for all slices and directions;
- ``3D_avg``: a matrix per 3D direction, features averaged over the 13;
- ``3D_comb``: the 13 matrices summed into one.

Notation (IBSI manual): ``p_ij = M_ij / sum(M)`` for grey levels ``i, j = 1..N_g``; marginals
``p_i. = sum_j p_ij`` and ``p_.j = sum_i p_ij`` (equal, the matrix being symmetric), with means
``mu_i, mu_j`` and standard deviations ``sigma_i, sigma_j``; diagonal and cross-diagonal probabilities
``p_{i-j}(k) = sum_{|i-j|=k} p_ij`` (``k = 0..N_g-1``) and ``p_{i+j}(k) = sum_{i+j=k} p_ij``
(``k = 2..2 N_g``). Entropies use ``log2``.

Degenerate ROIs give NaN, not warnings: a matrix without pairs (a one-voxel ROI, or a slice with one
voxel in 2D) is left out of the average, and when no matrix has a pair every feature is NaN. A ROI of one
grey level has ``sigma_i = 0`` and ``HX = 0``, so correlation and the first information correlation are
NaN (0/0); the other features have values. NaN features of single matrices are left out of the average.

The directions, the merging of matrices for each aggregation and the NaN conventions are shared with the
run length family (:mod:`lai.radiomics.texture`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.texture import (
    DIRECTIONAL_AGGREGATIONS,
    aggregation_dims,
    average_features,
    directions,
    entropy,
    matrices_for_aggregation,
    roi_levels,
    safe_divide,
)

AGGREGATIONS: tuple[str, ...] = DIRECTIONAL_AGGREGATIONS

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("cm_joint_max", "GYBY", "Joint maximum", "glcm", "MaximumProbability"),
    FeatureDefinition("cm_joint_avg", "60VM", "Joint average", "glcm", "JointAverage"),
    FeatureDefinition("cm_joint_var", "UR99", "Joint variance", "glcm", "SumSquares"),
    FeatureDefinition("cm_joint_entr", "TU9B", "Joint entropy", "glcm", "JointEntropy"),
    FeatureDefinition("cm_diff_avg", "TF7R", "Difference average", "glcm", "DifferenceAverage"),
    FeatureDefinition("cm_diff_var", "D3YU", "Difference variance", "glcm", "DifferenceVariance"),
    FeatureDefinition("cm_diff_entr", "NTRS", "Difference entropy", "glcm", "DifferenceEntropy"),
    FeatureDefinition("cm_sum_avg", "ZGXS", "Sum average", "glcm", "SumAverage"),
    FeatureDefinition("cm_sum_var", "OEEB", "Sum variance", "glcm"),
    FeatureDefinition("cm_sum_entr", "P6QZ", "Sum entropy", "glcm", "SumEntropy"),
    FeatureDefinition("cm_energy", "8ZQL", "Angular second moment", "glcm", "JointEnergy"),
    FeatureDefinition("cm_contrast", "ACUI", "Contrast", "glcm", "Contrast"),
    FeatureDefinition("cm_dissimilarity", "8S9J", "Dissimilarity", "glcm"),
    FeatureDefinition("cm_inv_diff", "IB1Z", "Inverse difference", "glcm", "Id"),
    FeatureDefinition("cm_inv_diff_norm", "NDRX", "Normalised inverse difference", "glcm", "Idn"),
    FeatureDefinition("cm_inv_diff_mom", "WF0Z", "Inverse difference moment", "glcm", "Idm"),
    FeatureDefinition("cm_inv_diff_mom_norm", "1QCO", "Normalised inverse difference moment", "glcm", "Idmn"),
    FeatureDefinition("cm_inv_var", "E8JP", "Inverse variance", "glcm", "InverseVariance"),
    FeatureDefinition("cm_corr", "NI2N", "Correlation", "glcm", "Correlation"),
    FeatureDefinition("cm_auto_corr", "QWB0", "Autocorrelation", "glcm", "Autocorrelation"),
    FeatureDefinition("cm_clust_tend", "DG8W", "Cluster tendency", "glcm", "ClusterTendency"),
    FeatureDefinition("cm_clust_shade", "7NFM", "Cluster shade", "glcm", "ClusterShade"),
    FeatureDefinition("cm_clust_prom", "AE86", "Cluster prominence", "glcm", "ClusterProminence"),
    FeatureDefinition("cm_info_corr1", "R8DG", "First measure of information correlation", "glcm", "Imc1"),
    FeatureDefinition("cm_info_corr2", "JN9H", "Second measure of information correlation", "glcm", "Imc2"),
)
"""The 25 IBSI co-occurrence features, in the manual's order. PyRadiomics dropped sum variance (equal to
cluster tendency) and dissimilarity (equal to difference average), so those carry no PyRadiomics name;
PyRadiomics' SumSquares is IBSI's joint variance."""


# --- Matrices ---


def cooccurrence_matrices(
    levels: np.ndarray, mask: np.ndarray, *, n_levels: int, dims: int, distance: int = 1
) -> np.ndarray:
    """Return the symmetric co-occurrence counts of every slice and direction, shape (S, D, N_g, N_g).

    For ``dims=2`` there is one matrix per slice along the last axis (S slices of the ROI's bounding box)
    and per in-slice direction (D = 4); for ``dims=3`` one per 3D direction (S = 1, D = 13). Entry
    ``[s, d, i-1, j-1]`` counts the ROI voxel pairs ``(x, x + distance * v_d)`` and ``(x + distance * v_d, x)``
    with levels ``(i, j)`` and ``x`` in slice ``s``. All matrices come from a single ``np.bincount``.
    """
    if distance < 1:
        msg = f"distance must be a positive integer, got {distance}"
        raise ValueError(msg)
    roi, _ = roi_levels(levels, mask, n_levels)
    offsets = directions(dims) * distance
    n_slices = roi.shape[2] if dims == 2 else 1
    padded = np.pad(roi, distance)
    shape = roi.shape
    first = padded[tuple(slice(distance, distance + n) for n in shape)]
    slice_index = np.broadcast_to(np.arange(shape[2]) if dims == 2 else np.zeros(1, np.intp), shape)
    keys = []
    for d, offset in enumerate(offsets):
        second = padded[
            tuple(slice(distance + o, distance + o + n) for o, n in zip(offset, shape, strict=True))
        ]
        pair = (first > 0) & (second > 0)
        keys.append(
            ((slice_index[pair] * len(offsets) + d) * n_levels + first[pair] - 1) * n_levels
            + second[pair]
            - 1
        )
    counts = np.bincount(
        np.concatenate(keys) if keys else np.zeros(0, np.intp),
        minlength=n_slices * len(offsets) * n_levels * n_levels,
    ).reshape(n_slices, len(offsets), n_levels, n_levels)
    return counts + counts.swapaxes(-1, -2)


# --- Features, each evaluated on a stack of normalised matrices ---


@dataclass(frozen=True)
class _Cooccurrence:
    """A stack of M normalised co-occurrence matrices and the sums every feature shares."""

    p: np.ndarray  # (M, N_g, N_g) joint probabilities p_ij
    i: np.ndarray  # (N_g, 1) grey levels along rows
    j: np.ndarray  # (1, N_g) grey levels along columns
    p_i: np.ndarray  # (M, N_g) row marginal p_i.
    p_j: np.ndarray  # (M, N_g) column marginal p_.j
    mu_i: np.ndarray  # (M,)
    mu_j: np.ndarray  # (M,)
    p_diff: np.ndarray  # (M, N_g) p_{i-j}(k), k = 0..N_g-1
    p_sum: np.ndarray  # (M, 2 N_g - 1) p_{i+j}(k), k = 2..2 N_g

    @classmethod
    def of(cls, counts: np.ndarray) -> _Cooccurrence:
        n = counts.shape[-1]
        p = counts / counts.sum(axis=(1, 2), keepdims=True)
        grey = np.arange(1, n + 1, dtype=float)
        i, j = grey[:, None], grey[None, :]
        p_i, p_j = p.sum(axis=2), p.sum(axis=1)
        diff = np.abs(i - j).astype(np.intp)
        total = (i + j - 2).astype(np.intp)
        return cls(
            p, i, j, p_i, p_j, p_i @ grey, p_j @ grey, _bin_sums(p, diff, n), _bin_sums(p, total, 2 * n - 1)
        )

    def sum_ij(self, weights: np.ndarray) -> np.ndarray:
        """``sum_ij w_ij p_ij`` per matrix."""
        return (self.p * weights).sum(axis=(1, 2))

    @property
    def k_diff(self) -> np.ndarray:
        return np.arange(self.p.shape[-1], dtype=float)

    @property
    def k_sum(self) -> np.ndarray:
        return np.arange(2, 2 * self.p.shape[-1] + 1, dtype=float)

    @property
    def sigma_i(self) -> np.ndarray:
        grey = self.i[:, 0]
        return np.sqrt(((grey[None, :] - self.mu_i[:, None]) ** 2 * self.p_i).sum(axis=1))

    @property
    def sigma_j(self) -> np.ndarray:
        grey = self.j[0]
        return np.sqrt(((grey[None, :] - self.mu_j[:, None]) ** 2 * self.p_j).sum(axis=1))

    def cluster_moment(self, power: int) -> np.ndarray:
        """``sum_ij (i + j - mu_i - mu_j)^power p_ij``."""
        centred = self.i[None] + self.j[None] - (self.mu_i + self.mu_j)[:, None, None]
        return (centred**power * self.p).sum(axis=(1, 2))


def _bin_sums(p: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    """Return ``out[m, k] = sum of p[m, i, j] over the cells with bins[i, j] == k``, shape (M, n_bins)."""
    keys = np.arange(len(p))[:, None, None] * n_bins + bins[None]
    return np.bincount(keys.ravel(), weights=p.ravel(), minlength=len(p) * n_bins).reshape(len(p), n_bins)


def joint_max(c: _Cooccurrence) -> np.ndarray:
    """Joint maximum (GYBY): ``max_ij p_ij``."""
    return c.p.max(axis=(1, 2))


def joint_avg(c: _Cooccurrence) -> np.ndarray:
    """Joint average (60VM): ``mu = sum_ij i p_ij``."""
    return c.mu_i


def joint_var(c: _Cooccurrence) -> np.ndarray:
    """Joint variance (UR99): ``sum_ij (i - mu)^2 p_ij`` with ``mu`` the joint average."""
    return c.sum_ij((c.i[None] - c.mu_i[:, None, None]) ** 2)


def joint_entr(c: _Cooccurrence) -> np.ndarray:
    """Joint entropy (TU9B): ``-sum_ij p_ij log2 p_ij``."""
    return entropy(c.p, (1, 2))


def diff_avg(c: _Cooccurrence) -> np.ndarray:
    """Difference average (TF7R): ``mu_d = sum_k k p_{i-j}(k)``."""
    return c.p_diff @ c.k_diff


def diff_var(c: _Cooccurrence) -> np.ndarray:
    """Difference variance (D3YU): ``sum_k (k - mu_d)^2 p_{i-j}(k)``."""
    return ((c.k_diff[None] - diff_avg(c)[:, None]) ** 2 * c.p_diff).sum(axis=1)


def diff_entr(c: _Cooccurrence) -> np.ndarray:
    """Difference entropy (NTRS): ``-sum_k p_{i-j}(k) log2 p_{i-j}(k)``."""
    return entropy(c.p_diff, (1,))


def sum_avg(c: _Cooccurrence) -> np.ndarray:
    """Sum average (ZGXS): ``mu_s = sum_k k p_{i+j}(k)``."""
    return c.p_sum @ c.k_sum


def sum_var(c: _Cooccurrence) -> np.ndarray:
    """Sum variance (OEEB): ``sum_k (k - mu_s)^2 p_{i+j}(k)``."""
    return ((c.k_sum[None] - sum_avg(c)[:, None]) ** 2 * c.p_sum).sum(axis=1)


def sum_entr(c: _Cooccurrence) -> np.ndarray:
    """Sum entropy (P6QZ): ``-sum_k p_{i+j}(k) log2 p_{i+j}(k)``."""
    return entropy(c.p_sum, (1,))


def energy(c: _Cooccurrence) -> np.ndarray:
    """Angular second moment (8ZQL): ``sum_ij p_ij^2``."""
    return (c.p**2).sum(axis=(1, 2))


def contrast(c: _Cooccurrence) -> np.ndarray:
    """Contrast (ACUI): ``sum_ij (i - j)^2 p_ij``."""
    return c.sum_ij((c.i - c.j) ** 2)


def dissimilarity(c: _Cooccurrence) -> np.ndarray:
    """Dissimilarity (8S9J): ``sum_ij |i - j| p_ij``."""
    return c.sum_ij(np.abs(c.i - c.j))


def inv_diff(c: _Cooccurrence) -> np.ndarray:
    """Inverse difference (IB1Z): ``sum_ij p_ij / (1 + |i - j|)``."""
    return c.sum_ij(1.0 / (1.0 + np.abs(c.i - c.j)))


def inv_diff_norm(c: _Cooccurrence) -> np.ndarray:
    """Normalised inverse difference (NDRX): ``sum_ij p_ij / (1 + |i - j| / N_g)``."""
    return c.sum_ij(1.0 / (1.0 + np.abs(c.i - c.j) / c.p.shape[-1]))


def inv_diff_mom(c: _Cooccurrence) -> np.ndarray:
    """Inverse difference moment (WF0Z): ``sum_ij p_ij / (1 + (i - j)^2)``."""
    return c.sum_ij(1.0 / (1.0 + (c.i - c.j) ** 2))


def inv_diff_mom_norm(c: _Cooccurrence) -> np.ndarray:
    """Normalised inverse difference moment (1QCO): ``sum_ij p_ij / (1 + (i - j)^2 / N_g^2)``."""
    return c.sum_ij(1.0 / (1.0 + (c.i - c.j) ** 2 / c.p.shape[-1] ** 2))


def inv_var(c: _Cooccurrence) -> np.ndarray:
    """Inverse variance (E8JP): ``sum_{k=1}^{N_g-1} p_{i-j}(k) / k^2`` (the pairs with ``i != j``)."""
    return c.p_diff[:, 1:] @ (1.0 / c.k_diff[1:] ** 2)


def corr(c: _Cooccurrence) -> np.ndarray:
    """Correlation (NI2N): ``(sum_ij i j p_ij - mu_i mu_j) / (sigma_i sigma_j)``; NaN when a sigma is 0."""
    return safe_divide(auto_corr(c) - c.mu_i * c.mu_j, c.sigma_i * c.sigma_j)


def auto_corr(c: _Cooccurrence) -> np.ndarray:
    """Autocorrelation (QWB0): ``sum_ij i j p_ij``."""
    return c.sum_ij(c.i * c.j)


def clust_tend(c: _Cooccurrence) -> np.ndarray:
    """Cluster tendency (DG8W): ``sum_ij (i + j - mu_i - mu_j)^2 p_ij``."""
    return c.cluster_moment(2)


def clust_shade(c: _Cooccurrence) -> np.ndarray:
    """Cluster shade (7NFM): ``sum_ij (i + j - mu_i - mu_j)^3 p_ij``."""
    return c.cluster_moment(3)


def clust_prom(c: _Cooccurrence) -> np.ndarray:
    """Cluster prominence (AE86): ``sum_ij (i + j - mu_i - mu_j)^4 p_ij``."""
    return c.cluster_moment(4)


def info_corr1(c: _Cooccurrence) -> np.ndarray:
    """First measure of information correlation (R8DG): ``(HXY - HXY1) / HX``; NaN when ``HX = 0``.

    ``HXY`` is the joint entropy, ``HX = -sum_i p_i. log2 p_i.`` (equal to ``HY`` for the symmetric matrix)
    and ``HXY1 = -sum_ij p_ij log2(p_i. p_.j)``.
    """
    product = c.p_i[:, :, None] * c.p_j[:, None, :]
    hxy1 = -(c.p * np.log2(np.where(c.p > 0, product, 1.0))).sum(axis=(1, 2))
    return safe_divide(joint_entr(c) - hxy1, entropy(c.p_i, (1,)))


def info_corr2(c: _Cooccurrence) -> np.ndarray:
    """Second measure of information correlation (JN9H): ``sqrt(1 - exp(-2 (HXY2 - HXY)))``.

    ``HXY2 = -sum_ij p_i. p_.j log2(p_i. p_.j)``; ``HXY2 >= HXY``, rounding below 0 is clipped.
    """
    hxy2 = entropy(c.p_i[:, :, None] * c.p_j[:, None, :], (1, 2))
    return np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - joint_entr(c))), 0.0, None))


_FEATURE_FUNCTIONS: dict[str, Callable[[_Cooccurrence], np.ndarray]] = {
    "cm_joint_max": joint_max,
    "cm_joint_avg": joint_avg,
    "cm_joint_var": joint_var,
    "cm_joint_entr": joint_entr,
    "cm_diff_avg": diff_avg,
    "cm_diff_var": diff_var,
    "cm_diff_entr": diff_entr,
    "cm_sum_avg": sum_avg,
    "cm_sum_var": sum_var,
    "cm_sum_entr": sum_entr,
    "cm_energy": energy,
    "cm_contrast": contrast,
    "cm_dissimilarity": dissimilarity,
    "cm_inv_diff": inv_diff,
    "cm_inv_diff_norm": inv_diff_norm,
    "cm_inv_diff_mom": inv_diff_mom,
    "cm_inv_diff_mom_norm": inv_diff_mom_norm,
    "cm_inv_var": inv_var,
    "cm_corr": corr,
    "cm_auto_corr": auto_corr,
    "cm_clust_tend": clust_tend,
    "cm_clust_shade": clust_shade,
    "cm_clust_prom": clust_prom,
    "cm_info_corr1": info_corr1,
    "cm_info_corr2": info_corr2,
}


def glcm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    aggregation: str,
    spacing: tuple[float, float, float],
    distance: int = 1,
) -> dict[str, float]:
    """Return the 25 IBSI co-occurrence features of the ROI, keyed by base tag (``cm_contrast``, ...).

    Parameters
    ----------
    levels
        Integer grey levels ``1..n_levels`` (values outside ``mask`` are ignored), axes (i, j, k) with k the
        slice axis of the 2D and 2.5D aggregations.
    mask
        Boolean ROI of the same shape.
    n_levels
        Number of grey levels ``N_g``, empty levels included (they change the normalised features).
    aggregation
        One of :data:`AGGREGATIONS`.
    spacing
        Voxel size in mm; unused, as neighbours are defined in voxel steps (part of the common family API).
    distance
        Chebyshev distance between the voxels of a pair, in voxels (IBSI default 1).

    Returns
    -------
    dict
        ``{base_tag: value}`` in :data:`FEATURES` order; see the module docstring for NaN cases.

    Examples
    --------
    >>> import numpy as np
    >>> levels = np.array([1, 1, 2, 2]).reshape(4, 1, 1)
    >>> glcm_features(levels, levels > 0, n_levels=2, aggregation="3D_comb", spacing=(1.0, 1.0, 1.0))[
    ...     "cm_contrast"
    ... ]
    0.3333333333333333
    """
    del spacing
    matrices = cooccurrence_matrices(
        levels, mask, n_levels=n_levels, dims=aggregation_dims(aggregation), distance=distance
    )
    stack = matrices_for_aggregation(matrices, aggregation)
    if len(stack) == 0:
        return {f.base_tag: float("nan") for f in FEATURES}
    c = _Cooccurrence.of(stack)
    return average_features({f.base_tag: _FEATURE_FUNCTIONS[f.base_tag](c) for f in FEATURES})
