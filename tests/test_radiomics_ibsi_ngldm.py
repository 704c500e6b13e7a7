"""NGLDM (IBSI 1 section 3.11) against the IBSI phantom, a slow dependence count and PyRadiomics' GLDM."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from explicit_texture import (
    explicit_aggregate,
    family_values,
    offsets,
    random_volume,
    voxels,
)
from ibsi_reference import (
    PHANTOM_SPACING,
    assert_no_warnings,
    matches_reference,
    phantom_levels,
    reference_rows,
)
from lai.radiomics import ngldm
from lai.radiomics.texture import COUNT_FEATURES
from pyradiomics_reference import PYRADIOMICS_CASES, pyradiomics_baseline, pyradiomics_brain1


def explicit_dependences(
    levels: np.ndarray, roi: np.ndarray, in_plane: bool, alpha: int
) -> Counter[tuple[int, int]]:
    """Return {(grey level, dependence count): voxels}, counting each voxel's dependent neighbours one by one."""
    counts: Counter[tuple[int, int]] = Counter()
    for voxel in voxels(roi):
        grey = int(levels[voxel])
        dependence = 1
        for offset in offsets(in_plane):
            other = tuple(voxel[d] + offset[d] for d in range(3))
            inside = all(0 <= other[d] < roi.shape[d] for d in range(3))
            if inside and roi[other] and abs(int(levels[other]) - grey) <= alpha:
                dependence += 1
        counts[(grey, dependence)] += 1
    return counts


@pytest.mark.parametrize(("tag", "base_tag", "aggregation", "reference", "tolerance"), reference_rows("ngl_"))
def test_ngldm_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    levels, mask = phantom_levels()
    value = ngldm.ngldm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING)[
        base_tag
    ]
    assert matches_reference(value, reference, tolerance), f"{tag}: {value} != {reference}"


def test_ngldm_reference_covers_every_feature_and_aggregation() -> None:
    tags = {row[0] for row in reference_rows("ngl_")}
    assert tags == {f.tag(a) for f in ngldm.FEATURES for a in ngldm.AGGREGATIONS}


@pytest.mark.parametrize("aggregation", ngldm.AGGREGATIONS)
@pytest.mark.parametrize(("seed", "alpha"), [(0, 0), (1, 0), (2, 1)])
def test_ngldm_matches_explicit_dependence_count_on_random_volume(
    aggregation: str, seed: int, alpha: int
) -> None:
    levels, mask = random_volume(seed)
    in_plane = aggregation != "3D"
    expected = explicit_aggregate(
        mask, aggregation, lambda roi: explicit_dependences(levels, roi, in_plane, alpha), 4
    )
    found = ngldm.ngldm_features(
        levels, mask, n_levels=4, aggregation=aggregation, spacing=PHANTOM_SPACING, alpha=alpha
    )
    values = family_values(found, ngldm.FEATURES, COUNT_FEATURES)
    assert values == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("aggregation", ngldm.AGGREGATIONS)
def test_ngldm_constant_roi_has_every_voxel_fully_dependent(aggregation: str) -> None:
    levels = np.full((3, 3, 3), 2)
    found = assert_no_warnings(
        ngldm.ngldm_features, levels, levels > 0, n_levels=2, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found["ngl_gl_var"] == 0.0
    assert found["ngl_dc_perc"] == 1.0
    assert found["ngl_lgce"] == 0.25
    # 3D: 8 corners (7 neighbours + centre), 12 edges (12), 6 faces (18), 1 centre (27); in plane: 4, 6, 9
    if aggregation == "3D":
        assert found["ngl_hde"] == pytest.approx((8 * 8**2 + 12 * 12**2 + 6 * 18**2 + 27**2) / 27)
    else:
        assert found["ngl_hde"] == pytest.approx((4 * 4**2 + 4 * 6**2 + 9**2) / 9)


@pytest.mark.parametrize("aggregation", ngldm.AGGREGATIONS)
def test_ngldm_one_voxel_roi_has_dependence_one(aggregation: str) -> None:
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros(levels.shape, dtype=bool)
    mask[1, 1, 1] = True
    found = assert_no_warnings(
        ngldm.ngldm_features, levels, mask, n_levels=2, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found["ngl_lde"] == 1.0
    assert found["ngl_hde"] == 1.0
    assert found["ngl_dc_entr"] == 0.0
    assert found["ngl_dc_energy"] == 1.0


def test_ngldm_empty_roi_gives_nan_without_warnings() -> None:
    levels = np.ones((3, 3, 3), dtype=int)
    mask = np.zeros(levels.shape, dtype=bool)
    for aggregation in ngldm.AGGREGATIONS:
        found = assert_no_warnings(
            ngldm.ngldm_features, levels, mask, n_levels=1, aggregation=aggregation, spacing=PHANTOM_SPACING
        )
        assert all(math.isnan(value) for value in found.values())


@pytest.mark.parametrize("aggregation", ngldm.AGGREGATIONS)
def test_ngldm_unchanged_when_the_image_extends_beyond_the_roi(aggregation: str) -> None:
    levels, mask = phantom_levels()
    wider_levels = np.pad(levels, 2, constant_values=1)
    wider_mask = np.pad(mask, 2, constant_values=False)
    expected = ngldm.ngldm_features(
        levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    found = ngldm.ngldm_features(
        wider_levels, wider_mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("case", "aggregation"), PYRADIOMICS_CASES)
def test_ngldm_matches_pyradiomics_baseline_where_names_are_given(case: str, aggregation: str) -> None:
    levels, mask = pyradiomics_brain1()
    found = ngldm.ngldm_features(
        levels, mask, n_levels=int(levels.max()), aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    baseline = pyradiomics_baseline("gldm", case)
    named = [f for f in ngldm.FEATURES if f.pyradiomics]
    assert len(named) == 14
    for feature in named:
        assert found[feature.base_tag] == pytest.approx(baseline[feature.pyradiomics], rel=1e-9), (
            feature.base_tag
        )
