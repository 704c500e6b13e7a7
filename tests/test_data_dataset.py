"""lai.data.dataset: a Dataset folder written with write_index and save_image reads back as written."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.data import (
    Dataset,
    DatasetError,
    write_index,
)
from lai.imaging import Image, save_image
from tiny_dataset import CASES, LESIONS, T2W_AFFINE, write_tiny_dataset


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    write_tiny_dataset(root)
    return root


def test_round_trip_gives_back_the_tables(tiny: Path) -> None:
    dataset = Dataset.read(tiny)
    pd.testing.assert_frame_equal(dataset.cases, CASES, check_dtype=False)
    pd.testing.assert_frame_equal(dataset.lesions, LESIONS, check_dtype=False)
    assert dataset.name == "tiny"
    assert dataset.meta["description"] == "three cases for tests"


def test_ids_read_as_strings_even_when_they_look_like_numbers(tmp_path: Path) -> None:
    cases = CASES.assign(case_id=["001", "002", "010"], patient_id=["7", "7", "08"])
    lesions = LESIONS.assign(lesion_id=["1", "2", "3", "4"], case_id=["001", "001", "002", "010"])
    write_index(tmp_path, name="numeric", cases=cases, lesions=lesions, files={})
    dataset = Dataset.read(tmp_path)
    assert dataset.cases["case_id"].tolist() == ["001", "002", "010"]
    assert dataset.cases["patient_id"].tolist() == ["7", "7", "08"]
    assert dataset.lesions["lesion_id"].tolist() == ["1", "2", "3", "4"]


def test_dataset_json_lists_every_file_with_its_sha256(tiny: Path) -> None:
    listed = json.loads((tiny / "dataset.json").read_text())["files"]
    on_disk = {p.relative_to(tiny).as_posix() for p in tiny.rglob("*") if p.is_file()} - {"dataset.json"}
    assert set(listed) == on_disk
    for rel, digest in listed.items():
        assert hashlib.sha256((tiny / rel).read_bytes()).hexdigest() == digest, rel


def test_dataset_json_names_the_sequences_present(tiny: Path) -> None:
    assert Dataset.read(tiny).meta["sequences"] == ["t2w", "portal"]


def test_paths_point_at_the_files_written(tiny: Path) -> None:
    dataset = Dataset.read(tiny)
    assert dataset.image_path("c2", "portal") == tiny / "images" / "c2" / "portal.nii.gz"
    assert dataset.image_path("c2", "portal").is_file()
    assert dataset.lesion_mask_path("c2") == tiny / "masks" / "c2" / "lesions.nii.gz"
    assert dataset.liver_mask_path("c1") == tiny / "masks" / "c1" / "liver.nii.gz"
    assert dataset.liver_mask_path("c2") is None


def test_lesion_mask_path_prefers_a_sequence_own_delineation(tiny: Path) -> None:
    own = tiny / "masks" / "c1" / "lesions_t2w.nii.gz"
    save_image(Image(np.zeros((6, 6, 3), np.uint8), T2W_AFFINE), own)
    dataset = Dataset.read(tiny)
    assert dataset.lesion_mask_path("c1", "t2w") == own
    assert dataset.lesion_mask_path("c1", "portal") == tiny / "masks" / "c1" / "lesions.nii.gz"


def test_iter_cases_gives_each_case_with_its_lesions_and_sequences(tiny: Path) -> None:
    cases = list(Dataset.read(tiny).iter_cases())
    assert [c.case_id for c in cases] == ["c1", "c2", "c3"]
    assert [c.patient_id for c in cases] == ["p1", "p1", "p2"]
    assert cases[0].sequences == ("t2w", "portal")
    first, second = cases[0].lesions
    assert (first.lesion_id, first.mask_label, first.diagnosis, first.malignant) == ("c1-1", 1, "hcc", True)
    assert (second.lesion_id, second.mask_label, second.diagnosis, second.malignant) == (
        "c1-2",
        2,
        "hem",
        False,
    )
    assert second.diameter_mm == 3.0
    assert [lesion.lesion_id for lesion in cases[2].lesions] == ["c3-1"]


def test_public_release_lesions_without_labels_read_as_unknown(tmp_path: Path) -> None:
    unlabelled = LESIONS.assign(diagnosis=None, malignant=None, diameter_mm=None)
    write_index(tmp_path, name="public", cases=CASES, lesions=unlabelled, files={})
    lesions = [lesion for case in Dataset.read(tmp_path).iter_cases() for lesion in case.lesions]
    assert [(lesion.diagnosis, lesion.malignant, lesion.diameter_mm) for lesion in lesions] == [
        (None, None, None)
    ] * 4


def test_splits_read_back_as_written(tiny: Path) -> None:
    assert Dataset.read(tiny).splits() == {"train": ["c1", "c2"], "test": ["c3"]}


def test_read_without_dataset_json_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"dataset\.json: missing"):
        Dataset.read(tmp_path)


def test_read_lesions_without_a_required_column_names_file_and_column(tiny: Path) -> None:
    lesions = pd.read_csv(tiny / "lesions.csv").drop(columns=["mask_label"])
    lesions.to_csv(tiny / "lesions.csv", index=False)
    with pytest.raises(DatasetError, match=r"lesions\.csv: missing column\(s\) mask_label"):
        Dataset.read(tiny)


def test_write_index_refuses_tables_without_required_columns(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="patient_id"):
        write_index(tmp_path, name="bad", cases=CASES.drop(columns=["patient_id"]), lesions=LESIONS, files={})
    assert not (tmp_path / "dataset.json").exists()


def test_malignant_flags_written_as_text_read_as_their_value(tiny: Path) -> None:
    lesions = pd.read_csv(tiny / "lesions.csv", dtype=str)
    lesions["malignant"] = ["TRUE", "false", "1", "0"]
    lesions.to_csv(tiny / "lesions.csv", index=False)
    flags = [lesion.malignant for case in Dataset.read(tiny).iter_cases() for lesion in case.lesions]
    assert flags == [True, False, True, False]


@pytest.mark.parametrize(("column", "value"), [("malignant", "maybe"), ("mask_label", "1.5")])
def test_iter_cases_names_the_lesion_with_an_unusable_value(tiny: Path, column: str, value: str) -> None:
    lesions = pd.read_csv(tiny / "lesions.csv", dtype=str)
    lesions.loc[2, column] = value
    lesions.to_csv(tiny / "lesions.csv", index=False)
    with pytest.raises(
        DatasetError, match=rf"lesions\.csv: lesion 'c2-1': {column} '?{re.escape(value)}'?: expected"
    ):
        list(Dataset.read(tiny).iter_cases())


def test_splits_that_are_not_json_name_the_file(tiny: Path) -> None:
    (tiny / "splits.json").write_text('{"train": [')
    with pytest.raises(DatasetError, match=r"splits\.json: not valid JSON"):
        Dataset.read(tiny).splits()


def test_dataset_json_that_is_not_an_object_names_the_file(tiny: Path) -> None:
    (tiny / "dataset.json").write_text("[]")
    with pytest.raises(DatasetError, match=r"dataset\.json: expected a JSON object"):
        Dataset.read(tiny)


def test_atomically_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    from lai.files import write_text_atomic

    path = tmp_path / "report.html"
    write_text_atomic(path, "x")
    reference = tmp_path / "plain.txt"
    reference.write_text("x")
    assert (path.stat().st_mode & 0o777) == (reference.stat().st_mode & 0o777)
