"""GLRLM features (``rlm_*``) against the IBSI 1 consensus values for the digital phantom.

The phantom is used without discretisation: grey levels 1, 3, 4 and 6, so ``N_g = 6`` with levels 2 and 5
empty. Reference values carry 3 significant figures, compared as :mod:`ibsi_reference` describes.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from ibsi_reference import PHANTOM_SPACING, matches_reference, phantom_levels, reference_rows
from lai.radiomics import glrlm

TAGS = reference_rows("rlm_")


@functools.cache
def phantom_features(aggregation: str) -> dict[str, float]:
    levels, mask = phantom_levels()
    return glrlm.glrlm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING)


def test_every_glrlm_tag_of_the_reference_is_in_the_catalogue() -> None:
    catalogue = {f.tag(a) for f in glrlm.FEATURES for a in glrlm.AGGREGATIONS}
    assert {row[0] for row in TAGS} == catalogue
    assert len(catalogue) == 96


@pytest.mark.parametrize(
    ("tag", "base_tag", "aggregation", "reference", "tolerance"), TAGS, ids=[row[0] for row in TAGS]
)
def test_glrlm_feature_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    value = phantom_features(aggregation)[base_tag]
    assert matches_reference(value, reference, tolerance), f"{tag}: {value} vs IBSI {reference}"


def slow_run_lengths(levels: np.ndarray, mask: np.ndarray, n_levels: int, dims: int) -> np.ndarray:
    """Walk every run voxel by voxel from its first voxel: the definition, written out."""
    offsets = [
        v
        for v in itertools.product((-1, 0, 1), repeat=3)
        if any(v) and next(c for c in v if c) > 0 and (dims == 3 or v[2] == 0)
    ]
    box = tuple(slice(ix.min(), ix.max() + 1) for ix in np.nonzero(mask))
    levels, mask = levels[box], mask[box]
    n_slices = levels.shape[2] if dims == 2 else 1

    def same(x: tuple[int, ...], y: tuple[int, ...]) -> bool:
        inside = all(0 <= c < n for c, n in zip(y, levels.shape, strict=True))
        return inside and bool(mask[y]) and levels[y] == levels[x]

    counts = np.zeros((n_slices, len(offsets), n_levels, max(levels.shape)), dtype=np.int64)
    for d, offset in enumerate(offsets):
        for x in zip(*np.nonzero(mask), strict=True):
            if same(x, tuple(a - o for a, o in zip(x, offset, strict=True))):
                continue  # not the first voxel of its run
            length, y = 1, tuple(a + o for a, o in zip(x, offset, strict=True))
            while same(x, y):
                length, y = length + 1, tuple(a + o for a, o in zip(y, offset, strict=True))
            counts[x[2] if dims == 2 else 0, d, levels[x] - 1, length - 1] += 1
    return counts


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("seed", [3, 11])
def test_run_length_matrices_of_all_directions_equal_voxel_by_voxel_runs(dims: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    levels = rng.integers(1, 3, size=(7, 6, 5))  # two levels: long runs occur
    mask = rng.random((7, 6, 5)) < 0.8
    levels[~mask] = 99  # outside the ROI: must be ignored
    fast = glrlm.run_length_matrices(levels, mask, n_levels=2, dims=dims)
    assert fast.shape[:2] == ((5, 4) if dims == 2 else (1, 13))
    slow = slow_run_lengths(levels, mask, 2, dims)
    longest = fast.shape[-1]
    assert slow[..., longest - 1].any() and not slow[..., longest:].any()  # L is the longest run
    np.testing.assert_array_equal(fast, slow[..., :longest])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("aggregation", glrlm.AGGREGATIONS)
def test_glrlm_constant_roi_gives_zero_grey_level_variance(aggregation: str) -> None:
    levels = np.full((4, 4, 3), 2)
    features = glrlm.glrlm_features(
        levels, np.ones_like(levels, bool), n_levels=3, aggregation=aggregation, spacing=(1.0, 1.0, 1.0)
    )
    assert features["rlm_gl_var"] == 0.0
    assert features["rlm_glnu_norm"] == 1.0
    assert features["rlm_hgre"] == pytest.approx(4.0)
    assert all(np.isfinite(v) for v in features.values())


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("aggregation", glrlm.AGGREGATIONS)
def test_glrlm_one_voxel_roi_is_a_single_run_of_length_one(aggregation: str) -> None:
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros_like(levels, dtype=bool)
    mask[1, 1, 1] = True
    features = glrlm.glrlm_features(
        levels, mask, n_levels=2, aggregation=aggregation, spacing=(1.0, 1.0, 1.0)
    )
    assert list(features) == [f.base_tag for f in glrlm.FEATURES]
    assert features["rlm_sre"] == features["rlm_lre"] == features["rlm_r_perc"] == 1.0
    assert features["rlm_hgre"] == 4.0
    assert features["rlm_gl_var"] == features["rlm_rl_var"] == features["rlm_rl_entr"] == 0.0


@pytest.mark.filterwarnings("error")
def test_glrlm_empty_roi_gives_nan_for_every_feature() -> None:
    levels = np.ones((3, 3, 3), dtype=int)
    features = glrlm.glrlm_features(
        levels, np.zeros_like(levels, bool), n_levels=1, aggregation="3D_avg", spacing=(1.0, 1.0, 1.0)
    )
    assert all(np.isnan(v) for v in features.values())
