"""Rasterise the anatomy and the lesions onto one acquisition grid, for every sequence of that grid at once.

Sequences that share a grid (the dynamic phases; in- and opposed-phase; b0 and high-b DWI) differ only
in tissue signal, so each structure's partial-volume fraction is computed once per grid and painted into
all of them. Organ fractions are analytic: each implicit field is divided by its gradient scaled by the
voxel size, so the field becomes "voxels from the surface along its normal" and the fraction of a voxel
inside is a linear ramp across one voxel - thick slices blur craniocaudal boundaries, in-plane ones stay
sharp. Lesions, where partial volume matters most, are simulated on a finer grid inside their box and
averaged down to the voxel.
"""

from __future__ import annotations

import numpy as np

from lai.synth.anatomy import COARSE_SPACING, TISSUE_INDEX, Anatomy, Structure, coarse_axes, liver_sdf_at
from lai.synth.lesions import (
    LesionSpec,
    halo_weight,
    lesion_distance,
    lesion_local,
    lesion_values,
    texture_field,
    wave_field,
)
from lai.synth.signals import SIGNAL_SEQUENCES

_FINE_POINTS_LIMIT = 500_000


def _overlap(first: float, count: int, target: np.ndarray) -> tuple[slice, np.ndarray]:
    """Return the target indices inside a coarse axis and their fractional coarse positions."""
    if count == 1:
        return slice(0, target.size), np.zeros(target.size)
    pos = (target - first) / COARSE_SPACING
    inside = np.nonzero((pos >= 0.0) & (pos <= count - 1))[0]
    if inside.size == 0:
        return slice(0, 0), pos[:0]
    box = slice(int(inside[0]), int(inside[-1]) + 1)
    return box, pos[box]


def _lerp(array: np.ndarray, pos: np.ndarray, axis: int) -> np.ndarray:
    """Return ``array`` linearly interpolated at fractional indices ``pos`` along ``axis``."""
    n = array.shape[axis]
    if n == 1:
        return array
    i0 = np.clip(np.floor(pos).astype(np.intp), 0, n - 2)
    shape = [1] * array.ndim
    shape[axis] = -1
    w = (pos - i0).astype(np.float32).reshape(shape)
    low = np.take(array, i0, axis=axis)
    high = np.take(array, i0 + 1, axis=axis)
    high -= low
    high *= w
    low += high
    return low


class _Box:
    """Where a structure's coarse box meets the target axes, and interpolation of fields on that box."""

    def __init__(self, structure: Structure, axes: list[np.ndarray]):
        first = [c[0] for c in coarse_axes(structure.start, structure.sdf.shape)]
        found = [_overlap(first[a], structure.sdf.shape[a], axes[a]) for a in range(3)]
        self.slices = tuple(f[0] for f in found)
        self.positions = [f[1] for f in found]
        self.empty = any(p.size == 0 for p in self.positions)

    def interpolate(self, field: np.ndarray) -> np.ndarray:
        """Return a field of the structure's coarse box sampled at the target voxels of the box."""
        out = field
        for axis in (2, 1, 0):
            out = _lerp(out, self.positions[axis], axis)
        return out


def pv_field(sdf: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Return the field in voxel units along its normal: ``sdf / |grad(sdf) * spacing|`` (coarse grid)."""
    planar = sdf.shape[2] == 1
    if planar:
        gx, gy = np.gradient(sdf[:, :, 0], COARSE_SPACING)
        norm = np.sqrt((gx * spacing[0]) ** 2 + (gy * spacing[1]) ** 2)[:, :, None]
    else:
        gx, gy, gz = np.gradient(sdf, COARSE_SPACING)
        norm = np.sqrt((gx * spacing[0]) ** 2 + (gy * spacing[1]) ** 2 + (gz * spacing[2]) ** 2)
    return (sdf / np.maximum(norm, 0.3 * min(spacing))).astype(np.float32)


def family_signals(table: np.ndarray, sequences: tuple[str, ...], b_value: float) -> np.ndarray:
    """Return the tissue x sequence signal columns of a grid's sequences (``dwi`` from ``dwi_b0`` and ADC)."""
    columns = []
    for sequence in sequences:
        if sequence == "dwi":
            b0 = table[:, SIGNAL_SEQUENCES.index("dwi_b0")]
            columns.append(b0 * np.exp(-b_value * 1e-3 * table[:, SIGNAL_SEQUENCES.index("adc")]))
        else:
            columns.append(table[:, SIGNAL_SEQUENCES.index(sequence)])
    return np.stack(columns, axis=1).astype(np.float32)


def render_grid(
    anatomy: Anatomy,
    lesions: list[LesionSpec],
    table: np.ndarray,
    sequences: tuple[str, ...],
    axes: list[np.ndarray],
    spacing: tuple[float, float, float],
    *,
    b_value: float = 800.0,
    want_liver: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return noise-free signal volumes ``(len(sequences), nx, ny, nz)`` on a grid, and the liver mask if asked.

    ``axes`` are the world coordinates of the voxel centres along x, y and z, already moved by the
    exam's misregistration (the anatomy is sampled at world minus shift). ``table`` is the patient's
    tissue x sequence signal table (``lai.synth.signals``).
    """
    lut = family_signals(table, sequences, b_value)
    n_seq = len(sequences)
    shape = (axes[0].size, axes[1].size, axes[2].size)
    base = np.zeros((n_seq, shape[0], shape[1], 1), np.float32)
    three_d = []
    for structure in anatomy.structures:
        if structure.sdf.shape[2] != 1:
            three_d.append(structure)
            continue
        box = _Box(structure, axes)
        if box.empty:
            continue
        f = np.clip(0.5 - box.interpolate(pv_field(structure.sdf, spacing)), 0.0, 1.0)
        view = base[(slice(None), *box.slices[:2], slice(None))]
        view += f[None] * (lut[structure.tissue][:, None, None, None] - view)
    stack = np.empty((n_seq, *shape), np.float32)
    stack[...] = base
    liver_mask = None
    for structure in three_d:
        box = _Box(structure, axes)
        if box.empty:
            continue
        f = np.clip(0.5 - box.interpolate(pv_field(structure.sdf, spacing)), 0.0, 1.0)
        if structure.tissue == TISSUE_INDEX["liver"]:
            values = _liver_values(anatomy, box, lut)
            if want_liver:
                liver_mask = np.zeros(shape, np.uint8)
                liver_mask[box.slices] = f >= 0.5
        else:
            values = [lut[structure.tissue, s] for s in range(n_seq)]
        for s in range(n_seq):
            view = stack[s][box.slices]
            view += f * (values[s] - view)
    liver_signal = {seq: float(lut[TISSUE_INDEX["liver"], s]) for s, seq in enumerate(sequences)}
    for lesion in lesions:
        _paint_lesion(stack, lesion, anatomy, sequences, liver_signal, axes, spacing, b_value)
    return stack, liver_mask


def _liver_values(anatomy: Anatomy, box: _Box, lut: np.ndarray) -> list[np.ndarray]:
    """Return the liver's signal per sequence in its box: mild texture, fibrotic bands when cirrhotic."""
    liver, fibrosis_row = lut[TISSUE_INDEX["liver"]], lut[TISSUE_INDEX["fibrosis"]]
    texture = box.interpolate(anatomy.texture)
    texture *= 0.04
    texture += 1.0
    band = None
    if anatomy.fibrosis is not None:
        g = box.interpolate(anatomy.fibrosis)
        band = np.exp(-((g / 0.15) ** 2))
    values = []
    for s in range(lut.shape[1]):
        v = liver[s] * texture
        if band is not None:
            v += band * (fibrosis_row[s] - liver[s])
        values.append(v)
    return values


def lesion_box(spec: LesionSpec, axes: list[np.ndarray]) -> tuple[slice, slice, slice] | None:
    """Return the target index box around a lesion (``None`` when it misses the grid)."""
    reach = spec.extent_mm
    slices = []
    for a in range(3):
        inside = np.nonzero(np.abs(axes[a] - spec.centre[a]) <= reach)[0]
        if inside.size == 0:
            return None
        slices.append(slice(int(inside[0]), int(inside[-1]) + 1))
    return slices[0], slices[1], slices[2]


def _fine_axes(
    axes: list[np.ndarray], box: tuple[slice, slice, slice], spacing: tuple[float, float, float]
) -> tuple[list[np.ndarray], list[int]]:
    """Return supersampled axes inside a box (each voxel split ``factor`` times per axis) and the factors."""
    sizes = [box[a].stop - box[a].start for a in range(3)]
    factors = [2 if spacing[0] > 1.0 else 1, 2 if spacing[1] > 1.0 else 1, 3 if spacing[2] > 4.5 else 2]
    while (
        np.prod([s * f for s, f in zip(sizes, factors, strict=True)]) > _FINE_POINTS_LIMIT
        and max(factors) > 1
    ):
        factors[int(np.argmax(factors))] -= 1
    fine = []
    for a in range(3):
        offsets = spacing[a] * ((np.arange(factors[a]) + 0.5) / factors[a] - 0.5)
        fine.append((axes[a][box[a]][:, None] + offsets[None, :]).reshape(-1))
    return fine, factors


def _down(array: np.ndarray, factors: list[int]) -> np.ndarray:
    """Return the mean over each voxel's supersamples."""
    nx, ny, nz = (array.shape[a] // factors[a] for a in range(3))
    return array.reshape(nx, factors[0], ny, factors[1], nz, factors[2]).mean(axis=(1, 3, 5))


def _paint_lesion(
    stack: np.ndarray,
    spec: LesionSpec,
    anatomy: Anatomy,
    sequences: tuple[str, ...],
    liver_signal: dict[str, float],
    axes: list[np.ndarray],
    spacing: tuple[float, float, float],
    b_value: float,
) -> None:
    """Paint one lesion (and its halo) into every sequence of the stack, supersampled inside its box."""
    box = lesion_box(spec, axes)
    if box is None:
        return
    fine, factors = _fine_axes(axes, box, spacing)
    q = lesion_local(spec, fine)
    r, d = lesion_distance(spec, q)
    # The texture is smooth on the scale of a voxel: sample it at voxel centres, repeat it to the supersamples.
    texture = texture_field(spec.texture, lesion_local(spec, [axes[a][box[a]] for a in range(3)]))
    for axis, factor in enumerate(factors):
        texture = np.repeat(texture, factor, axis=axis)
    step = float(np.mean([spacing[a] / factors[a] for a in range(3)]))
    f = np.clip(0.5 - d / step, 0.0, 1.0)
    halo = None
    if spec.halo_mm > 0:
        points = np.stack(
            np.broadcast_arrays(fine[0][:, None, None], fine[1][None, :, None], fine[2][None, None, :]),
            axis=-1,
        )
        in_liver = np.clip(0.5 - liver_sdf_at(anatomy, points) / 2.0, 0.0, 1.0)
        halo = (1.0 - f) * in_liver
    coverage = _down(f, factors)
    for s, sequence in enumerate(sequences):
        if sequence == "dwi":
            b0 = lesion_values(spec, "dwi_b0", q, r, d, texture) * liver_signal["dwi_b0"]
            value = b0 * np.exp(-b_value * 1e-3 * lesion_values(spec, "adc", q, r, d, texture))
        else:
            value = lesion_values(spec, sequence, q, r, d, texture) * liver_signal[sequence]
        paint = f * value
        total = coverage
        if halo is not None:
            weight = halo * halo_weight(spec, sequence, q, d)
            halo_value = spec.ratios["halo"].get(sequence, 1.0) * liver_signal.get(sequence, 1.0)
            if sequence == "dwi":
                halo_value = liver_signal[sequence] * spec.ratios["halo"]["dwi_b0"]
            paint = paint + weight * halo_value
            total = coverage + _down(weight, factors)
        view = stack[s][box]
        view *= 1.0 - total
        view += _down(paint, factors)


def annotator_mask(
    spec: LesionSpec, axes: list[np.ndarray], spacing: tuple[float, float, float]
) -> tuple[tuple[slice, slice, slice], np.ndarray] | None:
    """Return a lesion's box on a grid and the mask an annotator would draw there.

    The outline wanders around the true boundary by about a voxel: a smooth random field plus a
    per-lesion bias (some readers draw tight, some generous) is added to the lesion's distance.
    """
    box = lesion_box(spec, axes)
    if box is None:
        return None
    q = lesion_local(spec, [axes[a][box[a]] for a in range(3)])
    _, d = lesion_distance(spec, q)
    voxel = float(np.mean(spacing[:2]))
    wander = voxel * wave_field(spec.outline, q)
    mask = (d + wander + spec.annotator_bias * voxel) < 0.0
    if not mask.any():
        centre = tuple(int(np.argmin(np.abs(axes[a][box[a]] - spec.centre[a]))) for a in range(3))
        mask[centre] = True
    return box, mask
