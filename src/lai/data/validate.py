"""Validation of a Dataset folder: every problem at once, each naming its file and what is wrong.

Images and masks are checked through their NIfTI headers (nibabel, no pixel load) for readability and
world extent; only lesion masks are loaded in full, because their labels must be compared with
lesions.csv. This module imports nothing of ``lai.imaging``, so ``lai.data`` stays below it.

Examples
--------
>>> problems = validate_dataset("cohort")         # doctest: +SKIP
>>> print(format_problems(problems))              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from lai.data.dataset import (
    CASE_COLUMNS,
    LESION_COLUMNS,
    DatasetError,
    image_relpath,
    lesion_mask_relpath,
    liver_mask_relpath,
    parse_malignant,
    parse_mask_label,
    read_table,
)
from lai.data.taxonomy import DIAGNOSES, SEQUENCES
from lai.files import sha256_file

PROBLEM_CODES: dict[str, str] = {
    "missing-file": "a required file, a file listed in dataset.json, a case's images or its lesion mask is absent",
    "invalid-json": "dataset.json or splits.json is not valid JSON of the expected shape",
    "unparseable-table": "cases.csv or lesions.csv cannot be parsed as CSV",
    "missing-column": "cases.csv or lesions.csv lacks a required column",
    "missing-value": "a required id (case_id, patient_id, lesion_id, mask_label) is empty",
    "invalid-value": "mask_label is not a positive integer, or malignant is not true/false",
    "duplicate-case": "a case_id appears more than once in cases.csv",
    "duplicate-lesion": "a lesion_id appears more than once in lesions.csv",
    "unknown-case": "a lesion, a case id in splits.json or an image or mask folder names a case not in cases.csv",
    "split-leak": "one patient's cases are in more than one split of splits.json",
    "unknown-diagnosis": "a diagnosis code is not in the taxonomy",
    "inconsistent-malignant": "the malignant flag contradicts the diagnosis",
    "unknown-sequence": "an image is named for no canonical sequence",
    "unreadable-image": "an image or mask cannot be opened as a 3D NIfTI file",
    "non-integer-mask": "a lesion mask holds values that are not integers",
    "no-overlap": "a mask's world extent does not meet an image of its case",
    "empty-label": "a lesion's mask_label has no voxel in its case's lesion mask",
    "unclaimed-label": "a lesion mask holds a label that no lesion of the case claims",
    "checksum-mismatch": "a file's sha256 differs from the one in dataset.json",
    "unlisted-file": "a file in the folder is not listed in dataset.json",
}
"""Every problem code ``validate_dataset`` reports, with its meaning (docs/dataset.md explains each)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a Dataset folder.

    Parameters
    ----------
    path
        The file concerned, relative to the dataset root (POSIX separators); ``""`` for the folder itself.
    code
        A stable key from ``PROBLEM_CODES`` (``"missing-file"``, ``"checksum-mismatch"``, ...).
    message
        What is wrong, for a person.
    """

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validate_dataset(root: str | os.PathLike[str]) -> list[Problem]:
    """Return every problem found in the Dataset folder at ``root`` (empty when it is valid).

    Checks go on past any problem: a missing cases.csv still lets the files and their checksums be
    checked, an unreadable image still lets the other images be checked.

    Parameters
    ----------
    root
        The Dataset folder (the one holding dataset.json).

    Returns
    -------
    list of Problem
        In a stable order: metadata, tables, cross-table checks, splits, images and masks, then files and
        checksums.
    """
    root = Path(root)
    if not root.is_dir():
        return [Problem("", "missing-file", f"{root}: no such folder")]
    problems: list[Problem] = []
    listed = _read_listed_files(root, problems)
    cases = _read_csv(root, "cases.csv", CASE_COLUMNS, problems)
    lesions = _read_csv(root, "lesions.csv", LESION_COLUMNS, problems)
    if cases is not None:
        problems += _check_cases(cases)
    if lesions is not None:
        problems += _check_lesions(lesions, cases)
    if (root / "splits.json").is_file():
        problems += _check_splits(root, cases)
    if cases is not None:
        case_ids = _unique_ids(cases["case_id"])
        for case_id in case_ids:
            case_lesions = None if lesions is None else lesions[lesions["case_id"] == case_id]
            problems += _check_case_files(root, case_id, case_lesions)
        problems += _check_orphan_folders(root, set(case_ids))
    if listed is not None:
        reported = {p.path for p in problems if p.code == "missing-file"}
        problems += _check_listed_files(root, listed, reported)
    return problems


def format_problems(problems: Sequence[Problem]) -> str:
    """Return the problems as text, one ``code: message`` line each (messages name their file), then a count."""
    if not problems:
        return "No problems found."
    lines = [str(problem) for problem in problems]
    lines.append(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.")
    return "\n".join(lines)


# --- Metadata and tables ---


def _read_listed_files(root: Path, problems: list[Problem]) -> dict[str, str] | None:
    """Return dataset.json's map of relative path -> sha256, or None after recording why it cannot."""
    path = root / "dataset.json"
    if not path.is_file():
        problems.append(Problem("dataset.json", "missing-file", "dataset.json is absent"))
        return None
    try:
        meta: Any = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problems.append(Problem("dataset.json", "invalid-json", f"dataset.json is not valid JSON ({error})"))
        return None
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        message = "dataset.json must be an object whose 'files' maps relative paths to sha256 strings"
        problems.append(Problem("dataset.json", "invalid-json", message))
        return None
    return files


def _read_csv(root: Path, name: str, required: Sequence[str], problems: list[Problem]) -> pd.DataFrame | None:
    """Return a dataset table with its required columns, or None after recording why it cannot."""
    path = root / name
    if not path.is_file():
        problems.append(Problem(name, "missing-file", f"{name} is absent"))
        return None
    try:
        table = read_table(path, ())
    except DatasetError as error:
        problems.append(Problem(name, "unparseable-table", str(error)))
        return None
    missing = [c for c in required if c not in table.columns]
    if missing:
        message = f"{name} lacks column(s) {', '.join(missing)} (found: {', '.join(map(str, table.columns))})"
        problems.append(Problem(name, "missing-column", message))
        return None
    return table


def _check_cases(cases: pd.DataFrame) -> list[Problem]:
    problems = _missing_values(cases, "cases.csv", ("case_id", "patient_id"))
    problems += _duplicates(cases, "cases.csv", "case_id", "duplicate-case")
    return problems


def _check_lesions(lesions: pd.DataFrame, cases: pd.DataFrame | None) -> list[Problem]:
    name = "lesions.csv"
    problems = _missing_values(lesions, name, ("lesion_id", "case_id", "mask_label"))
    problems += _duplicates(lesions, name, "lesion_id", "duplicate-lesion")
    known_cases = set(_unique_ids(cases["case_id"])) if cases is not None else None
    for index, row in lesions.iterrows():
        line = _line(index)
        lesion = f"{name}: lesion {row['lesion_id']!r} (line {line})"
        if known_cases is not None and _present(row["case_id"]) and row["case_id"] not in known_cases:
            message = f"{lesion} refers to case {row['case_id']!r}, which cases.csv does not list"
            problems.append(Problem(name, "unknown-case", message))
        if _present(row["mask_label"]) and _mask_label(row["mask_label"]) is None:
            message = f"{lesion} has mask_label {row['mask_label']!r}; expected a positive integer"
            problems.append(Problem(name, "invalid-value", message))
        try:
            malignant = parse_malignant(row["malignant"])
        except ValueError:
            malignant = None
            message = f"{lesion} has malignant {row['malignant']!r}; expected true or false"
            problems.append(Problem(name, "invalid-value", message))
        diagnosis = row["diagnosis"]
        if not _present(diagnosis):
            continue
        if diagnosis not in DIAGNOSES:
            message = f"{lesion} has diagnosis {diagnosis!r}; expected one of {', '.join(DIAGNOSES)}"
            problems.append(Problem(name, "unknown-diagnosis", message))
        elif malignant is not None and malignant != DIAGNOSES[diagnosis].malignant:
            expected = "malignant" if DIAGNOSES[diagnosis].malignant else "benign"
            message = f"{lesion} is {diagnosis!r}, which is {expected}, but has malignant={malignant}"
            problems.append(Problem(name, "inconsistent-malignant", message))
    return problems


def _check_splits(root: Path, cases: pd.DataFrame | None) -> list[Problem]:
    """Check splits.json: a map of split name to case ids, each a known case, no patient in two splits."""
    name = "splits.json"
    try:
        splits: Any = json.loads((root / name).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return [Problem(name, "invalid-json", f"{name} is not valid JSON ({error})")]
    if not isinstance(splits, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in splits.values()
    ):
        message = f"{name} must be an object mapping each split name to a list of case ids (strings)"
        return [Problem(name, "invalid-json", message)]
    if cases is None:
        return []
    patient_of = dict(zip(cases["case_id"].astype(str), cases["patient_id"], strict=True))
    problems = []
    splits_of_patient: dict[str, dict[str, list[str]]] = {}
    for split, case_ids in splits.items():
        for case_id in case_ids:
            if case_id not in patient_of:
                message = f"{name}: split {split!r} lists case {case_id!r}, which cases.csv does not list"
                problems.append(Problem(name, "unknown-case", message))
            elif _present(patient_of[case_id]):
                by_split = splits_of_patient.setdefault(str(patient_of[case_id]), {})
                by_split.setdefault(split, []).append(case_id)
    for patient, by_split in splits_of_patient.items():
        if len(by_split) > 1:
            where = "; ".join(f"{split}: {', '.join(ids)}" for split, ids in by_split.items())
            message = f"{name}: patient {patient!r} has cases in {len(by_split)} splits ({where})"
            problems.append(Problem(name, "split-leak", message))
    return problems


def _missing_values(table: pd.DataFrame, name: str, columns: Iterable[str]) -> list[Problem]:
    problems = []
    for column in columns:
        lines = [_line(i) for i in table.index[table[column].isna()]]
        if lines:
            message = f"{name}: {column} is empty on line(s) {', '.join(map(str, lines))}"
            problems.append(Problem(name, "missing-value", message))
    return problems


def _duplicates(table: pd.DataFrame, name: str, column: str, code: str) -> list[Problem]:
    problems = []
    ids = table[column].dropna()
    for value, rows in ids.groupby(ids).groups.items():
        if len(rows) > 1:
            lines = ", ".join(str(_line(i)) for i in rows)
            message = f"{name}: {column} {value!r} appears {len(rows)} times (lines {lines})"
            problems.append(Problem(name, code, message))
    return problems


def _line(index: Any) -> int:
    """Line number in the CSV file of a row index (line 1 is the header)."""
    return int(index) + 2


def _present(value: Any) -> bool:
    return not pd.isna(value)


def _unique_ids(column: pd.Series) -> list[str]:
    return [str(v) for v in column.dropna().unique()]


def _mask_label(value: Any) -> int | None:
    """Return a mask_label as a positive int, or None when it is empty or not one."""
    try:
        return parse_mask_label(value)
    except ValueError:
        return None


# --- Images and masks ---


def _check_case_files(root: Path, case_id: str, lesions: pd.DataFrame | None) -> list[Problem]:
    """Check a case's images and masks: readable, named for a sequence, meeting in world space, labels."""
    problems: list[Problem] = []
    images: dict[str, Any] = {}
    folder = root / "images" / case_id
    image_files = sorted(folder.glob("*.nii.gz")) if folder.is_dir() else []
    if not image_files:
        message = (
            f"images/{case_id}/: case {case_id!r} has no image (expected images/{case_id}/<sequence>.nii.gz)"
        )
        problems.append(Problem(f"images/{case_id}", "missing-file", message))
    for path in image_files:
        sequence = path.name[: -len(".nii.gz")]
        rel = image_relpath(case_id, sequence)
        if sequence not in SEQUENCES:
            message = f"{rel}: {sequence!r} is not a canonical sequence ({', '.join(SEQUENCES)})"
            problems.append(Problem(rel, "unknown-sequence", message))
        opened = _open_header(root, rel, problems)
        if opened is not None:
            images[sequence] = opened

    mask_folder = root / "masks" / case_id
    common = lesion_mask_relpath(case_id)
    if lesions is not None and not lesions.empty and not (root / common).is_file():
        message = f"{common}: absent, but case {case_id!r} has {len(lesions)} lesion(s) in lesions.csv"
        problems.append(Problem(common, "missing-file", message))
    lesion_masks = [common] + [
        lesion_mask_relpath(case_id, p.name[len("lesions_") : -len(".nii.gz")])
        for p in sorted(mask_folder.glob("lesions_*.nii.gz"))
    ]
    for rel in lesion_masks:
        if not (root / rel).is_file():
            continue
        mask = _open_header(root, rel, problems)
        if mask is None:
            continue
        own = Path(rel).name[len("lesions_") : -len(".nii.gz")] if rel != common else None
        targets = images if own is None else {k: v for k, v in images.items() if k == own}
        problems += _check_overlap(rel, mask, targets)
        if lesions is not None:
            problems += _check_labels(rel, mask, lesions)

    liver = liver_mask_relpath(case_id)
    if (root / liver).is_file():
        mask = _open_header(root, liver, problems)
        if mask is not None:
            problems += _check_overlap(liver, mask, images)
    return problems


def _check_orphan_folders(root: Path, case_ids: set[str]) -> list[Problem]:
    """Report image and mask folders named for a case that cases.csv does not list."""
    problems = []
    for kind in ("images", "masks"):
        folders = sorted(p for p in (root / kind).glob("*") if p.is_dir()) if (root / kind).is_dir() else []
        for folder in folders:
            if folder.name not in case_ids:
                rel = f"{kind}/{folder.name}"
                message = f"{rel}/: folder of case {folder.name!r}, which cases.csv does not list"
                problems.append(Problem(rel, "unknown-case", message))
    return problems


def _open_header(root: Path, rel: str, problems: list[Problem]) -> Any | None:
    """Return a 3D NIfTI image with only its header read, or None after recording why it cannot be."""
    try:
        image: Any = nib.load(root / rel)
    except Exception as error:  # nibabel and gzip raise many types; the user needs the file and the reason
        message = f"{rel}: cannot be opened as NIfTI ({type(error).__name__}: {error})"
        problems.append(Problem(rel, "unreadable-image", message))
        return None
    shape = image.shape
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
        message = f"{rel}: expected a 3D image, found shape {shape}"
        problems.append(Problem(rel, "unreadable-image", message))
        return None
    return image


def _world_bounds(shape: Sequence[int], affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (min, max) world corners of a grid, voxel edges included (as ``Grid.world_bounds``)."""
    corners = np.array(
        [
            [i, j, k]
            for i in (-0.5, shape[0] - 0.5)
            for j in (-0.5, shape[1] - 0.5)
            for k in (-0.5, shape[2] - 0.5)
        ]
    )
    world = corners @ affine[:3, :3].T + affine[:3, 3]
    return world.min(axis=0), world.max(axis=0)


def _check_overlap(rel: str, mask: Any, images: dict[str, Any]) -> list[Problem]:
    problems = []
    mask_low, mask_high = _world_bounds(mask.shape, mask.affine)
    for sequence, image in images.items():
        low, high = _world_bounds(image.shape, image.affine)
        if not (np.all(mask_low < high) and np.all(low < mask_high)):
            message = (
                f"{rel}: world extent {_box(mask_low, mask_high)} does not meet the "
                f"{sequence} image's {_box(low, high)} (check the affines)"
            )
            problems.append(Problem(rel, "no-overlap", message))
    return problems


def _box(low: np.ndarray, high: np.ndarray) -> str:
    return "[" + ", ".join(f"{a:.1f}..{b:.1f}" for a, b in zip(low, high, strict=True)) + "] mm"


def _check_labels(rel: str, mask: Any, lesions: pd.DataFrame) -> list[Problem]:
    """Compare a lesion mask's labels with the case's lesions: each lesion present, each label claimed."""
    try:
        data = np.asanyarray(mask.dataobj)
    except Exception as error:  # a truncated or corrupt payload fails only here, past the header
        message = f"{rel}: voxel data cannot be read ({type(error).__name__}: {error})"
        return [Problem(rel, "unreadable-image", message)]
    if not np.issubdtype(data.dtype, np.integer) and not np.all(np.mod(data, 1) == 0):
        message = f"{rel}: holds non-integer values (dtype {data.dtype}); a lesion mask is a label map"
        return [Problem(rel, "non-integer-mask", message)]
    present = {int(v) for v in np.unique(data)} - {0}
    claimed: set[int] = set()
    problems = []
    for _, row in lesions.iterrows():
        label = _mask_label(row["mask_label"])
        if label is None:
            continue
        claimed.add(label)
        if label not in present:
            message = f"{rel}: lesion {row['lesion_id']!r} has mask_label {label}, which has no voxel here"
            problems.append(Problem(rel, "empty-label", message))
    for label in sorted(present - claimed):
        message = f"{rel}: label {label} belongs to no lesion of this case in lesions.csv"
        problems.append(Problem(rel, "unclaimed-label", message))
    return problems


# --- Files and checksums ---

#: Index files that list the others and so are not listed themselves (``SHA256SUMS``: benchmark releases).
INDEX_FILES = frozenset({"dataset.json", "SHA256SUMS"})
#: An archive's own bookkeeping beside its Dataset files: the catalog database and the ingest logs.
ARCHIVE_FILES = ("catalog.sqlite", "catalog.sqlite-journal", "catalog.sqlite-wal", "catalog.sqlite-shm")
ARCHIVE_FOLDERS = ("log",)


def _check_listed_files(root: Path, listed: dict[str, str], reported: set[str]) -> list[Problem]:
    """Check that every listed file exists with its sha256, and that every file on disk is listed.

    A missing file already in ``reported`` (say, a lesion mask its case needs) is not reported twice.
    """
    problems = []
    for rel, expected in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            if rel not in reported:
                problems.append(Problem(rel, "missing-file", f"{rel} is listed in dataset.json but absent"))
            continue
        actual = sha256_file(path)
        if actual != expected.lower():
            message = f"{rel}: sha256 is {actual}, dataset.json says {expected}"
            problems.append(Problem(rel, "checksum-mismatch", message))
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        bookkeeping = rel in ARCHIVE_FILES or rel.split("/", 1)[0] in ARCHIVE_FOLDERS
        if path.is_file() and not hidden and not bookkeeping and rel not in INDEX_FILES and rel not in listed:
            problems.append(Problem(rel, "unlisted-file", f"{rel} is on disk but not listed in dataset.json"))
    if (root / "SHA256SUMS").is_file():
        problems.extend(_check_sha256sums(root))
    return problems


def _check_sha256sums(root: Path) -> list[Problem]:
    """Check a release's ``SHA256SUMS`` (``sha256sum`` format) against the files it lists."""
    problems = []
    for number, line in enumerate((root / "SHA256SUMS").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        rel = name.lstrip(" *")
        path = root / rel
        if len(digest) != 64 or not rel:
            message = f"SHA256SUMS line {number} is not '<sha256>  <path>'"
            problems.append(Problem("SHA256SUMS", "invalid-json", message))
        elif not path.is_file():
            problems.append(Problem(rel, "missing-file", f"{rel} is listed in SHA256SUMS but absent"))
        elif sha256_file(path) != digest.lower():
            message = f"{rel}: sha256 differs from SHA256SUMS line {number}"
            problems.append(Problem(rel, "checksum-mismatch", message))
    return problems
