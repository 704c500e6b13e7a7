"""IBSI 1 features of one image and mask, under the reference naming, for checking against IBSI tables.

The image and ROI first go through the IBSI processing steps the settings ask for (:func:`process_ibsi`:
interpolation, rounding, re-segmentation into a morphological and an intensity mask, discretisation;
:mod:`lai.radiomics.processing`), named presets giving the IBSI digital phantom and CT configurations
A-E (:data:`IBSI_PRESETS`). Each family module exposes ``FEATURES`` (its IBSI base tags and codes),
``AGGREGATIONS`` (the suffixes its tags take, empty when none) and one compute function. This module
prepares what they share - the intensity values inside the ROI, the discrete grey levels, the voxel
spacing - once, calls every family for every aggregation the settings ask for, and returns one row per
IBSI tag (``morph_volume``, ``cm_contrast_3D_avg``, ``szm_lgze_2_5D``), the ``tag`` column of the IBSI
reference tables.

References: Zwanenburg A, Vallières M, et al. The Image Biomarker Standardization Initiative.
Radiology 2020;295:328-338; IBSI reference manual (arXiv:1612.07003), chapters 2 and 3.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lai.imaging import Image, load_image
from lai.radiomics.catalogue import FAMILIES, FeatureDefinition
from lai.radiomics.discretisation import discretise_fixed_bin_number, discretise_fixed_bin_size
from lai.radiomics.extract import RadiomicsError, labels_on_grid, require_orthogonal
from lai.radiomics.ivh import ivh_features
from lai.radiomics.processing import (
    INTERPOLATION_ORDERS,
    resample_ibsi,
    resample_mask_ibsi,
    resegment_outliers,
    resegment_range,
    round_intensities,
)
from lai.radiomics.settings import SettingsError, read_settings_file

TEXTURE_FAMILIES: tuple[str, ...] = ("glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")

DISCRETISATIONS: tuple[str, ...] = ("none", "fbn", "fbs")
"""Grey-level discretisation methods: none (integer grey levels as they are), fixed bin number, fixed bin size."""

DIMENSIONS: dict[str, tuple[str, ...]] = {"all": ("2D", "2_5D", "3D"), "2D": ("2D", "2_5D"), "3D": ("3D",)}
"""Texture aggregations (tag suffix prefixes) computed for each ``dimensions`` setting."""

MASK_INTERPOLATIONS: tuple[str, ...] = ("nearest", "linear")

IBSI_DEFAULTS: dict[str, Any] = {
    "label": 1,
    "families": list(FAMILIES),
    "dimensions": "all",
    "resample": None,
    "in_plane_only": False,
    "interpolation": "linear",
    "mask_interpolation": "linear",
    "mask_threshold": 0.5,
    "round_intensities": False,
    "resegment_range": None,
    "resegment_outliers": False,
    "discretisation": "none",
    "bin_number": None,
    "bin_width": None,
    "ivh_discretisation": "none",
    "ivh_bin_number": None,
    "ivh_bin_width": None,
}
"""Every IBSI runner setting and its default (the digital phantom's processing: none at all).

- ``label``: the ROI's label in the mask.
- ``families``: the feature families to compute (:data:`lai.radiomics.catalogue.FAMILIES`).
- ``dimensions``: ``"2D"`` (slice-wise: 2D and 2.5D texture aggregations), ``"3D"`` (volumetric) or
  ``"all"``; families without aggregations are always computed on the whole ROI.
- ``resample``: new voxel spacing in mm per axis (i, j, k), ``null`` for an axis kept as it is, or
  ``null`` for no interpolation; ``in_plane_only``: interpolate within slices only (k is kept).
- ``interpolation``: ``nearest``, ``linear`` or ``cubic`` (spline) for the image;
  ``mask_interpolation``: ``nearest`` or ``linear`` for the ROI mask, kept where the interpolated mask
  reaches ``mask_threshold`` (the partial-volume threshold).
- ``round_intensities``: round intensities to integers after interpolation (CT).
- ``resegment_range``: ``[low, high]`` intensity range of the intensity mask (either bound ``null``
  for an open side); ``resegment_outliers``: drop voxels beyond the mean +- 3 SD from it.
- ``discretisation`` for the intensity histogram and texture: ``none``, ``fbn`` with ``bin_number``,
  ``fbs`` with ``bin_width`` (bins start at the range's lower bound when one is set).
- ``ivh_discretisation`` for the intensity-volume histogram: ``none`` (intensities as they are on a
  grid of step ``ivh_bin_width``, default 1: the manual's discrete case), ``fbn`` with
  ``ivh_bin_number``, ``fbs`` with ``ivh_bin_width``.
"""

_CT_3D: dict[str, Any] = {
    "dimensions": "3D",
    "resample": [2.0, 2.0, 2.0],
    "interpolation": "linear",
    "mask_interpolation": "linear",
    "mask_threshold": 0.5,
    "round_intensities": True,
}

IBSI_PRESETS: dict[str, dict[str, Any]] = {
    "ibsi-digital-phantom": {},
    "ibsi-ct-a": {
        "dimensions": "2D",
        "resegment_range": [-500.0, 400.0],
        "discretisation": "fbs",
        "bin_width": 25.0,
    },
    "ibsi-ct-b": {
        "dimensions": "2D",
        "resample": [2.0, 2.0, None],
        "in_plane_only": True,
        "interpolation": "linear",
        "mask_interpolation": "linear",
        "mask_threshold": 0.5,
        "round_intensities": True,
        "resegment_range": [-500.0, 400.0],
        "discretisation": "fbn",
        "bin_number": 32,
    },
    "ibsi-ct-c": {
        **_CT_3D,
        "resegment_range": [-1000.0, 400.0],
        "discretisation": "fbs",
        "bin_width": 25.0,
        "ivh_discretisation": "fbs",
        "ivh_bin_width": 2.5,
    },
    "ibsi-ct-d": {
        **_CT_3D,
        "resegment_outliers": True,
        "discretisation": "fbn",
        "bin_number": 32,
    },
    "ibsi-ct-e": {
        **_CT_3D,
        "interpolation": "cubic",
        "resegment_range": [-1000.0, 400.0],
        "resegment_outliers": True,
        "discretisation": "fbn",
        "bin_number": 32,
        "ivh_discretisation": "fbn",
        "ivh_bin_number": 1000,
    },
}
"""IBSI 1 configurations by name, as settings that differ from :data:`IBSI_DEFAULTS`.

``ibsi-digital-phantom``: the digital phantom, computed on its grey levels as they are. ``ibsi-ct-a`` to
``ibsi-ct-e``: the five processing configurations of the lung cancer CT image (PAT1), IBSI 1 reference
manual, chapter "Reference data sets", tables of configurations A-E (arXiv:1612.07003):

====  ==  =======================  ================  ===============  ======  =================
cfg   2D  interpolation (image /   rounding          re-segmentation  IH and  IVH
      3D  mask, PV 0.5)                                               texture
====  ==  =======================  ================  ===============  ======  =================
A     2D  none                     no                [-500, 400] HU   FBS 25  none (1 HU step)
B     2D  2 x 2 mm in plane,       nearest integer   [-500, 400] HU   FBN 32  none (1 HU step)
          bilinear / bilinear
C     3D  2 x 2 x 2 mm,            nearest integer   [-1000, 400] HU  FBS 25  FBS 2.5 HU
          trilinear / trilinear
D     3D  2 x 2 x 2 mm,            nearest integer   outliers (3 SD)  FBN 32  none (1 HU step)
          trilinear / trilinear
E     3D  2 x 2 x 2 mm, tricubic   nearest integer   [-1000, 400] HU  FBN 32  FBN 1000
          spline / trilinear                         and outliers
====  ==  =======================  ================  ===============  ======  =================

All use distance 1 for GLCM, NGTDM and NGLDM, linkage distance 1 for GLSZM and GLDZM, and NGLDM
coarseness 0, the family modules' defaults.
"""


def load_ibsi_settings(settings: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    """Return complete, checked IBSI settings from a preset name, a YAML file or a mapping.

    A mapping (or the mapping of a ``.yaml``/``.yml`` file) may name a ``preset`` to start from
    (default ``ibsi-digital-phantom``); its other keys override the preset's settings.
    """
    if settings is None:
        settings = "ibsi-digital-phantom"
    if isinstance(settings, os.PathLike) or (
        isinstance(settings, str) and settings.lower().endswith((".yaml", ".yml"))
    ):
        settings = read_settings_file(Path(settings), IBSI_PRESETS)
    elif isinstance(settings, str):
        settings = {"preset": settings}
    overrides = dict(settings)
    preset = overrides.pop("preset", "ibsi-digital-phantom")
    if preset not in IBSI_PRESETS:
        msg = f"Unknown IBSI preset {preset!r}: choose one of {', '.join(IBSI_PRESETS)}"
        raise SettingsError(msg)
    unknown = sorted(set(overrides) - set(IBSI_DEFAULTS))
    if unknown:
        msg = f"Unknown IBSI settings {unknown}; known settings: preset, {', '.join(IBSI_DEFAULTS)}"
        raise SettingsError(msg)
    config = {**IBSI_DEFAULTS, **IBSI_PRESETS[preset], **overrides}
    _check(config)
    return config


def _check(config: Mapping[str, Any]) -> None:
    """Raise ``SettingsError`` naming the first setting whose value the runner cannot use."""
    unknown = [f for f in config["families"] if f not in FAMILIES]
    if unknown:
        msg = f"Unknown feature families {unknown}; IBSI families: {', '.join(FAMILIES)}"
        raise SettingsError(msg)
    choices = {
        "dimensions": tuple(DIMENSIONS),
        "interpolation": tuple(INTERPOLATION_ORDERS),
        "mask_interpolation": MASK_INTERPOLATIONS,
        "discretisation": DISCRETISATIONS,
        "ivh_discretisation": DISCRETISATIONS,
    }
    for key, allowed in choices.items():
        if config[key] not in allowed:
            msg = f"{key} must be one of {', '.join(allowed)}, got {config[key]!r}"
            raise SettingsError(msg)
    spacing = config["resample"]
    if spacing is not None and (
        not _is_list(spacing, 3) or any(s is not None and not (_is_number(s) and s > 0) for s in spacing)
    ):
        msg = f"resample must be null or three spacings in mm (> 0, or null to keep an axis), got {spacing!r}"
        raise SettingsError(msg)
    if config["in_plane_only"] and spacing is not None and spacing[2] is not None:
        msg = f"in_plane_only keeps the slice axis k: resample needs null for k, got {spacing!r}"
        raise SettingsError(msg)
    if not (_is_number(config["mask_threshold"]) and 0 < config["mask_threshold"] <= 1):
        msg = f"mask_threshold must lie in (0, 1], got {config['mask_threshold']!r}"
        raise SettingsError(msg)
    bounds = config["resegment_range"]
    if bounds is not None and (
        not _is_list(bounds, 2)
        or any(b is not None and not _is_number(b) for b in bounds)
        or (None not in bounds and bounds[0] > bounds[1])
    ):
        msg = f"resegment_range must be null or [low, high] with low <= high (null: open), got {bounds!r}"
        raise SettingsError(msg)
    for method, number, width in (
        ("discretisation", "bin_number", "bin_width"),
        ("ivh_discretisation", "ivh_bin_number", "ivh_bin_width"),
    ):
        if config[method] == "fbn" and not (
            _is_number(config[number]) and int(config[number]) == config[number] >= 1
        ):
            msg = f"{method} fbn needs {number}, a whole number >= 1, got {config[number]!r}"
            raise SettingsError(msg)
        if config[method] == "fbs" and not (_is_number(config[width]) and config[width] > 0):
            msg = f"{method} fbs needs {width} > 0, got {config[width]!r}"
            raise SettingsError(msg)
    if config["ivh_bin_width"] is not None and not (
        _is_number(config["ivh_bin_width"]) and config["ivh_bin_width"] > 0
    ):
        msg = f"ivh_bin_width must be null or > 0, got {config['ivh_bin_width']!r}"
        raise SettingsError(msg)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


def _is_list(value: object, length: int) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == length


def family_module(family: str) -> Any:
    """Return the module implementing an IBSI family (``lai.radiomics.<family>``)."""
    name = {"statistics": "statistics", "intensity_histogram": "histogram"}.get(family, family)
    return importlib.import_module(f"lai.radiomics.{name}")


def feature_definitions(family: str) -> tuple[FeatureDefinition, ...]:
    """Return the catalogue entries of one family."""
    return tuple(family_module(family).FEATURES)


@dataclass(frozen=True)
class ProcessedRoi:
    """An image and ROI after IBSI processing, ready for feature calculation.

    ``image`` is interpolated and rounded as the settings ask; ``morphological_mask`` is the ROI on its
    grid (interpolated, not re-segmented) and ``intensity_mask`` the re-segmented ROI; ``levels`` holds
    the discretised grey levels ``1..n_levels`` inside the intensity mask and 0 elsewhere.
    """

    image: Image
    morphological_mask: np.ndarray
    intensity_mask: np.ndarray
    levels: np.ndarray
    n_levels: int

    @property
    def values(self) -> np.ndarray:
        """Intensities of the voxels of the intensity mask."""
        return np.asarray(self.image.array, dtype=np.float64)[self.intensity_mask]


def process_ibsi(
    image: Image | str | os.PathLike[str],
    mask: Image | str | os.PathLike[str],
    settings: Mapping[str, Any] | str | None = None,
) -> ProcessedRoi:
    """Return the image and ROI after the IBSI processing steps of ``settings``, in the manual's order.

    IBSI 1 reference manual, chapter 2 (arXiv:1612.07003): the mask is first brought onto the image
    grid in world coordinates (nearest neighbour) and its ``label`` voxels taken as the ROI; then

    1. interpolation of the image (:func:`lai.radiomics.processing.resample_ibsi`) and of the ROI mask
       with its partial-volume threshold (:func:`lai.radiomics.processing.resample_mask_ibsi`);
    2. rounding of the intensities (:func:`lai.radiomics.processing.round_intensities`);
    3. re-segmentation of the intensity mask by range, then by outliers (mean +- 3 SD of the voxels
       left by the range); the morphological mask is the interpolated ROI, not re-segmented;
    4. discretisation of the intensity-mask voxels (:mod:`lai.radiomics.discretisation`): fixed bin
       number, or fixed bin size from the range's lower bound (else the ROI minimum) with ``N_g`` the
       level of the range's upper bound (else the highest level).
    """
    config = load_ibsi_settings(settings)
    image_obj = image if isinstance(image, Image) else load_image(image)
    mask_obj = mask if isinstance(mask, Image) else load_image(mask)
    source = f"image {_name(image)}, mask {_name(mask)}"
    require_orthogonal(image_obj, source)
    roi = labels_on_grid(mask_obj, image_obj.grid, source=source) == int(config["label"])
    if not roi.any():
        msg = f"Label {config['label']} has no voxel on the image grid ({source})"
        raise RadiomicsError(msg)
    if config["resample"] is not None:
        roi_image = Image(roi.astype(np.uint8), image_obj.affine)
        image_obj = resample_ibsi(
            image_obj,
            config["resample"],
            order=INTERPOLATION_ORDERS[config["interpolation"]],
            in_plane_only=config["in_plane_only"],
        )
        roi = resample_mask_ibsi(
            roi_image,
            image_obj.grid,
            order=INTERPOLATION_ORDERS[config["mask_interpolation"]],
            threshold=config["mask_threshold"],
        )
        if not roi.any():
            msg = f"The ROI vanishes after interpolation to {config['resample']} mm ({source})"
            raise RadiomicsError(msg)
    if config["round_intensities"]:
        image_obj = round_intensities(image_obj)
    intensities = np.asarray(image_obj.array, dtype=np.float64)
    if not np.isfinite(intensities[roi]).all():
        msg = f"The ROI holds NaN or infinite intensities ({source})"
        raise RadiomicsError(msg)
    intensity_mask = roi
    if config["resegment_range"] is not None:
        intensity_mask = resegment_range(intensity_mask, intensities, *config["resegment_range"])
    if config["resegment_outliers"] and intensity_mask.any():
        intensity_mask = resegment_outliers(intensity_mask, intensities)
    if not intensity_mask.any():
        msg = f"No ROI voxel is left after re-segmentation ({source})"
        raise RadiomicsError(msg)
    levels, n_levels = _grey_levels(intensities, intensity_mask, config, source)
    return ProcessedRoi(image_obj, roi, intensity_mask, levels, n_levels)


def ibsi_features(
    image: Image | str | os.PathLike[str],
    mask: Image | str | os.PathLike[str],
    settings: Mapping[str, Any] | str | None = None,
) -> pd.DataFrame:
    """Return one row per IBSI feature tag: ``tag``, ``family``, ``ibsi_code``, ``name``, ``value``.

    The image and ROI are processed as :func:`process_ibsi` describes. Morphology uses the morphological
    mask (and the intensity mask for its intensity-weighted features); the GLDZM measures its distances
    in the morphological mask and takes its zones from the intensity mask; every other family uses the
    intensity mask. The IVH range is the re-segmentation range when one is set. Texture families give the aggregations of ``dimensions``: 2D and 2.5D for a
    slice-wise configuration, 3D for a volumetric one, as the IBSI reference tables report them.
    """
    config = load_ibsi_settings(settings)
    processed = process_ibsi(image, mask, config)
    rows: list[dict[str, Any]] = []
    for family in config["families"]:
        module = family_module(family)
        compute = _family_call(family, module, processed, config)
        for aggregation in _aggregations(module, config["dimensions"]):
            values = compute(aggregation)
            for definition in module.FEATURES:
                rows.append(
                    {
                        "tag": definition.tag(aggregation),
                        "family": family,
                        "ibsi_code": definition.ibsi_code,
                        "name": definition.name,
                        "value": float(values[definition.base_tag]),
                    }
                )
    return pd.DataFrame(rows, columns=["tag", "family", "ibsi_code", "name", "value"])


def _aggregations(module: Any, dimensions: str) -> tuple[str, ...]:
    """Return the aggregations of a family that ``dimensions`` asks for (``("",)`` for none)."""
    aggregations = tuple(module.AGGREGATIONS)
    if not aggregations:
        return ("",)
    wanted = DIMENSIONS[dimensions]
    # "2_5D_comb" -> "2_5D": the dimension is the tag suffix up to its "D"
    return tuple(a for a in aggregations if a[: a.index("D") + 1] in wanted)


def _grey_levels(
    intensities: np.ndarray, roi: np.ndarray, config: Mapping[str, Any], source: str
) -> tuple[np.ndarray, int]:
    """Return the discretised grey levels (0 outside ``roi``) and ``N_g`` for the settings."""
    values = intensities[roi]
    method = config["discretisation"]
    if method == "fbn":
        inside, n_levels = discretise_fixed_bin_number(values, config["bin_number"])
    elif method == "fbs":
        low, high = config["resegment_range"] or (None, None)
        inside, n_levels = discretise_fixed_bin_size(values, config["bin_width"], low, maximum=high)
    else:
        rounded = np.rint(values)
        if not np.allclose(values, rounded) or rounded.min() < 1:
            msg = (
                "Without discretisation the ROI must hold integer grey levels >= 1 "
                f"(found {values.min():g} to {values.max():g}; {source}): set discretisation fbn or fbs"
            )
            raise RadiomicsError(msg)
        inside, n_levels = rounded.astype(np.int64), int(rounded.max())
    levels = np.zeros(intensities.shape, dtype=np.int64)
    levels[roi] = inside
    return levels, n_levels


def _ivh_call(values: np.ndarray, config: Mapping[str, Any]) -> Mapping[str, float]:
    """Return the IVH features of the intensity-mask ``values`` under ``ivh_discretisation``.

    IBSI 1 reference manual, "Intensity-volume histogram features": ``none`` is the discrete case
    (intensities as they are, step ``ivh_bin_width`` or 1, from the range's lower bound or the ROI
    minimum to its upper bound or the ROI maximum); ``fbs`` the continuous case (the centres of the bins
    from the range's lower bound to the bin of its upper bound); ``fbn`` the arbitrary-units case (levels
    1..N_g).
    """
    low, high = config["resegment_range"] or (None, None)
    method = config["ivh_discretisation"]
    if method == "fbn":
        levels, n_levels = discretise_fixed_bin_number(values, config["ivh_bin_number"])
        return ivh_features(values, levels=levels, n_levels=n_levels)
    if method == "fbs":
        width = config["ivh_bin_width"]
        levels, _ = discretise_fixed_bin_size(values, width, low, maximum=high)
        minimum = float(values.min()) if low is None else float(low)
        return ivh_features(values, levels=levels, bin_width=width, minimum=minimum, maximum=high)
    return ivh_features(values, bin_width=config["ivh_bin_width"] or 1.0, minimum=low, maximum=high)


def _family_call(
    family: str, module: Any, roi: ProcessedRoi, config: Mapping[str, Any]
) -> Callable[[str], Mapping[str, float]]:
    intensities = np.asarray(roi.image.array, dtype=np.float64)
    spacing = roi.image.spacing
    mask = roi.intensity_mask
    values = intensities[mask]
    if family == "morphology":
        return lambda _: module.morphology_features(
            roi.morphological_mask, spacing=spacing, intensities=intensities, intensity_mask=mask
        )
    if family == "local_intensity":
        return lambda _: module.local_intensity_features(intensities, mask, spacing=spacing)
    if family == "statistics":
        return lambda _: module.statistics_features(values)
    if family == "intensity_histogram":
        return lambda _: module.histogram_features(roi.levels[mask], n_levels=roi.n_levels)
    if family == "ivh":
        return lambda _: _ivh_call(values, config)
    if family == "gldzm":
        return lambda aggregation: module.gldzm_features(
            roi.levels,
            mask,
            n_levels=roi.n_levels,
            aggregation=aggregation,
            spacing=spacing,
            morphological_mask=roi.morphological_mask,
        )
    function = getattr(module, f"{family}_features")
    return lambda aggregation: function(
        roi.levels, mask, n_levels=roi.n_levels, aggregation=aggregation, spacing=spacing
    )


def _name(value: object) -> str:
    return str(Path(value)) if isinstance(value, str | os.PathLike) else "<in-memory Image>"


def compare_with_reference(values: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Return the reference table joined with LAI's values and whether each matches.

    A value matches when, rounded to 3 significant figures, it lies within the reference tolerance,
    or within a relative 5e-3 where the tolerance is 0 (the IBSI reference values carry 3 significant
    figures).
    """
    merged = reference.merge(values[["tag", "value"]], on="tag", how="left")
    rounded = merged["value"].map(_three_significant)
    tolerance = np.where(merged["tolerance"] > 0, merged["tolerance"], 5e-3 * merged["reference_value"].abs())
    merged["matches"] = (rounded - merged["reference_value"]).abs() <= tolerance + 1e-12
    return merged


def _three_significant(value: float) -> float:
    if not np.isfinite(value) or value == 0:
        return float(value)
    return float(f"{value:.3g}")


def families_of(tags: Sequence[str]) -> set[str]:
    """Return the families a list of IBSI tags belongs to (by prefix)."""
    prefixes = {
        "morph": "morphology",
        "loc": "local_intensity",
        "stat": "statistics",
        "ih": "intensity_histogram",
        "ivh": "ivh",
        "cm": "glcm",
        "rlm": "glrlm",
        "szm": "glszm",
        "dzm": "gldzm",
        "ngt": "ngtdm",
        "ngl": "ngldm",
    }
    return {prefixes[tag.split("_", 1)[0]] for tag in tags}
