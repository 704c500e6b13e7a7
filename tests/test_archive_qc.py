"""Quality control: each check finds its planted defect, and only there."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from lai.archive.catalog import QCFinding, Series, open_catalog
from lai.archive.ingest import ingest
from lai.archive.labels import import_labels, reference_image
from lai.archive.qc import (
    intensity_findings,
    obliquity_deg,
    run_qc,
    slice_steps,
    spacing_findings,
    stored_findings,
)
from lai.cli import app
from lai.imaging import Image, load_image, save_image
from lai.synth.dicom import ExamInfo, write_case_dicom

SHAPE = (12, 10, 6)
BAND = 2000  # every voxel of sequence n lies in [BAND n, BAND (n + 1)): a volume names its sequence
# The defect planted in each sequence's series (None: a clean series).
DEFECTS = {
    "t2w": "empty",
    "t1_in": "saturated",
    "t1_opp": "oblique",
    "t1_pre": None,
    "arterial": "missing_slices",
    "portal": None,
    "delayed": "uneven_spacing",
}
ORDER = tuple(DEFECTS)


def _affine(tilt_deg: float = 0.0) -> np.ndarray:
    angle = np.radians(tilt_deg)
    rotation = np.array(
        [[1.0, 0.0, 0.0], [0.0, np.cos(angle), -np.sin(angle)], [0.0, np.sin(angle), np.cos(angle)]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([2.0, 2.0, 5.0])
    affine[:3, 3] = (-12.0, -10.0, 0.0)
    return affine


def _image(name: str) -> Image:
    n = ORDER.index(name)
    array = BAND * n + 1 + np.arange(np.prod(SHAPE)).reshape(SHAPE) % 997
    if DEFECTS[name] == "empty":
        array = np.full(SHAPE, BAND * n + 7)
    if DEFECTS[name] == "saturated":
        array[:, :4, :] = BAND * n + 1999  # 40% of the voxels clipped at the top
    return Image(array.astype(np.int16), _affine(20.0 if DEFECTS[name] == "oblique" else 0.0))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive whose series each carry the defect DEFECTS names, with labels on the portal phase."""
    root = tmp_path_factory.mktemp("qc")
    exam = ExamInfo(
        case_id="exam-q", patient_key="P-q", centre="centre-06", vendor="Philips", field_strength=3.0,
        study_date=datetime.date(2023, 3, 3), contrast_agent="extracellular", phase_delays={},
        patient_age=51, patient_sex="F", seed=2,
    )  # fmt: skip
    write_case_dicom(root / "in", {name: _image(name) for name in ORDER}, exam)
    for folder in sorted(p for p in (root / "in").rglob("*") if p.is_dir() and list(p.glob("*.dcm"))):
        files = sorted(folder.glob("*.dcm"))
        name = ORDER[int(pydicom.dcmread(files[0]).pixel_array.min()) // BAND]
        if DEFECTS[name] == "missing_slices":
            files[3].unlink()
        if DEFECTS[name] == "uneven_spacing":
            ds = pydicom.dcmread(files[2])
            ds.ImagePositionPatient = [
                float(v) + (0.0, 0.0, 0.4)[i] for i, v in enumerate(ds.ImagePositionPatient)
            ]
            ds.save_as(files[2], enforce_file_format=True)
    ingest(root / "in", root / "archive", centre="centre-06", secret=b"q" * 32, scheduler="sync")
    return root / "archive"


@pytest.fixture
def archive(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(built, copy)
    return copy


def _sequence_of_series(archive: Path) -> dict[str, str]:
    """series_key -> the sequence whose voxels it holds (from the value band)."""
    with open_catalog(archive) as catalog, catalog.session() as session:
        rows = session.execute(sa.select(Series.series_key, Series.nifti_path)).all()
    return {key: ORDER[int(load_image(archive / path).array.min()) // BAND] for key, path in rows}


def test_each_series_check_finds_its_planted_defect_and_nothing_else(archive: Path) -> None:
    sequence_of = _sequence_of_series(archive)
    findings = run_qc(archive)
    found = {(sequence_of[f.series_key], f.check) for f in findings if f.series_key is not None}
    expected = {(name, defect) for name, defect in DEFECTS.items() if defect is not None}
    assert found == expected
    severities = {f.check: f.severity for f in findings}
    assert severities["missing_slices"] == "error" and severities["empty"] == "error"
    assert severities["oblique"] == "warning" and severities["uneven_spacing"] == "warning"


def test_findings_are_stored_in_the_catalog_and_replaced_on_rerun(archive: Path) -> None:
    first = run_qc(archive)
    second = run_qc(archive)
    assert first == second
    with open_catalog(archive) as catalog:
        assert stored_findings(catalog) == second
        with catalog.session() as session:
            assert session.scalar(sa.select(sa.func.count(QCFinding.id))) == len(second)


def _case(archive: Path) -> str:
    return str(pd.read_csv(archive / "cases.csv")["case_id"].iloc[0])


def _labelled(archive: Path, tmp_path: Path, array: np.ndarray, affine: np.ndarray) -> str:
    case_id = _case(archive)
    save_image(Image(array, affine), tmp_path / "masks" / f"{case_id}.nii.gz")
    rows = [{"case_id": case_id, "mask_label": 1, "diagnosis": "met", "reference_standard": "histology"}]
    pd.DataFrame(rows).to_csv(tmp_path / "lesions.csv", index=False)
    import_labels(archive, tmp_path / "lesions.csv", masks=tmp_path / "masks")
    return case_id


def test_a_mask_reaching_outside_its_image_is_an_error(archive: Path, tmp_path: Path) -> None:
    reference = reference_image(archive, _case(archive))
    assert reference is not None
    array = np.zeros((12, 10, 10), np.int16)  # four slices more than the image, above it
    array[4:7, 4:7, 4:8] = 1
    _labelled(archive, tmp_path, array, reference.affine)
    (finding,) = [f for f in run_qc(archive) if f.series_key is None]
    assert (finding.check, finding.severity) == ("mask_outside_image", "error")
    assert finding.message.startswith("50.0%")


def test_a_lesion_outside_the_liver_mask_is_flagged(archive: Path, tmp_path: Path) -> None:
    reference = reference_image(archive, _case(archive))
    assert reference is not None
    lesion = np.zeros(reference.shape, np.int16)
    lesion[1:3, 1:3, 1:3] = 1
    case_id = _labelled(archive, tmp_path, lesion, reference.affine)
    liver = np.zeros(reference.shape, np.uint8)
    liver[5:, 5:, :] = 1  # the lesion lies in the other corner
    save_image(Image(liver, reference.affine), archive / "masks" / case_id / "liver.nii.gz")
    case_findings = [f for f in run_qc(archive) if f.series_key is None]
    assert [(f.check, f.severity) for f in case_findings] == [("mask_outside_liver", "warning")]
    liver[:] = 1
    save_image(Image(liver, reference.affine), archive / "masks" / case_id / "liver.nii.gz")
    assert [f for f in run_qc(archive) if f.series_key is None] == []


def test_cli_qc_lists_findings_and_exits_1_on_errors(archive: Path) -> None:
    result = CliRunner().invoke(app, ["qc", str(archive)])
    assert result.exit_code == 1
    for check in ("missing_slices", "empty", "saturated", "oblique"):
        assert check in result.output


def test_cli_qc_names_a_folder_that_is_not_an_archive(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["qc", str(tmp_path)])
    assert result.exit_code == 1 and "not an archive" in " ".join(result.output.split())


def test_spacing_checks_on_positions() -> None:
    axial = np.array([1.0, 0, 0, 0, 1.0, 0])
    even = np.array([[0, 0, z] for z in (0.0, 5.0, 10.0, 15.0)])
    assert spacing_findings(slice_steps(even, axial)) == []
    gap = np.array([[0, 0, z] for z in (0.0, 5.0, 15.0, 20.0, 25.0)])
    ((check, severity, message),) = spacing_findings(slice_steps(gap, axial))
    assert (check, severity) == ("missing_slices", "error") and message.startswith("1 slice(s) missing")
    uneven = np.array([[0, 0, z] for z in (0.0, 5.0, 10.2, 15.0)])
    assert spacing_findings(slice_steps(uneven, axial))[0][0] == "uneven_spacing"


def test_obliquity_is_the_angle_to_the_nearest_axis() -> None:
    assert obliquity_deg(np.array([1.0, 0, 0, 0, 1.0, 0])) == 0.0
    tilt = np.radians(25.0)
    assert obliquity_deg(np.array([1.0, 0, 0, 0, np.cos(tilt), np.sin(tilt)])) == pytest.approx(25.0)
    assert obliquity_deg(np.array([0, 1.0, 0, 0, 0, -1.0])) == 0.0  # sagittal is not oblique


def test_intensity_checks() -> None:
    assert intensity_findings(np.zeros((3, 3, 3)))[0][:2] == ("empty", "error")
    ramp = np.arange(27.0).reshape(3, 3, 3)
    assert intensity_findings(ramp) == []
    ramp[0] = 26.0
    assert intensity_findings(ramp)[0][:2] == ("saturated", "warning")


def test_cli_qc_names_an_unreachable_catalog_without_its_password(archive: Path) -> None:
    url = "postgresql+psycopg://lai:s3cret@127.0.0.1:1/nowhere"
    result = CliRunner().invoke(app, ["qc", str(archive), "--db", url])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "catalog postgresql+psycopg://lai:***@127.0.0.1:1/nowhere: OperationalError" in output
    assert "s3cret" not in output
