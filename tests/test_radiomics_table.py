"""lai.radiomics.extract_dataset: one row per lesion over a tiny Dataset with two sequences on different grids.

Each image is piecewise constant in world space: liver everywhere in a box, each lesion a ball of one
intensity. So the lesion-to-liver ratios are known without running any feature code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.data import Dataset, image_relpath, lesion_mask_relpath, write_index
from lai.imaging import Image, save_image
from lai.radiomics import FEATURE_NAMES, extract_dataset
from lai.radiomics.liver import liver_feature_columns
from radiomics_datasets import (
    CASES,
    LESIONS,
    LIVER,
    PORTAL_AFFINE,
    SHELL_MM,
    in_ball,
    world_of,
    write_dataset,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return write_dataset(tmp_path_factory.mktemp("tiny"))


def test_one_row_per_lesion_with_ids_labels_and_every_feature_column(dataset: Dataset) -> None:
    table = extract_dataset(dataset, scheduler="sync")
    frame = table.frame
    assert frame["lesion_id"].tolist() == ["c1-1", "c1-2", "c2-1", "c3-1"]
    assert frame["patient_id"].tolist() == ["p1", "p1", "p1", "p2"]
    assert frame["diagnosis"].tolist() == ["hcc", "hem", "met", "fnh"]
    assert frame["malignant"].tolist() == [True, False, True, False]
    assert frame["diameter_mm"].tolist() == [14.0, 10.0, 14.0, 14.0]
    expected = {f"{s}:{name}" for s in ("t2w", "portal") for name in FEATURE_NAMES}
    expected |= {"kinetics:t2w_lesion_to_liver_ratio", "kinetics:portal_lesion_to_liver_ratio"}
    expected |= set(liver_feature_columns(("t2w", "portal")))
    assert set(table.feature_columns) == expected
    assert "portal:original_firstorder_Mean" in expected and "t2w:original_shape_VoxelVolume" in expected


def test_lesion_to_liver_ratio_is_known_from_the_phantom(dataset: Dataset) -> None:
    frame = extract_dataset(dataset, scheduler="sync").frame.set_index("lesion_id")
    expected = {"c1-1": 1.5, "c1-2": 0.8, "c2-1": 1.5, "c3-1": 1.5}  # c1: liver mask; c2, c3: ring
    for lesion_id, ratio in expected.items():
        assert frame.loc[lesion_id, "kinetics:portal_lesion_to_liver_ratio"] == pytest.approx(ratio)
        # the default liver normalisation makes the mean itself the ratio to the liver
        assert frame.loc[lesion_id, "portal:original_firstorder_Mean"] == pytest.approx(ratio)
    assert frame.loc["c2-1", "kinetics:t2w_lesion_to_liver_ratio"] == pytest.approx(1.5)


def test_shape_on_the_mask_grid_counts_the_mask_voxels(dataset: Dataset) -> None:
    frame = extract_dataset(dataset, scheduler="sync", sequences=["portal"]).frame.set_index("lesion_id")
    voxels = int(in_ball(world_of(PORTAL_AFFINE, (48, 48, 20)), 2).sum())
    assert frame.loc["c1-2", "portal:original_shape_VoxelVolume"] == pytest.approx(voxels * 1.5 * 1.5 * 3.0)
    assert not any(c.startswith("t2w:") for c in frame.columns)


def test_a_missing_sequence_gives_nan_not_an_error(dataset: Dataset) -> None:
    frame = extract_dataset(dataset, scheduler="sync").frame.set_index("lesion_id")
    t2w = [c for c in frame.columns if c.startswith("t2w:") or c == "kinetics:t2w_lesion_to_liver_ratio"]
    assert frame.loc["c3-1", t2w].isna().all()
    assert frame.loc[["c1-1", "c1-2", "c2-1"], t2w].notna().all().all()


def test_second_run_is_served_from_the_cache(dataset: Dataset, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = extract_dataset(dataset, cache_dir=cache, scheduler="processes")
    entries = sorted(cache.rglob("*.pkl"))
    assert len(entries) == 3  # one per case
    mtimes = [p.stat().st_mtime_ns for p in entries]
    second = extract_dataset(dataset, cache_dir=cache, scheduler="sync")
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert sorted(cache.rglob("*.pkl")) == entries
    assert [p.stat().st_mtime_ns for p in entries] == mtimes
    other_settings = extract_dataset(dataset, settings={"bin_width": 0.1}, cache_dir=cache, scheduler="sync")
    assert len(sorted(cache.rglob("*.pkl"))) == 6  # other settings, other keys
    assert other_settings.metadata["settings_hash"] != first.metadata["settings_hash"]


def test_a_new_feature_revision_is_not_served_older_cached_values(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lai.radiomics import table

    cache = tmp_path / "cache"
    extract_dataset(dataset, cache_dir=cache, scheduler="sync")
    assert len(sorted(cache.rglob("*.pkl"))) == 3
    monkeypatch.setattr(table, "FEATURE_REVISION", table.FEATURE_REVISION + 1)
    extract_dataset(dataset, cache_dir=cache, scheduler="sync")
    assert len(sorted(cache.rglob("*.pkl"))) == 6  # computed again under new keys


def test_metadata_records_settings_sequences_and_dataset(dataset: Dataset, tmp_path: Path) -> None:
    table = extract_dataset(dataset, sequences=["portal", "t2w"], scheduler="sync")
    meta = table.metadata
    assert meta["sequences"] == ["t2w", "portal"]
    assert meta["settings"]["preset"] == "liver_mri"
    assert meta["settings"]["normalise"] == "liver"
    assert len(meta["settings_hash"]) == 64
    assert meta["dataset"]["name"] == "tiny-radiomics"
    table.write(tmp_path / "features.parquet")
    assert type(table).read(tmp_path / "features.parquet").metadata["settings_hash"] == meta["settings_hash"]


def test_unknown_sequence_is_refused(dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="Unknown sequence name"):
        extract_dataset(dataset, sequences=["T2"], scheduler="sync")


def test_sync_scheduler_gives_the_table_of_the_process_pool(dataset: Dataset) -> None:
    in_process = extract_dataset(dataset, scheduler="sync")
    in_pool = extract_dataset(dataset, scheduler="processes")
    pd.testing.assert_frame_equal(in_process.frame, in_pool.frame)
    assert in_process.metadata == in_pool.metadata


def test_a_lesion_with_no_voxel_on_a_coarse_grid_gives_nan_there(tmp_path: Path) -> None:
    portal_shape, dwi_shape = (48, 48, 20), (12, 12, 10)
    dwi_affine = np.diag([6.0, 6.0, 6.0, 1.0])
    dwi_affine[:3, 3] = (-33.0, -33.0, -27.0)
    portal_world = world_of(PORTAL_AFFINE, portal_shape)
    mask = np.zeros(portal_shape, dtype=np.uint8)
    mask[in_ball(portal_world, 1)] = 1
    # a one-voxel lesion that no 6 mm sample lands in: its centre lies 3 mm (half a DWI voxel) from
    # the nearest DWI sample along x, y and z
    tiny = (np.array([10.5, 10.5 + 6.0 * 3, 0.0]) - PORTAL_AFFINE[:3, 3]) / np.diag(PORTAL_AFFINE)[:3]
    i, j, k = (int(np.rint(v)) for v in tiny)
    assert mask[i, j, k] == 0
    mask[i, j, k] = 2
    files = {
        lesion_mask_relpath("c1"): save_image(
            Image(mask, PORTAL_AFFINE), tmp_path / lesion_mask_relpath("c1")
        )
    }
    liver = LIVER["portal"]
    for sequence, affine, shape in (("portal", PORTAL_AFFINE, portal_shape), ("dwi", dwi_affine, dwi_shape)):
        rel = image_relpath("c1", sequence)
        array = np.full(shape, liver, dtype=np.float32)
        array[in_ball(world_of(affine, shape), 1, SHELL_MM)] = liver * 2
        files[rel] = save_image(Image(array, affine), tmp_path / rel)
    lesions = LESIONS.iloc[:2].assign(diameter_mm=[14.0, 1.5])
    dataset = write_index(tmp_path, name="coarse", cases=CASES.iloc[:1], lesions=lesions, files=files)
    frame = extract_dataset(dataset, scheduler="sync").frame.set_index("lesion_id")
    dwi = [c for c in frame.columns if c.startswith("dwi:")]
    assert frame.loc["c1-2", dwi].isna().all()
    assert frame.loc["c1-1", dwi].notna().all()
    assert frame.loc["c1-2", "portal:original_shape_VoxelVolume"] == pytest.approx(1.5 * 1.5 * 3.0)
