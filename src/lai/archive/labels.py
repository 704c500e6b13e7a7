"""Import lesion labels and masks into an archive, validated against the catalog and the taxonomy.

A label sheet (CSV) has one row per lesion: ``case_id`` (or ``series``, a series key of the catalog),
``mask_label``, ``diagnosis`` (a code of :data:`lai.data.DIAGNOSES`), ``reference_standard`` (one of
:data:`REFERENCE_STANDARDS`), and optionally ``lesion_id``, ``malignant`` (must agree with the diagnosis)
and ``diameter_mm``. Masks come from a folder holding one file per case, ``<case_id>.nii.gz`` (or
``.nii``, ``.nrrd``, or ``.dcm`` for a DICOM SEG): an integer label map whose values are the sheet's
``mask_label``s. Every problem is reported with the file, the row and what is wrong, and nothing is
written unless the whole sheet is valid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lai.archive.catalog import Catalog, Label, Lesion, Series, Study, open_catalog, write_dataset_index
from lai.data import DIAGNOSES, LESION_COLUMNS, REFERENCE_SEQUENCE, lesion_mask_relpath, liver_mask_relpath
from lai.data.dataset import parse_malignant, parse_mask_label
from lai.files import write_bytes_atomic
from lai.imaging import Image, ImageError, load_image, save_image

REFERENCE_STANDARDS: tuple[str, ...] = ("histology", "imaging follow-up", "typical imaging")
"""How a diagnosis was established, from strongest to weakest."""

MASK_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".dcm")
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class LabelError(ValueError):
    """A label sheet or mask that cannot be imported; the message lists every problem found."""


@dataclass(frozen=True)
class LabelImport:
    """What an import wrote: lesions per case and the masks written."""

    lesions: int
    cases: tuple[str, ...]
    masks: tuple[str, ...]


def import_labels(
    archive: str | os.PathLike[str],
    sheet: str | os.PathLike[str],
    *,
    masks: str | os.PathLike[str] | None = None,
    liver_masks: str | os.PathLike[str] | None = None,
    db: str | None = None,
) -> LabelImport:
    """Validate a label sheet (and masks) against the catalog, then write them into the archive.

    Lesions already in the archive with the same ``lesion_id`` are replaced; others are kept.

    Parameters
    ----------
    archive
        The archive folder.
    sheet
        The label sheet (CSV), one row per lesion.
    masks
        Folder of lesion label maps, one per case of the sheet (``<case_id>.nii.gz``, ``.nrrd``, ``.dcm``).
    liver_masks
        Folder of liver masks named the same way, for the cases of the sheet that have one (voxels > 0
        are liver); written to ``masks/<case_id>/liver.nii.gz``.
    db
        Catalog URL (default: the archive's SQLite).

    Raises
    ------
    LabelError
        Listing every problem, each naming the file, the row and what is wrong.

    Examples
    --------
    >>> import_labels("archive", "lesions.csv", masks="masks/")   # doctest: +SKIP
    """
    archive, sheet = Path(archive), Path(sheet)
    with open_catalog(archive, db) as catalog:
        rows = read_sheet(sheet, catalog)
        by_case: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_case.setdefault(row["case_id"], []).append(row)
        written: list[str] = []
        mask_images: dict[str, Image] = {}
        if masks is not None:
            mask_images = _read_masks(archive, Path(masks), by_case)
        livers = _read_liver_masks(archive, Path(liver_masks), by_case) if liver_masks is not None else {}
        for case_id, image in sorted(mask_images.items()):
            save_image(
                Image(image.array.astype(np.uint16), image.affine), archive / lesion_mask_relpath(case_id)
            )
            written.append(lesion_mask_relpath(case_id))
        for case_id, image in sorted(livers.items()):
            save_image(
                Image((image.array > 0).astype(np.uint8), image.affine), archive / liver_mask_relpath(case_id)
            )
            written.append(liver_mask_relpath(case_id))
        _store(catalog, rows, sheet.name)
        _write_lesions_csv(archive, rows)
        write_dataset_index(archive, catalog, changed_cases=set(by_case))
    return LabelImport(len(rows), tuple(sorted(by_case)), tuple(written))


# --- The sheet ---


def read_sheet(sheet: Path, catalog: Catalog) -> list[dict[str, Any]]:
    """Return the sheet's rows as clean dicts; raise ``LabelError`` listing every problem."""
    if not sheet.is_file():
        msg = f"{sheet}: no such file"
        raise LabelError(msg)
    try:
        table = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        msg = f"{sheet}: cannot parse CSV ({error})"
        raise LabelError(msg) from None
    missing = [c for c in ("mask_label", "diagnosis", "reference_standard") if c not in table.columns]
    if "case_id" not in table.columns and "series" not in table.columns:
        missing.append("case_id (or series)")
    if missing:
        msg = f"{sheet}: missing column(s) {', '.join(missing)}"
        raise LabelError(msg)
    with catalog.session() as session:
        cases = set(session.scalars(sa.select(Study.case_id)))
        query = sa.select(Series.series_key, Study.case_id).join(Study, Series.study_id == Study.id)
        series_case = {str(key): str(case) for key, case in session.execute(query)}
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(table.to_dict("records"), start=2):  # row 1 is the header
        where = f"{sheet} row {index}"
        row, errors = _clean_row(raw, cases, series_case)
        problems.extend(f"{where}: {e}" for e in errors)
        if errors:
            continue
        if row["lesion_id"] in seen:
            problems.append(f"{where}: lesion_id {row['lesion_id']!r} repeats row {seen[row['lesion_id']]}")
            continue
        seen[row["lesion_id"]] = index
        rows.append(row)
    labels_per_case: dict[tuple[str, int], int] = {}
    for row, index in zip(rows, seen.values(), strict=True):
        key = (row["case_id"], row["mask_label"])
        if key in labels_per_case:
            problems.append(
                f"{sheet} row {index}: mask_label {row['mask_label']} of case {row['case_id']!r} "
                f"is already used by row {labels_per_case[key]}"
            )
        labels_per_case[key] = index
    if problems:
        raise LabelError("\n".join(problems))
    return rows


def _clean_row(
    raw: Mapping[Any, Any], cases: set[str], series_case: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    case_id = raw.get("case_id", "").strip()
    series = raw.get("series", "").strip()
    if series:
        if series not in series_case:
            errors.append(f"series {series!r} is not in the catalog")
        elif case_id and series_case[series] != case_id:
            errors.append(f"series {series!r} belongs to case {series_case[series]!r}, not {case_id!r}")
        else:
            case_id = series_case[series]
    if not case_id and not series:
        errors.append("no case_id or series")
    elif case_id and case_id not in cases:
        errors.append(f"case_id {case_id!r} is not in the catalog")
    diagnosis = raw.get("diagnosis", "").strip().lower()
    if diagnosis not in DIAGNOSES:
        errors.append(f"diagnosis {diagnosis!r} is not in the taxonomy ({', '.join(DIAGNOSES)})")
    standard = raw.get("reference_standard", "").strip().lower()
    if standard not in REFERENCE_STANDARDS:
        errors.append(f"reference_standard {standard!r}: expected one of {', '.join(REFERENCE_STANDARDS)}")
    mask_label = 0
    try:
        mask_label = parse_mask_label(raw.get("mask_label"))
    except ValueError as error:
        errors.append(str(error))
    malignant = None
    try:
        malignant = parse_malignant(raw.get("malignant"))
    except ValueError as error:
        errors.append(str(error))
    if diagnosis in DIAGNOSES and malignant is not None and malignant != DIAGNOSES[diagnosis].malignant:
        errors.append(f"malignant {malignant} contradicts diagnosis {diagnosis!r}")
    diameter = None
    if raw.get("diameter_mm", "").strip():
        try:
            diameter = float(raw["diameter_mm"])
        except ValueError:
            errors.append(f"diameter_mm {raw['diameter_mm']!r} is not a number")
        else:
            if not diameter > 0:
                errors.append(f"diameter_mm {diameter} must be positive")
    lesion_id = raw.get("lesion_id", "").strip() or f"{case_id}-L{mask_label}"
    row = {
        "lesion_id": lesion_id,
        "case_id": case_id,
        "mask_label": mask_label,
        "diagnosis": diagnosis,
        "malignant": DIAGNOSES[diagnosis].malignant if diagnosis in DIAGNOSES else None,
        "reference_standard": standard,
        "diameter_mm": diameter,
    }
    return row, errors


# --- Masks ---


def read_mask(path: Path) -> Image:
    """Read an integer label map from NIfTI, NRRD or DICOM SEG (segment numbers become labels)."""
    if path.name.lower().endswith(".dcm"):
        return _read_seg(path)
    image = load_image(path)
    array = image.array
    if not np.all(np.equal(np.mod(array, 1), 0)) or array.min() < 0:
        msg = f"{path}: a lesion mask must hold non-negative integer labels"
        raise LabelError(msg)
    return Image(array.astype(np.int64), image.affine)


def _read_seg(path: Path) -> Image:
    import highdicom

    try:
        seg = highdicom.seg.segread(path)
        volume = seg.get_volume(combine_segments=True, relabel=False)
    except Exception as error:  # highdicom raises many types for files that are not a usable SEG
        msg = f"{path}: cannot read DICOM SEG ({type(error).__name__}: {error})"
        raise LabelError(msg) from None
    # highdicom gives the volume's affine in the patient (LPS) frame; LAI's world is RAS
    array = np.asarray(volume.array)
    if array.ndim == 4:
        array = array[..., 0]
    return Image(array.astype(np.int64), _LPS_TO_RAS @ np.asarray(volume.affine, dtype=np.float64))


def find_mask(folder: Path, case_id: str) -> Path | None:
    """Return the mask file of a case in ``folder`` (``<case_id>`` with a known suffix), if any."""
    for suffix in MASK_SUFFIXES:
        path = folder / f"{case_id}{suffix}"
        if path.is_file():
            return path
    return None


def _read_masks(archive: Path, folder: Path, by_case: dict[str, list[dict[str, Any]]]) -> dict[str, Image]:
    if not folder.is_dir():
        msg = f"{folder}: no such mask folder"
        raise LabelError(msg)
    problems: list[str] = []
    images: dict[str, Image] = {}
    for case_id, rows in sorted(by_case.items()):
        path = find_mask(folder, case_id)
        if path is None:
            problems.append(f"{folder}: no mask for case {case_id!r} ({case_id}.nii.gz, .nrrd or .dcm)")
            continue
        try:
            mask = read_mask(path)
        except (LabelError, ImageError) as error:
            problems.append(str(error))
            continue
        present = {int(v) for v in np.unique(mask.array) if v != 0}
        wanted = {int(r["mask_label"]) for r in rows}
        for label in sorted(wanted - present):
            problems.append(f"{path}: mask_label {label} of the sheet is not in the mask")
        for label in sorted(present - wanted):
            problems.append(f"{path}: label {label} in the mask has no row in the sheet")
        reference = reference_image(archive, case_id)
        if reference is None:
            problems.append(f"{path}: case {case_id!r} has no image in the archive to check the mask against")
        elif not inside_fraction(mask, reference.grid.world_bounds()) > 0:
            problems.append(f"{path}: the mask does not overlap the case's image in world space")
        images[case_id] = mask
    if problems:
        raise LabelError("\n".join(problems))
    return images


def _read_liver_masks(
    archive: Path, folder: Path, by_case: dict[str, list[dict[str, Any]]]
) -> dict[str, Image]:
    if not folder.is_dir():
        msg = f"{folder}: no such liver mask folder"
        raise LabelError(msg)
    problems: list[str] = []
    images: dict[str, Image] = {}
    for case_id in sorted(by_case):
        path = find_mask(folder, case_id)
        if path is None:
            continue  # a liver mask is optional
        try:
            liver = read_mask(path)
        except (LabelError, ImageError) as error:
            problems.append(str(error))
            continue
        reference = reference_image(archive, case_id)
        if not liver.array.any():
            problems.append(f"{path}: the liver mask is empty")
        elif reference is not None and not inside_fraction(liver, reference.grid.world_bounds()) > 0:
            problems.append(f"{path}: the liver mask does not overlap the case's image in world space")
        images[case_id] = liver
    if problems:
        raise LabelError("\n".join(problems))
    return images


def reference_image(archive: Path, case_id: str) -> Image | None:
    """Return the image masks are drawn on: the reference sequence, else the first canonical image."""
    folder = archive / "images" / case_id
    preferred = folder / f"{REFERENCE_SEQUENCE}.nii.gz"
    paths = [preferred] if preferred.is_file() else sorted(folder.glob("*.nii.gz"))
    return load_image(paths[0]) if paths else None


def inside_fraction(mask: Image, bounds: tuple[np.ndarray, np.ndarray], label: int | None = None) -> float:
    """Return the fraction of a mask's labelled voxels (or of one label's) whose centres lie within ``bounds``."""
    selected = mask.array != 0 if label is None else mask.array == label
    voxels = np.argwhere(selected)
    if len(voxels) == 0:
        return 0.0
    world = voxels @ mask.affine[:3, :3].T + mask.affine[:3, 3]
    low, high = bounds
    inside = np.all((world >= low - 1e-3) & (world <= high + 1e-3), axis=1)
    return float(inside.mean())


# --- Writing ---


def _store(catalog: Catalog, rows: list[dict[str, Any]], source: str) -> None:
    with catalog.session() as session, session.begin():
        studies = {s.case_id: s for s in session.scalars(sa.select(Study))}
        for row in rows:
            lesion = session.scalar(sa.select(Lesion).where(Lesion.lesion_id == row["lesion_id"]))
            if lesion is None:
                lesion = Lesion(lesion_id=row["lesion_id"], study=studies[row["case_id"]])
                session.add(lesion)
            lesion.study = studies[row["case_id"]]
            lesion.mask_label = row["mask_label"]
            lesion.diameter_mm = row["diameter_mm"]
            if lesion.label is None:
                lesion.label = Label(diagnosis=row["diagnosis"], malignant=row["malignant"])
            lesion.label.diagnosis = row["diagnosis"]
            lesion.label.malignant = bool(row["malignant"])
            lesion.label.reference_standard = row["reference_standard"]
            lesion.label.source = source


def _write_lesions_csv(archive: Path, rows: list[dict[str, Any]]) -> None:
    """Merge the rows into the archive's lesions.csv (same lesion_id replaced)."""
    path = archive / "lesions.csv"
    new = pd.DataFrame(rows, columns=list(LESION_COLUMNS))
    if path.is_file():
        old = pd.read_csv(path, dtype={"lesion_id": str, "case_id": str})
        old = old[~old["lesion_id"].isin(new["lesion_id"])]
        new = pd.concat([old, new], ignore_index=True) if len(old) else new
    new = new.sort_values(["case_id", "mask_label"], kind="stable").reset_index(drop=True)
    write_bytes_atomic(path, new.to_csv(index=False, lineterminator="\n").encode("utf-8"))
