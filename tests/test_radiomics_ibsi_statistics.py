"""IBSI intensity statistics (lai.radiomics.statistics) against the IBSI 1 digital phantom's consensus values.

The phantom (5x4x4 voxels of 2 mm, 74 ROI voxels, grey levels 1, 3, 4, 6) is used without discretisation.
Reference values carry 3 significant figures: a value passes when it rounds to the reference at 3
significant figures, or lies within the listed tolerance, or within a relative 5e-3 where that tolerance is
0. The phantom loaders and the comparison here serve the other IBSI family tests too.
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
import pytest

from lai.imaging import load_image
from lai.radiomics import statistics

T = TypeVar("T")

IBSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibsi"


@cache
def reference() -> pd.DataFrame:
    """Return the IBSI 1 digital phantom's reference table, indexed by tag."""
    return pd.read_csv(IBSI / "reference_digital_phantom.csv").set_index("tag")


def reference_tags(*prefixes: str) -> list[str]:
    """Return the reference tags starting with one of ``prefixes`` that carry a reference value."""
    table = reference()
    rows = table[table.index.str.startswith(prefixes) & table["reference_value"].notna()]
    return list(rows.index)


@cache
def phantom() -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Return the phantom's image array, boolean ROI mask and voxel spacing (mm)."""
    image = load_image(IBSI / "digital_phantom" / "phantom.nii.gz")
    mask = load_image(IBSI / "digital_phantom" / "mask.nii.gz")
    return image.array.astype(np.float64), mask.array > 0, image.spacing


def roi_values() -> np.ndarray:
    """Return the intensities of the phantom's 74 ROI voxels."""
    image, mask, _ = phantom()
    return image[mask]


def assert_matches_reference(tag: str, value: float) -> None:
    """Assert that ``value`` agrees with the IBSI reference value of ``tag``."""
    row = reference().loc[tag]
    expected, tolerance = float(row["reference_value"]), float(row["tolerance"])
    rounded = float(f"{value:.3g}") if math.isfinite(value) else value
    assert (
        rounded == pytest.approx(expected, rel=1e-9, abs=1e-12)
        or abs(value - expected) <= tolerance
        or (tolerance == 0 and value == pytest.approx(expected, rel=5e-3))
    ), f"{tag}: computed {value}, IBSI reference {expected} +/- {tolerance}"


def assert_no_warnings(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return ``function(*args, **kwargs)``, failing the test on any warning it raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


@pytest.mark.parametrize("tag", reference_tags("stat_"))
def test_statistics_matches_ibsi_digital_phantom(tag: str) -> None:
    assert_matches_reference(tag, statistics.statistics_features(roi_values())[tag])


def test_statistics_cover_the_catalogue_in_ibsi_order() -> None:
    features = statistics.statistics_features(roi_values())
    assert list(features) == [d.base_tag for d in statistics.FEATURES]
    assert len(statistics.FEATURES) == 18
    assert statistics.AGGREGATIONS == ()


def test_statistics_of_a_constant_roi_are_documented_values_without_warnings() -> None:
    features = assert_no_warnings(statistics.statistics_features, np.full(10, 3.0))
    assert features["stat_var"] == 0.0
    assert features["stat_skew"] == 0.0
    assert features["stat_kurt"] == 0.0
    assert features["stat_cov"] == 0.0
    assert features["stat_qcod"] == 0.0
    assert features["stat_rmad"] == 0.0


def test_statistics_of_a_one_voxel_roi_are_finite_without_warnings() -> None:
    features = assert_no_warnings(statistics.statistics_features, np.array([5.0]))
    assert features["stat_mean"] == 5.0
    assert features["stat_energy"] == 25.0
    assert all(math.isfinite(value) for value in features.values())


def test_statistics_of_a_zero_roi_give_nan_dispersion_ratios_without_warnings() -> None:
    features = assert_no_warnings(statistics.statistics_features, np.zeros(4))
    assert math.isnan(features["stat_cov"])
    assert math.isnan(features["stat_qcod"])


def test_statistics_of_two_distinct_values_give_nan_robust_deviation_without_warnings() -> None:
    # P_10 = 1 and P_90 = 9 leave neither 0 nor 10 in the robust subset
    features = assert_no_warnings(statistics.statistics_features, np.array([0.0, 10.0]))
    assert math.isnan(features["stat_rmad"])
    assert features["stat_mad"] == 5.0


def test_statistics_refuse_an_empty_roi() -> None:
    with pytest.raises(ValueError, match="at least one ROI voxel"):
        statistics.statistics_features(np.array([]))
