"""Liver-specific features (lai.radiomics.liver) on hand-painted phantoms and on a synthetic cohort.

The phantom is a grid of 1 x 1 x 2.5 mm voxels holding cuboid lesions in a uniform liver. Each lesion's
2 mm rim is painted by slicing: two voxel layers in-plane (voxel centres at depth 1 and 2 mm) and one
slice along z (2.5 mm slices: the shell is at least one voxel thick). So every expected value below
follows from the painted intensities and voxel counts alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.data import Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath, write_index
from lai.imaging import Image, save_image
from lai.radiomics import extract_dataset
from lai.radiomics.liver import liver_feature_columns, shell_and_core
from lai.synth import generate_cohort

AFFINE = np.diag([1.0, 1.0, 2.5, 1.0])
SHAPE = (48, 48, 16)
LESION_BOXES = {  # label: voxel index box; label 3 is too small to have a core
    1: (slice(5, 17), slice(5, 17), slice(4, 12)),
    2: (slice(30, 38), slice(5, 13), slice(4, 10)),
    3: (slice(30, 34), slice(30, 34), slice(6, 8)),
}
LIVER = {"t1_pre": 200.0, "arterial": 260.0, "portal": 300.0, "delayed": 280.0, "t2w": 90.0, "adc": 1300.0}
"""Liver intensity per sequence: a different scale on each, as scanners give."""

RIM_CORE = {  # phase: (rim, core) of lesion 1, in multiples of that phase's liver
    "t1_pre": (0.7, 0.7),
    "arterial": (2.0, 1.5),
    "portal": (1.2, 0.6),
    "delayed": (1.3, 0.5),
}
OTHERS = {"t1_pre": 0.8, "arterial": 1.1, "portal": 0.9, "delayed": 0.95}
"""Lesions 2 and 3: uniform, in multiples of the liver."""

HYPERAEMIA = 1.4
"""Arterial phase only: everything within 8 mm of lesion 1 (outside it) is 1.4 x the liver."""

T2_LESION_1 = 2.0
ADC_RIM_CORE = (1100.0, 700.0)
"""Lesion 1 on the ADC map, in 1e-6 mm^2/s: rim, core."""

N_LESION, N_CORE = 12 * 12 * 8, (12 - 4) * (12 - 4) * (8 - 2)


def core_box(box: tuple[slice, ...]) -> tuple[slice, ...]:
    x, y, z = box
    return (slice(x.start + 2, x.stop - 2), slice(y.start + 2, y.stop - 2), slice(z.start + 1, z.stop - 1))


def expanded_box(box: tuple[slice, ...], mm: float) -> tuple[slice, ...]:
    margins = np.ceil(mm / np.diag(AFFINE)[:3]).astype(int)
    return tuple(
        slice(max(s.start - m, 0), min(s.stop + m, n)) for s, m, n in zip(box, margins, SHAPE, strict=True)
    )


def painted(sequence: str, labels: tuple[int, ...]) -> np.ndarray:
    liver = LIVER[sequence]
    array = np.full(SHAPE, liver)
    if sequence == "arterial":
        array[expanded_box(LESION_BOXES[1], 8.0)] = HYPERAEMIA * liver
    for label in labels:
        box = LESION_BOXES[label]
        if label == 1 and sequence in RIM_CORE:
            rim, core = RIM_CORE[sequence]
            array[box] = rim * liver
            array[core_box(box)] = core * liver
        elif label == 1 and sequence == "adc":
            array[box] = ADC_RIM_CORE[0]
            array[core_box(box)] = ADC_RIM_CORE[1]
        elif label == 1 and sequence == "t2w":
            array[box] = T2_LESION_1 * liver
        else:
            array[box] = OTHERS.get(sequence, 1.0) * liver
    return array


def lesion_1_ratio(phase: str) -> float:
    """Lesion mean / liver on a phase, from the painted rim and core and their voxel counts."""
    rim, core = RIM_CORE[phase]
    return (rim * (N_LESION - N_CORE) + core * N_CORE) / N_LESION


CASES = pd.DataFrame(
    {
        "case_id": ["c1", "c2"],
        "patient_id": ["p1", "p2"],
        "centre": ["A", "B"],
        "study_date": ["2020-01-05", "2021-03-02"],
    }
)
LESIONS = pd.DataFrame(
    {
        "lesion_id": ["c1-1", "c1-2", "c1-3", "c2-1"],
        "case_id": ["c1", "c1", "c1", "c2"],
        "mask_label": [1, 2, 3, 1],
        "diagnosis": ["hcc", "hem", "met", "hcc"],
        "malignant": [True, False, True, True],
        "reference_standard": ["histology"] * 4,
        "diameter_mm": [20.0, 10.0, 5.0, 20.0],
    }
)
LABELS = {"c1": (1, 2, 3), "c2": (1,)}
SEQUENCES_OF = {
    "c1": ("t2w", "adc", "t1_pre", "arterial", "portal", "delayed"),
    "c2": ("t1_pre", "portal", "delayed"),  # no arterial phase, no liver mask
}


def write_phantom(root: Path) -> Dataset:
    files: dict[str, str] = {}
    for case_id, labels in LABELS.items():
        mask = np.zeros(SHAPE, dtype=np.uint8)
        for label in labels:
            mask[LESION_BOXES[label]] = label
        rel = lesion_mask_relpath(case_id)
        files[rel] = save_image(Image(mask, AFFINE), root / rel)
        for sequence in SEQUENCES_OF[case_id]:
            rel = image_relpath(case_id, sequence)
            files[rel] = save_image(Image(painted(sequence, labels).astype(np.float32), AFFINE), root / rel)
    rel = liver_mask_relpath("c1")
    files[rel] = save_image(Image(np.ones(SHAPE, dtype=np.uint8), AFFINE), root / rel)
    return write_index(root, name="liver-phantom", cases=CASES, lesions=LESIONS, files=files)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    dataset = write_phantom(tmp_path_factory.mktemp("liver"))
    table = extract_dataset(dataset, scheduler="sync", liver_features=True)
    assert table.metadata["liver_features"] is True
    return table.frame.set_index("lesion_id")


def test_shell_is_two_mm_in_plane_and_one_slice_along_coarse_z() -> None:
    lesion = np.zeros(SHAPE, dtype=bool)
    lesion[LESION_BOXES[1]] = True
    expected_core = np.zeros(SHAPE, dtype=bool)
    expected_core[core_box(LESION_BOXES[1])] = True
    shell, core = shell_and_core(lesion, (1.0, 1.0, 2.5))
    np.testing.assert_array_equal(core, expected_core)
    np.testing.assert_array_equal(shell, lesion & ~expected_core)


def test_isotropic_shell_is_the_two_outer_voxel_layers() -> None:
    lesion = np.zeros((12, 12, 12), dtype=bool)
    lesion[1:11, 1:11, 1:11] = True
    _, core = shell_and_core(lesion, (1.0, 1.0, 1.0))
    assert core.sum() == 6**3 and core[3:9, 3:9, 3:9].all()


def test_every_liver_column_is_in_the_table_by_default_and_can_be_left_out(tmp_path: Path) -> None:
    dataset = write_phantom(tmp_path)
    with_liver = extract_dataset(dataset, scheduler="sync")
    sequences = with_liver.metadata["sequences"]
    liver_columns = liver_feature_columns(sequences)
    assert with_liver.feature_columns[-len(liver_columns) :] == liver_columns
    assert all(c.split(":")[0] in ("kinetics", "context") for c in liver_columns)
    assert {"kinetics:washin_arterial", "kinetics:washout_portal", "kinetics:washout_delayed"} <= set(
        liver_columns
    )
    plain = extract_dataset(dataset, scheduler="sync", liver_features=False)
    assert not set(liver_columns) & set(plain.feature_columns)


def test_rim_to_core_is_the_painted_rim_over_core(phantom: pd.DataFrame) -> None:
    for phase, (rim, core) in RIM_CORE.items():
        assert phantom.loc["c1-1", f"kinetics:{phase}_rim_to_core_ratio"] == pytest.approx(rim / core)
    assert phantom.loc["c1-2", "kinetics:portal_rim_to_core_ratio"] == pytest.approx(1.0)


def test_a_lesion_too_small_for_a_core_has_nan_rim_to_core(phantom: pd.DataFrame) -> None:
    assert np.isnan(phantom.loc["c1-3", "kinetics:portal_rim_to_core_ratio"])
    assert phantom.loc["c1-3", "kinetics:portal_lesion_to_liver_ratio"] == pytest.approx(OTHERS["portal"])


def test_peritumoral_ring_sees_the_painted_hyperaemia(phantom: pd.DataFrame) -> None:
    assert phantom.loc["c1-1", "kinetics:arterial_peritumoral_to_liver_ratio"] == pytest.approx(HYPERAEMIA)
    assert phantom.loc["c1-1", "kinetics:portal_peritumoral_to_liver_ratio"] == pytest.approx(1.0)
    assert phantom.loc["c1-2", "kinetics:arterial_peritumoral_to_liver_ratio"] == pytest.approx(1.0)


def test_washin_and_washout_follow_the_liver_normalised_means(phantom: pd.DataFrame) -> None:
    r = {phase: lesion_1_ratio(phase) for phase in RIM_CORE}
    row = phantom.loc["c1-1"]
    assert row["kinetics:arterial_lesion_to_liver_ratio"] == pytest.approx(r["arterial"])
    assert row["kinetics:washin_arterial"] == pytest.approx((r["arterial"] - r["t1_pre"]) / r["t1_pre"])
    assert row["kinetics:washout_portal"] == pytest.approx((r["arterial"] - r["portal"]) / r["arterial"])
    assert row["kinetics:washout_delayed"] == pytest.approx((r["portal"] - r["delayed"]) / r["portal"])
    assert row["kinetics:washout_portal"] > 0
    uniform = phantom.loc["c1-2"]
    assert uniform["kinetics:washout_portal"] == pytest.approx((1.1 - 0.9) / 1.1)


def test_a_missing_phase_gives_nan_and_leaves_the_others(phantom: pd.DataFrame) -> None:
    row = phantom.loc["c2-1"]
    for column in (
        "kinetics:washin_arterial",
        "kinetics:washout_portal",
        "kinetics:arterial_rim_to_core_ratio",
        "kinetics:arterial_peritumoral_to_liver_ratio",
        "kinetics:t2w_lesion_to_liver_ratio",
        "context:adc_mean",
    ):
        assert np.isnan(row[column]), column
    r_portal, r_delayed = lesion_1_ratio("portal"), lesion_1_ratio("delayed")
    assert row["kinetics:washout_delayed"] == pytest.approx((r_portal - r_delayed) / r_portal)
    assert row["kinetics:portal_rim_to_core_ratio"] == pytest.approx(1.2 / 0.6)


def test_t2_and_adc_context(phantom: pd.DataFrame) -> None:
    row = phantom.loc["c1-1"]
    rim, core = ADC_RIM_CORE
    mean = (rim * (N_LESION - N_CORE) + core * N_CORE) / N_LESION
    assert N_CORE / N_LESION > 0.1  # so the 10th percentile lies in the core
    assert row["kinetics:t2w_lesion_to_liver_ratio"] == pytest.approx(T2_LESION_1)
    assert row["context:adc_mean"] == pytest.approx(mean / 1000)
    assert row["context:adc_min"] == pytest.approx(core / 1000)
    assert row["kinetics:adc_lesion_to_liver_ratio"] == pytest.approx(mean / LIVER["adc"])


def test_lesion_count_size_rank_and_volume_fraction(phantom: pd.DataFrame) -> None:
    sizes = {label: int(np.prod([s.stop - s.start for s in box])) for label, box in LESION_BOXES.items()}
    liver_voxels = int(np.prod(SHAPE))  # the liver mask covers the grid, lesions included
    for label, rank in ((1, 1.0), (2, 2.0), (3, 3.0)):
        row = phantom.loc[f"c1-{label}"]
        assert row["context:lesion_count"] == 3.0
        assert row["context:size_rank"] == rank
        assert row["context:volume_fraction_of_liver"] == pytest.approx(sizes[label] / liver_voxels)
    alone = phantom.loc["c2-1"]
    assert (alone["context:lesion_count"], alone["context:size_rank"]) == (1.0, 1.0)
    assert np.isnan(alone["context:volume_fraction_of_liver"])  # no liver mask


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    dataset = generate_cohort(
        tmp_path_factory.mktemp("cohort") / "cohort", patients=8, centres=2, seed=0, scheduler="sync"
    )
    frame = extract_dataset(dataset, scheduler="sync", liver_features=True).frame
    return frame.merge(dataset.lesions[["lesion_id", "atypical"]], on="lesion_id")


def test_typical_hccs_of_a_synthetic_cohort_wash_out(cohort: pd.DataFrame) -> None:
    typical_hcc = cohort[(cohort["diagnosis"] == "hcc") & ~cohort["atypical"].astype(bool)]
    assert len(typical_hcc) >= 2
    assert (typical_hcc["kinetics:washout_portal"] > 0).all()
    assert (typical_hcc["kinetics:washin_arterial"] > 0).all()


def test_hemangiomas_and_cysts_have_higher_adc_than_hccs_and_metastases(cohort: pd.DataFrame) -> None:
    malignant = cohort[cohort["diagnosis"].isin(["hcc", "met"])]["context:adc_mean"]
    benign = cohort[cohort["diagnosis"].isin(["hem", "cyst"])]["context:adc_mean"]
    assert len(malignant) >= 2 and len(benign) >= 2
    assert benign.mean() > malignant.mean()


def test_a_lesion_missing_from_a_coarse_grid_gives_nan_there(tmp_path: Path) -> None:
    coarse = np.diag([6.0, 6.0, 6.0, 1.0])
    coarse[:3, 3] = 3.0  # samples at x = 3 + 6n mm: never on fine voxel 40 (x = 40 mm)
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[LESION_BOXES[1]] = 1
    mask[40, 40, 3] = 2
    files = {lesion_mask_relpath("c1"): save_image(Image(mask, AFFINE), tmp_path / lesion_mask_relpath("c1"))}
    for sequence, affine, shape in (
        ("portal", AFFINE, SHAPE),
        ("arterial", coarse, (8, 8, 6)),
        ("adc", coarse, (8, 8, 6)),
    ):
        rel = image_relpath("c1", sequence)
        files[rel] = save_image(Image(np.full(shape, LIVER[sequence], np.float32), affine), tmp_path / rel)
    lesions = LESIONS.iloc[:2].assign(diameter_mm=[20.0, 1.0])
    dataset = write_index(tmp_path, name="coarse", cases=CASES.iloc[:1], lesions=lesions, files=files)
    frame = extract_dataset(dataset, scheduler="sync", liver_features=True).frame.set_index("lesion_id")
    measured = [
        "context:adc_mean",
        "context:adc_min",
        "kinetics:arterial_peritumoral_to_liver_ratio",  # the face neighbours, though 6 mm > 5 mm
        "kinetics:washout_portal",
    ]
    assert frame.loc["c1-2", [*measured, "kinetics:arterial_rim_to_core_ratio"]].isna().all()
    assert frame.loc["c1-1", measured].notna().all()
    assert frame.loc["c1-1", "kinetics:arterial_peritumoral_to_liver_ratio"] == pytest.approx(1.0)
    assert np.isnan(frame.loc["c1-1", "kinetics:arterial_rim_to_core_ratio"])  # 2 x 2 x 3 samples: no core
    assert frame.loc["c1-2", "context:size_rank"] == 2.0
