"""Compiled kernels (numba) of the radiomics counting passes, each one pass over a padded, flattened ROI.

The texture kernels count integers: co-occurring pairs (GLCM), runs (GLRLM), zones by union-find
(GLSZM, GLDZM), dependent neighbours (GLDM, NGLDM), neighbourhood sums (NGTDM) and the ROI's box and
level range (:func:`lai.radiomics.texture.roi_levels`). They replace numpy passes of
:mod:`lai.radiomics.texture`, :mod:`lai.radiomics.glrlm` and :mod:`lai.radiomics.pyradiomics_compat`
that give exactly the same integers, so no feature changes. :func:`largest_squared_distance` (shape
diameters) sums each squared distance in the order numpy's ``einsum`` does, so the diameters are
those of the numpy pass bit for bit. The numpy passes remain the reference (the tests compare both)
and the fallback (see :func:`lai.radiomics.texture.compiled`).

Input layout (from :func:`lai.radiomics.texture.padded_levels`): the ROI's grey levels, 0 outside the
ROI, padded by background on every side and flattened in C order. Inside such an array a neighbour at
``offset`` is ``flat[f + step]`` with ``step = flat_step(offset, shape)``, and a line or a neighbourhood
leaving the ROI's box lands on background, so no kernel needs bounds on the axes.

Functions are compiled on first use with ``cache=True`` (machine code kept in ``__pycache__`` next to
this file, or numba's user cache when that is read-only, and reused by later processes: the first
extraction after installing takes about 9 s more, each new process about 1 s more to load the cache)
and ``nogil=True``; nothing runs in parallel.

Set the environment variable ``LAI_RADIOMICS_NUMBA=0`` to use the numpy passes: numba loads LLVM, about
120 MB more resident memory per process.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def roi_elements(flat: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Return the flat indices of the ROI elements (level > 0), increasing."""
    n = 0
    for f in range(flat.size):
        if flat[f] != 0:
            n += 1
    found = np.empty(n, dtype=np.int64)
    n = 0
    for f in range(flat.size):
        if flat[f] != 0:
            found[n] = f
            n += 1
    return found


@numba.njit(cache=True, nogil=True)
def cooccurrence(flat: np.ndarray, steps: np.ndarray, n_levels: int) -> np.ndarray:  # pragma: no cover
    """Return counts (A, (N_g + 1)^2): ``[a, i * (N_g + 1) + j]`` pairs ``(flat[f], flat[f + steps[a]])``.

    Only pairs whose first voxel is in the ROI (level > 0) are counted; the row and column of level 0
    (the second voxel outside the ROI) are the caller's to drop. ``steps`` are positive.
    """
    side = n_levels + 1
    counts = np.zeros((steps.size, side * side), dtype=np.int64)
    for f in roi_elements(flat):
        row = np.int64(flat[f]) * side
        for a in range(steps.size):
            counts[a, row + flat[f + steps[a]]] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def run_lengths(
    flat: np.ndarray, steps: np.ndarray, n_levels: int, bound: int, depth: int, n_slices: int
) -> np.ndarray:  # pragma: no cover
    """Return run counts (D, S * (N_g + 1) * bound): key ``(s * (N_g + 1) + level) * bound + length``.

    A run of direction ``d`` starts at a ROI voxel ``f`` whose predecessor ``f - steps[d]`` has another
    level and continues while ``f + k * steps[d]`` keeps the level; the length is clipped to
    ``bound - 1``. With ``n_slices > 1`` the run's slice is its first voxel's position along the last
    axis of the padded array (``depth`` long, one voxel of padding) minus one, clipped to
    ``0 .. n_slices - 1``. The padding puts background before and after every line.
    """
    per_slice = (n_levels + 1) * bound
    counts = np.zeros((steps.size, n_slices * per_slice), dtype=np.int64)
    elements = roi_elements(flat)
    bases = np.empty(elements.size, dtype=np.int64)
    for v in range(elements.size):
        f = elements[v]
        s = min(max(f % depth - 1, 0), n_slices - 1) if n_slices > 1 else 0
        bases[v] = np.int64(flat[f]) * bound + s * per_slice
    # length of the run so far at each element, by increasing index (f - step comes before f): the
    # run ends where the next element along the direction has another level; no data-dependent branch
    so_far = np.zeros(flat.size, dtype=np.int64)
    for d in range(steps.size):
        step = steps[d]
        row = counts[d]
        for v in range(elements.size):
            f = elements[v]
            level = flat[f]
            length = (flat[f - step] == level) * so_far[f - step] + 1
            so_far[f] = length
            row[bases[v] + min(length, bound - 1)] += flat[f + step] != level
    return counts


@numba.njit(cache=True, nogil=True)
def _root(parent: np.ndarray, f: int) -> int:  # pragma: no cover
    root = f
    while parent[root] != root:
        root = parent[root]
    while parent[f] != root:  # path compression
        parent[f], f = root, parent[f]
    return root


@numba.njit(cache=True, nogil=True)
def zone_labels(flat: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, int]:  # pragma: no cover
    """Return (zone label of each element, number of zones): connected components of equal non-zero level.

    ``steps`` are the positive flat steps of the connectivity's offsets (each neighbour pair is seen
    once, from its later element). Union-find over the ROI elements in C order; zones are numbered
    from 1 in the order of their first element; background keeps label 0.
    """
    elements = roi_elements(flat)
    parent = np.zeros(flat.size, dtype=np.int32)
    for f in elements:
        parent[f] = f
    for f in elements:
        level = flat[f]
        here = f  # root of f's set, kept up to date: the smaller index becomes the root
        for k in range(steps.size):
            g = f - steps[k]
            if flat[g] == level:
                there = _root(parent, g)
                if there < here:
                    parent[here] = there
                    here = there
                elif there > here:
                    parent[there] = here
    labels = np.zeros(flat.size, dtype=np.int64)
    n_zones = 0
    for f in elements:
        root = _root(parent, f)
        if root == f:
            n_zones += 1
            labels[f] = n_zones
        else:
            labels[f] = labels[root]
    return labels, n_zones


@numba.njit(cache=True, nogil=True)
def dependence(flat: np.ndarray, steps: np.ndarray, alpha: int) -> np.ndarray:  # pragma: no cover
    """Return, per ROI element (C order), its ROI neighbours (positive ``steps``, both ways) within ``alpha``.

    A pair counts when both elements are in the ROI (level > 0) and their levels differ by at most
    ``alpha``; it counts for both.
    """
    found = np.zeros(flat.size, dtype=np.int32)
    elements = roi_elements(flat)
    for f in elements:
        here = np.int64(flat[f])
        for k in range(steps.size):
            g = f + steps[k]
            there = np.int64(flat[g])
            dependent = np.int32((there != 0) & (abs(here - there) <= alpha))
            found[f] += dependent
            found[g] += dependent
    out = np.empty(elements.size, dtype=np.int64)
    for v in range(elements.size):
        out[v] = found[elements[v]]
    return out


@numba.njit(cache=True, nogil=True)
def _window(values: np.ndarray, f: int, stride: int, distance: int) -> np.int32:  # pragma: no cover
    """Return the sum of ``values[f + t * stride]`` for ``t = -distance .. distance``."""
    total = values[f]
    for t in range(1, distance + 1):
        total += values[f - t * stride] + values[f + t * stride]
    return total


@numba.njit(cache=True, nogil=True)
def _neighbour_sums_3x3x3(
    flat: np.ndarray, si: int, sj: int, sk: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """:func:`neighbour_sums` for the 26 neighbours (distance 1 in 3D), the passes written out."""
    size = flat.size
    first = np.zeros(size, dtype=np.int32)
    first_in = np.zeros(size, dtype=np.int32)
    for f in range(sk, size - sk):
        first[f] = np.int32(flat[f - sk]) + flat[f] + flat[f + sk]
        first_in[f] = np.int32(flat[f - sk] != 0) + (flat[f] != 0) + (flat[f + sk] != 0)
    second = np.zeros(size, dtype=np.int32)
    second_in = np.zeros(size, dtype=np.int32)
    for f in range(sj, size - sj):
        second[f] = first[f - sj] + first[f] + first[f + sj]
        second_in[f] = first_in[f - sj] + first_in[f] + first_in[f + sj]
    elements = roi_elements(flat)
    total = np.empty(elements.size, dtype=np.int64)
    number = np.empty(elements.size, dtype=np.int64)
    for v in range(elements.size):
        f = elements[v]
        total[v] = np.int64(second[f - si] + second[f] + second[f + si]) - flat[f]
        number[v] = np.int64(second_in[f - si] + second_in[f] + second_in[f + si]) - 1
    return total, number


@numba.njit(cache=True, nogil=True)
def neighbour_sums(
    flat: np.ndarray, strides: np.ndarray, distance: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Return, per ROI element (C order), the sum of its ROI neighbours' levels and their number.

    Neighbours lie within Chebyshev ``distance`` along the axes of ``strides`` (flat strides), the
    element itself excluded; ``flat`` is padded by ``distance``. Separable box sums in int32 (the
    caller keeps them below 2**31: levels below 2**16, ``distance`` up to 15): one pass over the array
    per axis but the last, whose window is summed at the ROI elements only. A pass along an axis is
    exact wherever that coordinate lies at least ``distance`` from the faces, which holds at every
    position the ROI's sums read.
    """
    if distance == 1 and strides.size == 3:
        return _neighbour_sums_3x3x3(flat, strides[0], strides[1], strides[2])
    elements = roi_elements(flat)
    size = flat.size
    sums = np.empty(size, dtype=np.int32)
    counts = np.empty(size, dtype=np.int32)
    for f in range(size):
        sums[f] = flat[f]
        counts[f] = flat[f] != 0
    for axis in range(strides.size - 1):
        stride = strides[axis]
        reach = distance * stride
        next_sums = np.zeros(size, dtype=np.int32)
        next_counts = np.zeros(size, dtype=np.int32)
        if distance == 1:
            for f in range(reach, size - reach):
                next_sums[f] = sums[f - stride] + sums[f] + sums[f + stride]
                next_counts[f] = counts[f - stride] + counts[f] + counts[f + stride]
        else:
            for f in range(reach, size - reach):
                next_sums[f] = _window(sums, f, stride, distance)
                next_counts[f] = _window(counts, f, stride, distance)
        sums, counts = next_sums, next_counts
    stride = strides[strides.size - 1]
    total = np.empty(elements.size, dtype=np.int64)
    number = np.empty(elements.size, dtype=np.int64)
    for v in range(elements.size):
        f = elements[v]
        total[v] = np.int64(_window(sums, f, stride, distance)) - flat[f]
        number[v] = np.int64(_window(counts, f, stride, distance)) - 1
    return total, number


@numba.njit(cache=True, nogil=True)
def roi_bounds(levels: np.ndarray, mask: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Return [lo_i, hi_i, lo_j, hi_j, lo_k, hi_k, min level, max level, clean] of the ROI (hi exclusive).

    The first eight are -1 for an empty ROI; the levels' extremes are taken over the ROI voxels.
    ``clean`` is 1 when every voxel outside the ROI has level 0, else 0.
    """
    bounds = np.full(9, -1, dtype=np.int64)
    clean = 1
    lo = np.array([mask.shape[0], mask.shape[1], mask.shape[2]], dtype=np.int64)
    hi = np.zeros(3, dtype=np.int64)
    smallest = np.int64(0)
    largest = np.int64(0)
    found = False
    for i in range(mask.shape[0]):
        for j in range(mask.shape[1]):
            for k in range(mask.shape[2]):
                if not mask[i, j, k]:
                    if levels[i, j, k] != 0:
                        clean = 0
                else:
                    level = np.int64(levels[i, j, k])
                    if not found:
                        smallest = level
                        largest = level
                        found = True
                    smallest = min(smallest, level)
                    largest = max(largest, level)
                    lo[0] = min(lo[0], i)
                    hi[0] = max(hi[0], i + 1)
                    lo[1] = min(lo[1], j)
                    hi[1] = max(hi[1], j + 1)
                    lo[2] = min(lo[2], k)
                    hi[2] = max(hi[2], k + 1)
    if found:
        for axis in range(3):
            bounds[2 * axis] = lo[axis]
            bounds[2 * axis + 1] = hi[axis]
        bounds[6] = smallest
        bounds[7] = largest
    bounds[8] = clean
    return bounds


@numba.njit(cache=True, nogil=True)
def cropped_levels(
    levels: np.ndarray, mask: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Return the levels (int64, 0 outside the ROI) and the mask inside ``bounds`` (from :func:`roi_bounds`)."""
    shape = (bounds[1] - bounds[0], bounds[3] - bounds[2], bounds[5] - bounds[4])
    out = np.zeros(shape, dtype=np.int64)
    inside = np.zeros(shape, dtype=np.bool_)
    for i in range(shape[0]):
        for j in range(shape[1]):
            for k in range(shape[2]):
                if mask[bounds[0] + i, bounds[2] + j, bounds[4] + k]:
                    out[i, j, k] = levels[bounds[0] + i, bounds[2] + j, bounds[4] + k]
                    inside[i, j, k] = True
    return out, inside


@numba.njit(cache=True, nogil=True)
def zone_table(
    flat: np.ndarray, steps: np.ndarray, depth: int, pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Return each zone's grey level, size (voxels) and slice (first voxel's index along the last axis).

    Zones as :func:`zone_labels` (numbered by their first element in C order); the slice index is the
    position in the padded array (``depth`` long along the last axis, ``pad`` voxels of padding) minus
    ``pad``.
    """
    labels, n_zones = zone_labels(flat, steps)
    grey = np.zeros(n_zones, dtype=np.int64)
    sizes = np.zeros(n_zones, dtype=np.int64)
    slices = np.zeros(n_zones, dtype=np.int64)
    for f in roi_elements(flat):
        zone = labels[f] - 1
        if zone >= 0:
            if sizes[zone] == 0:
                grey[zone] = flat[f]
                slices[zone] = f % depth - pad
            sizes[zone] += 1
    return grey, sizes, slices


@numba.njit(cache=True, nogil=True)
def largest_squared_distance(
    points: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> float:  # pragma: no cover
    """Return the largest squared distance between two rows of ``points`` (n, 3) within one group.

    Group ``g`` is the rows ``starts[g] .. ends[g] - 1``. The squared distance is summed as
    ``(dx * dx + dz * dz) + dy * dy``, the order in which numpy's ``einsum("ijk,ijk->ij")`` sums an
    axis of 3 (its two-lane loop), so that the result is that of the numpy pass bit for bit (a test
    checks it on the installed numpy).
    """
    largest = 0.0
    for g in range(starts.size):
        for a in range(starts[g], ends[g]):
            xa = points[a, 0]
            ya = points[a, 1]
            za = points[a, 2]
            for b in range(a + 1, ends[g]):
                dx = xa - points[b, 0]
                dy = ya - points[b, 1]
                dz = za - points[b, 2]
                squared = (dx * dx + dz * dz) + dy * dy
                if squared > largest:
                    largest = squared
    return largest
