"""GLDZM (IBSI 1 section 3.9) against the IBSI digital phantom and a slow explicit zone-distance count."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from explicit_texture import (
    explicit_aggregate,
    explicit_count_features,
    explicit_zones,
    family_values,
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
from lai.radiomics import gldzm
from lai.radiomics.texture import COUNT_FEATURES

GLDZM_NAMES = COUNT_FEATURES[:16]


def explicit_edge_distance(roi: np.ndarray, voxel: tuple[int, int, int], in_plane: bool) -> int:
    """Return the city-block distance from voxel to the nearest position outside the ROI (image border outside).

    The nearest background position in city-block metric is as many 6-connected steps away as the shortest
    path out of the ROI; in plane only positions of the voxel's own slice count.
    """
    padded = np.pad(roi, 1, constant_values=False)
    outside = np.argwhere(~padded) - 1
    if in_plane:
        outside = outside[outside[:, 2] == voxel[2]]
    return int(np.abs(outside - np.array(voxel)).sum(axis=1).min())


def explicit_distance_zones(levels: np.ndarray, roi: np.ndarray, in_plane: bool) -> Counter[tuple[int, int]]:
    """Return {(grey level, zone distance): zones}, each zone's distance the least of its voxels'."""
    return Counter(
        (grey, min(explicit_edge_distance(roi, voxel, in_plane) for voxel in zone))
        for grey, zone in explicit_zones(levels, roi, in_plane)
    )


@pytest.mark.parametrize(("tag", "base_tag", "aggregation", "reference", "tolerance"), reference_rows("dzm_"))
def test_gldzm_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    levels, mask = phantom_levels()
    value = gldzm.gldzm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING)[
        base_tag
    ]
    assert matches_reference(value, reference, tolerance), f"{tag}: {value} != {reference}"


def test_gldzm_reference_covers_every_feature_and_aggregation() -> None:
    tags = {row[0] for row in reference_rows("dzm_")}
    assert tags == {f.tag(a) for f in gldzm.FEATURES for a in gldzm.AGGREGATIONS}


@pytest.mark.parametrize("in_plane", [False, True])
def test_gldzm_edge_distance_matches_explicit_nearest_background(in_plane: bool) -> None:
    _, mask = random_volume(4, shape=(8, 7, 5))
    mask[1:7, 1:6, 1:4] = True  # a solid block, so that distances above 2 occur
    found = gldzm.edge_distance(mask, in_plane=in_plane)
    assert found.max() >= 2
    for voxel in voxels(mask):
        assert found[voxel] == explicit_edge_distance(mask, voxel, in_plane), voxel
    assert not found[~mask].any()


@pytest.mark.parametrize("aggregation", gldzm.AGGREGATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gldzm_matches_explicit_zone_distances_on_random_volume(aggregation: str, seed: int) -> None:
    levels, mask = random_volume(seed, shape=(7, 6, 5), n_levels=2)
    in_plane = aggregation != "3D"
    expected = explicit_aggregate(
        mask, aggregation, lambda roi: explicit_distance_zones(levels, roi, in_plane), 2
    )
    found = gldzm.gldzm_features(levels, mask, n_levels=2, aggregation=aggregation, spacing=PHANTOM_SPACING)
    values = family_values(found, gldzm.FEATURES, GLDZM_NAMES)
    assert values == pytest.approx({name: expected[name] for name in GLDZM_NAMES}, rel=1e-12)


@pytest.mark.parametrize("aggregation", gldzm.AGGREGATIONS)
def test_gldzm_constant_roi_is_one_zone_on_the_edge(aggregation: str) -> None:
    levels = np.full((5, 5, 5), 2)
    found = assert_no_warnings(
        gldzm.gldzm_features, levels, levels > 0, n_levels=2, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found["dzm_sde"] == 1.0
    assert found["dzm_zd_var"] == 0.0
    assert found["dzm_zd_entr"] == 0.0
    assert found["dzm_z_perc"] == (1 / 125 if aggregation == "3D" else 1 / 25)


@pytest.mark.parametrize("aggregation", gldzm.AGGREGATIONS)
def test_gldzm_one_voxel_roi_is_one_zone_at_distance_one(aggregation: str) -> None:
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros(levels.shape, dtype=bool)
    mask[1, 1, 1] = True
    found = assert_no_warnings(
        gldzm.gldzm_features, levels, mask, n_levels=2, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found["dzm_lde"] == 1.0
    assert found["dzm_ldhge"] == 4.0
    assert found["dzm_z_perc"] == 1.0


def test_gldzm_empty_roi_gives_nan_without_warnings() -> None:
    levels = np.ones((3, 3, 3), dtype=int)
    mask = np.zeros(levels.shape, dtype=bool)
    for aggregation in gldzm.AGGREGATIONS:
        found = assert_no_warnings(
            gldzm.gldzm_features, levels, mask, n_levels=1, aggregation=aggregation, spacing=PHANTOM_SPACING
        )
        assert all(math.isnan(value) for value in found.values())


@pytest.mark.parametrize("aggregation", gldzm.AGGREGATIONS)
def test_gldzm_unchanged_when_the_image_extends_beyond_the_roi(aggregation: str) -> None:
    levels, mask = phantom_levels()
    wider_levels = np.pad(levels, 2, constant_values=1)
    wider_mask = np.pad(mask, 2, constant_values=False)
    expected = gldzm.gldzm_features(
        levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    found = gldzm.gldzm_features(
        wider_levels, wider_mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found == pytest.approx(expected, rel=1e-12)


def resegmented_cube() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a 3x3x3 ROI cube in a 5x5x5 image and its re-segmentation without the face centre (1, 2, 2).

    Grey levels: 2 at the cube's centre (2, 2, 2), 1 elsewhere. Re-segmentation removes the face centre,
    a voxel on the ROI edge, next to the cube's centre: (levels, morphological mask, intensity mask).
    """
    levels = np.ones((5, 5, 5), dtype=np.int64)
    levels[2, 2, 2] = 2
    morphological = np.zeros(levels.shape, dtype=bool)
    morphological[1:4, 1:4, 1:4] = True
    intensity = morphological.copy()
    intensity[1, 2, 2] = False
    return levels, morphological, intensity


def test_gldzm_measures_distances_in_the_morphological_mask() -> None:
    levels, morphological, intensity = resegmented_cube()
    # zones of the intensity mask: the 25 voxels of level 1 (one 26-connected zone, on the cube's faces,
    # distance 1) and the centre of level 2; in the morphological cube the centre is 2 steps from
    # the background, in the intensity mask 1 step (through the removed face centre)
    with_morphology = Counter({(1, 1): 1, (2, 2): 1})
    intensity_only = Counter({(1, 1): 1, (2, 1): 1})
    n_voxels = int(intensity.sum())
    found = gldzm.gldzm_features(
        levels,
        intensity,
        n_levels=2,
        aggregation="3D",
        spacing=PHANTOM_SPACING,
        morphological_mask=morphological,
    )
    default = gldzm.gldzm_features(levels, intensity, n_levels=2, aggregation="3D", spacing=PHANTOM_SPACING)
    assert gldzm.edge_distance(morphological, in_plane=False)[2, 2, 2] == 2
    assert gldzm.edge_distance(intensity, in_plane=False)[2, 2, 2] == 1
    assert family_values(found, gldzm.FEATURES, GLDZM_NAMES) == pytest.approx(
        {k: v for k, v in explicit_count_features(with_morphology, 2, n_voxels).items() if k in GLDZM_NAMES}
    )
    assert family_values(default, gldzm.FEATURES, GLDZM_NAMES) == pytest.approx(
        {k: v for k, v in explicit_count_features(intensity_only, 2, n_voxels).items() if k in GLDZM_NAMES}
    )
    assert found["dzm_lde"] == 2.5
    assert default["dzm_lde"] == 1.0


def test_gldzm_refuses_a_morphological_mask_not_holding_the_roi() -> None:
    levels, morphological, intensity = resegmented_cube()
    with pytest.raises(ValueError, match="must hold the intensity mask"):
        gldzm.gldzm_features(
            levels,
            morphological,
            n_levels=2,
            aggregation="3D",
            spacing=PHANTOM_SPACING,
            morphological_mask=intensity,
        )
