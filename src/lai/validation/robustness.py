"""Feature and prediction robustness: re-extract features under perturbed segmentations and acquisitions.

A radiomic feature worth modelling should barely move when the lesion is delineated a little differently or
the scan is acquired a little differently. ``robustness_study`` re-extracts a Dataset's features (the same
``lai.radiomics`` code path as the feature table, through ``lai.compute``, cached) under seeded perturbations:

segmentation (the lesion masks change; after Zwanenburg et al. 2019)
    ``erode`` / ``dilate``: morphological erosion or dilation by ``value`` voxels (default 1, 6-connected);
    ``contour``: the boundary moved by a smooth random displacement field of ``value`` mm standard
    deviation (default 1 mm, a Dice of about 0.85 on a 16 mm lesion; the field is Gaussian noise smoothed over 3 x ``value`` mm and rescaled);
acquisition (the images change)
    ``noise``: added Gaussian noise and ``rician``: Rician noise (magnitude of complex Gaussian noise;
    Gudbjartsson & Patz 1995), both at a signal-to-noise ratio ``value`` (default 20) where the signal is
    the mean intensity inside the case's lesions; ``resample``: the image resampled (linear) to isotropic
    voxels of ``value`` mm (default 2.0), the masks meeting it in world coordinates as in any extraction;
    ``scale``: intensities multiplied by ``value`` (default 1.2); ``bias``: a smooth multiplicative field
    ``exp(value * f)`` with ``f`` a random quadratic polynomial of position scaled to [-1, 1] (default 0.2).

Each feature's reproducibility is its ICC(3,1) (``lai.validation.icc``) over the original extraction and
every perturbed one; ``prediction_shift`` shows how much each lesion's predicted probability moves.

References
----------
Zwanenburg A, Leger S, Agolli L, et al. (2019). Assessing robustness of radiomic features by image
perturbation. Sci Rep 9:614.
Gudbjartsson H, Patz S (1995). The Rician distribution of noisy MRI data. Magn Reson Med 34:910-914.
Traverso A, Wee L, Dekker A, Gillies R (2018). Repeatability and reproducibility of radiomic features: a
systematic review. Int J Radiat Oncol Biol Phys 102:1143-1158.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from lai.compute import map_tasks, task_key
from lai.data.dataset import Dataset, image_relpath, lesion_mask_relpath, liver_mask_relpath
from lai.data.feature_table import ID_COLUMNS
from lai.data.taxonomy import SEQUENCES
from lai.files import sha256_file
from lai.imaging import Grid, Image, load_image, resample_labels, resample_to_grid, save_image
from lai.radiomics.extract import FEATURE_REVISION, RadiomicsWarning
from lai.radiomics.settings import load_settings, settings_hash
from lai.radiomics.table import CaseFeatures, CaseTask, extract_case, feature_columns
from lai.validation.icc import feature_icc, robust_features

SEGMENTATION_KINDS: tuple[str, ...] = ("erode", "dilate", "contour")
ACQUISITION_KINDS: tuple[str, ...] = ("noise", "rician", "resample", "scale", "bias")
DEFAULT_VALUES: dict[str, float] = {
    "erode": 1,
    "dilate": 1,
    "contour": 1.0,
    "noise": 20.0,
    "rician": 20.0,
    "resample": 2.0,
    "scale": 1.2,
    "bias": 0.2,
}
"""Default strength of each perturbation kind (voxels, mm, SNR, factor; see the module docstring)."""

ORIGINAL = "original"
"""Name of the unperturbed extraction in a ``RobustnessResult``."""


@dataclass(frozen=True)
class Perturbation:
    """One perturbation: a kind (``SEGMENTATION_KINDS`` or ``ACQUISITION_KINDS``) and its strength.

    Examples
    --------
    >>> Perturbation.parse("noise:30").name
    'noise:30'
    >>> Perturbation("erode").name
    'erode:1'
    """

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_VALUES:
            msg = f"Unknown perturbation {self.kind!r}: use one of {sorted(DEFAULT_VALUES)}"
            raise ValueError(msg)
        if self.value is not None and not np.isfinite(self.value):
            msg = f"Perturbation {self.kind} needs a finite value, got {self.value}"
            raise ValueError(msg)
        if self.kind in ("erode", "dilate") and self.strength != int(self.strength):
            msg = f"Perturbation {self.kind} needs a whole number of voxels, got {self.strength}"
            raise ValueError(msg)
        if self.kind in ("noise", "rician", "resample", "scale", "erode", "dilate") and self.strength <= 0:
            msg = f"Perturbation {self.kind} needs a positive value, got {self.strength}"
            raise ValueError(msg)

    @property
    def strength(self) -> float:
        """The value, or the kind's default."""
        return float(DEFAULT_VALUES[self.kind] if self.value is None else self.value)

    @property
    def name(self) -> str:
        """``kind:value``, the perturbation's column name in results."""
        return f"{self.kind}:{self.strength:g}"

    @property
    def segmentation(self) -> bool:
        """Whether the perturbation changes the masks (otherwise it changes the images)."""
        return self.kind in SEGMENTATION_KINDS

    @classmethod
    def parse(cls, text: str) -> Perturbation:
        """Return the perturbation written ``kind`` or ``kind:value`` (as on the command line)."""
        kind, _, value = text.strip().partition(":")
        try:
            return cls(kind, float(value) if value else None)
        except ValueError as error:
            msg = f"Bad perturbation {text!r}: {error}"
            raise ValueError(msg) from None


DEFAULT_PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("erode"),
    Perturbation("dilate"),
    Perturbation("contour"),
    Perturbation("rician"),
    Perturbation("resample"),
    Perturbation("scale"),
    Perturbation("bias"),
)
"""One perturbation of each kind but Gaussian noise (MRI magnitude noise is Rician), at default strength."""


# --- Perturbations of arrays ---


def erode_labels(labels: np.ndarray, voxels: int = 1) -> np.ndarray:
    """Return the label map with every label eroded by ``voxels`` (6-connected); a lesion may vanish."""
    out = np.zeros_like(labels)
    structure = ndimage.generate_binary_structure(3, 1)
    for label in _labels_in(labels):
        eroded = ndimage.binary_erosion(labels == label, structure, iterations=voxels)
        out[eroded] = label
    return out


def dilate_labels(labels: np.ndarray, voxels: int = 1) -> np.ndarray:
    """Return the label map with every label dilated by ``voxels`` (6-connected) into background only."""
    out = labels.copy()
    structure = ndimage.generate_binary_structure(3, 1)
    for label in _labels_in(labels):
        grown = ndimage.binary_dilation(labels == label, structure, iterations=voxels)
        out[grown & (out == 0)] = label
    return out


def perturb_contour(
    labels: np.ndarray, spacing: Sequence[float], amplitude_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Return the label map with each lesion's boundary moved by a smooth random displacement field.

    The signed distance to each lesion's boundary (mm, negative inside) plus a random field (Gaussian noise
    smoothed with sigma ``3 * amplitude_mm`` mm, rescaled to standard deviation ``amplitude_mm`` and clipped
    at 3 standard deviations) is thresholded at 0: the boundary moves outwards where the field is negative and
    inwards where positive, smoothly along it. Perturbed lesions do not overwrite others; a lesion the field
    would remove entirely is kept as it was.
    """
    step = np.asarray(spacing, dtype=np.float64)
    out = labels.copy()
    if amplitude_mm == 0:
        return out
    reach = np.ceil((3.0 * abs(amplitude_mm) + step.max()) / step).astype(int) + 1
    for label in _labels_in(labels):
        inside_all = labels == label
        where = np.argwhere(inside_all)
        low = np.maximum(where.min(axis=0) - reach, 0)
        high = np.minimum(where.max(axis=0) + reach + 1, labels.shape)
        box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
        inside = inside_all[box]
        half = 0.5 * step.min()
        distance = np.where(
            inside,
            half - ndimage.distance_transform_edt(inside, sampling=step),
            ndimage.distance_transform_edt(~inside, sampling=step) - half,
        )
        noise = ndimage.gaussian_filter(
            rng.standard_normal(inside.shape), sigma=3.0 * abs(amplitude_mm) / step
        )
        noise = noise / max(float(noise.std()), 1e-12) * amplitude_mm
        moved = (distance + np.clip(noise, -3 * abs(amplitude_mm), 3 * abs(amplitude_mm))) < 0
        if not moved.any():
            continue
        region = out[box]
        region[inside & ~moved & (region == label)] = 0
        region[moved & ((region == 0) | (region == label))] = label
    return out


def add_noise(array: np.ndarray, sigma: float, rng: np.random.Generator, *, rician: bool) -> np.ndarray:
    """Return ``array`` with Gaussian noise of standard deviation ``sigma``, or Rician noise of that ``sigma``.

    Rician: ``sqrt((x + n1)**2 + n2**2)`` with independent ``n1, n2 ~ N(0, sigma**2)``, the magnitude of a
    complex signal with Gaussian noise in both channels (Gudbjartsson & Patz 1995).
    """
    values = np.asarray(array, dtype=np.float64)
    real = values + rng.normal(0.0, sigma, values.shape)
    if not rician:
        return real.astype(np.float32)
    return np.hypot(real, rng.normal(0.0, sigma, values.shape)).astype(np.float32)


def bias_field(grid: Grid, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Return a smooth multiplicative field ``exp(strength * f)`` on ``grid``, ``f`` a random quadratic in [-1, 1].

    Coordinates are the voxel indices scaled to [-1, 1] along each axis; the 10 coefficients of the
    quadratic are standard normal, and ``f`` is divided by its largest absolute value.
    """
    axes = [np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1) for n in grid.shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    terms = [np.ones_like(x), x, y, z, x * x, y * y, z * z, x * y, x * z, y * z]
    f = sum(c * t for c, t in zip(rng.standard_normal(len(terms)), terms, strict=True))
    f = np.asarray(f) / max(float(np.max(np.abs(f))), 1e-12)
    return np.exp(strength * f)


def resample_spacing(image: Image, spacing_mm: float) -> Image:
    """Return ``image`` resampled (linear) to isotropic voxels of ``spacing_mm``, covering the same extent."""
    old = np.asarray(image.spacing)
    directions = image.affine[:3, :3] / old
    shape = tuple(max(1, round(float(n * s) / spacing_mm)) for n, s in zip(image.shape, old, strict=True))
    affine = np.eye(4)
    affine[:3, :3] = directions * spacing_mm
    # keep the outer voxel edge where it was: the first centre moves by half the change of spacing
    affine[:3, 3] = image.affine[:3, 3] + directions @ ((spacing_mm - old) / 2.0)
    grid = Grid((int(shape[0]), int(shape[1]), int(shape[2])), affine)
    return resample_to_grid(image, grid, order=1)


def perturb_case(
    image: Image, labels: Image, perturbation: Perturbation, rng: np.random.Generator
) -> tuple[Image, Image]:
    """Return ``(image, labels)`` with one perturbation applied to the mask or to the image.

    Parameters
    ----------
    image
        One sequence's image.
    labels
        The lesion label map (any grid; it meets the image in world coordinates).
    perturbation
        What to change, see the module docstring.
    rng
        The source of randomness (contour, noise, bias field).

    Returns
    -------
    tuple
        The (possibly new) image and label map; the one not perturbed is returned as given.
    """
    kind, value = perturbation.kind, perturbation.strength
    if kind == "erode":
        return image, Image(erode_labels(np.asarray(labels.array), int(value)), labels.affine)
    if kind == "dilate":
        return image, Image(dilate_labels(np.asarray(labels.array), int(value)), labels.affine)
    if kind == "contour":
        return image, Image(
            perturb_contour(np.asarray(labels.array), labels.spacing, value, rng), labels.affine
        )
    if kind == "resample":
        return resample_spacing(image, value), labels
    array = np.asarray(image.array, dtype=np.float64)
    if kind == "scale":
        return Image((array * value).astype(np.float32), image.affine), labels
    if kind == "bias":
        return Image((array * bias_field(image.grid, value, rng)).astype(np.float32), image.affine), labels
    on_image = resample_labels(labels, image.grid).array > 0
    signal = float(np.mean(np.abs(array[on_image]))) if on_image.any() else float(np.mean(np.abs(array)))
    noisy = add_noise(array, signal / value, rng, rician=kind == "rician")
    return Image(noisy, image.affine), labels


# --- Re-extraction through lai.compute ---


@dataclass(frozen=True)
class PerturbedCaseTask:
    """One case to re-extract under one perturbation (``None``: the original), with its seed (picklable)."""

    case: CaseTask
    perturbation: Perturbation | None
    seed: int


def case_rng(seed: int, *parts: str) -> np.random.Generator:
    """Return a generator seeded by ``seed`` and names (case, perturbation, file): independent of task order."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], dtype=np.uint32).tolist()])


def extract_perturbed_case(task: PerturbedCaseTask) -> CaseFeatures:
    """Return one case's features after perturbing its images or masks (``lai.radiomics.table.extract_case``).

    The perturbed files are written (gzip level 0: they are read once) to a temporary Dataset-shaped
    folder, the unchanged ones linked, so the extraction is exactly the feature table's.
    """
    if task.perturbation is None:
        return extract_case(task.case)
    perturbation, case = task.perturbation, task.case
    root = Path(case.root)
    with tempfile.TemporaryDirectory(prefix="lai-robustness-") as scratch:
        target = Path(scratch)
        masks = [lesion_mask_relpath(case.case_id)] + [
            lesion_mask_relpath(case.case_id, s) for s in case.sequences
        ]
        reference = load_image(root / masks[0])
        for rel in [*masks, liver_mask_relpath(case.case_id)]:
            if not (root / rel).is_file():
                continue
            if perturbation.segmentation and rel != liver_mask_relpath(case.case_id):
                rng = case_rng(task.seed, case.case_id, perturbation.name, rel)
                _, moved = perturb_case(reference, load_image(root / rel), perturbation, rng)
                save_image(moved, target / rel, compresslevel=0)
            else:
                _link(root / rel, target / rel)
        for sequence in case.sequences:
            rel = image_relpath(case.case_id, sequence)
            if perturbation.segmentation:
                _link(root / rel, target / rel)
                continue
            own = root / lesion_mask_relpath(case.case_id, sequence)
            labels = load_image(own) if own.is_file() else reference
            rng = case_rng(task.seed, case.case_id, perturbation.name, rel)
            image, _ = perturb_case(load_image(root / rel), labels, perturbation, rng)
            save_image(image, target / rel, compresslevel=0)
        return extract_case(replace(case, root=str(target)))


def _link(source: Path, target: Path) -> None:
    """Make ``target`` a symbolic link to ``source`` (creating its folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(source.resolve(), target)


# --- The study ---


@dataclass
class RobustnessResult:
    """Features of the same lesions extracted originally and under each perturbation, and their ICCs.

    Attributes
    ----------
    tables
        ``{"original": table, "<kind>:<value>": table, ...}``: id columns then feature columns, one row
        per studied lesion, the same lesions in the same order in every table.
    icc
        ICC(3,1) of each feature over all tables (the original and every perturbation as raters).
    icc_by_perturbation
        ICC(3,1) of each feature between the original and each perturbation alone (features x perturbations).
    seed
        Seed of the perturbations and of the lesion subset.
    settings_hash
        sha256 of the extraction settings.
    problems
        Lesions and sequences whose features could not be measured under some perturbation (NaN).
    """

    tables: dict[str, pd.DataFrame]
    icc: pd.Series
    icc_by_perturbation: pd.DataFrame
    seed: int
    settings_hash: str
    problems: list[str] = field(default_factory=list)

    @property
    def perturbations(self) -> list[str]:
        """Names of the perturbations, in study order."""
        return [name for name in self.tables if name != ORIGINAL]

    @property
    def n_lesions(self) -> int:
        """Number of lesions studied."""
        return len(self.tables[ORIGINAL])

    def robust_features(self, threshold: float = 0.75) -> list[str]:
        """Return the features whose ICC(3,1) over all perturbations is at least ``threshold``."""
        return robust_features(self.icc, threshold)

    def report_record(self, shifts: pd.DataFrame | None = None, threshold: float = 0.75) -> dict[str, Any]:
        """Return the mapping ``lai.report`` draws its robustness section from.

        Keys: ``icc`` (feature -> ICC(3,1)), ``threshold``, ``shifts`` (every ``max_abs_shift`` of
        ``prediction_shift``'s table, or ``None``), ``perturbations`` (names) and ``n_lesions``.
        """
        return {
            "icc": {str(name): _json_float(value) for name, value in self.icc.items()},
            "threshold": float(threshold),
            "shifts": None if shifts is None else [float(v) for v in shifts["max_abs_shift"]],
            "perturbations": self.perturbations,
            "n_lesions": self.n_lesions,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: sizes, ICC distribution, robust counts, median ICC per perturbation."""
        defined = self.icc.dropna()
        return {
            "n_lesions": self.n_lesions,
            "n_features": int(self.icc.size),
            "perturbations": self.perturbations,
            "seed": self.seed,
            "settings_hash": self.settings_hash,
            "icc_kind": "3,1",
            "icc_quartiles": [float(q) for q in np.quantile(defined, [0.25, 0.5, 0.75])]
            if defined.size
            else None,
            "n_robust": {f"{t:g}": len(self.robust_features(t)) for t in (0.5, 0.75, 0.9)},
            "median_icc_by_perturbation": {
                name: _json_float(self.icc_by_perturbation[name].median()) for name in self.perturbations
            },
            "n_problems": len(self.problems),
        }


def robustness_study(
    dataset: Dataset,
    settings: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    perturbations: Sequence[Perturbation] = DEFAULT_PERTURBATIONS,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
    *,
    sequences: Sequence[str] | None = None,
    max_lesions: int | None = None,
    liver_features: bool = False,
) -> RobustnessResult:
    """Return the features of a Dataset's lesions re-extracted under each perturbation, with per-feature ICCs.

    Every (case, perturbation) pair, and the original extraction, is one ``lai.compute`` task keyed by the
    case's file hashes, lesions, settings, perturbation and seed: a rerun with ``cache_dir`` is served from
    the cache, and the same inputs and seed give the same numbers.

    Parameters
    ----------
    dataset
        The Dataset whose lesions are studied.
    settings
        Extraction settings (mapping, preset name or YAML path; ``lai.radiomics.settings``). A reduced set
        (e.g. ``{"feature_classes": ["firstorder", "shape", "glcm"]}``) keeps a study fast.
    perturbations
        The perturbations (``Perturbation``); names must be distinct.
    seed
        Seed of every perturbation and of the lesion subset.
    cache_dir, scheduler
        As ``lai.compute.map_tasks``.
    sequences
        Sequences to extract (default: every sequence of the dataset).
    max_lesions
        Study only this many lesions, drawn (seeded) as whole cases, then trimmed; ``None`` studies all.
    liver_features
        Also study the ``kinetics:`` and ``context:`` features (default off: they mostly follow the
        per-sequence ones).

    Returns
    -------
    RobustnessResult
        The tables, ICC(3,1) per feature overall and per perturbation.
    """
    chosen_perturbations = list(perturbations)
    names = [p.name for p in chosen_perturbations]
    if len(set(names)) != len(names) or ORIGINAL in names:
        msg = f"Perturbation names must be distinct, got {names}"
        raise ValueError(msg)
    if not chosen_perturbations:
        msg = "A robustness study needs at least one perturbation"
        raise ValueError(msg)
    config = load_settings(settings)
    chosen_sequences = _sequences(dataset, sequences)
    cases = _chosen_cases(dataset, max_lesions, seed)
    tasks: list[PerturbedCaseTask] = []
    keys: list[str] = []
    for perturbation in [None, *chosen_perturbations]:
        for case, lesions in cases:
            case_task = CaseTask(
                root=str(dataset.root),
                case_id=case.case_id,
                sequences=tuple(s for s in chosen_sequences if s in case.sequences),
                lesions=lesions,
                settings=config,
                liver_features=liver_features,
            )
            tasks.append(PerturbedCaseTask(case_task, perturbation, seed))
            keys.append(
                task_key(
                    "lai.validation.robustness",
                    FEATURE_REVISION,
                    _case_hashes(dataset, case.case_id),
                    case.case_id,
                    case_task.sequences,
                    lesions,
                    config,
                    liver_features,
                    None if perturbation is None else perturbation.name,
                    None if perturbation is None else seed,  # the original does not depend on the seed
                )
            )
    n_lesions = sum(len(lesions) for _, lesions in cases)
    results = map_tasks(
        extract_perturbed_case,
        tasks,
        keys=keys,
        cache_dir=cache_dir,
        description=f"Robustness: {n_lesions} lesions x {len(chosen_perturbations) + 1} extractions",
        scheduler=scheduler,
    )
    columns = feature_columns(chosen_sequences, config, liver_features=liver_features)
    tables: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    for index, name in enumerate([ORIGINAL, *names]):
        part = results[index * len(cases) : (index + 1) * len(cases)]
        tables[name] = _table(cases, [r.rows for r in part], columns)
        problems += [f"{name}: {text}" for r in part for text in r.problems]
    if problems:
        warnings.warn(
            f"{len(problems)} lesion/sequence extractions had unmeasurable features (NaN) in the robustness "
            f"study, e.g. {problems[0]}",
            RadiomicsWarning,
            stacklevel=2,
        )
    frames = list(tables.values())
    by_perturbation = pd.DataFrame(
        {name: feature_icc([frames[0], tables[name]], features=columns) for name in names}, index=columns
    )
    return RobustnessResult(
        tables=tables,
        icc=feature_icc(frames, features=columns),
        icc_by_perturbation=by_perturbation,
        seed=seed,
        settings_hash=settings_hash(config),
        problems=problems,
    )


def prediction_shift(
    model: Any,
    tables: Mapping[str, pd.DataFrame],
    reference: str = ORIGINAL,
    fixed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return how much each lesion's predicted probabilities move from the reference table to each other table.

    Parameters
    ----------
    model
        A fitted classifier with ``predict_proba`` and ``classes_`` (an ``AutoClassifier`` or any scikit-learn
        estimator); its columns are taken by name (``feature_names_in_``) when it has them, else every
        feature column of the tables.
    tables
        Feature tables of the same lesions (``RobustnessResult.tables``), with ``lesion_id``.
    reference
        Name of the unperturbed table.
    fixed
        Optional table with ``lesion_id`` (e.g. the full FeatureTable's frame) supplying, at their original
        values, the model's columns a reduced robustness study did not re-extract. The shift then measures
        the effect of the re-extracted features only; without ``fixed`` such columns are an error.

    Returns
    -------
    pandas.DataFrame
        One row per lesion and perturbation: ``lesion_id``, ``perturbation``, ``p_reference`` and
        ``p_perturbed`` (probability of the positive class ``classes_[1]`` when binary, of the class predicted
        on the reference otherwise), ``shift`` (``p_perturbed - p_reference``), ``max_abs_shift`` (largest
        absolute change of any class probability) and ``flipped`` (whether the predicted class changed).
    """
    if reference not in tables:
        msg = f"No reference table {reference!r} among {list(tables)}"
        raise ValueError(msg)
    base = tables[reference]
    if fixed is not None:
        tables = {name: _completed(table, fixed, name) for name, table in tables.items()}
    base_proba = _probabilities(model, tables[reference], reference)
    base_class = np.argmax(base_proba, axis=1)
    column = np.ones(len(base), dtype=np.int64) if base_proba.shape[1] == 2 else base_class
    rows = np.arange(len(base))
    frames = []
    for name, table in tables.items():
        if name == reference:
            continue
        if not table["lesion_id"].reset_index(drop=True).equals(base["lesion_id"].reset_index(drop=True)):
            msg = f"Table {name!r} does not hold the reference's lesions in the same order"
            raise ValueError(msg)
        proba = _probabilities(model, table, name)
        frames.append(
            pd.DataFrame(
                {
                    "lesion_id": base["lesion_id"].to_numpy(),
                    "perturbation": name,
                    "p_reference": base_proba[rows, column],
                    "p_perturbed": proba[rows, column],
                    "shift": proba[rows, column] - base_proba[rows, column],
                    "max_abs_shift": np.max(np.abs(proba - base_proba), axis=1),
                    "flipped": np.argmax(proba, axis=1) != base_class,
                }
            )
        )
    columns = ["lesion_id", "perturbation", "p_reference", "p_perturbed", "shift", "max_abs_shift", "flipped"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


# --- Internals ---


def _labels_in(labels: np.ndarray) -> list[int]:
    """Return the non-zero labels present in a label map."""
    return [int(v) for v in np.unique(labels) if v != 0]


def _sequences(dataset: Dataset, sequences: Sequence[str] | None) -> list[str]:
    """Return the sequences to study, in the dataset's canonical order."""
    present = {s for case in dataset.iter_cases() for s in case.sequences}
    wanted = present if sequences is None else set(sequences)
    missing = sorted(wanted - present)
    if missing:
        msg = f"Dataset {dataset.root} has no images of sequence(s) {missing}; it has {sorted(present)}"
        raise ValueError(msg)
    return [s for s in SEQUENCES if s in wanted]


def _chosen_cases(
    dataset: Dataset, max_lesions: int | None, seed: int
) -> list[tuple[Any, tuple[tuple[str, int], ...]]]:
    """Return ``[(case, ((lesion_id, mask_label), ...)), ...]`` of the studied lesions, in dataset order."""
    cases = [case for case in dataset.iter_cases() if case.lesions]
    if not cases:
        msg = f"Dataset {dataset.root} has no lesions to study"
        raise ValueError(msg)
    if max_lesions is not None and max_lesions < 2:
        msg = f"max_lesions must be at least 2 (an ICC needs 2 lesions), got {max_lesions}"
        raise ValueError(msg)
    budget = {case.case_id: len(case.lesions) for case in cases}
    if max_lesions is not None:
        order = np.random.default_rng(seed).permutation(len(cases))
        budget, remaining = {}, max_lesions
        for index in order:
            if remaining <= 0:
                break
            take = min(len(cases[index].lesions), remaining)
            budget[cases[index].case_id] = take
            remaining -= take
    return [
        (
            case,
            tuple((lesion.lesion_id, lesion.mask_label) for lesion in case.lesions[: budget[case.case_id]]),
        )
        for case in cases
        if case.case_id in budget
    ]


def _case_hashes(dataset: Dataset, case_id: str) -> dict[str, str]:
    """Return sha256 of every file of one case (from dataset.json, else read from disk)."""
    listed = {rel: sha for rel, sha in dataset.files.items() if rel.split("/")[1:2] == [case_id]}
    for folder in ("images", "masks"):
        for path in sorted((dataset.root / folder / case_id).glob("*")):
            rel = path.relative_to(dataset.root).as_posix()
            listed.setdefault(rel, sha256_file(path))
    return listed


def _table(
    cases: Sequence[tuple[Any, tuple[tuple[str, int], ...]]],
    rows: Sequence[Mapping[str, Mapping[str, float]]],
    columns: Sequence[str],
) -> pd.DataFrame:
    """Return one extraction as a table: id columns then the feature columns."""
    records = []
    for (case, lesions), by_lesion in zip(cases, rows, strict=True):
        for lesion_id, _ in lesions:
            ids = {
                "lesion_id": lesion_id,
                "case_id": case.case_id,
                "patient_id": case.patient_id,
                "centre": case.centre,
            }
            records.append({**ids, **by_lesion[lesion_id]})
    frame = pd.DataFrame.from_records(records, columns=[*ID_COLUMNS, *columns])
    frame[list(columns)] = frame[list(columns)].astype(np.float64)
    return frame


def _completed(table: pd.DataFrame, fixed: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return ``table`` with the columns only ``fixed`` has, taken from ``fixed`` for the same lesions."""
    extra = [c for c in fixed.columns if c not in table.columns]
    lookup = fixed.drop_duplicates("lesion_id").set_index("lesion_id")
    absent = sorted(set(table["lesion_id"]) - set(lookup.index))
    if absent:
        msg = f"Table {name!r} has lesions the fixed table lacks, e.g. {absent[:3]}"
        raise ValueError(msg)
    values = lookup.loc[table["lesion_id"], extra].reset_index(drop=True)
    return pd.concat([table.reset_index(drop=True), values], axis=1)


def _probabilities(model: Any, table: pd.DataFrame, name: str) -> np.ndarray:
    """Return ``model.predict_proba`` on the model's columns of ``table``."""
    wanted = getattr(model, "feature_names_in_", None)
    names = [str(c) for c in wanted] if wanted is not None else [c for c in table.columns if ":" in str(c)]
    missing = [c for c in names if c not in table.columns]
    if missing:
        msg = f"Table {name!r} lacks {len(missing)} feature column(s) the model needs, e.g. {missing[:3]}"
        raise ValueError(msg)
    return np.asarray(model.predict_proba(table[names]), dtype=np.float64)


def _json_float(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None
