"""PyRadiomics compatibility mode: PyRadiomics' settings, conventions and feature names on LAI's families.

:func:`pyradiomics_features` returns ``original_<family>_<Feature>`` for the families ``firstorder``,
``shape``, ``glcm``, ``glrlm``, ``glszm``, ``gldm`` and ``ngtdm``, computed as PyRadiomics computes them
from its documented definitions (pyradiomics.readthedocs.io, "Radiomic Features"):

- grey levels: ``binWidth`` (default 25, bin edges at multiples of the width) or ``binCount``; levels start
  at 1 at the lowest occupied bin;
- ``force2D`` with ``force2Ddimension`` (0, 1, 2: the axis of PyRadiomics' (z, y, x) array across which
  slices are cut): texture matrices use in-plane neighbours only, and each direction's matrix (GLCM,
  GLRLM) or the single matrix (GLSZM, GLDM, NGTDM) accumulates every slice, IBSI's "2.5D" merging;
- GLCM: angles are the offsets whose Chebyshev norm is one of ``distances`` (default [1]: 13 in 3D, 4 in
  2D), counted both ways when ``symmetricalGLCM`` (default True); grey levels absent from every angle's
  matrix are removed; features are computed per angle and averaged (``weightingNorm`` None), or on the sum
  of the angles' matrices (``weightingNorm: no_weighting``);
- GLRLM: runs along the 13 (or 4 in-plane) unit directions, features per direction averaged (or on the
  summed matrix with ``no_weighting``); only ``distances: [1]`` is followed here;
- GLSZM: 26-connected zones (8 in plane); GLDM: dependence on the neighbours within ``gldm_a``, the
  centre counted; NGTDM: the neighbours' mean. Their neighbours are PyRadiomics' angles of ``distances``
  in both senses: 26 (8 in plane) for [1]; ``distances`` must be 1..D (a Chebyshev ball);
- first order: ``voxelArrayShift`` (default 0) before Energy, TotalEnergy and RootMeanSquared;
- ``normalize``: the whole image becomes ``(x - mean) / sd * normalizeScale``, sd with N - 1 (as
  SimpleITK's Normalize, which PyRadiomics calls);
- ``resegmentRange`` ``[low]`` or ``[low, high]`` (inclusive) keeps the ROI voxels in that range, read by
  ``resegmentMode``: ``absolute`` intensities (default), ``relative`` fractions of the ROI maximum, or
  ``sigma`` multiples of the ROI's standard deviation (N) around its mean. Every family but ``shape``
  uses the resegmented ROI; ``shape`` too with ``resegmentShape: True`` (default False).

- ``normalize`` with ``removeOutliers`` (n): after ``(x - mean) / sd`` values beyond +-n are set to +-n,
  then multiplied by ``normalizeScale`` (PyRadiomics' ``normalizeImage``);
- ``resampledPixelSpacing`` (mm per axis x, y, z; 0 keeps an axis) with ``interpolator``
  (``sitkBSpline``, PyRadiomics' default, ``sitkLinear`` or ``sitkNearestNeighbor``) and ``padDistance``
  (default 5): the grid PyRadiomics' ``resampleImage`` builds (the ROI's box in the new spacing grown by
  ``padDistance`` voxels, clipped to the image, voxel centres aligned as PyRadiomics aligns them; an axis
  the ROI spans in one voxel keeps its spacing), sampled as SimpleITK's ``ResampleImageFilter`` does:
  points outside the image are 0, an integer image stays integer (values truncated towards 0), the
  mask by nearest neighbour (:func:`pyradiomics_resampled`). Normalisation comes first, as in PyRadiomics.

Image types other than ``Original`` (LoG, Wavelet, ...) are not part of this mode and are refused by
name. Settings that only add diagnostics (``additionalInfo``, ...) are accepted and ignored.

``params`` follow PyRadiomics' parameter files: a mapping with sections ``imageType``, ``featureClass``
and ``setting`` (see :func:`read_pyradiomics_params`), the path of such a YAML file, or a flat mapping of
``setting`` keys alone (all families enabled).
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from lai.imaging import Image
from lai.radiomics import filters, firstorder, glrlm, glszm, ngtdm, shape
from lai.radiomics.discretisation import discretise_fixed_bin_count, discretise_fixed_bin_width
from lai.radiomics.extract import (
    RadiomicsError,
    as_image,
    label_box,
    labels_on_grid,
    require_label,
    require_orthogonal,
    single_voxel_texture,
)
from lai.radiomics.gldm import FEATURES as GLDM_FEATURES
from lai.radiomics.settings import WAVELETS, read_settings_file
from lai.radiomics.texture import (
    COUNT_FEATURES,
    aggregation_dims,
    checked_roi,
    compiled,
    compiled_numeric,
    count_matrices,
    count_matrix_features,
    dependence_per_voxel,
    flat_step,
    flat_steps,
    matrices_for_aggregation,
    padded_roi,
    roi_box,
    roi_levels,
    zone_table,
)

FAMILIES: tuple[str, ...] = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
"""Feature classes of this mode, in PyRadiomics' spelling."""

IMAGE_TYPES: tuple[str, ...] = ("Original", "LoG", "Wavelet")
"""Image types of this mode; PyRadiomics' other filtered types (Square, Gradient, LBP3D, ...) are refused."""

_TYPE_SETTINGS = frozenset(
    {"binWidth", "binCount", "distances", "symmetricalGLCM", "weightingNorm", "gldm_a", "voxelArrayShift"}
)
"""Settings a LoG or Wavelet image type may set for itself (PyRadiomics' per-image-type custom settings)."""

DEFAULT_SETTINGS: dict[str, Any] = {
    "binWidth": 25,
    "binCount": None,
    "force2D": False,
    "force2Ddimension": 0,
    "distances": [1],
    "symmetricalGLCM": True,
    "weightingNorm": None,
    "gldm_a": 0,
    "voxelArrayShift": 0,
    "label": 1,
    "normalize": False,
    "normalizeScale": 1,
    "resegmentRange": None,
    "resegmentMode": "absolute",
    "resegmentShape": False,
    "removeOutliers": None,
    "resampledPixelSpacing": None,
    "interpolator": "sitkBSpline",
    "padDistance": 5,
}
"""PyRadiomics' defaults for the settings this mode uses."""

_REFUSED_UNLESS_OFF: dict[str, object] = {}
"""Settings this mode accepts only at the value that disables them."""

INTERPOLATORS: dict[str, int] = {"sitkNearestNeighbor": 0, "sitkLinear": 1, "sitkBSpline": 3}
"""PyRadiomics ``interpolator`` names (SimpleITK's) this mode follows, and their spline order."""

_SITK_INTERPOLATOR_CODES = {1: "sitkNearestNeighbor", 2: "sitkLinear", 3: "sitkBSpline"}
"""SimpleITK's integer codes of those interpolators, accepted as in PyRadiomics parameter files."""

_IGNORED = frozenset(
    {
        "preCrop",
        "minimumROIDimensions",
        "minimumROISize",
        "additionalInfo",
        "geometryTolerance",
        "correctMask",
        "enableCExtensions",
        "label_channel",
    }
)
"""PyRadiomics settings without effect here (they act only with resampling, filters or diagnostics)."""

_WEIGHTING_NORMS = (None, "no_weighting")
_RESEGMENT_MODES = ("absolute", "relative", "sigma")
_EPS = float(np.spacing(1))
_SECTIONS = frozenset({"imageType", "featureClass", "setting"})


class PyRadiomicsParamsError(ValueError):
    """A PyRadiomics parameter file or mapping this mode cannot follow; the message names the key."""


# --- Parameters ---


def read_pyradiomics_params(params: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Return validated parameters ``{"imageType", "featureClass", "setting"}`` from a file or mapping.

    ``featureClass`` maps each enabled family to ``None`` (every feature) or a list of feature names
    (default: every family); ``setting`` holds every setting this mode uses, PyRadiomics' defaults filled
    in, and the custom settings of ``imageType: {Original: {...}}`` override it, as in PyRadiomics. A
    mapping with none of the three sections is taken as the ``setting`` section.

    Raises
    ------
    PyRadiomicsParamsError
        For an image type other than ``Original`` (named), an unknown section (``voxelSetting``), family or
        setting, or a setting this mode cannot follow (resampling, ``removeOutliers``, a ``weightingNorm``
        other than None and ``no_weighting``, ...).

    Examples
    --------
    >>> read_pyradiomics_params({"binWidth": 10, "force2D": True})["setting"]["binWidth"]
    10
    """
    raw = (
        params
        if isinstance(params, Mapping)
        else read_settings_file(Path(params), error=PyRadiomicsParamsError)
    )
    if not set(raw) & _SECTIONS:
        raw = {"setting": raw}
    sections = sorted(str(name) for name in set(raw) - _SECTIONS)
    if sections:
        msg = f"Unknown or unsupported parameter section(s) {sections}; supported: {sorted(_SECTIONS)}"
        raise PyRadiomicsParamsError(msg)
    image_types = raw.get("imageType") or {"Original": {}}
    refused = sorted(str(name) for name in image_types if name not in IMAGE_TYPES)
    if refused:
        msg = (
            f"Image type(s) {refused} are not part of the PyRadiomics compatibility mode yet; "
            f"supported: {list(IMAGE_TYPES)}"
        )
        raise PyRadiomicsParamsError(msg)
    general = {**(raw.get("setting") or {}), **dict(image_types.get("Original") or {})}
    feature_class = raw.get("featureClass")
    if feature_class is None:
        feature_class = dict.fromkeys(FAMILIES)
    unknown = sorted(str(name) for name in feature_class if name not in FAMILIES)
    if unknown:
        msg = f"Feature class(es) {unknown} are not part of this mode; supported: {list(FAMILIES)}"
        raise PyRadiomicsParamsError(msg)
    parsed_types: dict[str, dict[str, Any]] = {}
    if "Original" in image_types:
        parsed_types["Original"] = dict(image_types.get("Original") or {})
    for name in ("LoG", "Wavelet"):
        if name in image_types:
            parsed_types[name] = _filter_type(name, dict(image_types[name] or {}), general)
    return {
        "imageType": parsed_types,
        "featureClass": {name: (list(names) if names else None) for name, names in feature_class.items()},
        "setting": _settings(general),
    }


def _filter_type(name: str, options: dict[str, Any], general: Mapping[str, Any]) -> dict[str, Any]:
    """Return a LoG (``sigma``) or Wavelet (``wavelet``) image type's filter options and complete settings."""
    parsed: dict[str, Any] = {}
    if name == "LoG":
        sigma = options.pop("sigma", None)
        if (
            not isinstance(sigma, list | tuple)
            or not sigma
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in sigma)
        ):
            msg = f"Image type LoG needs sigma: a list of sigmas > 0 mm, found {sigma!r}"
            raise PyRadiomicsParamsError(msg)
        parsed["sigma"] = [float(v) for v in sigma]
    else:
        parsed["wavelet"] = options.pop("wavelet", "coif1")
        if parsed["wavelet"] not in WAVELETS:
            msg = f"Image type Wavelet: wavelet={parsed['wavelet']!r} is not supported; use one of {list(WAVELETS)}"
            raise PyRadiomicsParamsError(msg)
        level, start = options.pop("level", 1), options.pop("start_level", 0)
        if level != 1 or start != 0:
            msg = f"Image type Wavelet: only level 1 and start_level 0 are supported, found {level}, {start}"
            raise PyRadiomicsParamsError(msg)
    refused = sorted(str(key) for key in options if key not in _TYPE_SETTINGS)
    if refused:
        msg = f"Image type {name}: setting(s) {refused} cannot be set per image type; allowed: {sorted(_TYPE_SETTINGS)}"
        raise PyRadiomicsParamsError(msg)
    parsed["setting"] = _settings({**general, **options})
    return parsed


def _settings(given: Mapping[str, Any]) -> dict[str, Any]:
    for key, off in _REFUSED_UNLESS_OFF.items():
        if key in given and given[key] is not off:
            msg = f"Setting {key}={given[key]!r} is not part of the PyRadiomics compatibility mode yet; leave it at {off!r}"
            raise PyRadiomicsParamsError(msg)
    unknown = sorted(set(given) - set(DEFAULT_SETTINGS) - set(_REFUSED_UNLESS_OFF) - _IGNORED)
    if unknown:
        msg = f"Unknown PyRadiomics setting(s) {unknown}; known: {sorted(DEFAULT_SETTINGS)}"
        raise PyRadiomicsParamsError(msg)
    merged = {**DEFAULT_SETTINGS, **{k: v for k, v in given.items() if k in DEFAULT_SETTINGS}}
    if "binCount" in given and given["binCount"] is not None and "binWidth" not in given:
        merged["binWidth"] = None
    if (merged["binWidth"] is None) == (merged["binCount"] is None):
        msg = f"Set one of binWidth and binCount, found binWidth={merged['binWidth']!r}, binCount={merged['binCount']!r}"
        raise PyRadiomicsParamsError(msg)
    if merged["weightingNorm"] not in _WEIGHTING_NORMS:
        msg = f"Setting weightingNorm={merged['weightingNorm']!r} is not supported; use one of {list(_WEIGHTING_NORMS)}"
        raise PyRadiomicsParamsError(msg)
    if merged["force2Ddimension"] not in (0, 1, 2):
        msg = f"Setting force2Ddimension must be 0, 1 or 2, found {merged['force2Ddimension']!r}"
        raise PyRadiomicsParamsError(msg)
    reseg = merged["resegmentRange"]
    if reseg is not None and (len(reseg) not in (1, 2) or (len(reseg) == 2 and reseg[0] > reseg[1])):
        msg = f"Setting resegmentRange must be [low] or [low, high] with low <= high, found {reseg!r}"
        raise PyRadiomicsParamsError(msg)
    if merged["resegmentMode"] not in _RESEGMENT_MODES:
        msg = f"Setting resegmentMode={merged['resegmentMode']!r}: use one of {list(_RESEGMENT_MODES)}"
        raise PyRadiomicsParamsError(msg)
    interpolator = merged["interpolator"]
    interpolator = (
        _SITK_INTERPOLATOR_CODES.get(interpolator, interpolator)
        if isinstance(interpolator, int)
        else interpolator
    )
    resampling = merged["resampledPixelSpacing"] is not None
    if interpolator not in INTERPOLATORS and (resampling or interpolator is not None):
        msg = f"Setting interpolator={merged['interpolator']!r} is not supported; use one of {list(INTERPOLATORS)}"
        raise PyRadiomicsParamsError(msg)
    merged["interpolator"] = interpolator
    spacing = merged["resampledPixelSpacing"]
    if spacing is not None:
        if (
            not isinstance(spacing, list | tuple)
            or len(spacing) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in spacing)
        ):
            msg = (
                f"Setting resampledPixelSpacing must be 3 spacings in mm (0 keeps an axis), found {spacing!r}"
            )
            raise PyRadiomicsParamsError(msg)
        merged["resampledPixelSpacing"] = [float(v) for v in spacing]
    if not isinstance(merged["padDistance"], int) or merged["padDistance"] < 0:
        msg = f"Setting padDistance must be a whole number >= 0, found {merged['padDistance']!r}"
        raise PyRadiomicsParamsError(msg)
    outliers = merged["removeOutliers"]
    if outliers is not None and (
        isinstance(outliers, bool) or not isinstance(outliers, int | float) or outliers <= 0
    ):
        msg = f"Setting removeOutliers must be a positive number of standard deviations, found {outliers!r}"
        raise PyRadiomicsParamsError(msg)
    distances = [int(d) for d in merged["distances"]]
    if not distances or min(distances) < 1:
        msg = f"Setting distances must be positive integers, found {merged['distances']!r}"
        raise PyRadiomicsParamsError(msg)
    merged["distances"] = distances
    merged["label"] = int(merged["label"])
    merged["gldm_a"] = int(merged["gldm_a"])
    return merged


# --- Intensities, ROI and grey levels ---


def normalised(intensities: np.ndarray, scale: float, outliers: float | None = None) -> np.ndarray:
    """Return ``(x - mean) / sd`` over the whole image (sd with N - 1, SimpleITK's Normalize), values
    beyond +-``outliers`` set to +-``outliers`` when given, times ``scale`` (PyRadiomics' normalizeImage)."""
    values = np.asarray(intensities, dtype=np.float64)
    standard = (values - values.mean()) / values.std(ddof=1)
    if outliers is not None:
        standard = np.clip(standard, -float(outliers), float(outliers))
    return standard * float(scale)


def resegmented(
    region: np.ndarray, intensities: np.ndarray, bounds: Sequence[float], mode: str
) -> np.ndarray:
    """Return the ROI voxels whose intensity lies in ``bounds`` ([low] or [low, high], inclusive).

    ``mode`` reads the bounds as intensities (``absolute``), fractions of the ROI maximum (``relative``)
    or multiples of the ROI's standard deviation around its mean (``sigma``).
    """
    values = intensities[region]
    scale = {"absolute": (0.0, 1.0), "relative": (0.0, values.max()), "sigma": (values.mean(), values.std())}
    offset, unit = scale[mode]
    low = offset + bounds[0] * unit
    high = offset + bounds[1] * unit if len(bounds) > 1 else np.inf
    return region & (intensities >= low) & (intensities <= high)


def pyradiomics_levels(values: np.ndarray, setting: Mapping[str, Any]) -> np.ndarray:
    """Return the grey levels (1 = lowest occupied bin) of the ROI intensities ``values``."""
    if setting["binWidth"] is not None:
        return discretise_fixed_bin_width(values, float(setting["binWidth"]))
    return discretise_fixed_bin_count(values, int(setting["binCount"]))


def pyradiomics_resampled(
    image: np.ndarray,
    labels: np.ndarray,
    region: np.ndarray,
    affine: np.ndarray,
    setting: Mapping[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (image, labels, affine) on PyRadiomics' resampled grid around the ROI ``region``.

    The grid follows PyRadiomics' ``resampleImage`` (index space of the image, axes i, j, k = x, y, z):
    with ``r`` the ratio old spacing / new spacing and the ROI's box ``[b, b + n)``, the new box runs from
    ``floor((b - 0.5) r - pad)`` to ``ceil((b + n - 0.5) r + pad)`` (clipped to ``[0, ceil(size r) - 1]``)
    and new voxel ``m`` sits at old continuous index ``(s_new - s_old) / (2 s_old) + (low + m) / r``.
    Values are sampled as SimpleITK's resampling filter does: B-spline (whole-sample mirror boundary),
    linear or nearest interpolation, 0 outside the image (continuous index beyond -0.5 .. size - 0.5),
    and for an integer image a cast back to its type (truncation towards 0, clipped to the type's range);
    labels by nearest neighbour (halves rounded up).
    """
    spacing = np.abs(np.asarray([np.linalg.norm(affine[:3, a]) for a in range(3)]))
    present = [np.flatnonzero(region.any(axis=tuple(b for b in range(3) if b != a))) for a in range(3)]
    low_box = np.array([p[0] for p in present], dtype=float)
    size_box = np.array([p[-1] - p[0] + 1 for p in present], dtype=float)
    new = np.asarray(setting["resampledPixelSpacing"], dtype=float)
    new = np.where(new == 0, spacing, new)
    new = np.where(size_box != 1, new, spacing)  # an axis the ROI spans in one voxel is kept
    ratio = spacing / new
    pad = float(setting["padDistance"])
    low = np.floor((low_box - 0.5) * ratio - pad)
    high = np.ceil((low_box + size_box - 0.5) * ratio + pad)
    low = np.maximum(low, 0.0)
    high = np.minimum(high, np.ceil(np.asarray(image.shape) * ratio) - 1)
    size = (high - low + 1).astype(int)
    origin = 0.5 * (new - spacing) / spacing + low / ratio
    positions = [origin[a] + np.arange(size[a]) / ratio[a] for a in range(3)]
    inside = np.ones(tuple(size), dtype=bool)
    for a in range(3):
        axis_inside = (positions[a] >= -0.5) & (positions[a] < image.shape[a] - 0.5)
        inside &= axis_inside.reshape([-1 if b == a else 1 for b in range(3)])
    grid = np.meshgrid(*positions, indexing="ij")
    order = INTERPOLATORS[setting["interpolator"]]
    if order == 0:
        values = np.asarray(image)[
            tuple(
                np.clip(np.floor(g + 0.5).astype(int), 0, n - 1)
                for g, n in zip(grid, image.shape, strict=True)
            )
        ]
        values = values.astype(np.float64)
    else:
        values = ndimage.map_coordinates(
            np.asarray(image, dtype=np.float64), grid, order=order, mode="mirror"
        )
    values = np.where(inside, values, 0.0)
    if np.issubdtype(np.asarray(image).dtype, np.integer):
        limits = np.iinfo(np.asarray(image).dtype)
        values = np.clip(np.trunc(values), limits.min, limits.max)
    nearest = tuple(
        np.clip(np.floor(g + 0.5).astype(int), 0, n - 1) for g, n in zip(grid, image.shape, strict=True)
    )
    new_labels = np.where(inside, labels[nearest], 0)
    new_affine = np.array(affine, dtype=float)
    new_affine[:3, :3] = affine[:3, :3] / ratio
    new_affine[:3, 3] = affine[:3, :3] @ origin + affine[:3, 3]
    return values, new_labels, new_affine


# --- GLCM ---


def glcm_angles(distances: Sequence[int], in_plane: bool) -> np.ndarray:
    """Return PyRadiomics' GLCM offsets (rows of (di, dj, dk)): Chebyshev norm in ``distances``, one per ±pair.

    ``in_plane`` keeps the offsets with ``dk = 0`` (force2D, slices along the last axis). The array is
    shared between calls: do not modify it.
    """
    return _glcm_angles(tuple(int(d) for d in distances), bool(in_plane))


@functools.lru_cache(maxsize=16)
def _glcm_angles(distances: tuple[int, ...], in_plane: bool) -> np.ndarray:
    reach = max(distances)
    steps = range(-reach, reach + 1)
    offsets = [
        v
        for v in itertools.product(steps, steps, (0,) if in_plane else steps)
        if max(map(abs, v)) in distances and next(c for c in v if c) > 0
    ]
    angles = np.array(offsets, dtype=np.intp)
    angles.flags.writeable = False
    return angles


def cooccurrence_counts(
    levels: np.ndarray, mask: np.ndarray, offsets: np.ndarray, *, n_levels: int, symmetrical: bool
) -> np.ndarray:
    """Return the co-occurrence counts per offset, shape (A, N_g, N_g), summed over the whole ROI.

    ``[a, i-1, j-1]`` counts ROI voxel pairs ``(x, x + offset_a)`` with levels ``(i, j)``; with
    ``symmetrical`` each pair is counted both ways.
    """
    reach = int(np.abs(offsets).max()) if len(offsets) else 1
    flat, padded_shape = padded_roi(levels, mask, pad=reach)
    # every pair (x, x + offset) is one element of two contiguous slices of the flat array; its key
    # (level of x) * (N_g + 1) + (level of x + offset) puts pairs with a voxel outside the ROI (level 0)
    # in row or column 0, which are dropped: one bincount per offset, no selection of ROI voxels
    kernels = compiled()
    if kernels is not None:
        steps = _flat_steps(np.asarray(offsets, dtype=np.intp).tobytes(), padded_shape)
        counts = kernels.cooccurrence(flat, steps, n_levels)
    else:
        counts = _cooccurrence_numpy(flat, padded_shape, offsets, n_levels)
    counts = counts.reshape(len(offsets), n_levels + 1, n_levels + 1)[:, 1:, 1:]
    return counts + counts.swapaxes(1, 2) if symmetrical else counts


@functools.lru_cache(maxsize=64)
def _flat_steps(offsets: bytes, padded_shape: tuple[int, ...]) -> np.ndarray:
    """Return the flat steps of the offsets (an (A, 3) intp array's bytes) in an array of ``padded_shape``."""
    steps = flat_steps(np.frombuffer(offsets, dtype=np.intp).reshape(-1, 3), padded_shape)
    steps.flags.writeable = False
    return steps


def _cooccurrence_numpy(
    flat: np.ndarray, padded_shape: tuple[int, ...], offsets: np.ndarray, n_levels: int
) -> np.ndarray:
    """Return the pair counts (A, (N_g + 1)^2) of :func:`lai.radiomics.kernels.cooccurrence`, in numpy."""
    size = (n_levels + 1) ** 2
    second: np.ndarray = flat.astype(np.uint16 if size <= 2**16 else np.int64)
    first = second * second.dtype.type(n_levels + 1)
    counts = np.empty((len(offsets), size), dtype=np.int64)
    for a, offset in enumerate(offsets):
        step = flat_step(offset, padded_shape)
        counts[a] = np.bincount(first[:-step] + second[step:], minlength=size)
    return counts


def glcm_matrix_features(
    counts: np.ndarray, grey: np.ndarray, n_g: int | np.ndarray
) -> dict[str, np.ndarray]:
    """Return PyRadiomics' 24 GLCM features of each matrix of the stack ``counts`` (M, n, n).

    ``grey`` are the grey levels of the rows and columns: (n,) for every matrix, or (M, n) one row per
    matrix (non-negative integers); ``n_g`` the ``N_g`` of Idn and Idmn (one number, or one per matrix).
    Rows and columns of absent grey levels add nothing, so matrices may be padded with zeros to stack them
    (PyRadiomics removes them; the sums are the same). Logarithms are ``log2(x + eps)``, eps the float64
    machine epsilon. With the C extension (``compiled_numeric()``) every feature comes from C: one
    pass per matrix, and MCC's eigenvalue (agreeing with this numpy code to 1e-12 relative, tested).
    """
    n_g = np.asarray(n_g, dtype=np.float64).reshape(-1, 1)  # (1 or M, 1) against (M, k) below
    levels = np.broadcast_to(np.asarray(grey, dtype=np.float64), counts.shape[:2])  # (M, n)
    numeric = compiled_numeric()
    if numeric is not None and counts.shape[-1] >= 2:
        table = numeric.glcm_features(counts, levels, np.broadcast_to(n_g[:, 0], (len(counts),)))
        columns = dict(zip(numeric.GLCM_FEATURES, table.T, strict=True))
        columns["MCC"] = numeric.glcm_mcc(counts)
        names = (*numeric.GLCM_FEATURES[:15], "MCC", *numeric.GLCM_FEATURES[15:])  # MCC after Idm
        return {name: columns[name] for name in names}
    p = counts / counts.sum(axis=(1, 2), keepdims=True)
    px, py = p.sum(axis=2), p.sum(axis=1)
    i, j = levels[:, :, None], levels[:, None, :]
    ux, uy = (px * levels).sum(axis=1), (py * levels).sum(axis=1)
    sx = np.sqrt((px * levels**2).sum(axis=1) - ux**2)
    sy = np.sqrt((py * levels**2).sum(axis=1) - uy**2)
    diff = np.abs(i - j).astype(np.intp)
    total = (i + j).astype(np.intp)
    p_diff = _bin_sums(p, diff, int(diff.max()) + 1)
    p_sum = _bin_sums(p, total, int(total.max()) + 1)
    k_diff = np.arange(p_diff.shape[1], dtype=float)
    k_sum = np.arange(p_sum.shape[1], dtype=float)
    hx = -(px * np.log2(px + _EPS)).sum(axis=1)
    hy = -(py * np.log2(py + _EPS)).sum(axis=1)
    pxpy = px[:, :, None] * py[:, None, :]
    log_pxpy = np.log2(pxpy + _EPS)
    hxy = -(p * np.log2(p + _EPS)).sum(axis=(1, 2))
    hxy1 = -(p * log_pxpy).sum(axis=(1, 2))
    hxy2 = -(pxpy * log_pxpy).sum(axis=(1, 2))
    # the cluster features depend on i + j only, the contrast on |i - j| only: sums over p_sum, p_diff
    centred = k_sum[None] - (ux + uy)[:, None]
    centred_2 = centred * centred
    diff_avg = p_diff @ k_diff
    flat = p.reshape(len(p), -1)
    sxy = sx * sy
    autocorrelation = np.einsum("mij,mi,mj->m", p, levels, levels)
    correlation = np.divide(autocorrelation - ux * uy, sxy, out=np.ones_like(sxy), where=sxy > 0)
    max_h = np.maximum(hx, hy)
    return {
        "Autocorrelation": autocorrelation,
        "JointAverage": ux,
        "ClusterProminence": (p_sum * centred_2 * centred_2).sum(axis=1),
        "ClusterShade": (p_sum * centred_2 * centred).sum(axis=1),
        "ClusterTendency": (p_sum * centred_2).sum(axis=1),
        "Contrast": p_diff @ k_diff**2,
        "Correlation": correlation,
        "DifferenceAverage": diff_avg,
        "DifferenceEntropy": -(p_diff * np.log2(p_diff + _EPS)).sum(axis=1),
        "DifferenceVariance": ((k_diff[None] - diff_avg[:, None]) ** 2 * p_diff).sum(axis=1),
        "JointEnergy": np.einsum("mk,mk->m", flat, flat),
        "JointEntropy": hxy,
        "Imc1": np.divide(hxy - hxy1, max_h, out=np.zeros_like(max_h), where=max_h > 0),
        "Imc2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - hxy)), 0.0, None)),
        "Idm": p_diff @ (1.0 / (1.0 + k_diff**2)),
        "MCC": _mcc(p, px, py),
        "Idmn": (p_diff / (1.0 + k_diff**2 / n_g**2)).sum(axis=1),
        "Id": p_diff @ (1.0 / (1.0 + k_diff)),
        "Idn": (p_diff / (1.0 + k_diff / n_g)).sum(axis=1),
        "InverseVariance": p_diff[:, 1:] @ (1.0 / k_diff[1:] ** 2),
        "MaximumProbability": flat.max(axis=1),
        "SumAverage": p_sum @ k_sum,
        "SumEntropy": -(p_sum * np.log2(p_sum + _EPS)).sum(axis=1),
        "SumSquares": ((levels - ux[:, None]) ** 2 * px).sum(axis=1),
    }


def _bin_sums(p: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    keys = np.arange(len(p))[:, None, None] * n_bins + bins
    return np.bincount(keys.ravel(), weights=p.ravel(), minlength=len(p) * n_bins).reshape(len(p), n_bins)


def _mcc(p: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Return sqrt of the second largest eigenvalue of ``Q_ij = sum_k p_ik p_jk / (p_x(i) p_y(k))``.

    ``Q = D_x^-1 P D_y^-1 P^T`` (``D`` the diagonal marginals) is similar to the symmetric positive
    semi-definite ``S = D_x^-1/2 P D_y^-1 P^T D_x^-1/2``, so its eigenvalues come from the faster
    symmetric solver (levels absent from a matrix give a zero row and column in both).
    """
    if p.shape[-1] < 2:
        return np.ones(len(p))
    row = np.divide(1.0, np.sqrt(px), out=np.zeros_like(px), where=px > 0)
    column = np.divide(1.0, np.sqrt(py), out=np.zeros_like(py), where=py > 0)
    a = p * row[:, :, None] * column[:, None, :]
    if np.array_equal(p, p.swapaxes(1, 2)):
        # a symmetric GLCM gives a symmetric A (p_x = p_y), and S = A A^T = A^2: the eigenvalues of S are
        # the squares of A's, so one eigen-decomposition of A, without the product
        squares = np.sort(np.linalg.eigvalsh(a) ** 2, axis=1)
        return np.sqrt(squares[:, -2])
    eigenvalues = np.linalg.eigvalsh(a @ a.swapaxes(1, 2))
    return np.sqrt(np.clip(eigenvalues[:, -2], 0.0, None))


def glcm_features(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], *, n_levels: int | None = None
) -> dict[str, float]:
    """Return PyRadiomics' GLCM features (by name) of grey levels ``levels`` in ``mask``, slices along k."""
    return _one_image("glcm", levels, mask, setting, n_levels)


def _glcm_counts(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], n_levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the GLCMs (A, n, n) of the grey levels present in the ROI, as PyRadiomics keeps them, and those n levels."""
    offsets = glcm_angles(setting["distances"], bool(setting["force2D"]))
    counts = cooccurrence_counts(
        levels, mask, offsets, n_levels=n_levels, symmetrical=bool(setting["symmetricalGLCM"])
    )
    present = counts.sum(axis=(0, 2)) > 0
    if not setting["symmetricalGLCM"]:  # a level may occur only as the second of a pair
        present |= counts.sum(axis=(0, 1)) > 0
    if not present.all():
        kept = np.flatnonzero(present)
        counts = counts[:, kept[:, None], kept]
    if setting["weightingNorm"] == "no_weighting":
        counts = counts.sum(axis=0, keepdims=True)
    return counts, np.flatnonzero(present) + 1


def _glcm_finish(
    partials: Sequence[tuple[np.ndarray, np.ndarray]], setting: Mapping[str, Any], n_levels: Sequence[int]
) -> list[dict[str, float]]:
    """Features of each image's GLCMs: all matrices in one zero-padded stack, averaged per image."""
    del setting
    size = max(len(grey) for _, grey in partials)
    stack, groups = _padded_stack([counts for counts, _ in partials], (size, size))
    grey, _ = _padded_stack(
        [np.broadcast_to(grey, (len(counts), len(grey))) for counts, grey in partials], (size,)
    )
    n_g = np.asarray(n_levels, dtype=np.float64)[groups]
    kept = stack.sum(axis=(1, 2)) > 0
    values = glcm_matrix_features(stack[kept], grey[kept], n_g[kept])
    return _group_means(values, groups[kept], len(partials))


def _padded_stack(parts: Sequence[np.ndarray], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return the stacks ``parts`` (each (M_b, ...)) zero-padded to ``shape`` and joined, and each row's part."""
    stack = np.zeros((sum(len(part) for part in parts), *shape))
    start = 0
    for part in parts:
        stack[(slice(start, start + len(part)), *(slice(0, n) for n in part.shape[1:]))] = part
        start += len(part)
    return stack, np.repeat(np.arange(len(parts)), [len(part) for part in parts])


def _group_means(
    values: Mapping[str, np.ndarray], groups: np.ndarray, n_groups: int
) -> list[dict[str, float]]:
    """Return per group the mean of each feature's finite values (NaN where a group has none).

    All features at once: one key per (feature, group), the values summed in matrix order per key.
    """
    names = list(values)
    if not names:
        return [{} for _ in range(n_groups)]
    table = np.stack([np.asarray(values[name], dtype=np.float64) for name in names])  # (features, matrices)
    finite = np.isfinite(table)
    keys = (np.arange(len(names))[:, None] * n_groups + groups[None, :])[finite]
    size = len(names) * n_groups
    totals = np.bincount(keys, weights=table[finite], minlength=size).reshape(len(names), n_groups)
    numbers = np.bincount(keys, minlength=size).reshape(len(names), n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(numbers > 0, totals / np.maximum(numbers, 1), np.nan).T.tolist()
    return [dict(zip(names, row, strict=True)) for row in means]


# --- Other texture families, through LAI's IBSI modules ---


def _named(module: Any, values: Mapping[str, float]) -> dict[str, float]:
    return {f.pyradiomics: values[f.base_tag] for f in module.FEATURES if f.pyradiomics}


def _neighbourhood_radius(distances: Sequence[int], family: str) -> int:
    """Return D when ``distances`` are 1..D, whose PyRadiomics angles make the Chebyshev ball of radius D."""
    radius = max(distances)
    if sorted(set(distances)) != list(range(1, radius + 1)):
        msg = f"Setting distances={list(distances)}: {family} here follows only distances 1..D, e.g. [1] or [1, 2]"
        raise PyRadiomicsParamsError(msg)
    return radius


def glrlm_features(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], *, n_levels: int | None = None
) -> dict[str, float]:
    """Return PyRadiomics' GLRLM features: runs per direction, features averaged over directions."""
    return _one_image("glrlm", levels, mask, setting, n_levels)


def _glrlm_counts(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], n_levels: int
) -> np.ndarray:
    if list(setting["distances"]) != [1]:
        msg = f"Setting distances={setting['distances']}: glrlm here follows only distances [1]"
        raise PyRadiomicsParamsError(msg)
    plane = "2_5D" if setting["force2D"] else "3D"
    merge = "comb" if setting["weightingNorm"] == "no_weighting" else "avg"
    aggregation = f"{plane}_{merge}"
    matrices = glrlm.run_length_matrices(levels, mask, n_levels=n_levels, dims=aggregation_dims(aggregation))
    return matrices_for_aggregation(matrices, aggregation)


def _glrlm_finish(
    partials: Sequence[np.ndarray], setting: Mapping[str, Any], n_levels: Sequence[int]
) -> list[dict[str, float]]:
    del setting, n_levels
    shape = (max(part.shape[1] for part in partials), max(part.shape[2] for part in partials))
    stack, groups = _padded_stack(partials, shape)
    return [
        _named(glrlm, values)
        for values in _group_means(glrlm.glrlm_matrix_features(stack), groups, len(partials))
    ]


def glszm_features(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], *, n_levels: int | None = None
) -> dict[str, float]:
    """Return PyRadiomics' GLSZM features: one matrix of 26-connected zones (8 in plane with force2D)."""
    return _one_image("glszm", levels, mask, setting, n_levels)


_CountMatrix = tuple[np.ndarray, np.ndarray, int]
"""One image's count matrix: (N_g, V) entities per grey level and count, the V counts that occur, and the
ROI's number of voxels."""


def _count_matrix(grey: np.ndarray, counts: np.ndarray, mask: np.ndarray, n_levels: int) -> _CountMatrix:
    numeric = compiled_numeric()
    if numeric is not None and counts.size and int(counts.max()) < 4096:  # dependence counts: one C pass
        matrix, values = numeric.count_matrix(grey, counts, n_levels)
        return matrix, values, int(np.count_nonzero(mask))
    matrices, values = count_matrices(np.zeros_like(grey), grey, counts, 1, n_levels)
    return matrices[0], values, int(np.count_nonzero(mask))


def _glszm_counts(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], n_levels: int
) -> _CountMatrix:
    grey, sizes, _ = zone_table(levels, mask, in_plane=bool(setting["force2D"]))
    return _count_matrix(grey, sizes, mask, n_levels)


def _count_matrix_values(partials: Sequence[_CountMatrix], n_levels: Sequence[int]) -> dict[str, np.ndarray]:
    """Return the count-matrix features of each image's matrix, all in one stack over the counts that occur."""
    values = np.unique(np.concatenate([part[1] for part in partials]))
    stack = np.zeros((len(partials), max(n_levels), values.size))
    for b, (matrix, own, _) in enumerate(partials):
        image = stack[b]  # a view: (N_g, V)
        image[: matrix.shape[0], np.searchsorted(values, own)] = matrix
    return count_matrix_features(stack, values, np.array([part[2] for part in partials]))


def _glszm_finish(
    partials: Sequence[_CountMatrix], setting: Mapping[str, Any], n_levels: Sequence[int]
) -> list[dict[str, float]]:
    del setting
    values = _count_matrix_values(partials, n_levels)
    names = list(zip(glszm.FEATURES, COUNT_FEATURES[:16], strict=True))
    return [
        {feature.pyradiomics: float(values[name][b]) for feature, name in names if feature.pyradiomics}
        for b in range(len(partials))
    ]


_NGTDM_FLAT_REGION = {"Coarseness": 1e6, "Contrast": 0.0, "Busyness": 0.0, "Strength": 0.0}
"""PyRadiomics' documented NGTDM values where a denominator is 0 (a region of one grey level: no
difference to neighbourhoods), which IBSI and LAI leave undefined (NaN)."""


def ngtdm_features(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], *, n_levels: int | None = None
) -> dict[str, float]:
    """Return PyRadiomics' NGTDM features: one matrix over the 26 neighbours (8 in plane with force2D).

    Undefined (0/0) features take PyRadiomics' flat-region values (:data:`_NGTDM_FLAT_REGION`).
    """
    return _one_image("ngtdm", levels, mask, setting, n_levels)


def _ngtdm_counts(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], n_levels: int
) -> tuple[np.ndarray, np.ndarray]:
    return ngtdm.ngtdm_matrix(
        levels,
        mask,
        n_levels=n_levels,
        aggregation="2_5D" if setting["force2D"] else "3D",
        distance=_neighbourhood_radius(setting["distances"], "ngtdm"),
    )


def _ngtdm_finish(
    partials: Sequence[tuple[np.ndarray, np.ndarray]], setting: Mapping[str, Any], n_levels: Sequence[int]
) -> list[dict[str, float]]:
    del setting
    size = max(n_levels)
    s, groups = _padded_stack([part[0] for part in partials], (size,))
    n, _ = _padded_stack([part[1] for part in partials], (size,))
    averaged = _group_means(ngtdm.ngtdm_matrix_features(s, n), groups, len(partials))
    named = [_named(ngtdm, values) for values in averaged]
    return [
        {name: _NGTDM_FLAT_REGION.get(name, v) if np.isnan(v) else v for name, v in values.items()}
        for values in named
    ]


def gldm_family(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], *, n_levels: int | None = None
) -> dict[str, float]:
    """Return PyRadiomics' GLDM features with dependence within ``gldm_a``, the centre counted."""
    return _one_image("gldm", levels, mask, setting, n_levels)


def _gldm_counts(
    levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], n_levels: int
) -> _CountMatrix:
    counts = dependence_per_voxel(
        levels,
        mask,
        alpha=int(setting["gldm_a"]),
        distance=_neighbourhood_radius(setting["distances"], "gldm"),
        in_plane=bool(setting["force2D"]),
    )
    return _count_matrix(levels[mask], counts, mask, n_levels)


def _gldm_finish(
    partials: Sequence[_CountMatrix], setting: Mapping[str, Any], n_levels: Sequence[int]
) -> list[dict[str, float]]:
    del setting
    values = _count_matrix_values(partials, n_levels)
    return [
        {name: float(values[formula][b]) for name, formula in GLDM_FEATURES.items()}
        for b in range(len(partials))
    ]


_Counts = Callable[[np.ndarray, np.ndarray, Mapping[str, Any], int], Any]
_Finish = Callable[[Sequence[Any], Mapping[str, Any], Sequence[int]], list[dict[str, float]]]

_TEXTURE: dict[str, tuple[_Counts, _Finish]] = {
    "glcm": (_glcm_counts, _glcm_finish),
    "glrlm": (_glrlm_counts, _glrlm_finish),
    "glszm": (_glszm_counts, _glszm_finish),
    "gldm": (_gldm_counts, _gldm_finish),
    "ngtdm": (_ngtdm_counts, _ngtdm_finish),
}
"""Each texture family in two steps: its counts on one image (compiled kernels), then the formulas on the
counts of every image at once (one numpy pass over all images' matrices instead of one per image)."""


def _one_image(
    family: str, levels: np.ndarray, mask: np.ndarray, setting: Mapping[str, Any], n_levels: int | None
) -> dict[str, float]:
    """Return ``family``'s PyRadiomics features of one ROI (grey levels ``levels`` in ``mask``)."""
    n_levels = int(levels[mask].max()) if n_levels is None else n_levels
    counts, finish = _TEXTURE[family]
    return finish([counts(levels, mask, setting, n_levels)], setting, [n_levels])[0]


# --- Extraction ---


def pyradiomics_features(
    image: Image | str | os.PathLike[str],
    mask: Image | str | os.PathLike[str],
    params: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    label: int | None = None,
) -> dict[str, float]:
    """Return ``{original_<family>_<Feature>: value}`` as PyRadiomics computes them with ``params``.

    Parameters
    ----------
    image
        The image, or the path of a file ``lai.imaging.load_image`` reads.
    mask
        An integer label map (or its path), resampled by nearest neighbour onto the image grid if needed.
    params
        PyRadiomics parameters (see :func:`read_pyradiomics_params`); ``None`` for PyRadiomics' defaults.
    label
        The region's value in ``mask``; default the ``label`` setting (PyRadiomics default 1).

    Examples
    --------
    >>> features = pyradiomics_features("t2w.nrrd", "lesion.nrrd", {"binWidth": 25})  # doctest: +SKIP
    >>> features["original_glcm_Contrast"]                                            # doctest: +SKIP
    """
    parsed = read_pyradiomics_params(params if params is not None else {})
    setting = parsed["setting"]
    label = setting["label"] if label is None else int(label)
    image_obj, image_name = as_image(image)
    mask_obj, mask_name = as_image(mask)
    source = f"image {image_name}, mask {mask_name}"
    require_orthogonal(image_obj, source)
    labels = labels_on_grid(mask_obj, image_obj.grid, source=source)
    array, affine = np.asarray(image_obj.array), np.asarray(image_obj.affine, dtype=float)
    # every family sees only the ROI and its neighbours: work on the ROI's box grown by the neighbourhood
    # reach (and one voxel for the shape's mesh), which gives the same matrices as the whole image; an
    # absent label is reported before any work on the image
    margin = max(int(d) for d in setting["distances"]) + 1
    resample = setting["resampledPixelSpacing"] is not None
    if resample:
        labelled = require_label(labels, label, source)
    else:
        box, labelled = label_box(labels, label, source, margin=margin)
    if setting["normalize"]:
        array = normalised(array, setting["normalizeScale"], setting["removeOutliers"])
    if resample:
        array, labels, affine = pyradiomics_resampled(array, labels, labelled, affine, setting)
        box, labelled = label_box(labels, label, f"{source}, resampled", margin=margin)
    intensities = np.asarray(array[box], dtype=np.float64)
    region = labelled
    if setting["resegmentRange"] is not None:
        region = resegmented(labelled, intensities, setting["resegmentRange"], setting["resegmentMode"])
        if not region.any():
            msg = f"Resegmentation {setting['resegmentRange']} ({setting['resegmentMode']}) leaves no voxel ({source})"
            raise RadiomicsError(msg)
    box_affine = affine.copy()
    box_affine[:3, 3] += box_affine[:3, :3] @ np.array([part.start for part in box], dtype=float)
    voxel_volume = float(abs(np.linalg.det(affine[:3, :3])))
    families = dict(parsed["featureClass"])
    n_voxels = int(region.sum())
    single = single_voxel_texture(list(families), label, source) if n_voxels == 1 else {}
    features: dict[str, float] = {}
    if "shape" in families:
        computed = shape.shape_features(region if setting["resegmentShape"] else labelled, box_affine)
        features.update(_selected("original", "shape", computed, families["shape"]))
    families.pop("shape", None)
    # the intensity families read the ROI only: every image is cut to the ROI's tight box, filter responses
    # are computed on the labelled region's box (which holds it, a resegmented ROI being smaller)
    tight = roi_box(region)
    inner = roi_box(labelled)
    lesion_box = (
        slice(box[0].start + inner[0].start, box[0].start + inner[0].stop),
        slice(box[1].start + inner[1].start, box[1].start + inner[1].stop),
        slice(box[2].start + inner[2].start, box[2].start + inner[2].stop),
    )
    within = tuple(slice(t.start - i.start, t.stop - i.start) for t, i in zip(tight, inner, strict=True))
    images: list[tuple[str, np.ndarray, Mapping[str, Any]]] = []
    if "Original" in parsed["imageType"]:
        images.append(("original", intensities[tight], setting))
    images.extend(_filtered_responses(array, lesion_box, affine, within, parsed))
    inside = np.ascontiguousarray(region[tight])
    # images of one setting are computed together (their texture formulas in one pass)
    by_prefix: dict[str, dict[str, dict[str, float]]] = {}
    waiting = list(images)
    while waiting:
        together = [image for image in waiting if image[2] == waiting[0][2]]
        waiting = [image for image in waiting if image[2] != waiting[0][2]]
        computed_all = _images_features(
            [response for _, response, _ in together], inside, families, together[0][2], voxel_volume, single
        )
        by_prefix.update(zip([prefix for prefix, _, _ in together], computed_all, strict=True))
    for prefix, _, _ in images:
        for family, values in by_prefix[prefix].items():
            features.update(_selected(prefix, family, values, families[family]))
    return features


def _images_features(
    images: Sequence[np.ndarray],
    inside: np.ndarray,
    families: Mapping[str, Any],
    setting: Mapping[str, Any],
    voxel_volume: float,
    single: Mapping[str, dict[str, float]],
) -> list[dict[str, dict[str, float]]]:
    """Return per image ``{family: {Feature: value}}`` of the intensity families (one setting).

    ``images`` cover the ROI's bounding box, ``inside`` is the ROI in it (C-contiguous). Each image is
    discretised and counted on its own; each texture family's formulas then run once over the counts of
    all images (the original image and its filter responses share the ROI and the setting).
    """
    texture_families = [family for family in families if family != "firstorder" and family not in single]
    computed: list[dict[str, dict[str, float]]] = [{} for _ in images]
    partials: dict[str, list[Any]] = {family: [] for family in texture_families}
    all_levels = []
    for b, intensities in enumerate(images):
        values = intensities[inside]
        discrete = pyradiomics_levels(values, setting)
        n_levels = int(discrete.max()) if discrete.size else 0
        all_levels.append(max(n_levels, 1))
        for family in families:
            if family == "firstorder":
                computed[b][family] = firstorder.firstorder_features(
                    values,
                    voxel_volume=voxel_volume,
                    bin_width=setting["binWidth"],
                    bin_count=setting["binCount"],
                    shift=float(setting["voxelArrayShift"]),
                    bins=discrete,
                )
            elif family in single:
                computed[b][family] = dict(single[family])
        if not texture_families:
            continue
        texture_levels, texture_mask = _texture_roi(discrete, inside, n_levels, setting)
        for family in texture_families:
            partials[family].append(
                _TEXTURE[family][0](texture_levels, texture_mask, setting, max(n_levels, 1))
            )
    for family in texture_families:
        for b, values in enumerate(_TEXTURE[family][1](partials[family], setting, all_levels)):
            computed[b][family] = values
    # each image's families in the order asked for
    return [{family: per_image[family] for family in families} for per_image in computed]


def _texture_roi(
    discrete: np.ndarray, inside: np.ndarray, n_levels: int, setting: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the texture families' (levels, mask) on the ROI's tight box, slices along the last axis."""
    levels = np.zeros(inside.shape, dtype=np.int64)
    levels[inside] = discrete
    # PyRadiomics' force2Ddimension counts axes of its (z, y, x) array; LAI arrays are (x, y, z) and the
    # texture modules cut slices along the last axis
    slice_axis = 2 - int(setting["force2Ddimension"])
    if slice_axis == 2 and discrete.size and int(discrete.min()) >= 1:
        return checked_roi(levels, inside, n_levels)
    return roi_levels(
        np.moveaxis(levels, slice_axis, -1), np.moveaxis(inside, slice_axis, -1), max(n_levels, 1)
    )


def _selected(
    prefix: str, family: str, computed: Mapping[str, float], wanted: Sequence[str] | None
) -> dict[str, float]:
    """Return ``{<prefix>_<family>_<Feature>: value}`` of the ``wanted`` features (all when None)."""
    missing = sorted(set(wanted or ()) - set(computed))
    if missing:
        msg = f"Unknown {family} feature(s) {missing}; known: {sorted(computed)}"
        raise RadiomicsError(msg)
    return {
        f"{prefix}_{family}_{name}": value for name, value in computed.items() if not wanted or name in wanted
    }


def image_type_prefixes(parsed: Mapping[str, Any]) -> list[str]:
    """Return the feature-name prefixes of the parsed parameters' image types, in PyRadiomics' spelling.

    ``original``, ``log-sigma-<sigma>-mm-3D`` per sigma, ``wavelet-<band>`` per sub-band.
    """
    types = parsed["imageType"]
    prefixes = ["original"] if "Original" in types else []
    prefixes += [filters.filter_name("log", sigma_mm=s) for s in types.get("LoG", {}).get("sigma", [])]
    if "Wavelet" in types:
        prefixes += [filters.filter_name("wavelet", band=band) for band in filters.SUBBANDS]
    return prefixes


def _filtered_responses(
    array: np.ndarray,
    lesion_box: tuple[slice, slice, slice],
    affine: np.ndarray,
    within: tuple[slice, ...],
    parsed: Mapping[str, Any],
) -> Iterator[tuple[str, np.ndarray, dict[str, Any]]]:
    """Yield (prefix, response on ``within``, settings) of each LoG sigma and wavelet sub-band.

    Filters run on a padded crop around the ROI's bounding box ``lesion_box`` and return the response on
    ``lesion_box`` only (``filters.filtered_within``), which equals filtering the whole image there, and
    cut to ``within`` (the ROI's box, inside ``lesion_box``, relative to it): LoG with mirror padding and PyRadiomics' scale normalisation
    (``sigma^2`` times the LoG of the sampled Gaussian kernel, not SimpleITK's recursive approximation);
    wavelets with periodic padding, as ``pywt.swtn``, which PyRadiomics uses.
    """
    types = parsed["imageType"]
    if "LoG" not in types and "Wavelet" not in types:
        return
    image = Image(array, affine)  # each filter reads its crop as float64
    spacing = image.spacing
    if "LoG" in types:
        for sigma in types["LoG"]["sigma"]:
            log = functools.partial(
                filters.laplacian_of_gaussian, spacing=spacing, sigma_mm=sigma, normalise="pyradiomics"
            )
            response = filters.filtered_within(image, lesion_box, log, filters.log_margin_mm(sigma))
            yield (
                filters.filter_name("log", sigma_mm=sigma),
                response[within],
                types["LoG"]["setting"],
            )
    if "Wavelet" in types:
        wavelet = types["Wavelet"]["wavelet"]
        bands = filters.filtered_within(
            image,
            lesion_box,
            functools.partial(filters.wavelet_subbands, wavelet=wavelet, padding="periodic"),
            filters.wavelet_margin_mm(wavelet, spacing),
            padding="periodic",
        )
        for band, response in bands.items():
            yield (
                filters.filter_name("wavelet", band=band),
                response[within],
                types["Wavelet"]["setting"],
            )
