"""Tissue signal per sequence and contrast agent, relative to unenhanced liver on T1 (= 1).

The numbers are rough teaching values (domain/liver_lesions.md, "Sequences and phases"): fat is bright
on T1 in-phase and cancels on opposed-phase, fluid is bright on T2 and dark on T1, the aorta peaks in the
late arterial phase and the portal vein in the portal venous phase, the kidneys' cortex enhances before
the medulla, and with gadoxetate the liver keeps enhancing into the hepatobiliary phase while the vessels
fade. ``t1_opp`` holds the signed water-minus-fat signal: partial-volume mixing then takes its magnitude,
which draws the dark India-ink line at fat-water boundaries as real opposed-phase images do. ``adc``
holds apparent diffusion coefficients in 1e-3 mm^2/s.
"""

from __future__ import annotations

import numpy as np

from lai.data.taxonomy import SEQUENCES
from lai.synth.anatomy import TISSUES

SIGNAL_SEQUENCES: tuple[str, ...] = tuple(s for s in SEQUENCES if s != "dwi")
"""Sequences with a tissue signal table (``dwi`` follows from ``dwi_b0`` and ``adc``)."""

# Columns follow SIGNAL_SEQUENCES; rows follow anatomy.TISSUES. Extracellular agent.
_EXTRACELLULAR = {
    "air": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "fat": (0.35, 2.6, -2.3, 0.12, 0.3, 0.3, 0.33, 0.34, 0.34, 0.34, 0.33),
    "muscle": (0.45, 0.75, 0.7, 0.45, 1.45, 0.62, 0.72, 0.85, 0.9, 0.82, 0.8),
    "viscera": (0.9, 1.2, 0.25, 0.6, 1.6, 0.45, 0.6, 0.75, 0.75, 0.7, 0.65),
    "bone": (0.5, 1.5, 0.4, 0.35, 0.5, 0.55, 0.65, 0.75, 0.78, 0.7, 0.68),
    "csf": (4.0, 0.35, 0.35, 3.5, 3.0, 0.3, 0.3, 0.3, 0.32, 0.3, 0.3),
    "kidney_cortex": (1.4, 0.85, 0.82, 1.5, 2.1, 0.8, 3.0, 2.5, 2.2, 2.0, 1.6),
    "kidney_medulla": (1.9, 0.7, 0.68, 1.8, 2.2, 0.65, 1.0, 2.4, 2.5, 2.1, 1.8),
    "spleen": (1.7, 0.8, 0.78, 1.6, 0.85, 0.75, 1.8, 2.0, 1.7, 1.5, 1.1),
    "liver": (1.0, 1.0, 0.95, 1.0, 1.3, 1.0, 1.25, 1.8, 1.6, 1.7, 2.2),
    "gallbladder": (4.5, 0.35, 0.35, 4.0, 3.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3),
    "artery": (0.15, 0.6, 0.58, 0.1, 2.5, 0.5, 5.0, 2.6, 1.9, 1.6, 0.8),
    "portal_vein": (0.2, 0.6, 0.58, 0.12, 2.5, 0.5, 1.6, 2.9, 1.9, 1.6, 0.8),
    "hepatic_vein": (0.2, 0.6, 0.58, 0.12, 2.5, 0.5, 0.55, 2.3, 1.9, 1.6, 0.8),
    "fibrosis": (1.5, 0.85, 0.8, 1.3, 1.3, 0.85, 1.1, 1.8, 1.9, 1.6, 1.4),
    "bowel": (1.6, 0.55, 0.5, 1.2, 2.2, 0.5, 0.8, 1.0, 0.95, 0.8, 0.75),
}

_GADOXETATE_CHANGES = {
    # Lower dose and hepatocyte uptake: weaker arterial peak, liver bright and vessels dark at 20 min.
    "artery": {"arterial": 3.6, "portal": 2.2, "transitional": 1.5, "hbp": 0.75},
    "portal_vein": {"arterial": 1.3, "portal": 2.4, "transitional": 1.5, "hbp": 0.75},
    "hepatic_vein": {"portal": 2.0, "transitional": 1.5, "hbp": 0.75},
    "liver": {"arterial": 1.2, "portal": 1.7, "transitional": 1.75, "hbp": 2.3},
    "spleen": {"transitional": 1.3, "hbp": 1.0},
    "kidney_cortex": {"hbp": 1.5},
    "kidney_medulla": {"hbp": 1.6},
    "fibrosis": {"transitional": 1.4, "hbp": 1.3},
}


def signal_table(agent: str | None) -> np.ndarray:
    """Return the tissue x sequence signal table (rows ``TISSUES``, columns ``SIGNAL_SEQUENCES``).

    ``agent`` is ``"extracellular"`` or ``"gadoxetate"``; any other value is refused with an error.
    """
    if agent not in ("extracellular", "gadoxetate"):
        msg = f"Unknown contrast agent {agent!r}: expected 'extracellular' or 'gadoxetate'"
        raise ValueError(msg)
    table = np.array([_EXTRACELLULAR[t] for t in TISSUES], dtype=np.float64)
    if agent == "gadoxetate":
        for tissue, changes in _GADOXETATE_CHANGES.items():
            for sequence, value in changes.items():
                table[TISSUES.index(tissue), SIGNAL_SEQUENCES.index(sequence)] = value
    return table


def patient_signal_table(
    rng: np.random.Generator, agent: str, *, cirrhosis: bool, steatosis: float, liver_adc: float
) -> np.ndarray:
    """Return a patient's signal table: the agent's table with per-patient physiology.

    Every tissue varies by ~5%, the vessels' enhancement per phase by ~15% (bolus timing and cardiac
    output), the liver's opposed-phase signal drops with its fat fraction ``steatosis`` (0-0.3), its ADC
    is ``liver_adc`` (1e-3 mm^2/s, 1.1-1.5 in domain/liver_lesions.md), and a cirrhotic liver takes up
    less gadoxetate in the hepatobiliary phase.
    """
    table = signal_table(agent) * rng.lognormal(0.0, 0.05, (len(TISSUES), len(SIGNAL_SEQUENCES)))
    post = [SIGNAL_SEQUENCES.index(s) for s in ("arterial", "portal", "delayed", "transitional", "hbp")]
    for vessel in ("artery", "portal_vein", "hepatic_vein"):
        row = TISSUES.index(vessel)
        table[row, post] *= rng.lognormal(0.0, 0.15, len(post))
    liver = TISSUES.index("liver")
    table[liver, SIGNAL_SEQUENCES.index("t1_opp")] = table[liver, SIGNAL_SEQUENCES.index("t1_in")] * (
        1.0 - 2.0 * steatosis
    )
    table[liver, SIGNAL_SEQUENCES.index("adc")] = liver_adc
    if cirrhosis:
        table[liver, SIGNAL_SEQUENCES.index("hbp")] *= 0.8
    return table
