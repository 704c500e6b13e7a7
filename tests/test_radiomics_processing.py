"""IBSI 1 chapter 2 image processing: interpolation grid, mask partial volume, re-segmentation, discretisation.

Expected values come from the IBSI reference manual's formulas worked by hand here, not from the code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lai.imaging import Grid, Image
from lai.radiomics.discretisation import discretise_fixed_bin_number, discretise_fixed_bin_size
from lai.radiomics.processing import (
    ibsi_grid,
    resample_ibsi,
    resample_mask_ibsi,
    resegment_outliers,
    resegment_range,
    round_intensities,
)

SPACING = (0.7, 0.9, 3.0)
ORIGIN = (-12.0, 4.5, 30.0)
SHAPE = (9, 7, 5)


def _affine(spacing: tuple[float, float, float], origin: tuple[float, float, float]) -> np.ndarray:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return affine


def _world(affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    index = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1)
    return index @ affine[:3, :3].T + affine[:3, 3]


def _plane(world: np.ndarray) -> np.ndarray:
    return 2.0 * world[..., 0] - 3.0 * world[..., 1] + 0.5 * world[..., 2] + 7.0


def _linear_image() -> Image:
    affine = _affine(SPACING, ORIGIN)
    return Image(_plane(_world(affine, SHAPE)), affine)


# --- Interpolation grid ---


def test_interpolation_grid_size_follows_the_ceiling_rule() -> None:
    grid = ibsi_grid(Grid(SHAPE, _affine(SPACING, ORIGIN)), (2.0, 2.0, 2.0))
    # n_b = ceil(n_a s_a / s_b): ceil(6.3 / 2), ceil(6.3 / 2), ceil(15 / 2)
    assert grid.shape == (4, 4, 8)
    assert grid.spacing == pytest.approx((2.0, 2.0, 2.0))


def test_interpolation_grid_origin_is_the_manuals_align_grid_centres_origin() -> None:
    grid = ibsi_grid(Grid(SHAPE, _affine(SPACING, ORIGIN)), (2.0, 2.0, 2.0))
    # x_b = x_a + (s_a (n_a - 1) - s_b (n_b - 1)) / 2
    expected = [
        -12.0 + (0.7 * 8 - 2.0 * 3) / 2,
        4.5 + (0.9 * 6 - 2.0 * 3) / 2,
        30.0 + (3.0 * 4 - 2.0 * 7) / 2,
    ]
    assert grid.affine[:3, 3] == pytest.approx(expected)


def test_interpolation_grid_of_the_manuals_example_is_six_by_six_from_minus_half_a_millimetre() -> None:
    grid = ibsi_grid(Grid((4, 4, 1), _affine((3.0, 3.0, 1.0), (0.0, 0.0, 0.0))), (2.0, 2.0, None))
    assert grid.shape == (6, 6, 1)
    assert grid.affine[:2, 3] == pytest.approx([-0.5, -0.5])


def test_interpolation_grid_keeps_the_world_centre_of_an_oblique_grid() -> None:
    angle = math.radians(30.0)
    rotation = np.array(
        [[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0.0, 0.0, 1.0]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(SPACING)
    affine[:3, 3] = ORIGIN
    grid = ibsi_grid(Grid(SHAPE, affine), (1.1, 1.3, 2.0))

    def centre(g: Grid) -> np.ndarray:
        return g.affine[:3, :3] @ ((np.array(g.shape) - 1) / 2) + g.affine[:3, 3]

    assert centre(grid) == pytest.approx(centre(Grid(SHAPE, affine)))
    # the axes keep their directions
    directions = grid.affine[:3, :3] / np.array(grid.spacing)
    assert directions == pytest.approx(rotation)


def test_in_plane_interpolation_refuses_a_slice_spacing() -> None:
    with pytest.raises(ValueError, match="slice axis"):
        ibsi_grid(Grid(SHAPE, _affine(SPACING, ORIGIN)), (2.0, 2.0, 2.0), in_plane_only=True)


# --- Image interpolation ---


def test_linear_interpolation_keeps_an_image_linear_in_world_coordinates_exactly() -> None:
    resampled = resample_ibsi(_linear_image(), (2.0, 2.0, 2.0), order=1)
    # independent new voxel centres from the manual's origin and the 2 mm spacing
    origin = (-12.0 + (5.6 - 6.0) / 2, 4.5 + (5.4 - 6.0) / 2, 30.0 + (12.0 - 14.0) / 2)
    world = _world(_affine((2.0, 2.0, 2.0), origin), (4, 4, 8))
    # new centres beyond the outermost original centres are extrapolated (border padding): skip them
    last = np.array(ORIGIN) + np.array(SPACING) * (np.array(SHAPE) - 1)
    inside = np.all((world >= np.array(ORIGIN)) & (world <= last), axis=-1)
    assert inside.sum() > 20
    assert resampled.array[inside] == pytest.approx(_plane(world)[inside], abs=1e-9)


def test_nearest_neighbour_interpolation_keeps_the_set_of_values() -> None:
    rng = np.random.default_rng(4)
    image = Image(rng.integers(-1000, 400, size=SHAPE).astype(np.int16), _affine(SPACING, ORIGIN))
    resampled = resample_ibsi(image, (1.3, 0.5, 2.2), order=0)
    assert set(np.unique(resampled.array)) <= set(np.unique(image.array))
    assert resampled.shape == (5, 13, 7)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_in_plane_interpolation_keeps_every_slice_where_it_was(order: int) -> None:
    per_slice = np.array([-400.0, 20.0, 35.0, 60.0, 90.0])
    image = Image(np.broadcast_to(per_slice, SHAPE).copy(), _affine(SPACING, ORIGIN))
    resampled = resample_ibsi(image, (2.0, 2.0, None), order=order, in_plane_only=True)
    assert resampled.shape == (4, 4, 5)
    assert resampled.affine[2, 2] == 3.0
    assert resampled.affine[2, 3] == 30.0
    assert resampled.array == pytest.approx(np.broadcast_to(per_slice, resampled.shape), abs=1e-9)


def test_rounding_gives_integer_intensities() -> None:
    resampled = round_intensities(resample_ibsi(_linear_image(), (2.0, 2.0, 2.0), order=3))
    assert np.array_equal(resampled.array, np.rint(resampled.array))
    assert round_intensities(Image(np.full((1, 1, 2), 2.4), np.eye(4))).array.ravel().tolist() == [2.0, 2.0]


# --- ROI mask interpolation ---


def _half_covered(threshold: float) -> np.ndarray:
    # a 1 mm mask [1, 0, 0, 0] sampled at 2 mm: new centres at grid positions 0.5 and 2.5, so the first
    # new voxel is half covered by the ROI (fraction 0.5) and the second not at all
    mask = Image(np.array([1, 0, 0, 0], dtype=np.uint8).reshape(4, 1, 1), np.eye(4))
    grid = ibsi_grid(mask.grid, (2.0, None, None))
    return resample_mask_ibsi(mask, grid, order=1, threshold=threshold).ravel()


def test_a_half_covered_voxel_is_in_the_roi_at_the_partial_volume_threshold_of_one_half() -> None:
    assert _half_covered(0.5).tolist() == [True, False]


def test_a_half_covered_voxel_is_outside_the_roi_above_a_threshold_of_one_half() -> None:
    assert _half_covered(0.51).tolist() == [False, False]


def test_mask_interpolation_refuses_a_threshold_outside_zero_one() -> None:
    mask = Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    with pytest.raises(ValueError, match="partial-volume threshold"):
        resample_mask_ibsi(mask, mask.grid, threshold=0.0)


# --- Re-segmentation ---

VALUES = np.array([-1001.0, -1000.0, -500.0, 0.0, 400.0, 401.0, 1200.0]).reshape(7, 1, 1)


def test_range_resegmentation_keeps_the_closed_interval_only() -> None:
    mask = np.ones(VALUES.shape, dtype=bool)
    kept = resegment_range(mask, VALUES, -1000.0, 400.0).ravel()
    assert kept.tolist() == [False, True, True, True, True, False, False]


def test_range_resegmentation_with_no_upper_bound_is_half_open() -> None:
    mask = np.ones(VALUES.shape, dtype=bool)
    mask[3] = False
    kept = resegment_range(mask, VALUES, -500.0, None).ravel()
    assert kept.tolist() == [False, False, True, False, True, True, True]


def test_resegmentation_leaves_the_morphological_mask_unchanged() -> None:
    morphological = np.ones(VALUES.shape, dtype=bool)
    intensity = resegment_outliers(resegment_range(morphological, VALUES, -1000.0, 400.0), VALUES)
    assert morphological.all()
    assert intensity.sum() < morphological.sum()


def test_outlier_resegmentation_keeps_the_mean_plus_minus_three_standard_deviations() -> None:
    rng = np.random.default_rng(7)
    image = rng.normal(40.0, 10.0, size=(12, 12, 6))
    image[0, 0, 0], image[1, 1, 1] = -300.0, 500.0
    mask = np.zeros(image.shape, dtype=bool)
    mask[1:11, 1:11, :] = True
    mask[0, 0, 0] = True
    inside = image[mask]
    mu = inside.sum() / inside.size
    sigma = math.sqrt(((inside - mu) ** 2).sum() / inside.size)
    expected = mask & (image >= mu - 3 * sigma) & (image <= mu + 3 * sigma)
    kept = resegment_outliers(mask, image)
    assert np.array_equal(kept, expected)
    assert not kept[0, 0, 0] and not kept[1, 1, 1]


# --- Discretisation (IBSI 2.7) ---


def test_fixed_bin_size_starts_bins_at_the_lower_bound_of_the_range() -> None:
    levels, n_levels = discretise_fixed_bin_size(
        np.array([-500.0, -400.0, 0.0, 399.0]), 25.0, -500.0, maximum=400.0
    )
    # floor((X + 500) / 25) + 1
    assert levels.tolist() == [1, 5, 21, 36]
    # the range's upper bound, 400 HU, is in bin floor(900 / 25) + 1
    assert n_levels == 37


def test_fixed_bin_size_without_a_range_starts_at_the_roi_minimum() -> None:
    levels, n_levels = discretise_fixed_bin_size(np.array([3.0, 10.0, 27.5, 8.0]), 5.0)
    # floor((X - 3) / 5) + 1
    assert levels.tolist() == [1, 2, 5, 2]
    assert n_levels == 5


def test_fixed_bin_size_refuses_intensities_outside_the_range() -> None:
    with pytest.raises(ValueError, match="re-segment"):
        discretise_fixed_bin_size(np.array([-600.0, 0.0]), 25.0, -500.0, maximum=400.0)


def test_fixed_bin_number_puts_the_maximum_in_the_last_bin() -> None:
    levels, n_levels = discretise_fixed_bin_number(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 0.999]), 4)
    # floor(4 (X - 0) / 4) + 1, and X_max in bin N_g
    assert levels.tolist() == [1, 2, 3, 4, 4, 1]
    assert n_levels == 4


def test_fixed_bin_number_of_thirty_two_bins() -> None:
    levels, n_levels = discretise_fixed_bin_number(np.array([10.0, 12.5, 20.0, 14.99]), 32)
    # floor(32 (X - 10) / 10) + 1: 1, floor(8) + 1, N_g, floor(15.968) + 1
    assert levels.tolist() == [1, 9, 32, 16]
    assert n_levels == 32


def test_fixed_bin_number_refuses_a_fractional_bin_count() -> None:
    with pytest.raises(ValueError, match="whole number of bins"):
        discretise_fixed_bin_number(np.array([1.0, 2.0]), 2.5)
