"""GLCM features (``cm_*``) against the IBSI 1 consensus values for the digital phantom.

The phantom is used without discretisation: grey levels 1, 3, 4 and 6, so ``N_g = 6`` with levels 2 and 5
empty. Reference values carry 3 significant figures, compared as :mod:`ibsi_reference` describes.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from ibsi_reference import PHANTOM_SPACING, matches_reference, phantom_levels, reference_rows
from lai.radiomics import glcm

TAGS = reference_rows("cm_")


@functools.cache
def phantom_features(aggregation: str) -> dict[str, float]:
    levels, mask = phantom_levels()
    return glcm.glcm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING)


def test_every_glcm_tag_of_the_reference_is_in_the_catalogue() -> None:
    catalogue = {f.tag(a) for f in glcm.FEATURES for a in glcm.AGGREGATIONS}
    assert {row[0] for row in TAGS} == catalogue
    assert len(catalogue) == 150


@pytest.mark.parametrize(
    ("tag", "base_tag", "aggregation", "reference", "tolerance"), TAGS, ids=[row[0] for row in TAGS]
)
def test_glcm_feature_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    value = phantom_features(aggregation)[base_tag]
    assert matches_reference(value, reference, tolerance), f"{tag}: {value} vs IBSI {reference}"


def slow_cooccurrence(levels: np.ndarray, mask: np.ndarray, n_levels: int, dims: int, distance: int):
    """Count pairs voxel by voxel: the definition, written out (a reference, not how LAI computes)."""
    offsets = [
        v
        for v in itertools.product((-1, 0, 1), repeat=3)
        if any(v) and next(c for c in v if c) > 0 and (dims == 3 or v[2] == 0)
    ]
    box = tuple(slice(ix.min(), ix.max() + 1) for ix in np.nonzero(mask))
    levels, mask = levels[box], mask[box]
    n_slices = levels.shape[2] if dims == 2 else 1
    counts = np.zeros((n_slices, len(offsets), n_levels, n_levels), dtype=np.int64)
    for d, offset in enumerate(offsets):
        for x in zip(*np.nonzero(mask), strict=True):
            y = tuple(a + distance * o for a, o in zip(x, offset, strict=True))
            if all(0 <= c < n for c, n in zip(y, levels.shape, strict=True)) and mask[y]:
                s = x[2] if dims == 2 else 0
                counts[s, d, levels[x] - 1, levels[y] - 1] += 1
                counts[s, d, levels[y] - 1, levels[x] - 1] += 1
    return counts


@pytest.mark.parametrize(("dims", "distance"), [(2, 1), (3, 1), (3, 2)])
def test_cooccurrence_matrices_of_all_directions_equal_voxel_by_voxel_counts(
    dims: int, distance: int
) -> None:
    rng = np.random.default_rng(7)
    levels = rng.integers(1, 5, size=(6, 5, 4))
    mask = rng.random((6, 5, 4)) < 0.7
    levels[~mask] = 99  # outside the ROI: must be ignored
    fast = glcm.cooccurrence_matrices(levels, mask, n_levels=4, dims=dims, distance=distance)
    assert fast.shape == (4 if dims == 2 else 1, 4 if dims == 2 else 13, 4, 4)
    np.testing.assert_array_equal(fast, slow_cooccurrence(levels, mask, 4, dims, distance))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("aggregation", glcm.AGGREGATIONS)
def test_glcm_constant_roi_gives_nan_correlation_and_values_elsewhere(aggregation: str) -> None:
    levels = np.full((4, 4, 3), 2)
    features = glcm.glcm_features(
        levels, np.ones_like(levels, bool), n_levels=3, aggregation=aggregation, spacing=(1.0, 1.0, 1.0)
    )
    assert np.isnan(features["cm_corr"]) and np.isnan(features["cm_info_corr1"])
    assert features["cm_joint_max"] == 1.0 and features["cm_joint_avg"] == 2.0
    assert features["cm_contrast"] == 0.0 and features["cm_info_corr2"] == 0.0
    assert sum(np.isnan(v) for v in features.values()) == 2


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("aggregation", glcm.AGGREGATIONS)
def test_glcm_one_voxel_roi_gives_nan_for_every_feature(aggregation: str) -> None:
    levels = np.ones((3, 3, 3), dtype=int)
    mask = np.zeros_like(levels, dtype=bool)
    mask[1, 1, 1] = True
    features = glcm.glcm_features(levels, mask, n_levels=2, aggregation=aggregation, spacing=(1.0, 1.0, 1.0))
    assert list(features) == [f.base_tag for f in glcm.FEATURES]
    assert all(np.isnan(v) for v in features.values())


def test_glcm_refuses_levels_outside_one_to_n_levels() -> None:
    levels = np.array([0, 1, 2]).reshape(3, 1, 1)
    with pytest.raises(ValueError, match="grey levels in the ROI"):
        glcm.glcm_features(
            levels, np.ones_like(levels, bool), n_levels=2, aggregation="3D_avg", spacing=(1.0, 1.0, 1.0)
        )


def test_glcm_refuses_an_unknown_aggregation() -> None:
    levels = np.ones((2, 2, 2), dtype=int)
    with pytest.raises(ValueError, match="unknown aggregation"):
        glcm.glcm_features(
            levels, np.ones_like(levels, bool), n_levels=1, aggregation="3D", spacing=(1.0, 1.0, 1.0)
        )
