"""Liver-specific lesion features: enhancement kinetics, rim versus core, peritumoral ring, T2, ADC, context.

What radiologists read on liver MRI, as numbers (see docs/features.md, "Liver-specific features"):

- ``kinetics:washin_arterial``, ``kinetics:washout_portal``, ``kinetics:washout_delayed``: relative changes
  of the liver-normalised lesion mean ``r_phase`` (lesion mean / liver median on that phase) between
  phases. Dividing by the liver on each phase cancels each phase's own scanner scale and gain, so the
  numbers compare centres; they describe the lesion *relative to the liver*, as APHE and washout do.
- ``kinetics:<phase>_rim_to_core_ratio``: mean of a 2 mm shell inside the lesion boundary / mean of the
  rest (rim enhancement, capsule, target appearance).
- ``kinetics:<phase>_peritumoral_to_liver_ratio``: mean of a 0-5 mm ring outside the lesion / liver median
  (enhancing capsule, perilesional hyperaemia).
- ``context:adc_mean``, ``context:adc_min``: diffusion restriction in 1e-3 mm^2/s (T2 brightness and the ADC
  relative to the liver are the ``kinetics:t2w_lesion_to_liver_ratio`` and ``kinetics:adc_...`` columns).
- ``context:lesion_count``, ``context:size_rank``, ``context:volume_fraction_of_liver``: the lesion among
  the others of its case (metastases are often multiple; a dominant lesion differs from satellites).

Every region is built on the lesion's bounding box padded by the largest distance used, never on the whole
volume. A value that cannot be measured (no core, empty ring, missing phase) is NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

DYNAMIC_PHASES: tuple[str, ...] = ("t1_pre", "arterial", "portal", "delayed", "transitional", "hbp")
"""The phases of the dynamic T1 series (pre-contrast included), in acquisition order."""

SHELL_MM = 2.0
"""Thickness of the lesion's outer shell (rim) measured inward from the boundary."""

PERITUMORAL_MM = 5.0
"""Outer distance of the ring around the lesion (capsule, perilesional enhancement)."""

ADC_PERCENTILE = 10.0
"""Percentile of the lesion's ADC reported as ``context:adc_min`` (robust to single noisy voxels)."""

ADC_TO_1E3 = 1e-3
"""ADC maps are stored in 1e-6 mm^2/s; ``context:adc_*`` values are in 1e-3 mm^2/s."""

LATE_PHASES: tuple[str, ...] = ("delayed", "transitional")
"""The phase after the portal venous one: delayed (extracellular agent), else transitional (gadoxetate)."""

_ENHANCEMENT: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("kinetics:washin_arterial", "t1_pre", ("arterial",), 1.0),
    ("kinetics:washout_portal", "arterial", ("portal",), -1.0),
    ("kinetics:washout_delayed", "portal", LATE_PHASES, -1.0),
)
"""Column, phase before, phase(s) after (first present), sign: sign * (r_after - r_before) / r_before."""

_TOLERANCE_MM = 1e-6
_FACES = ndimage.generate_binary_structure(3, 1)


def liver_feature_columns(sequences: Sequence[str]) -> list[str]:
    """Return the liver-specific columns ``extract_dataset`` adds for ``sequences``, in table order."""
    present = set(sequences)
    columns = []
    for phase in DYNAMIC_PHASES:
        if phase in present:
            columns += [rim_to_core_column(phase), peritumoral_column(phase)]
    for column, before, after, _ in _ENHANCEMENT:
        if before in present and present.intersection(after):
            columns.append(column)
    if "adc" in present:
        columns += ["context:adc_mean", "context:adc_min"]
    return [*columns, "context:lesion_count", "context:size_rank", "context:volume_fraction_of_liver"]


def rim_to_core_column(phase: str) -> str:
    """Return the name of a phase's rim-to-core ratio column."""
    return f"kinetics:{phase}_rim_to_core_ratio"


def peritumoral_column(phase: str) -> str:
    """Return the name of a phase's peritumoral-to-liver ratio column."""
    return f"kinetics:{phase}_peritumoral_to_liver_ratio"


def shell_and_core(
    lesion: np.ndarray, spacing: Sequence[float], shell_mm: float = SHELL_MM
) -> tuple[np.ndarray, np.ndarray]:
    """Return the lesion's outer shell and its core, two boolean arrays of ``lesion``'s shape.

    A lesion voxel's depth is the distance (mm, anisotropic: ``spacing``) from its centre to the nearest
    voxel centre outside the lesion; the array's border counts as outside. The shell holds the voxels of
    depth <= ``shell_mm`` and, so that it is at least one voxel thick along coarse axes (3-6 mm slices),
    every voxel with a face neighbour outside the lesion. The core is the rest of the lesion (possibly
    empty).
    """
    padded = np.pad(np.asarray(lesion, dtype=bool), 1)
    depth = ndimage.distance_transform_edt(padded, sampling=tuple(float(s) for s in spacing))
    boundary = padded & ~ndimage.binary_erosion(padded, structure=_FACES)
    shell = padded & ((depth <= shell_mm + _TOLERANCE_MM) | boundary)
    inner = (slice(1, -1),) * 3
    return shell[inner], (padded & ~shell)[inner]


def peritumoral_ring(
    lesion: np.ndarray, spacing: Sequence[float], outer_mm: float = PERITUMORAL_MM
) -> np.ndarray:
    """Return the voxels outside ``lesion`` within ``outer_mm`` of it, at least its face neighbours.

    A voxel belongs to the ring when its centre lies within ``outer_mm`` of a lesion voxel centre
    (anisotropic distance, ``spacing``) or when it shares a face with the lesion, so that the ring is at
    least one voxel thick on grids coarser than ``outer_mm``.
    """
    lesion = np.asarray(lesion, dtype=bool)
    distance = ndimage.distance_transform_edt(~lesion, sampling=tuple(float(s) for s in spacing))
    touching = ndimage.binary_dilation(lesion, structure=_FACES)
    return ~lesion & ((distance <= outer_mm + _TOLERANCE_MM) | touching)


def sequence_features(
    sequence: str,
    intensities: np.ndarray,
    labels: np.ndarray,
    references: Mapping[int, float],
    spacing: Sequence[float],
    liver: np.ndarray | None = None,
) -> dict[int, dict[str, float]]:
    """Return label -> liver-specific features of each lesion in ``references`` on one sequence.

    Parameters
    ----------
    sequence
        Canonical sequence name: dynamic phases get rim/core and peritumoral ratios, ``t2w`` its lesion to
        liver ratio, ``adc`` the ADC statistics; other sequences give nothing.
    intensities
        The image array.
    labels
        Integer lesion label map on the image's grid (0 is background).
    references
        Lesion label -> liver median on this sequence (see ``lai.radiomics.normalisation``); labels with
        no voxel on the grid must be left out (their features stay NaN).
    spacing
        Voxel size in mm along each axis.
    liver
        Binary liver mask on the same grid, if any: the peritumoral ring is kept inside it.
    """
    dynamic = sequence in DYNAMIC_PHASES
    if not (dynamic or sequence == "adc") or not references:
        return {}
    boxes = ndimage.find_objects(labels, max_label=max(references))
    margin = np.ceil(PERITUMORAL_MM / np.asarray(spacing, dtype=np.float64)).astype(int) + 1
    result = {}
    for label, reference in references.items():
        box = _padded(boxes[label - 1], margin if dynamic else np.zeros(3, int), labels.shape)
        box_labels = labels[box]
        lesion = box_labels == label
        values = np.asarray(intensities[box], dtype=np.float64)
        mean = float(values[lesion].mean())
        if sequence == "adc":
            result[label] = {
                "context:adc_mean": mean * ADC_TO_1E3,
                "context:adc_min": float(np.percentile(values[lesion], ADC_PERCENTILE)) * ADC_TO_1E3,
            }
        else:
            shell, core = shell_and_core(lesion, spacing)
            ring = peritumoral_ring(lesion, spacing) & (box_labels == 0)
            if liver is not None:
                ring &= np.asarray(liver[box], dtype=bool)
            result[label] = {
                rim_to_core_column(sequence): _ratio(_mean(values, shell), _mean(values, core)),
                peritumoral_column(sequence): _ratio(_mean(values, ring), reference),
            }
    return result


def enhancement_features(ratios: Mapping[str, float]) -> dict[str, float]:
    """Return wash-in and washout from the liver-normalised lesion means ``r`` of each phase present.

    ``washin_arterial = (r_arterial - r_t1_pre) / r_t1_pre``;
    ``washout_portal = (r_arterial - r_portal) / r_arterial``;
    ``washout_delayed = (r_portal - r_late) / r_portal`` with late = delayed, else transitional.
    Positive washout: the lesion loses signal relative to the liver. A missing phase gives NaN.
    """
    nan = float("nan")
    result = {}
    for column, before, after, sign in _ENHANCEMENT:
        r_before = ratios.get(before, nan)
        r_after = next((ratios[p] for p in after if _finite(ratios.get(p))), nan)
        result[column] = sign * _ratio(r_after - r_before, r_before)
    return result


def context_features(
    labels: np.ndarray, lesion_labels: Sequence[int], liver: np.ndarray | None = None
) -> dict[int, dict[str, float]]:
    """Return label -> count, size rank and liver volume fraction of every lesion of a case on one grid.

    ``context:lesion_count`` is the number of lesions of the case; ``context:size_rank`` ranks the lesions
    present on the grid by voxel count (1 = largest; equal sizes share the smaller rank);
    ``context:volume_fraction_of_liver`` is the lesion's voxels over those of the liver mask united with
    every lesion (NaN without a liver mask). A lesion with no voxel on the grid gets NaN rank and fraction.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels.ravel(), minlength=max(lesion_labels, default=0) + 1)
    sizes = np.array([counts[label] for label in lesion_labels], dtype=np.float64)
    ranks = 1 + (sizes[None, :] > sizes[:, None]).sum(axis=1)
    nan = float("nan")
    liver_voxels = nan
    if liver is not None:
        liver_voxels = float(np.count_nonzero(np.asarray(liver, dtype=bool) | (labels > 0)))
    result = {}
    for label, size, rank in zip(lesion_labels, sizes, ranks, strict=True):
        present = size > 0
        result[label] = {
            "context:lesion_count": float(len(lesion_labels)),
            "context:size_rank": float(rank) if present else nan,
            "context:volume_fraction_of_liver": _ratio(size, liver_voxels) if present else nan,
        }
    return result


def _padded(box: tuple[slice, ...], margin: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(
        slice(max(int(s.start) - int(m), 0), min(int(s.stop) + int(m), n))
        for s, m, n in zip(box, margin, shape, strict=True)
    )


def _mean(values: np.ndarray, region: np.ndarray) -> float:
    return float(values[region].mean()) if region.any() else float("nan")


def _ratio(numerator: float, denominator: float) -> float:
    if not (_finite(numerator) and _finite(denominator)) or denominator == 0:
        return float("nan")
    return numerator / denominator


def _finite(value: float | None) -> bool:
    return value is not None and bool(np.isfinite(value))
