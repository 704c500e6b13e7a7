"""Features of every lesion on every sequence of a Dataset, as a FeatureTable, one cached task per case."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lai.compute import map_tasks, task_key
from lai.data.dataset import Case, Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath
from lai.data.feature_table import ID_COLUMNS, LABEL_COLUMNS, FeatureTable
from lai.data.taxonomy import SEQUENCES
from lai.files import sha256_file
from lai.imaging import Image, load_image
from lai.radiomics.extract import (
    FEATURE_REVISION,
    RadiomicsError,
    RadiomicsWarning,
    feature_names,
    features_on_grid,
    labels_on_grid,
)
from lai.radiomics.liver import (
    context_features,
    enhancement_features,
    liver_feature_columns,
    sequence_features,
)
from lai.radiomics.normalisation import liver_reference
from lai.radiomics.settings import load_settings, settings_for, settings_hash

EXTRA_COLUMNS: tuple[str, ...] = ("diameter_mm",)
"""Lesion columns carried into the table for reports (not features, not labels)."""


def kinetics_column(sequence: str) -> str:
    """Return the name of a sequence's lesion-to-liver ratio column (``kinetics:<sequence>_...``)."""
    return f"kinetics:{sequence}_lesion_to_liver_ratio"


def feature_columns(
    sequences: Sequence[str], settings: Mapping[str, Any], *, liver_features: bool = True
) -> list[str]:
    """Return the feature columns ``extract_dataset`` writes for ``sequences`` and complete ``settings``.

    In table order: ``<sequence>:<name>`` for every name of ``extract.feature_names`` of the sequence's
    settings (``settings.settings_for``: its ``sequences`` entry, else the common settings), then the
    lesion-to-liver ratios, then (with ``liver_features``) the ``kinetics:`` and ``context:`` columns.
    """
    per_sequence = [
        f"{sequence}:{name}"
        for sequence in sequences
        for name in feature_names(settings_for(settings, sequence))
    ]
    columns = per_sequence + [kinetics_column(sequence) for sequence in sequences]
    return columns + liver_feature_columns(sequences) if liver_features else columns


@dataclass(frozen=True)
class CaseTask:
    """Everything one worker needs to extract one case: paths, lesion labels and settings (picklable)."""

    root: str
    case_id: str
    sequences: tuple[str, ...]
    lesions: tuple[tuple[str, int], ...]
    settings: Mapping[str, Any]
    liver_features: bool = True


@dataclass(frozen=True)
class CaseFeatures:
    """One case's result: lesion id -> {column: value}, and one text per lesion and sequence with a problem."""

    rows: dict[str, dict[str, float]]
    problems: tuple[str, ...] = ()


def extract_dataset(
    dataset: Dataset,
    *,
    settings: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    sequences: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
    liver_features: bool = True,
) -> FeatureTable:
    """Return a FeatureTable with one row per lesion and the features of every lesion on every sequence.

    One task per case goes through ``lai.compute.map_tasks``; its key hashes the case's files (sha256
    from dataset.json), its lesions and the settings, so a rerun with a ``cache_dir`` is served from
    the cache. A sequence a case lacks leaves that lesion's columns for it NaN.

    A lesion that cannot be measured on a sequence (no voxel on its grid, non-finite intensities, no
    liver reference, a family that fails or is undefined, as for a one-voxel lesion) gets NaN for the
    affected features and one ``RadiomicsWarning`` naming the lesion id, the sequence and the problems;
    the run goes on. Warnings are raised here, after the tasks, so cached cases warn too.

    Parameters
    ----------
    dataset
        The Dataset to extract.
    settings
        A mapping, preset name or YAML path (see ``lai.radiomics.settings``); default preset ``liver_mri``.
    sequences
        Sequences to extract (default: every sequence of the dataset), in canonical order in the table.
    cache_dir
        Folder of the result cache; ``None`` caches nothing.
    scheduler
        ``"processes"``, ``"sync"`` or a Dask address (see ``lai.compute.map_tasks``).
    liver_features
        Also compute the liver-specific ``kinetics:`` and ``context:`` features of ``lai.radiomics.liver``
        (wash-in, washout, rim to core, peritumoral ring, T2, ADC, lesion count, size rank, volume
        fraction); see docs/features.md.
    """
    config = load_settings(settings)
    chosen = _chosen_sequences(dataset, sequences)
    cases = [case for case in dataset.iter_cases() if case.lesions]
    tasks = [
        CaseTask(
            root=str(dataset.root),
            case_id=case.case_id,
            sequences=tuple(s for s in chosen if s in case.sequences),
            lesions=tuple((lesion.lesion_id, lesion.mask_label) for lesion in case.lesions),
            settings=config,
            liver_features=liver_features,
        )
        for case in cases
    ]
    keys = [
        task_key(
            "lai.radiomics.extract_case",
            FEATURE_REVISION,
            _case_file_hashes(dataset, task),
            task.case_id,
            task.sequences,
            task.lesions,
            task.settings,
            task.liver_features,
        )
        for task in tasks
    ]
    results = map_tasks(
        extract_case,
        tasks,
        keys=keys,
        cache_dir=cache_dir,
        description=f"Radiomics on {dataset.name}",
        scheduler=scheduler,
    )
    for result in results:
        for problem in result.problems:
            warnings.warn(problem, RadiomicsWarning, stacklevel=2)
    frame = _assemble(cases, [result.rows for result in results], chosen, config, liver_features)
    return FeatureTable(frame, _metadata(dataset, config, chosen, liver_features))


def extract_case(task: CaseTask) -> CaseFeatures:
    """Return the features of one case: every lesion on every sequence it has, and their problems.

    Each sequence's image is read once; the lesion mask (the sequence's own, else the common one) and
    the liver mask are resampled onto it in world coordinates. With ``task.liver_features`` the
    liver-specific features of ``lai.radiomics.liver`` are added, their context (count, size rank,
    volume fraction) on the portal grid, else on the common lesion mask's own grid. Problems do not
    raise: the features they affect are NaN and ``CaseFeatures.problems`` says which (see
    ``extract_dataset``).
    """
    root = Path(task.root)
    common_mask = load_image(root / lesion_mask_relpath(task.case_id))
    liver_path = root / liver_mask_relpath(task.case_id)
    liver_mask = load_image(liver_path) if liver_path.is_file() else None
    rows: dict[str, dict[str, float]] = {lesion_id: {} for lesion_id, _ in task.lesions}
    id_of = {label: lesion_id for lesion_id, label in task.lesions}
    context_grid: tuple[np.ndarray, np.ndarray | None] | None = None
    problems: list[str] = []
    for sequence in task.sequences:
        image_path = root / image_relpath(task.case_id, sequence)
        own_path = root / lesion_mask_relpath(task.case_id, sequence)
        mask_path = own_path if own_path.is_file() else root / lesion_mask_relpath(task.case_id)
        mask = load_image(own_path) if own_path.is_file() else common_mask
        image = load_image(image_path)
        settings = settings_for(task.settings, sequence)
        source = f"image {image_path}, mask {mask_path}"
        labels = labels_on_grid(mask, image.grid, source=source)
        liver = None
        if liver_mask is not None:
            liver = labels_on_grid(liver_mask, image.grid, source=f"{source}, liver {liver_path}") > 0
        reference, where = 0.0, ""
        references: dict[int, float] = {}
        present = set(np.flatnonzero(np.bincount(labels.ravel())).tolist())
        for lesion_id, label in task.lesions:
            found: list[str] = []
            if label not in present:
                # a small lesion can fall between the samples of a coarse grid (6 mm DWI): no value, not a crash
                found.append(f"label {label} has no voxel on this sequence's grid")
            else:
                if where != "liver_mask":  # a liver-mask median serves every lesion; a ring is per lesion
                    try:
                        reference, where = _reference(
                            image.array, labels, label, image.spacing, liver, settings, source
                        )
                    except RadiomicsError as error:
                        found.append(f"no liver reference: {error}")
                        reference, where = float("nan"), ""
                references[label] = reference
                normaliser = reference if settings["normalise"] == "liver" else None
                features = features_on_grid(
                    image,
                    labels,
                    label,
                    settings,
                    normaliser=normaliser,
                    source=source,
                    on_problem=found.append,
                )
                row = rows[lesion_id]
                row.update({f"{sequence}:{name}": value for name, value in features.items()})
                mean = np.mean(image.array[labels == label], dtype=np.float64)
                with np.errstate(all="ignore"):  # a zero or NaN reference gives inf or NaN, not an error
                    row[kinetics_column(sequence)] = float(mean / reference)
            if found:
                problems.append(
                    f"Lesion {lesion_id}, sequence {sequence}: {'; '.join(found)}; those features are NaN "
                    f"({source})"
                )
        if task.liver_features:
            by_label = sequence_features(sequence, image.array, labels, references, image.spacing, liver)
            for label, values in by_label.items():
                rows[id_of[label]].update(values)
            if sequence == "portal":
                context_grid = (labels, liver)
    if task.liver_features:
        _add_liver_context(task, rows, context_grid, common_mask, liver_mask)
    return CaseFeatures(rows, tuple(problems))


def _add_liver_context(
    task: CaseTask,
    rows: Mapping[str, dict[str, float]],
    context_grid: tuple[np.ndarray, np.ndarray | None] | None,
    common_mask: Image,
    liver_mask: Image | None,
) -> None:
    if context_grid is None:  # no portal phase: the lesion mask's own grid
        labels = np.asarray(common_mask.array).astype(np.int64, copy=False)
        liver = None
        if liver_mask is not None:
            source = f"case {task.case_id}, liver mask onto the lesion mask"
            liver = labels_on_grid(liver_mask, common_mask.grid, source=source) > 0
        context_grid = (labels, liver)
    labels, liver = context_grid
    by_label = context_features(labels, [label for _, label in task.lesions], liver)
    for lesion_id, label in task.lesions:
        row = rows[lesion_id]
        row.update(by_label[label])
        ratios = {sequence: row.get(kinetics_column(sequence), float("nan")) for sequence in task.sequences}
        row.update(enhancement_features(ratios))


def _reference(
    intensities: np.ndarray,
    labels: np.ndarray,
    label: int,
    spacing: tuple[float, float, float],
    liver: np.ndarray | None,
    settings: Mapping[str, Any],
    source: str,
) -> tuple[float, str]:
    try:
        return liver_reference(intensities, labels, label, spacing, liver=liver, ring_mm=settings["ring_mm"])
    except ValueError as error:
        msg = f"{error} ({source})"
        raise RadiomicsError(msg) from error


def _chosen_sequences(dataset: Dataset, sequences: Sequence[str] | None) -> list[str]:
    if sequences is None:
        listed = dataset.meta.get("sequences") or sorted(
            {s for c in dataset.iter_cases() for s in c.sequences}
        )
        return [s for s in SEQUENCES if s in listed]
    unknown = [s for s in sequences if s not in SEQUENCES]
    if unknown:
        msg = f"Unknown sequence name(s) {unknown}; canonical names: {list(SEQUENCES)}"
        raise ValueError(msg)
    return [s for s in SEQUENCES if s in sequences]


def _case_file_hashes(dataset: Dataset, task: CaseTask) -> dict[str, str]:
    listed = dataset.files
    relpaths = [lesion_mask_relpath(task.case_id), liver_mask_relpath(task.case_id)]
    for sequence in task.sequences:
        relpaths += [image_relpath(task.case_id, sequence), lesion_mask_relpath(task.case_id, sequence)]
    hashes = {}
    for rel in relpaths:
        path = dataset.root / rel
        if path.is_file():
            hashes[rel] = listed.get(rel) or sha256_file(path)
    return hashes


def _assemble(
    cases: Sequence[Case],
    results: Sequence[Mapping[str, Mapping[str, float]]],
    sequences: Sequence[str],
    settings: Mapping[str, Any],
    liver_features: bool,
) -> pd.DataFrame:
    records = []
    for case, by_lesion in zip(cases, results, strict=True):
        for lesion in case.lesions:
            records.append(
                {
                    "lesion_id": lesion.lesion_id,
                    "case_id": case.case_id,
                    "patient_id": case.patient_id,
                    "centre": case.centre,
                    "diagnosis": lesion.diagnosis,
                    "malignant": lesion.malignant,
                    "diameter_mm": lesion.diameter_mm,
                    **by_lesion[lesion.lesion_id],
                }
            )
    features = feature_columns(sequences, settings, liver_features=liver_features)
    columns = [*ID_COLUMNS, *LABEL_COLUMNS, *EXTRA_COLUMNS, *features]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame[features] = frame[features].astype(np.float64)
    return frame


def _metadata(
    dataset: Dataset, settings: Mapping[str, Any], sequences: Sequence[str], liver_features: bool
) -> dict[str, Any]:
    files = json.dumps(dataset.files, sort_keys=True).encode("utf-8")
    return {
        "extractor": "lai.radiomics.extract_dataset",
        "settings": dict(settings),
        "settings_hash": settings_hash(settings),
        "sequences": list(sequences),
        "liver_features": liver_features,
        "dataset": {
            "name": dataset.name,
            "version": str(dataset.meta.get("version", "")),
            "files_sha256": hashlib.sha256(files).hexdigest(),
        },
    }
