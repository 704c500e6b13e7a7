"""Intensity reference for MR normalisation: the median of the liver around the lesions.

MR intensities have no absolute scale (they change with scanner, coil, gain and exam), so a lesion's
intensities are divided by the liver's own median on the same sequence: features then read as
"times the liver signal", the quantity radiologists compare (hypo-, iso-, hyperintense).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def ring_mask(lesion: np.ndarray, spacing: Sequence[float], inner_mm: float, outer_mm: float) -> np.ndarray:
    """Return the voxels whose centres lie between ``inner_mm`` and ``outer_mm`` from the lesion's voxels."""
    lesion = np.asarray(lesion, dtype=bool)
    margin = np.ceil(outer_mm / np.asarray(spacing, dtype=np.float64)).astype(int) + 1
    nonzero = np.nonzero(lesion)
    low = np.maximum([axis.min() for axis in nonzero] - margin, 0)
    high = np.minimum([axis.max() + 1 for axis in nonzero] + margin, lesion.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
    distance = ndimage.distance_transform_edt(~lesion[box], sampling=tuple(float(s) for s in spacing))
    ring = np.zeros(lesion.shape, dtype=bool)
    ring[box] = (distance >= inner_mm) & (distance <= outer_mm)
    return ring


def liver_reference(
    intensities: np.ndarray,
    lesions: np.ndarray,
    label: int,
    spacing: Sequence[float],
    *,
    liver: np.ndarray | None = None,
    ring_mm: Sequence[float] = (10.0, 20.0),
) -> tuple[float, str]:
    """Return the median liver intensity and where it was measured (``"liver_mask"`` or ``"ring"``).

    The region is the liver mask minus every lesion; without a liver mask (or when nothing of it is left),
    a ring ``ring_mm`` millimetres around lesion ``label``, again minus every lesion.

    Parameters
    ----------
    intensities
        The image array.
    lesions
        The integer lesion label map on the same grid (0 is background).
    label
        The lesion whose ring is used when there is no liver mask.
    spacing
        Voxel size in mm along each axis.
    liver
        Binary liver mask on the same grid, if any.
    ring_mm
        Inner and outer distance of the ring in mm.
    """
    outside_lesions = np.asarray(lesions) == 0
    if liver is not None:
        region = np.asarray(liver, dtype=bool) & outside_lesions
        if region.any():
            return _positive_median(intensities[region], "liver mask"), "liver_mask"
    region = ring_mask(np.asarray(lesions) == label, spacing, ring_mm[0], ring_mm[1]) & outside_lesions
    if not region.any():
        msg = f"No voxel of liver in a {ring_mm[0]}-{ring_mm[1]} mm ring around lesion label {label}"
        raise ValueError(msg)
    return _positive_median(intensities[region], f"ring around lesion label {label}"), "ring"


def _positive_median(values: np.ndarray, where: str) -> float:
    median = float(np.median(values))
    if not median > 0:
        msg = f"The median intensity of the {where} is {median}: cannot normalise by it"
        raise ValueError(msg)
    return median
