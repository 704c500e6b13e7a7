"""The synthetic exam's DICOM: readable, realistic headers, exact geometry through dcm2niix, determinism."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from lai.imaging.image import Image, load_image
from lai.synth.dicom import ExamInfo, write_case_dicom
from lai.synth.protocols import centre_style

DCM2NIIX = (
    str(Path(sys.executable).parent / "dcm2niix")
    if (Path(sys.executable).parent / "dcm2niix").exists()
    else shutil.which("dcm2niix") or "dcm2niix"
)

# Every voxel of sequence n lies in [2700 n, 2700 n + 2700): a pixel names the sequence it came from.
SEQUENCE_ORDER = (
    "t2w", "t1_in", "t1_opp", "dwi_b0", "dwi", "adc", "t1_pre", "arterial", "portal", "delayed",
    "transitional", "hbp",
)  # fmt: skip
BAND = 2700
GADOXETATE = (
    "t2w",
    "t1_in",
    "t1_opp",
    "dwi_b0",
    "dwi",
    "adc",
    "t1_pre",
    "arterial",
    "portal",
    "transitional",
    "hbp",
)
EXTRACELLULAR = ("t2w", "t1_in", "t1_opp", "dwi_b0", "dwi", "adc", "t1_pre", "arterial", "portal", "delayed")
POST_CONTRAST = {"arterial", "portal", "delayed", "transitional", "hbp"}
DELAYS = {"arterial": 28.0, "portal": 75.0, "delayed": 200.0, "transitional": 190.0, "hbp": 1260.0}


def _affine(spacing: tuple[float, float, float], origin: tuple[float, float, float]) -> np.ndarray:
    """An axial affine (RAS) with the given signed spacings along i, j, k and the given origin."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return affine


# Three grids: RAS-positive axes, LPS-like negative in-plane axes, and descending slices.
GRIDS = {
    "t2w": ((20, 16, 5), _affine((1.5, 1.25, 6.0), (-100.3, -80.7, 20.2))),
    "t1_in": ((20, 16, 5), _affine((1.5, 1.25, 6.0), (-100.3, -80.7, 20.2))),
    "t1_opp": ((20, 16, 5), _affine((1.5, 1.25, 6.0), (-100.3, -80.7, 20.2))),
    "dwi_b0": ((12, 10, 4), _affine((2.5, -2.5, -5.0), (-60.0, 55.5, 40.0))),
    "dwi": ((12, 10, 4), _affine((2.5, -2.5, -5.0), (-60.0, 55.5, 40.0))),
    "adc": ((12, 10, 4), _affine((2.5, -2.5, -5.0), (-60.0, 55.5, 40.0))),
    "dynamic": ((24, 18, 6), _affine((-1.1, -0.9, 3.0), (62.4, 41.1, -30.5))),
}


def _image(sequence: str) -> Image:
    """An int16 image numbering its voxels in array order (no two alike), in the sequence's value band."""
    shape, affine = GRIDS.get(sequence, GRIDS["dynamic"])
    array = BAND * SEQUENCE_ORDER.index(sequence) + np.arange(np.prod(shape)).reshape(shape, order="F")
    return Image(array.astype(np.int16), affine)


def _exam(
    vendor: str,
    agent: str,
    *,
    field_strength: float = 3.0,
    patient_key: str = "P0007",
    case_id: str = "case-0007",
) -> ExamInfo:
    return ExamInfo(
        case_id=case_id,
        patient_key=patient_key,
        centre="centre-02",
        vendor=vendor,
        field_strength=field_strength,
        study_date=datetime.date(2022, 3, 1),
        contrast_agent=agent,
        phase_delays=DELAYS,
        patient_age=63,
        patient_sex="F",
        seed=11,
    )


CASES = {
    "Siemens": (_exam("Siemens", "gadoxetate"), GADOXETATE),
    "GE": (_exam("GE", "extracellular", field_strength=1.5), EXTRACELLULAR),
    "Philips": (_exam("Philips", "gadoxetate", field_strength=1.5), GADOXETATE),
}


def _write(out: Path, exam: ExamInfo, sequences: tuple[str, ...]) -> list[Path]:
    return write_case_dicom(out, {name: _image(name) for name in sequences}, exam)


@pytest.fixture(scope="module", params=sorted(CASES))
def written(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[Path], Path]:
    vendor = request.param
    exam, sequences = CASES[vendor]
    out = tmp_path_factory.mktemp(f"dicom_{vendor}")
    return vendor, _write(out, exam, sequences), out


def _sequence_of(ds: pydicom.Dataset) -> str:
    return SEQUENCE_ORDER[int(ds.pixel_array.min()) // BAND]


def _tm_seconds(value: str) -> float:
    return int(value[:2]) * 3600 + int(value[2:4]) * 60 + float(value[4:])


def _first_file_per_series(paths: list[Path]) -> list[pydicom.Dataset]:
    folders = sorted({path.parent for path in paths})
    return [pydicom.dcmread(sorted(folder.glob("*.dcm"))[0]) for folder in folders]


# --- Files and tags ---


def test_every_file_reads_and_carries_identity_and_acquisition_tags(written) -> None:
    _, paths, _ = written
    required = (
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "InstitutionName", "SeriesDescription",
        "RepetitionTime", "EchoTime", "FlipAngle", "AcquisitionTime", "ImageType", "StudyInstanceUID",
        "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID", "ImagePositionPatient", "PixelSpacing",
    )  # fmt: skip
    assert paths and all(path.is_file() for path in paths)
    for path in paths:
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPClassUID == pydicom.uid.MRImageStorage
        missing = [keyword for keyword in required if not str(ds.get(keyword, "")).strip()]
        assert not missing, f"{path}: missing {missing}"


def test_files_are_exactly_what_pydicom_dcmwrite_makes_of_their_content(written) -> None:
    _, paths, _ = written
    for path in paths[:: max(1, len(paths) // 15)]:
        rewritten = io.BytesIO()
        pydicom.dcmwrite(rewritten, pydicom.dcmread(path), enforce_file_format=True)
        assert rewritten.getvalue() == path.read_bytes(), path


def test_series_are_named_in_the_vendor_style(written) -> None:
    vendor, paths, _ = written
    words = {
        "Siemens": {"t2w": "haste", "arterial": "vibe", "dwi_b0": "ep2d_diff"},
        "GE": {"t2w": "SSFSE", "arterial": "LAVA", "dwi_b0": "DWI"},
        "Philips": {"t2w": "T2W", "arterial": "THRIVE", "dwi_b0": "DWI"},
    }[vendor]
    manufacturers = {"Siemens": "SIEMENS", "GE": "GE MEDICAL SYSTEMS", "Philips": "Philips Medical Systems"}
    for ds in _first_file_per_series(paths):
        assert ds.Manufacturer == manufacturers[vendor]
        if _sequence_of(ds) in words:
            assert words[_sequence_of(ds)] in ds.SeriesDescription


def test_two_centres_with_one_vendor_may_name_series_differently(tmp_path: Path) -> None:
    styles = {centre_style(f"centre-{n:02d}"): f"centre-{n:02d}" for n in range(1, 20)}
    assert set(styles) == {0, 1}
    descriptions = []
    for centre in styles.values():
        exam = dataclasses.replace(_exam("Siemens", "extracellular"), centre=centre)
        paths = _write(tmp_path / centre, exam, ("t2w", "t1_in", "t1_pre", "arterial"))
        descriptions.append([ds.SeriesDescription for ds in _first_file_per_series(paths)])
    assert descriptions[0] != descriptions[1]


def test_contrast_agent_is_written_on_post_contrast_series_only(written) -> None:
    vendor, paths, _ = written
    brands = {"gadoxetate": {"Eovist", "Primovist"}, "extracellular": {"Dotarem", "Gadavist", "MultiHance"}}
    agent = CASES[vendor][0].contrast_agent
    for ds in _first_file_per_series(paths):
        if _sequence_of(ds) in POST_CONTRAST:
            assert ds.ContrastBolusAgent in brands[str(agent)]
            assert ds.ContrastBolusStartTime
        else:
            assert "ContrastBolusAgent" not in ds


def test_dwi_images_carry_their_b_value_in_the_standard_and_the_vendor_private_tag(written) -> None:
    vendor, paths, _ = written
    private = {"Siemens": (0x0019, "SIEMENS MR HEADER", 0x0C), "GE": (0x0043, "GEMS_PARM_01", 0x39)}
    private["Philips"] = (0x2001, "Philips Imaging DD 001", 0x03)
    group, creator, offset = private[vendor]
    seen = defaultdict(set)
    for path in paths:
        ds = pydicom.dcmread(path)
        sequence = _sequence_of(ds)
        if sequence not in ("dwi_b0", "dwi"):
            assert "DiffusionBValue" not in ds
            continue
        vendor_b = ds.get_private_item(group, offset, creator).value
        vendor_b = vendor_b[0] if vendor == "GE" else vendor_b
        assert float(vendor_b) == ds.DiffusionBValue
        seen[sequence].add(ds.DiffusionBValue)
        assert "DIFFUSION" in ds.ImageType
    assert len(seen["dwi_b0"]) == 1 and seen["dwi_b0"] <= {0.0, 50.0}
    assert seen["dwi"] == {800.0}


def test_the_simulated_b_values_are_the_ones_written(tmp_path: Path) -> None:
    exam = dataclasses.replace(_exam("Siemens", None), dwi_b_values=(0.0, 600.0))
    paths = _write(tmp_path, exam, ("dwi_b0", "dwi"))
    b_values = {}
    for path in paths:
        ds = pydicom.dcmread(path)
        b_values.setdefault(_sequence_of(ds), set()).add(ds.DiffusionBValue)
        assert "600" in ds.SeriesDescription
    assert b_values == {"dwi_b0": {0.0}, "dwi": {600.0}}


def test_adc_series_is_derived_diffusion(written) -> None:
    _, paths, _ = written
    (adc,) = [ds for ds in _first_file_per_series(paths) if _sequence_of(ds) == "adc"]
    assert adc.ImageType[0] == "DERIVED" and "ADC" in adc.ImageType and "DIFFUSION" in adc.ImageType


def test_series_sit_in_one_folder_each_named_by_series_number(written) -> None:
    _, paths, out = written
    folders = defaultdict(list)
    for path in paths:
        folders[path.parent].append(pydicom.dcmread(path))
    for folder, datasets in folders.items():
        assert folder.parent.parent.name == "case-0007" and folder.parent.parent.parent == out
        assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
        assert folder.name.startswith(f"{datasets[0].SeriesNumber:03d}_")
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "temporary folders left behind"


# --- Time ---


def test_dynamic_phases_are_timed_from_injection_in_phase_order(written) -> None:
    vendor, paths, _ = written
    times = {}
    for ds in _first_file_per_series(paths):
        sequence = _sequence_of(ds)
        times[sequence] = _tm_seconds(ds.AcquisitionTime)
        if sequence in POST_CONTRAST and sequence != "hbp":
            delay = times[sequence] - _tm_seconds(ds.ContrastBolusStartTime)
            assert delay == pytest.approx(DELAYS[sequence], abs=0.01)
    dynamic = ("t1_pre", "arterial", "portal", "delayed", "transitional", "hbp")
    expected = [name for name in dynamic if name in CASES[vendor][1]]
    assert sorted(expected, key=times.__getitem__) == expected
    assert len({times[name] for name in expected}) == len(expected)


def test_t2w_and_dwi_move_after_the_hepatobiliary_phase_when_its_wait_is_too_short(tmp_path: Path) -> None:
    exam = dataclasses.replace(_exam("GE", "gadoxetate"), phase_delays={**DELAYS, "hbp": 300.0})
    paths = _write(tmp_path, exam, ("t2w", "dwi_b0", "dwi", "t1_pre", "arterial", "portal", "hbp"))
    series = sorted(_first_file_per_series(paths), key=lambda ds: ds.SeriesNumber)
    assert [_sequence_of(ds) for ds in series] == ["t1_pre", "arterial", "portal", "hbp", "t2w", "dwi_b0"]
    hbp = series[3]
    assert _tm_seconds(hbp.AcquisitionTime) - _tm_seconds(hbp.ContrastBolusStartTime) == pytest.approx(300.0)
    times = [_tm_seconds(ds.AcquisitionTime) for ds in series]
    assert times == sorted(times)


def test_series_numbers_follow_acquisition_time(written) -> None:
    _, paths, _ = written
    series = sorted(_first_file_per_series(paths), key=lambda ds: ds.SeriesNumber)
    times = [_tm_seconds(ds.AcquisitionTime) for ds in series]
    assert times == sorted(times)
    assert len({ds.SeriesNumber for ds in series}) == len(series)


def test_dynamic_series_carry_their_temporal_position(written) -> None:
    _, paths, _ = written
    dynamic = [ds for ds in _first_file_per_series(paths) if _sequence_of(ds) in POST_CONTRAST | {"t1_pre"}]
    dynamic.sort(key=lambda ds: _tm_seconds(ds.AcquisitionTime))
    assert [int(ds.TemporalPositionIdentifier) for ds in dynamic] == list(range(1, len(dynamic) + 1))
    assert {int(ds.NumberOfTemporalPositions) for ds in dynamic} == {len(dynamic)}


@pytest.mark.parametrize(("field_strength", "in_phase", "opposed"), [(3.0, 2.3, 1.15), (1.5, 4.6, 2.3)])
def test_in_and_opposed_phase_echo_times_follow_the_field_strength(
    tmp_path: Path, field_strength: float, in_phase: float, opposed: float
) -> None:
    paths = _write(tmp_path, _exam("Siemens", None, field_strength=field_strength), ("t1_in", "t1_opp"))
    echo = {_sequence_of(ds): float(ds.EchoTime) for ds in _first_file_per_series(paths)}
    assert echo == {"t1_in": in_phase, "t1_opp": opposed}
    assert {float(ds.MagneticFieldStrength) for ds in _first_file_per_series(paths)} == {field_strength}


# --- Geometry through dcm2niix ---


def _volumes(nifti_path: Path) -> list[Image]:
    """The 3D volumes of a NIfTI file; 3D files through LAI's own reader."""
    nifti = nib.load(nifti_path)
    if len(nifti.shape) == 3 or nifti.shape[3] == 1:
        return [load_image(nifti_path)]
    data = np.asanyarray(nifti.dataobj)
    return [Image(data[..., v], nifti.affine) for v in range(data.shape[3])]


def _resampled_exactly(converted: Image, original: Image) -> np.ndarray | None:
    """Return ``converted`` read at the original's voxel centres, or None unless the grids coincide to 1e-3 mm."""
    to_converted = np.linalg.inv(converted.affine) @ original.affine
    step = np.round(to_converted[:3, :3])
    shift = np.round(to_converted[:3, 3])
    if sorted(np.abs(step).sum(axis=0)) != [1, 1, 1] or sorted(np.abs(step).sum(axis=1)) != [1, 1, 1]:
        return None
    index = np.indices(original.shape).reshape(3, -1)
    mapped = (step @ index + shift[:, None]).astype(int)
    if (mapped < 0).any() or (mapped >= np.array(converted.shape)[:, None]).any():
        return None
    world_original = original.affine[:3, :3] @ index + original.affine[:3, 3:]
    world_converted = converted.affine[:3, :3] @ mapped + converted.affine[:3, 3:]
    if np.abs(world_original - world_converted).max() > 1e-3:
        return None
    return converted.array[tuple(mapped)].reshape(original.shape)


def test_dcm2niix_reconstructs_every_image_in_world_space(written, tmp_path: Path) -> None:
    vendor, _, out = written
    sequences = CASES[vendor][1]
    result = subprocess.run(
        [DCM2NIIX, "-z", "y", "-b", "y", "-f", "%s", "-o", str(tmp_path), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    volumes = [volume for path in sorted(tmp_path.glob("*.nii.gz")) for volume in _volumes(path)]
    assert len(volumes) == len(sequences)
    for name in sequences:
        original = _image(name)
        matches = [
            v
            for v in volumes
            if (r := _resampled_exactly(v, original)) is not None and (r == original.array).all()
        ]
        assert len(matches) == 1, (
            f"{vendor} {name}: {len(matches)} converted volumes match it voxel for voxel"
        )
    (bval,) = tmp_path.glob("*.bval")  # the two-b-value DWI series, read back from the headers
    low = 50.0 if vendor == "Siemens" else 0.0
    assert [float(b) for b in bval.read_text().split()] == [low, 800.0]
    sidecars = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert {sidecar["Manufacturer"] for sidecar in sidecars} == {
        {"Siemens": "Siemens", "GE": "GE", "Philips": "Philips"}[vendor]
    }


def test_a_generated_exam_converts_back_to_its_nifti_images_through_dcm2niix(tmp_path: Path) -> None:
    from lai.data import Dataset
    from lai.synth import generate_cohort

    dataset: Dataset = generate_cohort(
        tmp_path / "nifti", patients=1, centres=1, seed=4, dicom_dir=tmp_path / "dicom", scheduler="sync"
    )
    (case,) = dataset.iter_cases()
    converted = tmp_path / "converted"
    converted.mkdir()
    result = subprocess.run(
        [DCM2NIIX, "-z", "y", "-f", "%s_%t", "-o", str(converted), str(tmp_path / "dicom")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    volumes = [volume for path in sorted(converted.glob("*.nii.gz")) for volume in _volumes(path)]
    assert len(volumes) == len(case.sequences)
    for sequence in case.sequences:
        original = load_image(dataset.image_path(case.case_id, sequence))
        matches = [
            v
            for v in volumes
            if (r := _resampled_exactly(v, original)) is not None and (r == original.array).all()
        ]
        assert len(matches) == 1, f"{sequence}: {len(matches)} converted volumes match it voxel for voxel"


# --- Identity and determinism ---


def _identity(paths: list[Path]) -> dict[str, str]:
    ds = pydicom.dcmread(paths[0])
    keys = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "InstitutionName")
    return {key: str(ds.get(key)) for key in keys}


def test_writing_twice_gives_identical_files(tmp_path: Path) -> None:
    exam, sequences = CASES["GE"]
    first = _write(tmp_path / "a", exam, sequences)
    second = _write(tmp_path / "b", exam, sequences)
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))


def test_rewriting_in_place_replaces_series_whole(tmp_path: Path) -> None:
    exam, sequences = CASES["Siemens"]
    first = _write(tmp_path, exam, sequences)
    before = {path: path.read_bytes() for path in first}
    again = _write(tmp_path, exam, sequences)
    assert again == first
    assert {path: path.read_bytes() for path in again} == before
    assert sorted(tmp_path.rglob("*.dcm")) == sorted(first)


def test_identity_is_realistic_and_consistent_with_age_and_study_date(written) -> None:
    vendor, paths, _ = written
    exam = CASES[vendor][0]
    ds = pydicom.dcmread(paths[0])
    family, given = str(ds.PatientName).split("^")[:2]
    assert family and given and family[0].isupper() and given[0].isupper()
    birth = datetime.datetime.strptime(ds.PatientBirthDate, "%Y%m%d").date()
    study = datetime.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
    age = study.year - birth.year - ((study.month, study.day) < (birth.month, birth.day))
    assert age == exam.patient_age == int(ds.PatientAge.rstrip("Y"))
    assert ds.PatientAge == "063Y" and ds.PatientSex == "F"
    assert ds.PatientID.isdigit() and len(ds.PatientID) >= 6
    assert 35 < float(ds.PatientWeight) < 160 and 1.4 < float(ds.PatientSize) < 2.1
    for keyword in (
        "InstitutionAddress",
        "ReferringPhysicianName",
        "OperatorsName",
        "AccessionNumber",
        "StationName",
    ):
        assert str(ds.get(keyword, "")).strip(), keyword


def test_identity_follows_the_patient_and_differs_between_patients(tmp_path: Path) -> None:
    sequences = ("t2w",)
    exam = _exam("Philips", None)
    same = _exam("Philips", None, case_id="case-0099")  # another exam of the same patient
    other = _exam("Philips", None, patient_key="P0008", case_id="case-0008")
    a, b, c = (_write(tmp_path / e.case_id, e, sequences) for e in (exam, same, other))
    assert _identity(a) == _identity(b)
    differing = {key for key, value in _identity(a).items() if _identity(c)[key] != value}
    assert {"PatientName", "PatientID", "PatientBirthDate"} <= differing
    uids = [pydicom.dcmread(paths[0]).StudyInstanceUID for paths in (a, b, c)]
    assert len(set(uids)) == 3


def test_uids_are_unique_per_image_and_shared_per_study(written) -> None:
    _, paths, _ = written
    datasets = [pydicom.dcmread(path, stop_before_pixels=True) for path in paths]
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(paths)
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert len({ds.FrameOfReferenceUID for ds in datasets}) == 1
    assert len({ds.SeriesInstanceUID for ds in datasets}) == len({path.parent for path in paths})
    assert all(ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID for ds in datasets)


# --- Errors ---


def test_post_contrast_images_without_a_contrast_agent_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="contrast_agent"):
        _write(tmp_path, _exam("GE", None), ("t1_pre", "arterial"))
    assert not list(tmp_path.iterdir())


def test_non_integer_images_are_refused_naming_the_sequence(tmp_path: Path) -> None:
    image = Image(np.zeros((4, 4, 2), np.float32), np.eye(4))
    with pytest.raises(ValueError, match=r"t2w.*integer"):
        write_case_dicom(tmp_path, {"t2w": image}, _exam("GE", None))


def test_a_series_that_cannot_be_written_leaves_no_partial_folder(tmp_path: Path) -> None:
    sheared = np.eye(4)
    sheared[0, 2] = 0.5  # slices stacked obliquely to the image plane
    images = {"t2w": _image("t2w"), "t1_pre": Image(_image("t1_pre").array, sheared)}
    with pytest.raises(ValueError, match="sheared"):
        write_case_dicom(tmp_path, images, _exam("Siemens", None))
    entries = [p for p in tmp_path.rglob("*") if p.is_dir()]
    series_folders = [p for p in entries if p.parent.name.startswith("MR_")]
    assert len(series_folders) == 1 and not series_folders[0].name.startswith(".")
