"""IBSI intensity histogram features (lai.radiomics.histogram) against the IBSI 1 digital phantom.

The phantom's grey levels 1, 3, 4, 6 are its discretised levels as they are, so ``N_g = 6`` (levels 2 and 5
are empty bins, which the histogram gradients see).
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
from lai.radiomics import histogram


def phantom_features() -> dict[str, float]:
    return histogram.histogram_features(roi_values().astype(np.int64), n_levels=6)


@pytest.mark.parametrize("tag", reference_tags("ih_"))
def test_histogram_matches_ibsi_digital_phantom(tag: str) -> None:
    assert_matches_reference(tag, phantom_features()[tag])


def test_histogram_covers_the_catalogue_in_ibsi_order() -> None:
    assert list(phantom_features()) == [d.base_tag for d in histogram.FEATURES]
    assert len(histogram.FEATURES) == 23
    assert histogram.AGGREGATIONS == ()


def test_histogram_of_a_constant_roi_is_documented_without_warnings() -> None:
    features = assert_no_warnings(histogram.histogram_features, np.full(8, 2), n_levels=4)
    assert features["ih_entropy"] == 0.0
    assert features["ih_uniformity"] == 1.0
    assert features["ih_mode"] == 2.0
    assert features["ih_skew"] == 0.0
    # counts (0, 8, 0, 0): gradients (8, 0, -4, 0)
    assert features["ih_max_grad"] == 8.0
    assert features["ih_max_grad_g"] == 1.0
    assert features["ih_min_grad"] == -4.0
    assert features["ih_min_grad_g"] == 3.0


def test_histogram_of_a_one_voxel_roi_with_one_level_is_finite_without_warnings() -> None:
    features = assert_no_warnings(histogram.histogram_features, np.array([1]), n_levels=1)
    assert features["ih_max_grad"] == 0.0
    assert all(math.isfinite(value) for value in features.values())


def test_histogram_refuses_levels_outside_the_discretisation() -> None:
    with pytest.raises(ValueError, match=r"1\.\.3"):
        histogram.histogram_features(np.array([1, 4]), n_levels=3)
