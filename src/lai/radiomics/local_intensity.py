"""IBSI local intensity features (``loc_*``): mean intensities in 1 cm^3 spheres around ROI voxels.

The local mean of a voxel is the mean intensity of all image voxels (inside or outside the ROI, but inside
the image) whose centres lie within ``r = (3 / (4 pi))^(1/3) cm ~ 6.20 mm`` of its centre, the radius of a
sphere of 1 cm^3. Definitions follow the IBSI 1 reference manual (Zwanenburg et al., Radiology 2020;
arXiv:1612.07003), "Local intensity features". Local means are computed for all voxels at once by a
correlation with the spherical kernel, over the ROI's bounding box grown by the kernel radius only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lai.radiomics.catalogue import FeatureDefinition

AGGREGATIONS: tuple[str, ...] = ()

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("loc_peak_loc", "VJGA", "Local intensity peak", "local_intensity"),
    FeatureDefinition("loc_peak_glob", "0F91", "Global intensity peak", "local_intensity"),
)
"""The 2 IBSI local intensity features, in the manual's order."""

SPHERE_RADIUS_MM = 10.0 * (3.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
"""Radius of a sphere of 1 cm^3, in mm."""


def sphere_kernel(spacing: tuple[float, float, float], radius: float = SPHERE_RADIUS_MM) -> np.ndarray:
    """Return the boolean kernel of the voxels whose centres lie within ``radius`` mm of the centre one."""
    half = [int(np.floor(radius / s)) for s in spacing]
    axes = [np.arange(-h, h + 1) * s for h, s in zip(half, spacing, strict=True)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    return np.asarray(x**2 + y**2 + z**2 <= radius**2)


def local_means(image: np.ndarray, mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Return the 1 cm^3 local mean intensity of every ROI voxel, in ``np.argwhere(mask)`` order."""
    kernel = sphere_kernel(spacing)
    half = np.array(kernel.shape) // 2
    roi = np.argwhere(mask)
    low = np.maximum(roi.min(axis=0) - half, 0)
    high = np.minimum(roi.max(axis=0) + half + 1, image.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    # zero outside the image in both sums, so each mean counts only the voxels the image has
    sums = ndimage.correlate(image[box].astype(np.float64), kernel.astype(np.float64), mode="constant")
    counts = ndimage.correlate(np.ones(sums.shape), kernel.astype(np.float64), mode="constant")
    inside = mask[box]
    return (sums[inside] / counts[inside]).astype(np.float64)


def local_intensity_features(
    image: np.ndarray, mask: np.ndarray, *, spacing: tuple[float, float, float]
) -> dict[str, float]:
    """Return the IBSI local and global intensity peaks of the ROI ``mask`` in ``image``.

    Parameters
    ----------
    image
        3D intensity array.
    mask
        Boolean 3D ROI mask on the same grid (the intensity mask, after any re-segmentation).
    spacing
        Voxel size in mm along each array axis.

    Returns
    -------
    dict
        ``loc_peak_loc`` (VJGA) ``max_{k in M} mean_{||r_j - r_k|| <= r} X_j``, the highest local mean
        among the ROI voxels ``M`` of maximum intensity;
        ``loc_peak_glob`` (0F91) ``max_{k in ROI} mean_{||r_j - r_k|| <= r} X_j``, the highest local
        mean over all ROI voxels; ``r`` is the radius of a 1 cm^3 sphere and ``j`` runs over the image.

    Examples
    --------
    >>> image = np.zeros((5, 5, 5)); image[2, 2, 2] = 7.0
    >>> local_intensity_features(image, image > 0, spacing=(10.0, 10.0, 10.0))["loc_peak_loc"]
    7.0
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        msg = "Local intensity features need at least one ROI voxel, got 0"
        raise ValueError(msg)
    means = local_means(image, mask, spacing)
    values = image[mask]
    return {
        "loc_peak_loc": float(means[values == values.max()].max()),
        "loc_peak_glob": float(means.max()),
    }
