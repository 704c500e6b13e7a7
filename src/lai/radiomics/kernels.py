"""Compiled kernels (C) of the radiomics counting passes, each one pass over a padded, flattened ROI.

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
leaving the ROI's box lands on background, so no kernel needs bounds on the axes. The C code checks
that every ROI element lies at least the kernel's reach from both ends of the array and that levels
are non-negative (and at most ``n_levels`` where they index a matrix), and raises ``ValueError``
otherwise, so a wrong layout cannot read or write outside an array. Levels may have any integer
dtype; the outputs are allocated here with numpy.

This module is the wrapper of the extension ``lai.radiomics._kernels`` (``src/lai/radiomics/_kernels.c``,
plain C and the Python C API, built by ``pip install``; each function releases the GIL while it
counts; nothing runs in parallel). Importing this module raises ``ImportError`` when the extension was
not built (no C compiler at install time); :func:`lai.radiomics.texture.compiled` then returns ``None``
and the numpy passes are used.
"""

from __future__ import annotations

import numpy as np

import lai.radiomics._kernels as _kernels


def _levels(flat: np.ndarray) -> np.ndarray:
    """Return ``flat`` as a C-contiguous array (no copy when it is one already)."""
    return np.ascontiguousarray(flat)


def _int64(values: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int64)


def cooccurrence(flat: np.ndarray, steps: np.ndarray, n_levels: int) -> np.ndarray:
    """Return counts (A, (N_g + 1)^2): ``[a, i * (N_g + 1) + j]`` pairs ``(flat[f], flat[f + steps[a]])``.

    Only pairs whose first voxel is in the ROI (level > 0) are counted; the row and column of level 0
    (the second voxel outside the ROI) are the caller's to drop. ``steps`` are positive.
    """
    steps = _int64(steps)
    side = int(n_levels) + 1
    counts = np.zeros((steps.size, side * side), dtype=np.int64)
    _kernels.cooccurrence(_levels(flat), steps, int(n_levels), counts)
    return counts


def run_lengths(
    flat: np.ndarray, steps: np.ndarray, n_levels: int, bound: int, depth: int, n_slices: int
) -> np.ndarray:
    """Return run counts (D, S * (N_g + 1) * bound): key ``(s * (N_g + 1) + level) * bound + length``.

    A run of direction ``d`` starts at a ROI voxel ``f`` whose predecessor ``f - steps[d]`` has another
    level and continues while ``f + k * steps[d]`` keeps the level; the length is clipped to
    ``bound - 1``. With ``n_slices > 1`` the run's slice is its first voxel's position along the last
    axis of the padded array (``depth`` long, one voxel of padding) minus one, clipped to
    ``0 .. n_slices - 1``. The padding puts background before and after every line.
    """
    steps = _int64(steps)
    counts = np.zeros((steps.size, int(n_slices) * (int(n_levels) + 1) * int(bound)), dtype=np.int64)
    _kernels.run_lengths(_levels(flat), steps, int(n_levels), int(bound), int(depth), int(n_slices), counts)
    return counts


def zone_labels(flat: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, int]:
    """Return (zone label of each element, number of zones): connected components of equal non-zero level.

    ``steps`` are the positive flat steps of the connectivity's offsets (each neighbour pair is seen
    once, from its later element). Union-find over the ROI elements in C order; zones are numbered
    from 1 in the order of their first element; background keeps label 0.
    """
    flat = _levels(flat)
    labels = np.empty(flat.size, dtype=np.int64)
    n_zones = _kernels.zone_labels(flat, _int64(steps), labels)
    return labels, n_zones


def zone_table(
    flat: np.ndarray, steps: np.ndarray, depth: int, pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each zone's grey level, size (voxels) and slice (first voxel's index along the last axis).

    Zones as :func:`zone_labels` (numbered by their first element in C order); the slice index is the
    position in the padded array (``depth`` long along the last axis, ``pad`` voxels of padding) minus
    ``pad``.
    """
    flat = _levels(flat)
    table = np.empty((3, np.count_nonzero(flat)), dtype=np.int64)  # at most one zone per element
    grey, sizes, slices = table
    n_zones = _kernels.zone_table(flat, _int64(steps), int(depth), int(pad), grey, sizes, slices)
    return grey[:n_zones], sizes[:n_zones], slices[:n_zones]


def dependence(flat: np.ndarray, steps: np.ndarray, alpha: int) -> np.ndarray:
    """Return, per ROI element (C order), its ROI neighbours (positive ``steps``, both ways) within ``alpha``.

    A pair counts when both elements are in the ROI (level > 0) and their levels differ by at most
    ``alpha``; it counts for both.
    """
    flat = _levels(flat)
    found = np.empty(np.count_nonzero(flat), dtype=np.int64)
    _kernels.dependence(flat, _int64(steps), int(alpha), found)
    return found


def neighbour_sums(flat: np.ndarray, strides: np.ndarray, distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Return, per ROI element (C order), the sum of its ROI neighbours' levels and their number.

    Neighbours lie within Chebyshev ``distance`` along the axes of ``strides`` (flat strides), the
    element itself excluded; ``flat`` is padded by ``distance``. Separable box sums in int32 (the
    caller keeps them below 2**31: levels below 2**16, ``distance`` up to 15; the C code refuses
    larger): one pass over the array per axis but the last, whose window is summed at the ROI elements
    only. A pass along an axis is exact wherever that coordinate lies at least ``distance`` from the
    faces, which holds at every position the ROI's sums read.
    """
    flat = _levels(flat)
    n_elements = np.count_nonzero(flat)
    total = np.empty(n_elements, dtype=np.int64)
    number = np.empty(n_elements, dtype=np.int64)
    _kernels.neighbour_sums(flat, _int64(strides), int(distance), total, number)
    return total, number


def roi_bounds(levels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return [lo_i, hi_i, lo_j, hi_j, lo_k, hi_k, min level, max level, clean] of the ROI (hi exclusive).

    The first eight are -1 for an empty ROI; the levels' extremes are taken over the ROI voxels.
    ``clean`` is 1 when every voxel outside the ROI has level 0, else 0.
    """
    bounds = np.empty(9, dtype=np.int64)
    _kernels.roi_bounds(_levels(levels), np.ascontiguousarray(mask, dtype=bool), bounds)
    return bounds


def label_bounds(labels: np.ndarray, label: int) -> tuple[tuple[slice, slice, slice], int]:
    """Return the bounding box (slices) of the voxels of the 3D integer ``labels`` equal to ``label``, and their number.

    One pass over the array in its memory order (a C- or Fortran-ordered array is not copied); an empty
    box and 0 when no voxel has the label.
    """
    if labels.ndim != 3:
        msg = f"label_bounds: labels must be 3D, got {labels.ndim} dimensions"
        raise ValueError(msg)
    reverse = not labels.flags.c_contiguous and labels.flags.f_contiguous
    data = labels.T if reverse else np.ascontiguousarray(labels)
    if data.dtype == np.bool_:
        data = data.view(np.uint8)
    out = np.empty(7, dtype=np.int64)
    _kernels.label_bounds(data, int(label), out)
    box = [slice(int(out[2 * a]), int(out[2 * a + 1])) for a in range(3)]
    return (box[2], box[1], box[0]) if reverse else (box[0], box[1], box[2]), int(out[6])


def cropped_levels(levels: np.ndarray, mask: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the levels (int64, 0 outside the ROI) and the mask inside ``bounds`` (from :func:`roi_bounds`)."""
    shape = tuple(max(0, int(bounds[2 * a + 1]) - int(bounds[2 * a])) for a in range(3))
    out = np.empty(shape, dtype=np.int64)
    inside = np.empty(shape, dtype=bool)
    if out.size:
        _kernels.cropped_levels(
            _levels(levels), np.ascontiguousarray(mask, dtype=bool), _int64(bounds), out, inside
        )
    return out, inside


def largest_squared_distance(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> float:
    """Return the largest squared distance between two rows of ``points`` (n, 3) within one group.

    Group ``g`` is the rows ``starts[g] .. ends[g] - 1``. The squared distance is summed as
    ``(dx * dx + dz * dz) + dy * dy``, the order in which numpy's ``einsum("ijk,ijk->ij")`` sums an
    axis of 3 (its two-lane loop), so that the result is that of the numpy pass bit for bit (a test
    checks it on the installed numpy; the extension is built without fused multiply-add). In a group of
    64 points or more, pairs that cannot be the farthest (by their distances to the centroid, with a
    wide margin) are not measured, which changes no bit of the result.
    """
    try:  # float64 points and int64 groups, as the callers give them: no conversion (a few calls per lesion)
        return _kernels.largest_squared_distance(points, starts, ends)
    except TypeError:
        return _kernels.largest_squared_distance(
            np.ascontiguousarray(points, dtype=np.float64), _int64(starts), _int64(ends)
        )


def candidate_diameters(points: np.ndarray, doubled: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Return the squared Maximum3DDiameter and the three squared in-plane diameters of candidate points.

    ``points`` (float64, (n, 3)) are the candidates' world positions, ``doubled`` (int64, (n, 3)) twice
    their index coordinates and ``flags`` their :func:`diameter_candidates` bits: the 3D value is the
    largest squared distance among the rows with bit 0; then, for bits 1, 2, 3, among the rows of one
    plane of fixed k, j, i (equal ``doubled`` along that axis). Each pair as
    :func:`largest_squared_distance` measures it, so the same bits.
    """
    out = np.empty(4)
    _kernels.candidate_diameters(
        np.ascontiguousarray(points, dtype=np.float64),
        np.ascontiguousarray(doubled, dtype=np.int64),
        np.ascontiguousarray(flags, dtype=np.uint8),
        out,
    )
    return out


def mesh_cubes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (cubes per configuration (256,), sum of their origins (256, 3), voxel sums (10,), vertices, ends).

    The marching cubes of a 3D bool ``mask`` (any strides: a box cut out of a larger mask is not
    copied) padded by one empty voxel on every side: cube (i, j, k), each from -1, has corners
    (i + di, j + dj, k + dk) and configuration bit ``4 di + 2 dj + dk`` set when that corner is in the
    mask. Configurations 0 and 255 (no surface) are not counted. The voxel sums are ``[N, S_i, S_j, S_k,
    S_ii, S_ij, S_ik, S_jj, S_jk, S_kk]`` of the mask voxels' index coordinates (exact integers). The
    vertices (int64, (n, 3)) are twice the index positions of the edge midpoints where the padded mask
    changes, the vertices of its marching-cubes mesh at level 0.5, in the C order of the edge's first
    voxel and then the edge's axis; ``ends`` (uint8, (n,)) has bit 0, 1, 2 set for the vertices first or
    last on their line along i, j, k (for :func:`diameter_candidates`). One pass; a second only when the
    vertices outnumber a guess from the box's faces (a very irregular mask).
    """
    mask = mask if isinstance(mask, np.ndarray) and mask.dtype == np.bool_ else np.asarray(mask, dtype=bool)
    counts = np.empty(256, dtype=np.int64)
    origins = np.empty((256, 3), dtype=np.int64)
    sums = np.empty(10, dtype=np.int64)
    n0, n1, n2 = mask.shape if mask.ndim == 3 else (1, 1, 1)  # the kernel names a wrong shape
    guess = min(4 * (n0 * n1 + n1 * n2 + n0 * n2) + 64, 1 << 20)  # at most 24 MB before the exact number
    vertices = np.empty((guess, 3), dtype=np.int64)
    ends = np.empty(guess, dtype=np.uint8)
    n_vertices = _kernels.mesh_cubes(mask, counts, origins, sums, vertices, ends)
    if n_vertices > len(vertices):
        vertices = np.empty((n_vertices, 3), dtype=np.int64)
        ends = np.empty(n_vertices, dtype=np.uint8)
        _kernels.mesh_cubes(mask, counts, origins, sums, vertices, ends)
    return counts, origins, sums, vertices[:n_vertices], ends[:n_vertices]


def diameter_candidates(points: np.ndarray, axis_ends: np.ndarray | None = None) -> np.ndarray:
    """Return flags (uint8, (n,)) of the ``points`` (int64, (n, 3)) that may end a largest distance.

    ``points`` are twice the index coordinates of mesh vertices. Bit 0: candidate of the 3D diameter (it
    ends its lines along the three index axes and, among those points, along the six face diagonals);
    bits 1, 2, 3: candidate in its plane of fixed k, j, i (it ends its lines along the plane's two axes
    and, among those points, along the plane's two diagonals), as :func:`lai.radiomics.shape`'s numpy
    pass selects them. ``axis_ends`` (uint8, (n,)), the ends along i, j, k as bits 0, 1, 2 that
    :func:`mesh_cubes` gives with its vertices, saves finding them.
    """
    flags = np.empty(len(points), dtype=np.uint8)
    _kernels.diameter_candidates(np.ascontiguousarray(points, dtype=np.int64), flags, axis_ends)
    return flags
