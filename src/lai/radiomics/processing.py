"""IBSI 1 image processing before feature calculation: interpolation, rounding, re-segmentation.

The steps of chapter 2 of the IBSI 1 reference manual (Zwanenburg et al., Radiology 2020;295:328-338;
arXiv:1612.07003), in the manual's order:

1. interpolation of the image to a new voxel spacing on a grid aligned on the original grid's centre
   (:func:`ibsi_grid`, :func:`resample_ibsi`), in plane only for slice-wise (2D) analyses;
2. rounding of the interpolated intensities, for intensities that are integers by definition such as
   CT Hounsfield units (:func:`round_intensities`);
3. interpolation of the ROI mask to the same grid and binarisation at a partial-volume threshold
   (:func:`resample_mask_ibsi`); the result is the *morphological mask*;
4. re-segmentation of a copy, the *intensity mask*, to an intensity range (:func:`resegment_range`)
   and/or without intensity outliers (:func:`resegment_outliers`). The morphological mask is not
   re-segmented: morphology uses it, intensity and texture features use the intensity mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lai.imaging import Grid, Image, resample_to_grid

INTERPOLATION_ORDERS: dict[str, int] = {"nearest": 0, "linear": 1, "cubic": 3}
"""Spline order of each IBSI interpolation method: nearest neighbour, (bi/tri)linear, (bi/tri)cubic spline."""

# Interpolated mask fractions that land a rounding error below the threshold (0.4999... for 0.5, the
# case the manual warns about) still count as reaching it.
_THRESHOLD_TOLERANCE = 1e-9


def ibsi_grid(grid: Grid, spacing: Sequence[float | None], *, in_plane_only: bool = False) -> Grid:
    """Return the IBSI interpolation grid of ``grid`` at ``spacing`` mm, aligned on the grid centres.

    IBSI 1 reference manual, "Interpolation grid" (align grid centres). Along each axis with original
    size ``n_a`` and spacing ``s_a``, and new spacing ``s_b``:

    .. math:: n_b = \\left\\lceil \\frac{n_a s_a}{s_b} \\right\\rceil, \\qquad
              x_{b,g} = \\frac{1}{2}\\left(n_a - 1 - \\frac{s_b}{s_a}(n_b - 1)\\right)

    ``x_b,g`` is the new origin in the original grid's voxel coordinates, so in world coordinates
    ``x_b = x_a + (s_a (n_a - 1) - s_b (n_b - 1)) / 2`` along the axis, and both grids share their centre.
    The axes keep their directions. An axis whose spacing is ``None`` is kept as it is, as is the slice
    axis k when ``in_plane_only`` (2D interpolation, within slices).

    Examples
    --------
    The manual's example, a 4 x 4 grid of 3 mm voxels to 2 mm:

    >>> g = ibsi_grid(Grid((4, 4, 1), np.diag([3.0, 3.0, 1.0, 1.0])), (2.0, 2.0, None))
    >>> g.shape, np.round(g.affine[:2, 3], 9).tolist()
    ((6, 6, 1), [-0.5, -0.5])
    """
    if len(spacing) != 3:
        msg = f"spacing needs one value (mm, or None to keep the axis) per image axis, got {list(spacing)}"
        raise ValueError(msg)
    if in_plane_only and spacing[2] is not None:
        msg = f"In-plane interpolation keeps the slice axis k: its spacing must be None, got {spacing[2]}"
        raise ValueError(msg)
    old = np.asarray(grid.spacing)
    shape: list[int] = []
    scale = np.ones(3)
    origin = np.zeros(3)
    for axis, (n_a, s_a, s_b) in enumerate(zip(grid.shape, old, spacing, strict=True)):
        if s_b is None:
            shape.append(n_a)
            continue
        if not s_b > 0:
            msg = f"Voxel spacing must be > 0 mm, got {s_b} for axis {'ijk'[axis]}"
            raise ValueError(msg)
        # the tolerance keeps an exact multiple (n_a s_a / s_b = 6.0000000001) from gaining a voxel
        n_b = max(math.ceil(n_a * s_a / s_b - 1e-9), 1)
        shape.append(n_b)
        scale[axis] = s_b / s_a
        origin[axis] = 0.5 * (n_a - 1 - scale[axis] * (n_b - 1))
    affine = np.array(grid.affine, dtype=np.float64)
    affine[:3, 3] = affine[:3, :3] @ origin + affine[:3, 3]
    affine[:3, :3] = affine[:3, :3] * scale
    return Grid((shape[0], shape[1], shape[2]), affine)


def resample_ibsi(
    image: Image, spacing: Sequence[float | None], *, order: int, in_plane_only: bool = False
) -> Image:
    """Return ``image`` interpolated onto its IBSI grid at ``spacing`` mm (see :func:`ibsi_grid`).

    ``order`` is the spline order: 0 nearest neighbour, 1 (bi/tri)linear, 3 (bi/tri)cubic spline
    (:data:`INTERPOLATION_ORDERS`). Intensities are interpolated in float64 (the manual asks for at
    least 32 bits); the new grid reaches up to half a new voxel beyond the original voxel centres, where
    the image is extended with its border intensities, as the manual recommends. Tensor-product
    interpolation is separable, so an axis kept as it is (``None``, or k with ``in_plane_only``) is
    sampled at its own voxel centres: exactly for orders 0 and 1, to rounding error for order 3.

    Examples
    --------
    >>> image = Image(np.arange(4.0).reshape(4, 1, 1), np.eye(4))
    >>> resample_ibsi(image, (2.0, None, None), order=1).array.ravel().tolist()
    [0.5, 2.5]
    """
    if order not in INTERPOLATION_ORDERS.values():
        msg = f"Interpolation order must be one of {INTERPOLATION_ORDERS} (name: order), got {order}"
        raise ValueError(msg)
    grid = ibsi_grid(image.grid, spacing, in_plane_only=in_plane_only)
    array = image.array if order == 0 else np.asarray(image.array, dtype=np.float64)
    return resample_to_grid(Image(array, image.affine), grid, order=order)


def round_intensities(image: Image, decimals: int = 0) -> Image:
    """Return ``image`` with its intensities rounded to ``decimals`` decimals (IBSI: after interpolation).

    The manual rounds interpolated CT intensities to the nearest integer, Hounsfield units being integers
    by definition. Halves round to the even neighbour (``numpy.round``); the manual does not fix a rule.
    """
    return Image(np.round(np.asarray(image.array, dtype=np.float64), decimals), image.affine)


def resample_mask_ibsi(mask: Image, grid: Grid, *, order: int = 1, threshold: float = 0.5) -> np.ndarray:
    """Return the ROI ``mask`` (non-zero voxels) interpolated onto ``grid`` and binarised, as a bool array.

    IBSI 1 reference manual, "Partial volume effects in the ROI mask": the binary mask is interpolated
    (``order`` 1: linear, giving partial-volume fractions; 0: nearest neighbour), then

    .. math:: R_j = [R_{interp,j} \\geq \\delta]

    with the partial-volume threshold ``delta = threshold`` (0.5 in the IBSI CT configurations).
    Points of ``grid`` outside the mask's extent are outside the ROI.
    """
    if not 0 < threshold <= 1:
        msg = f"The partial-volume threshold must lie in (0, 1], got threshold={threshold}"
        raise ValueError(msg)
    if order not in (0, 1):
        msg = f"An ROI mask is interpolated by nearest neighbour (0) or linearly (1), got order={order}"
        raise ValueError(msg)
    fraction = np.asarray(mask.array != 0, dtype=np.float64)
    resampled = resample_to_grid(Image(fraction, mask.affine), grid, order=order, fill=0.0)
    return np.asarray(resampled.array >= threshold - _THRESHOLD_TOLERANCE)


def resegment_range(
    mask: np.ndarray, image: np.ndarray | Image, low: float | None, high: float | None
) -> np.ndarray:
    """Return the intensity mask: the voxels of ``mask`` whose intensity lies in ``[low, high]``.

    IBSI 1 reference manual, "Range re-segmentation": the range is a closed interval; ``high = None``
    (or infinite) gives the half-open ``[low, inf)``, ``low = None`` likewise ``(-inf, high]``.
    """
    values = _intensities(image, mask)
    lower = -np.inf if low is None else float(low)
    upper = np.inf if high is None else float(high)
    if lower > upper:
        msg = f"Re-segmentation range [{low}, {high}] is empty: low must not exceed high"
        raise ValueError(msg)
    return np.asarray(mask, dtype=bool) & (values >= lower) & (values <= upper)


def resegment_outliers(mask: np.ndarray, image: np.ndarray | Image, n_sd: float = 3.0) -> np.ndarray:
    """Return the intensity mask: the voxels of ``mask`` within ``n_sd`` standard deviations of the mean.

    IBSI 1 reference manual, "Intensity outlier filtering": with ``mu`` and ``sigma`` the mean and the
    (population) standard deviation of the intensities in ``mask``, voxels outside
    ``[mu - n_sd sigma, mu + n_sd sigma]`` leave the intensity mask.
    """
    roi = np.asarray(mask, dtype=bool)
    values = _intensities(image, roi)
    if not roi.any():
        msg = "Outlier re-segmentation needs at least one voxel in the mask, got an empty mask"
        raise ValueError(msg)
    inside = values[roi]
    mu, sigma = float(inside.mean()), float(inside.std())
    return roi & (values >= mu - n_sd * sigma) & (values <= mu + n_sd * sigma)


def _intensities(image: np.ndarray | Image, mask: np.ndarray) -> np.ndarray:
    """Return the intensity array of ``image``, checked to lie on the grid of ``mask``."""
    values = np.asarray(image.array if isinstance(image, Image) else image, dtype=np.float64)
    if values.shape != np.shape(mask):
        msg = f"Image shape {values.shape} differs from mask shape {np.shape(mask)}: put them on one grid"
        raise ValueError(msg)
    return values
