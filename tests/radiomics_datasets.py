"""Small Datasets of ball-shaped lesions on two grids, for the radiomics table and extraction tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lai.data import Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath, write_index
from lai.imaging import Image, save_image

PORTAL_AFFINE = np.array(
    [[1.5, 0.0, 0.0, -36.0], [0.0, 1.5, 0.0, -36.0], [0.0, 0.0, 3.0, -30.0], [0.0, 0.0, 0.0, 1.0]]
)
"""48 x 48 x 20 voxels of 1.5 x 1.5 x 3 mm: x, y from -36 to 34.5 mm, z from -30 to 27 mm."""

T2W_AFFINE = np.array(
    [[2.0, 0.0, 0.0, -34.7], [0.0, 2.0, 0.0, -35.3], [0.0, 0.0, 4.0, -29.1], [0.0, 0.0, 0.0, 1.0]]
)
"""36 x 36 x 15 voxels of 2 x 2 x 4 mm, offset from the portal grid."""

LIVER = {"portal": 100.0, "t2w": 50.0}
BALLS = {  # label: (centre mm, radius mm, intensity / liver)
    1: ((-15.0, 0.0, 0.0), 7.0, 1.5),
    2: ((16.0, 3.0, 0.0), 5.0, 0.8),
}
SHELL_MM = 4.0
"""Each lesion's intensity fills its ball grown by this margin, so a mask voxel resampled by nearest
neighbour onto the other grid (off by at most half a portal voxel diagonal, 2.3 mm) still sees it."""

CASES = pd.DataFrame(
    {
        "case_id": ["c1", "c2", "c3"],
        "patient_id": ["p1", "p1", "p2"],
        "centre": ["A", "A", "B"],
        "study_date": ["2020-01-05", "2020-07-11", "2021-03-02"],
    }
)
LESIONS = pd.DataFrame(
    {
        "lesion_id": ["c1-1", "c1-2", "c2-1", "c3-1"],
        "case_id": ["c1", "c1", "c2", "c3"],
        "mask_label": [1, 2, 1, 1],
        "diagnosis": ["hcc", "hem", "met", "fnh"],
        "malignant": [True, False, True, False],
        "reference_standard": ["histology", "imaging", "histology", "imaging"],
        "diameter_mm": [14.0, 10.0, 14.0, 14.0],
    }
)
LABELS = {"c1": (1, 2), "c2": (1,), "c3": (1,)}
SEQUENCES_OF = {"c1": ("t2w", "portal"), "c2": ("t2w", "portal"), "c3": ("portal",)}


def world_of(affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1).astype(float)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def in_ball(world: np.ndarray, label: int, margin: float = 0.0) -> np.ndarray:
    centre, radius, _ = BALLS[label]
    return np.linalg.norm(world - centre, axis=-1) <= radius + margin


def sequence_image(
    sequence: str, affine: np.ndarray, shape: tuple[int, int, int], labels: tuple[int, ...]
) -> Image:
    world = world_of(affine, shape)
    array = np.full(shape, LIVER[sequence])
    for label in labels:
        array[in_ball(world, label, SHELL_MM)] = LIVER[sequence] * BALLS[label][2]
    return Image(array.astype(np.float32), affine)


def write_dataset(root: Path) -> Dataset:
    files: dict[str, str] = {}
    portal_shape, t2w_shape = (48, 48, 20), (36, 36, 15)
    portal_world = world_of(PORTAL_AFFINE, portal_shape)
    for case_id, labels in LABELS.items():
        mask = np.zeros(portal_shape, dtype=np.uint8)
        for label in labels:
            mask[in_ball(portal_world, label)] = label
        files[lesion_mask_relpath(case_id)] = save_image(
            Image(mask, PORTAL_AFFINE), root / lesion_mask_relpath(case_id)
        )
        for sequence in SEQUENCES_OF[case_id]:
            affine, shape = (PORTAL_AFFINE, portal_shape) if sequence == "portal" else (T2W_AFFINE, t2w_shape)
            rel = image_relpath(case_id, sequence)
            files[rel] = save_image(sequence_image(sequence, affine, shape, labels), root / rel)
    liver = np.ones(portal_shape, dtype=np.uint8)
    files[liver_mask_relpath("c1")] = save_image(Image(liver, PORTAL_AFFINE), root / liver_mask_relpath("c1"))
    return write_index(root, name="tiny-radiomics", cases=CASES, lesions=LESIONS, files=files)


def write_awkward_dataset(root: Path) -> Dataset:
    """One case: a normal lesion (1), a one-voxel lesion (2), NaNs inside lesion 3, lesion 4 absent from the mask."""
    shape = (48, 48, 20)
    world = world_of(PORTAL_AFFINE, shape)
    mask = np.zeros(shape, dtype=np.uint8)
    mask[in_ball(world, 1)] = 1
    mask[40, 40, 10] = 2
    mask[np.linalg.norm(world - (5.0, -25.0, 0.0), axis=-1) <= 5.0] = 3
    array = np.full(shape, LIVER["portal"])
    array[in_ball(world, 1, 4.0)] = LIVER["portal"] * BALLS[1][2]
    array[mask == 3] = np.nan
    files = {
        lesion_mask_relpath("c1"): save_image(Image(mask, PORTAL_AFFINE), root / lesion_mask_relpath("c1")),
        image_relpath("c1", "portal"): save_image(
            Image(array.astype(np.float32), PORTAL_AFFINE), root / image_relpath("c1", "portal")
        ),
    }
    lesions = pd.DataFrame(
        {
            "lesion_id": ["c1-1", "c1-2", "c1-3", "c1-4"],
            "case_id": ["c1"] * 4,
            "mask_label": [1, 2, 3, 4],
            "diagnosis": ["hcc", "cyst", "met", "hem"],
            "malignant": [True, False, True, False],
            "reference_standard": ["histology"] * 4,
            "diameter_mm": [14.0, 1.5, 10.0, 5.0],
        }
    )
    return write_index(root, name="awkward", cases=CASES.iloc[:1], lesions=lesions, files=files)
