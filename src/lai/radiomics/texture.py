"""Machinery the IBSI texture families share: ROI cropping, directions, neighbourhoods, zones, count matrices.

The texture families (:mod:`~lai.radiomics.glcm`, :mod:`~lai.radiomics.glrlm`, :mod:`~lai.radiomics.glszm`,
:mod:`~lai.radiomics.gldzm`, :mod:`~lai.radiomics.ngtdm`, :mod:`~lai.radiomics.ngldm` and PyRadiomics'
:mod:`~lai.radiomics.gldm`) take integer grey levels ``1..N_g`` on a 3D array with axes (i, j, k), k the
slice axis of the 2D and 2.5D aggregations, and a boolean ROI mask of the same shape. What they have in
common lives here, so that each family module holds only its own matrix and formulas:

- **ROI** (:func:`roi_levels`, :func:`check_aggregation`): validation and cropping to the ROI's bounding box;
- **directions** (:func:`directions`, :func:`matrices_for_aggregation`, :func:`aggregation_dims`): the 13
  (3D) or 4 (in-slice) directions of the directional families, GLCM and GLRLM, and how their per-slice,
  per-direction matrices merge for the :data:`DIRECTIONAL_AGGREGATIONS`;
- **neighbourhoods** (:func:`neighbour_offsets`, :func:`shifted`, :func:`dependence_counts`): the
  Chebyshev neighbourhoods of the NGTDM, NGLDM and GLDM, computed one offset at a time over every voxel;
- **zones** (:func:`connectivity`, :func:`zones`, :func:`zone_slices`, :func:`slice_index`): connected
  components of one grey level, for the GLSZM and GLDZM;
- **count matrices** (:data:`COUNT_FEATURES`, :func:`count_matrices`, :func:`count_matrix_features`,
  :func:`count_features`): the (grey level x count) matrices of the GLSZM (zone size), GLDZM (zone
  distance), NGLDM and GLDM (dependence count) and the formulas they share, for the
  :data:`VOLUME_AGGREGATIONS`;
- **arithmetic** (:func:`average_features`, :func:`entropy`, :func:`safe_divide`): the NaN and ``0 log 0``
  conventions every family follows, so degenerate ROIs give NaN rather than warnings.
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from types import ModuleType

import numpy as np
from skimage import measure

DIRECTIONAL_AGGREGATIONS: tuple[str, ...] = (
    "2D_avg",
    "2D_comb",
    "2_5D_avg",
    "2_5D_comb",
    "3D_avg",
    "3D_comb",
)
"""IBSI aggregations of the directional families (GLCM, GLRLM): by slice and direction, averaged or combined."""

VOLUME_AGGREGATIONS: tuple[str, ...] = ("2D", "2_5D", "3D")
"""IBSI aggregations of the families without directions (GLSZM, GLDZM, NGTDM, NGLDM): per slice, slices
merged, or one volumetric matrix."""

COUNT_FEATURES: tuple[str, ...] = (
    "small_emphasis",
    "large_emphasis",
    "low_grey_emphasis",
    "high_grey_emphasis",
    "small_low_grey_emphasis",
    "small_high_grey_emphasis",
    "large_low_grey_emphasis",
    "large_high_grey_emphasis",
    "grey_non_uniformity",
    "grey_non_uniformity_norm",
    "count_non_uniformity",
    "count_non_uniformity_norm",
    "percentage",
    "grey_variance",
    "count_variance",
    "count_entropy",
    "count_energy",
)
"""Names :func:`count_matrix_features` returns, in IBSI order; families map them to their base tags."""


# --- Compiled kernels ---


KERNEL_CHOICES = ("c", "numpy")
"""Values of the environment variable ``LAI_RADIOMICS_KERNELS``: the C extension (default) or numpy."""


@functools.cache
def compiled() -> ModuleType | None:
    """Return :mod:`lai.radiomics.kernels` (the C extension's wrappers), or ``None`` to use the numpy passes.

    ``None`` when the extension was not built (no C compiler at install time) or the environment variable
    ``LAI_RADIOMICS_KERNELS`` is ``numpy``. Both give the same integers. Read once per process; another
    value warns and keeps the default.
    """
    choice = os.environ.get("LAI_RADIOMICS_KERNELS", "c").strip().lower() or "c"
    if choice not in KERNEL_CHOICES:
        message = f"LAI_RADIOMICS_KERNELS={choice!r} is not one of {', '.join(KERNEL_CHOICES)}; using c"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        choice = "c"
    if choice == "numpy":
        return None
    try:
        from lai.radiomics import kernels
    except ImportError:
        return None
    return kernels


def compiled_numeric() -> ModuleType | None:
    """Return :mod:`lai.radiomics.numeric` (the C passes of filters, first order and GLCM), or ``None``.

    ``None`` (the numpy and scipy passes run) when the C extensions are switched off or missing: when
    :func:`lai.radiomics.texture.compiled` is ``None`` (``LAI_RADIOMICS_KERNELS=numpy``) or
    ``lai.radiomics._numeric`` was not built. Follows :func:`compiled`, which reads the switch once per
    process (``compiled.cache_clear()`` reads it again for both).
    """
    if compiled() is None:
        return None
    try:  # once imported, a lookup in sys.modules
        from lai.radiomics import numeric
    except ImportError:
        return None
    return numeric


def flat_steps(offsets: np.ndarray | list[tuple[int, int, int]], padded_shape: tuple[int, ...]) -> np.ndarray:
    """Return the :func:`flat_step` of each offset as an int64 array."""
    return np.array([flat_step(np.asarray(o), padded_shape) for o in offsets], dtype=np.int64)


# --- ROI ---


def check_aggregation(aggregation: str, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``aggregation`` is one of ``allowed``, naming what was expected."""
    if aggregation not in allowed:
        msg = f"unknown aggregation {aggregation!r}; expected one of {', '.join(allowed)}"
        raise ValueError(msg)


def roi_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...]:
    """Return the slices of the ROI's bounding box in ``mask`` grown by ``margin`` voxels (clipped to the
    array); empty slices for an empty ROI."""
    mask = np.asarray(mask, dtype=bool)
    last = mask.ndim - 1
    # project along the last (contiguous) axis once, then the small projection along the other axes
    outer: np.ndarray = np.any(mask, axis=-1) if last > 0 else mask
    box = []
    for axis in range(mask.ndim):
        if axis == last:
            projection = mask.any(axis=tuple(range(last)))
        else:
            projection = outer.any(axis=tuple(a for a in range(last) if a != axis))
        present = np.flatnonzero(projection)
        if present.size == 0:
            return (slice(0, 0),) * mask.ndim
        box.append(
            slice(max(int(present[0]) - margin, 0), min(int(present[-1]) + 1 + margin, mask.shape[axis]))
        )
    return tuple(box)


def roi_levels(levels: np.ndarray, mask: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (grey levels as int64 with 0 outside the ROI, ROI mask), both cropped to the ROI's bounding box.

    Cropping changes no texture feature: voxels outside the box are outside the ROI, and the array border
    counts as outside the ROI too. An empty ROI gives arrays of shape (0, 0, 0).

    Parameters
    ----------
    levels
        Grey levels, integers in ``1..n_levels`` inside the ROI (values outside ``mask`` are ignored).
    mask
        Boolean ROI of the same 3D shape.
    n_levels
        Number of grey levels ``N_g``.

    Returns
    -------
    tuple of numpy.ndarray
        The cropped levels (int64) and the cropped boolean mask; with the compiled kernels, the inputs
        themselves when they already are that (callers must not modify them).

    Raises
    ------
    ValueError
        When the arrays are not 3D of one shape, or a ROI grey level is not an integer in ``1..n_levels``.
    """
    known = _last_roi
    if known is not None and known[0] is levels and known[1] is mask and n_levels >= known[2]:
        return levels, mask  # returned by the previous call: already checked and cropped
    levels = np.asarray(levels)
    mask = np.asarray(mask, dtype=bool)
    if levels.ndim != 3 or levels.shape != mask.shape:
        msg = (
            f"Inconsistent shapes: levels={levels.shape}, mask={mask.shape} (both must be the same 3D shape)"
        )
        raise ValueError(msg)
    kernels = compiled()
    if kernels is not None and levels.dtype.kind in "iu":
        bounds = kernels.roi_bounds(levels, mask)
        if bounds[0] < 0:
            return np.zeros((0, 0, 0), dtype=np.int64), np.zeros((0, 0, 0), dtype=bool)
        if bounds[6] < 1 or bounds[7] > n_levels:
            msg = f"grey levels in the ROI must be integers in 1..{n_levels}, found {bounds[6]}..{bounds[7]}"
            raise ValueError(msg)
        whole = tuple(int(bounds[2 * a + 1] - bounds[2 * a]) for a in range(3)) == levels.shape
        if whole and bounds[8] == 1 and levels.dtype == np.int64:
            return _remember_roi(levels, mask, n_levels)  # already cropped, 0 outside the ROI: no copy
        cropped_levels, cropped_mask = kernels.cropped_levels(levels, mask, bounds)
        return _remember_roi(cropped_levels, cropped_mask, n_levels)
    box = roi_box(mask)
    levels, mask = levels[box], mask[box]
    inside = levels[mask]
    if inside.size and (
        inside.min() < 1
        or inside.max() > n_levels
        or (inside.dtype.kind == "f" and not np.all(inside == np.round(inside)))
    ):
        msg = (
            f"grey levels in the ROI must be integers in 1..{n_levels}, found {inside.min()}..{inside.max()}"
        )
        raise ValueError(msg)
    cropped = np.zeros(levels.shape, dtype=np.int64)
    cropped[mask] = inside
    return _remember_roi(cropped, mask, n_levels)


_last_roi: tuple[np.ndarray, np.ndarray, int, dict[int, tuple[np.ndarray, tuple[int, ...]]]] | None = None
"""The arrays :func:`roi_levels` returned last (checked, cropped, 0 outside the ROI) and their padded copies.

One extraction hands the same cropped ROI to every texture family; each family calls :func:`roi_levels`
and :func:`padded_roi` again. Recognising the arrays by identity (this module holds them, so an identity
cannot be reused by other arrays) skips checking, cropping and padding them again. A single entry, replaced
as a whole: another thread's arrays are simply not recognised.
"""


def checked_roi(levels: np.ndarray, mask: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(levels, mask)`` as :func:`roi_levels` would, for arrays the caller built to its contract.

    For callers that construct the ROI themselves: ``levels`` C-contiguous int64 with values in
    ``1..n_levels`` inside ``mask`` and 0 outside, both cropped to the ROI's bounding box. Only the shapes
    and types are checked (not the values): the texture families then skip checking and cropping them.
    """
    if (
        levels.dtype != np.int64
        or levels.ndim != 3
        or levels.shape != mask.shape
        or not levels.flags.c_contiguous
        or not mask.flags.c_contiguous
    ):
        msg = f"checked_roi: expected C-contiguous int64 levels and a mask of one 3D shape, got {levels.dtype} {levels.shape} and {mask.shape}"
        raise ValueError(msg)
    return _remember_roi(levels, mask, n_levels)


def _remember_roi(levels: np.ndarray, mask: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    global _last_roi
    mask = np.asarray(mask, dtype=bool)  # numpy's own bool dtype object, so that identity checks hold
    _last_roi = (levels, mask, n_levels, {})
    return levels, mask


def padded_roi(levels: np.ndarray, mask: np.ndarray, pad: int = 1) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return :func:`padded_levels` of the ROI's levels (0 outside ``mask``), reusing the last ROI's copies."""
    known = _last_roi
    if known is not None and known[0] is levels and known[1] is mask:
        padded = known[3].get(pad)
        if padded is None:
            padded = known[3][pad] = padded_levels(levels, pad=pad)  # 0 outside the ROI already
        return padded
    return padded_levels(np.where(mask, levels, 0), pad=pad)


@functools.lru_cache(maxsize=64)
def neighbour_steps(distance: int, in_plane: bool, padded_shape: tuple[int, ...]) -> np.ndarray:
    """Return the positive flat steps (:func:`flat_steps`) of the neighbours within Chebyshev ``distance``.

    Each neighbour pair is one positive step from its first voxel; the array is shared: do not modify it.
    """
    steps = flat_steps(neighbour_offsets(distance, in_plane), padded_shape)
    positive = steps[steps > 0]
    positive.flags.writeable = False
    return positive


# --- Directions (GLCM, GLRLM) ---


@functools.cache
def directions(dims: int) -> np.ndarray:
    """Return the unit neighbour offsets (rows of (di, dj, dk)): 13 for ``dims=3``, the 4 in-slice for 2.

    Each offset and its opposite describe the same direction, so only offsets whose first non-zero
    component is positive are kept; the 2D ones are those with ``dk = 0``. The array is shared between
    calls (read-only).
    """
    if dims not in (2, 3):
        msg = f"dims must be 2 or 3, got {dims}"
        raise ValueError(msg)
    offsets = [
        v
        for v in itertools.product((-1, 0, 1), repeat=3)
        if any(v) and next(c for c in v if c) > 0 and (dims == 3 or v[2] == 0)
    ]
    array = np.array(offsets, dtype=np.intp)
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=64)
def direction_steps(dims: int, padded_shape: tuple[int, ...]) -> np.ndarray:
    """Return the :func:`flat_step` of each of :func:`directions` in an array of ``padded_shape`` (read-only)."""
    steps = flat_steps(directions(dims), padded_shape)
    steps.flags.writeable = False
    return steps


def aggregation_dims(aggregation: str) -> int:
    """Return 3 for the ``3D`` aggregations and 2 for the slice-wise ``2D``/``2_5D`` ones."""
    return 3 if aggregation.startswith("3D") else 2


def matrices_for_aggregation(matrices: np.ndarray, aggregation: str) -> np.ndarray:
    """Return the stack of matrices (M, A, B) on which features are computed and averaged.

    ``matrices`` has shape (S, D, A, B): S slices and the 4 in-slice directions for ``2D_*``/``2_5D_*``,
    S = 1 and the 13 directions for ``3D_*``. ``*_avg`` keeps one matrix per slice and direction (2D), per
    direction (2.5D, summed over slices; 3D); ``2D_comb`` sums the directions of each slice and
    ``2_5D_comb``/``3D_comb`` sum everything. Matrices without counts are dropped.
    """
    check_aggregation(aggregation, DIRECTIONAL_AGGREGATIONS)
    if aggregation in ("2D_avg", "3D_avg"):
        merged = matrices.reshape(-1, *matrices.shape[2:])
    elif aggregation == "2D_comb":
        merged = matrices.sum(axis=1)
    elif aggregation == "2_5D_avg":
        merged = matrices.sum(axis=0)
    else:
        merged = matrices.sum(axis=(0, 1))[None]
    return merged[merged.sum(axis=(1, 2)) > 0]


# --- Neighbourhoods (NGTDM, NGLDM, GLDM) ---


def neighbour_offsets(distance: int, in_plane: bool) -> list[tuple[int, int, int]]:
    """Return the offsets within Chebyshev ``distance`` of a voxel, itself excluded; only (i, j) ones if in plane."""
    steps = range(-distance, distance + 1)
    return [o for o in itertools.product(steps, steps, steps if not in_plane else (0,)) if o != (0, 0, 0)]


def shifted(array: np.ndarray, offset: tuple[int, int, int], fill: int | bool = 0) -> np.ndarray:
    """Return ``out`` with ``out[x] = array[x + offset]``, ``fill`` where ``x + offset`` leaves the array."""
    out = np.full_like(array, fill)
    source = tuple(slice(max(o, 0), n + min(o, 0)) for o, n in zip(offset, array.shape, strict=True))
    target = tuple(slice(max(-o, 0), n + min(-o, 0)) for o, n in zip(offset, array.shape, strict=True))
    out[target] = array[source]
    return out


def dependence_counts(
    levels: np.ndarray, mask: np.ndarray, *, alpha: int, distance: int, in_plane: bool
) -> np.ndarray:
    """Return each voxel's dependence count: 1 + ROI neighbours within ``distance`` whose level is within ``alpha``.

    ``levels`` must be 0 outside the ROI; values outside the ROI in the result are meaningless.
    """
    kernels = compiled()
    if kernels is not None:
        region = np.asarray(mask, dtype=bool)
        flat, padded_shape = padded_roi(levels, region, pad=distance)
        counts = np.ones(levels.shape, dtype=np.int64)
        counts[region] = (
            kernels.dependence(flat, neighbour_steps(distance, in_plane, padded_shape), int(alpha)) + 1
        )
        return counts
    flat, padded_shape, voxels = roi_neighbourhood(levels, mask, distance)
    # each pair of neighbours is compared once, on contiguous slices of the flat array: flat[f] and
    # flat[f + step] are neighbours whenever flat[f] is in the ROI (the padding stops wrap-around), and
    # a dependent pair counts for both voxels
    found: np.ndarray = np.zeros(flat.size, dtype=np.int16 if distance < 3 else np.int32)
    signed = flat.astype(np.int32) if alpha > 0 else flat
    for offset in neighbour_offsets(distance, in_plane):
        step = flat_step(np.array(offset), padded_shape)
        if step <= 0:
            continue  # the opposite offset counts this pair
        here, there = signed[:-step], signed[step:]
        if alpha == 0:
            dependent = (here == there) & (here > 0)
        else:
            dependent = (np.abs(here - there) <= alpha) & (here > 0) & (there > 0)
        np.add(found[:-step], dependent, out=found[:-step])
        np.add(found[step:], dependent, out=found[step:])
    counts = np.ones(levels.shape, dtype=np.int64)
    counts[np.asarray(mask, dtype=bool)] = found[voxels] + 1
    return counts


def neighbourhood_sums(
    levels: np.ndarray, mask: np.ndarray, *, distance: int, in_plane: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each ROI voxel (C order of ``mask``), the sum of its ROI neighbours' levels and their number.

    Neighbours are the voxels within Chebyshev ``distance`` (in the (i, j) plane when ``in_plane``), the
    voxel itself excluded. Both are box sums over the window, separable along the axes (one 1D pass
    per axis over the ROI's box), minus the voxel's own contribution.
    """
    region = np.asarray(mask, dtype=bool)
    kernels = compiled()
    if kernels is not None and distance <= 15:
        flat, padded_shape = padded_roi(levels, region, pad=distance)
        if flat.dtype.itemsize <= 2:  # levels below 2**16: the kernel's int32 sums cannot overflow
            strides = np.array([padded_shape[1] * padded_shape[2], padded_shape[2], 1], dtype=np.int64)
            return kernels.neighbour_sums(flat, strides[:2] if in_plane else strides, int(distance))
    centre = levels[region]
    largest = (int(centre.max()) if centre.size else 0) * (2 * distance + 1) ** 3
    dtype = np.int16 if largest < 2**15 else np.int64
    roi = np.where(region, levels, 0).astype(dtype)
    inside = region.astype(np.int16)
    for axis in (0, 1) if in_plane else (0, 1, 2):
        roi, inside = _box_sum(roi, distance, axis), _box_sum(inside, distance, axis)
    return roi[region].astype(np.int64) - centre, inside[region].astype(np.int64) - 1


def _box_sum(array: np.ndarray, distance: int, axis: int) -> np.ndarray:
    """Return the sum over ``x - distance .. x + distance`` along ``axis`` (zeros beyond the array)."""
    total = array.copy()
    moved, target = np.moveaxis(array, axis, 0), np.moveaxis(total, axis, 0)
    for shift in range(1, min(distance, array.shape[axis] - 1) + 1):
        target[shift:] += moved[:-shift]
        target[:-shift] += moved[shift:]
    return total


def roi_neighbourhood(
    levels: np.ndarray, mask: np.ndarray, reach: int
) -> tuple[np.ndarray, tuple[int, ...], np.ndarray]:
    """Return (flat padded levels, padded shape, flat indices of the ROI voxels) for neighbour gathers.

    The levels (0 outside ``mask``) are padded by ``reach`` background voxels (see :func:`padded_levels`),
    so ``flat[voxels + flat_step(offset, padded_shape)]`` are the levels of every ROI voxel's neighbour at
    ``offset`` (0 outside the ROI) for any offset within Chebyshev distance ``reach``. ``voxels`` lists the
    ROI voxels in the C order of ``mask``, so ``array[mask]`` matches them.
    """
    region = np.asarray(mask, dtype=bool)
    flat, padded_shape = padded_levels(np.where(region, levels, 0), pad=reach)
    voxels = np.flatnonzero(np.pad(region, reach))
    return flat, padded_shape, voxels


# --- Lines and neighbours on a padded, flattened ROI (GLRLM, GLCM, NGTDM, GLDM, NGLDM) ---


def padded_levels(roi: np.ndarray, pad: int = 1) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return the grey levels (0 outside the ROI) padded by ``pad`` background voxels, flattened, and the padded shape.

    The smallest unsigned integer type that holds the levels is used (uint8 up to 255 levels), so that
    the passes over the array move few bytes. In the padded array a step of one voxel along a unit offset
    ``o`` is a step of :func:`flat_step` in the flat index, and a line leaving the ROI's box lands on a
    background voxel, never on another line.
    """
    top = int(roi.max()) if roi.size else 0
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.int64
    roi = np.asarray(roi)
    padded = np.zeros(tuple(n + 2 * pad for n in roi.shape), dtype=dtype)  # as np.pad, without its overhead
    padded[tuple(slice(pad, pad + n) for n in roi.shape)] = roi
    return padded.ravel(), padded.shape


def flat_step(offset: np.ndarray, padded_shape: tuple[int, ...]) -> int:
    """Return the flat-index step of ``offset`` (rows (di, dj, dk)) in a C-ordered array of ``padded_shape``.

    Unit offsets whose first non-zero component is positive (those of :func:`directions`) give a positive
    step. Inside an array padded by at least the offset's reach, ``x + offset`` is ``flat[f + step]``.
    """
    strides = (padded_shape[1] * padded_shape[2], padded_shape[2], 1)
    return int(sum(int(o) * s for o, s in zip(offset, strides, strict=True)))


def lines_along(flat: np.ndarray, step: int, size: int | None = None) -> tuple[np.ndarray, int]:
    """Return ``flat`` reordered so that every line along a direction of flat-index ``step`` is contiguous.

    Reshaping the (zero-extended) flat array to rows of ``step`` elements puts ``x`` and ``x + offset``
    in one column on consecutive rows; the transposed copy lists the columns one after another. Lines
    stay separated by background voxels (the padding), so runs of equal non-zero values in the result
    are the runs along the direction, in order. ``size`` is the number of array elements in ``flat``
    when background zeros follow them (then no zero-extended copy is made if they suffice). Returns the
    reordered array and the number of rows (position ``q`` in it is flat index
    ``(q % rows) * step + q // rows``).
    """
    size = flat.size if size is None else size
    rows = -(-size // step)
    if flat.size >= rows * step:
        extended = flat[: rows * step]
    else:
        extended = np.zeros(rows * step, dtype=flat.dtype)
        extended[: flat.size] = flat
    return extended.reshape(rows, step).T.ravel(), rows


# --- Zones (GLSZM, GLDZM) ---


def connectivity(in_plane: bool) -> np.ndarray:
    """Return the 3x3x3 Chebyshev-distance-1 structure: 26 neighbours, or the 8 in the (i, j) plane."""
    structure = np.ones((3, 3, 3), dtype=bool)
    if in_plane:
        structure[:, :, [0, 2]] = False
    return structure


def zones(levels: np.ndarray, mask: np.ndarray, *, in_plane: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return the zone label map (0 outside the ROI, zones numbered from 1) and each zone's grey level.

    Zones are the connected components of each grey level's voxels, 26-connected in 3D or 8-connected
    within slices of constant k when ``in_plane`` (then no zone spans two slices). All grey levels are
    labelled in one pass: ``skimage.measure.label`` joins only neighbours of equal value. In plane, a
    background slice is interleaved after every slice so that 26-connectivity cannot cross slices.
    """
    region = np.asarray(mask, dtype=bool)
    roi = np.where(region, levels, 0)
    if roi.size == 0:
        return np.zeros(roi.shape, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kernels = compiled()
    if kernels is not None:
        flat, padded_shape = padded_levels(roi)
        steps = flat_steps(neighbour_offsets(1, in_plane), padded_shape)
        flat_labels, n_zones = kernels.zone_labels(flat, steps[steps > 0])
        labels = np.ascontiguousarray(flat_labels.reshape(padded_shape)[1:-1, 1:-1, 1:-1])
        grey = np.zeros(n_zones, dtype=np.int64)
        grey[labels[region] - 1] = levels[region]
        return labels, grey
    if in_plane:
        spaced = np.zeros((*roi.shape, 2), dtype=roi.dtype)
        spaced[..., 0] = roi
        roi = spaced.reshape(*roi.shape[:2], 2 * roi.shape[2])
    labelled, n_zones = measure.label(roi, background=0, connectivity=3, return_num=True)
    labels = np.asarray(labelled[:, :, ::2] if in_plane else labelled, dtype=np.int64)
    grey = np.zeros(n_zones, dtype=np.int64)
    grey[labels[region] - 1] = levels[region]
    return labels, grey


def zone_table(
    levels: np.ndarray, mask: np.ndarray, *, in_plane: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each zone's grey level, size in voxels and slice index k (zones as :func:`zones`).

    The slice index is that of one of the zone's voxels: the zone's slice for in-plane zones,
    unspecified for 3D zones, which may span slices.

    The order of the zones is not specified (the compiled and numpy passes number them differently);
    what is counted from them does not depend on it. ``levels`` are 1..N_g inside the ROI.
    """
    region = np.asarray(mask, dtype=bool)
    kernels = compiled()
    if kernels is not None and region.size:
        flat, padded_shape = padded_roi(levels, region)
        grey, sizes, slices = kernels.zone_table(
            flat, neighbour_steps(1, in_plane, padded_shape), padded_shape[2], 1
        )
        return grey, sizes, slices
    labels, grey = zones(levels, region, in_plane=in_plane)
    sizes = np.bincount(labels.ravel(), minlength=grey.size + 1)[1:]
    return grey, sizes, zone_slices(labels, region, grey.size)


def dependence_per_voxel(
    levels: np.ndarray, mask: np.ndarray, *, alpha: int, distance: int, in_plane: bool
) -> np.ndarray:
    """Return the :func:`dependence_counts` of the ROI voxels only, in the C order of ``mask``."""
    region = np.asarray(mask, dtype=bool)
    kernels = compiled()
    if kernels is not None:
        flat, padded_shape = padded_roi(levels, region, pad=distance)
        return kernels.dependence(flat, neighbour_steps(distance, in_plane, padded_shape), int(alpha)) + 1
    counts = dependence_counts(levels, region, alpha=alpha, distance=distance, in_plane=in_plane)
    return counts[region]


def slice_index(mask: np.ndarray) -> np.ndarray:
    """Return an integer array of the mask's shape holding each voxel's slice index k."""
    return np.broadcast_to(np.arange(mask.shape[2]), mask.shape)


def zone_slices(labels: np.ndarray, mask: np.ndarray, n_zones: int) -> np.ndarray:
    """Return the slice index k of each in-plane zone 1..n_zones of the label map ``labels``."""
    zone_slice = np.zeros(n_zones + 1, dtype=np.int64)
    zone_slice[labels[mask]] = slice_index(mask)[mask]
    return zone_slice[1:]


# --- Count matrices (GLSZM, GLDZM, NGLDM, GLDM) ---


def count_matrices(
    groups: np.ndarray, grey: np.ndarray, counts: np.ndarray, n_groups: int, n_levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (matrices, count values): how many entities each (group, grey level, count) has.

    ``matrices`` has shape (n_groups, n_levels, number of distinct counts); row i-1 holds grey level i and
    column c the count ``count values[c]``. Only counts that occur get a column, which keeps the matrix
    small when zones are large. ``groups`` are slice indices (or all 0 for one matrix).
    """
    counts = np.asarray(counts, dtype=np.int64).ravel()
    occurring = np.bincount(counts) > 0 if counts.size else np.zeros(0, dtype=bool)
    values = np.flatnonzero(occurring)
    column = (np.cumsum(occurring) - 1)[counts]
    if values.size == 0:
        values = np.ones(1, dtype=np.int64)
    flat = (groups * n_levels + grey - 1) * values.size + column
    histogram = np.bincount(flat, minlength=n_groups * n_levels * values.size)
    return histogram.reshape(n_groups, n_levels, values.size).astype(np.float64), values


def count_matrix_features(
    matrix: np.ndarray, count_values: np.ndarray, n_voxels: np.ndarray
) -> dict[str, np.ndarray]:
    """Return the :data:`COUNT_FEATURES` of a stack of (grey level x count) matrices, one value per matrix.

    ``matrix`` has shape (n, N_g, N_c): element [., i-1, c] counts entities (zones, dependence
    neighbourhoods) of grey level i and count j = ``count_values[c]`` (zone size, zone distance,
    dependence count). ``n_voxels`` (n,) is each matrix's number of ROI voxels. A matrix with no entity
    gives NaN everywhere (but ``percentage``, 0). The formulas are those of :mod:`lai.radiomics.glszm`'s
    table, the zone size read as the count. With the C extension (:func:`compiled_numeric`) one pass per
    matrix computes them all (:func:`lai.radiomics.numeric.count_features`).
    """
    numeric = compiled_numeric()
    if numeric is not None and matrix.ndim == 3 and np.all(np.asarray(count_values) > 0):
        table = numeric.count_features(matrix, count_values, np.asarray(n_voxels))
        return dict(zip(COUNT_FEATURES, table.T, strict=True))
    i = np.arange(1, matrix.shape[1] + 1, dtype=np.float64)
    j = np.asarray(count_values, dtype=np.float64)
    total = matrix.sum(axis=(1, 2))
    p = safe_divide(matrix, total[:, None, None])
    rows = p.sum(axis=2)  # (n, N_g)
    columns = p.sum(axis=1)  # (n, N_c)
    # every weight but entropy's and energy's is f(i) g(j): one product with the count weights, then
    # small sums over the grey levels
    small, large = np.moveaxis(p @ np.stack([1.0 / j**2, j**2], axis=1), -1, 0)  # each (n, N_g)
    mu_i = rows @ i
    mu_j = columns @ j
    return {
        "small_emphasis": columns @ (1.0 / j**2),
        "large_emphasis": columns @ j**2,
        "low_grey_emphasis": rows @ (1.0 / i**2),
        "high_grey_emphasis": rows @ i**2,
        "small_low_grey_emphasis": small @ (1.0 / i**2),
        "small_high_grey_emphasis": small @ i**2,
        "large_low_grey_emphasis": large @ (1.0 / i**2),
        "large_high_grey_emphasis": large @ i**2,
        "grey_non_uniformity": (rows**2).sum(axis=1) * total,
        "grey_non_uniformity_norm": (rows**2).sum(axis=1),
        "count_non_uniformity": (columns**2).sum(axis=1) * total,
        "count_non_uniformity_norm": (columns**2).sum(axis=1),
        "percentage": safe_divide(total, n_voxels),
        "grey_variance": (rows * (i[None, :] - mu_i[:, None]) ** 2).sum(axis=1),
        "count_variance": (columns * (j[None, :] - mu_j[:, None]) ** 2).sum(axis=1),
        "count_entropy": entropy(p, (1, 2)),
        "count_energy": (p**2).sum(axis=(1, 2)),
    }


def count_features(
    grey: np.ndarray,
    counts: np.ndarray,
    slices: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    aggregation: str,
) -> dict[str, float]:
    """Return the aggregated :data:`COUNT_FEATURES` of entities with grey levels ``grey`` and counts ``counts``.

    An entity is a zone (GLSZM, GLDZM) or a voxel's neighbourhood (NGLDM); ``slices`` is its slice index k,
    used by ``"2D"`` to give each slice holding ROI voxels its own matrix (features averaged over them);
    ``"2_5D"`` and ``"3D"`` count every entity in one matrix.
    """
    if aggregation == "2D":
        present = np.flatnonzero(mask.any(axis=(0, 1)))
        matrices, values = count_matrices(slices, grey, counts, mask.shape[2], n_levels)
        matrices, n_voxels = matrices[present], mask.sum(axis=(0, 1))[present]
    else:
        matrices, values = count_matrices(np.zeros_like(grey), grey, counts, 1, n_levels)
        n_voxels = np.array([mask.sum()])
    return average_features(count_matrix_features(matrices, values, n_voxels))


# --- Arithmetic ---


def average_features(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Return each feature's mean over a stack of matrices, NaN entries left out (NaN if none is left).

    With one matrix this is its value; with one per slice or direction it is the IBSI average.
    """
    averaged = {}
    for name, per_matrix in values.items():
        finite = per_matrix[np.isfinite(per_matrix)]
        averaged[name] = float(finite.mean()) if finite.size else float("nan")
    return averaged


def entropy(p: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Return ``-sum p log2 p`` over ``axes``, with ``0 log2 0 = 0``."""
    logs = np.log2(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=axes)


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return ``numerator / denominator`` elementwise, NaN where the denominator is 0, without warnings."""
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    )
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out
