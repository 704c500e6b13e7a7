"""Resampling between grids in world coordinates: how masks drawn on one sequence meet another."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lai.imaging.image import Grid, Image


def resample_to_grid(image: Image, grid: Grid, *, order: int = 1, fill: float = 0.0) -> Image:
    """Return ``image`` sampled at the voxel centres of ``grid`` (world coordinates decide the match).

    ``order`` is the spline order: 0 (nearest neighbour, for label maps), 1 (linear) or 3 (cubic); with
    ``order > 0`` an integer image comes back as float32. A voxel covers half a spacing either side of
    its centre, so points in the outer half of an edge voxel take that voxel's value; points outside
    ``image``'s extent take ``fill``. Resampling onto the image's own grid returns its values unchanged.
    """
    array = image.array
    if order > 0 and not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    if grid.shape == image.shape and np.array_equal(grid.affine, image.affine):
        return Image(array.copy(), grid.affine.copy())
    # voxel index in the target grid -> voxel index in the source image
    source_from_target = np.linalg.inv(image.affine) @ grid.affine
    matrix = source_from_target[:3, :3]
    offset = source_from_target[:3, 3]
    if np.allclose(matrix, np.diag(np.diag(matrix))):
        matrix = np.diag(matrix)  # scipy's faster separable path
        if order == 0:
            return Image(_nearest_axis_aligned(array, matrix, offset, grid.shape, fill), grid.affine.copy())

    def sample(values: np.ndarray, spline_order: int, mode: str, outside: float) -> np.ndarray:
        return ndimage.affine_transform(
            values,
            matrix,
            offset=offset,
            output_shape=grid.shape,
            order=spline_order,
            mode=mode,
            cval=outside,
            prefilter=spline_order > 1,
        )

    if order == 0:
        # "grid-constant" keeps the outer half of edge voxels, where "constant" would give ``fill``
        return Image(sample(array, 0, "grid-constant", fill), grid.affine.copy())
    out = sample(array, order, "nearest", fill)
    inside = sample(np.ones(image.shape, dtype=np.uint8), 0, "grid-constant", 0).astype(bool)
    out[~inside] = fill
    return Image(out, grid.affine.copy())


def _nearest_axis_aligned(
    array: np.ndarray, scale: np.ndarray, offset: np.ndarray, shape: tuple[int, int, int], fill: float
) -> np.ndarray:
    """Return nearest-neighbour samples when each target axis maps onto one source axis.

    The sampling separates into one index vector per axis, so the result is a single gather, many
    times faster than a general affine resampling of the whole volume.
    """
    picks, valid = [], []
    for axis in range(3):
        position = offset[axis] + scale[axis] * np.arange(shape[axis])
        index = np.floor(position + 0.5).astype(np.intp)
        inside = (index >= 0) & (index < array.shape[axis])
        picks.append(index[inside])
        valid.append(np.flatnonzero(inside))
    out = np.full(shape, fill, dtype=array.dtype)
    out[np.ix_(*valid)] = array[np.ix_(*picks)]
    return out


def resample_labels(labels: Image, grid: Grid) -> Image:
    """Return an integer label map on ``grid`` by nearest-neighbour sampling in world coordinates."""
    return resample_to_grid(labels, grid, order=0, fill=0)


def grids_overlap(a: Grid, b: Grid) -> bool:
    """Return whether two grids' world extents intersect."""
    a_low, a_high = a.world_bounds()
    b_low, b_high = b.world_bounds()
    return bool(np.all(a_low < b_high) and np.all(b_low < a_high))
