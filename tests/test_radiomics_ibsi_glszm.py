"""GLSZM (IBSI 1 section 3.8) against the IBSI digital phantom, a slow explicit zone count and PyRadiomics."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from explicit_texture import (
    explicit_aggregate,
    explicit_zones,
    family_values,
    random_volume,
)
from ibsi_reference import (
    PHANTOM_SPACING,
    assert_no_warnings,
    matches_reference,
    phantom_levels,
    reference_rows,
)
from lai.radiomics import glszm
from lai.radiomics.texture import COUNT_FEATURES
from pyradiomics_reference import PYRADIOMICS_CASES, pyradiomics_baseline, pyradiomics_brain1

GLSZM_NAMES = COUNT_FEATURES[:16]


@pytest.mark.parametrize(("tag", "base_tag", "aggregation", "reference", "tolerance"), reference_rows("szm_"))
def test_glszm_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    levels, mask = phantom_levels()
    value = glszm.glszm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING)[
        base_tag
    ]
    assert matches_reference(value, reference, tolerance), f"{tag}: {value} != {reference}"


def test_glszm_reference_covers_every_feature_and_aggregation() -> None:
    tags = {row[0] for row in reference_rows("szm_")}
    assert tags == {f.tag(a) for f in glszm.FEATURES for a in glszm.AGGREGATIONS}


@pytest.mark.parametrize("aggregation", glszm.AGGREGATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_glszm_matches_explicit_flood_fill_on_random_volume(aggregation: str, seed: int) -> None:
    levels, mask = random_volume(seed)
    in_plane = aggregation != "3D"

    def counts_of(roi: np.ndarray) -> Counter[tuple[int, int]]:
        return Counter((grey, len(zone)) for grey, zone in explicit_zones(levels, roi, in_plane))

    expected = explicit_aggregate(mask, aggregation, counts_of, 4)
    found = glszm.glszm_features(levels, mask, n_levels=4, aggregation=aggregation, spacing=PHANTOM_SPACING)
    values = family_values(found, glszm.FEATURES, GLSZM_NAMES)
    for name in GLSZM_NAMES:
        assert values[name] == pytest.approx(expected[name], rel=1e-12), name


@pytest.mark.parametrize("aggregation", glszm.AGGREGATIONS)
def test_glszm_constant_roi_is_one_zone(aggregation: str) -> None:
    levels = np.full((4, 3, 2), 2)
    mask = np.ones(levels.shape, dtype=bool)
    found = assert_no_warnings(
        glszm.glszm_features, levels, mask, n_levels=3, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    size = 24 if aggregation == "3D" else 12
    assert found["szm_lze"] == size**2
    assert found["szm_gl_var"] == 0.0
    assert found["szm_zs_var"] == 0.0
    assert found["szm_zs_entr"] == 0.0
    assert found["szm_z_perc"] == 1 / size


@pytest.mark.parametrize("aggregation", glszm.AGGREGATIONS)
def test_glszm_one_voxel_roi_is_one_zone_of_size_one(aggregation: str) -> None:
    levels = np.full((3, 3, 3), 3)
    mask = np.zeros(levels.shape, dtype=bool)
    mask[1, 1, 1] = True
    found = assert_no_warnings(
        glszm.glszm_features, levels, mask, n_levels=3, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found["szm_sze"] == 1.0
    assert found["szm_lzhge"] == 9.0
    assert found["szm_z_perc"] == 1.0


def test_glszm_empty_roi_gives_nan_without_warnings() -> None:
    levels = np.ones((3, 3, 3), dtype=int)
    mask = np.zeros(levels.shape, dtype=bool)
    for aggregation in glszm.AGGREGATIONS:
        found = assert_no_warnings(
            glszm.glszm_features, levels, mask, n_levels=1, aggregation=aggregation, spacing=PHANTOM_SPACING
        )
        assert all(math.isnan(value) for value in found.values())


def test_glszm_refuses_grey_levels_outside_range() -> None:
    levels = np.array([[[1, 7]]])
    with pytest.raises(ValueError, match=r"1\.\.6"):
        glszm.glszm_features(levels, levels > 0, n_levels=6, aggregation="3D", spacing=PHANTOM_SPACING)


@pytest.mark.parametrize("aggregation", glszm.AGGREGATIONS)
def test_glszm_unchanged_when_the_image_extends_beyond_the_roi(aggregation: str) -> None:
    levels, mask = phantom_levels()
    wider_levels = np.pad(levels, 2, constant_values=1)
    wider_mask = np.pad(mask, 2, constant_values=False)
    expected = glszm.glszm_features(
        levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    found = glszm.glszm_features(
        wider_levels, wider_mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("case", "aggregation"), PYRADIOMICS_CASES)
def test_glszm_matches_pyradiomics_baseline_where_names_are_given(case: str, aggregation: str) -> None:
    levels, mask = pyradiomics_brain1()
    found = glszm.glszm_features(
        levels, mask, n_levels=int(levels.max()), aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    baseline = pyradiomics_baseline("glszm", case)
    named = [f for f in glszm.FEATURES if f.pyradiomics]
    assert len(named) == 16
    for feature in named:
        assert found[feature.base_tag] == pytest.approx(baseline[feature.pyradiomics], rel=1e-9), (
            feature.base_tag
        )
