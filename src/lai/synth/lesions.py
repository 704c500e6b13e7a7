"""The eight lesion types: size, shape, internal structure and per-sequence appearance, typical and atypical.

Appearance follows the table of domain/liver_lesions.md ("Appearance by lesion type"). Each lesion is made
of components in lesion-local coordinates - solid tissue, a centre (scar, necrosis, pus, fibrosis),
a rim, a capsule, septa, peripheral nodules and, for abscesses, a halo of perilesional oedema and
hyperaemia outside the lesion - and each component has a signal ratio to the surrounding liver per
sequence. Ratios are medians of the table, drawn per lesion with log-normal spread and a shared
per-lesion enhancement factor; ``None`` means "keeps its unenhanced signal" (no enhancement), resolved
against the patient's own liver enhancement. ADC values are absolute, in 1e-3 mm^2/s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from lai.synth.signals import SIGNAL_SEQUENCES

POST_CONTRAST: tuple[str, ...] = ("arterial", "portal", "delayed", "transitional", "hbp")

Ratios = dict[str, float | None]

# Median ratios (lesion / liver) per component and sequence; t1_opp and dwi_b0 derive from t1_in and t2w.
_PRE = {"t2w", "t1_in", "t1_pre", "adc"}

APPEARANCE: dict[str, dict[str, Ratios]] = {
    "hcc": {
        "solid": {
            "t2w": 1.35,
            "t1_in": 0.8,
            "t1_pre": 0.75,
            "arterial": 1.5,
            "portal": 0.72,
            "delayed": 0.68,
            "transitional": 0.75,
            "hbp": 0.5,
            "adc": 1.1,
        },
        "capsule": {
            "t2w": 0.95,
            "t1_in": 0.8,
            "t1_pre": 0.8,
            "arterial": 1.0,
            "portal": 1.25,
            "delayed": 1.35,
            "transitional": 1.2,
            "hbp": 0.6,
            "adc": 1.1,
        },
        "centre": {
            "t2w": 2.4,
            "t1_in": 0.55,
            "t1_pre": 0.5,
            "arterial": None,
            "portal": None,
            "delayed": None,
            "transitional": None,
            "hbp": None,
            "adc": 1.8,
        },
    },
    "icc": {
        "solid": {
            "t2w": 1.5,
            "t1_in": 0.72,
            "t1_pre": 0.7,
            "arterial": 0.8,
            "portal": 0.95,
            "delayed": 1.1,
            "transitional": 0.85,
            "hbp": 0.45,
            "adc": 1.05,
        },
        "rim": {
            "t2w": 1.6,
            "t1_in": 0.72,
            "t1_pre": 0.72,
            "arterial": 1.4,
            "portal": 1.15,
            "delayed": 1.05,
            "transitional": 1.0,
            "hbp": 0.4,
            "adc": 0.95,
        },
        "centre": {
            "t2w": 1.15,
            "t1_in": 0.7,
            "t1_pre": 0.7,
            "arterial": None,
            "portal": 0.8,
            "delayed": 1.25,
            "transitional": 0.9,
            "hbp": 0.6,
            "adc": 1.35,
        },
    },
    "met": {
        "solid": {
            "t2w": 1.6,
            "t1_in": 0.72,
            "t1_pre": 0.7,
            "arterial": 0.75,
            "portal": 0.65,
            "delayed": 0.65,
            "transitional": 0.6,
            "hbp": 0.45,
            "adc": 1.05,
        },
        "rim": {
            "t2w": 1.4,
            "t1_in": 0.72,
            "t1_pre": 0.72,
            "arterial": 1.35,
            "portal": 1.0,
            "delayed": 0.75,
            "transitional": 0.8,
            "hbp": 0.5,
            "adc": 0.95,
        },
        "centre": {
            "t2w": 2.4,
            "t1_in": 0.6,
            "t1_pre": 0.6,
            "arterial": None,
            "portal": None,
            "delayed": None,
            "transitional": None,
            "hbp": None,
            "adc": 1.5,
        },
    },
    "hem": {
        "solid": {
            "t2w": 3.8,
            "t1_in": 0.65,
            "t1_pre": 0.65,
            "arterial": 2.3,
            "portal": 1.5,
            "delayed": 1.25,
            "transitional": 1.05,
            "hbp": 0.5,
            "adc": 1.9,
        },
    },
    "fnh": {
        "solid": {
            "t2w": 1.1,
            "t1_in": 0.97,
            "t1_pre": 0.95,
            "arterial": 1.8,
            "portal": 1.05,
            "delayed": 1.0,
            "transitional": 1.05,
            "hbp": 1.2,
            "adc": 1.5,
        },
        "scar": {
            "t2w": 2.2,
            "t1_in": 0.7,
            "t1_pre": 0.7,
            "arterial": 0.6,
            "portal": 0.85,
            "delayed": 1.35,
            "transitional": 0.9,
            "hbp": 0.6,
            "adc": 1.8,
        },
    },
    "hca": {
        "solid": {
            "t2w": 1.3,
            "t1_in": 1.05,
            "t1_pre": 1.05,
            "arterial": 1.5,
            "portal": 1.0,
            "delayed": 1.0,
            "transitional": 0.95,
            "hbp": 0.55,
            "adc": 1.35,
        },
        "centre": {
            "t2w": 1.6,
            "t1_in": 1.5,
            "t1_pre": 1.5,
            "arterial": None,
            "portal": None,
            "delayed": None,
            "transitional": None,
            "hbp": None,
            "adc": 1.0,
        },
        "rim": {
            "t2w": 2.8,
            "t1_in": 1.0,
            "t1_pre": 1.0,
            "arterial": 1.6,
            "portal": 1.05,
            "delayed": 1.15,
            "transitional": 1.0,
            "hbp": 0.55,
            "adc": 1.4,
        },
    },
    "cyst": {
        "solid": {
            "t2w": 7.0,
            "t1_in": 0.3,
            "t1_pre": 0.3,
            "arterial": None,
            "portal": None,
            "delayed": None,
            "transitional": None,
            "hbp": None,
            "adc": 3.0,
        },
    },
    "abscess": {
        "solid": {
            "t2w": 1.6,
            "t1_in": 0.7,
            "t1_pre": 0.7,
            "arterial": 1.5,
            "portal": 1.35,
            "delayed": 1.3,
            "transitional": 1.0,
            "hbp": 0.5,
            "adc": 1.2,
        },
        "centre": {
            "t2w": 3.2,
            "t1_in": 0.45,
            "t1_pre": 0.45,
            "arterial": None,
            "portal": None,
            "delayed": None,
            "transitional": None,
            "hbp": None,
            "adc": 0.8,
        },
        "septa": {
            "t2w": 1.6,
            "t1_in": 0.7,
            "t1_pre": 0.7,
            "arterial": 1.3,
            "portal": 1.35,
            "delayed": 1.45,
            "transitional": 1.1,
            "hbp": 0.5,
            "adc": 1.2,
        },
        "halo": {
            "t2w": 1.3,
            "t1_in": 0.95,
            "t1_pre": 0.95,
            "arterial": 1.35,
            "portal": 1.05,
            "delayed": 1.0,
            "transitional": 1.0,
            "hbp": 0.95,
            "adc": 1.3,
        },
    },
}

SIZE_MM: dict[str, tuple[float, float, float]] = {
    # median diameter, log-sd, maximum (domain/liver_lesions.md size column, capped to fit the liver)
    "hcc": (28.0, 0.5, 90.0),
    "icc": (50.0, 0.3, 95.0),
    "met": (16.0, 0.5, 55.0),
    "hem": (18.0, 0.6, 90.0),
    "fnh": (28.0, 0.35, 55.0),
    "hca": (35.0, 0.4, 90.0),
    "cyst": (14.0, 0.6, 80.0),
    "abscess": (45.0, 0.3, 90.0),
}
MIN_DIAMETER_MM = 6.0

LOBULATION: dict[str, float] = {
    "hcc": 0.04,
    "icc": 0.12,
    "met": 0.06,
    "hem": 0.12,
    "fnh": 0.1,
    "hca": 0.05,
    "cyst": 0.02,
    "abscess": 0.12,
}

ATYPICAL_RATE: dict[str, float] = {
    "hcc": 0.3,
    "icc": 0.25,
    "met": 0.2,
    "hem": 0.25,
    "fnh": 0.25,
    "hca": 0.25,
    "cyst": 0.15,
    "abscess": 0.25,
}
"""Share of each type drawn with an atypical presentation (domain/liver_lesions.md: they must exist)."""

TEXTURE_CELL_MM = 2.5
"""Voxel size of each lesion's texture cube (smooth noise of ~6-10 mm grains)."""

RATIO_SPREAD = 0.2
"""Log-normal standard deviation of each drawn ratio around its median."""


@dataclass(frozen=True)
class LesionSpec:
    """One lesion as drawn: identity, geometry, internal structure and its ratios per component and sequence.

    ``ratios[component][sequence]`` multiplies the patient's liver signal in that sequence (``adc`` is
    absolute, 1e-3 mm^2/s); geometry is in world millimetres.

    Attributes
    ----------
    fill
        Per post-contrast phase, the fraction of the radius enhanced from the edge inwards (centripetal
        fill-in of hemangiomas); phases it omits enhance throughout.
    unenhanced
        Per post-contrast phase, the ratio of tissue that has not taken up contrast yet.
    texture
        Periodic cube of smooth noise sampled in lesion coordinates: internal heterogeneity.
    lobulation, outline
        Plane waves (kx, ky, kz, phase, amplitude) that make the surface lobulated, and the annotator's
        outline wander; ``annotator_bias`` shifts the whole outline (in voxels: tight or generous reader).
    spokes, nodules, septa
        Unit directions of a central scar's spokes; peripheral nodules (direction * 0.85, size);
        septa planes (normal, offset as a fraction of the radius).
    halo_mm, wedge
        Decay length of the perilesional halo, and the direction of its wedge of arterial hyperaemia.
    """

    label: int
    diagnosis: str
    subtype: str
    atypical: bool
    variant: str
    centre: np.ndarray
    radii: np.ndarray
    rotation: np.ndarray
    ratios: dict[str, dict[str, float]]
    heterogeneity: dict[str, float]
    pattern: str = "homogeneous"
    fill: dict[str, float] = field(default_factory=dict)
    unenhanced: dict[str, float] = field(default_factory=dict)
    texture: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 1), np.float32))
    lobulation: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    outline: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    annotator_bias: float = 0.0
    centre_radius: float = 0.5
    rim_mm: float = 3.0
    capsule_mm: float = 2.0
    spokes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    nodules: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    septa: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    halo_mm: float = 0.0
    wedge: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def radius(self) -> float:
        """Mean radius in mm."""
        return float(np.mean(self.radii))

    @property
    def diameter_mm(self) -> float:
        """Mean diameter in mm, as a reader would report it."""
        return 2.0 * self.radius

    @property
    def extent_mm(self) -> float:
        """Half-width of a box around the centre that holds the lesion and its halo."""
        return float(self.radii.max() * (1.0 + 2.2 * LOBULATION[self.diagnosis]) + self.halo_mm + 2.0)


def _waves(
    rng: np.random.Generator, count: int, wavelength: tuple[float, float], amplitude: float
) -> np.ndarray:
    """Return random plane waves as rows (kx, ky, kz, phase, amplitude) of a smooth random field."""
    directions = rng.normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    k = directions * (2 * np.pi / rng.uniform(*wavelength, (count, 1)))
    return np.column_stack([k, rng.uniform(0, 2 * np.pi, count), np.full(count, amplitude)])


def texture_field(cube: np.ndarray, q: list[np.ndarray]) -> np.ndarray:
    """Return a lesion's smooth random texture at lesion-local points: its noise cube, trilinear, tiled."""
    coords = [
        np.broadcast_to(q[a] / TEXTURE_CELL_MM, np.broadcast_shapes(*(x.shape for x in q))) for a in range(3)
    ]
    return ndimage.map_coordinates(cube, coords, order=1, mode="grid-wrap").astype(np.float32)


def wave_field(waves: np.ndarray, q: list[np.ndarray]) -> np.ndarray:
    """Return the sum of the plane waves at lesion-local points ``q`` (x, y, z arrays)."""
    total: np.ndarray | float = 0.0
    for kx, ky, kz, phase, amplitude in waves:
        total = total + amplitude * np.cos(kx * q[0] + ky * q[1] + kz * q[2] + phase)
    return np.asarray(total, dtype=np.float32)


def draw_diameter(rng: np.random.Generator, diagnosis: str) -> float:
    """Return a lesion diameter in mm for a type, log-normal around its median within its range."""
    median, log_sd, largest = SIZE_MM[diagnosis]
    return float(np.clip(median * rng.lognormal(0.0, log_sd), MIN_DIAMETER_MM, largest))


def _subtype(rng: np.random.Generator, diagnosis: str) -> str:
    if diagnosis == "met":
        return "met_hypervascular" if rng.random() < 0.3 else "met_hypovascular"
    if diagnosis == "hca":
        return str(
            rng.choice(
                ["hca_inflammatory", "hca_hnf1a", "hca_beta_catenin", "hca_unclassified"],
                p=[0.4, 0.35, 0.15, 0.1],
            )
        )
    if diagnosis == "hcc":
        return "hcc_fat" if rng.random() < 0.15 else "hcc"
    return diagnosis


_VARIANTS: dict[str, tuple[str, ...]] = {
    "hcc": ("no_washout", "no_capsule", "hypovascular", "hbp_iso"),
    "icc": ("hypervascular", "no_rim"),
    "met": ("t2_bright", "hcc_mimic"),
    "hem": ("flash_filling", "sclerosed"),
    "fnh": ("no_scar", "washout"),
    "hca": ("washout", "hbp_iso"),
    "cyst": ("proteinaceous",),
    "abscess": ("unilocular",),
}


@dataclass
class _Build:
    """A lesion's components and enhancement pattern, decided before its ratios are drawn."""

    components: set[str]
    pattern: str = "homogeneous"
    fill: dict[str, float] = field(default_factory=dict)
    fat_fraction: float = 0.0


def _build(
    rng: np.random.Generator,
    diagnosis: str,
    subtype: str,
    variant: str,
    radius: float,
    table: dict[str, Ratios],
) -> _Build:
    """Return which components a lesion has and how it fills in; adjust ``table`` for subtype and variant."""
    solid = table["solid"]
    build = _Build(components={"solid"})
    components = build.components
    if diagnosis == "hcc":
        components.add("capsule")
        if radius > 15 and rng.random() < 0.5:
            components.add("centre")
        if subtype == "hcc_fat":
            build.fat_fraction = float(rng.uniform(0.1, 0.3))
            solid["t1_in"] = 1.1
        if variant == "no_washout":
            solid.update(portal=1.05, delayed=1.0, transitional=1.0)
            components.discard("capsule")
        elif variant == "no_capsule":
            components.discard("capsule")
        elif variant == "hypovascular":
            solid.update(arterial=0.85, portal=0.75)
        elif variant == "hbp_iso":
            solid.update(hbp=1.05)
    elif diagnosis == "icc":
        components |= {"rim", "centre"}
        if variant == "hypervascular":
            solid.update(arterial=1.4, portal=0.85, delayed=0.85)
            table["rim"].update(arterial=1.5, portal=0.9, delayed=0.85)
            components.discard("centre")
        elif variant == "no_rim":
            components.discard("rim")
    elif diagnosis == "met":
        components.add("rim")
        if radius > 10 and rng.random() < 0.6:
            components.add("centre")
        if subtype == "met_hypervascular":
            solid.update(t2w=1.5, arterial=1.6, portal=0.85, delayed=0.75, transitional=0.8, adc=1.0)
            table["rim"].update(arterial=1.9, portal=1.0)
        if variant == "t2_bright":
            solid.update(t2w=3.2, adc=1.7)
            components.discard("centre")
        elif variant == "hcc_mimic":
            components.discard("rim")
            table["capsule"] = dict(APPEARANCE["hcc"]["capsule"])
            components.add("capsule")
            solid.update(arterial=1.6, portal=0.8, delayed=0.75)
    elif diagnosis == "hem":
        build.pattern = "nodular"
        build.fill = {"arterial": 0.15, "portal": 0.6, "delayed": 0.95, "transitional": 0.9, "hbp": 1.0}
        if variant == "flash_filling" or (radius < 7 and rng.random() < 0.4):
            build.fill = dict.fromkeys(POST_CONTRAST, 1.0)
            build.pattern = "centripetal"
            solid.update(arterial=2.0)
        elif variant == "sclerosed":
            solid.update(t2w=1.8, adc=1.4)
            build.fill = {"arterial": 0.05, "portal": 0.25, "delayed": 0.45, "transitional": 0.4, "hbp": 1.0}
    elif diagnosis == "fnh":
        if radius > 10 and variant != "no_scar":
            components.add("scar")
        if variant == "washout":
            solid.update(portal=0.85, delayed=0.85, transitional=0.85)
    elif diagnosis == "hca":
        if subtype == "hca_inflammatory":
            solid.update(t2w=2.2, delayed=1.15)
            components.add("rim")
        elif subtype == "hca_hnf1a":
            build.fat_fraction = float(rng.uniform(0.15, 0.35))
            solid.update(t2w=1.1)
        elif subtype == "hca_beta_catenin":
            solid.update(hbp=1.05)
        if radius > 20 and rng.random() < 0.3:
            components.add("centre")  # haemorrhage
        if variant == "washout":
            solid.update(portal=0.85, delayed=0.85, transitional=0.85)
        elif variant == "hbp_iso":
            solid.update(hbp=1.05)
    elif diagnosis == "cyst":
        if variant == "proteinaceous":
            solid.update(t2w=2.8, t1_in=1.3, t1_pre=1.3, adc=2.0)
    elif diagnosis == "abscess":
        components |= {"centre", "halo"}
        if variant != "unilocular":
            components.add("septa")
        else:
            table["centre"].update(adc=1.6)
    return build


def _draw_ratios(
    rng: np.random.Generator,
    table: dict[str, Ratios],
    components: set[str],
    fat_fraction: float,
    liver_signal: dict[str, float],
) -> dict[str, dict[str, float]]:
    """Return each component's ratio per sequence, drawn around the table's medians.

    Post-contrast ratios share one per-lesion enhancement factor on top of their own spread; t1_opp
    follows from t1_in and the lesion's fat fraction, dwi_b0 from t2w (shorter echo time: ratio^0.8).
    """
    enhancement = rng.lognormal(0.0, 0.15)
    t2_factor = rng.lognormal(0.0, 0.1)
    ratios: dict[str, dict[str, float]] = {}
    for component in [c for c in table if c in components]:
        values = table[component]
        drawn: dict[str, float] = {}
        pre = float(values["t1_pre"] or 1.0) * rng.lognormal(0.0, RATIO_SPREAD * 0.6)
        for sequence in SIGNAL_SEQUENCES:
            if sequence in ("t1_opp", "dwi_b0"):
                continue
            median = values.get(sequence)
            if sequence == "t1_pre":
                drawn[sequence] = pre
            elif median is None:
                drawn[sequence] = (
                    pre * liver_signal["t1_pre"] / liver_signal[sequence] * rng.lognormal(0.0, 0.05)
                )
            elif sequence in POST_CONTRAST:
                # Enhancement above the unenhanced level scales with the lesion's own perfusion.
                level = float(median) * rng.lognormal(0.0, RATIO_SPREAD)
                floor = pre * liver_signal["t1_pre"] / liver_signal[sequence]
                drawn[sequence] = max(floor + (level - floor) * enhancement, 0.05)
            elif sequence == "t2w":
                drawn[sequence] = float(median) * t2_factor * rng.lognormal(0.0, RATIO_SPREAD)
            elif sequence == "adc":
                drawn[sequence] = float(median) * rng.lognormal(0.0, 0.12)
            else:
                drawn[sequence] = float(median) * rng.lognormal(0.0, RATIO_SPREAD * 0.6)
        drawn["t1_opp"] = (
            drawn["t1_in"] * liver_signal["t1_in"] * (1.0 - 2.0 * fat_fraction) / liver_signal["t1_opp"]
        )
        drawn["dwi_b0"] = drawn["t2w"] ** 0.8
        ratios[component] = drawn
    return ratios


def sample_lesion(
    rng: np.random.Generator,
    *,
    diagnosis: str,
    label: int,
    centre: np.ndarray,
    diameter: float,
    liver_signal: dict[str, float],
    agent: str,
) -> LesionSpec:
    """Return a lesion of ``diagnosis`` drawn from ``rng``: subtype, atypical variant, shape, structure and ratios.

    ``liver_signal`` maps each sequence to the patient's liver signal; it turns "no enhancement" into
    the ratio a non-enhancing tissue has against this patient's enhancing liver.
    """
    if diagnosis not in APPEARANCE:
        msg = f"Unknown diagnosis {diagnosis!r}: expected one of {', '.join(APPEARANCE)}"
        raise ValueError(msg)
    subtype = _subtype(rng, diagnosis)
    atypical = rng.random() < ATYPICAL_RATE[diagnosis]
    variant = str(rng.choice(_VARIANTS[diagnosis])) if atypical else "typical"
    if variant == "hbp_iso" and agent != "gadoxetate":
        variant = "no_capsule" if diagnosis == "hcc" else "washout"
    if diagnosis == "met" and subtype == "met_hypovascular" and variant == "hcc_mimic":
        subtype = "met_hypervascular"
    if variant == "flash_filling":
        diameter = min(diameter, float(rng.uniform(6.0, 18.0)))
    radius = diameter / 2.0
    table = {component: dict(values) for component, values in APPEARANCE[diagnosis].items()}
    build = _build(rng, diagnosis, subtype, variant, radius, table)
    components, pattern, fill = build.components, build.pattern, build.fill
    ratios = _draw_ratios(rng, table, components, build.fat_fraction, liver_signal)
    heterogeneity = {s: float(rng.uniform(0.03, 0.12)) for s in SIGNAL_SEQUENCES}
    if diagnosis == "hcc":
        heterogeneity["arterial"] = float(rng.uniform(0.15, 0.35))
    elif diagnosis == "cyst":
        heterogeneity = dict.fromkeys(SIGNAL_SEQUENCES, 0.02)
    directions = rng.normal(size=(8, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    q_matrix, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    radii = (
        radius * rng.uniform(0.85, 1.15, 3) if diagnosis != "cyst" else radius * rng.uniform(0.95, 1.05, 3)
    )
    radii = radii * radius / radii.mean()
    nodules = np.column_stack([directions[:6] * 0.85, rng.uniform(0.12, 0.22, 6)])
    septa = np.column_stack([directions[:3], rng.uniform(-0.4, 0.4, 3)])
    return LesionSpec(
        label=label,
        diagnosis=diagnosis,
        subtype=subtype,
        atypical=bool(atypical),
        variant=variant,
        centre=np.asarray(centre, dtype=np.float64),
        radii=radii,
        rotation=q_matrix,
        ratios=ratios,
        heterogeneity=heterogeneity,
        pattern=pattern,
        fill=fill,
        unenhanced={
            s: ratios["solid"]["t1_pre"] * liver_signal["t1_pre"] / liver_signal[s] for s in POST_CONTRAST
        },
        texture=_texture_cube(rng),
        lobulation=_waves(rng, 4, (1.2, 2.5), LOBULATION[diagnosis] / 2.0),
        outline=_waves(rng, 3, (10.0, 20.0), 0.45),
        annotator_bias=float(rng.normal(0.0, 0.4)),
        centre_radius=float(rng.uniform(0.3, 0.6) if diagnosis != "abscess" else rng.uniform(0.6, 0.8)),
        rim_mm=float(min(rng.uniform(2.0, 5.0), radius * 0.4)),
        capsule_mm=float(rng.uniform(1.2, 2.5)),
        spokes=directions[5:8] if "scar" in components else np.zeros((0, 3)),
        nodules=nodules if pattern == "nodular" else np.zeros((0, 4)),
        septa=septa if "septa" in components else np.zeros((0, 4)),
        halo_mm=float(rng.uniform(5.0, 12.0)) if "halo" in components else 0.0,
        wedge=directions[7],
    )


def _texture_cube(rng: np.random.Generator) -> np.ndarray:
    """Return a periodic cube of smooth unit-variance noise, the lesion's internal heterogeneity."""
    cube = ndimage.gaussian_filter(rng.standard_normal((16, 16, 16)), 1.2, mode="wrap")
    return (cube / (cube.std() + 1e-9)).astype(np.float32)


def _smoothstep(low: float, high: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lesion_local(spec: LesionSpec, axes: list[np.ndarray]) -> list[np.ndarray]:
    """Return lesion-local coordinates (mm, rotated) of the points spanned by world ``axes`` (x, y, z)."""
    d = [
        axes[0][:, None, None] - spec.centre[0],
        axes[1][None, :, None] - spec.centre[1],
        axes[2][None, None, :] - spec.centre[2],
    ]
    r = spec.rotation
    return [(r[0, a] * d[0] + r[1, a] * d[1] + r[2, a] * d[2]).astype(np.float32) for a in range(3)]


def lesion_distance(spec: LesionSpec, q: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return (normalised radius, approximate signed distance in mm) at lesion-local points ``q``."""
    rho = np.sqrt((q[0] / spec.radii[0]) ** 2 + (q[1] / spec.radii[1]) ** 2 + (q[2] / spec.radii[2]) ** 2)
    norm = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2) + 1e-6
    unit = [q[a] / norm for a in range(3)]
    r = rho / (1.0 + wave_field(spec.lobulation, unit))
    return r, (r - 1.0) * spec.radius


def lesion_values(
    spec: LesionSpec, sequence: str, q: list[np.ndarray], r: np.ndarray, d: np.ndarray, texture: np.ndarray
) -> np.ndarray:
    """Return the lesion's ratio to liver (``adc``: absolute ADC) at lesion-local points, components mixed."""
    ratios = spec.ratios
    value = ratios["solid"][sequence] * (1.0 + spec.heterogeneity[sequence] * texture)
    if spec.fill and sequence in spec.fill:
        fill = spec.fill[sequence]
        enhanced = (
            _smoothstep(1.0 - fill - 0.12, 1.0 - fill + 0.12, r + 0.1 * texture)
            if fill < 1.0
            else np.ones_like(r)
        )
        if len(spec.nodules):
            nodules = np.zeros_like(r)
            for nx, ny, nz, size in spec.nodules:
                s2 = (size * spec.radius) ** 2
                nodules += np.exp(
                    -(
                        (q[0] - nx * spec.radii[0]) ** 2
                        + (q[1] - ny * spec.radii[1]) ** 2
                        + (q[2] - nz * spec.radii[2]) ** 2
                    )
                    / s2
                )
            enhanced = np.maximum(enhanced, np.minimum(nodules, 1.0))
        floor = spec.unenhanced[sequence]
        value = floor + enhanced * (value - floor)
    if "centre" in ratios:
        w = 1.0 - _smoothstep(spec.centre_radius - 0.1, spec.centre_radius + 0.1, r + 0.08 * texture)
        value = value + w * (ratios["centre"][sequence] - value)
    if "scar" in ratios:
        w = np.exp(-((r / 0.2) ** 2))
        for vx, vy, vz in spec.spokes:
            along = q[0] * vx + q[1] * vy + q[2] * vz
            perp2 = q[0] ** 2 + q[1] ** 2 + q[2] ** 2 - along**2
            w = np.maximum(w, np.exp(-perp2 / 1.5) * (along > 0) * (1.0 - _smoothstep(0.55, 0.8, r)))
        value = value + w * (ratios["scar"][sequence] - value)
    if "septa" in ratios:
        w = np.zeros_like(r)
        for nx, ny, nz, offset in spec.septa:
            w = np.maximum(
                w, np.exp(-(((q[0] * nx + q[1] * ny + q[2] * nz) - offset * spec.radius) ** 2) / 1.2)
            )
        value = value + w * (ratios["septa"][sequence] - value)
    if "rim" in ratios:
        w = _smoothstep(-spec.rim_mm - 1.5, -spec.rim_mm + 1.5, d)
        value = value + w * (ratios["rim"][sequence] - value)
    if "capsule" in ratios:
        half = spec.capsule_mm / 2.0
        w = np.exp(-(((d + half) / half) ** 2))
        value = value + w * (ratios["capsule"][sequence] - value)
    return np.asarray(value, dtype=np.float32)


def halo_weight(spec: LesionSpec, sequence: str, q: list[np.ndarray], d: np.ndarray) -> np.ndarray:
    """Return the weight of the perilesional halo (oedema on T2, wedge-shaped hyperaemia on arterial)."""
    outside = _smoothstep(0.0, 1.0, d) * np.exp(-np.maximum(d, 0.0) / spec.halo_mm)
    if sequence == "arterial":
        norm = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2) + 1e-6
        cosine = (q[0] * spec.wedge[0] + q[1] * spec.wedge[1] + q[2] * spec.wedge[2]) / norm
        outside = outside * (0.3 + 0.7 * _smoothstep(0.2, 0.7, cosine))
    return outside.astype(np.float32)
