"""Resampling between grids in world coordinates: how masks drawn on one sequence meet another."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lai.imaging.image import Grid, Image


def resample_to_grid(image: Image, grid: Grid, *, order: int = 1, fill: float = 0.0) -> Image:
    """Return ``image`` sampled at the voxel centres of ``grid`` (world coordinates decide the match).

    ``order`` is the spline order: 0 (nearest neighbour, for label maps), 1 (linear) or 3 (cubic).
    Points outside ``image`` take ``fill``.
    """
    # voxel index in the target grid -> voxel index in the source image
    source_from_target = np.linalg.inv(image.affine) @ grid.affine
    matrix = source_from_target[:3, :3]
    offset = source_from_target[:3, 3]
    is_diagonal = np.allclose(matrix, np.diag(np.diag(matrix)))
    array = image.array
    if order > 0 and not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    out = ndimage.affine_transform(
        array,
        np.diag(matrix) if is_diagonal else matrix,
        offset=offset,
        output_shape=grid.shape,
        order=order,
        mode="constant",
        cval=fill,
        prefilter=order > 1,
    )
    return Image(out, grid.affine.copy())


def resample_labels(labels: Image, grid: Grid) -> Image:
    """Return an integer label map on ``grid`` by nearest-neighbour sampling in world coordinates."""
    return resample_to_grid(labels, grid, order=0, fill=0)


def grids_overlap(a: Grid, b: Grid) -> bool:
    """Return whether two grids' world extents intersect."""
    a_low, a_high = a.world_bounds()
    b_low, b_high = b.world_bounds()
    return bool(np.all(a_low < b_high) and np.all(b_low < a_high))
