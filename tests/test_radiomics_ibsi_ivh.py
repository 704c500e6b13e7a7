"""IBSI intensity-volume histogram features (lai.radiomics.ivh) against the IBSI 1 digital phantom.

As the manual sets it for the phantom, the grey levels are used as they are, on a grid of step 1 from the
ROI minimum (1) to its maximum (6).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibsi_reference import (
    assert_matches_reference,
    assert_no_warnings,
    reference_tags,
    roi_values,
)
from lai.radiomics import ivh


@pytest.mark.parametrize("tag", reference_tags("ivh_"))
def test_ivh_matches_ibsi_digital_phantom(tag: str) -> None:
    assert_matches_reference(tag, ivh.ivh_features(roi_values(), bin_width=1.0)[tag])


def test_ivh_covers_the_catalogue_in_ibsi_order() -> None:
    features = ivh.ivh_features(roi_values(), bin_width=1.0)
    assert list(features) == [d.base_tag for d in ivh.FEATURES]
    assert ivh.AGGREGATIONS == ()


def test_ivh_of_fixed_bin_number_levels_uses_levels_one_to_n() -> None:
    features = ivh.ivh_features(roi_values(), levels=np.array([1, 1, 2, 4]), n_levels=4)
    # thresholds 1 + 0.1 * 3 and 1 + 0.9 * 3: levels >= 1.3 are 2 of 4, levels >= 3.7 are 1 of 4
    assert features["ivh_v10"] == 0.5
    assert features["ivh_v90"] == 0.25
    # nu(2) = 0.5, nu(3) = nu(4) = 0.25: the lowest levels reached by at most 90% and 10% of the volume
    assert features["ivh_i90"] == 2.0
    assert math.isnan(features["ivh_i10"])


def test_ivh_of_fixed_bin_size_levels_uses_bin_centres() -> None:
    features = ivh.ivh_features(roi_values(), levels=np.array([1, 2, 3, 3]), bin_width=10.0, minimum=100.0)
    assert features["ivh_i90"] == 115.0
    # nu over the centres 105, 115, 125 is 1, 0.75, 0.5: no centre is reached by only 10% of the volume
    assert math.isnan(features["ivh_i10"])


def test_ivh_of_a_constant_roi_gives_nan_fractions_without_warnings() -> None:
    features = assert_no_warnings(ivh.ivh_features, np.full(5, 7.0), bin_width=1.0)
    assert math.isnan(features["ivh_v10"])
    assert math.isnan(features["ivh_auc"])
    assert math.isnan(features["ivh_i90"])


def test_ivh_of_a_one_voxel_roi_gives_nan_without_warnings() -> None:
    features = assert_no_warnings(ivh.ivh_features, np.array([3.0]))
    assert all(math.isnan(value) for value in features.values())


def test_ivh_range_ends_at_maximum_for_intensities_as_they_are() -> None:
    # range [0, 10] in steps of 1: nu = 1, 1, 1, .75, .75, .25, .25, 0, 0, 0, 0 at i = 0..10, gamma = i / 10
    features = ivh.ivh_features(np.array([2.0, 4.0, 4.0, 6.0]), bin_width=1.0, minimum=0.0, maximum=10.0)
    assert features == pytest.approx(
        {
            "ivh_v10": 1.0,  # X >= 1
            "ivh_v90": 0.0,  # X >= 9
            "ivh_i10": 7.0,
            "ivh_i90": 3.0,
            "ivh_diff_v10_v90": 1.0,
            "ivh_diff_i10_i90": 4.0,
            "ivh_auc": 0.1 * (5.0 - 0.5),  # trapezoids of width 0.1
        }
    )


def test_ivh_range_ends_at_the_bin_of_maximum_for_fixed_bin_size_levels() -> None:
    # bins of 2.5 from 0: levels 1, 2, 2, 3 of 1..5 (10 falls in bin 5); centres 1.25, 3.75, ..., 11.25
    features = ivh.ivh_features(
        np.array([1.0, 3.0, 3.0, 6.0]),
        levels=np.array([1, 2, 2, 3]),
        bin_width=2.5,
        minimum=0.0,
        maximum=10.0,
    )
    # nu = 1, .75, .25, 0, 0 at gamma = 0, .25, .5, .75, 1
    assert features == pytest.approx(
        {
            "ivh_v10": 0.75,  # centre >= 1.25 + 0.1 * 10
            "ivh_v90": 0.0,  # centre >= 1.25 + 0.9 * 10
            "ivh_i10": 8.75,
            "ivh_i90": 3.75,
            "ivh_diff_v10_v90": 0.75,
            "ivh_diff_i10_i90": 5.0,
            "ivh_auc": 0.25 * (0.5 + 0.75 + 0.25),
        }
    )


def test_ivh_refuses_intensities_above_maximum() -> None:
    with pytest.raises(ValueError, match="outside the IVH range"):
        ivh.ivh_features(np.array([2.0, 12.0]), bin_width=1.0, minimum=0.0, maximum=10.0)
