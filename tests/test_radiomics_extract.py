"""lai.radiomics.extract_features: masks meet images in world coordinates, clear errors, settings, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lai.imaging import Image, save_image
from lai.radiomics import RadiomicsError, SettingsError, extract_features, load_settings

IMAGE_AFFINE = np.array(
    [[1.0, 0.0, 0.0, -20.0], [0.0, 1.25, 0.0, -25.0], [0.0, 0.0, 2.5, -30.0], [0.0, 0.0, 0.0, 1.0]]
)
"""40 x 40 x 24 voxels of 1 x 1.25 x 2.5 mm."""

MASK_AFFINE = np.array(
    [[-0.7, 0.0, 0.0, 8.03], [0.0, 0.9, 0.0, -21.31], [0.0, 0.0, 1.6, -27.13], [0.0, 0.0, 0.0, 1.0]]
)
"""A finer grid, shifted (no voxel centre of the image half-way between two of its own), with its first
axis running right to left: 40 x 40 x 40 voxels."""


def noisy_image(seed: int = 3) -> Image:
    rng = np.random.default_rng(seed)
    return Image(rng.normal(500.0, 80.0, size=(40, 40, 24)), IMAGE_AFFINE)


def ellipsoid_labels(affine: np.ndarray, shape: tuple[int, int, int]) -> Image:
    """Label 1: an ellipsoid centred at world (2, -3, 1) mm with semi-axes 8, 6, 5 mm; label 0 elsewhere."""
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1).astype(float)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    inside = (((world - [2.0, -3.0, 1.0]) / [8.0, 6.0, 5.0]) ** 2).sum(axis=-1) <= 1.0
    return Image(inside.astype(np.int16), affine)


def nearest_by_hand(labels: Image, target_affine: np.ndarray, shape: tuple[int, int, int]) -> Image:
    """Sample ``labels`` at the world position of each target voxel centre (nearest voxel), in numpy."""
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1).reshape(-1, 3)
    world = np.c_[ijk, np.ones(len(ijk))] @ target_affine.T
    source = np.rint(world @ np.linalg.inv(labels.affine).T)[:, :3].astype(int)
    inside = np.all((source >= 0) & (source < labels.shape), axis=1)
    values = np.zeros(len(ijk), dtype=labels.array.dtype)
    values[inside] = labels.array[tuple(source[inside].T)]
    return Image(values.reshape(shape), target_affine)


def test_mask_on_another_grid_gives_the_features_of_the_mask_resampled_by_hand() -> None:
    image = noisy_image()
    mask = ellipsoid_labels(MASK_AFFINE, (40, 40, 40))
    by_hand = nearest_by_hand(mask, IMAGE_AFFINE, image.shape)
    assert by_hand.array.sum() > 50
    features = extract_features(image, mask, "pyradiomics")
    expected = extract_features(image, by_hand, "pyradiomics")
    assert features == pytest.approx(expected, rel=1e-12)


def test_mask_stored_with_a_flipped_axis_gives_the_same_features() -> None:
    image = noisy_image()
    mask = ellipsoid_labels(IMAGE_AFFINE, image.shape)
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = image.shape[0] - 1
    flipped = Image(mask.array[::-1].copy(), IMAGE_AFFINE @ flip)
    assert extract_features(image, flipped, "pyradiomics") == pytest.approx(
        extract_features(image, mask, "pyradiomics"), rel=1e-12
    )


def test_a_label_absent_from_the_mask_is_an_error_naming_label_and_files(tmp_path: Path) -> None:
    image_path, mask_path = tmp_path / "t2w.nii.gz", tmp_path / "lesions.nii.gz"
    save_image(noisy_image(), image_path)
    save_image(ellipsoid_labels(IMAGE_AFFINE, (40, 40, 24)), mask_path)
    with pytest.raises(RadiomicsError, match=r"label 2 .*t2w\.nii\.gz.*lesions\.nii\.gz.*present: \[1\]"):
        extract_features(image_path, mask_path, "pyradiomics", label=2)


def test_a_mask_that_vanishes_on_the_image_grid_is_an_error() -> None:
    image = noisy_image()
    tiny = np.zeros((40, 40, 40), dtype=np.int16)
    tiny[20, 20, 20] = 1
    # one 0.7 x 0.9 x 1.6 mm voxel placed between two image voxel centres along the 2.5 mm axis
    affine = MASK_AFFINE.copy()
    affine[2, 3] = -30.0 + 2.5 * 10.5 - 1.6 * 20
    with pytest.raises(RadiomicsError, match="label 1 has no voxel on the image grid"):
        extract_features(image, Image(tiny, affine), "pyradiomics")


def test_first_order_uses_the_normaliser_and_shape_ignores_it() -> None:
    image = noisy_image()
    mask = ellipsoid_labels(IMAGE_AFFINE, image.shape)
    raw = extract_features(image, mask, "pyradiomics")
    halved = extract_features(image, mask, {"preset": "pyradiomics", "bin_width": 12.5}, normaliser=2.0)
    values = image.array[mask.array == 1]
    assert halved["original_firstorder_Mean"] == pytest.approx(values.mean() / 2.0)
    assert halved["original_firstorder_Entropy"] == pytest.approx(raw["original_firstorder_Entropy"])
    assert halved["original_shape_VoxelVolume"] == raw["original_shape_VoxelVolume"] == values.size * 3.125


def test_a_non_positive_normaliser_is_refused() -> None:
    image = noisy_image()
    with pytest.raises(RadiomicsError, match="must be positive"):
        extract_features(image, ellipsoid_labels(IMAGE_AFFINE, image.shape), normaliser=0.0)


def test_liver_normalisation_without_liver_mask_divides_by_the_median_of_a_ring() -> None:
    array = np.full((40, 40, 24), 200.0)
    mask = ellipsoid_labels(IMAGE_AFFINE, array.shape)
    array[mask.array == 1] = 300.0
    array[:2] = 5000.0  # far (> 20 mm) from the lesion: outside the ring
    features = extract_features(Image(array, IMAGE_AFFINE), mask)
    assert features["original_firstorder_Mean"] == pytest.approx(1.5)


def test_settings_from_yaml_file_override_the_preset(tmp_path: Path) -> None:
    path = tmp_path / "radiomics.yaml"
    path.write_text("preset: pyradiomics\nbin_count: 16\n", encoding="utf-8")
    settings = load_settings(path)
    assert settings["bin_count"] == 16
    assert settings["bin_width"] is None
    assert settings["normalise"] == "none"


def test_fixed_bin_count_puts_the_extremes_in_the_first_and_last_bins() -> None:
    array = np.zeros((4, 4, 4))
    array[1, 1:3, 1:3] = [[0.0, 3.0], [6.0, 10.0]]
    labels = np.zeros((4, 4, 4), dtype=np.int8)
    labels[1, 1:3, 1:3] = 1
    settings = {"preset": "pyradiomics", "bin_count": 4}
    features = extract_features(Image(array, np.eye(4)), Image(labels, np.eye(4)), settings)
    # bins of 2.5 over 0..10: 0 in the first, 3 in the second, 6 in the third, 10 (the maximum) in the last
    assert features["original_firstorder_Uniformity"] == pytest.approx(0.25)
    assert features["original_firstorder_Entropy"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"bin_widht": 5}, "Unknown radiomics setting"),
        ({"preset": "mirp"}, "Unknown radiomics preset"),
        ({"normalise": "zscore"}, "normalise"),
        ({"bin_width": 5, "bin_count": 32}, "exactly one of bin_width and bin_count"),
        ("no_such_file.yaml", "no such settings file"),
    ],
)
def test_bad_settings_are_refused_with_the_key(settings: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(settings)  # type: ignore[arg-type]


def test_robust_mean_absolute_deviation_of_two_voxels_is_nan_without_warning() -> None:
    import warnings

    from lai.radiomics.firstorder import robust_mean_absolute_deviation

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(robust_mean_absolute_deviation(np.array([1.0, 3.0])))
    assert robust_mean_absolute_deviation(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 100.0])) == pytest.approx(
        np.mean(np.abs(np.array([2.0, 3.0, 4.0, 5.0]) - 3.5))
    )
