"""Measure a cohort's lesion-to-liver signal ratios per sequence: the check that lesion types look right.

For each lesion and sequence the lesion mask (drawn on the portal grid) is resampled to the sequence's
grid in world coordinates, and the lesion's mean intensity is divided by the mean intensity of the liver
minus all lesions. ``describe_cohort`` summarises the ratios per (diagnosis, sequence) so they can be set
beside the directions of domain/liver_lesions.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lai.data.dataset import Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath
from lai.data.taxonomy import SEQUENCES
from lai.imaging import Image, load_image, resample_labels


@dataclass(frozen=True)
class _CaseTask:
    root: str
    case_id: str
    labels: tuple[int, ...]


def _case_ratios(task: _CaseTask) -> list[dict[str, object]]:
    """Return one row per lesion of a case: ``mask_label`` and the ratio on every sequence present."""
    root = Path(task.root)
    lesions = load_image(root / lesion_mask_relpath(task.case_id))
    liver = load_image(root / liver_mask_relpath(task.case_id))
    low, high = _world_box(liver)
    rows: dict[int, dict[str, object]] = {
        label: {"case_id": task.case_id, "mask_label": label} for label in task.labels
    }
    for sequence in SEQUENCES:
        path = root / image_relpath(task.case_id, sequence)
        if not path.is_file():
            continue
        image = _crop(load_image(path), low, high)
        labels = resample_labels(lesions, image.grid).array
        background = (resample_labels(liver, image.grid).array > 0) & (labels == 0)
        if not background.any():
            continue
        values = image.array.astype(np.float64)
        liver_mean = float(values[background].mean())
        if liver_mean <= 0:
            continue
        for label in task.labels:
            inside = labels == label
            if inside.any():
                rows[label][sequence] = float(values[inside].mean()) / liver_mean
    return list(rows.values())


def _world_box(mask: Image) -> tuple[np.ndarray, np.ndarray]:
    """Return the world corners of the box around a mask's foreground (whole grid when empty)."""
    index = np.argwhere(mask.array > 0)
    if index.size == 0:
        return mask.grid.world_bounds()
    corners = np.array([index.min(axis=0) - 0.5, index.max(axis=0) + 0.5])
    world = corners @ mask.affine[:3, :3].T + mask.affine[:3, 3]
    return world.min(axis=0), world.max(axis=0)


def _crop(image: Image, low: np.ndarray, high: np.ndarray, margin: float = 10.0) -> Image:
    """Return the part of an image inside a world box (plus ``margin`` mm), with its affine moved to match."""
    inverse = np.linalg.inv(image.affine)
    corners = np.array(
        [[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])]
    )
    corners = np.concatenate([corners - margin, corners + margin])
    index = corners @ inverse[:3, :3].T + inverse[:3, 3]
    start = np.clip(np.floor(index.min(axis=0)).astype(int), 0, np.asarray(image.shape))
    stop = np.clip(np.ceil(index.max(axis=0)).astype(int) + 1, 0, np.asarray(image.shape))
    affine = image.affine.copy()
    affine[:3, 3] = image.affine[:3, :3] @ start + image.affine[:3, 3]
    box = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
    return Image(image.array[box], affine)


def lesion_ratios(dataset: Dataset, *, scheduler: str | None = None) -> pd.DataFrame:
    """Return one row per lesion (lesions.csv columns plus one lesion-to-liver ratio column per sequence)."""
    from lai.compute import map_tasks

    tasks = [
        _CaseTask(str(dataset.root), str(case_id), tuple(int(v) for v in group["mask_label"]))
        for case_id, group in dataset.lesions.groupby("case_id", sort=False)
    ]
    results = map_tasks(_case_ratios, tasks, description="Measuring lesion ratios", scheduler=scheduler)
    ratios = pd.DataFrame([row for rows in results for row in rows])
    lesions = dataset.lesions.copy()
    lesions["case_id"] = lesions["case_id"].astype(str)
    return lesions.merge(ratios, on=["case_id", "mask_label"], how="left")


def describe_cohort(dataset: Dataset, *, scheduler: str | None = None) -> pd.DataFrame:
    """Return one row per (diagnosis, sequence): n, median, q1 and q3 of the lesion-to-liver mean-intensity ratio.

    Examples
    --------
    >>> table = describe_cohort(Dataset.read("cohort"))          # doctest: +SKIP
    >>> table.query("sequence == 't2w'")                         # doctest: +SKIP
    """
    return summarise_ratios(lesion_ratios(dataset, scheduler=scheduler))


def summarise_ratios(ratios: pd.DataFrame) -> pd.DataFrame:
    """Return the per-(diagnosis, sequence) n, median, q1, q3 of a ``lesion_ratios`` table."""
    present = [s for s in SEQUENCES if s in ratios.columns]
    long = ratios.melt(
        id_vars=["diagnosis"], value_vars=present, var_name="sequence", value_name="ratio"
    ).dropna()
    grouped = long.groupby(["diagnosis", "sequence"], sort=False)["ratio"]
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "median": grouped.median(),
            "q1": grouped.quantile(0.25),
            "q3": grouped.quantile(0.75),
        }
    ).reset_index()
    order = {s: i for i, s in enumerate(SEQUENCES)}
    table["_order"] = table["sequence"].map(order)
    return table.sort_values(["diagnosis", "_order"]).drop(columns="_order").reset_index(drop=True)
