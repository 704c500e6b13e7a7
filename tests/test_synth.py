"""The synthetic cohort: determinism, the Dataset it writes, and lesion appearance against the domain table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.data.dataset import Dataset
from lai.files import sha256_file
from lai.imaging import load_image, resample_labels
from lai.synth import generate_cohort
from lai.synth.acquisition import make_centres, noise_bank, rician, shift_volume
from lai.synth.anatomy import TISSUE_INDEX, coarse_axes, sample_anatomy
from lai.synth.describe import lesion_ratios, summarise_ratios
from lai.synth.render import render_grid
from lai.synth.signals import patient_signal_table

os.environ.setdefault("LAI_NO_PROGRESS", "1")

COHORT_PATIENTS = 60


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """A cohort large enough for stable medians per lesion type (3 centres: hepatology, oncology, general)."""
    return generate_cohort(tmp_path_factory.mktemp("cohort"), patients=COHORT_PATIENTS, centres=3, seed=11)


@pytest.fixture(scope="session")
def ratios(cohort: Dataset) -> pd.DataFrame:
    return lesion_ratios(cohort)


@pytest.fixture(scope="session")
def summary(ratios: pd.DataFrame) -> pd.DataFrame:
    return summarise_ratios(ratios).set_index(["diagnosis", "sequence"])


# --- Determinism ---


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    """In process and in worker processes of another interpreter with another string-hash seed."""
    first = generate_cohort(tmp_path / "a", patients=2, centres=2, seed=5, scheduler="sync")
    script = (
        "from pathlib import Path; from lai.synth import generate_cohort; "
        f"generate_cohort(Path({str(tmp_path / 'b')!r}), patients=2, centres=2, seed=5)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    second = Dataset.read(tmp_path / "b")
    assert first.files == second.files
    for rel, digest in second.files.items():
        assert sha256_file(second.root / rel) == digest, rel


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    first = generate_cohort(tmp_path / "a", patients=1, centres=1, seed=5, scheduler="sync")
    second = generate_cohort(tmp_path / "b", patients=1, centres=1, seed=6, scheduler="sync")
    images = [rel for rel in first.files if rel.startswith("images/")]
    assert all(first.files[rel] != second.files.get(rel) for rel in images)


# --- The Dataset folder ---


def test_cohort_reads_back_with_every_column(cohort: Dataset) -> None:
    again = Dataset.read(cohort.root)
    for column in (
        "case_id",
        "patient_id",
        "centre",
        "study_date",
        "field_strength",
        "vendor",
        "contrast_agent",
        "cirrhosis",
        "age",
        "sex",
    ):
        assert column in again.cases.columns, column
    for column in (
        "lesion_id",
        "case_id",
        "mask_label",
        "diagnosis",
        "malignant",
        "reference_standard",
        "diameter_mm",
        "atypical",
        "subtype",
    ):
        assert column in again.lesions.columns, column
    assert len(again.cases) == COHORT_PATIENTS
    assert set(again.lesions["diagnosis"]) == {"hcc", "icc", "met", "hem", "fnh", "hca", "cyst", "abscess"}
    assert set(again.lesions["reference_standard"]) <= {"histology", "imaging follow-up", "typical imaging"}


def test_every_lesion_label_is_in_its_mask_on_the_portal_grid(cohort: Dataset) -> None:
    for case in cohort.iter_cases():
        mask = load_image(cohort.lesion_mask_path(case.case_id))
        portal = load_image(cohort.image_path(case.case_id, "portal"))
        assert mask.shape == portal.shape and np.allclose(mask.affine, portal.affine), case.case_id
        present = set(np.unique(mask.array)) - {0}
        assert {lesion.mask_label for lesion in case.lesions} == present, case.case_id
        liver_path = cohort.liver_mask_path(case.case_id)
        assert liver_path is not None
        liver = load_image(liver_path).array
        assert np.all(liver[mask.array > 0] > 0), case.case_id


def test_liver_lies_on_the_patient_right_in_world_coordinates(cohort: Dataset) -> None:
    for case in list(cohort.iter_cases())[:10]:
        liver_path = cohort.liver_mask_path(case.case_id)
        assert liver_path is not None
        liver = load_image(liver_path)
        portal = load_image(cohort.image_path(case.case_id, "portal"))
        body = portal.array > 0.2 * np.percentile(portal.array, 99)

        def world_centroid(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
            return affine[:3, :3] @ np.argwhere(mask).mean(axis=0) + affine[:3, 3]

        # RAS: +x is the patient's right; the liver sits right of the body's centre line, and anterior
        offset = world_centroid(liver.array > 0, liver.affine) - world_centroid(body, portal.affine)
        assert offset[0] > 20.0, case.case_id


def test_exams_follow_their_centre_protocol_and_few_miss_a_sequence(cohort: Dataset) -> None:
    missing = 0
    for row in cohort.cases.itertuples():
        sequences = set(cohort.sequences_of(row.case_id))
        late = {"delayed"} if row.contrast_agent == "extracellular" else {"transitional", "hbp"}
        expected = {"t2w", "t1_in", "t1_opp", "dwi_b0", "dwi", "adc", "t1_pre", "arterial", "portal"} | late
        assert "portal" in sequences
        assert sequences <= expected
        missing += len(expected - sequences)
    assert missing <= 0.25 * len(cohort.cases)


def test_at_least_fifteen_percent_of_lesions_are_atypical(cohort: Dataset) -> None:
    assert cohort.lesions["atypical"].mean() >= 0.15


def test_adc_is_stored_in_scanner_units(cohort: Dataset) -> None:
    case_id = str(cohort.cases["case_id"].iloc[0])
    adc = load_image(cohort.image_path(case_id, "adc"))
    liver = resample_labels(load_image(cohort.liver_mask_path(case_id)), adc.grid).array > 0  # type: ignore[arg-type]
    assert 700 < np.median(adc.array[liver]) < 2000  # 1e-6 mm^2/s; liver is 1.1-1.5e-3


def test_centres_have_their_own_grids(cohort: Dataset) -> None:
    spacings = {}
    for row in cohort.cases.drop_duplicates("centre").itertuples():
        spacings[row.centre] = load_image(cohort.image_path(row.case_id, "portal")).spacing
    assert len(set(spacings.values())) == len(spacings) == 3


# --- Appearance (domain/liver_lesions.md) ---


def test_cyst_and_hemangioma_are_bright_on_t2(summary: pd.DataFrame) -> None:
    assert summary.loc[("cyst", "t2w"), "median"] > 2.5
    assert summary.loc[("hem", "t2w"), "median"] > 1.8


def test_cyst_is_dark_on_every_post_contrast_phase(summary: pd.DataFrame) -> None:
    for phase in ("arterial", "portal", "delayed", "transitional", "hbp"):
        if ("cyst", phase) in summary.index:
            assert summary.loc[("cyst", phase), "median"] < 0.8, phase


def test_typical_hcc_enhances_arterially_and_washes_out(ratios: pd.DataFrame) -> None:
    hcc = ratios[(ratios["diagnosis"] == "hcc") & ~ratios["atypical"].astype(bool)]
    assert len(hcc) >= 4
    assert (hcc["arterial"] > 1.0).mean() > 0.5
    assert (hcc["portal"] < 1.0).mean() > 0.5
    late = hcc[["delayed", "transitional"]].min(axis=1)
    assert (late < 1.0).mean() > 0.5


def test_adc_orders_cyst_hemangioma_fnh_and_malignant(summary: pd.DataFrame) -> None:
    adc = summary.xs("adc", level="sequence")["median"]
    assert adc["cyst"] > adc["hem"] > adc["fnh"] > max(adc["hcc"], adc["met"])


# --- Anatomy and acquisition ---


def test_vessels_enhance_per_phase() -> None:
    rng = np.random.default_rng(3)
    anatomy = sample_anatomy(rng, cirrhosis=False)
    table = patient_signal_table(rng, "extracellular", cirrhosis=False, steatosis=0.0, liver_adc=1.3)
    sequences = ("t1_pre", "arterial", "portal")
    axes = [np.arange(-180.0, 180.0, 1.5), np.arange(-140.0, 140.0, 1.5), np.arange(-60.0, 60.0, 3.0)]
    stack, _ = render_grid(anatomy, [], table, sequences, axes, (1.5, 1.5, 3.0))

    def at_centre(name: str) -> np.ndarray:
        structure = next(s for s in anatomy.structures if s.name == name)
        index = np.unravel_index(np.argmin(structure.sdf), structure.sdf.shape)
        world = [coarse_axes(structure.start, structure.sdf.shape)[a][index[a]] for a in range(3)]
        voxel = tuple(int(np.argmin(np.abs(axes[a] - np.clip(world[a], -58, 58)))) for a in range(3))
        return stack[(slice(None), *voxel)]

    aorta, portal_vein = at_centre("aorta"), at_centre("portal_trunk")
    assert aorta[1] > 3 * aorta[0] and aorta[1] > aorta[2]
    assert portal_vein[2] > portal_vein[1] > portal_vein[0]


def test_liver_volume_is_adult_sized() -> None:
    volumes = [sample_anatomy(np.random.default_rng(i), cirrhosis=False).liver_volume_ml for i in range(4)]
    assert all(1000 < v < 2300 for v in volumes)
    assert TISSUE_INDEX["liver"] > 0


def test_dynamic_phases_are_misregistered_by_a_few_millimetres(cohort: Dataset) -> None:
    """Find the craniocaudal shift that best aligns t1_pre to portal; it is small and not always zero."""
    shifts = []
    for case_id in cohort.cases["case_id"].iloc[:5]:
        portal = load_image(cohort.image_path(case_id, "portal"))
        pre = load_image(cohort.image_path(case_id, "t1_pre")).array.astype(np.float32)
        edges_portal = np.abs(np.diff(portal.array.astype(np.float32), axis=2))
        candidates = np.arange(-3.0, 3.01, 0.25)
        scores = [
            -np.corrcoef(
                edges_portal.ravel(),
                np.abs(np.diff(shift_volume(pre, np.array([0.0, 0.0, s])), axis=2)).ravel(),
            )[0, 1]
            for s in candidates
        ]
        shifts.append(abs(candidates[int(np.argmin(scores))]) * portal.spacing[2])
    assert max(shifts) <= 10.0
    assert np.mean(np.array(shifts) > 0) >= 0.2


def test_make_centres_refuses_zero() -> None:
    with pytest.raises(ValueError, match="at least one centre"):
        make_centres(0, np.random.default_rng(0))


def test_rician_noise_on_empty_background_is_rayleigh() -> None:
    sigma = 3.0
    volume = rician(np.zeros((64, 64, 32), np.float32), sigma, np.random.default_rng(0), noise_bank(0))
    assert volume.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.02)


def test_dwi_follows_b0_times_exp_minus_b_adc_before_noise() -> None:
    rng = np.random.default_rng(4)
    anatomy = sample_anatomy(rng, cirrhosis=False)
    table = patient_signal_table(rng, "extracellular", cirrhosis=False, steatosis=0.0, liver_adc=1.2)
    axes = [np.arange(-150.0, 150.0, 2.0), np.arange(-110.0, 110.0, 2.0), np.arange(-20.0, 20.0, 5.0)]
    stack, liver = render_grid(
        anatomy, [], table, ("dwi_b0", "dwi"), axes, (2.0, 2.0, 5.0), b_value=800.0, want_liver=True
    )
    assert liver is not None
    inside = liver > 0
    ratio = stack[1][inside] / stack[0][inside]
    assert np.median(ratio) == pytest.approx(np.exp(-800.0 * 1.2e-3), rel=0.01)


def test_case_mix_differs_by_centre(cohort: Dataset) -> None:
    """centre01 is a hepatology centre (HCC, cirrhosis), centre02 an oncology centre (metastases)."""
    primary = cohort.lesions.drop_duplicates("case_id").merge(cohort.cases, on="case_id")
    share = primary.groupby("centre")["diagnosis"].value_counts(normalize=True).unstack(fill_value=0.0)
    assert share.loc["centre01", "hcc"] > share.loc["centre02", "hcc"]
    assert share.loc["centre02", "met"] > share.loc["centre01", "met"]
    cirrhosis = cohort.cases.groupby("centre")["cirrhosis"].mean()
    assert cirrhosis["centre01"] > cirrhosis["centre02"]
