"""Bad input (radiomics issue, point 7): a one-voxel lesion and a sheared (non-orthogonal) image grid.

A one-voxel lesion has no texture: every texture feature is NaN with a RadiomicsWarning, first order and
shape are measured. A sheared grid is refused with an error naming the angle and the files; in a dataset
run both are reported for that lesion and the run goes on.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from lai.data import image_relpath, lesion_mask_relpath, write_index
from lai.imaging import Image, save_image
from lai.radiomics import RadiomicsError, RadiomicsWarning, extract_dataset, extract_features
from lai.radiomics.pyradiomics_compat import pyradiomics_features
from radiomics_datasets import CASES, LESIONS

TEXTURE = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")
SHAPE = (12, 12, 8)


def ramp_image(affine: np.ndarray) -> Image:
    """Intensity 10 * (i + 2 j + 3 k): every voxel has its own value, so a lesion's voxels are known."""
    i, j, k = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    return Image((10.0 * (i + 2 * j + 3 * k)).astype(np.float32), affine)


def one_voxel_mask(affine: np.ndarray) -> Image:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[4, 5, 3] = 1
    return Image(mask, affine)


@pytest.mark.parametrize("settings", ["pyradiomics", {"preset": "liver_mri", "normalise": "none"}])
def test_one_voxel_lesion_has_nan_texture_and_a_warning(settings: object) -> None:
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    with pytest.warns(RadiomicsWarning, match="one voxel"):
        features = extract_features(ramp_image(affine), one_voxel_mask(affine), settings)
    texture = {k: v for k, v in features.items() if k.split("_")[1] in TEXTURE}
    assert len(texture) == 24 + 16 + 16 + 14 + 5
    assert all(math.isnan(v) for v in texture.values())
    assert features["original_firstorder_Mean"] == 10.0 * (4 + 2 * 5 + 3 * 3)
    assert features["original_firstorder_Variance"] == 0.0
    assert features["original_shape_VoxelVolume"] == pytest.approx(1.5 * 1.5 * 3.0)


def test_one_voxel_lesion_in_pyradiomics_mode_warns_naming_the_label() -> None:
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    with pytest.warns(RadiomicsWarning, match=r"label 1 has a single voxel.*glcm, glrlm"):
        features = pyradiomics_features(ramp_image(affine), one_voxel_mask(affine), {"binWidth": 25})
    assert math.isnan(features["original_glcm_Contrast"])
    assert math.isnan(features["original_ngtdm_Coarseness"])
    assert features["original_firstorder_Maximum"] == 10.0 * (4 + 2 * 5 + 3 * 3)


def sheared(angle_degrees: float) -> np.ndarray:
    """Affine whose j axis leans towards i: the two meet at ``90 - angle`` degrees."""
    affine = np.eye(4)
    affine[0, 1] = math.tan(math.radians(angle_degrees))
    return affine


@pytest.mark.parametrize("settings", ["pyradiomics", {"preset": "liver_mri", "normalise": "none"}])
def test_sheared_grid_is_an_error_naming_the_angle(settings: object) -> None:
    affine = sheared(10.0)
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[3:8, 3:8, 2:6] = 1
    with pytest.raises(RadiomicsError, match=r"not orthogonal: axes 0 and 1 meet at 80\.000 degrees"):
        extract_features(ramp_image(affine), Image(mask, affine), settings)


def test_sheared_grid_is_refused_by_pyradiomics_mode_naming_the_files(tmp_path: Path) -> None:
    affine = sheared(3.0)
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[3:8, 3:8, 2:6] = 1
    image_path, mask_path = tmp_path / "tilted.nii.gz", tmp_path / "tilted_mask.nii.gz"
    save_image(ramp_image(affine), image_path)
    save_image(Image(mask, affine), mask_path)
    with pytest.raises(RadiomicsError, match=r"87\.000 degrees.*tilted\.nii\.gz"):
        pyradiomics_features(image_path, mask_path)


def test_rotated_grid_is_orthogonal_and_gives_the_features_of_the_unrotated_one() -> None:
    c, s = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
    rotated = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]) @ np.diag(
        [1.5, 1.5, 3, 1]
    )
    straight = np.diag([1.5, 1.5, 3.0, 1.0])
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[3:8, 2:9, 2:6] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        turned = pyradiomics_features(ramp_image(rotated), Image(mask, rotated))
    expected = pyradiomics_features(ramp_image(straight), Image(mask, straight))
    assert turned.keys() == expected.keys()
    for name, value in expected.items():
        assert turned[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


def test_dataset_run_reports_one_voxel_and_sheared_lesions_and_goes_on(tmp_path: Path) -> None:
    straight, tilted = np.diag([1.5, 1.5, 3.0, 1.0]), sheared(10.0) @ np.diag([1.5, 1.5, 3.0, 1.0])
    files = {}
    for case_id, affine in (("c1", straight), ("c2", tilted)):
        mask = np.zeros(SHAPE, dtype=np.uint8)
        mask[2:6, 2:7, 1:5] = 1
        if case_id == "c1":
            mask[9, 9, 6] = 2  # one voxel, away from lesion 1
        files[lesion_mask_relpath(case_id)] = save_image(
            Image(mask, affine), tmp_path / lesion_mask_relpath(case_id)
        )
        rel = image_relpath(case_id, "portal")
        files[rel] = save_image(ramp_image(affine), tmp_path / rel)
    dataset = write_index(
        tmp_path, name="bad-input", cases=CASES.iloc[:2], lesions=LESIONS.iloc[:3], files=files
    )
    with pytest.warns(RadiomicsWarning) as caught:
        table = extract_dataset(
            dataset,
            settings={"preset": "liver_mri", "normalise": "none"},
            scheduler="sync",
            liver_features=False,
        )
    messages = [str(w.message) for w in caught]
    assert any("c1-2" in m and "one voxel" in m for m in messages)
    assert any("c2-1" in m and "not orthogonal" in m for m in messages)
    frame = table.frame.set_index("lesion_id")
    texture = [c for c in frame.columns if c.startswith("portal:") and c.split("_")[1] in TEXTURE]
    assert frame.loc["c1-2", texture].isna().all()
    assert frame.loc["c1-2", "portal:original_firstorder_Mean"] == 10.0 * (9 + 2 * 9 + 3 * 6)
    assert frame.loc["c2-1"].filter(like="portal:").isna().all()
    assert frame.loc["c1-1", texture].notna().all()
