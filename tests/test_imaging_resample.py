"""lai.imaging.resample: masks meet images in world coordinates, whatever their grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lai.imaging import Grid, Image, grids_overlap, load_image, resample_labels, resample_to_grid

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MR_SEG = SHARED / "mr" / "totalsegmentator" / "example_seg_mr.nii.gz"

MASK_AFFINE = np.array(
    [[0.8, 0.0, 0.0, -20.0], [0.0, 0.8, 0.0, 10.0], [0.0, 0.0, 3.0, -30.0], [0.0, 0.0, 0.0, 1.0]]
)


def ellipsoid_labels() -> Image:
    """Two ellipsoidal lesions (labels 1 and 2) on a 40x40x12 grid of 0.8 x 0.8 x 3 mm."""
    i, j, k = np.meshgrid(np.arange(40), np.arange(40), np.arange(12), indexing="ij")
    labels = np.zeros((40, 40, 12), dtype=np.uint8)
    labels[((i - 12) / 6.0) ** 2 + ((j - 15) / 5.0) ** 2 + ((k - 5) / 2.5) ** 2 <= 1] = 1
    labels[((i - 28) / 4.0) ** 2 + ((j - 27) / 7.0) ** 2 + ((k - 7) / 2.0) ** 2 <= 1] = 2
    return Image(labels, MASK_AFFINE)


def world_centroid(image: Image, label: int) -> np.ndarray:
    indices = np.argwhere(image.array == label).astype(float)
    return indices.mean(axis=0) @ image.affine[:3, :3].T + image.affine[:3, 3]


def rotation_z(degrees: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    return rotation


TARGETS = {
    "finer-shifted": np.array([[0.5, 0, 0, -21.3], [0, 0.5, 0, 8.9], [0, 0, 1.0, -31.6], [0, 0, 0, 1]]),
    "coarser-flipped-x": np.array([[-1.1, 0, 0, 14.0], [0, 1.1, 0, 9.2], [0, 0, 2.0, -31.0], [0, 0, 0, 1]]),
    "oblique": rotation_z(25.0)
    @ np.array([[0.6, 0, 0, -15.0], [0, 0.6, 0, 20.0], [0, 0, 1.5, -30.5], [0, 0, 0, 1]]),
}
"""Affines of 90x90x40 target grids that hold both lesions whole."""


@pytest.mark.parametrize("name", TARGETS)
def test_resampled_labels_keep_each_lesion_world_centroid(name: str) -> None:
    labels = ellipsoid_labels()
    target = Grid((90, 90, 40), TARGETS[name])
    resampled = resample_labels(labels, target)
    half_voxel = 0.5 * np.linalg.norm(target.spacing)
    for label in (1, 2):
        offset = world_centroid(resampled, label) - world_centroid(labels, label)
        assert np.linalg.norm(offset) <= half_voxel, (label, offset)


@pytest.mark.parametrize("name", TARGETS)
def test_resampled_labels_keep_the_labels_and_their_volumes(name: str) -> None:
    labels = ellipsoid_labels()
    target = Grid((90, 90, 40), TARGETS[name])
    resampled = resample_labels(labels, target)
    assert set(np.unique(resampled.array)) == {0, 1, 2}
    for label in (1, 2):
        before = np.count_nonzero(labels.array == label) * labels.grid.voxel_volume()
        after = np.count_nonzero(resampled.array == label) * target.voxel_volume()
        assert after == pytest.approx(before, rel=0.05)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_resampling_onto_the_own_grid_is_exact(order: int) -> None:
    image = Image(np.random.default_rng(0).normal(size=(7, 6, 5)).astype(np.float32), MASK_AFFINE)
    out = resample_to_grid(image, image.grid, order=order)
    assert np.array_equal(out.array, image.array)
    assert np.array_equal(out.affine, image.affine)


def test_shifting_the_grid_by_whole_voxels_shifts_the_array() -> None:
    array = np.random.default_rng(1).normal(size=(7, 6, 5))
    image = Image(array, MASK_AFFINE)
    shifted = MASK_AFFINE.copy()
    shifted[:3, 3] += MASK_AFFINE[:3, :3] @ [2, 1, 0]  # the target grid starts at source voxel (2, 1, 0)
    out = resample_to_grid(image, Grid((5, 5, 5), shifted), order=1)
    np.testing.assert_allclose(out.array, array[2:7, 1:6, :], rtol=0, atol=1e-12)


@pytest.mark.parametrize("fill", [-5.0, 0.0, 3.5])
@pytest.mark.parametrize("order", [0, 1, 3])
def test_points_outside_the_image_take_the_fill_value(order: int, fill: float) -> None:
    image = Image(np.ones((4, 4, 4), np.float32), np.eye(4))
    half_out = np.eye(4)
    half_out[:3, 3] = [2.0, 0.0, 0.0]  # target voxels i = 0, 1 lie over source voxels 2, 3; i = 2, 3 beyond
    out = resample_to_grid(image, Grid((4, 4, 4), half_out), order=order, fill=fill).array
    assert np.all(out[:2] == 1.0)
    assert np.all(out[2:] == fill)


@pytest.mark.parametrize("order", [0, 1])
def test_a_finer_grid_over_the_same_extent_is_fully_covered(order: int) -> None:
    # 4 voxels of 2 mm centred at 0, 2, 4, 6 span -1..7 mm; 8 voxels of 1 mm centred at -0.5 .. 6.5 span the same
    coarse = Image(np.ones((4, 4, 4), np.float32), np.diag([2.0, 2.0, 2.0, 1.0]))
    fine = np.diag([1.0, 1.0, 1.0, 1.0])
    fine[:3, 3] = -0.5
    out = resample_to_grid(coarse, Grid((8, 8, 8), fine), order=order)
    assert np.all(out.array == 1.0)


def test_liver_mask_of_real_mr_keeps_its_volume_on_a_finer_grid() -> None:
    liver = load_image(MR_SEG)
    liver = Image((liver.array == 5).astype(np.uint8), liver.affine)
    finer = liver.affine.copy()
    finer[:3, :3] /= 2.0
    finer[:3, 3] -= liver.affine[:3, :3] @ [0.25, 0.25, 0.25]  # fine voxel centres inside the coarse ones
    out = resample_labels(liver, Grid((234, 182, 40), finer))
    before = np.count_nonzero(liver.array) * liver.grid.voxel_volume()
    after = np.count_nonzero(out.array) * out.grid.voxel_volume()
    assert after == pytest.approx(before, rel=1e-9)


def test_grids_overlap_in_world_space() -> None:
    grid = Grid((10, 10, 10), np.diag([1.0, 1.0, 1.0, 1.0]))
    touching_inside = np.eye(4)
    touching_inside[:3, 3] = [9.0, 9.0, 9.0]
    apart = np.eye(4)
    apart[:3, 3] = [0.0, 0.0, 50.0]
    assert grids_overlap(grid, Grid((5, 5, 5), touching_inside))
    assert not grids_overlap(grid, Grid((5, 5, 5), apart))


@pytest.mark.parametrize("seed", range(5))
def test_axis_aligned_nearest_neighbour_agrees_with_scipy_affine_transform(seed: int) -> None:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, size=(23, 17, 9)).astype(np.uint8)
    source = np.diag([*rng.uniform(0.6, 3.0, 3), 1.0])
    source[:3, 3] = rng.uniform(-20, 20, 3)
    target = np.diag([*(rng.uniform(0.5, 4.0, 3) * rng.choice([-1, 1], 3)), 1.0])
    target[:3, 3] = rng.uniform(-25, 25, 3) + 0.0123  # off any tie between two source voxels
    grid = Grid((31, 12, 14), target)
    ours = resample_labels(Image(labels, source), grid).array
    index = np.linalg.inv(source) @ target
    scipy_result = ndimage.affine_transform(
        labels,
        np.diag(index[:3, :3]),
        offset=index[:3, 3],
        output_shape=grid.shape,
        order=0,
        mode="grid-constant",
        cval=0,
    )
    np.testing.assert_array_equal(ours, scipy_result)
