"""IBSI intensity-volume histogram features (lai.radiomics.ivh) against the IBSI 1 digital phantom.

As the manual sets it for the phantom, the grey levels are used as they are, on a grid of step 1 from the
ROI minimum (1) to its maximum (6).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lai.radiomics import ivh
from test_radiomics_ibsi_statistics import (
    assert_matches_reference,
    assert_no_warnings,
    reference_tags,
    roi_values,
)


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
