"""Features of one lesion on one image: the mask meets the image in world coordinates, then each family runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lai.imaging import Grid, Image, grids_overlap, load_image, resample_labels
from lai.radiomics import firstorder, shape
from lai.radiomics.normalisation import liver_reference
from lai.radiomics.settings import load_settings

FILTER = "original"

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{FILTER}_firstorder_{name}" for name in firstorder.FEATURE_NAMES),
    *(f"{FILTER}_shape_{name}" for name in shape.FEATURE_NAMES),
)
"""Every feature ``extract_features`` returns, as ``<filter>_<family>_<Feature>``."""

_GRID_TOLERANCE_MM = 1e-4


class RadiomicsError(ValueError):
    """An extraction that cannot run on its inputs; the message names the files and the label."""


def extract_features(
    image: Image | str | os.PathLike[str],
    mask: Image | str | os.PathLike[str],
    settings: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    label: int = 1,
    normaliser: float | None = None,
) -> dict[str, float]:
    """Return the first-order and shape features of lesion ``label`` of ``mask`` on ``image``.

    Names follow PyRadiomics (``original_firstorder_Mean``, ``original_shape_MeshVolume``). The mask is
    resampled (nearest neighbour, world coordinates) onto the image grid when the grids differ.

    Parameters
    ----------
    image
        The image, or the path of a file ``lai.imaging.load_image`` reads.
    mask
        An integer label map (or its path); voxels equal to ``label`` form the lesion.
    settings
        A mapping, a preset name or a YAML path (see ``lai.radiomics.settings``); default preset
        ``liver_mri``.
    label
        The lesion's value in ``mask``.
    normaliser
        Intensities are divided by it before first-order features. When ``None`` and the settings say
        ``normalise: liver``, the median of a ring around the lesion (``ring_mm``) is used.

    Examples
    --------
    >>> features = extract_features("t2w.nii.gz", "lesions.nii.gz", "pyradiomics")  # doctest: +SKIP
    >>> features["original_firstorder_Mean"]                                      # doctest: +SKIP
    """
    config = load_settings(settings)
    image_obj, image_name = _as_image(image)
    mask_obj, mask_name = _as_image(mask)
    source = f"image {image_name}, mask {mask_name}"
    labels = labels_on_grid(mask_obj, image_obj.grid, source=source)
    if normaliser is None and config["normalise"] == "liver":
        _require_label(labels, label, source)
        normaliser, _ = liver_reference(
            image_obj.array, labels, label, image_obj.spacing, ring_mm=config["ring_mm"]
        )
    return features_on_grid(image_obj, labels, label, config, normaliser=normaliser, source=source)


def labels_on_grid(mask: Image, grid: Grid, *, source: str) -> np.ndarray:
    """Return the integer label array of ``mask`` on ``grid``, resampled by nearest neighbour if needed."""
    same_grid = mask.shape == grid.shape and np.allclose(mask.affine, grid.affine, atol=_GRID_TOLERANCE_MM)
    if same_grid:
        return np.asarray(mask.array).astype(np.int64, copy=False)
    if not grids_overlap(mask.grid, grid):
        msg = f"The mask does not overlap the image in world coordinates ({source})"
        raise RadiomicsError(msg)
    return np.asarray(resample_labels(mask, grid).array).astype(np.int64, copy=False)


def features_on_grid(
    image: Image,
    labels: np.ndarray,
    label: int,
    settings: Mapping[str, Any],
    *,
    normaliser: float | None = None,
    source: str = "in-memory arrays",
) -> dict[str, float]:
    """Return the features of lesion ``label`` of the label array ``labels`` already on ``image``'s grid.

    ``settings`` are complete settings (from ``load_settings``); ``source`` names the inputs in errors.
    """
    region = _require_label(labels, label, source)
    values = np.asarray(image.array, dtype=np.float64)[region]
    if normaliser is not None:
        if not normaliser > 0:
            msg = f"Cannot normalise lesion label {label} by {normaliser}: it must be positive ({source})"
            raise RadiomicsError(msg)
        values = values / normaliser
    first = firstorder.firstorder_features(
        values,
        voxel_volume=image.grid.voxel_volume(),
        bin_width=settings["bin_width"],
        bin_count=settings["bin_count"],
        shift=settings["voxel_array_shift"],
    )
    shaped = shape.shape_features(region, image.affine)
    return {
        **{f"{FILTER}_firstorder_{name}": value for name, value in first.items()},
        **{f"{FILTER}_shape_{name}": value for name, value in shaped.items()},
    }


def _require_label(labels: np.ndarray, label: int, source: str) -> np.ndarray:
    region = labels == label
    if not region.any():
        present = [int(v) for v in np.unique(labels) if v != 0]
        msg = f"Lesion label {label} has no voxel on the image grid ({source}); labels present: {present}"
        raise RadiomicsError(msg)
    return region


def _as_image(value: Image | str | os.PathLike[str]) -> tuple[Image, str]:
    if isinstance(value, Image):
        return value, "<in-memory Image>"
    return load_image(value), str(Path(value))
