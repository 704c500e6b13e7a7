"""The IBSI 1 digital phantom and its reference values, as the IBSI family tests read and compare them.

The phantom (5x4x4 voxels of 2 mm, 74 ROI voxels, grey levels 1, 3, 4, 6) is used without
discretisation: its intensities are its grey levels. Reference values carry 3 significant figures: a
value matches when it rounds to the reference at 3 significant figures, or lies within the listed
tolerance, or within a relative 5e-3 where that tolerance is 0 (the data README's rule).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from lai.imaging import load_image

T = TypeVar("T")

IBSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibsi"
PHANTOM_SPACING = (2.0, 2.0, 2.0)
"""The digital phantom's voxel size in mm."""


@cache
def reference() -> pd.DataFrame:
    """Return the IBSI 1 digital phantom's reference table, indexed by tag."""
    return pd.read_csv(IBSI / "reference_digital_phantom.csv").set_index("tag")


def reference_tags(*prefixes: str) -> list[str]:
    """Return the reference tags starting with one of ``prefixes`` that carry a reference value."""
    table = reference()
    rows = table[table.index.str.startswith(prefixes) & table["reference_value"].notna()]
    return list(rows.index)


def reference_rows(prefix: str) -> list[tuple[str, str, str, float, float]]:
    """Return (tag, base tag, aggregation, reference value, tolerance) of the tags starting with ``prefix``."""
    table = reference().loc[reference_tags(prefix)]
    return [
        (str(tag), str(row.base_tag), str(row.aggregation), float(row.reference_value), float(row.tolerance))
        for tag, row in zip(table.index, table.itertuples(), strict=True)
    ]


@cache
def phantom() -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Return the phantom's intensities (float64), boolean ROI mask and voxel spacing (mm), axes (i, j, k)."""
    image = load_image(IBSI / "digital_phantom" / "phantom.nii.gz")
    mask = load_image(IBSI / "digital_phantom" / "mask.nii.gz")
    return image.array.astype(np.float64), mask.array > 0, image.spacing


def phantom_levels() -> tuple[np.ndarray, np.ndarray]:
    """Return the phantom's grey levels (its intensities as int64) and ROI mask, for the texture families."""
    image, mask, _ = phantom()
    return image.astype(np.int64), mask


def roi_values() -> np.ndarray:
    """Return the intensities of the phantom's 74 ROI voxels."""
    image, mask, _ = phantom()
    return image[mask]


def matches_reference(value: float, expected: float, tolerance: float = 0.0) -> bool:
    """Return whether ``value`` matches a reference value at 3 significant figures (module docstring)."""
    if not math.isfinite(value):
        return False
    rounded = float(f"{value:.3g}")
    allowed = tolerance if tolerance > 0 else 5e-3 * abs(expected)
    return math.isclose(rounded, expected, rel_tol=1e-9, abs_tol=1e-12) or abs(value - expected) <= allowed


def assert_matches_reference(tag: str, value: float) -> None:
    """Assert that ``value`` matches the IBSI reference value of ``tag``."""
    row = reference().loc[tag]
    expected, tolerance = float(row["reference_value"]), float(row["tolerance"])
    assert matches_reference(value, expected, tolerance), (
        f"{tag}: computed {value}, IBSI reference {expected} +/- {tolerance}"
    )


def assert_no_warnings(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return ``function(*args, **kwargs)``, failing the test on any warning (numpy's RuntimeWarning too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)
