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
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PRESETS: dict[str, dict[str, Any]] = {
    "liver_mri": {
        "normalise": "liver",
        "bin_width": 0.05,
        "bin_count": None,
        "voxel_array_shift": 0.0,
        "ring_mm": [10.0, 20.0],
    },
    "pyradiomics": {
        "normalise": "none",
        "bin_width": 25.0,
        "bin_count": None,
        "voxel_array_shift": 0.0,
        "ring_mm": [10.0, 20.0],
    },
}
"""Complete settings per preset name; ``pyradiomics`` reproduces PyRadiomics' defaults."""

DEFAULT_PRESET = "liver_mri"
NORMALISATIONS = ("liver", "none")
_KEYS = ("preset", *PRESETS[DEFAULT_PRESET])


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the key or the file."""


def load_settings(settings: Mapping[str, Any] | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return complete, validated settings from a preset name, a YAML file, a mapping, or ``None``.

    A mapping (or the YAML file's mapping) overrides the preset it names under ``preset`` (default
    ``"liver_mri"``). Setting ``bin_count`` without ``bin_width`` switches to a fixed bin count.

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
        overrides = _read_yaml(Path(settings))
    unknown = sorted(set(overrides) - set(_KEYS))
    if unknown:
        msg = f"Unknown radiomics setting(s) {unknown}; known keys: {list(_KEYS)}"
        raise SettingsError(msg)
    preset = str(overrides.get("preset", DEFAULT_PRESET))
    if preset not in PRESETS:
        msg = f"Unknown radiomics preset {preset!r}; presets: {sorted(PRESETS)}"
        raise SettingsError(msg)
    merged: dict[str, Any] = {"preset": preset, **PRESETS[preset], **overrides}
    if overrides.get("bin_count") is not None and "bin_width" not in overrides:
        merged["bin_width"] = None
    return _validated(merged)


def settings_hash(settings: Mapping[str, Any]) -> str:
    """Return the sha256 of the settings' canonical JSON (sorted keys), to record next to results."""
    payload = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read_yaml(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        msg = f"{path}: no such settings file, and not a preset name ({sorted(PRESETS)})"
        raise SettingsError(msg)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        msg = f"{path}: not valid YAML ({error})"
        raise SettingsError(msg) from error
    if not isinstance(loaded, Mapping):
        msg = f"{path}: expected a mapping of settings, found {type(loaded).__name__}"
        raise SettingsError(msg)
    return loaded


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
    return merged
