"""Compiled (C) floating-point passes of radiomics: 1D correlation, GLCM features, first-order sums.

Wrappers of the extension ``lai.radiomics._numeric`` (``src/lai/radiomics/_numeric.c``, plain C and the
Python C API, built by ``pip install``; each function releases the GIL while it computes, nothing runs in
parallel). They replace numpy and scipy passes of :mod:`lai.radiomics.filters`,
:mod:`lai.radiomics.firstorder` and :func:`lai.radiomics.pyradiomics_compat.glcm_matrix_features`, which
remain the reference (the tests compare both) and the fallback: importing this module raises
``ImportError`` when the extension was not built, and :func:`lai.radiomics.texture.compiled_numeric`
then returns ``None``.

- :func:`correlate1d` evaluates every output as ``scipy.ndimage.correlate1d`` does (same products, same
  order of the sum, symmetric kernels folded the same way), on an array padded as scipy's mode pads it.
- :func:`glcm_features` computes PyRadiomics' GLCM features but MCC in one pass per matrix; sums run in
  another order than numpy's, so values agree to 1e-12 relative (tested), not bit for bit.
- :func:`order_statistics` selects exact order statistics (so percentiles stay numpy's bit for bit);
  :func:`firstorder_sums` sums with four interleaved accumulators (numpy sums pairwise): moments agree
  to about 1e-14 relative, skewness to about 1e-12 where its third moment cancels (tested to 1e-10).
"""

from __future__ import annotations

import numpy as np

import lai.radiomics._numeric as _numeric
from lai.radiomics.texture import COUNT_FEATURES

PAD_MODES: dict[str, str] = {
    "reflect": "symmetric",
    "constant": "constant",
    "nearest": "edge",
    "wrap": "wrap",
}
"""``scipy.ndimage`` mode -> ``numpy.pad`` mode that extends an array the same way."""

GLCM_FEATURES: tuple[str, ...] = (
    "Autocorrelation",
    "JointAverage",
    "ClusterProminence",
    "ClusterShade",
    "ClusterTendency",
    "Contrast",
    "Correlation",
    "DifferenceAverage",
    "DifferenceEntropy",
    "DifferenceVariance",
    "JointEnergy",
    "JointEntropy",
    "Imc1",
    "Imc2",
    "Idm",
    "Idmn",
    "Id",
    "Idn",
    "InverseVariance",
    "MaximumProbability",
    "SumAverage",
    "SumEntropy",
    "SumSquares",
)
"""The columns :func:`glcm_features` computes: PyRadiomics' GLCM features but MCC."""

FIRSTORDER_SUMS: tuple[str, ...] = (
    "minimum",
    "maximum",
    "sum",
    "shifted_squares",
    "centred_2",
    "centred_3",
    "centred_4",
    "absolute_deviation",
    "robust_count",
    "robust_sum",
    "robust_absolute_deviation",
)
"""The entries of :func:`firstorder_sums`' result."""


def _float64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _output(
    src: np.ndarray, axis: int, length: int, start: int, size: int | None, add_to: np.ndarray | None
) -> np.ndarray:
    """Return the output array of a correlation: ``add_to`` (checked) or a new one."""
    shape = list(src.shape)
    shape[axis] = shape[axis] - start - length + 1 if size is None else size
    if add_to is None:
        return np.empty(shape)
    if add_to.shape != tuple(shape):
        msg = f"correlate: add_to has shape {add_to.shape}, the correlation {tuple(shape)}"
        raise ValueError(msg)
    return add_to


def correlate_axis(
    src: np.ndarray,
    kernel: np.ndarray,
    axis: int,
    *,
    start: int = 0,
    size: int | None = None,
    scale: float = 1.0,
    add_to: np.ndarray | None = None,
) -> np.ndarray:
    """Return the valid correlation of ``src`` with ``kernel`` along ``axis``, times ``scale``.

    ``out[..., n, ...] = sum_t kernel[t] * src[..., start + n + t, ...]`` for ``n < size`` (default: every
    position where the kernel fits); the other axes keep ``src``'s shape. ``src`` is float64; pad it by
    the kernel's radius for a same-size correlation (see :func:`correlate1d`). The sum is multiplied by
    ``scale`` (unless 1) and, with ``add_to`` (a C-contiguous float64 array of the output's shape), added
    to it in place: ``add_to + sum * scale``, the operations numpy would do on the arrays.
    """
    src, kernel = _float64(src), _float64(kernel).ravel()
    out = _output(src, axis, kernel.size, start, size, add_to)
    _numeric.correlate_axis(
        src, kernel, axis % max(src.ndim, 1), out, start, float(scale), add_to is not None
    )
    return out


def correlate_axis_pair(
    src: np.ndarray,
    kernels: tuple[np.ndarray, np.ndarray],
    axis: int,
    *,
    start: int = 0,
    size: int | None = None,
    scales: tuple[float, float] = (1.0, 1.0),
    add_to: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> tuple[np.ndarray, np.ndarray]:
    """Return :func:`correlate_axis` of ``src`` with two kernels of one length, reading ``src`` once."""
    src = _float64(src)
    first, second = _float64(kernels[0]).ravel(), _float64(kernels[1]).ravel()
    out = _output(src, axis, first.size, start, size, add_to[0])
    other = _output(src, axis, first.size, start, size, add_to[1])
    _numeric.correlate_axis_pair(
        src,
        first,
        second,
        axis % max(src.ndim, 1),
        out,
        other,
        start,
        float(scales[0]),
        float(scales[1]),
        add_to[0] is not None,
        add_to[1] is not None,
    )
    return out, other


def correlate1d(
    values: np.ndarray,
    kernels: tuple[np.ndarray, ...],
    axis: int,
    mode: str,
    keep: slice = slice(None),
    *,
    scales: tuple[float, ...] | None = None,
    add_to: tuple[np.ndarray | None, ...] | None = None,
) -> tuple[np.ndarray, ...]:
    """Return ``scipy.ndimage.correlate1d(values, kernel, axis, mode=mode)[keep along axis]`` per kernel.

    One or two kernels of one length (two: ``values`` is read once for both). ``mode`` is a key of
    ``PAD_MODES`` (constant: zero). Only the part of ``values`` the kept outputs read is used; the
    array is padded along ``axis`` (``numpy.pad`` in the matching mode) only where that part leaves it.
    ``scales`` and ``add_to`` (one per kernel) as :func:`correlate_axis`: the result is
    ``add_to + scale * response`` computed in place, as numpy would compute it.
    """
    if mode not in PAD_MODES:
        msg = f"correlate1d: mode must be one of {sorted(PAD_MODES)}, got {mode!r}"
        raise ValueError(msg)
    if len(kernels) not in (1, 2):
        msg = f"correlate1d: one or two kernels, got {len(kernels)}"
        raise ValueError(msg)
    scales = (1.0,) * len(kernels) if scales is None else scales
    add_to = (None,) * len(kernels) if add_to is None else add_to
    length = len(kernels[0])
    n = values.shape[axis]
    first, last, _ = keep.indices(n)
    last = max(last, first)
    before, after = length // 2, length - length // 2 - 1  # scipy's origin of the kernel
    low, high = max(before - first, 0), max(last + after - n, 0)
    if low or high:
        widths = [(0, 0)] * values.ndim
        widths[axis] = (low, high)
        values = np.pad(values, widths, mode=PAD_MODES[mode])  # type: ignore[call-overload]
    start = first + low - before
    if len(kernels) == 1:
        return (
            correlate_axis(
                values, kernels[0], axis, start=start, size=last - first, scale=scales[0], add_to=add_to[0]
            ),
        )
    return correlate_axis_pair(
        values,
        (kernels[0], kernels[1]),
        axis,
        start=start,
        size=last - first,
        scales=(scales[0], scales[1]),
        add_to=(add_to[0], add_to[1]),
    )


def glcm_features(counts: np.ndarray, grey: np.ndarray, n_g: np.ndarray) -> np.ndarray:
    """Return the features ``GLCM_FEATURES`` (columns) of each matrix of ``counts`` (M, n, n).

    ``grey`` (M, n) are the whole-number grey levels of each matrix's rows and columns (absent levels
    zero-padded, their counts 0), ``n_g`` (M,) the ``N_g`` of Idn and Idmn. Definitions as
    :func:`lai.radiomics.pyradiomics_compat.glcm_matrix_features` (PyRadiomics, log2(x + eps)).
    """
    counts = _float64(counts)
    out = np.empty((counts.shape[0], len(GLCM_FEATURES)))
    _numeric.glcm_features(counts, _float64(grey), _float64(n_g).ravel(), out)
    return out


def glcm_mcc(counts: np.ndarray) -> np.ndarray:
    """Return PyRadiomics' MCC of each matrix of ``counts`` (M, n, n), n >= 2, none empty: (M,).

    The definition of :func:`lai.radiomics.pyradiomics_compat.glcm_matrix_features` (sqrt of the second
    largest eigenvalue of ``Q``), found as the largest eigenvalue of a rank-one deflation of a symmetric
    matrix similar to ``Q`` (or, for a symmetric GLCM, of its square root): Householder tridiagonalisation
    and Sturm bisection (Golub and Van Loan 2013; Wilkinson 1965) in C. Agrees with LAPACK's eigenvalues to
    1e-12 (tested).
    """
    counts = _float64(counts)
    out = np.empty(counts.shape[0])
    _numeric.glcm_mcc(counts, out)
    return out


def count_features(matrix: np.ndarray, values: np.ndarray, n_voxels: np.ndarray) -> np.ndarray:
    """Return the :data:`lai.radiomics.texture.COUNT_FEATURES` (columns) of each matrix of ``matrix`` (M, G, V).

    The definitions of :func:`lai.radiomics.texture.count_matrix_features` (``values`` (V,) the positive
    counts of the columns, ``n_voxels`` (M,) the ROI voxels of each matrix), one pass per matrix in C;
    agrees with the numpy formulas to 1e-12 relative (tested).
    """
    matrix = _float64(matrix)
    out = np.empty((matrix.shape[0], len(COUNT_FEATURES)))
    _numeric.count_features(matrix, _float64(values).ravel(), _float64(n_voxels).ravel(), out)
    return out


def ngtdm_accumulate(
    centre: np.ndarray,
    total: np.ndarray,
    number: np.ndarray,
    group: np.ndarray | None,
    n_levels: int,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the NGTDM ``(s, n)``, each (n_groups, n_levels), from each ROI voxel's level and neighbourhood.

    ``centre`` are the ROI voxels' levels (1..n_levels), ``total`` and ``number`` their neighbours' level sum
    and count (voxels without a neighbour are left out), ``group`` their matrix (None: one). ``s`` sums
    ``|centre - total / number|`` per level in the voxels' order: numpy's ``bincount`` sums, bit for bit.
    """
    centre = np.ascontiguousarray(centre, dtype=np.int64)
    groups = np.zeros_like(centre) if group is None else np.ascontiguousarray(group, dtype=np.int64)
    s = np.zeros(n_groups * n_levels)
    n = np.zeros(n_groups * n_levels)
    _numeric.ngtdm_accumulate(
        centre,
        np.ascontiguousarray(total, dtype=np.int64),
        np.ascontiguousarray(number, dtype=np.int64),
        groups,
        int(n_levels),
        s,
        n,
    )
    return s.reshape(n_groups, n_levels), n.reshape(n_groups, n_levels)


def count_matrix(grey: np.ndarray, counts: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (matrix (n_levels, V) float64, the V counts that occur): entities per grey level and count.

    ``grey`` (1..n_levels) and ``counts`` (>= 0) describe one entity each; as
    :func:`lai.radiomics.texture.count_matrices` for one group, from one pass over the entities.
    """
    grey = np.ascontiguousarray(grey, dtype=np.int64)
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    width = int(counts.max()) + 1 if counts.size else 1
    histogram = np.zeros((max(int(n_levels), 1), width), dtype=np.int64)
    _numeric.pair_histogram(grey, counts, histogram)
    values = np.flatnonzero(histogram.any(axis=0))
    if values.size == 0:
        values = np.ones(1, dtype=np.int64)
        return np.zeros((histogram.shape[0], 1)), values
    return histogram[:, values].astype(np.float64), values


def order_statistics(
    values: np.ndarray, ranks: np.ndarray, *, keys: np.ndarray | None = None, counts: np.ndarray | None = None
) -> np.ndarray | None:
    """Return the values of ranks ``ranks`` (0-based, strictly increasing) in ``values``, or ``None`` with NaN.

    Exact: the values a sort would put at those positions, found by selection on a copy. With ``keys``, a
    discretisation of ``values`` (non-negative integers that never decrease when the value increases, as
    :func:`lai.radiomics.firstorder.percentiles_by_bins` takes) and ``counts = numpy.bincount(keys)``, only
    the bins holding the ranks are copied and searched.
    """
    ranks = np.ascontiguousarray(ranks, dtype=np.int64)
    x = _float64(values).ravel()
    out = np.empty(ranks.size)
    if keys is None:
        nans = _numeric.order_statistics(x, ranks, out)
        return None if nans else out
    keys = np.ascontiguousarray(keys, dtype=np.int64).ravel()
    counts = np.bincount(keys) if counts is None else np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)  # ends[b]: the number of values in bins 0..b
    holders = np.searchsorted(ends, ranks, side="right")
    segments, rank_segment = np.unique(holders, return_inverse=True)
    segment_of_key = np.full(counts.size, -1, dtype=np.int64)
    segment_of_key[segments] = np.arange(segments.size)
    local = ranks - (ends[holders] - counts[holders])
    nans = _numeric.binned_order_statistics(
        x,
        keys,
        segment_of_key,
        np.ascontiguousarray(counts[segments]),
        np.ascontiguousarray(local, dtype=np.int64),
        np.ascontiguousarray(rank_segment, dtype=np.int64),
        out,
    )
    return None if nans else out


def firstorder_sums(values: np.ndarray, shift: float, lo: float, hi: float) -> dict[str, float]:
    """Return the sums first-order features need, by the names ``FIRSTORDER_SUMS``, in two passes.

    ``minimum``, ``maximum``, ``sum``, ``shifted_squares`` (of ``x + shift``), ``centred_2`` ..
    ``centred_4`` and ``absolute_deviation`` (powers and absolute values of ``x - mean``), and over the
    values in ``[lo, hi]``: ``robust_count``, ``robust_sum`` and ``robust_absolute_deviation`` (about their
    own mean).
    """
    out = np.empty(len(FIRSTORDER_SUMS))
    _numeric.firstorder_sums(_float64(values).ravel(), float(shift), float(lo), float(hi), out)
    return dict(zip(FIRSTORDER_SUMS, out.tolist(), strict=True))
