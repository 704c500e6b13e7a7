"""Features of one lesion on one image: the mask meets the image in world coordinates, then each family runs.

Every enabled family runs on every enabled image type and is named ``<filter>_<family>_<Feature>`` in
PyRadiomics' spelling (``original_glcm_Contrast``, ``log-sigma-2-0-mm-3D_firstorder_Mean``,
``wavelet-LLH_glszm_ZoneEntropy``). Texture families follow PyRadiomics' conventions through
``lai.radiomics.pyradiomics_compat`` (the same code that matches PyRadiomics' baselines), on the grey
levels of ``texture_bin_count`` or ``texture_bin_width``; every feature there has a PyRadiomics name.
Filters run on a padded crop around the lesion (``filters.filtered_within``), never the whole image.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lai.imaging import Grid, Image, grids_overlap, load_image, resample_labels
from lai.radiomics import filters, firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape
from lai.radiomics.normalisation import liver_reference
from lai.radiomics.settings import FEATURE_CLASSES, load_settings
from lai.radiomics.texture import compiled, roi_box


def _pyradiomics_names(module: Any) -> tuple[str, ...]:
    return tuple(f.pyradiomics for f in module.FEATURES if f.pyradiomics)


FAMILY_FEATURES: dict[str, tuple[str, ...]] = {
    "firstorder": firstorder.FEATURE_NAMES,
    "shape": shape.FEATURE_NAMES,
    "glcm": (*_pyradiomics_names(glcm), "MCC"),
    "glrlm": _pyradiomics_names(glrlm),
    "glszm": _pyradiomics_names(glszm),
    "gldm": tuple(gldm.FEATURES),
    "ngtdm": _pyradiomics_names(ngtdm),
}
"""PyRadiomics feature names per family (GLCM's MCC has no IBSI counterpart, hence no catalogue entry)."""

INTENSITY_FAMILIES: tuple[str, ...] = tuple(f for f in FEATURE_CLASSES if f != "shape")
"""Families that read intensities, so run on every image type; ``shape`` runs once, on ``original``."""

FEATURE_REVISION = 2
"""Raised whenever a feature's value changes for the same inputs and settings (2: the shape family's mesh
follows PyRadiomics' triangulation). Part of every cached extraction's key, so no older value is reused."""

_GRID_TOLERANCE_MM = 1e-4


class RadiomicsError(ValueError):
    """An extraction that cannot run on its inputs; the message names the files and the label."""


class RadiomicsWarning(UserWarning):
    """A lesion that got NaN features in a dataset run; the message names the lesion and the sequence."""


_ORTHOGONALITY_TOLERANCE = 1e-4
"""Largest |cos| between two grid axes accepted as orthogonal (0.006 degrees off a right angle)."""


def require_orthogonal(image: Image, source: str) -> None:
    """Raise ``RadiomicsError`` when the image's grid axes are not orthogonal (a sheared direction matrix).

    Texture neighbourhoods, filters (LoG sigma and wavelets per axis), resampling and slice-wise
    aggregation all assume orthogonal axes, so a sheared grid (e.g. CT with gantry tilt stored without
    correction) is refused rather than measured wrongly; resample it onto an orthogonal grid first
    (``lai.imaging.resample``). Rotations and axis flips are fine.
    """
    problem = orthogonality_problem(image)
    if problem:
        msg = f"{problem} ({source})"
        raise RadiomicsError(msg)


def orthogonality_problem(image: Image) -> str:
    """Return why the image's grid axes are not orthogonal (within ``_ORTHOGONALITY_TOLERANCE``), or ``""``."""
    axes = np.asarray(image.affine, dtype=np.float64)[:3, :3]
    unit = axes / np.linalg.norm(axes, axis=0)
    cosines = np.abs(unit.T @ unit - np.eye(3))
    worst = float(cosines.max())
    if worst <= _ORTHOGONALITY_TOLERANCE:
        return ""
    first, second = np.unravel_index(int(np.argmax(cosines)), cosines.shape)
    angle = float(np.degrees(np.arccos(min(worst, 1.0))))
    return (
        f"the image grid is not orthogonal: axes {first} and {second} meet at {angle:.3f} degrees, not 90; "
        "resample it onto an orthogonal grid first (lai.imaging.resample), e.g. to correct a gantry tilt"
    )


def single_voxel_texture(families: Sequence[str], label: int, source: str) -> dict[str, dict[str, float]]:
    """Return NaN for every feature of the texture ``families`` of a one-voxel lesion, with a warning.

    A single voxel has no neighbour: no voxel pair (GLCM), no run or zone longer than itself, no
    neighbourhood (NGTDM, GLDM). Rather than values that only describe the absence of texture, every
    texture feature is NaN and one ``RadiomicsWarning`` names the lesion; first order and shape are
    still computed.
    """
    texture = [family for family in families if family not in ("firstorder", "shape")]
    if texture:
        warnings.warn(
            f"Lesion label {label} has a single voxel ({source}): its {', '.join(texture)} features are NaN",
            RadiomicsWarning,
            stacklevel=3,
        )
    return {family: dict.fromkeys(FAMILY_FEATURES[family], float("nan")) for family in texture}


def image_type_names(settings: Mapping[str, Any]) -> list[str]:
    """Return the PyRadiomics filter names (``original``, ``log-sigma-2-0-mm-3D``, ``wavelet-LLH``) in use."""
    types = settings["image_types"]
    names = ["original"] if "original" in types else []
    names += [
        filters.filter_name("log", sigma_mm=sigma) for sigma in types.get("log", {}).get("sigma_mm", [])
    ]
    if "wavelet" in types:
        names += [filters.filter_name("wavelet", band=band) for band in filters.SUBBANDS]
    return names


def feature_names(settings: Mapping[str, Any]) -> list[str]:
    """Return every feature name ``extract_features`` returns for complete ``settings``, in order.

    Shape is named once, under ``original``, whatever the image types; in PyRadiomics mode the names are
    those of the parameters' ``featureClass`` lists.
    """
    params = settings.get("pyradiomics_params")
    if params is not None:
        from lai.radiomics.pyradiomics_compat import image_type_prefixes  # it builds on this module

        chosen = params["featureClass"]
        prefixes = image_type_prefixes(params)
        names = []
        if "shape" in chosen and "original" not in prefixes:  # shape is named under original regardless
            names += [f"original_shape_{name}" for name in (chosen["shape"] or shape.FEATURE_NAMES)]
        for prefix in prefixes:
            for family, wanted in chosen.items():
                if family != "shape" or prefix == "original":
                    names += [f"{prefix}_{family}_{name}" for name in (wanted or FAMILY_FEATURES[family])]
        return names
    classes = settings["feature_classes"]
    names = [f"original_shape_{name}" for name in shape.FEATURE_NAMES] if "shape" in classes else []
    for image_type in image_type_names(settings):
        for family in INTENSITY_FAMILIES:
            if family in classes:
                names += [f"{image_type}_{family}_{name}" for name in FAMILY_FEATURES[family]]
    return names


FEATURE_NAMES: tuple[str, ...] = tuple(feature_names(load_settings()))
"""Every feature ``extract_features`` returns with the default settings, as ``<filter>_<family>_<Feature>``."""


def extract_features(
    image: Image | str | os.PathLike[str],
    mask: Image | str | os.PathLike[str],
    settings: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    label: int | None = None,
    normaliser: float | None = None,
) -> dict[str, float]:
    """Return every enabled feature of lesion ``label`` of ``mask`` on ``image``, by ``feature_names``.

    Names follow PyRadiomics (``original_firstorder_Mean``, ``original_shape_MeshVolume``,
    ``original_glcm_Contrast``, ``log-sigma-2-0-mm-3D_firstorder_Mean``). The mask is resampled (nearest
    neighbour, world coordinates) onto the image grid when the grids differ. With a PyRadiomics parameter
    file as ``settings`` the features are ``pyradiomics_compat.pyradiomics_features``'.

    Parameters
    ----------
    image
        The image, or the path of a file ``lai.imaging.load_image`` reads.
    mask
        An integer label map (or its path); voxels equal to ``label`` form the lesion.
    settings
        A mapping, a preset name, a YAML path or a PyRadiomics parameter file (see
        ``lai.radiomics.settings``); default preset ``liver_mri``.
    label
        The lesion's value in ``mask``; default 1 (in PyRadiomics mode, the parameters' ``label``).
    normaliser
        Intensities (and filter responses) are divided by it before the intensity families. When
        ``None`` and the settings say ``normalise: liver``, the median of a ring around the lesion
        (``ring_mm``) is used.

    Raises
    ------
    RadiomicsError
        When the label has no voxel on the image grid, the normaliser is not positive, the lesion holds
        non-finite intensities or a family cannot be computed; the message names the files and label.

    Examples
    --------
    >>> features = extract_features("t2w.nii.gz", "lesions.nii.gz", "pyradiomics")  # doctest: +SKIP
    >>> features["original_glcm_Contrast"]                                        # doctest: +SKIP
    """
    config = load_settings(settings)
    image_obj, image_name = as_image(image)
    mask_obj, mask_name = as_image(mask)
    if config["pyradiomics_params"] is not None:
        return _pyradiomics_mode(image_obj, mask_obj, config["pyradiomics_params"], label)
    label = 1 if label is None else label
    source = f"image {image_name}, mask {mask_name}"
    labels = labels_on_grid(mask_obj, image_obj.grid, source=source)
    if normaliser is None and config["normalise"] == "liver":
        require_label(labels, label, source)
        normaliser, _ = liver_reference(
            image_obj.array, labels, label, image_obj.spacing, ring_mm=config["ring_mm"]
        )
    return features_on_grid(image_obj, labels, label, config, normaliser=normaliser, source=source)


def labels_on_grid(mask: Image, grid: Grid, *, source: str) -> np.ndarray:
    """Return the integer label array of ``mask`` on ``grid``, resampled by nearest neighbour if needed."""
    same_grid = mask.shape == grid.shape and np.allclose(mask.affine, grid.affine, atol=_GRID_TOLERANCE_MM)
    if same_grid:
        return _integer_labels(np.asarray(mask.array))
    if not grids_overlap(mask.grid, grid):
        msg = f"The mask does not overlap the image in world coordinates ({source})"
        raise RadiomicsError(msg)
    return _integer_labels(np.asarray(resample_labels(mask, grid).array))


def _integer_labels(labels: np.ndarray) -> np.ndarray:
    """Return ``labels`` as is when of an integer or boolean type (no copy), else as int64."""
    if labels.dtype.kind in "iub":
        return labels
    return labels.astype(np.int64)


def features_on_grid(
    image: Image,
    labels: np.ndarray,
    label: int,
    settings: Mapping[str, Any],
    *,
    normaliser: float | None = None,
    source: str = "in-memory arrays",
    on_problem: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Return the features of lesion ``label`` of the label array ``labels`` already on ``image``'s grid.

    ``settings`` are complete settings (from ``load_settings``); ``source`` names the inputs in errors.
    Without ``on_problem`` a family that cannot be computed (non-finite intensities in the lesion, a
    non-positive ``normaliser``, an error inside the family, as GLCM of a one-voxel lesion, which has no
    voxel pairs) raises ``RadiomicsError``, and features undefined for this lesion (0/0, e.g. NGTDM
    Complexity of one voxel) are NaN. With ``on_problem`` nothing
    raises: the affected features are NaN and each problem, undefined features included, is passed to it
    as one line of text.
    """
    region = require_label(labels, label, source)

    def failed(message: str) -> None:
        if on_problem is None:
            msg = f"Lesion label {label}: {message} ({source})"
            raise RadiomicsError(msg)
        on_problem(message)

    sheared = orthogonality_problem(image)
    if sheared:
        failed(sheared)
        return dict.fromkeys(feature_names(settings), float("nan"))

    if settings["pyradiomics_params"] is not None:
        features = dict.fromkeys(feature_names(settings), float("nan"))
        try:
            features.update(
                _pyradiomics_mode(image, Image(labels, image.affine), settings["pyradiomics_params"], label)
            )
        except (ValueError, ArithmeticError, IndexError, np.linalg.LinAlgError) as error:
            failed(f"PyRadiomics mode: {error}")
        return features

    def undefined(message: str) -> None:
        if on_problem is None:
            warnings.warn(f"Lesion label {label}: {message} ({source})", RadiomicsWarning, stacklevel=4)
        else:
            on_problem(message)

    classes = settings["feature_classes"]
    features = dict.fromkeys(feature_names(settings), float("nan"))
    if "shape" in classes:
        shaped = functools.partial(shape.shape_features, region, image.affine)
        features.update(_family_features(shaped, "original", "shape", failed, undefined))
    families = [family for family in INTENSITY_FAMILIES if family in classes]
    scale = 1.0 if normaliser is None else float(normaliser)
    if not families:
        return features
    if not scale > 0:
        failed(f"cannot normalise by {normaliser}: it must be positive; intensity features are NaN")
        return features
    texture = _texture_setting(settings)
    for image_type, response, mask in filtered_images(image, region, settings):
        values = response[mask] / scale
        finite = np.isfinite(values)
        if not finite.all():
            failed(
                f"{image_type}: {values.size - finite.sum()} of {values.size} lesion intensities are not finite"
            )
            continue
        levels = np.zeros(mask.shape, dtype=np.int64)
        levels[mask] = _levels(values, texture)
        if values.size == 1:
            undefined(f"{image_type}: one voxel, texture features are NaN")
        for family in families:
            if values.size == 1 and family != "firstorder":
                continue  # a single voxel has no texture: its features stay NaN
            compute = (
                functools.partial(
                    firstorder.firstorder_features,
                    values,
                    voxel_volume=image.grid.voxel_volume(),
                    bin_width=settings["bin_width"],
                    bin_count=settings["bin_count"],
                    shift=settings["voxel_array_shift"],
                )
                if family == "firstorder"
                else functools.partial(_texture_family(family), levels, mask, texture)
            )
            features.update(_family_features(compute, image_type, family, failed, undefined))
    return features


def filtered_images(
    image: Image, region: np.ndarray, settings: Mapping[str, Any]
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(filter name, response, lesion mask)`` for each image type, cropped to the lesion's box.

    The box is the lesion's bounding box plus one voxel. LoG (PyRadiomics' scale-normalised response)
    and wavelet sub-bands are computed on the box only (``filters.filtered_within``: a padded crop,
    mirror padding), which equals filtering the whole image and cutting it to the box.
    """
    box = roi_box(region, margin=1)
    types = settings["image_types"]
    if "original" in types:
        yield "original", np.asarray(image.array, dtype=np.float64)[box], region[box]
    for sigma in types.get("log", {}).get("sigma_mm", []):
        log = functools.partial(
            filters.laplacian_of_gaussian, spacing=image.spacing, sigma_mm=sigma, normalise="pyradiomics"
        )
        response = filters.filtered_within(image, box, log, filters.log_margin_mm(sigma))
        yield filters.filter_name("log", sigma_mm=sigma), response, region[box]
    if "wavelet" in types:
        wavelet = types["wavelet"]["wavelet"]
        bands = filters.filtered_within(
            image,
            box,
            functools.partial(filters.wavelet_subbands, wavelet=wavelet),
            filters.wavelet_margin_mm(wavelet, image.spacing),
        )
        for band, response in bands.items():
            yield filters.filter_name("wavelet", band=band), response, region[box]


def _family_features(
    compute: Callable[[], Mapping[str, float]],
    image_type: str,
    family: str,
    failed: Callable[[str], None],
    undefined: Callable[[str], None],
) -> dict[str, float]:
    """Return ``{<image_type>_<family>_<Feature>: value}``, or ``{}`` after reporting a failure."""
    # 0/0 inside a family (one voxel, one grey level) gives NaN, reported once below, not numpy warnings
    with np.errstate(all="ignore"):
        try:
            values = compute()
        except (ValueError, ArithmeticError, IndexError, np.linalg.LinAlgError) as error:
            failed(f"{image_type} {family} cannot be computed ({error})")
            return {}
    named = {f"{image_type}_{family}_{name}": float(values[name]) for name in FAMILY_FEATURES[family]}
    missing = [name for name, value in named.items() if not np.isfinite(value)]
    if missing:
        undefined(f"{image_type} {family}: {len(missing)} feature(s) undefined ({', '.join(missing[:3])}...)")
    return named


def _texture_setting(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the PyRadiomics-mode setting of the texture families for LAI ``settings``."""
    return {
        "binWidth": settings["texture_bin_width"],
        "binCount": settings["texture_bin_count"],
        "distances": list(settings["distances"]),
        "force2D": settings["force2D"],
        "symmetricalGLCM": True,
        "weightingNorm": None,
        "gldm_a": 0,
    }


def _levels(values: np.ndarray, texture: Mapping[str, Any]) -> np.ndarray:
    # imported here: pyradiomics_compat builds on this module's grid helpers
    from lai.radiomics.pyradiomics_compat import pyradiomics_levels

    return pyradiomics_levels(values, texture)


def _texture_family(family: str) -> Callable[[np.ndarray, np.ndarray, Mapping[str, Any]], dict[str, float]]:
    from lai.radiomics import pyradiomics_compat

    functions = {
        "glcm": pyradiomics_compat.glcm_features,
        "glrlm": pyradiomics_compat.glrlm_features,
        "glszm": pyradiomics_compat.glszm_features,
        "gldm": pyradiomics_compat.gldm_family,
        "ngtdm": pyradiomics_compat.ngtdm_features,
    }
    return functions[family]


def _pyradiomics_mode(
    image: Image, mask: Image, params: Mapping[str, Any], label: int | None
) -> dict[str, float]:
    from lai.radiomics.pyradiomics_compat import pyradiomics_features

    return pyradiomics_features(image, mask, params, label=label)


def require_label(labels: np.ndarray, label: int, source: str) -> np.ndarray:
    """Return the boolean region of ``label``; raise ``RadiomicsError`` naming the labels present if empty."""
    region = labels == label
    if not region.any():
        present = [int(v) for v in np.unique(labels) if v != 0]
        msg = f"Lesion label {label} has no voxel on the image grid ({source}); labels present: {present}"
        raise RadiomicsError(msg)
    return region


def label_box(
    labels: np.ndarray, label: int, source: str, *, margin: int = 0
) -> tuple[tuple[slice, ...], np.ndarray]:
    """Return the bounding box of ``label`` in ``labels`` grown by ``margin`` voxels (clipped), and the region in it.

    The box's slices and the boolean region of ``label`` inside the box; ``RadiomicsError`` as
    :func:`require_label` when no voxel has the label. With the compiled kernels one pass over the label
    array finds the box (no whole-image boolean array).
    """
    kernels = compiled()
    if kernels is None or labels.ndim != 3 or labels.dtype.kind not in "iub":
        region = require_label(labels, label, source)
        box = roi_box(region, margin)
        return box, region[box]
    tight, count = kernels.label_bounds(labels, label)
    if count == 0:
        require_label(labels, label, source)  # raises, naming the labels present
    box = tuple(
        slice(max(part.start - margin, 0), min(part.stop + margin, size))
        for part, size in zip(tight, labels.shape, strict=True)
    )
    return box, labels[box] == label


def as_image(value: Image | str | os.PathLike[str]) -> tuple[Image, str]:
    """Return an Image (loading a path) and the name to use for it in error messages."""
    if isinstance(value, Image):
        return value, "<in-memory Image>"
    return load_image(value), str(Path(value))
