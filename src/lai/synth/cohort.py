"""Generate one synthetic patient, or a whole multi-centre cohort written as a Dataset folder.

Each patient is one task: it draws its anatomy, lesions and exam from its own random stream (derived
from the cohort seed and the patient's index with ``numpy.random.SeedSequence``, so results do not
depend on worker count or order), writes its images and masks, and returns plain rows. The parent then
writes cases.csv, lesions.csv and, last, dataset.json (``lai.data.dataset.write_index``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lai.data.dataset import Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath, write_index
from lai.data.taxonomy import DIAGNOSES, REFERENCE_SEQUENCE
from lai.imaging.image import Grid, Image, save_image
from lai.synth.acquisition import (
    CIRRHOSIS_RATE,
    FAMILIES,
    Centre,
    bias_profiles,
    family_grid,
    grid_axes,
    make_centres,
    noise_bank,
    ras_affine,
    rician,
    shift_volume,
    to_scanner_int16,
)
from lai.synth.anatomy import COARSE_SPACING, TISSUE_INDEX, Anatomy, sample_anatomy
from lai.synth.lesions import LesionSpec, draw_diameter, sample_lesion
from lai.synth.render import annotator_mask, render_grid
from lai.synth.signals import SIGNAL_SEQUENCES, patient_signal_table

GENERATOR_VERSION = "2"
"""Bumped whenever the same seed would produce different files."""

MISSING_SEQUENCE_RATE = 0.08
"""Share of exams that lack one sequence (never the portal venous phase)."""


@dataclass(frozen=True)
class PatientPlan:
    """What one patient task needs: its index and ids, its centre, the cohort seed and where to write."""

    index: int
    case_id: str
    patient_id: str
    centre: Centre
    seed: int
    out: str
    dicom_dir: str | None = None


@dataclass(frozen=True)
class PatientResult:
    """What a patient task returns: its cases.csv row, its lesions.csv rows and ``{relpath: sha256}``."""

    case: dict[str, Any]
    lesions: list[dict[str, Any]]
    files: dict[str, str]


def patient_rng(seed: int, index: int) -> np.random.Generator:
    """Return patient ``index``'s random generator, independent of every other patient's."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, index)))


_AGE = {
    "hcc": (66, 9),
    "icc": (64, 10),
    "met": (62, 11),
    "hem": (50, 12),
    "fnh": (36, 10),
    "hca": (36, 9),
    "cyst": (58, 13),
    "abscess": (60, 14),
}
_FEMALE = {
    "hcc": 0.22,
    "icc": 0.45,
    "met": 0.5,
    "hem": 0.65,
    "fnh": 0.85,
    "hca": 0.88,
    "cyst": 0.6,
    "abscess": 0.4,
}
_COUNT = {
    "hcc": (0.4, 3),
    "icc": (0.1, 2),
    "met": (1.8, 6),
    "hem": (0.4, 3),
    "fnh": (0.3, 3),
    "hca": (0.4, 3),
    "cyst": (1.0, 4),
    "abscess": (0.15, 2),
}
"""Extra lesions of the main type: Poisson mean and maximum total (metastases are often several)."""


def _reference_standard(rng: np.random.Generator, diagnosis: str, atypical: bool) -> str:
    """Return how the diagnosis was established: histology, imaging follow-up or typical imaging."""
    histology = {
        "hcc": 0.35,
        "icc": 0.9,
        "met": 0.5,
        "hem": 0.05,
        "fnh": 0.15,
        "hca": 0.7,
        "cyst": 0.0,
        "abscess": 0.6,
    }[diagnosis]
    if atypical:
        histology = min(1.0, histology + 0.4)
    if rng.random() < histology:
        return "histology"
    if diagnosis in ("hcc", "hem", "cyst", "fnh") and not atypical and rng.random() < 0.7:
        return "typical imaging"
    return "imaging follow-up"


def _place_lesions(
    rng: np.random.Generator,
    anatomy: Anatomy,
    diagnoses: list[str],
    liver_signal: dict[str, float],
    agent: str,
) -> list[LesionSpec]:
    """Return lesions placed inside the liver without overlap (a lesion that does not fit is shrunk, then dropped)."""
    inside = np.argwhere(anatomy.liver.sdf < -6.0)
    depth = -anatomy.liver.sdf[tuple(inside.T)]
    low, _ = anatomy.liver.world_bounds()
    placed: list[LesionSpec] = []
    for diagnosis in diagnoses:
        diameter = draw_diameter(rng, diagnosis)
        for attempt in range(60):
            radius = diameter / 2.0 * (0.85 ** (attempt // 15))
            ok = np.nonzero(depth > max(0.6 * radius, 5.0))[0]
            if ok.size == 0:
                continue
            centre = low + (inside[rng.choice(ok)] + rng.uniform(-0.5, 0.5, 3)) * COARSE_SPACING
            if all(np.linalg.norm(centre - p.centre) > radius + p.radii.max() + 4.0 for p in placed):
                placed.append(
                    sample_lesion(
                        rng,
                        diagnosis=diagnosis,
                        label=len(placed) + 1,
                        centre=centre,
                        diameter=2 * radius,
                        liver_signal=liver_signal,
                        agent=agent,
                    )
                )
                break
    return placed


def synthesise_patient(plan: PatientPlan) -> PatientResult:
    """Return one synthetic patient's rows after writing its images and masks under ``plan.out``."""
    rng = patient_rng(plan.seed, plan.index)
    centre = plan.centre
    mix = centre.case_mix
    primary = str(rng.choice(list(mix), p=np.array(list(mix.values())) / sum(mix.values())))
    cirrhosis = bool(rng.random() < CIRRHOSIS_RATE[centre.profile]["hcc" if primary == "hcc" else "other"])
    age_mean, age_sd = _AGE[primary]
    age = int(np.clip(rng.normal(age_mean, age_sd), 18, 90))
    sex = "F" if rng.random() < _FEMALE[primary] else "M"
    study_date = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)))
    anatomy = sample_anatomy(rng, cirrhosis=cirrhosis)
    steatosis = float(rng.uniform(0.05, 0.25) if rng.random() < 0.3 else rng.uniform(0.0, 0.04))
    liver_adc = float(rng.uniform(1.0, 1.3) if cirrhosis else rng.uniform(1.1, 1.5))
    table = patient_signal_table(
        rng, centre.contrast_agent, cirrhosis=cirrhosis, steatosis=steatosis, liver_adc=liver_adc
    )
    liver_signal = {s: float(table[TISSUE_INDEX["liver"], i]) for i, s in enumerate(SIGNAL_SEQUENCES)}
    extra_mean, most = _COUNT[primary]
    diagnoses = [primary] * int(min(1 + rng.poisson(extra_mean), most))
    if primary not in ("cyst", "hem") and rng.random() < 0.2:
        diagnoses.append(str(rng.choice(["cyst", "hem"], p=[0.6, 0.4])))
    lesions = _place_lesions(rng, anatomy, diagnoses, liver_signal, centre.contrast_agent)

    sequences = [s for f in FAMILIES for s in centre.family_sequences(f)] + ["adc"]
    if rng.random() < MISSING_SEQUENCE_RATE:
        candidates = [s for s in sequences if s != REFERENCE_SEQUENCE]
        sequences.remove(str(rng.choice(candidates)))
    half_x, half_y = anatomy.body_half_axes
    extent = np.array([2 * half_x + rng.uniform(14, 30), 2 * half_y + rng.uniform(14, 30)])
    centre_xy = rng.normal(0.0, 3.0, 2)
    margin = rng.uniform(12.0, 25.0, 2)
    z_range = (anatomy.liver_z[0] - margin[0], anatomy.liver_z[1] + margin[1])
    bank = noise_bank(plan.seed)
    root = Path(plan.out)
    files: dict[str, str] = {}
    images: dict[str, Image] = {}
    intensity_jitter = rng.lognormal(0.0, 0.25, len(FAMILIES))
    for family_index, family in enumerate(FAMILIES):
        produced = (*centre.family_sequences(family), *(("adc",) if family == "dwi" else ()))
        if not any(s in sequences for s in produced):
            continue
        grid = family_grid(centre.spacing[family], centre_xy, extent, z_range)
        noisy, liver = _acquire_family(
            rng, family, centre=centre, anatomy=anatomy, lesions=lesions, table=table, grid=grid, bank=bank
        )
        scale = centre.intensity_scale * float(intensity_jitter[family_index])
        for sequence, volume in noisy.items():
            if sequence not in sequences:
                continue
            array = (
                np.rint(np.clip(volume, 0, 32767)).astype(np.int16)
                if sequence == "adc"
                else to_scanner_int16(volume, scale)
            )
            images[sequence] = Image(array, ras_affine(grid))
        if family == "dynamic":
            assert liver is not None
            files.update(_write_masks(root, plan.case_id, lesions, grid, liver))
    for sequence, image in images.items():
        rel = image_relpath(plan.case_id, sequence)
        files[rel] = save_image(image, root / rel)
    if plan.dicom_dir is not None:
        _write_dicom(plan, images, study_date, age, sex)
    case = {
        "case_id": plan.case_id,
        "patient_id": plan.patient_id,
        "centre": centre.centre_id,
        "study_date": study_date.isoformat(),
        "field_strength": centre.field_strength,
        "vendor": centre.vendor,
        "contrast_agent": centre.contrast_agent,
        "cirrhosis": cirrhosis,
        "age": age,
        "sex": sex,
        "liver_volume_ml": round(anatomy.liver_volume_ml, 1),
    }
    rows = [
        {
            "lesion_id": f"{plan.case_id}_L{lesion.label:02d}",
            "case_id": plan.case_id,
            "mask_label": lesion.label,
            "diagnosis": lesion.diagnosis,
            "malignant": DIAGNOSES[lesion.diagnosis].malignant,
            "reference_standard": _reference_standard(rng, lesion.diagnosis, lesion.atypical),
            "diameter_mm": round(lesion.diameter_mm, 1),
            "subtype": lesion.subtype,
            "atypical": lesion.atypical,
            "variant": lesion.variant,
        }
        for lesion in lesions
    ]
    return PatientResult(case=case, lesions=rows, files=files)


def _acquire_family(
    rng: np.random.Generator,
    family: str,
    *,
    centre: Centre,
    anatomy: Anatomy,
    lesions: list[LesionSpec],
    table: np.ndarray,
    grid: Grid,
    bank: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Return one sequence family's noisy float volumes on ``grid`` (``adc`` too for DWI) and the liver mask.

    The family's breath-hold shifts the anatomy by a few millimetres (the dynamic phases against the
    portal phase, the other families as a whole); a bias field and Rician noise at the centre's SNR follow.
    """
    rendered = centre.family_sequences(family)
    spacing = centre.spacing[family]
    axes = grid_axes(grid)
    shift = np.zeros(3) if family == "dynamic" else rng.normal(0.0, [0.5, 1.0, 2.0])
    moved = [axes[a] - shift[a] for a in range(3)]
    stack, liver = render_grid(
        anatomy,
        lesions,
        table,
        rendered,
        moved,
        spacing,
        b_value=centre.b_value,
        want_liver=family == "dynamic",
    )
    bias = bias_profiles(rng, axes, 0.2 if centre.field_strength == 3.0 else 0.12)
    reference = "dwi_b0" if family == "dwi" else rendered[0]
    sigma = float(table[TISSUE_INDEX["liver"], SIGNAL_SEQUENCES.index(reference)]) / centre.snr[family]
    noisy: dict[str, np.ndarray] = {}
    for s, sequence in enumerate(rendered):
        volume = stack[s]
        if family == "dynamic" and sequence != REFERENCE_SEQUENCE:
            # Each breath-hold leaves the liver a few mm off the portal phase, mostly craniocaudally.
            offset = rng.normal(0.0, [0.0, 1.0, 2.2]) / np.asarray(spacing)
            volume = shift_volume(volume, offset)
        if sequence == "t1_opp":
            volume = np.abs(volume)
        volume = np.ascontiguousarray(volume)
        volume *= bias[0][:, None, None]
        volume *= bias[1][None, :, None]
        volume *= bias[2][None, None, :]
        noisy[sequence] = rician(volume, sigma, rng, bank)
    if family == "dwi":
        noisy["adc"] = _adc_map(noisy["dwi_b0"], noisy["dwi"], centre.b_value, 5.0 * sigma)
    return noisy, liver


def _adc_map(b0: np.ndarray, high: np.ndarray, b_value: float, floor: float) -> np.ndarray:
    """Return the ADC in 1e-6 mm^2/s from b0 and high-b images, zero where b0 is noise (as scanners do)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        adc = np.log(b0 / np.maximum(high, 1e-6)) * (1e6 / b_value)
    adc[b0 < floor] = 0.0
    np.nan_to_num(adc, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(adc, 0.0, 4000.0)


def _write_masks(
    root: Path, case_id: str, lesions: list[LesionSpec], grid: Grid, liver: np.ndarray
) -> dict[str, str]:
    """Write the lesion label map (as annotated) and the liver mask on the portal grid; return their hashes."""
    axes = grid_axes(grid)
    labels = np.zeros(grid.shape, np.uint8)
    for lesion in lesions:
        drawn = annotator_mask(lesion, axes, grid.spacing)
        if drawn is None:
            continue
        box, mask = drawn
        labels[box][mask] = lesion.label
    liver_mask = (liver > 0) | (labels > 0)
    return {
        lesion_mask_relpath(case_id): save_image(
            Image(labels, ras_affine(grid)), root / lesion_mask_relpath(case_id)
        ),
        liver_mask_relpath(case_id): save_image(
            Image(liver_mask.astype(np.uint8), ras_affine(grid)), root / liver_mask_relpath(case_id)
        ),
    }


def _write_dicom(
    plan: PatientPlan, images: dict[str, Image], study_date: dt.date, age: int, sex: str
) -> None:
    """Write the exam as DICOM series through ``lai.synth.dicom`` (imported here: it is optional)."""
    from lai.synth.dicom import ExamInfo, write_case_dicom

    centre = plan.centre
    exam = ExamInfo(
        case_id=plan.case_id,
        patient_key=plan.patient_id,
        centre=centre.centre_id,
        vendor=centre.vendor,
        field_strength=centre.field_strength,
        study_date=study_date,
        contrast_agent=centre.contrast_agent,
        phase_delays={p: d for p, d in centre.phase_delays.items() if p in centre.dynamic_phases},
        patient_age=age,
        patient_sex=sex,
        seed=plan.seed * 1_000_003 + plan.index,
        dwi_b_values=(0.0, centre.b_value),
    )
    write_case_dicom(Path(plan.dicom_dir or "."), images, exam)


def plan_cohort(
    out: Path, *, patients: int, centres: int, seed: int, dicom_dir: Path | None = None
) -> tuple[list[Centre], list[PatientPlan]]:
    """Return the cohort's centres and one plan per patient (centres balanced, order shuffled by ``seed``)."""
    if patients < 1:
        msg = f"A cohort needs at least one patient, got patients={patients}"
        raise ValueError(msg)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    sites = make_centres(centres, rng)
    assignment = rng.permutation(np.arange(patients) % len(sites))
    plans = [
        PatientPlan(
            index=i,
            case_id=f"case{i + 1:04d}",
            patient_id=f"pat{i + 1:04d}",
            centre=sites[int(assignment[i])],
            seed=seed,
            out=str(out),
            dicom_dir=None if dicom_dir is None else str(dicom_dir),
        )
        for i in range(patients)
    ]
    return sites, plans


def generate_cohort(
    out: Path,
    *,
    patients: int,
    centres: int,
    seed: int,
    dicom_dir: Path | None = None,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Generate a synthetic multi-centre liver MRI cohort and return it as a written Dataset folder.

    Parameters
    ----------
    out
        Dataset folder to write (images, masks, cases.csv, lesions.csv, dataset.json).
    patients, centres
        Cohort size; patients are spread evenly over the centres.
    seed
        Same seed, same bytes in every file.
    dicom_dir
        Also write each exam as DICOM series there (``lai.synth.dicom``).
    scheduler, cache_dir
        Passed to ``lai.compute.map_tasks``; with a cache, an interrupted run resumes.

    Examples
    --------
    >>> ds = generate_cohort(Path("cohort"), patients=20, centres=3, seed=0)  # doctest: +SKIP
    >>> ds.lesions.diagnosis.value_counts()                                   # doctest: +SKIP
    """
    from lai.compute import map_tasks, task_key

    out = Path(out)
    sites, plans = plan_cohort(out, patients=patients, centres=centres, seed=seed, dicom_dir=dicom_dir)
    keys = [
        task_key(
            "lai.synth.patient", GENERATOR_VERSION, str(out.resolve()), str(dicom_dir), seed, centres, p.index
        )
        for p in plans
    ]
    results: list[PatientResult] = map_tasks(
        synthesise_patient,
        plans,
        keys=keys,
        cache_dir=cache_dir,
        description="Synthesising patients",
        scheduler=scheduler,
    )
    stale = [i for i, r in enumerate(results) if not all((out / rel).is_file() for rel in r.files)]
    if stale:
        redone = map_tasks(
            synthesise_patient,
            [plans[i] for i in stale],
            description="Rewriting missing files",
            scheduler=scheduler,
        )
        for i, result in zip(stale, redone, strict=True):
            results[i] = result
    files = {rel: sha for r in results for rel, sha in r.files.items()}
    cases = pd.DataFrame([r.case for r in results])
    lesions = pd.DataFrame([row for r in results for row in r.lesions])
    return write_index(
        out,
        name=f"lai-synthetic-seed{seed}",
        cases=cases,
        lesions=lesions,
        files=files,
        description=(
            f"Synthetic multi-centre liver MRI cohort: {patients} patients, {len(sites)} centres, "
            "8 lesion types (lai.synth; see docs/synthetic-cohort.md). Not real patients."
        ),
        centres=[_centre_meta(c) for c in sites],
        provenance={
            "generator": "lai.synth",
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "patients": patients,
            "centres": centres,
        },
    )


def _centre_meta(centre: Centre) -> dict[str, Any]:
    return {
        "centre_id": centre.centre_id,
        "profile": centre.profile,
        "vendor": centre.vendor,
        "field_strength": centre.field_strength,
        "contrast_agent": centre.contrast_agent,
        "spacing_mm": {f: [round(v, 3) for v in s] for f, s in centre.spacing.items()},
        "b_value": centre.b_value,
    }
