"""Quality control of an archive: per series geometry and intensities, per case the masks.

Checks and their severities:

- ``missing_slices`` (error): a gap in the slice positions wider than 1.5 times the usual step;
- ``uneven_spacing`` (warning): slice steps differing by more than 1% without a gap;
- ``oblique`` (warning): the slice normal more than :data:`OBLIQUE_TOLERANCE_DEG` from the nearest axis;
- ``empty`` (error): a converted image with a single intensity value;
- ``saturated`` (warning): more than :data:`SATURATED_FRACTION` of the voxels at the image maximum;
- ``mask_outside_image`` (error): lesion-mask voxels outside the extent of the case's image;
- ``mask_outside_liver`` (warning): a lesion with less than half its voxels in the liver mask.

Slice geometry comes from the de-identified DICOM headers (dcm2niix resamples nothing, but a gap would
already be hidden in a NIfTI affine); intensities from the converted NIfTI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import sqlalchemy as sa

from lai.archive.catalog import Catalog, QCFinding, Series, Study, open_catalog
from lai.archive.labels import inside_fraction, reference_image
from lai.data import lesion_mask_relpath, liver_mask_relpath
from lai.imaging import ImageError, load_image, resample_labels

OBLIQUE_TOLERANCE_DEG = 10.0
SATURATED_FRACTION = 0.05
GAP_FACTOR = 1.5
UNEVEN_TOLERANCE = 0.01


@dataclass(frozen=True)
class Finding:
    """One QC finding: the case, the series (None for a case-level check), the check, severity, message."""

    case_id: str
    series_key: str | None
    check: str
    severity: str
    message: str


# --- Checks on arrays and positions (pure) ---


def slice_steps(positions: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """Return the sorted distances between consecutive distinct slice positions along the slice normal."""
    normal = np.cross(orientation[:3], orientation[3:])
    along = np.unique(np.round(positions @ normal, 3))
    return np.diff(along)


def spacing_findings(steps: np.ndarray) -> list[tuple[str, str, str]]:
    """Return (check, severity, message) for gaps and uneven steps between slices."""
    if len(steps) < 2:
        return []
    usual = float(np.median(steps))
    gaps = steps > GAP_FACTOR * usual
    if gaps.any():
        missing = int(np.round(steps[gaps] / usual).sum() - gaps.sum())
        return [
            (
                "missing_slices",
                "error",
                f"{missing} slice(s) missing: gap of {steps.max():.2f} mm, step {usual:.2f} mm",
            )
        ]
    spread = float((steps.max() - steps.min()) / usual)
    if spread > UNEVEN_TOLERANCE:
        return [("uneven_spacing", "warning", f"slice steps from {steps.min():.3f} to {steps.max():.3f} mm")]
    return []


def obliquity_deg(orientation: np.ndarray) -> float:
    """Return the angle in degrees between the slice normal and the nearest patient axis."""
    normal = np.cross(orientation[:3], orientation[3:])
    normal = normal / np.linalg.norm(normal)
    return float(np.degrees(np.arccos(np.clip(np.abs(normal).max(), -1.0, 1.0))))


def intensity_findings(array: np.ndarray) -> list[tuple[str, str, str]]:
    """Return (check, severity, message) for an empty (constant) or saturated image."""
    low, high = float(array.min()), float(array.max())
    if low == high:
        return [("empty", "error", f"every voxel is {low:g}")]
    at_max = float(np.mean(array == high))
    if at_max > SATURATED_FRACTION:
        return [("saturated", "warning", f"{100 * at_max:.1f}% of voxels at the maximum {high:g}")]
    return []


# --- Running the checks ---


def series_findings(archive: Path, series: Series) -> list[tuple[str, str, str]]:
    """Run the per-series checks on one catalogued series."""
    found: list[tuple[str, str, str]] = []
    files = sorted((archive / series.dicom_path).glob("*.dcm"))
    positions, orientation = [], None
    for path in files:
        ds = pydicom.dcmread(
            path, stop_before_pixels=True, specific_tags=["ImagePositionPatient", "ImageOrientationPatient"]
        )
        if "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
            positions.append([float(v) for v in ds.ImagePositionPatient])
            orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    if orientation is not None and len(positions) > 2:
        found += spacing_findings(slice_steps(np.array(positions), orientation))
        angle = obliquity_deg(orientation)
        if angle > OBLIQUE_TOLERANCE_DEG:
            found.append(("oblique", "warning", f"slices {angle:.1f} degrees off the nearest axis"))
    try:
        image = load_image(archive / series.nifti_path)
    except ImageError:
        return found  # a 4D series (DWI, multi-echo): intensities are checked on its canonical volumes
    found += intensity_findings(image.array)
    return found


def mask_findings(archive: Path, case_id: str) -> list[tuple[str, str, str]]:
    """Run the mask checks of one case: lesions inside the image, and inside the liver when it has a mask."""
    path = archive / lesion_mask_relpath(case_id)
    if not path.is_file():
        return []
    mask = load_image(path)
    found: list[tuple[str, str, str]] = []
    reference = reference_image(archive, case_id)
    if reference is not None:
        inside = inside_fraction(mask, reference.grid.world_bounds())
        if inside < 1.0:
            found.append(
                (
                    "mask_outside_image",
                    "error",
                    f"{100 * (1 - inside):.1f}% of lesion voxels outside the image",
                )
            )
    liver_path = archive / liver_mask_relpath(case_id)
    if liver_path.is_file():
        liver = load_image(liver_path)
        same_grid = liver.shape == mask.shape and np.allclose(liver.affine, mask.affine)
        on_liver = liver.array if same_grid else resample_labels(liver, mask.grid).array
        for label in (int(v) for v in np.unique(mask.array) if v != 0):
            lesion = mask.array == label
            fraction = float(np.mean(on_liver[lesion] > 0))
            if fraction < 0.5:
                found.append(
                    (
                        "mask_outside_liver",
                        "warning",
                        f"lesion {label}: {100 * fraction:.0f}% inside the liver mask",
                    )
                )
    return found


def run_qc(archive: str | os.PathLike[str], db: str | None = None) -> list[Finding]:
    """Check every series and case of ``archive``, replace the catalog's QC findings, and return them.

    Examples
    --------
    >>> findings = run_qc("archive")                        # doctest: +SKIP
    >>> [f for f in findings if f.severity == "error"]      # doctest: +SKIP
    """
    archive = Path(archive)
    findings: list[Finding] = []
    with open_catalog(archive, db) as catalog:
        with catalog.session() as session, session.begin():
            session.execute(sa.delete(QCFinding))
            for study in session.scalars(sa.select(Study).order_by(Study.case_id)):
                for series in study.series:
                    for check, severity, message in series_findings(archive, series):
                        session.add(
                            QCFinding(
                                study=study, series=series, check=check, severity=severity, message=message
                            )
                        )
                        findings.append(Finding(study.case_id, series.series_key, check, severity, message))
                for check, severity, message in mask_findings(archive, study.case_id):
                    session.add(
                        QCFinding(study=study, series=None, check=check, severity=severity, message=message)
                    )
                    findings.append(Finding(study.case_id, None, check, severity, message))
    return findings


def stored_findings(catalog: Catalog) -> list[Finding]:
    """Return the QC findings stored in a catalog."""
    with catalog.session() as session:
        rows = session.execute(
            sa.select(QCFinding, Study.case_id, Series.series_key)
            .join(Study, QCFinding.study_id == Study.id)
            .outerjoin(Series, QCFinding.series_id == Series.id)
            .order_by(Study.case_id, QCFinding.id)
        ).all()
        return [Finding(case_id, key, f.check, f.severity, f.message) for f, case_id, key in rows]
