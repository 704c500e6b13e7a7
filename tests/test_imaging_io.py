"""lai.imaging I/O: real MR and NRRD files load with the geometry other tools report; saving round-trips."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from lai.imaging import Image, ImageError, load_image, save_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MR = SHARED / "mr" / "totalsegmentator" / "example_mr_sm.nii.gz"
MR_SEG = SHARED / "mr" / "totalsegmentator" / "example_seg_mr.nii.gz"
PYRADIOMICS = SHARED / "pyradiomics"
LIVER_LABEL = 5  # TotalSegmentator's MR label for the liver

OBLIQUE_FLOAT32_AFFINE = np.array(
    [[0.0, -0.75, 0.0, 10.5], [1.5, 0.0, 0.0, -20.25], [0.0, 0.0, 3.0, -5.0], [0.0, 0.0, 0.0, 1.0]]
)
"""Axes permuted and flipped; every entry exact in float32, as NIfTI stores the affine."""


# --- Real files ---


def test_real_abdominal_mr_loads_with_its_shape_spacing_and_orientation() -> None:
    header = nib.load(MR).header
    image = load_image(MR)
    assert image.shape == (117, 91, 20)
    assert image.spacing == pytest.approx((3.0, 3.0, 3.0))
    assert image.spacing == pytest.approx(tuple(float(z) for z in header.get_zooms()))
    assert nib.aff2axcodes(image.affine) == ("L", "P", "S")
    assert image.array.dtype == np.int16


def test_real_liver_mask_measures_about_499_ml() -> None:
    segmentation = load_image(MR_SEG)
    voxels = int(np.count_nonzero(segmentation.array == LIVER_LABEL))
    volume_ml = voxels * segmentation.grid.voxel_volume() / 1000.0
    assert volume_ml == pytest.approx(499.0, rel=0.02)


def test_real_segmentation_shares_the_mr_grid() -> None:
    assert load_image(MR_SEG).grid.shape == load_image(MR).grid.shape
    np.testing.assert_allclose(load_image(MR_SEG).affine, nib.load(MR).affine)


@pytest.mark.parametrize(
    "name", ["brain1_image.nrrd", "breast1_label.nrrd", "prostate_phantom_subvolume.nrrd"]
)
def test_nrrd_voxels_map_to_the_physical_points_simpleitk_reports(name: str) -> None:
    path = PYRADIOMICS / name
    itk = sitk.ReadImage(str(path))
    image = load_image(path)
    assert image.shape == itk.GetSize()
    size = np.array(itk.GetSize())
    rng = np.random.default_rng(0)
    indices = [
        (0, 0, 0),
        tuple(int(s) - 1 for s in size),
        *[tuple(int(v) for v in rng.integers(0, size)) for _ in range(5)],
    ]
    for index in indices:
        x, y, z = itk.TransformIndexToPhysicalPoint(index)  # ITK's LPS
        world = image.affine @ np.array([*index, 1.0])
        np.testing.assert_allclose(world[:3], [-x, -y, z], atol=1e-6)
        assert image.array[index] == itk.GetPixel(index)


# --- Saving ---


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8])
def test_save_then_load_gives_back_array_and_affine_exactly(tmp_path: Path, dtype: type) -> None:
    array = (np.arange(5 * 4 * 3) - 7).reshape(5, 4, 3).astype(dtype)
    save_image(Image(array, OBLIQUE_FLOAT32_AFFINE), tmp_path / "image.nii.gz")
    loaded = load_image(tmp_path / "image.nii.gz")
    assert loaded.array.dtype == dtype
    assert np.array_equal(loaded.array, array)
    assert np.array_equal(loaded.affine, OBLIQUE_FLOAT32_AFFINE)


def test_saved_affine_is_rounded_to_float32_as_nifti_stores_it(tmp_path: Path) -> None:
    angle = np.deg2rad(17.0)
    affine = np.eye(4)
    affine[:2, :2] = 0.8 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine[:3, 3] = [-101.3, 55.7, 12.1]
    save_image(Image(np.zeros((3, 3, 3), np.float32), affine), tmp_path / "oblique.nii")
    assert np.array_equal(load_image(tmp_path / "oblique.nii").affine, affine.astype(np.float32))


def test_saved_file_is_read_by_simpleitk_at_the_same_world_points(tmp_path: Path) -> None:
    array = np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3)
    save_image(Image(array, OBLIQUE_FLOAT32_AFFINE), tmp_path / "image.nii.gz")
    itk = sitk.ReadImage(str(tmp_path / "image.nii.gz"))
    for index in [(0, 0, 0), (4, 3, 2), (2, 1, 0)]:
        x, y, z = itk.TransformIndexToPhysicalPoint(index)
        world = OBLIQUE_FLOAT32_AFFINE @ np.array([*index, 1.0])
        np.testing.assert_allclose(world[:3], [-x, -y, z], atol=1e-5)
        assert itk.GetPixel(index) == array[index]


def test_save_returns_the_sha256_of_the_file_written(tmp_path: Path) -> None:
    digest = save_image(Image(np.ones((2, 2, 2), np.uint8), np.eye(4)), tmp_path / "mask.nii.gz")
    assert digest == hashlib.sha256((tmp_path / "mask.nii.gz").read_bytes()).hexdigest()


def test_save_is_byte_identical_for_the_same_image(tmp_path: Path) -> None:
    image = Image(np.arange(24, dtype=np.float32).reshape(2, 3, 4), OBLIQUE_FLOAT32_AFFINE)
    assert save_image(image, tmp_path / "a.nii.gz") == save_image(image, tmp_path / "b.nii.gz")


def test_int64_and_boolean_masks_are_saved_with_their_values(tmp_path: Path) -> None:
    labels = np.zeros((4, 4, 4), dtype=np.int64)
    labels[1:3, 1:3, 1:3] = 7
    save_image(Image(labels, np.eye(4)), tmp_path / "labels.nii.gz")
    save_image(Image(labels > 0, np.eye(4)), tmp_path / "liver.nii.gz")
    assert np.array_equal(load_image(tmp_path / "labels.nii.gz").array, labels)
    assert np.array_equal(load_image(tmp_path / "liver.nii.gz").array, (labels > 0).astype(np.uint8))


def test_int64_values_beyond_int32_are_refused_naming_the_file(tmp_path: Path) -> None:
    huge = np.full((2, 2, 2), 2**40, dtype=np.int64)
    with pytest.raises(ImageError, match=r"huge\.nii\.gz"):
        save_image(Image(huge, np.eye(4)), tmp_path / "huge.nii.gz")


# --- Errors ---


def test_loading_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"absent\.nii\.gz: no such image file"):
        load_image(tmp_path / "absent.nii.gz")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.nii.gz", gzip.compress(b"this is not an image" * 30)),
        ("garbage.nii", b"\x00" * 20),
        ("garbage.nrrd", b"NRRD0004\ntype: nonsense\n\n"),
    ],
)
def test_loading_a_corrupt_file_names_it(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=re.escape(f"{name}: cannot read image")):
        load_image(tmp_path / name)


def test_loading_a_4d_series_names_the_file_and_shape(tmp_path: Path) -> None:
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3, 5), np.float32), np.eye(4)), tmp_path / "dwi.nii.gz")
    with pytest.raises(ImageError, match=r"dwi\.nii\.gz: expected a 3D image, found shape \(4, 4, 3, 5\)"):
        load_image(tmp_path / "dwi.nii.gz")


def test_loading_a_single_volume_4d_file_gives_3d(tmp_path: Path) -> None:
    array = np.arange(48, dtype=np.float32).reshape(4, 4, 3, 1)
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / "one.nii.gz")
    assert np.array_equal(load_image(tmp_path / "one.nii.gz").array, array[..., 0])
