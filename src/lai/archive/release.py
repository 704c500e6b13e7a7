"""Benchmark releases of an archive: a public Dataset without test labels and a private ground truth.

::

    DIR/public/     a Dataset folder (dataset.json, cases.csv, lesions.csv, images/, masks/) with
                    splits.json {"train": [...], "test": [...]}, lesions.csv whose label columns are
                    empty for test lesions, DATA_CARD.md, and SHA256SUMS for every public file
    DIR/private/    ground_truth.csv (lesion_id, case_id, patient_id, centre, diagnosis, malignant of the
                    test lesions) and ground_truth.json (name, version, sha256 of the csv, created)

The split is grouped by patient (no patient on both sides), stratified by diagnosis and by centre
(:func:`split_cases`: the test side keeps each diagnosis' and each centre's share of the lesions as
closely as whole patients allow), and deterministic for a seed. The public
folder's bytes depend only on the archive, the name, version, fraction and seed.
"""

from __future__ import annotations

import datetime
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lai.data import SEQUENCES, Dataset, DatasetError, write_index
from lai.files import sha256_bytes, sha256_file, write_bytes_atomic, write_json_atomic, write_text_atomic

LABEL_COLUMNS: tuple[str, ...] = ("diagnosis", "malignant", "reference_standard")
"""Columns emptied for test lesions (with every other column that is not in :data:`PUBLIC_LESION_COLUMNS`)."""

PUBLIC_LESION_COLUMNS: tuple[str, ...] = ("lesion_id", "case_id", "mask_label", "diameter_mm")
"""Lesion columns a test lesion keeps: what a participant needs to find the lesion, nothing about its label."""

GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "lesion_id",
    "case_id",
    "patient_id",
    "centre",
    "diagnosis",
    "malignant",
)


class ReleaseError(ValueError):
    """A release that cannot be made; the message names the file or the option at fault."""


@dataclass(frozen=True)
class Release:
    """Where a release was written and what it holds."""

    public: Path
    private: Path
    train_cases: tuple[str, ...]
    test_cases: tuple[str, ...]
    test_lesions: int


def make_release(
    archive: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    test_fraction: float = 0.2,
    seed: int = 0,
    created: str | None = None,
    scheduler: str | None = None,
) -> Release:
    """Write a benchmark release of an archive (a Dataset folder) into ``out``.

    Parameters
    ----------
    archive
        The archive or any Dataset folder with labelled lesions.
    out
        Folder to create; it must not exist (a release is never overwritten). It is built beside its
        final place and renamed into it, so an interrupted run leaves no half release.
    name, version
        The benchmark's name and version, written to dataset.json and ground_truth.json.
    test_fraction
        Share of the lesions (whole patients) in the test split.
    seed
        Seed of the split.
    created
        Timestamp recorded in ground_truth.json (ISO 8601); now (UTC) by default.
    scheduler
        Where the files are linked and hashed, one task per case (``lai.compute.map_tasks``).

    Returns
    -------
    Release
    """
    source = _read(archive)
    target = Path(out)
    if target.exists():
        msg = f"{target}: already exists; a release is never overwritten (choose a new --out)"
        raise ReleaseError(msg)
    if not 0.0 < test_fraction < 1.0:
        msg = f"--test-fraction must be strictly between 0 and 1, got {test_fraction}"
        raise ReleaseError(msg)
    train, test = split_cases(source, test_fraction=test_fraction, seed=seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        public, private = tmp / "public", tmp / "private"
        test_lesions = _write_public(
            source,
            public,
            name=name,
            version=version,
            train=train,
            test=test,
            seed=seed,
            test_fraction=test_fraction,
            scheduler=scheduler,
        )
        _write_private(source, private, name=name, version=version, test=test, created=created)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return Release(target / "public", target / "private", tuple(train), tuple(test), test_lesions)


def _read(archive: str | os.PathLike[str]) -> Dataset:
    try:
        source = Dataset.read(archive)
    except DatasetError as error:
        raise ReleaseError(str(error)) from error
    unknown = sorted(set(source.lesions["case_id"].astype(str)) - set(source.cases["case_id"].astype(str)))
    if unknown:
        msg = f"{source.root / 'lesions.csv'}: lesions of unknown case(s) {unknown[:5]}"
        raise ReleaseError(msg)
    return source


def split_cases(dataset: Dataset, *, test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Return (train case ids, test case ids): grouped by patient, stratified by diagnosis and by centre.

    Each lesion is one row (a case without lesions is one row with diagnosis ``none``). Patients are
    visited in an order shuffled by ``seed``, repeatedly until nothing changes; a patient moves to the
    other side when that brings the test side's lesion counts per diagnosis, per centre and in total
    closer to ``test_fraction`` of their totals (squared distance), so both the diagnosis mix and the
    centre mix are kept, as far as whole patients allow; swaps of a test and a train patient then
    improve the balance further. Ids are returned sorted.
    """
    cases = dataset.cases.astype({"case_id": str, "patient_id": str, "centre": str})
    lesions = dataset.lesions.astype({"case_id": str})
    rows = lesions[["case_id", "diagnosis"]].merge(cases[["case_id", "patient_id", "centre"]], on="case_id")
    empty = cases.loc[~cases["case_id"].isin(lesions["case_id"]), ["case_id", "patient_id", "centre"]]
    rows = pd.concat([rows, empty.assign(diagnosis="none")], ignore_index=True)
    rows["diagnosis"] = rows["diagnosis"].fillna("unlabelled").astype(str)
    patients, patient_of_row = np.unique(rows["patient_id"].to_numpy(), return_inverse=True)
    if len(patients) < 2:
        msg = f"{dataset.root}: {len(patients)} patient(s); a release needs at least 2"
        raise ReleaseError(msg)
    strata = [np.ones(len(rows), dtype=int)]
    for column in ("diagnosis", "centre"):
        _, codes = np.unique(rows[column].to_numpy(), return_inverse=True)
        strata.append(codes + 1 + max(s.max() for s in strata))
    counts = np.zeros((len(patients), max(s.max() for s in strata) + 1))
    for codes in strata:
        np.add.at(counts, (patient_of_row, codes), 1)
    target = test_fraction * counts.sum(axis=0)
    in_test = np.zeros(len(patients), dtype=bool)
    test_counts = np.zeros_like(target)
    order = np.random.default_rng(seed).permutation(len(patients))
    moved = True
    while moved:  # every move strictly lowers the distance to the target, so this ends
        moved = False
        for patient in order:
            candidate = test_counts + (-1.0 if in_test[patient] else 1.0) * counts[patient]
            if np.sum((candidate - target) ** 2) < np.sum((test_counts - target) ** 2):
                in_test[patient] = not in_test[patient]
                test_counts = candidate
                moved = True
    in_test = _improve_by_swaps(counts, in_test, target)
    if not in_test.any() or in_test.all():
        msg = f"{dataset.root}: no split of {len(patients)} patients puts about {test_fraction:.0%} of the lesions in test"
        raise ReleaseError(msg)
    test_patients = set(patients[in_test])
    test = sorted(set(cases.loc[cases["patient_id"].isin(test_patients), "case_id"]))
    train = sorted(set(cases["case_id"]) - set(test))
    return train, test


def _improve_by_swaps(counts: np.ndarray, in_test: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Swap a test patient with a train patient while that brings the test counts closer to the target.

    Single moves stop in local optima (a patient too large to move alone); the best swap for each test
    patient, in index order, is taken until no swap helps. Deterministic.
    """
    in_test = in_test.copy()
    test_counts = counts[in_test].sum(axis=0)
    improved = True
    while improved:
        improved = False
        for patient in np.flatnonzero(in_test):
            others = np.flatnonzero(~in_test)
            if not len(others):
                break
            candidates = test_counts - counts[patient] + counts[others]
            distances = np.sum((candidates - target) ** 2, axis=1)
            best = int(np.argmin(distances))
            if distances[best] < np.sum((test_counts - target) ** 2) - 1e-9:
                in_test[patient], in_test[others[best]] = False, True
                test_counts = candidates[best]
                improved = True
    return in_test


# --- Public part ---


def _write_public(
    source: Dataset,
    public: Path,
    *,
    name: str,
    version: str,
    train: Sequence[str],
    test: Sequence[str],
    seed: int,
    test_fraction: float,
    scheduler: str | None,
) -> int:
    from lai.compute import map_tasks

    tasks = [(str(source.root), str(public), case_id) for case_id in sorted([*train, *test])]
    files: dict[str, str] = {}
    for hashes in map_tasks(_release_case_files, tasks, description="Release files", scheduler=scheduler):
        files.update(hashes)
    cases = source.cases.astype({"case_id": str}).sort_values("case_id", kind="stable").reset_index(drop=True)
    lesions = _public_lesions(source.lesions, set(test))
    card = data_card(source, name=name, version=version, train=train, test=test).encode("utf-8")
    write_bytes_atomic(public / "DATA_CARD.md", card)
    files["DATA_CARD.md"] = sha256_bytes(card)
    write_index(
        public,
        name=name,
        cases=cases,
        lesions=lesions,
        files=files,
        version=version,
        description=f"Benchmark release {name} {version} of {source.name}: test labels withheld",
        licence=str(source.meta.get("licence", "CC-BY-4.0")),
        centres=source.meta.get("centres", []),
        splits={"train": list(train), "test": list(test)},
        provenance={
            "source": source.name,
            "split": {
                "test_fraction": test_fraction,
                "seed": seed,
                "grouped_by": "patient_id",
                "stratified_by": ["centre", "diagnosis"],
            },
        },
    )
    hashes = {
        **files,
        **{
            rel: sha256_file(public / rel)
            for rel in ("cases.csv", "lesions.csv", "splits.json", "dataset.json")
        },
    }
    on_disk = sorted(p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file())
    sums = "".join(f"{hashes.get(rel) or sha256_file(public / rel)}  {rel}\n" for rel in on_disk)
    write_text_atomic(public / "SHA256SUMS", sums)
    return int(lesions["case_id"].isin(set(test)).sum())


def _release_case_files(task: tuple[str, str, str]) -> dict[str, str]:
    """Link (or copy) one case's images and masks into the release; return relative path -> sha256.

    Files are hashed as released, not trusted from the archive's index.
    """
    source_root, public_root, case_id = (Path(task[0]), Path(task[1]), task[2])
    hashes = {}
    for folder in ("images", "masks"):
        directory = source_root / folder / case_id
        if not directory.is_dir():
            continue
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            rel = f"{folder}/{case_id}/{path.name}"
            _link_or_copy(path, public_root / rel)
            hashes[rel] = sha256_file(public_root / rel)
    return hashes


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link a file into the release when the file system allows it, else copy it.

    Archive files are only ever replaced by rename, never rewritten in place, so a link cannot change
    under the release.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _public_lesions(lesions: pd.DataFrame, test: set[str]) -> pd.DataFrame:
    """Return lesions.csv for the public side: every label-bearing column empty for test lesions."""
    public = lesions.astype({"case_id": str, "lesion_id": str}).sort_values(
        ["case_id", "lesion_id"], kind="stable"
    )
    public = public.reset_index(drop=True).astype(object)
    hidden = public["case_id"].isin(test)
    for column in public.columns:
        if column not in PUBLIC_LESION_COLUMNS:
            public.loc[hidden, column] = None
    return public


def data_card(source: Dataset, *, name: str, version: str, train: Sequence[str], test: Sequence[str]) -> str:
    """Return DATA_CARD.md: cases by centre, diagnosis (train only), vendor, field strength, sequences, gaps."""
    cases = source.cases.astype({"case_id": str, "patient_id": str, "centre": str}).copy()
    cases["split"] = cases["case_id"].map({**{c: "train" for c in train}, **{c: "test" for c in test}})
    lesions = source.lesions.astype({"case_id": str}).merge(
        cases[["case_id", "centre", "split"]], on="case_id"
    )
    lines = [
        f"# {name} {version}",
        "",
        f"Benchmark release of `{source.name}`: {len(cases)} cases of {cases['patient_id'].nunique()} patients "
        f"from {cases['centre'].nunique()} centres, {len(lesions)} lesions. Train: {len(train)} cases, "
        f"{int((lesions['split'] == 'train').sum())} lesions; test: {len(test)} cases, "
        f"{int((lesions['split'] == 'test').sum())} lesions, labels withheld (scored by the portal).",
        "",
        "The split is grouped by patient (no patient has cases on both sides) and stratified by centre and "
        "diagnosis. In archives made by `lai ingest`, dates are shifted per patient and identifiers are "
        "pseudonyms (DICOM PS3.15 Annex E).",
        "",
        "## Cases by centre",
        "",
        _table(pd.crosstab(cases["centre"], cases["split"]).reindex(columns=["train", "test"], fill_value=0)),
        "## Lesions by diagnosis (train split; test labels are withheld)",
        "",
        _table(
            pd.crosstab(
                lesions.loc[lesions["split"] == "train", "diagnosis"].fillna("(missing)"),
                lesions.loc[lesions["split"] == "train", "centre"],
            )
        ),
    ]
    for column, title in (("vendor", "Cases by vendor"), ("field_strength", "Cases by field strength (T)")):
        if column in cases.columns:
            counts = pd.crosstab(cases[column].astype(str), cases["split"])
            lines += [f"## {title}", "", _table(counts.reindex(columns=["train", "test"], fill_value=0))]
    available = pd.DataFrame(
        [
            {
                "sequence": s,
                "cases": sum(
                    (source.root / "images" / c / f"{s}.nii.gz").is_file() for c in cases["case_id"]
                ),
            }
            for s in SEQUENCES
        ]
    )
    available["missing"] = len(cases) - available["cases"]
    lines += ["## Available sequences", "", _table(available.set_index("sequence"))]
    gaps = [
        {"table": table_name, "column": column, "empty": int(table[column].isna().sum())}
        for table_name, table in (
            ("cases.csv", source.cases),
            ("lesions.csv (train)", lesions[lesions["split"] == "train"]),
        )
        for column in table.columns
        if column not in ("split",) and table[column].isna().any()
    ]
    lines += ["## Missing data", ""]
    lines += [
        _table(pd.DataFrame(gaps).set_index("table"))
        if gaps
        else "No empty values in cases.csv or the train lesions.\n"
    ]
    lines += [
        "## Files",
        "",
        "`SHA256SUMS` lists the sha256 of every public file (check with `sha256sum -c SHA256SUMS`).",
        "",
    ]
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    """Return a DataFrame as a Markdown table (index first), followed by a blank line."""
    index_name = frame.index.name or ""
    header = [str(index_name), *map(str, frame.columns)]
    rows = [[str(i), *(str(v) for v in row)] for i, row in zip(frame.index, frame.to_numpy(), strict=True)]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


# --- Private part ---


def _write_private(
    source: Dataset, private: Path, *, name: str, version: str, test: Sequence[str], created: str | None
) -> None:
    cases = source.cases.astype({"case_id": str, "patient_id": str, "centre": str})
    lesions = source.lesions.astype({"case_id": str, "lesion_id": str})
    truth = lesions[lesions["case_id"].isin(set(test))].merge(
        cases[["case_id", "patient_id", "centre"]], on="case_id"
    )
    truth = truth[list(GROUND_TRUTH_COLUMNS)].sort_values(["case_id", "lesion_id"], kind="stable")
    missing = truth["diagnosis"].isna() | truth["malignant"].isna()
    if missing.any():
        msg = (
            f"{source.root / 'lesions.csv'}: test lesion(s) {truth.loc[missing, 'lesion_id'].tolist()[:5]} have no "
            "diagnosis or malignant flag; the ground truth must be complete"
        )
        raise ReleaseError(msg)
    buffer = io.StringIO()
    truth.to_csv(buffer, index=False, lineterminator="\n")
    data = buffer.getvalue().encode("utf-8")
    write_bytes_atomic(private / "ground_truth.csv", data)
    stamp = created or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    write_json_atomic(
        private / "ground_truth.json",
        {
            "name": name,
            "version": version,
            "sha256": sha256_bytes(data),
            "created": stamp,
            "lesions": len(truth),
        },
    )
