"""lai.data.validate: each way of breaking a valid Dataset folder is reported, with its file and code."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from lai.data.validate import PROBLEM_CODES, Problem, format_problems, validate_dataset
from lai.imaging import Image, save_image
from tiny_dataset import PORTAL_AFFINE, T2W_AFFINE, lesion_mask, write_tiny_dataset

DOCS = Path(__file__).resolve().parents[1] / "docs" / "dataset.md"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    write_tiny_dataset(root)
    return root


def relist(root: Path, add: Iterable[str] = ()) -> None:
    """Update dataset.json's sha256 of every listed file still on disk (plus ``add``), as a writer would."""
    meta_path = root / "dataset.json"
    meta = json.loads(meta_path.read_text())
    for rel in [*meta["files"], *add]:
        if (root / rel).is_file():
            meta["files"][rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))


def edit_table(root: Path, name: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite cases.csv or lesions.csv through ``edit`` (cells kept as text) and relist it."""
    table = pd.read_csv(root / name, dtype=str, keep_default_na=False)
    edit(table).to_csv(root / name, index=False)
    relist(root)


def found(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in problems]


# --- A valid folder ---


def test_valid_dataset_has_no_problems(tiny: Path) -> None:
    assert validate_dataset(tiny) == []


def test_public_release_without_labels_is_valid(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.assign(diagnosis="", malignant=""))
    assert validate_dataset(tiny) == []


def test_every_problem_code_is_explained_in_the_user_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [code for code in PROBLEM_CODES if f"`{code}`" not in text] == []


# --- dataset.json ---


def test_missing_dataset_json(tiny: Path) -> None:
    (tiny / "dataset.json").unlink()
    assert found(validate_dataset(tiny)) == [("dataset.json", "missing-file")]


def test_dataset_json_that_is_not_json(tiny: Path) -> None:
    (tiny / "dataset.json").write_text('{"name": "tiny", "files": {')
    assert found(validate_dataset(tiny)) == [("dataset.json", "invalid-json")]


def test_dataset_json_without_a_files_map(tiny: Path) -> None:
    (tiny / "dataset.json").write_text(json.dumps({"name": "tiny", "files": ["cases.csv"]}))
    assert found(validate_dataset(tiny)) == [("dataset.json", "invalid-json")]


# --- cases.csv and lesions.csv ---


def test_missing_cases_csv(tiny: Path) -> None:
    (tiny / "cases.csv").unlink()
    assert found(validate_dataset(tiny)) == [("cases.csv", "missing-file")]


def test_unparseable_lesions_csv(tiny: Path) -> None:
    (tiny / "lesions.csv").write_text('lesion_id,case_id\nc1-1,c1,1,hcc,extra\n"unterminated\n')
    relist(tiny)
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "unparseable-table")]
    assert "lesions.csv" in problems[0].message


def test_lesions_csv_missing_a_column(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.drop(columns=["mask_label"]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "missing-column")]
    assert "mask_label" in problems[0].message


def test_empty_patient_id(tiny: Path) -> None:
    edit_table(tiny, "cases.csv", lambda t: t.assign(patient_id=["p1", "", "p2"]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("cases.csv", "missing-value")]
    assert "patient_id" in problems[0].message and "line(s) 3" in problems[0].message


def test_duplicate_case_id(tiny: Path) -> None:
    edit_table(tiny, "cases.csv", lambda t: pd.concat([t, t.iloc[[2]]]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("cases.csv", "duplicate-case")]
    assert "'c3'" in problems[0].message and "lines 4, 5" in problems[0].message


def test_duplicate_lesion_id(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.assign(lesion_id=["c1-1", "c1-2", "c1-1", "c3-1"]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "duplicate-lesion")]
    assert "'c1-1'" in problems[0].message


def test_lesion_of_a_case_not_in_cases_csv(tiny: Path) -> None:
    stray = {
        "lesion_id": "c9-1",
        "case_id": "c9",
        "mask_label": "1",
        "diagnosis": "cyst",
        "malignant": "False",
    }
    edit_table(tiny, "lesions.csv", lambda t: pd.concat([t, pd.DataFrame([stray])]).fillna(""))
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "unknown-case")]
    assert "'c9'" in problems[0].message


def test_diagnosis_outside_the_taxonomy(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.assign(diagnosis=["hcc", "hem", "hepatoma", "fnh"]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "unknown-diagnosis")]
    assert "'hepatoma'" in problems[0].message and "'c2-1'" in problems[0].message


def test_malignant_flag_contradicting_the_diagnosis(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.assign(malignant=["True", "True", "True", "False"]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "inconsistent-malignant")]
    assert "'c1-2'" in problems[0].message and "'hem'" in problems[0].message


def test_malignant_that_is_not_a_boolean(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.assign(malignant=["True", "False", "maybe", "False"]))
    problems = validate_dataset(tiny)
    assert found(problems) == [("lesions.csv", "invalid-value")]
    assert "'maybe'" in problems[0].message


# --- splits.json ---


def write_splits(root: Path, splits: object) -> None:
    (root / "splits.json").write_text(json.dumps(splits))
    relist(root)


def test_splits_that_are_not_lists_of_case_ids(tiny: Path) -> None:
    write_splits(tiny, {"train": "c1,c2", "test": ["c3"]})
    assert found(validate_dataset(tiny)) == [("splits.json", "invalid-json")]


def test_split_listing_a_case_not_in_cases_csv(tiny: Path) -> None:
    write_splits(tiny, {"train": ["c1", "c2"], "test": ["c3", "c4"]})
    problems = validate_dataset(tiny)
    assert found(problems) == [("splits.json", "unknown-case")]
    assert "'c4'" in problems[0].message and "'test'" in problems[0].message


def test_patient_with_cases_on_both_sides_of_a_split(tiny: Path) -> None:
    write_splits(tiny, {"train": ["c1"], "test": ["c2", "c3"]})  # c1 and c2 are both patient p1
    problems = validate_dataset(tiny)
    assert found(problems) == [("splits.json", "split-leak")]
    assert "'p1'" in problems[0].message and "train: c1" in problems[0].message


# --- Images and masks ---


def test_listed_image_absent(tiny: Path) -> None:
    (tiny / "images/c2/t2w.nii.gz").unlink()
    assert found(validate_dataset(tiny)) == [("images/c2/t2w.nii.gz", "missing-file")]


def test_case_with_lesions_but_no_lesion_mask_is_reported_once(tiny: Path) -> None:
    (tiny / "masks/c2/lesions.nii.gz").unlink()
    problems = validate_dataset(tiny)
    assert found(problems) == [("masks/c2/lesions.nii.gz", "missing-file")]
    assert "c2" in problems[0].message


def test_case_without_any_image(tiny: Path) -> None:
    shutil.rmtree(tiny / "images/c3")
    meta = json.loads((tiny / "dataset.json").read_text())
    meta["files"] = {rel: h for rel, h in meta["files"].items() if not rel.startswith("images/c3/")}
    (tiny / "dataset.json").write_text(json.dumps(meta))
    assert found(validate_dataset(tiny)) == [("images/c3", "missing-file")]


def test_image_folder_of_a_case_not_in_cases_csv(tiny: Path) -> None:
    edit_table(tiny, "cases.csv", lambda t: t[t["case_id"] != "c3"])
    edit_table(tiny, "lesions.csv", lambda t: t[t["case_id"] != "c3"])
    write_splits(tiny, {"train": ["c1", "c2"]})
    problems = validate_dataset(tiny)
    assert found(problems) == [("images/c3", "unknown-case"), ("masks/c3", "unknown-case")]
    assert "'c3'" in problems[0].message


def test_image_that_cannot_be_opened(tiny: Path) -> None:
    (tiny / "images/c1/portal.nii.gz").write_bytes(gzip.compress(b"not a NIfTI header" * 40))
    relist(tiny)
    problems = validate_dataset(tiny)
    assert found(problems) == [("images/c1/portal.nii.gz", "unreadable-image")]
    assert "images/c1/portal.nii.gz" in problems[0].message


def test_four_dimensional_image(tiny: Path) -> None:
    four_volumes = np.zeros((8, 8, 4, 3), dtype=np.float32)
    nib.save(nib.Nifti1Image(four_volumes, PORTAL_AFFINE), tiny / "images/c1/portal.nii.gz")
    relist(tiny)
    problems = validate_dataset(tiny)
    assert found(problems) == [("images/c1/portal.nii.gz", "unreadable-image")]
    assert "(8, 8, 4, 3)" in problems[0].message


def test_lesion_mask_with_truncated_voxel_data(tiny: Path) -> None:
    path = tiny / "masks/c1/lesions.nii.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: 352 + 10]))
    relist(tiny)
    assert found(validate_dataset(tiny)) == [("masks/c1/lesions.nii.gz", "unreadable-image")]


def test_image_named_for_no_canonical_sequence(tiny: Path) -> None:
    save_image(Image(np.zeros((8, 8, 4), np.float32), PORTAL_AFFINE), tiny / "images/c1/flair.nii.gz")
    relist(tiny, add=["images/c1/flair.nii.gz"])
    problems = validate_dataset(tiny)
    assert found(problems) == [("images/c1/flair.nii.gz", "unknown-sequence")]
    assert "'flair'" in problems[0].message


def test_lesion_mask_outside_the_images_in_world_space(tiny: Path) -> None:
    far = PORTAL_AFFINE.copy()
    far[:3, 3] += [0.0, 0.0, 300.0]  # the same voxels, 30 cm higher: a wrong origin
    save_image(Image(lesion_mask((1, 2)), far), tiny / "masks/c1/lesions.nii.gz")
    relist(tiny)
    problems = validate_dataset(tiny)
    assert found(problems) == [("masks/c1/lesions.nii.gz", "no-overlap")] * 2
    assert ["portal image" in problems[0].message, "t2w image" in problems[1].message] == [True, True]


def test_mask_on_another_grid_that_meets_the_images_is_fine(tiny: Path) -> None:
    # a t2w-grid mask whose label 1 sits at the same world place as the portal one
    mask = np.zeros((6, 6, 3), dtype=np.uint8)
    mask[1:3, 1:3, 0:2] = 1
    mask[4:6, 4:6, 0:2] = 2
    save_image(Image(mask, T2W_AFFINE), tiny / "masks/c1/lesions.nii.gz")
    relist(tiny)
    assert validate_dataset(tiny) == []


def test_liver_mask_outside_the_images(tiny: Path) -> None:
    far = PORTAL_AFFINE.copy()
    far[:3, 3] -= [400.0, 0.0, 0.0]
    save_image(Image(np.ones((8, 8, 4), np.uint8), far), tiny / "masks/c1/liver.nii.gz")
    relist(tiny)
    assert found(validate_dataset(tiny)) == [("masks/c1/liver.nii.gz", "no-overlap")] * 2


def test_lesion_whose_label_has_no_voxel(tiny: Path) -> None:
    save_image(Image(lesion_mask((1,)), PORTAL_AFFINE), tiny / "masks/c1/lesions.nii.gz")
    relist(tiny)
    problems = validate_dataset(tiny)
    assert found(problems) == [("masks/c1/lesions.nii.gz", "empty-label")]
    assert "'c1-2'" in problems[0].message and "mask_label 2" in problems[0].message


def test_mask_label_that_no_lesion_claims(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t[t["lesion_id"] != "c1-2"])
    problems = validate_dataset(tiny)
    assert found(problems) == [("masks/c1/lesions.nii.gz", "unclaimed-label")]
    assert "label 2" in problems[0].message


def test_lesion_mask_with_fractional_values(tiny: Path) -> None:
    save_image(Image(lesion_mask((1, 2)) * np.float32(0.5), PORTAL_AFFINE), tiny / "masks/c1/lesions.nii.gz")
    relist(tiny)
    assert found(validate_dataset(tiny)) == [("masks/c1/lesions.nii.gz", "non-integer-mask")]


def test_sequence_own_delineation_is_checked_against_its_lesions(tiny: Path) -> None:
    save_image(Image(np.zeros((6, 6, 3), np.uint8), T2W_AFFINE), tiny / "masks/c1/lesions_t2w.nii.gz")
    relist(tiny, add=["masks/c1/lesions_t2w.nii.gz"])
    problems = validate_dataset(tiny)
    assert found(problems) == [("masks/c1/lesions_t2w.nii.gz", "empty-label")] * 2


# --- Checksums and listing ---


def test_file_whose_sha256_differs_from_dataset_json(tiny: Path) -> None:
    save_image(Image(np.zeros((8, 8, 4), np.uint8), PORTAL_AFFINE), tiny / "masks/c1/liver.nii.gz")
    problems = validate_dataset(tiny)
    assert found(problems) == [("masks/c1/liver.nii.gz", "checksum-mismatch")]
    assert hashlib.sha256((tiny / "masks/c1/liver.nii.gz").read_bytes()).hexdigest() in problems[0].message


def test_archive_catalog_and_logs_are_not_unlisted_files(tiny: Path) -> None:
    (tiny / "catalog.sqlite").write_bytes(b"SQLite format 3\x00")
    (tiny / "log").mkdir()
    (tiny / "log" / "ingest-0a1b.txt").write_text("3 series converted")
    (tiny / "logbook.txt").write_text("not an archive file")
    assert found(validate_dataset(tiny)) == [("logbook.txt", "unlisted-file")]


def test_file_on_disk_not_listed_in_dataset_json(tiny: Path) -> None:
    (tiny / "notes.txt").write_text("scanner swapped in March")
    assert found(validate_dataset(tiny)) == [("notes.txt", "unlisted-file")]


# --- All at once ---


def write_sha256sums(root: Path) -> None:
    """Write a release's SHA256SUMS (sha256sum's format) over every file but itself."""
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(root).as_posix()}"
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "SHA256SUMS"
    ]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def test_release_sha256sums_is_an_index_not_an_unlisted_file(tiny: Path) -> None:
    write_sha256sums(tiny)
    assert validate_dataset(tiny) == []


def test_file_changed_after_sha256sums_was_written(tiny: Path) -> None:
    write_sha256sums(tiny)
    (tiny / "cases.csv").write_text((tiny / "cases.csv").read_text() + "\n")
    relist(tiny)  # dataset.json agrees with the new bytes; SHA256SUMS does not (of either file)
    assert sorted(found(validate_dataset(tiny))) == [
        ("cases.csv", "checksum-mismatch"),
        ("dataset.json", "checksum-mismatch"),
    ]


def test_several_problems_are_all_reported_together(tiny: Path) -> None:
    edit_table(tiny, "lesions.csv", lambda t: t.assign(diagnosis=["hcc", "hem", "hepatoma", "fnh"]))
    (tiny / "images/c2/t2w.nii.gz").unlink()
    (tiny / "images/c1/portal.nii.gz").write_bytes(b"garbage")
    (tiny / "notes.txt").write_text("x")
    assert sorted(found(validate_dataset(tiny))) == [
        ("images/c1/portal.nii.gz", "checksum-mismatch"),
        ("images/c1/portal.nii.gz", "unreadable-image"),
        ("images/c2/t2w.nii.gz", "missing-file"),
        ("lesions.csv", "unknown-diagnosis"),
        ("notes.txt", "unlisted-file"),
    ]


def test_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    assert found(validate_dataset(tmp_path / "nowhere")) == [("", "missing-file")]


def test_format_problems_gives_one_line_per_problem_and_a_count() -> None:
    problems = [
        Problem("notes.txt", "unlisted-file", "notes.txt is on disk but not listed in dataset.json"),
        Problem("cases.csv", "missing-file", "cases.csv is absent"),
    ]
    assert format_problems(problems) == (
        "unlisted-file: notes.txt is on disk but not listed in dataset.json\n"
        "missing-file: cases.csv is absent\n"
        "2 problems found."
    )
    assert format_problems([]) == "No problems found."
