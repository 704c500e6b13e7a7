"""Conversion: the archive's volumes equal plain dcm2niix on the original files; dynamic series split right."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import sqlalchemy as sa

from lai.archive.catalog import Series, open_catalog
from lai.archive.convert import ConversionError, convert_series, dcm2niix_command, scrub_sidecar
from lai.archive.ingest import ingest
from lai.archive.scan import SPLIT_KEYS, SourceFile, scan_dicom, split_volumes
from lai.imaging.image import Image
from lai.synth.dicom import ExamInfo, write_case_dicom

SECRET = b"convert-test-secret-32-bytes-long"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dicom"
REAL = {
    "ge_dwi": DATA / "dcm_qa_ge" / "01_Ax_DWI_TENSOR_R2" / "In",
    "siemens_fieldmap": DATA / "dcm_qa_fmap" / "Siemens_2_gre_field_magph" / "In",
    "siemens_enhanced": DATA / "dcm_qa_enh" / "Siemens_XA10_6" / "In",
}
SEQUENCES = ("t2w", "dwi_b0", "dwi", "t1_pre", "arterial", "portal")
DYNAMIC = ("t1_pre", "arterial", "portal")


def _exam() -> ExamInfo:
    return ExamInfo(
        case_id="exam-c",
        patient_key="P-c",
        centre="centre-03",
        vendor="GE",
        field_strength=3.0,
        study_date=datetime.date(2020, 1, 7),
        contrast_agent="extracellular",
        phase_delays={},
        patient_age=70,
        patient_sex="F",
        seed=5,
    )


def _images() -> dict[str, Image]:
    """Oblique-free grids with descending slices and negative in-plane axes, unique voxel values."""
    affine = np.array(
        [[-1.4, 0.0, 0.0, 60.0], [0.0, -1.2, 0.0, 40.0], [0.0, 0.0, -4.0, 30.0], [0.0, 0.0, 0.0, 1.0]]
    )
    shape = (14, 10, 5)
    return {
        name: Image((np.arange(np.prod(shape)).reshape(shape, order="F") + 1000 * i).astype(np.int16), affine)
        for i, name in enumerate(SEQUENCES)
    }


def _volumes(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    image = nib.load(path)
    data = np.asanyarray(image.dataobj)
    stack = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
    return [(v, np.asarray(image.affine)) for v in stack]


def _plain_dcm2niix(dicom: Path, out: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    out.mkdir(parents=True)
    result = subprocess.run(
        [dcm2niix_command(), "-z", "y", "-f", "%s_%t_%p", "-o", str(out), str(dicom)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [v for path in sorted(out.glob("*.nii.gz")) for v in _volumes(path)]


def _matches(volume: tuple[np.ndarray, np.ndarray], references: list[tuple[np.ndarray, np.ndarray]]) -> int:
    array, affine = volume
    return sum(
        a.shape == array.shape and np.array_equal(a, array) and np.allclose(f, affine, rtol=0, atol=1e-6)
        for a, f in references
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A GE exam whose three dynamic phases are stored as ONE series (one UID, TemporalPositionIdentifier)."""
    root = tmp_path_factory.mktemp("convert")
    files = write_case_dicom(root / "separate", _images(), _exam())
    merged_uid = None
    for path in files:
        ds = pydicom.dcmread(path)
        if "TemporalPositionIdentifier" in ds:
            merged_uid = merged_uid or ds.SeriesInstanceUID
            ds.SeriesInstanceUID = merged_uid
            ds.SeriesNumber = 900
            ds.SeriesDescription = "Ax LAVA dynamic multiphase"
        target = root / "merged" / path.relative_to(root / "separate")
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
    archive = root / "archive"
    report = ingest(root / "merged", archive, centre="centre-03", secret=SECRET, scheduler="sync")
    assert report.failures == () and report.problems == ()
    return root, archive, root / "merged"


def test_multiphase_series_is_split_into_one_part_per_temporal_position(
    synthetic: tuple[Path, Path, Path],
) -> None:
    _, archive, merged = synthetic
    scan = scan_dicom(merged)
    parts = [s for s in scan.series if s.series_number == 900]
    assert [(s.part, s.split_by, len(s.files)) for s in parts] == [
        (1, "TemporalPositionIdentifier", 5),
        (2, "TemporalPositionIdentifier", 5),
        (3, "TemporalPositionIdentifier", 5),
    ]
    with open_catalog(archive) as catalog, catalog.session() as session:
        rows = session.scalars(
            sa.select(Series).where(Series.series_number == 900).order_by(Series.part)
        ).all()
        assert [r.part for r in rows] == [1, 2, 3]
        assert len({r.series_key.rsplit("-p", 1)[0] for r in rows}) == 1


def test_split_parts_hold_the_original_phases_voxel_for_voxel(synthetic: tuple[Path, Path, Path]) -> None:
    _, archive, _ = synthetic
    images = _images()
    with open_catalog(archive) as catalog, catalog.session() as session:
        rows = session.scalars(
            sa.select(Series).where(Series.series_number == 900).order_by(Series.part)
        ).all()
        paths = [archive / r.nifti_path for r in rows]
    for name, path in zip(DYNAMIC, paths, strict=True):
        ((array, _),) = _volumes(path)
        # dcm2niix writes the slices in DICOM order; the synthetic images have descending slices
        assert np.array_equal(np.sort(array, axis=None), np.sort(images[name].array, axis=None))
        assert array.min() == images[name].array.min()


def test_every_converted_volume_equals_plain_dcm2niix_on_the_original_files(
    synthetic: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, archive, _ = synthetic
    references = _plain_dcm2niix(root / "separate", tmp_path / "plain")
    converted = sorted((archive / "images").rglob("*.nii.gz")) + sorted(
        (archive / "series").rglob("*.nii.gz")
    )
    volumes = [v for path in converted for v in _volumes(path)]
    assert len(volumes) >= len(SEQUENCES)
    for volume in volumes:
        assert _matches(volume, references) >= 1


@pytest.mark.parametrize("layout", ["separate", "merged"])
def test_every_canonical_image_holds_its_sequence(
    layout: str, synthetic: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, archive, _ = synthetic
    if layout == "separate":
        archive = tmp_path / "archive"
        ingest(root / "separate", archive, centre="centre-03", secret=SECRET, scheduler="sync")
    (case,) = list((archive / "images").iterdir())
    found = {}
    for path in sorted(case.glob("*.nii.gz")):
        ((array, _),) = _volumes(path)
        found[path.name.removesuffix(".nii.gz")] = SEQUENCES[int(array.min()) // 1000]
    assert found == {name: name for name in SEQUENCES}


def test_dwi_with_two_b_values_becomes_dwi_b0_and_dwi(synthetic: tuple[Path, Path, Path]) -> None:
    _, archive, _ = synthetic
    images = _images()
    (case,) = [p for p in (archive / "images").iterdir()]
    for name in ("dwi_b0", "dwi"):
        ((array, _),) = _volumes(case / f"{name}.nii.gz")
        assert np.array_equal(np.sort(array, axis=None), np.sort(images[name].array, axis=None))


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_series_convert_like_plain_dcm2niix(name: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    report = ingest(REAL[name], archive, centre="centre-qa", secret=SECRET, scheduler="sync")
    assert report.failures == () and report.converted == 1
    references = _plain_dcm2niix(REAL[name], tmp_path / "plain")
    ours = [v for path in sorted(archive.rglob("*.nii.gz")) for v in _volumes(path)]
    assert ours and all(_matches(v, references) >= 1 for v in ours)
    assert len(ours) >= len(references)


def test_sidecars_are_scrubbed_of_identity_and_institution(synthetic: tuple[Path, Path, Path]) -> None:
    _, archive, _ = synthetic
    sidecars = sorted((archive / "series").rglob("*.json"))
    assert sidecars
    for path in sidecars:
        keys = set(json.loads(path.read_text()))
        assert "RepetitionTime" in keys
        assert not {k for k in keys if k.startswith(("Patient", "Institution")) or k.endswith("UID")}


def test_scrub_sidecar_removes_identifying_keys_and_keeps_physics(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {"PatientName": "X", "InstitutionName": "H", "StudyInstanceUID": "1.2", "AcquisitionDateTime": "d",
             "ReferringPhysicianName": "Y", "EchoTime": 0.01, "FlipAngle": 12}
        )
    )  # fmt: skip
    scrub_sidecar(path)
    assert json.loads(path.read_text()) == {"EchoTime": 0.01, "FlipAngle": 12}


def _file(position: float, split: tuple[str | None, str | None, str | None]) -> SourceFile:
    return SourceFile(Path("x"), "x", "st", "se", 1, None, (0.0, 0.0, position), split)


def test_split_keeps_a_diffusion_series_whole() -> None:
    # two b-value volumes at the same time and acquisition number: one series for dcm2niix
    files = [_file(z, (None, "1", "101500")) for _ in range(2) for z in (0.0, 5.0, 10.0)]
    assert split_volumes(files) is None


def test_split_ignores_per_slice_times_of_a_2d_acquisition() -> None:
    files = [_file(z, (None, "1", f"1015{i:02d}")) for i, z in enumerate((0.0, 5.0, 10.0, 0.0, 5.0, 10.0))]
    assert split_volumes(files) is None


def test_split_by_acquisition_time_when_nothing_else_tells_volumes_apart() -> None:
    files = [_file(z, (None, "1", t)) for t in ("101500", "101530") for z in (0.0, 5.0)]
    split = split_volumes(files)
    assert split is not None and split[0] == SPLIT_KEYS[2]
    assert [[f.split_values[2] for f in part] for part in split[1]] == [["101500"] * 2, ["101530"] * 2]


def test_conversion_of_a_folder_without_images_fails_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "no_dicom"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image\n")
    with pytest.raises(ConversionError, match="no_dicom"):
        convert_series(empty, tmp_path)


def test_dcm2niix_is_called_directly_not_through_a_python_launcher() -> None:
    command = Path(dcm2niix_command())
    assert command.is_file()
    assert command.read_bytes()[:2] != b"#!"  # the binary itself, no script starting Python
