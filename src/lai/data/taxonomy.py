"""The label taxonomy and the canonical MRI sequence names shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    """One lesion class of the taxonomy (domain/liver_lesions.md)."""

    code: str
    name: str
    malignant: bool


DIAGNOSES: dict[str, Diagnosis] = {
    d.code: d
    for d in (
        Diagnosis("hcc", "hepatocellular carcinoma", True),
        Diagnosis("icc", "intrahepatic cholangiocarcinoma", True),
        Diagnosis("met", "metastasis", True),
        Diagnosis("hem", "hemangioma", False),
        Diagnosis("fnh", "focal nodular hyperplasia", False),
        Diagnosis("hca", "hepatocellular adenoma", False),
        Diagnosis("cyst", "simple cyst", False),
        Diagnosis("abscess", "abscess", False),
    )
}
"""Diagnosis codes in a fixed order; the order is the class order of every multi-class model."""

SEQUENCES: tuple[str, ...] = (
    "t2w",
    "t1_in",
    "t1_opp",
    "dwi_b0",
    "dwi",
    "adc",
    "t1_pre",
    "arterial",
    "portal",
    "delayed",
    "transitional",
    "hbp",
)
"""Canonical sequence names (DESIGN.md), in the order a radiologist reads them."""

DYNAMIC_PHASES: tuple[str, ...] = ("t1_pre", "arterial", "portal", "delayed", "transitional", "hbp")
"""The dynamic contrast-enhanced T1 phases, in acquisition order."""

REFERENCE_SEQUENCE = "portal"
"""Lesion masks are drawn on this sequence's grid unless a sequence has its own delineation."""

LLD_MMRI_IDS: dict[str, int] = {"hem": 0, "icc": 1, "abscess": 2, "met": 3, "cyst": 4, "fnh": 5, "hcc": 6}
"""Class ids of the LLD-MMRI2023 challenge (7 classes, no adenoma)."""


def is_malignant(code: str) -> bool:
    """Return whether a diagnosis code is malignant; raise ``ValueError`` for an unknown code."""
    try:
        return DIAGNOSES[code].malignant
    except KeyError:
        msg = f"Unknown diagnosis {code!r}: expected one of {', '.join(DIAGNOSES)}"
        raise ValueError(msg) from None
