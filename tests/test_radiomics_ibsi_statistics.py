"""IBSI intensity statistics (lai.radiomics.statistics) against the IBSI 1 digital phantom's consensus values.

The phantom (5x4x4 voxels of 2 mm, 74 ROI voxels, grey levels 1, 3, 4, 6) is used without discretisation.
Reference values carry 3 significant figures, compared as :mod:`ibsi_reference` describes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibsi_reference import assert_matches_reference, assert_no_warnings, reference_tags, roi_values
from lai.radiomics import statistics


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
