"""DICOM output of a synthetic exam: one MR Image Storage file per slice, with realistic headers.

The files are the test input of the archive stage, so they carry what real exams carry: a patient
identity and study details for de-identification to remove, vendor-specific series naming and private
tags for series and phase recognition, contrast and timing tags that order the dynamic phases, and exact
geometry for dcm2niix. Everything is derived deterministically from the exam's patient key and seed.

Writing is fast because each series is encoded once: the constant elements of a series are encoded
with pydicom a single time, and each slice only encodes the handful of elements that change (UID,
instance number, position, b-value, pixels) and joins the bytes in tag order, which is what
``pydicom.dcmwrite(..., enforce_file_format=True)`` would produce for the full dataset.
"""

from __future__ import annotations

import bisect
import copy
import datetime
import hashlib
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import BaseTag
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    PYDICOM_ROOT_UID,
    UID,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from lai.imaging.image import Image
from lai.synth.protocols import (
    GYROMAGNETIC_MHZ_PER_T,
    SeriesProtocol,
    centre_style,
    scanner,
    series_protocol,
)

UID_ROOT = PYDICOM_ROOT_UID
"""Root of every UID written; UIDs are hashes of the exam identity under it, so reruns reproduce them."""

CONTRAST_AGENTS: dict[str, tuple[str, ...]] = {
    "gadoxetate": ("Primovist", "Eovist"),
    "extracellular": ("Dotarem", "Gadavist", "MultiHance"),
}
"""Trade names written in ContrastBolusAgent per agent class; a centre always uses the same one."""

DEFAULT_PHASE_DELAYS: dict[str, float] = {
    "arterial": 25.0,
    "portal": 70.0,
    "delayed": 180.0,
    "transitional": 180.0,
    "hbp": 1200.0,
}
"""Seconds after injection used for a post-contrast phase that ``ExamInfo.phase_delays`` omits."""

POST_CONTRAST: tuple[str, ...] = ("arterial", "portal", "delayed", "transitional", "hbp")
DYNAMIC: tuple[str, ...] = ("t1_pre", *POST_CONTRAST)

_CHARSET = "ISO_IR 100"
# Elements that differ per slice, in tag order: SOPInstanceUID, InstanceNumber, ImagePositionPatient,
# SliceLocation, PixelData.
_SLICE_TAGS = (0x00080018, 0x00200013, 0x00200032, 0x00201041, 0x7FE00010)
_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_GAP_S = 30.0  # between the end of one series and the start of the next (planning, breath instructions)

_FAMILY_NAMES = (
    "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meyer", "Schmidt", "Schneider", "Fischer", "Weber",
    "Müller", "Wagner", "Becker", "Hoffmann", "Dubois", "Martin", "Bernard", "Moreau", "Laurent", "Rossi",
    "Russo", "Ferrari", "Esposito", "Bianchi", "García", "Fernández", "López", "Martínez", "Smith",
    "Johnson", "Brown", "Taylor", "Wilson", "Evans", "Nielsen", "Hansen", "Andersson", "Nowak", "Kowalski",
    "Novák", "Peeters", "Maes", "Horvát", "Papadopoulos", "O'Brien", "Murphy",
)  # fmt: skip
_GIVEN_NAMES = {
    "F": ("Maria", "Anna", "Sophie", "Emma", "Julia", "Laura", "Elena", "Claire", "Ingrid", "Sara",
          "Hanna", "Marta", "Giulia", "Lucía", "Margaret", "Helen", "Agnieszka", "Eva", "Ines", "Chloé"),
    "M": ("Jan", "Peter", "Thomas", "Michael", "Luca", "Marco", "Pierre", "Jean", "Lars", "Erik",
          "Pablo", "Javier", "David", "James", "Robert", "Piotr", "Tomás", "Stefan", "Hans", "Kevin"),
}  # fmt: skip
_CITIES = (
    ("Leiden", "2333 ZA", "Albinusdreef"), ("Heidelberg", "69120", "Im Neuenheimer Feld"),
    ("Lyon", "69004", "Grande Rue de la Croix-Rousse"), ("Padova", "35128", "Via Giustiniani"),
    ("Valencia", "46026", "Avinguda de Fernando Abril Martorell"), ("Leeds", "LS9 7TF", "Beckett Street"),
    ("Aarhus", "8200", "Palle Juul-Jensens Boulevard"), ("Leuven", "3000", "Herestraat"),
    ("Graz", "8036", "Auenbruggerplatz"), ("Kraków", "30-688", "Jakubowskiego"),
)  # fmt: skip
_HOSPITAL_KINDS = ("University Hospital", "General Hospital", "Medical Centre", "Clinic")


@dataclass(frozen=True)
class ExamInfo:
    """What the DICOM headers of one synthetic exam say about the patient, the centre and the scan.

    ``patient_key`` is LAI's pseudonymous patient id: the fake identity written in the headers (name,
    MRN, birth date, ...) is derived from it and ``seed`` deterministically, so the same patient gets
    the same identity in every exam and rerun. ``phase_delays`` maps post-contrast phases to seconds
    after injection; phases it omits take :data:`DEFAULT_PHASE_DELAYS`. ``dwi_b_values`` are the
    (low, high) b-values in s/mm^2 that ``dwi_b0`` and ``dwi`` were simulated with; None writes the
    vendor's usual ones (50/800 Siemens, 0/800 GE and Philips).
    """

    case_id: str
    patient_key: str
    centre: str
    vendor: str
    field_strength: float
    study_date: datetime.date
    contrast_agent: str | None
    phase_delays: Mapping[str, float]
    patient_age: int
    patient_sex: str
    seed: int
    dwi_b_values: tuple[float, float] | None = None


@dataclass(frozen=True)
class _Series:
    """One series to write: its number, the images stacked in it (one per volume) and its timing."""

    number: int
    sequences: tuple[str, ...]
    protocol: SeriesProtocol
    start: float  # acquisition time, seconds after midnight
    b_values: tuple[int, ...] | None  # per volume, for DWI
    sequence_names: tuple[str, ...]  # per volume (Siemens names the b-value in it)
    temporal_position: int | None
    temporal_positions: int


def write_case_dicom(out_dir: Path, images: Mapping[str, Image], exam: ExamInfo) -> list[Path]:
    """Write an exam's images as DICOM files, one per slice, and return their paths in series order.

    Parameters
    ----------
    out_dir
        Root of the DICOM tree. Files go to
        ``out_dir/<case_id>/MR_<study date>/<series number>_<description>/IM_0001.dcm``.
    images
        Canonical sequence name -> integer Image (int16 range; ``adc`` in 1e-6 mm^2/s). ``dwi_b0`` and
        ``dwi`` on the same grid are written as one two-b-value series, as scanners do.
    exam
        Patient, centre, scanner and timing (see :class:`ExamInfo`).

    Returns
    -------
    list of Path
        Every file written.

    Notes
    -----
    Each series is written into a temporary folder and renamed into place, so an interrupted run never
    leaves half a series; rewriting an exam replaces its series.
    """
    _check_exam(images, exam)
    study = _study_dataset(exam)
    study_dir = Path(out_dir) / exam.case_id / f"MR_{exam.study_date:%Y%m%d}"
    paths: list[Path] = []
    series_plan, injection = _schedule(images, exam)
    for series in series_plan:
        paths.extend(_write_series(study_dir, series, images, study, exam, injection))
    return paths


# --- Validation ---


def _check_exam(images: Mapping[str, Image], exam: ExamInfo) -> None:
    """Raise ``ValueError`` naming the case when the exam or its images cannot be written."""
    scanner(exam.vendor, exam.field_strength)  # raises for an unknown vendor or field strength
    unknown = sorted(set(images) - {"t2w", "t1_in", "t1_opp", "dwi_b0", "dwi", "adc", *DYNAMIC})
    if unknown:
        msg = f"Case {exam.case_id}: unknown sequence names {unknown}"
        raise ValueError(msg)
    if exam.patient_sex not in ("F", "M"):
        msg = f"Case {exam.case_id}: patient_sex must be 'F' or 'M', got {exam.patient_sex!r}"
        raise ValueError(msg)
    post = [name for name in POST_CONTRAST if name in images]
    if post and exam.contrast_agent not in CONTRAST_AGENTS:
        msg = (
            f"Case {exam.case_id}: post-contrast images {post} need contrast_agent in "
            f"{sorted(CONTRAST_AGENTS)}, got {exam.contrast_agent!r}"
        )
        raise ValueError(msg)
    if "hbp" in images and exam.contrast_agent != "gadoxetate":
        msg = f"Case {exam.case_id}: a hepatobiliary phase needs gadoxetate, got {exam.contrast_agent!r}"
        raise ValueError(msg)
    for name, image in images.items():
        array = image.array
        if not np.issubdtype(array.dtype, np.integer):
            msg = f"Case {exam.case_id}, {name}: DICOM pixels must be integers, got dtype {array.dtype}"
            raise ValueError(msg)
        if array.size and (array.min() < -32768 or array.max() > 32767):
            msg = f"Case {exam.case_id}, {name}: values {array.min()}..{array.max()} exceed int16"
            raise ValueError(msg)


# --- Identity, study and equipment ---


def _rng(*parts: object) -> np.random.Generator:
    """Return a generator seeded by a stable hash of ``parts`` (Python's ``hash`` varies per process)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _person(rng: np.random.Generator, sex: str | None = None, prefix: str = "") -> str:
    """Return a DICOM person name ``Family^Given^^Prefix`` drawn from the built-in lists."""
    sex = sex or _pick(rng, ("F", "M"))
    name = f"{_pick(rng, _FAMILY_NAMES)}^{_pick(rng, _GIVEN_NAMES[sex])}"
    return f"{name}^^{prefix}" if prefix else name


def _birth_date(rng: np.random.Generator, age: int, study_date: datetime.date) -> datetime.date:
    """Return a birth date at which a person is exactly ``age`` years old on ``study_date``."""

    def years_before(day: datetime.date, years: int) -> datetime.date:
        try:
            return day.replace(year=day.year - years)
        except ValueError:  # 29 February in a non-leap year
            return day.replace(year=day.year - years, day=28)

    latest = years_before(study_date, age)
    earliest = years_before(study_date, age + 1) + datetime.timedelta(days=1)
    return earliest + datetime.timedelta(days=int(rng.integers((latest - earliest).days + 1)))


def _study_dataset(exam: ExamInfo) -> Dataset:
    """Return the elements every image of the exam shares: patient, study, equipment and institution."""
    person = _rng("patient", exam.patient_key, exam.seed)
    visit = _rng("study", exam.case_id, exam.patient_key, exam.seed)
    site = _rng("centre", exam.centre)
    scan = scanner(exam.vendor, exam.field_strength)
    uid_parts = [exam.patient_key, str(exam.seed), exam.case_id]

    ds = Dataset()
    ds.SpecificCharacterSet = _CHARSET
    ds.SOPClassUID = MRImageStorage
    ds.Modality = "MR"
    # Patient: what de-identification must remove or replace.
    ds.PatientName = _person(person, exam.patient_sex)
    ds.PatientID = f"{int(person.integers(10_000_000, 99_999_999))}"
    ds.IssuerOfPatientID = f"{exam.centre.upper().replace('-', '')}^MRN"
    birth = _birth_date(person, exam.patient_age, exam.study_date)
    ds.PatientBirthDate = f"{birth:%Y%m%d}"
    ds.PatientSex = exam.patient_sex
    ds.PatientAge = f"{exam.patient_age:03d}Y"
    mean_weight, mean_height = (70.0, 1.65) if exam.patient_sex == "F" else (83.0, 1.78)
    ds.PatientWeight = _ds(round(float(np.clip(person.normal(mean_weight, 13.0), 42.0, 150.0)), 1))
    ds.PatientSize = _ds(round(float(np.clip(person.normal(mean_height, 0.07), 1.45, 2.05)), 2))
    # Study.
    ds.StudyInstanceUID = generate_uid(UID_ROOT, [*uid_parts, "study"])
    ds.StudyDate = f"{exam.study_date:%Y%m%d}"
    ds.StudyTime = _tm(_study_start(exam))
    ds.StudyID = f"{int(visit.integers(1000, 99999))}"
    ds.AccessionNumber = f"RAD{exam.study_date:%y}{int(visit.integers(100_000, 999_999))}"
    ds.StudyDescription = _pick(
        site, ("MRI LIVER W/WO CONTRAST", "MR ABDOMEN LIVER W WO IV CONTRAST", "MRI UPPER ABDOMEN LIVER")
    )
    ds.ReferringPhysicianName = _person(visit, prefix="Dr.")
    ds.PerformingPhysicianName = _person(visit)
    ds.OperatorsName = _person(visit)
    ds.BodyPartExamined = "ABDOMEN"
    ds.FrameOfReferenceUID = generate_uid(UID_ROOT, [*uid_parts, "frame"])
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    # Equipment and institution: one scanner per centre.
    city, postcode, street = _CITIES[int(site.integers(len(_CITIES)))]
    ds.InstitutionName = f"{city} {_pick(site, _HOSPITAL_KINDS)}"
    ds.InstitutionAddress = f"{street} {int(site.integers(1, 200))}, {postcode} {city}"
    ds.InstitutionalDepartmentName = _pick(site, ("Radiology", "Radiologie", "Diagnostic Imaging"))
    ds.Manufacturer = scan.manufacturer
    ds.ManufacturerModelName = scan.model
    ds.SoftwareVersions = (
        list(scan.software_versions) if len(scan.software_versions) > 1 else scan.software_versions[0]
    )
    serial = int(site.integers(10_000, 99_999))
    ds.DeviceSerialNumber = {"Siemens": f"{serial}", "GE": f"0000000{serial}MR1", "Philips": f"{serial}"}[
        exam.vendor
    ]
    ds.StationName = {
        "Siemens": f"MRC{serial}",
        "GE": f"GEMR{serial % 1000:03d}",
        "Philips": f"PHILIPS-{serial}",
    }[exam.vendor]
    ds.MagneticFieldStrength = _ds(exam.field_strength)
    ds.ImagingFrequency = _ds(round(GYROMAGNETIC_MHZ_PER_T * exam.field_strength, 6))
    ds.ImagedNucleus = "1H"
    ds.ReceiveCoilName = {"Siemens": "Body_18", "GE": "32Ch Body", "Philips": "dS Torso"}[exam.vendor]
    ds.TransmitCoilName = "Body"
    if exam.vendor == "GE":
        ds.private_block(0x0009, "GEMS_IDEN_01", create=True).add_new(0x04, "SH", "SIGNA")
    return ds


def _study_start(exam: ExamInfo) -> float:
    """Return the study start in seconds after midnight: a working-hours slot, stable per exam."""
    rng = _rng("start", exam.case_id, exam.patient_key, exam.seed)
    return float(7.5 * 3600 + 300 * int(rng.integers(0, 114)))  # 07:30 to 17:00 in 5-minute slots


# --- Series plan ---


def _schedule(images: Mapping[str, Image], exam: ExamInfo) -> tuple[list[_Series], float]:
    """Return the series in acquisition order (numbered, timed) and the injection time.

    Times are seconds after midnight. Each post-contrast phase is acquired at injection + its delay;
    with gadoxetate, T2w and DWI fill the wait before the hepatobiliary phase when they fit in it, as
    liver protocols do.
    """
    style = centre_style(exam.centre)
    b_pair = _dwi_b_values(exam)
    low, high = b_pair
    delays = {**DEFAULT_PHASE_DELAYS, **exam.phase_delays}
    groups: dict[str, tuple[tuple[str, ...], tuple[int, ...] | None]] = {
        name: ((name,), None) for name in ("t2w", "t1_in", "t1_opp", "adc", *DYNAMIC) if name in images
    }
    if "dwi_b0" in images and "dwi" in images and _same_grid(images["dwi_b0"], images["dwi"]):
        groups["dwi"] = (("dwi_b0", "dwi"), (low, high))
    else:
        groups.update(
            {name: ((name,), (b,)) for name, b in (("dwi_b0", low), ("dwi", high)) if name in images}
        )
    temporal = {name: i + 1 for i, name in enumerate(n for n in DYNAMIC if n in groups)}
    first, step = {"Siemens": (4, 1), "GE": (2, 1), "Philips": (301, 100)}[exam.vendor]
    series: list[_Series] = []

    def add(name: str, start: float) -> float:
        """Append a series starting at ``start``; return when the next one can start."""
        sequences, b_values = groups[name]
        protocol = series_protocol(exam.vendor, sequences[-1], exam.field_strength, style, b_values=b_pair)
        names = tuple(
            series_protocol(
                exam.vendor, "dwi", exam.field_strength, style, b_values=b_pair, b_value=b
            ).sequence_name
            for b in b_values or ()
        )
        series.append(
            _Series(
                number=first + step * len(series),
                sequences=sequences,
                protocol=protocol,
                start=start,
                b_values=b_values,
                sequence_names=names or (protocol.sequence_name,),
                temporal_position=temporal.get(name),
                temporal_positions=len(temporal),
            )
        )
        return start + protocol.duration + _GAP_S

    def add_body(clock: float) -> float:
        """Append T2w, DWI and ADC from ``clock``; return when the next series can start."""
        dwi_start = clock
        for name in ("t2w", "dwi_b0", "dwi"):
            if name in groups:
                dwi_start = clock
                clock = add(name, clock)
        if "adc" in groups:
            add("adc", dwi_start)  # computed at the console from the DWI: same acquisition time
        return clock

    body_time = sum(
        series_protocol(exam.vendor, name, exam.field_strength, style, b_values=b_pair).duration + _GAP_S
        for name in ("t2w", "dwi_b0", "dwi")
        if name in groups
    )
    phases = sorted((name for name in POST_CONTRAST if name in groups), key=lambda name: delays[name])
    gadoxetate_wait = "hbp" in phases
    clock = _study_start(exam) + 240.0  # localiser and calibration come first
    for name in ("t1_in", "t1_opp"):
        if name in groups:
            clock = add(name, clock)
    if not gadoxetate_wait:
        clock = add_body(clock)
    if "t1_pre" in groups:
        clock = add("t1_pre", clock)
    injection = clock
    for name in phases:
        start = injection + delays[name]
        if name == "hbp" and clock + body_time <= start:
            clock = add_body(clock)
        clock = add(name, start)
    if gadoxetate_wait and len(series) < len(groups):  # the wait was too short for T2w and DWI
        add_body(clock)
    return series, injection


def _dwi_b_values(exam: ExamInfo) -> tuple[int, int]:
    """Return the exam's (low, high) DWI b-values in s/mm^2: given ones, else the vendor's usual."""
    if exam.dwi_b_values is None:
        return scanner(exam.vendor, exam.field_strength).b_values
    low, high = (round(float(b)) for b in exam.dwi_b_values)
    return low, high


def _same_grid(a: Image, b: Image) -> bool:
    return a.shape == b.shape and bool(np.allclose(a.affine, b.affine, atol=1e-4))


# --- Series headers ---


def _series_dataset(
    study: Dataset, series: _Series, exam: ExamInfo, injection: float, n_slices: int
) -> Dataset:
    """Return the elements shared by every slice of one series (everything but position and pixels)."""
    protocol = series.protocol
    ds = copy.deepcopy(study)
    ds.ImageType = list(protocol.image_type)
    ds.SeriesInstanceUID = generate_uid(
        UID_ROOT, [exam.patient_key, str(exam.seed), exam.case_id, f"series-{series.number}"]
    )
    ds.SeriesNumber = series.number
    ds.AcquisitionNumber = 1
    ds.SeriesDescription = protocol.description
    ds.ProtocolName = protocol.protocol_name
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = ds.StudyDate
    ds.SeriesTime = _tm(series.start)
    ds.AcquisitionTime = _tm(series.start)
    ds.ContentTime = _tm(series.start + protocol.duration)
    ds.ScanningSequence = list(protocol.scanning_sequence)
    ds.SequenceVariant = list(protocol.sequence_variant)
    ds.ScanOptions = list(protocol.scan_options)
    ds.MRAcquisitionType = protocol.acquisition_type
    ds.SequenceName = protocol.sequence_name
    ds.RepetitionTime = _ds(protocol.repetition_time)
    ds.EchoTime = _ds(protocol.echo_time)
    if protocol.inversion_time is not None:
        ds.InversionTime = _ds(protocol.inversion_time)
    ds.EchoTrainLength = protocol.echo_train_length
    ds.FlipAngle = _ds(protocol.flip_angle)
    ds.EchoNumbers = 1
    ds.NumberOfAverages = "1"
    ds.InPlanePhaseEncodingDirection = "COL"
    ds.ImagesInAcquisition = n_slices * len(series.sequences)
    if series.sequences[0] in POST_CONTRAST:
        agent = str(exam.contrast_agent)
        ds.ContrastBolusAgent = _pick(_rng("agent", exam.centre, agent), CONTRAST_AGENTS[agent])
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = _ds(
            round(float(ds.PatientWeight) * (0.1 if agent == "gadoxetate" else 0.2), 1)
        )
        ds.ContrastBolusStartTime = _tm(injection)
        ds.ContrastBolusIngredient = "GADOLINIUM"
    if series.temporal_position is not None:
        ds.TemporalPositionIdentifier = series.temporal_position
        ds.NumberOfTemporalPositions = series.temporal_positions
    _add_vendor_private(ds, exam.vendor, protocol, n_slices)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _add_vendor_private(ds: Dataset, vendor: str, protocol: SeriesProtocol, n_slices: int) -> None:
    """Add the series-level private elements this vendor writes (a few, with their private creators)."""
    if vendor == "Siemens":
        mr = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
        mr.add_new(0x08, "CS", "IMAGE NUM 4")
        mr.add_new(0x09, "LO", "1.0")
        mr.add_new(0x0B, "DS", _ds(protocol.duration * 1000.0))
        csa = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
        csa.add_new(0x08, "CS", "IMAGE NUM 4")
        csa.add_new(0x09, "LO", "20180412")
        csa.add_new(0x18, "CS", "MR")
        csa.add_new(0x19, "LO", "20180412")
    elif vendor == "GE":
        ds.private_block(0x0019, "GEMS_ACQU_01", create=True).add_new(0x9C, "LO", protocol.sequence_name)
        ds.private_block(0x0021, "GEMS_RELA_01", create=True).add_new(0x4F, "SS", n_slices)  # locations
        ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(0x2F, "SS", 0)  # magnitude image
    else:
        ds.private_block(0x2001, "Philips Imaging DD 001", create=True).add_new(0x0B, "CS", "TRANSVERSAL")


def _volume_dataset(vendor: str, b_value: int, sequence_name: str) -> Dataset:
    """Return the elements that differ between the b-value volumes of a DWI series."""
    ds = Dataset()
    ds.DiffusionBValue = float(b_value)
    ds.SequenceName = sequence_name
    if vendor == "Siemens":
        ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", b_value)
    elif vendor == "GE":
        # GE: gradient direction in (0019,10BB-BD), zero for b=0 and the trace average's (1,1,1)/sqrt(3)
        # otherwise; "Vas collapse flag" (0043,1030) 14 for b=0 (T2) images and 16 for diffusion-weighted
        # ones; the b-value in the first of four integers of (0043,1039).
        direction = _ds(0.0 if b_value == 0 else 3**-0.5)
        acquisition = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
        for offset in (0xBB, 0xBC, 0xBD):
            acquisition.add_new(offset, "DS", direction)
        parameters = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
        parameters.add_new(0x30, "SS", 14 if b_value == 0 else 16)
        parameters.add_new(0x39, "IS", [b_value, 8, 0, 0])
    else:
        ds.private_block(0x2001, "Philips Imaging DD 001", create=True).add_new(0x03, "FL", float(b_value))
    return ds


# --- Geometry and pixels ---


def _slice_stack(
    image: Image, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Return (frames (k, rows, columns) int16, LPS positions (k, 3), orientation (6,), spacing).

    DICOM geometry is in LPS: the NIfTI RAS affine has its x and y negated. Row and column directions
    are flipped where needed so that they point to the patient's left and back, as scanners write
    axial images; the voxels stay where they are in world space. Frame k is ``array[:, :, k].T``:
    DICOM columns follow array axis 0 and rows axis 1.
    """
    lps = _LPS_FROM_RAS @ np.asarray(image.affine, dtype=np.float64)
    array = image.array
    for axis in (0, 1):
        direction = lps[:3, axis].copy()
        if direction[int(np.argmax(np.abs(direction)))] < 0:
            array = np.flip(array, axis)
            lps[:3, 3] += (array.shape[axis] - 1) * direction
            lps[:3, axis] = -direction
    spacing = np.sqrt((lps[:3, :3] ** 2).sum(axis=0))
    units = lps[:3, :3] / spacing
    normal = np.cross(units[:, 0], units[:, 1])
    if abs(float(units[:, 0] @ units[:, 1])) > 1e-4 or abs(abs(float(normal @ units[:, 2])) - 1.0) > 1e-4:
        msg = f"{where}: the affine is sheared (slices not perpendicular to the image plane); DICOM slices cannot hold it"
        raise ValueError(msg)
    positions = lps[:3, 3] + np.arange(array.shape[2])[:, None] * lps[:3, 2]
    frames = np.ascontiguousarray(array.transpose(2, 1, 0), dtype="<i2")
    orientation = np.concatenate([units[:, 0], units[:, 1]])
    return frames, positions, orientation, (float(spacing[0]), float(spacing[1]), float(spacing[2]))


# --- Encoding and writing ---


def _encode(elements: Iterable[DataElement]) -> dict[BaseTag, bytes]:
    """Return each element encoded as explicit VR little endian, by tag."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    encoded = {}
    for element in elements:
        start = fp.tell()
        write_data_element(fp, element, _CHARSET)
        encoded[element.tag] = fp.getvalue()[start:]
    return encoded


def _file_meta_elements() -> dict[BaseTag, bytes]:
    """Return the file meta elements every file shares (all but the group length and instance UID)."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"PYDICOM {'.'.join(pydicom.__version_info__)}"
    return _encode(meta)


def _file_head(meta: dict[BaseTag, bytes], sop_instance_uid: UID) -> bytes:
    """Return the start of a Part 10 file: preamble, "DICM" and the file meta group (PS3.10 7.1)."""
    meta = meta | _encode([DataElement(0x00020003, "UI", sop_instance_uid)])
    group_length = _encode([DataElement(0x00020000, "UL", sum(len(value) for value in meta.values()))])
    return b"".join([b"\x00" * 128, b"DICM", *group_length.values(), *(meta[tag] for tag in sorted(meta))])


def _cut_at(elements: dict[BaseTag, bytes], slots: Sequence[int]) -> list[bytes]:
    """Return the elements' bytes in tag order, cut into ``len(slots) + 1`` chunks around the slot tags."""
    ordered = sorted(elements)
    chunks = []
    start = 0
    for slot in [*slots, 0xFFFFFFFF]:
        stop = bisect.bisect(ordered, slot)
        chunks.append(b"".join(elements[tag] for tag in ordered[start:stop]))
        start = stop
    return chunks


def _write_series(
    study_dir: Path,
    series: _Series,
    images: Mapping[str, Image],
    study: Dataset,
    exam: ExamInfo,
    injection: float,
) -> list[Path]:
    """Write one series into a temporary folder, rename it into place and return its files."""
    stacks = [_slice_stack(images[name], f"Case {exam.case_id}, {name}") for name in series.sequences]
    frames0, _, orientation, spacing = stacks[0]
    n_slices = frames0.shape[0]
    ds = _series_dataset(study, series, exam, injection, n_slices)
    ds.Rows, ds.Columns = int(frames0.shape[1]), int(frames0.shape[2])
    ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]  # (between rows, between columns)
    ds.ImageOrientationPatient = [_ds(value) for value in orientation]
    ds.SliceThickness = _ds(spacing[2])
    ds.SpacingBetweenSlices = _ds(spacing[2])
    low = min(int(stack[0].min()) for stack in stacks)
    high = max(int(stack[0].max()) for stack in stacks)
    ds.WindowCenter = _ds((low + high) / 2)
    ds.WindowWidth = _ds(max(high - low, 1))
    series_elements = _encode(ds)
    meta = _file_meta_elements()
    normal = np.cross(orientation[:3], orientation[3:])
    uid_parts = [exam.patient_key, str(exam.seed), exam.case_id, f"series-{series.number}"]

    name = re.sub(r"[^A-Za-z0-9]+", "_", series.protocol.description).strip("_")
    target = study_dir / f"{series.number:03d}_{name}"
    study_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=study_dir))
    try:
        paths = []
        instance = 0
        for volume, (frames, positions, _, _) in enumerate(stacks):
            elements = dict(series_elements)
            if series.b_values is not None:
                volume_ds = _volume_dataset(
                    exam.vendor, series.b_values[volume], series.sequence_names[volume]
                )
                elements |= _encode(volume_ds)
            chunks = _cut_at(elements, _SLICE_TAGS)
            for k in range(n_slices):
                instance += 1
                uid = generate_uid(UID_ROOT, [*uid_parts, f"image-{instance}"])
                position = [_ds(value) for value in positions[k]]
                varying = _encode(
                    [
                        DataElement(0x00080018, "UI", uid),
                        DataElement(0x00200013, "IS", instance),
                        DataElement(0x00200032, "DS", position),
                        DataElement(0x00201041, "DS", _ds(float(normal @ positions[k]))),
                    ]
                )
                # Pixel Data, explicit VR OW: tag, VR, two reserved bytes, 32-bit length, then the frame.
                pixel_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, frames[k].nbytes)
                pieces = [[value] for value in varying.values()] + [[pixel_header, frames[k].data]]
                file_name = f"IM_{instance:04d}.dcm"
                with open(tmp / file_name, "wb") as stream:
                    stream.write(_file_head(meta, uid))
                    for chunk, slot in zip(chunks, pieces, strict=False):
                        stream.write(chunk)
                        for piece in slot:
                            stream.write(piece)
                    stream.write(chunks[-1])
                paths.append(target / file_name)
        _replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return paths


def _replace_folder(source: Path, target: Path) -> None:
    """Move folder ``source`` onto ``target``, replacing an existing ``target`` as a whole."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(source, target)
        shutil.rmtree(old)
    else:
        os.replace(source, target)


# --- Value formatting ---


def _ds(value: float) -> str:
    """Return a decimal string of at most 16 characters with micro-unit precision (VR DS)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    text = "0" if text in ("-0", "") else text
    if len(text) > 16:
        msg = f"Value {value} does not fit a DICOM decimal string"
        raise ValueError(msg)
    return text


def _tm(seconds: float) -> str:
    """Return seconds after midnight as a DICOM time HHMMSS.FFFFFF."""
    if not 0 <= seconds < 86_400:
        msg = f"Time {seconds} s is outside the study day"
        raise ValueError(msg)
    micro = round(seconds * 1_000_000)
    whole, fraction = divmod(micro, 1_000_000)
    hours, rest = divmod(whole, 3600)
    return f"{hours:02d}{rest // 60:02d}{rest % 60:02d}.{fraction:06d}"
