"""The Dataset folder of DESIGN.md: the contract between stages.

::

    <dataset>/
      dataset.json    name, version, description, licence, sequences, label schema, centres, sha256 of every file
      cases.csv       case_id, patient_id, centre, study_date, field_strength, vendor, ...
      lesions.csv     lesion_id, case_id, mask_label, diagnosis, malignant, reference_standard, diameter_mm, ...
      images/<case_id>/<sequence>.nii.gz
      masks/<case_id>/lesions.nii.gz             integer label map, one label per lesion
      masks/<case_id>/liver.nii.gz               optional
      masks/<case_id>/lesions_<sequence>.nii.gz  optional per-sequence delineation
      splits.json     optional named splits of case ids
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lai import __version__
from lai.data.taxonomy import DIAGNOSES, SEQUENCES
from lai.files import sha256_bytes, write_bytes_atomic, write_json_atomic

CASE_COLUMNS: tuple[str, ...] = ("case_id", "patient_id", "centre", "study_date")
"""Columns every cases.csv has; more (vendor, field_strength, ...) may follow."""

LESION_COLUMNS: tuple[str, ...] = (
    "lesion_id",
    "case_id",
    "mask_label",
    "diagnosis",
    "malignant",
    "reference_standard",
    "diameter_mm",
)
"""Columns every lesions.csv has; a public test release leaves the label columns empty."""

FORMAT_VERSION = "1"


class DatasetError(ValueError):
    """A Dataset folder that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Lesion:
    """One lesion: its id, its label value in the case's lesion mask, and its labels (may be unknown)."""

    lesion_id: str
    case_id: str
    mask_label: int
    diagnosis: str | None
    malignant: bool | None
    diameter_mm: float | None = None


@dataclass(frozen=True)
class Case:
    """One MRI exam of one patient at one centre, with its lesions and the sequences on disk."""

    case_id: str
    patient_id: str
    centre: str
    sequences: tuple[str, ...]
    lesions: tuple[Lesion, ...] = field(default_factory=tuple)


# --- Paths inside a dataset folder ---


def image_relpath(case_id: str, sequence: str) -> str:
    """Relative path of a case's image for one sequence."""
    return f"images/{case_id}/{sequence}.nii.gz"


def lesion_mask_relpath(case_id: str, sequence: str | None = None) -> str:
    """Relative path of a case's lesion label map (the common one, or a sequence's own delineation)."""
    name = "lesions.nii.gz" if sequence is None else f"lesions_{sequence}.nii.gz"
    return f"masks/{case_id}/{name}"


def liver_mask_relpath(case_id: str) -> str:
    """Relative path of a case's liver mask."""
    return f"masks/{case_id}/liver.nii.gz"


class Dataset:
    """A Dataset folder read from disk: its metadata, cases and lesions tables, and file paths.

    Examples
    --------
    >>> ds = Dataset.read("cohort")                       # doctest: +SKIP
    >>> for case in ds.iter_cases():                      # doctest: +SKIP
    ...     image = load_image(ds.image_path(case.case_id, "portal"))
    """

    def __init__(self, root: Path, meta: dict[str, Any], cases: pd.DataFrame, lesions: pd.DataFrame):
        self.root = root
        self.meta = meta
        self.cases = cases
        self.lesions = lesions

    # --- Reading ---

    @classmethod
    def read(cls, root: str | os.PathLike[str]) -> Dataset:
        """Read dataset.json, cases.csv and lesions.csv; raise ``DatasetError`` naming a missing or bad file."""
        root = Path(root)
        meta_path = root / "dataset.json"
        if not meta_path.is_file():
            msg = f"{meta_path}: missing (not a LAI Dataset folder?)"
            raise DatasetError(msg)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            msg = f"{meta_path}: not valid JSON ({error})"
            raise DatasetError(msg) from error
        if not isinstance(meta, dict):
            msg = f"{meta_path}: expected a JSON object, found {type(meta).__name__}"
            raise DatasetError(msg)
        cases = read_table(root / "cases.csv", CASE_COLUMNS)
        lesions = read_table(root / "lesions.csv", LESION_COLUMNS)
        return cls(root, meta, cases, lesions)

    @property
    def name(self) -> str:
        """The dataset's name from dataset.json."""
        return str(self.meta.get("name", self.root.name))

    @property
    def files(self) -> dict[str, str]:
        """Relative path -> sha256 of every file listed in dataset.json."""
        return dict(self.meta.get("files", {}))

    def image_path(self, case_id: str, sequence: str) -> Path:
        """Path of a case's image for one sequence (it may not exist)."""
        return self.root / image_relpath(case_id, sequence)

    def lesion_mask_path(self, case_id: str, sequence: str | None = None) -> Path:
        """Path of the lesion mask for ``sequence``: its own delineation if present, else the common one."""
        if sequence is not None:
            own = self.root / lesion_mask_relpath(case_id, sequence)
            if own.is_file():
                return own
        return self.root / lesion_mask_relpath(case_id)

    def liver_mask_path(self, case_id: str) -> Path | None:
        """Path of a case's liver mask, or ``None`` when the dataset has none for this case."""
        path = self.root / liver_mask_relpath(case_id)
        return path if path.is_file() else None

    def sequences_of(self, case_id: str) -> tuple[str, ...]:
        """Sequences with an image on disk for this case, in canonical order."""
        folder = self.root / "images" / case_id
        return tuple(s for s in SEQUENCES if (folder / f"{s}.nii.gz").is_file())

    def iter_cases(self) -> Iterator[Case]:
        """Yield every case in cases.csv order with its lesions."""
        by_case: dict[str, list[Lesion]] = {}
        for lesion_row in self.lesions.to_dict("records"):
            lesion = _lesion_from_row(lesion_row)
            by_case.setdefault(lesion.case_id, []).append(lesion)
        for row in self.cases.to_dict("records"):
            case_id = str(row["case_id"])
            yield Case(
                case_id=case_id,
                patient_id=str(row["patient_id"]),
                centre=str(row["centre"]),
                sequences=self.sequences_of(case_id),
                lesions=tuple(by_case.get(case_id, [])),
            )

    def splits(self) -> dict[str, list[str]]:
        """Named splits of case ids from splits.json (empty when the file is absent)."""
        path = self.root / "splits.json"
        if not path.is_file():
            return {}
        try:
            splits = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            msg = f"{path}: not valid JSON ({error})"
            raise DatasetError(msg) from error
        if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
            msg = f"{path}: expected an object mapping split names to lists of case ids"
            raise DatasetError(msg)
        return {str(k): [str(i) for i in v] for k, v in splits.items()}


def read_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """Read a dataset CSV with ids as strings; raise ``DatasetError`` naming missing columns."""
    if not path.is_file():
        msg = f"{path}: missing"
        raise DatasetError(msg)
    try:
        table = pd.read_csv(path, dtype={"case_id": str, "patient_id": str, "lesion_id": str, "centre": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        msg = f"{path}: cannot parse CSV ({error})"
        raise DatasetError(msg) from error
    missing = [c for c in required if c not in table.columns]
    if missing:
        msg = f"{path}: missing column(s) {', '.join(missing)}"
        raise DatasetError(msg)
    return table


_FLAGS = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def parse_malignant(value: Any) -> bool | None:
    """Return a lesions.csv ``malignant`` cell as a bool, or None when empty; raise ``ValueError`` otherwise.

    ``True``/``False`` in any case and ``1``/``0`` are accepted, so a flag read as text is never taken as
    true merely for being a non-empty string.
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if value is None or pd.isna(value) or str(value).strip() == "":
        return None
    try:
        return _FLAGS[str(value).strip().lower()]
    except KeyError:
        msg = f"malignant {value!r}: expected true or false"
        raise ValueError(msg) from None


def parse_mask_label(value: Any) -> int:
    """Return a lesions.csv ``mask_label`` cell as a positive int; raise ``ValueError`` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (number.is_integer() and number > 0):
        msg = f"mask_label {value!r}: expected a positive integer"
        raise ValueError(msg)
    return int(number)


def _lesion_from_row(row: Mapping[Any, Any]) -> Lesion:
    diagnosis = row.get("diagnosis")
    diameter = row.get("diameter_mm")
    try:
        mask_label = parse_mask_label(row["mask_label"])
        malignant = parse_malignant(row.get("malignant"))
    except ValueError as error:
        msg = f"lesions.csv: lesion {row['lesion_id']!r}: {error}"
        raise DatasetError(msg) from None
    return Lesion(
        lesion_id=str(row["lesion_id"]),
        case_id=str(row["case_id"]),
        mask_label=mask_label,
        diagnosis=None if pd.isna(diagnosis) else str(diagnosis),
        malignant=malignant,
        diameter_mm=None if diameter is None or pd.isna(diameter) else float(diameter),
    )


# --- Writing ---


def write_index(
    root: str | os.PathLike[str],
    *,
    name: str,
    cases: pd.DataFrame,
    lesions: pd.DataFrame,
    files: Mapping[str, str],
    version: str = "1.0.0",
    description: str = "",
    licence: str = "CC-BY-4.0",
    centres: Sequence[Mapping[str, Any]] = (),
    splits: Mapping[str, Sequence[str]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Dataset:
    """Write cases.csv, lesions.csv, splits.json and, last, dataset.json with the sha256 of every file.

    ``files`` maps the relative paths of images and masks already written (by ``write_case_files``) to
    their sha256. dataset.json is written last, so a folder with a dataset.json is complete.
    """
    root = Path(root)
    missing_cases = [c for c in CASE_COLUMNS if c not in cases.columns]
    missing_lesions = [c for c in LESION_COLUMNS if c not in lesions.columns]
    if missing_cases or missing_lesions:
        msg = f"write_index: cases lack {missing_cases}, lesions lack {missing_lesions}"
        raise DatasetError(msg)
    hashes = dict(files)
    for rel, table in (("cases.csv", cases), ("lesions.csv", lesions)):
        buffer = io.StringIO()
        table.to_csv(buffer, index=False, lineterminator="\n")
        data = buffer.getvalue().encode("utf-8")
        write_bytes_atomic(root / rel, data)
        hashes[rel] = sha256_bytes(data)
    if splits is not None:
        data = (json.dumps({k: list(v) for k, v in splits.items()}, indent=2) + "\n").encode("utf-8")
        write_bytes_atomic(root / "splits.json", data)
        hashes["splits.json"] = sha256_bytes(data)
    present = sorted(
        {s for rel in hashes if rel.startswith("images/") for s in [Path(rel).name[: -len(".nii.gz")]]}
    )
    meta = {
        "format": FORMAT_VERSION,
        "name": name,
        "version": version,
        "description": description,
        "licence": licence,
        "sequences": [s for s in SEQUENCES if s in present],
        "labels": {
            "diagnosis": {code: {"name": d.name, "malignant": d.malignant} for code, d in DIAGNOSES.items()},
            "mask": "integer label map, one label per lesion (lesions.csv mask_label); 0 is background",
        },
        "centres": [dict(c) for c in centres],
        "provenance": {"lai_version": __version__, **dict(provenance or {})},
        "files": dict(sorted(hashes.items())),
    }
    write_json_atomic(root / "dataset.json", meta)
    return Dataset(root, meta, cases.reset_index(drop=True), lesions.reset_index(drop=True))
