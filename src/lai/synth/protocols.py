"""Scanner models and series protocols per vendor: the acquisition headers of the synthetic DICOM.

Each vendor names its series and fills its sequence tags in its own way (Siemens HASTE/VIBE/ep2d,
GE SSFSE/LAVA, Philips TSE/THRIVE/mDIXON); two centres with the same vendor may still name series
differently, so each vendor has two naming styles and a centre keeps one. Timing parameters follow
typical clinical liver protocols at 1.5 T and 3 T (domain/liver_lesions.md, "Acquisition").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

VENDORS: tuple[str, ...] = ("Siemens", "GE", "Philips")
"""Vendors the synthetic cohort knows, as ``ExamInfo.vendor`` spells them."""

GYROMAGNETIC_MHZ_PER_T = 42.577478
"""Proton gyromagnetic ratio / 2 pi in MHz/T: imaging frequency = this x field strength."""


@dataclass(frozen=True)
class Scanner:
    """One MR scanner model: what its images say in the equipment module and how it names DWI b-values."""

    manufacturer: str
    model: str
    software_versions: tuple[str, ...]
    b_values: tuple[int, int]
    """The (low, high) b-values in s/mm^2 of this vendor's liver DWI, written for ``dwi_b0`` and ``dwi``."""


@dataclass(frozen=True)
class SeriesProtocol:
    """The acquisition tags of one series: naming, sequence description, timing and scan duration."""

    description: str
    protocol_name: str
    sequence_name: str
    scanning_sequence: tuple[str, ...]
    sequence_variant: tuple[str, ...]
    scan_options: tuple[str, ...]
    acquisition_type: str
    repetition_time: float
    echo_time: float
    flip_angle: float
    echo_train_length: int
    image_type: tuple[str, ...]
    duration: float
    """Scan time in seconds (one breath hold for a dynamic phase), used to lay the series out in time."""
    inversion_time: float | None = None


_SCANNERS: dict[tuple[str, float], Scanner] = {
    ("Siemens", 1.5): Scanner("SIEMENS", "Aera", ("syngo MR E11",), (50, 800)),
    ("Siemens", 3.0): Scanner("SIEMENS", "Skyra", ("syngo MR E11",), (50, 800)),
    ("GE", 1.5): Scanner("GE MEDICAL SYSTEMS", "SIGNA Artist", ("29", "LX", "MR29.1_R01_2104.a"), (0, 800)),
    ("GE", 3.0): Scanner(
        "GE MEDICAL SYSTEMS", "Discovery MR750", ("27", "LX", "MR27.0_R02_1831.a"), (0, 800)
    ),
    ("Philips", 1.5): Scanner("Philips Medical Systems", "Achieva", ("5.3.1", "5.3.1.0"), (0, 800)),
    ("Philips", 3.0): Scanner("Philips Medical Systems", "Ingenia", ("5.6.1", "5.6.1.2"), (0, 800)),
}

# Series descriptions per vendor and naming style; {low}/{high} are the DWI b-values.
_DESCRIPTIONS: dict[str, tuple[dict[str, str], ...]] = {
    "Siemens": (
        {
            "t2w": "t2_haste_tra_mbh",
            "t1_in": "t1_vibe_dixon_tra_bh_in",
            "t1_opp": "t1_vibe_dixon_tra_bh_opp",
            "dwi": "ep2d_diff_b{low}_{high}_tra",
            "adc": "ep2d_diff_b{low}_{high}_tra_ADC",
            "t1_pre": "t1_vibe_fs_tra_bh_pre",
            "arterial": "t1_vibe_fs_tra_bh_art",
            "portal": "t1_vibe_fs_tra_bh_pv",
            "delayed": "t1_vibe_fs_tra_bh_delay",
            "transitional": "t1_vibe_fs_tra_bh_trans",
            "hbp": "t1_vibe_fs_tra_bh_hbp_20min",
        },
        {
            # Same description for every dynamic phase: only times and contrast tags tell them apart.
            "t2w": "t2_haste_fs_tra_mbh",
            "t1_in": "t1_fl2d_in_tra_bh",
            "t1_opp": "t1_fl2d_opp_tra_bh",
            "dwi": "ep2d_diff_b{low}_{high}_tra_p2_resp",
            "adc": "ep2d_diff_b{low}_{high}_tra_p2_resp_ADC",
            "t1_pre": "t1_vibe_fs_tra_p4_bh",
            "arterial": "t1_vibe_fs_tra_p4_bh",
            "portal": "t1_vibe_fs_tra_p4_bh",
            "delayed": "t1_vibe_fs_tra_p4_bh",
            "transitional": "t1_vibe_fs_tra_p4_bh",
            "hbp": "t1_vibe_fs_tra_p4_bh_20min",
        },
    ),
    "GE": (
        {
            "t2w": "Ax SSFSE T2",
            "t1_in": "InPhase: Ax LAVA-Flex",
            "t1_opp": "OutPhase: Ax LAVA-Flex",
            "dwi": "Ax DWI b{high}",
            "adc": "ADC (10^-6 mm^2/s):Ax DWI b{high}",
            "t1_pre": "Ax LAVA Flex pre",
            "arterial": "Ax LAVA art",
            "portal": "Ax LAVA pv",
            "delayed": "Ax LAVA 3 min",
            "transitional": "Ax LAVA trans",
            "hbp": "Ax LAVA HBP 20 min",
        },
        {
            "t2w": "AX SSFSE TE90 FS",
            "t1_in": "AX DUAL ECHO IN",
            "t1_opp": "AX DUAL ECHO OUT",
            "dwi": "AX DWI RESP TRIG b{low} {high}",
            "adc": "ADC",
            "t1_pre": "AX LAVA PRE",
            "arterial": "AX LAVA ART",
            "portal": "AX LAVA PV",
            "delayed": "AX LAVA DELAY",
            "transitional": "AX LAVA TRANS",
            "hbp": "AX LAVA 20MIN",
        },
    ),
    "Philips": (
        {
            "t2w": "T2W_SPAIR",
            "t1_in": "mDIXON_ip",
            "t1_opp": "mDIXON_op",
            "dwi": "DWI_b{low}_{high}",
            "adc": "dADC",
            "t1_pre": "eTHRIVE pre",
            "arterial": "eTHRIVE art",
            "portal": "eTHRIVE pv",
            "delayed": "eTHRIVE delay",
            "transitional": "eTHRIVE trans",
            "hbp": "eTHRIVE hbp",
        },
        {
            "t2w": "T2W_TSE_SPAIR_BH",
            "t1_in": "T1_FFE_in",
            "t1_opp": "T1_FFE_out",
            "dwi": "DWI_SPAIR_b{low}_{high}",
            "adc": "DWI_SPAIR_b{low}_{high}_ADC",
            "t1_pre": "THRIVE_pre",
            "arterial": "THRIVE_art",
            "portal": "THRIVE_portal",
            "delayed": "THRIVE_3min",
            "transitional": "THRIVE_trans",
            "hbp": "THRIVE_20min",
        },
    ),
}

_GE_PROTOCOL_NAMES = ("LIVER W/WO CONTRAST", "6.3 ABD LIVER MRI")

# Vendor-specific spellings of the sequence description tags, per sequence family.
_VENDOR_SEQUENCE_TAGS: dict[str, dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    # family: (SequenceName, ScanningSequence, SequenceVariant, ScanOptions)
    "Siemens": {
        "t2w": ("*h2d1_256", ("SE",), ("SK", "SP"), ("PFP", "FS")),
        "dual": ("*fl3d2", ("GR",), ("SP",), ("PFP",)),
        "dwi": ("*ep_b{b}t", ("EP",), ("SK", "SP"), ("PFP", "FS")),
        "dynamic": ("*fl3d1", ("GR",), ("SP", "SK"), ("PFP", "FS")),
    },
    "GE": {
        "t2w": ("ssfse", ("SE",), ("SK", "SS"), ("FAST_GEMS", "EDR_GEMS", "NPW", "FS")),
        "dual": ("3dfgre", ("GR",), ("SS", "SP"), ("FAST_GEMS", "EDR_GEMS", "ACC_GEMS")),
        "dwi": ("epi2", ("EP", "SE"), ("NONE",), ("EPI_GEMS", "ACC_GEMS", "FS")),
        "dynamic": ("3dfgre", ("GR",), ("SS", "SP"), ("FAST_GEMS", "EDR_GEMS", "ACC_GEMS", "FS")),
    },
    "Philips": {
        "t2w": ("TSE", ("SE",), ("SK",), ("FS",)),
        "dual": ("T1FFE", ("GR",), ("SP",), ("OTHER",)),
        "dwi": ("DwiSE", ("SE",), ("SK",), ("FS",)),
        "dynamic": ("T1FFE", ("GR",), ("SP",), ("FS",)),
    },
}

_DUAL_ECHO_2D_NAMES = {"Siemens": "*fl2d2", "GE": "fgre", "Philips": "T1FFE"}

_FAMILY = {
    "t2w": "t2w",
    "t1_in": "dual",
    "t1_opp": "dual",
    "dwi": "dwi",
    "adc": "dwi",
    "t1_pre": "dynamic",
    "arterial": "dynamic",
    "portal": "dynamic",
    "delayed": "dynamic",
    "transitional": "dynamic",
    "hbp": "dynamic",
}


def centre_style(centre: str) -> int:
    """Return the naming style (0 or 1) a centre keeps for all its exams, stable across runs."""
    return hashlib.sha256(centre.encode("utf-8")).digest()[0] % 2


def scanner(vendor: str, field_strength: float) -> Scanner:
    """Return the scanner model a centre with this vendor and field strength uses."""
    try:
        return _SCANNERS[(vendor, float(field_strength))]
    except KeyError:
        msg = (
            f"No scanner for vendor {vendor!r} at {field_strength} T: expected a vendor in "
            f"{', '.join(VENDORS)} at 1.5 or 3.0 T"
        )
        raise ValueError(msg) from None


def series_protocol(
    vendor: str,
    sequence: str,
    field_strength: float,
    style: int,
    *,
    b_values: tuple[int, int] | None = None,
    b_value: int | None = None,
) -> SeriesProtocol:
    """Return the acquisition tags of one canonical sequence on this vendor's scanner.

    Parameters
    ----------
    vendor, field_strength
        The scanner (see :func:`scanner`).
    sequence
        A canonical sequence name; ``dwi_b0`` is part of the ``dwi`` series and gets its tags.
    style
        The centre's naming style (:func:`centre_style`).
    b_values
        The (low, high) b-values of the DWI, named in DWI and ADC descriptions; None for the vendor's
        usual ones (:attr:`Scanner.b_values`).
    b_value
        For DWI, the b-value of the images the tags describe (Siemens puts it in SequenceName); None for
        the high one.
    """
    scan = scanner(vendor, field_strength)
    key = "dwi" if sequence == "dwi_b0" else sequence
    if key not in _FAMILY:
        msg = f"Unknown sequence {sequence!r}: expected one of dwi_b0, {', '.join(_FAMILY)}"
        raise ValueError(msg)
    family = _FAMILY[key]
    low, high = b_values or scan.b_values
    description = _DESCRIPTIONS[vendor][style % 2][key].format(low=low, high=high)
    if vendor == "GE":
        protocol_name = _GE_PROTOCOL_NAMES[style % 2]
    elif vendor == "Philips":
        protocol_name = f"WIP {description}" if style % 2 else description
    else:
        protocol_name = description
    name, scanning, variant, options = _VENDOR_SEQUENCE_TAGS[vendor][family]
    two_d = family in ("t2w", "dwi")
    if family == "dual" and style % 2:
        # The second style acquires chemical shift as a 2D dual-echo spoiled gradient echo, not a 3D Dixon.
        two_d = True
        name = _DUAL_ECHO_2D_NAMES[vendor]
    timing = _timing(key, float(field_strength) >= 2.0, vendor, two_d)
    return SeriesProtocol(
        description=description,
        protocol_name=protocol_name,
        sequence_name=name.format(b=high if b_value is None else b_value),
        scanning_sequence=scanning,
        sequence_variant=variant,
        scan_options=options,
        acquisition_type="2D" if two_d else "3D",
        repetition_time=timing[0],
        echo_time=timing[1],
        flip_angle=timing[2],
        echo_train_length=int(timing[3]),
        image_type=_image_type(vendor, key),
        duration=timing[4],
    )


def _timing(
    sequence: str, three_t: bool, vendor: str, two_d: bool
) -> tuple[float, float, float, float, float]:
    """Return (TR ms, TE ms, flip degrees, echo train length, duration s) for a sequence."""
    if sequence == "t2w":
        # Siemens HASTE reports its refocusing flip angle; GE SSFSE and Philips TSE report 90.
        flip = (130.0 if three_t else 160.0) if vendor == "Siemens" else 90.0
        return (1600.0, 88.0, flip, 96, 70.0) if three_t else (1400.0, 92.0, flip, 112, 60.0)
    if sequence in ("t1_in", "t1_opp"):
        # Fat and water are in phase every 4.6 ms at 1.5 T and every 2.3 ms at 3 T.
        te = {("t1_in", True): 2.3, ("t1_opp", True): 1.15, ("t1_in", False): 4.6, ("t1_opp", False): 2.3}
        if two_d:
            return (180.0 if three_t else 150.0), te[(sequence, three_t)], 70.0, 1, 20.0
        return (4.0 if three_t else 6.9), te[(sequence, three_t)], 9.0, 1, 18.0
    if sequence in ("dwi", "adc"):
        return (5200.0, 57.0, 90.0, 64, 180.0) if three_t else (4800.0, 62.0, 90.0, 72, 170.0)
    # Dynamic fat-suppressed 3D T1 (VIBE/LAVA/THRIVE); the hepatobiliary phase uses a larger flip angle.
    flip = 25.0 if sequence == "hbp" else (12.0 if three_t else 10.0)
    return (3.9, 1.4, flip, 1, 16.0) if three_t else (4.5, 2.0, flip, 1, 18.0)


def _image_type(vendor: str, sequence: str) -> tuple[str, ...]:
    """Return the ImageType values this vendor writes for a sequence."""
    if sequence == "adc":
        return ("DERIVED", "PRIMARY", "DIFFUSION", "ADC") + (("ND", "NORM") if vendor == "Siemens" else ())
    if sequence == "dwi":
        return ("ORIGINAL", "PRIMARY", "DIFFUSION", "NONE") + (("ND", "NORM") if vendor == "Siemens" else ())
    if vendor == "Siemens":
        return ("ORIGINAL", "PRIMARY", "M", "ND", "NORM")
    if vendor == "GE":
        return ("ORIGINAL", "PRIMARY", "OTHER")
    contrast = "M_SE" if sequence == "t2w" else "M_FFE"
    return ("ORIGINAL", "PRIMARY", contrast, "M", contrast[2:])
