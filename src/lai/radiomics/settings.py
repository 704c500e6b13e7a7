"""Extraction settings: named presets, overridable by a mapping or a YAML file, validated and complete.

Keys (see docs/features.md for the reasoning behind each default):

``preset``
    Name of the preset the other keys start from: ``"liver_mri"`` (default) or ``"pyradiomics"``.
``normalise``
    ``"liver"``: divide intensities by the median of the liver (liver mask minus all lesions, or a ring
    around the lesion when there is no liver mask) before first-order features; ``"none"``: keep them.
``bin_width`` / ``bin_count``
    Discretisation for the histogram features (Entropy, Uniformity): a fixed bin width in intensity units
    (after normalisation), or a fixed number of bins. Exactly one of them is set.
``voxel_array_shift``
    Constant added to intensities before Energy, TotalEnergy and RootMeanSquared (PyRadiomics'
    ``voxelArrayShift``), so that these do not depend on the sign of the values.
``ring_mm``
    Inner and outer distance (mm) from the lesion of the liver ring used when there is no liver mask.
``feature_classes``
    Families computed, a subset of ``firstorder``, ``shape``, ``glcm``, ``glrlm``, ``glszm``, ``gldm``,
    ``ngtdm`` (default: all seven).
``image_types``
    Images the intensity families run on: ``original: {}``, ``log: {sigma_mm: [...]}`` (Laplacian of
    Gaussian, one image per sigma in mm), ``wavelet: {wavelet: coif1}`` (``coif1`` or ``haar``; the 8
    level-1 sub-bands). Default ``{original: {}}``: LoG and wavelets are opt-in, each multiplies the
    extraction time. Filters run on a padded crop around the lesion only.
``texture_bin_count`` / ``texture_bin_width``
    Grey levels of the texture families: a fixed number of bins over the ROI's range (IBSI fixed bin
    number; ``liver_mri`` default 32) or a fixed bin width in intensity units (``pyradiomics``: 25).
    Exactly one of them is set.
``force2D``
    Texture neighbours in plane only (slices along the last array axis), matrices merged over slices.
    Default ``false``; set it for thick slices (slice spacing more than about twice the in-plane spacing).
``distances``
    Neighbour distances of GLCM, GLDM and NGTDM (default ``[1]``; GLRLM follows only ``[1]``).
``sequences``
    Per-sequence overrides: a mapping from a sequence name of ``lai.data.SEQUENCES`` (``t2w``, ``adc``,
    ``dwi``, ``arterial``, ...) to a mapping of the keys above (all but ``preset``), applied on top of
    the file's own settings for that sequence only, e.g. ``{adc: {normalise: none, texture_bin_width:
    100}, dwi: {force2D: true}}``. ``settings_for(settings, sequence)`` gives a sequence's complete
    settings; the loaded settings keep each listed sequence's complete, validated settings under
    ``sequences`` (empty when there are none).

A YAML file or mapping with PyRadiomics' sections ``imageType``, ``featureClass`` or ``setting`` is a
PyRadiomics parameter file: it is validated by ``lai.radiomics.pyradiomics_compat`` and the settings then
carry it under ``pyradiomics_params`` (PyRadiomics mode: ``pyradiomics_features`` computes the features,
no liver normalisation).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

FEATURE_CLASSES: tuple[str, ...] = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
"""Feature families ``extract_features`` computes, in PyRadiomics' spelling and order."""

IMAGE_TYPES: tuple[str, ...] = ("original", "log", "wavelet")
"""Image types: the original image, Laplacian of Gaussian responses, wavelet sub-bands."""

WAVELETS: tuple[str, ...] = ("coif1", "haar")
"""Wavelets offered for the ``wavelet`` image type (``coif1`` is PyRadiomics' default)."""

PRESETS: dict[str, dict[str, Any]] = {
    "liver_mri": {
        "normalise": "liver",
        "bin_width": 0.05,
        "bin_count": None,
        "voxel_array_shift": 0.0,
        "ring_mm": [10.0, 20.0],
        "feature_classes": list(FEATURE_CLASSES),
        "image_types": {"original": {}},
        "texture_bin_count": 32,
        "texture_bin_width": None,
        "force2D": False,
        "distances": [1],
    },
    "pyradiomics": {
        "normalise": "none",
        "bin_width": 25.0,
        "bin_count": None,
        "voxel_array_shift": 0.0,
        "ring_mm": [10.0, 20.0],
        "feature_classes": list(FEATURE_CLASSES),
        "image_types": {"original": {}},
        "texture_bin_count": None,
        "texture_bin_width": 25.0,
        "force2D": False,
        "distances": [1],
    },
}
"""Complete settings per preset name; ``pyradiomics`` reproduces PyRadiomics' defaults."""

DEFAULT_PRESET = "liver_mri"
NORMALISATIONS = ("liver", "none")
_KEYS = ("preset", *PRESETS[DEFAULT_PRESET], "sequences")
PYRADIOMICS_SECTIONS = frozenset({"imageType", "featureClass", "setting"})
"""Top-level keys that mark a PyRadiomics parameter file."""


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the key or the file."""


def load_settings(settings: Mapping[str, Any] | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return complete, validated settings from a preset name, a YAML file, a mapping, or ``None``.

    A mapping (or the YAML file's mapping) overrides the preset it names under ``preset`` (default
    ``"liver_mri"``). Setting ``bin_count`` without ``bin_width`` switches to a fixed bin count (and
    back), likewise ``texture_bin_count`` and ``texture_bin_width``. A PyRadiomics parameter file (a
    mapping with ``imageType``, ``featureClass`` or ``setting``) gives the ``pyradiomics`` preset with the
    validated parameters under ``pyradiomics_params``; otherwise ``pyradiomics_params`` is ``None``.

    Examples
    --------
    >>> load_settings({"preset": "pyradiomics", "bin_width": 10})["bin_width"]
    10.0
    """
    if settings is None:
        overrides: Mapping[str, Any] = {}
    elif isinstance(settings, Mapping):
        overrides = settings
    elif isinstance(settings, str) and settings in PRESETS:
        overrides = {"preset": settings}
    else:
        overrides = read_settings_file(Path(settings), PRESETS)
    if set(overrides) & PYRADIOMICS_SECTIONS:
        return _pyradiomics_mode(overrides)
    unknown = sorted(set(overrides) - set(_KEYS))
    if unknown:
        msg = f"Unknown radiomics setting(s) {unknown}; known keys: {list(_KEYS)}"
        raise SettingsError(msg)
    preset = str(overrides.get("preset", DEFAULT_PRESET))
    if preset not in PRESETS:
        msg = f"Unknown radiomics preset {preset!r}; presets: {sorted(PRESETS)}"
        raise SettingsError(msg)
    per_sequence = overrides.get("sequences") or {}
    own = {key: value for key, value in overrides.items() if key != "sequences"}
    base = _validated(_overridden({"preset": preset, **PRESETS[preset]}, own))
    sequences = _sequence_settings(base, per_sequence)
    return {**base, "sequences": sequences, "pyradiomics_params": None}


def settings_for(settings: Mapping[str, Any], sequence: str) -> dict[str, Any]:
    """Return the complete settings of one sequence: its ``sequences`` entry, else the common settings.

    Examples
    --------
    >>> settings = load_settings({"sequences": {"adc": {"normalise": "none"}}})
    >>> settings_for(settings, "adc")["normalise"], settings_for(settings, "t2w")["normalise"]
    ('none', 'liver')
    """
    specific = (settings.get("sequences") or {}).get(sequence)
    if specific is not None:
        return {**settings, **specific, "sequences": {}}
    return dict(settings)


def _overridden(merged: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``merged`` with ``overrides``; a bin count set alone switches off the width, and back."""
    result = {**merged, **overrides}
    for count, width in (("bin_count", "bin_width"), ("texture_bin_count", "texture_bin_width")):
        if overrides.get(count) is not None and width not in overrides:
            result[width] = None
        if overrides.get(width) is not None and count not in overrides:
            result[count] = None
    return result


def _sequence_settings(base: Mapping[str, Any], per_sequence: object) -> dict[str, dict[str, Any]]:
    """Return each listed sequence's complete settings: ``base`` with the sequence's overrides, validated."""
    if not isinstance(per_sequence, Mapping):
        msg = f"Setting sequences must map sequence names to settings, found {per_sequence!r}"
        raise SettingsError(msg)
    if not per_sequence:
        return {}
    from lai.data import SEQUENCES  # imported here, only when needed: lai.data brings pandas

    complete = {}
    for sequence, overrides in per_sequence.items():
        if sequence not in SEQUENCES:
            msg = f"Setting sequences: unknown sequence {sequence!r}; known: {list(SEQUENCES)}"
            raise SettingsError(msg)
        if not isinstance(overrides, Mapping):
            msg = f"Setting sequences.{sequence} must be a mapping of settings, found {overrides!r}"
            raise SettingsError(msg)
        refused = sorted(str(key) for key in overrides if key in ("preset", "sequences") or key not in _KEYS)
        if refused:
            known = [key for key in _KEYS if key not in ("preset", "sequences")]
            msg = f"Setting sequences.{sequence}: key(s) {refused} cannot be set per sequence; known: {known}"
            raise SettingsError(msg)
        try:
            complete[str(sequence)] = _validated(_overridden(base, overrides))
        except SettingsError as error:
            msg = f"Setting sequences.{sequence}: {error}"
            raise SettingsError(msg) from error
    return complete


def settings_hash(settings: Mapping[str, Any]) -> str:
    """Return the sha256 of the settings' canonical JSON (sorted keys), to record next to results."""
    payload = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def read_settings_file(
    path: Path, presets: Iterable[str] = (), *, error: type[ValueError] = SettingsError
) -> Mapping[str, Any]:
    """Return the mapping of a YAML settings file, or raise ``error`` naming the file.

    ``presets`` are the names the caller would also have accepted, quoted when the file does not exist.
    """
    if not path.is_file():
        hint = f", and not a preset name ({sorted(presets)})" if presets else ""
        msg = f"{path}: no such settings file{hint}"
        raise error(msg)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        msg = f"{path}: not valid YAML ({problem})"
        raise error(msg) from problem
    if not isinstance(loaded, Mapping):
        msg = f"{path}: expected a mapping of settings, found {type(loaded).__name__}"
        raise error(msg)
    return loaded


def _pyradiomics_mode(params: Mapping[str, Any]) -> dict[str, Any]:
    # imported here: pyradiomics_compat builds on extract, which imports this module
    from lai.radiomics.extract import FAMILY_FEATURES
    from lai.radiomics.pyradiomics_compat import PyRadiomicsParamsError, read_pyradiomics_params

    try:
        parsed = read_pyradiomics_params(params)
    except PyRadiomicsParamsError as error:
        msg = f"PyRadiomics parameters: {error}"
        raise SettingsError(msg) from error
    for family, wanted in parsed["featureClass"].items():
        unknown = sorted(set(wanted or ()) - set(FAMILY_FEATURES[family]))
        if unknown:
            known = list(FAMILY_FEATURES[family])
            msg = f"PyRadiomics parameters: unknown {family} feature(s) {unknown}; known: {known}"
            raise SettingsError(msg)
    return {"preset": "pyradiomics", **PRESETS["pyradiomics"], "sequences": {}, "pyradiomics_params": parsed}


def _validated(merged: dict[str, Any]) -> dict[str, Any]:
    if merged["normalise"] not in NORMALISATIONS:
        msg = f"Setting normalise={merged['normalise']!r}: use one of {list(NORMALISATIONS)}"
        raise SettingsError(msg)
    if (merged["bin_width"] is None) == (merged["bin_count"] is None):
        msg = (
            f"Set exactly one of bin_width and bin_count, found bin_width={merged['bin_width']!r}, "
            f"bin_count={merged['bin_count']!r}"
        )
        raise SettingsError(msg)
    if merged["bin_width"] is not None:
        merged["bin_width"] = float(merged["bin_width"])
        if merged["bin_width"] <= 0:
            msg = f"Setting bin_width must be positive, found {merged['bin_width']}"
            raise SettingsError(msg)
    if merged["bin_count"] is not None:
        merged["bin_count"] = int(merged["bin_count"])
        if merged["bin_count"] < 1:
            msg = f"Setting bin_count must be at least 1, found {merged['bin_count']}"
            raise SettingsError(msg)
    merged["voxel_array_shift"] = float(merged["voxel_array_shift"])
    ring = [float(v) for v in merged["ring_mm"]]
    if len(ring) != 2 or not 0 <= ring[0] < ring[1]:
        msg = f"Setting ring_mm must be [inner, outer] with 0 <= inner < outer, found {merged['ring_mm']!r}"
        raise SettingsError(msg)
    merged["ring_mm"] = ring
    merged["feature_classes"] = _feature_classes(merged["feature_classes"])
    merged["image_types"] = _image_types(merged["image_types"])
    merged["texture_bin_count"], merged["texture_bin_width"] = _texture_bins(
        merged["texture_bin_count"], merged["texture_bin_width"]
    )
    if not isinstance(merged["force2D"], bool):
        msg = f"Setting force2D must be true or false, found {merged['force2D']!r}"
        raise SettingsError(msg)
    distances = merged["distances"]
    if not isinstance(distances, list) or not distances or not all(_is_count(d) for d in distances):
        msg = f"Setting distances must be a list of positive integers such as [1], found {distances!r}"
        raise SettingsError(msg)
    return merged


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _feature_classes(value: object) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        msg = f"Setting feature_classes must be a non-empty list of {list(FEATURE_CLASSES)}, found {value!r}"
        raise SettingsError(msg)
    unknown = sorted(str(name) for name in value if name not in FEATURE_CLASSES)
    if unknown:
        msg = f"Setting feature_classes: unknown class(es) {unknown}; known: {list(FEATURE_CLASSES)}"
        raise SettingsError(msg)
    return [name for name in FEATURE_CLASSES if name in value]


def _image_types(value: object) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping) or not value:
        msg = f"Setting image_types must be a non-empty mapping such as {{original: {{}}}}, found {value!r}"
        raise SettingsError(msg)
    unknown = sorted(str(name) for name in value if name not in IMAGE_TYPES)
    if unknown:
        msg = f"Setting image_types: unknown image type(s) {unknown}; known: {list(IMAGE_TYPES)}"
        raise SettingsError(msg)
    allowed = {"original": set(), "log": {"sigma_mm"}, "wavelet": {"wavelet"}}
    checked: dict[str, dict[str, Any]] = {}
    for name in IMAGE_TYPES:
        if name not in value:
            continue
        options = dict(value[name] or {})
        extra = sorted(set(options) - allowed[name])
        if extra:
            msg = f"Setting image_types.{name}: unknown option(s) {extra}; known: {sorted(allowed[name])}"
            raise SettingsError(msg)
        if name == "log":
            sigmas = options.get("sigma_mm")
            if not isinstance(sigmas, list) or not sigmas or not all(_positive_number(s) for s in sigmas):
                msg = f"Setting image_types.log.sigma_mm must be a list of sigmas > 0 mm, found {sigmas!r}"
                raise SettingsError(msg)
            options["sigma_mm"] = [float(s) for s in sigmas]
        if name == "wavelet":
            options["wavelet"] = options.get("wavelet", "coif1")
            if options["wavelet"] not in WAVELETS:
                msg = (
                    f"Setting image_types.wavelet.wavelet={options['wavelet']!r}: use one of {list(WAVELETS)}"
                )
                raise SettingsError(msg)
        checked[name] = options
    return checked


def _positive_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _texture_bins(count: object, width: object) -> tuple[int | None, float | None]:
    if (count is None) == (width is None):
        msg = (
            "Set exactly one of texture_bin_count and texture_bin_width, found "
            f"texture_bin_count={count!r}, texture_bin_width={width!r}"
        )
        raise SettingsError(msg)
    if count is not None:
        if not isinstance(count, int) or not _is_count(count):
            msg = f"Setting texture_bin_count must be a whole number >= 1, found {count!r}"
            raise SettingsError(msg)
        return count, None
    if not isinstance(width, int | float) or not _positive_number(width):
        msg = f"Setting texture_bin_width must be a positive number, found {width!r}"
        raise SettingsError(msg)
    return None, float(width)
