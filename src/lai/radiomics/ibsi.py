"""IBSI 1 features of one image and mask, under the reference naming, for checking against IBSI tables.

Each family module exposes ``FEATURES`` (its IBSI base tags and codes), ``AGGREGATIONS`` (the suffixes
its tags take, empty when none) and one compute function. This module prepares what they share - the
intensity values inside the ROI, the discrete grey levels, the voxel spacing - once, calls every family
for every aggregation the settings ask for, and returns one row per IBSI tag (``morph_volume``,
``cm_contrast_3D_avg``, ``szm_lgze_2_5D``), the ``tag`` column of the IBSI reference tables.

References: Zwanenburg A, Vallières M, et al. The Image Biomarker Standardization Initiative.
Radiology 2020;295:328-338; IBSI reference manual (arXiv:1612.07003), chapters 2 and 3.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lai.imaging import Image, load_image
from lai.radiomics.catalogue import FAMILIES, FeatureDefinition
from lai.radiomics.extract import RadiomicsError, labels_on_grid
from lai.radiomics.settings import SettingsError

TEXTURE_FAMILIES: tuple[str, ...] = ("glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")

IBSI_PRESETS: dict[str, dict[str, Any]] = {
    "ibsi-digital-phantom": {
        "discretisation": "none",
        "families": list(FAMILIES),
        "label": 1,
    },
}
"""IBSI 1 configurations by name. The digital phantom is computed on its grey levels as they are."""


def load_ibsi_settings(settings: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """Return complete IBSI settings from a preset name or a mapping over the digital-phantom preset."""
    if settings is None:
        return dict(IBSI_PRESETS["ibsi-digital-phantom"])
    if isinstance(settings, str):
        if settings not in IBSI_PRESETS:
            msg = f"Unknown IBSI preset {settings!r}: choose one of {', '.join(IBSI_PRESETS)}"
            raise SettingsError(msg)
        return dict(IBSI_PRESETS[settings])
    config = {**IBSI_PRESETS["ibsi-digital-phantom"], **dict(settings)}
    unknown = [f for f in config["families"] if f not in FAMILIES]
    if unknown:
        msg = f"Unknown feature families {unknown}; IBSI families: {', '.join(FAMILIES)}"
        raise SettingsError(msg)
    if config["discretisation"] != "none":
        msg = (
            f"discretisation {config['discretisation']!r} is not available yet in the IBSI runner: use 'none'"
        )
        raise SettingsError(msg)
    return config


def family_module(family: str) -> Any:
    """Return the module implementing an IBSI family (``lai.radiomics.<family>``)."""
    name = {"statistics": "statistics", "intensity_histogram": "histogram"}.get(family, family)
    return importlib.import_module(f"lai.radiomics.{name}")


def feature_definitions(family: str) -> tuple[FeatureDefinition, ...]:
    """Return the catalogue entries of one family."""
    return tuple(family_module(family).FEATURES)


def ibsi_features(
    image: Image | str | os.PathLike[str],
    mask: Image | str | os.PathLike[str],
    settings: Mapping[str, Any] | str | None = None,
) -> pd.DataFrame:
    """Return one row per IBSI feature tag: ``tag``, ``family``, ``ibsi_code``, ``name``, ``value``.

    The mask is brought onto the image grid in world coordinates; the ROI is the voxels of ``label``.
    """
    config = load_ibsi_settings(settings)
    image_obj = image if isinstance(image, Image) else load_image(image)
    mask_obj = mask if isinstance(mask, Image) else load_image(mask)
    source = f"image {_name(image)}, mask {_name(mask)}"
    roi = labels_on_grid(mask_obj, image_obj.grid, source=source) == int(config["label"])
    if not roi.any():
        msg = f"Label {config['label']} has no voxel on the image grid ({source})"
        raise RadiomicsError(msg)
    intensities = np.asarray(image_obj.array, dtype=np.float64)
    if not np.isfinite(intensities[roi]).all():
        msg = f"The ROI holds NaN or infinite intensities ({source})"
        raise RadiomicsError(msg)
    levels, n_levels = _grey_levels(intensities, roi, config, source)
    spacing = image_obj.spacing
    rows: list[dict[str, Any]] = []
    for family in config["families"]:
        module = family_module(family)
        compute = _family_call(family, module, intensities, levels, roi, n_levels, spacing)
        for aggregation in tuple(module.AGGREGATIONS) or ("",):
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


def _grey_levels(
    intensities: np.ndarray, roi: np.ndarray, config: Mapping[str, Any], source: str
) -> tuple[np.ndarray, int]:
    values = intensities[roi]
    rounded = np.rint(values)
    if not np.allclose(values, rounded) or rounded.min() < 1:
        msg = (
            "Without discretisation the ROI must hold integer grey levels >= 1 "
            f"(found {values.min():g} to {values.max():g}; {source})"
        )
        raise RadiomicsError(msg)
    levels = np.zeros(intensities.shape, dtype=np.int64)
    levels[roi] = rounded.astype(np.int64)
    return levels, int(rounded.max())


def _family_call(
    family: str,
    module: Any,
    intensities: np.ndarray,
    levels: np.ndarray,
    roi: np.ndarray,
    n_levels: int,
    spacing: tuple[float, float, float],
) -> Callable[[str], Mapping[str, float]]:
    values = intensities[roi]
    if family == "morphology":
        return lambda _: module.morphology_features(
            roi, spacing=spacing, intensities=intensities, intensity_mask=roi
        )
    if family == "local_intensity":
        return lambda _: module.local_intensity_features(intensities, roi, spacing=spacing)
    if family == "statistics":
        return lambda _: module.statistics_features(values)
    if family == "intensity_histogram":
        return lambda _: module.histogram_features(levels[roi], n_levels=n_levels)
    if family == "ivh":
        return lambda _: module.ivh_features(values, levels=levels[roi], n_levels=n_levels)
    function = getattr(module, f"{family}_features")
    return lambda aggregation: function(
        levels, roi, n_levels=n_levels, aggregation=aggregation, spacing=spacing
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
