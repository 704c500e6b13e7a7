"""How each centre acquires: vendor, field strength, voxel grids, intensity scale, bias field, noise, case mix.

Numbers follow domain/liver_lesions.md ("Acquisition: what varies between centres"): 3D dynamic T1 with
in-plane 1.25-1.6 mm and 3-4 mm slices, 2D T2 (1.0-1.4 mm) and dual-echo (1.3-1.6 mm) with 5-6 mm
slices, DWI at 1.4-1.6 mm and 5.5-6 mm; each
scanner stores intensities on its own arbitrary scale, with a smooth coil-sensitivity (bias) field and
Rician noise of its own SNR. Successive breath-holds leave the patient a few millimetres apart, mostly
craniocaudally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from lai.data.taxonomy import DIAGNOSES
from lai.imaging.image import Grid

FAMILIES: dict[str, tuple[str, ...]] = {
    "t2": ("t2w",),
    "dual": ("t1_in", "t1_opp"),
    "dwi": ("dwi_b0", "dwi"),
    "dynamic": ("t1_pre", "arterial", "portal", "delayed", "transitional", "hbp"),
}
"""Sequences acquired on one voxel grid (``adc`` is computed on the DWI grid from ``dwi_b0`` and ``dwi``)."""

VENDORS: tuple[str, ...] = ("Siemens", "GE", "Philips")

PROFILES: dict[str, dict[str, float]] = {
    # Share of patients by their main diagnosis; a hepatology centre sees HCC in cirrhosis, an oncology
    # centre metastases, a general hospital a benign-rich mix.
    "hepatology": {
        "hcc": 0.42,
        "icc": 0.1,
        "met": 0.06,
        "hem": 0.12,
        "fnh": 0.08,
        "hca": 0.06,
        "cyst": 0.1,
        "abscess": 0.06,
    },
    "oncology": {
        "hcc": 0.1,
        "icc": 0.14,
        "met": 0.4,
        "hem": 0.1,
        "fnh": 0.06,
        "hca": 0.05,
        "cyst": 0.1,
        "abscess": 0.05,
    },
    "general": {
        "hcc": 0.14,
        "icc": 0.08,
        "met": 0.16,
        "hem": 0.18,
        "fnh": 0.13,
        "hca": 0.09,
        "cyst": 0.12,
        "abscess": 0.1,
    },
}

CIRRHOSIS_RATE: dict[str, dict[str, float]] = {
    # Probability of a cirrhotic liver by centre profile, for HCC patients and for the others.
    "hepatology": {"hcc": 0.85, "other": 0.3},
    "oncology": {"hcc": 0.6, "other": 0.05},
    "general": {"hcc": 0.7, "other": 0.08},
}


@dataclass(frozen=True)
class Centre:
    """One centre: scanner, contrast agent, grids and image quality per sequence family, and case mix."""

    centre_id: str
    profile: str
    vendor: str
    field_strength: float
    contrast_agent: str
    spacing: dict[str, tuple[float, float, float]]
    snr: dict[str, float]
    intensity_scale: float
    b_value: float
    phase_delays: dict[str, float]
    case_mix: dict[str, float] = field(default_factory=dict)

    @property
    def dynamic_phases(self) -> tuple[str, ...]:
        """The dynamic T1 phases this centre acquires (delayed with an extracellular agent, else transitional and HBP)."""
        late = ("delayed",) if self.contrast_agent == "extracellular" else ("transitional", "hbp")
        return ("t1_pre", "arterial", "portal", *late)

    def family_sequences(self, family: str) -> tuple[str, ...]:
        """Return the sequences of a family this centre acquires."""
        if family == "dynamic":
            return self.dynamic_phases
        return FAMILIES[family]


def make_centres(count: int, rng: np.random.Generator) -> list[Centre]:
    """Return ``count`` centres: profiles, vendors and field strengths rotate, the rest is drawn from ``rng``."""
    if count < 1:
        msg = f"A cohort needs at least one centre, got centres={count}"
        raise ValueError(msg)
    profiles = ("hepatology", "oncology", "general")
    centres = []
    for index in range(count):
        profile = profiles[index % 3]
        vendor = VENDORS[(index + index // 3) % 3]
        field_strength = 3.0 if (index % 2 == 1) else 1.5
        agent = "gadoxetate" if profile == "hepatology" or (index % 4 == 3) else "extracellular"
        snr_scale = 1.4 if field_strength == 3.0 else 1.0
        spacing = {
            "t2": _grid_spacing(float(rng.uniform(1.0, 1.4)), float(rng.choice([5.0, 5.5, 6.0]))),
            "dual": _grid_spacing(float(rng.uniform(1.3, 1.6)), float(rng.choice([5.0, 5.5, 6.0]))),
            "dwi": _grid_spacing(float(rng.uniform(1.4, 1.6)), float(rng.choice([5.5, 6.0]))),
            "dynamic": _grid_spacing(float(rng.uniform(1.25, 1.6)), float(rng.choice([3.0, 3.5, 4.0]))),
        }
        snr = {
            "t2": float(rng.uniform(14, 24) * snr_scale),
            "dual": float(rng.uniform(18, 30) * snr_scale),
            "dwi": float(rng.uniform(8, 14) * snr_scale),
            "dynamic": float(rng.uniform(16, 28) * snr_scale),
        }
        mix = dict(PROFILES[profile])
        weights = np.array([mix[d] for d in DIAGNOSES]) * rng.lognormal(0.0, 0.15, len(DIAGNOSES))
        weights /= weights.sum()
        centres.append(
            Centre(
                centre_id=f"centre{index + 1:02d}",
                profile=profile,
                vendor=vendor,
                field_strength=field_strength,
                contrast_agent=agent,
                spacing=spacing,
                snr=snr,
                intensity_scale=float(rng.uniform(200.0, 1500.0)),
                b_value=float(rng.choice([600.0, 800.0])),
                phase_delays={
                    "arterial": float(rng.uniform(20, 35)),
                    "portal": float(rng.uniform(60, 80)),
                    "delayed": float(rng.uniform(180, 300)),
                    "transitional": float(rng.uniform(180, 300)),
                    "hbp": float(rng.uniform(1200, 1500)),
                },
                case_mix={d: float(w) for d, w in zip(DIAGNOSES, weights, strict=True)},
            )
        )
    return centres


def _grid_spacing(in_plane: float, slice_thickness: float) -> tuple[float, float, float]:
    return (in_plane, in_plane, slice_thickness)


def family_grid(
    spacing: tuple[float, float, float],
    centre_xy: np.ndarray,
    extent_xy: np.ndarray,
    z_range: tuple[float, float],
) -> Grid:
    """Return an axis-aligned RAS grid of ``spacing`` covering ``extent_xy`` mm around ``centre_xy`` and ``z_range``."""
    shape = [int(np.ceil(extent_xy[a] / spacing[a])) for a in range(2)]
    shape.append(int(np.ceil((z_range[1] - z_range[0]) / spacing[2])))
    affine = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    affine[0, 3] = centre_xy[0] - (shape[0] - 1) * spacing[0] / 2
    affine[1, 3] = centre_xy[1] - (shape[1] - 1) * spacing[1] / 2
    affine[2, 3] = z_range[0] + spacing[2] / 2
    return Grid((shape[0], shape[1], shape[2]), affine)


RAS_FROM_ANATOMY = np.diag([-1.0, 1.0, 1.0, 1.0])
"""The anatomy is modelled with +x towards the patient's left (``lai.synth.anatomy``); NIfTI world
coordinates are RAS (+x towards the patient's right). Written affines are ``RAS_FROM_ANATOMY @ affine``:
the voxel arrays stay as simulated and the header says truthfully where the patient's right is."""


def ras_affine(grid: Grid) -> np.ndarray:
    """Return the RAS voxel-to-world affine of an acquisition grid laid out in anatomy coordinates."""
    return RAS_FROM_ANATOMY @ grid.affine


def grid_axes(grid: Grid) -> list[np.ndarray]:
    """Return the world coordinates of a (axis-aligned) grid's voxel centres along x, y and z."""
    return [grid.affine[a, 3] + grid.affine[a, a] * np.arange(grid.shape[a]) for a in range(3)]


def bias_profiles(rng: np.random.Generator, axes: list[np.ndarray], strength: float) -> list[np.ndarray]:
    """Return three 1D multiplicative profiles whose outer product is a smooth coil-sensitivity field.

    Each profile is ``exp`` of a random low-order cosine series over the field of view; ``strength`` is
    the standard deviation of the log-field (~0.1-0.2 for body coils at 1.5-3 T).
    """
    profiles = []
    for axis in axes:
        t = (axis - axis[0]) / max(axis[-1] - axis[0], 1.0)
        log = sum(
            rng.normal(0.0, strength / k) * np.cos(np.pi * k * t + rng.uniform(0, np.pi)) for k in (1, 2)
        )
        profiles.append(np.exp(log).astype(np.float32))
    return profiles


_BANK_SIZE = 1 << 23


@lru_cache(maxsize=2)
def noise_bank(seed: int) -> np.ndarray:
    """Return a fixed bank of standard normal samples (float32) for a cohort seed.

    Volumes take their noise from random offsets into this bank rather than drawing fresh samples: the
    noise of any two volumes is still uncorrelated, each patient stays reproducible on any worker, and
    drawing ~40 million normals per patient (about a third of the time budget) is avoided.
    """
    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence([seed, 0x4E015E])))
    return rng.standard_normal(_BANK_SIZE, dtype=np.float32)


def rician(signal: np.ndarray, sigma: float, rng: np.random.Generator, bank: np.ndarray) -> np.ndarray:
    """Return the magnitude of ``signal`` plus complex Gaussian noise of standard deviation ``sigma``, in place."""
    n = signal.size
    if n > bank.size:
        msg = f"Volume of {n} voxels exceeds the noise bank ({bank.size})"
        raise ValueError(msg)
    flat = signal.reshape(-1)
    real_at, imaginary_at = rng.integers(0, bank.size - n + 1, 2)
    flat += sigma * bank[real_at : real_at + n]
    np.square(flat, out=flat)
    imaginary = sigma * bank[imaginary_at : imaginary_at + n]
    np.square(imaginary, out=imaginary)
    flat += imaginary
    np.sqrt(flat, out=flat)
    return signal


def to_scanner_int16(signal: np.ndarray, scale: float) -> np.ndarray:
    """Return ``signal * scale`` rounded to int16 as scanners store it (clipped to 0-32767)."""
    signal *= scale
    np.clip(signal, 0.0, 32767.0, out=signal)
    return np.rint(signal).astype(np.int16)


def shift_volume(volume: np.ndarray, shift_voxels: np.ndarray) -> np.ndarray:
    """Return ``volume`` moved by a sub-voxel shift (voxels, per axis): linear along each axis, edges repeated."""
    out = volume
    for axis, s in enumerate(shift_voxels):
        if abs(s) < 0.02:
            continue
        whole = int(np.floor(s))
        frac = float(s - whole)
        n = out.shape[axis]
        index = np.clip(np.arange(n) - whole, 0, n - 1)
        index_next = np.clip(index - 1, 0, n - 1)
        out = np.take(out, index, axis=axis) * (1.0 - frac) + np.take(out, index_next, axis=axis) * frac
    return out
