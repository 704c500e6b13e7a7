"""The synthetic abdomen: body wall, liver, vessels and neighbouring organs as signed distance fields.

Every structure is a smooth implicit field (negative inside, roughly millimetres) sampled on a coarse
world grid (``COARSE_SPACING``) inside its own bounding box; rendering interpolates the fields to each
acquisition grid (``lai.synth.render``). Anatomy coordinates are millimetres with +x towards the
patient's left, +y anterior, +z cranial (written files convert to RAS: ``acquisition.ras_affine``); the origin lies on the body axis at the level of the liver hilum.

Sizes follow adult anatomy: a liver of 1.2-2.0 L with a larger right lobe and a left lobe that tapers
across the midline (smaller and with an enlarged caudate lobe when cirrhotic), an aorta of 20-26 mm,
a portal vein of 12-15 mm, hepatic veins of 6-10 mm joining the inferior vena cava under the diaphragm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import ndimage

TISSUES: tuple[str, ...] = (
    "air",
    "fat",
    "muscle",
    "viscera",
    "bone",
    "csf",
    "kidney_cortex",
    "kidney_medulla",
    "spleen",
    "liver",
    "gallbladder",
    "artery",
    "portal_vein",
    "hepatic_vein",
    "fibrosis",
    "bowel",
)
"""Tissue classes; their signal per sequence lives in ``lai.synth.signals``."""

TISSUE_INDEX: dict[str, int] = {name: i for i, name in enumerate(TISSUES)}

COARSE_SPACING = 4.0
"""Spacing in mm of the grid the implicit fields are sampled on before interpolation."""

_EXTENT = np.array([[-200.0, 200.0], [-156.0, 156.0], [-136.0, 136.0]])
"""World extent of the coarse grid (x, y, z), larger than any field of view used."""


@dataclass(frozen=True)
class Structure:
    """One structure: its tissue, the coarse-grid index of its box's first voxel, and its field there."""

    name: str
    tissue: int
    start: tuple[int, int, int]
    sdf: np.ndarray

    def world_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the world coordinates of the first and last coarse voxel centres of the box."""
        low = _EXTENT[:, 0] + np.asarray(self.start) * COARSE_SPACING
        return low, low + (np.asarray(self.sdf.shape) - 1) * COARSE_SPACING


@dataclass(frozen=True)
class Anatomy:
    """One patient's abdomen: structures in painting order (later ones cover earlier ones) and liver facts.

    ``fibrosis`` and ``texture`` are smooth fields on the liver's box: the zero crossings of
    ``fibrosis`` draw the reticulation of a cirrhotic liver; ``texture`` is mild parenchymal heterogeneity.
    """

    structures: tuple[Structure, ...]
    liver: Structure
    fibrosis: np.ndarray | None
    texture: np.ndarray
    liver_volume_ml: float
    liver_z: tuple[float, float]
    body_half_axes: tuple[float, float]
    cirrhosis: bool


def coarse_axes(start: tuple[int, int, int], shape: tuple[int, ...]) -> list[np.ndarray]:
    """Return the world coordinates (x, y, z) of a coarse box's voxel centres."""
    return [_EXTENT[a, 0] + (start[a] + np.arange(shape[a])) * COARSE_SPACING for a in range(3)]


def _box(low: np.ndarray, high: np.ndarray) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    full = np.round((_EXTENT[:, 1] - _EXTENT[:, 0]) / COARSE_SPACING).astype(int) + 1
    first = np.clip(np.floor((low - _EXTENT[:, 0]) / COARSE_SPACING).astype(int) - 2, 0, full - 1)
    last = np.clip(np.ceil((high - _EXTENT[:, 0]) / COARSE_SPACING).astype(int) + 2, 0, full - 1)
    return (int(first[0]), int(first[1]), int(first[2])), (
        int(last[0] - first[0] + 1),
        int(last[1] - first[1] + 1),
        int(last[2] - first[2] + 1),
    )


def _points(start: tuple[int, int, int], shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    x, y, z = coarse_axes(start, shape)
    return x[:, None, None], y[None, :, None], z[None, None, :]


# --- Implicit shapes (negative inside, about millimetres near the surface) ---


def ellipsoid_sdf(
    points: tuple[np.ndarray, ...],
    centre: np.ndarray,
    radii: np.ndarray,
    rotation: np.ndarray,
    offset: float = 0.0,
) -> np.ndarray:
    """Return an approximate signed distance to an ellipsoid (smooth, exact on the axes), plus ``offset``."""
    d = [points[a] - centre[a] for a in range(3)]
    q = [(rotation[0, a] * d[0] + rotation[1, a] * d[1] + rotation[2, a] * d[2]) for a in range(3)]
    k0 = np.sqrt(sum((q[a] / radii[a]) ** 2 for a in range(3)))
    k1 = np.sqrt(sum((q[a] / radii[a] ** 2) ** 2 for a in range(3))) + 1e-9
    return (k0 * (k0 - 1.0) / k1 + offset).astype(np.float32)


def tube_sdf(
    points: tuple[np.ndarray, ...], a: np.ndarray, b: np.ndarray, radius_a: float, radius_b: float
) -> np.ndarray:
    """Return a smooth signed field of a tapered tube from ``a`` to ``b``: ``(r^2 - R^2) / 2R``.

    The squared form interpolates well from a coarse grid even for vessels thinner than its spacing,
    and crosses zero at the wall with unit slope, like a distance.
    """
    ab = b - a
    length2 = float(ab @ ab)
    rel = [points[i] - a[i] for i in range(3)]
    h = np.clip((rel[0] * ab[0] + rel[1] * ab[1] + rel[2] * ab[2]) / length2, 0.0, 1.0)
    r2 = sum((rel[i] - h * ab[i]) ** 2 for i in range(3))
    radius = radius_a + h * (radius_b - radius_a)
    return ((r2 - radius**2) / (2.0 * radius)).astype(np.float32)


def smooth_union(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Return the union of two fields with a fillet of width ``k`` mm (polynomial smooth minimum)."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def rotation_z(angle: float, tilt: float = 0.0) -> np.ndarray:
    """Return a rotation by ``angle`` about z followed by ``tilt`` about x (radians)."""
    c, s = np.cos(angle), np.sin(angle)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    ct, st = np.cos(tilt), np.sin(tilt)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, ct, -st], [0.0, st, ct]])
    return rz @ rx


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Return Gaussian-filtered white noise of unit standard deviation (correlation ``sigma`` voxels)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field / (field.std() + 1e-9)).astype(np.float32)


# --- The patient ---


@dataclass(frozen=True)
class _Tube:
    a: np.ndarray
    b: np.ndarray
    radius_a: float
    radius_b: float


def _structure(
    name: str,
    tissue: str,
    low: np.ndarray,
    high: np.ndarray,
    field_fn: Callable[[tuple[np.ndarray, ...]], np.ndarray],
    *,
    planar: bool = False,
) -> Structure:
    """Return a structure sampled on the coarse box around ``low``-``high``; ``planar`` ones do not vary with z."""
    start, shape = _box(low, high)
    if planar:
        k0 = int(np.round(-_EXTENT[2, 0] / COARSE_SPACING))
        start, shape = (start[0], start[1], k0), (shape[0], shape[1], 1)
    sdf = np.ascontiguousarray(np.broadcast_to(field_fn(_points(start, shape)), shape), dtype=np.float32)
    return Structure(name, TISSUE_INDEX[tissue], start, sdf)


def _tubes_structure(name: str, tissue: str, tubes: list[_Tube]) -> Structure:
    low = np.min([np.minimum(t.a, t.b) - max(t.radius_a, t.radius_b) for t in tubes], axis=0)
    high = np.max([np.maximum(t.a, t.b) + max(t.radius_a, t.radius_b) for t in tubes], axis=0)
    start, shape = _box(low, high)
    field = np.full(shape, 1e3, np.float32)
    for tube in tubes:
        lo, hi = np.minimum(tube.a, tube.b), np.maximum(tube.a, tube.b)
        pad = max(tube.radius_a, tube.radius_b) + 3 * COARSE_SPACING
        s, sh = _box(lo - pad, hi + pad)
        rel = tuple(s[i] - start[i] for i in range(3))
        rel0 = tuple(max(r, 0) for r in rel)
        end = tuple(min(rel[i] + sh[i], shape[i]) for i in range(3))
        sub_start = (start[0] + rel0[0], start[1] + rel0[1], start[2] + rel0[2])
        sub_shape = (end[0] - rel0[0], end[1] - rel0[1], end[2] - rel0[2])
        if min(sub_shape) <= 0:
            continue
        view = field[rel0[0] : end[0], rel0[1] : end[1], rel0[2] : end[2]]
        np.minimum(
            view,
            tube_sdf(_points(sub_start, sub_shape), tube.a, tube.b, tube.radius_a, tube.radius_b),
            out=view,
        )
    return Structure(name, TISSUE_INDEX[tissue], start, field)


def _branches(
    rng: np.random.Generator,
    start: np.ndarray,
    direction: np.ndarray,
    length: float,
    radius: float,
    depth: int,
) -> list[_Tube]:
    """Return a small random vessel tree: a tapering trunk that forks into two children per level."""
    direction = direction / np.linalg.norm(direction)
    end = start + direction * length
    tubes = [_Tube(start, end, radius, radius * 0.8)]
    if depth > 0:
        for _ in range(2):
            child = direction + rng.normal(0.0, 0.55, 3)
            tubes += _branches(rng, end, child, length * rng.uniform(0.55, 0.8), radius * 0.72, depth - 1)
    return tubes


def sample_anatomy(rng: np.random.Generator, *, cirrhosis: bool) -> Anatomy:
    """Return one patient's abdomen, drawn from ``rng`` with patient-to-patient variation of every size.

    The liver's volume is drawn first (1.2-2.0 L; 1.0-1.6 L when cirrhotic) and the liver model is
    scaled to it, so the volume on the coarse grid matches the draw within a few percent.
    """

    def jitter(sd: float, n: int = 3) -> np.ndarray:
        return rng.normal(0.0, sd, n)

    # Body outline (elliptic cylinder, ~330 x 250 mm) with subcutaneous fat and a muscular wall.
    half_x = float(rng.uniform(145.0, 172.0))
    half_y = float(rng.uniform(105.0, 128.0))
    fat = float(rng.uniform(8.0, 32.0))
    wall = float(rng.uniform(8.0, 14.0))

    def body_field(p: tuple[np.ndarray, ...], inset: float) -> np.ndarray:
        hx, hy = half_x - inset, half_y - inset * 0.9
        k0 = np.sqrt((p[0] / hx) ** 2 + (p[1] / hy) ** 2)
        k1 = np.sqrt((p[0] / hx**2) ** 2 + (p[1] / hy**2) ** 2) + 1e-9
        flat_back = -p[1] - (half_y - inset * 0.6 - 8.0)  # flatter posterior surface
        return np.maximum(k0 * (k0 - 1.0) / k1, flat_back).astype(np.float32)

    full_low, full_high = _EXTENT[:, 0] + 8.0, _EXTENT[:, 1] - 8.0
    structures = [
        _structure("body", "fat", full_low, full_high, lambda p: body_field(p, 0.0), planar=True),
        _structure(
            "abdominal_wall", "muscle", full_low, full_high, lambda p: body_field(p, fat), planar=True
        ),
        _structure(
            "viscera", "viscera", full_low, full_high, lambda p: body_field(p, fat + wall), planar=True
        ),
    ]
    back = -half_y
    spine_y = back + fat * 0.5 + 62.0 + float(jitter(3.0, 1)[0])
    spine_c = np.array([0.0, spine_y, 0.0])
    zlo, zhi = full_low[2], full_high[2]
    for side in (-1.0, 1.0):
        centre = np.array([side * 38.0, spine_y - 28.0, 0.0])
        structures.append(
            _structure(
                f"paraspinal_{'right' if side < 0 else 'left'}",
                "muscle",
                np.array([centre[0] - 40, centre[1] - 35, zlo]),
                np.array([centre[0] + 40, centre[1] + 35, zhi]),
                partial(_cylinder, centre=centre, half_x=30.0, half_y=24.0),
                planar=True,
            )
        )
    structures.append(
        _structure(
            "vertebra",
            "bone",
            np.array([-30.0, spine_y - 30, zlo]),
            np.array([30.0, spine_y + 30, zhi]),
            lambda p: _cylinder(p, spine_c, 22.0, 18.0),
            planar=True,
        )
    )
    canal = spine_c + np.array([0.0, -30.0, 0.0])
    structures.append(
        _structure(
            "spinal_canal",
            "csf",
            np.array([canal[0] - 12, canal[1] - 12, zlo]),
            np.array([canal[0] + 12, canal[1] + 12, zhi]),
            lambda p: _cylinder(p, canal, 8.0, 8.0),
            planar=True,
        )
    )
    # Bowel loops: blobs of a smooth random field in the visceral cavity, in front of the spine; the
    # solid organs are painted over them.
    bowel_low = np.array([-half_x + fat + wall, spine_y + 20.0, full_low[2]])
    bowel_high = np.array([half_x - fat - wall, half_y - fat - wall, full_high[2]])
    bowel_noise = smooth_noise(rng, _box(bowel_low, bowel_high)[1], 2.0)
    structures.append(
        _structure(
            "bowel",
            "bowel",
            bowel_low,
            bowel_high,
            lambda p: np.maximum(
                np.maximum((0.45 - bowel_noise) * 10.0, body_field(p, fat + wall + 4.0)),
                spine_y + 25.0 - p[1],
            ),
        )
    )
    # Kidneys: cortex with the medulla drawn 7 mm inside it; the right one lies lower.
    for side, z0 in ((-1.0, -55.0), (1.0, -40.0)):
        c = np.array([side * 72.0, spine_y + 12.0, z0]) + jitter(5.0)
        radii = np.array([27.0, 24.0, 55.0]) * rng.uniform(0.9, 1.1)
        rot = rotation_z(side * 0.45 + rng.normal(0, 0.1), 0.15)
        name = "right" if side < 0 else "left"
        low, high = c - radii.max() - 6, c + radii.max() + 6
        structures.append(
            _structure(
                f"kidney_{name}",
                "kidney_cortex",
                low,
                high,
                partial(ellipsoid_sdf, centre=c, radii=radii, rotation=rot),
            )
        )
        structures.append(
            _structure(
                f"kidney_{name}_medulla",
                "kidney_medulla",
                low,
                high,
                partial(ellipsoid_sdf, centre=c, radii=radii, rotation=rot, offset=7.0),
            )
        )
    spleen_c = np.array([half_x * 0.6, spine_y + 25.0, 35.0]) + jitter(6.0)
    spleen_r = np.array([28.0, 55.0, 50.0]) * rng.uniform(0.85, 1.2)
    spleen_rot = rotation_z(-0.6 + rng.normal(0, 0.1), 0.2)
    structures.append(
        _structure(
            "spleen",
            "spleen",
            spleen_c - spleen_r.max() - 6,
            spleen_c + spleen_r.max() + 6,
            lambda p: ellipsoid_sdf(p, spleen_c, spleen_r, spleen_rot),
        )
    )
    aorta_c = np.array([14.0, spine_y + 30.0]) + jitter(2.0, 2)
    aorta_r = float(rng.uniform(10.0, 13.0))
    structures.append(
        _tubes_structure(
            "aorta",
            "artery",
            [_Tube(np.array([*aorta_c, zlo]), np.array([*aorta_c, zhi]), aorta_r, aorta_r * 0.95)],
        )
    )
    liver, liver_volume, liver_extras = _liver(rng, cirrhosis=cirrhosis, spine_y=spine_y, half_y=half_y)
    structures.append(liver)
    structures += liver_extras
    fib_shape = liver.sdf.shape
    fibrosis = smooth_noise(rng, fib_shape, 1.3) if cirrhosis else None
    texture = smooth_noise(rng, fib_shape, 1.0)
    low, high = liver.world_bounds()
    inside = liver.sdf < 0
    zs = coarse_axes(liver.start, liver.sdf.shape)[2][np.any(inside, axis=(0, 1))]
    return Anatomy(
        structures=tuple(structures),
        liver=liver,
        fibrosis=fibrosis,
        texture=texture,
        liver_volume_ml=liver_volume,
        liver_z=(float(zs.min()), float(zs.max())),
        body_half_axes=(half_x, half_y),
        cirrhosis=cirrhosis,
    )


def _cylinder(p: tuple[np.ndarray, ...], centre: np.ndarray, half_x: float, half_y: float) -> np.ndarray:
    k0 = np.sqrt(((p[0] - centre[0]) / half_x) ** 2 + ((p[1] - centre[1]) / half_y) ** 2)
    k1 = np.sqrt(((p[0] - centre[0]) / half_x**2) ** 2 + ((p[1] - centre[1]) / half_y**2) ** 2) + 1e-9
    return (k0 * (k0 - 1.0) / k1).astype(np.float32)


def _liver(
    rng: np.random.Generator, *, cirrhosis: bool, spine_y: float, half_y: float
) -> tuple[Structure, float, list[Structure]]:
    """Return the liver, its volume in ml, and the structures that live in it (vessels, gallbladder)."""
    target_ml = float(rng.uniform(1000.0, 1600.0) if cirrhosis else rng.uniform(1200.0, 2000.0))
    hilum = np.array([-30.0, spine_y + 60.0, 0.0]) + rng.normal(0.0, 4.0, 3)
    # Lobes as ellipsoids relative to the hilum: right, caudate, left medial, left lateral (tapering).
    right_scale = 0.85 if cirrhosis else 1.0
    caudate_scale = 1.3 if cirrhosis else 1.0
    lobes = [
        (np.array([-38.0, -2.0, 5.0]), np.array([75.0, 80.0, 80.0]) * right_scale, 0.0),
        (np.array([12.0, -22.0, 22.0]), np.array([22.0, 20.0, 38.0]) * caudate_scale, 0.0),
        (np.array([35.0, 30.0, 30.0]), np.array([50.0, 42.0, 45.0]), -0.15),
        (np.array([85.0, 32.0, 40.0]), np.array([48.0, 24.0, 26.0]), -0.3),
    ]
    lobes = [
        (c + rng.normal(0.0, 4.0, 3), r * rng.uniform(0.88, 1.12, 3), a + rng.normal(0, 0.08))
        for c, r, a in lobes
    ]
    riedel = rng.random() < 0.25
    if riedel:
        lobes.append((np.array([-55.0, 8.0, -55.0]) + rng.normal(0, 4, 3), np.array([35.0, 40.0, 45.0]), 0.0))
    gb_offset = np.array([-15.0, 35.0, -35.0]) + rng.normal(0.0, 5.0, 3)
    has_gallbladder = rng.random() < 0.85
    surface_noise_sd = 2.5 if cirrhosis else 1.5
    low0 = hilum + np.array([-175.0, -110.0, -160.0])
    high0 = hilum + np.array([175.0, 95.0, 160.0])
    start, shape = _box(low0, high0)
    points = _points(start, shape)
    noise = smooth_noise(rng, shape, 1.3 if cirrhosis else 2.0)
    kidney_c = np.array([-72.0, spine_y + 12.0, -55.0])

    def field(scale: float, step: int = 1) -> np.ndarray:
        """Return the liver field at ``scale``, on every ``step``-th coarse point."""
        p = tuple(axis[::step, ::step, ::step] for axis in points)
        d: np.ndarray | None = None
        for c, r, angle in lobes:
            e = ellipsoid_sdf(p, hilum + scale * c, scale * r, rotation_z(angle))
            d = e if d is None else smooth_union(d, e, 22.0)
        assert d is not None
        d = np.maximum(d, -(ellipsoid_sdf(p, kidney_c, np.array([34.0, 32.0, 62.0]), np.eye(3)) - 2.0))
        d = np.maximum(d, p[1] - (hilum[1] + 100.0 * scale))  # anterior abdominal wall
        d = np.maximum(d, -p[1] + spine_y + 18.0)  # posterior: stays in front of the spine
        if has_gallbladder:
            d = np.maximum(
                d,
                -(
                    ellipsoid_sdf(
                        p, hilum + scale * gb_offset, np.array([16.0, 18.0, 40.0]), rotation_z(0.3, 0.4)
                    )
                    - 1.0
                ),
            )
        return (d + surface_noise_sd * noise[::step, ::step, ::step]).astype(np.float32)

    # The volume at unit scale, from every other coarse point, sets the scale that gives the drawn volume.
    volume1 = float((field(1.0, step=2) < 0).sum()) * (2 * COARSE_SPACING) ** 3 / 1000.0
    scale = float(np.clip((target_ml / max(volume1, 1.0)) ** (1.0 / 3.0), 0.7, 1.4))
    sdf = field(scale)
    inside = np.argwhere(sdf < 0)
    lo_idx, hi_idx = inside.min(axis=0) - 3, inside.max(axis=0) + 4
    lo_idx = np.maximum(lo_idx, 0)
    hi_idx = np.minimum(hi_idx, np.asarray(shape))
    sdf = np.ascontiguousarray(sdf[lo_idx[0] : hi_idx[0], lo_idx[1] : hi_idx[1], lo_idx[2] : hi_idx[2]])
    new_start = (start[0] + int(lo_idx[0]), start[1] + int(lo_idx[1]), start[2] + int(lo_idx[2]))
    liver = Structure("liver", TISSUE_INDEX["liver"], new_start, sdf)
    volume = float((sdf < 0).sum()) * COARSE_SPACING**3 / 1000.0
    extras = [
        _clip_to(v, sdf, new_start, 1.0) if clip else v
        for v, clip in _liver_vessels(rng, hilum, scale, spine_y)
    ]
    if has_gallbladder:
        gb_c = hilum + scale * gb_offset
        gb_r = np.array([14.0, 16.0, 38.0]) * rng.uniform(0.8, 1.15)
        extras.insert(
            0,
            _structure(
                "gallbladder",
                "gallbladder",
                gb_c - 45,
                gb_c + 45,
                lambda p: ellipsoid_sdf(p, gb_c, gb_r, rotation_z(0.3, 0.4)),
            ),
        )
    return liver, volume, extras


def _clip_to(
    vessel: Structure, liver: np.ndarray, liver_start: tuple[int, int, int], margin: float
) -> Structure:
    """Return ``vessel`` cut to the liver grown by ``margin`` mm (both fields share the coarse grid)."""
    outside = np.full(vessel.sdf.shape, 1e3, np.float32)
    lo = [max(vessel.start[a], liver_start[a]) for a in range(3)]
    hi = [min(vessel.start[a] + vessel.sdf.shape[a], liver_start[a] + liver.shape[a]) for a in range(3)]
    if all(hi[a] > lo[a] for a in range(3)):
        v = tuple(slice(lo[a] - vessel.start[a], hi[a] - vessel.start[a]) for a in range(3))
        w = tuple(slice(lo[a] - liver_start[a], hi[a] - liver_start[a]) for a in range(3))
        outside[v] = liver[w] - margin
    return Structure(vessel.name, vessel.tissue, vessel.start, np.maximum(vessel.sdf, outside))


def _liver_vessels(
    rng: np.random.Generator, hilum: np.ndarray, scale: float, spine_y: float
) -> list[tuple[Structure, bool]]:
    """Return the inferior vena cava, hepatic veins and portal venous tree, each with whether to cut it to the liver."""
    ivc_xy = np.array([-24.0, spine_y + 34.0]) + rng.normal(0.0, 2.0, 2)
    ivc_r = float(rng.uniform(10.0, 13.0))
    top = hilum[2] + 80.0 * scale
    ivc = _tubes_structure(
        "ivc",
        "hepatic_vein",
        [_Tube(np.array([*ivc_xy, _EXTENT[2, 0] + 8]), np.array([*ivc_xy, top]), ivc_r, ivc_r)],
    )
    confluence = np.array([*ivc_xy, top - 12.0])
    hepatic: list[_Tube] = []
    for direction, radius in (
        ((-1.0, 0.15, -0.35), 5.0),
        ((-0.35, 1.0, -0.35), 4.5),
        ((0.8, 0.9, -0.2), 4.0),
    ):
        hepatic += _branches(
            rng, confluence, np.asarray(direction) + rng.normal(0, 0.12, 3), 55.0 * scale, radius, 2
        )
    portal_start = np.array([hilum[0] + 30.0, hilum[1] - 15.0, hilum[2] - 45.0])
    trunk = [
        _Tube(portal_start, hilum, 6.5, 6.5),
        _Tube(portal_start, portal_start + np.array([100.0, -25.0, 30.0]), 4.5, 4.0),  # splenic vein
    ]
    portal = _branches(rng, hilum, np.array([-1.0, -0.1, 0.25]) + rng.normal(0, 0.1, 3), 40.0 * scale, 5.0, 3)
    portal += _branches(rng, hilum, np.array([0.9, 0.8, 0.4]) + rng.normal(0, 0.1, 3), 40.0 * scale, 4.2, 2)
    return [
        (ivc, False),
        (_tubes_structure("hepatic_veins", "hepatic_vein", hepatic), True),
        (_tubes_structure("portal_trunk", "portal_vein", trunk), False),
        (_tubes_structure("portal_branches", "portal_vein", portal), True),
    ]


def liver_sdf_at(anatomy: Anatomy, points: np.ndarray) -> np.ndarray:
    """Return the liver field at world points (``(..., 3)`` array), trilinear from the coarse grid."""
    low, _ = anatomy.liver.world_bounds()
    index = (points - low) / COARSE_SPACING
    coords = np.moveaxis(index, -1, 0)
    return ndimage.map_coordinates(anatomy.liver.sdf, coords, order=1, mode="nearest").astype(np.float32)
