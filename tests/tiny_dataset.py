"""A tiny Dataset folder (three cases, two sequences on different grids) for the data and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lai.data import Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath, write_index
from lai.imaging import Image, save_image

PORTAL_AFFINE = np.array(
    [[1.5, 0.0, 0.0, -6.0], [0.0, 1.5, 0.0, -6.0], [0.0, 0.0, 3.0, -6.0], [0.0, 0.0, 0.0, 1.0]]
)
"""8x8x4 voxels of 1.5 x 1.5 x 3 mm: the world box -6.75..5.25 mm in x and y, -7.5..4.5 mm in z."""

T2W_AFFINE = np.array(
    [[2.0, 0.0, 0.0, -5.0], [0.0, 2.0, 0.0, -5.0], [0.0, 0.0, 4.0, -4.0], [0.0, 0.0, 0.0, 1.0]]
)
"""6x6x3 voxels of 2 x 2 x 4 mm, offset from the portal grid: masks must meet it in world space."""

CASES = pd.DataFrame(
    {
        "case_id": ["c1", "c2", "c3"],
        "patient_id": ["p1", "p1", "p2"],
        "centre": ["A", "A", "B"],
        "study_date": ["2020-01-05", "2020-07-11", "2021-03-02"],
        "vendor": ["Siemens", "Siemens", "GE"],
        "field_strength": [1.5, 1.5, 3.0],
    }
)

LESIONS = pd.DataFrame(
    {
        "lesion_id": ["c1-1", "c1-2", "c2-1", "c3-1"],
        "case_id": ["c1", "c1", "c2", "c3"],
        "mask_label": [1, 2, 1, 1],
        "diagnosis": ["hcc", "hem", "hcc", "fnh"],
        "malignant": [True, False, True, False],
        "reference_standard": ["histology", "imaging", "histology", "imaging"],
        "diameter_mm": [4.5, 3.0, 4.5, 6.0],
    }
)


def lesion_mask(labels: tuple[int, ...]) -> np.ndarray:
    """An 8x8x4 portal-grid label map: label 1 a 2x2x2 cube at voxel (1, 1, 1), label 2 one at (5, 5, 1)."""
    mask = np.zeros((8, 8, 4), dtype=np.uint8)
    if 1 in labels:
        mask[1:3, 1:3, 1:3] = 1
    if 2 in labels:
        mask[5:7, 5:7, 1:3] = 2
    return mask


def write_tiny_dataset(root: Path) -> Dataset:
    """Write a valid three-case, two-patient Dataset: portal and t2w images, lesion masks, a liver mask."""
    files: dict[str, str] = {}

    def save(array: np.ndarray, affine: np.ndarray, rel: str) -> None:
        files[rel] = save_image(Image(array, affine), root / rel)

    labels_of = {"c1": (1, 2), "c2": (1,), "c3": (1,)}
    for number, (case_id, labels) in enumerate(labels_of.items()):
        portal = np.arange(8 * 8 * 4, dtype=np.float32).reshape(8, 8, 4) + 100 * number
        save(portal, PORTAL_AFFINE, image_relpath(case_id, "portal"))
        save(np.full((6, 6, 3), 50 + number, dtype=np.int16), T2W_AFFINE, image_relpath(case_id, "t2w"))
        save(lesion_mask(labels), PORTAL_AFFINE, lesion_mask_relpath(case_id))
    save(np.ones((8, 8, 4), dtype=np.uint8), PORTAL_AFFINE, liver_mask_relpath("c1"))
    return write_index(
        root,
        name="tiny",
        cases=CASES,
        lesions=LESIONS,
        files=files,
        description="three cases for tests",
        splits={"train": ["c1", "c2"], "test": ["c3"]},
    )
