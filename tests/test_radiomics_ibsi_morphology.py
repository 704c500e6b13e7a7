"""IBSI morphological features (lai.radiomics.morphology) against the IBSI 1 digital phantom.

The phantom's mask is both the morphological and the intensity mask. The OMBB and MVEE densities have no
consensus reference value (their tags carry none), so they are checked on shapes whose answer is known.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from ibsi_reference import (
    assert_matches_reference,
    assert_no_warnings,
    phantom,
    reference_tags,
)
from lai.radiomics import morphology


@cache
def phantom_features() -> dict[str, float]:
    image, mask, spacing = phantom()
    return morphology.morphology_features(mask, spacing=spacing, intensities=image)


@pytest.mark.parametrize("tag", reference_tags("morph_"))
def test_morphology_matches_ibsi_digital_phantom(tag: str) -> None:
    assert_matches_reference(tag, phantom_features()[tag])


def test_morphology_covers_the_catalogue_in_ibsi_order() -> None:
    assert list(phantom_features()) == [d.base_tag for d in morphology.FEATURES]
    assert len(morphology.FEATURES) == 29
    assert morphology.AGGREGATIONS == ()


def test_morphology_of_the_phantom_runs_without_warnings() -> None:
    image, mask, spacing = phantom()
    features = assert_no_warnings(morphology.morphology_features, mask, spacing=spacing, intensities=image)
    assert all(math.isfinite(value) for value in features.values())


def test_morphology_of_a_one_voxel_roi_gives_documented_nans_without_warnings() -> None:
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1, 1, 1] = True
    features = assert_no_warnings(
        morphology.morphology_features, mask, spacing=(1.0, 1.0, 1.0), intensities=np.ones((3, 3, 3))
    )
    undefined = {
        "morph_pca_maj_axis",
        "morph_pca_min_axis",
        "morph_pca_least_axis",
        "morph_pca_elongation",
        "morph_pca_flatness",
        "morph_vol_dens_aee",
        "morph_area_dens_aee",
        "morph_moran_i",
        "morph_geary_c",
    }
    assert {tag for tag, value in features.items() if math.isnan(value)} == undefined
    assert features["morph_vol_approx"] == 1.0
    # the mesh of one voxel is the octahedron through its face centres
    assert features["morph_volume"] == pytest.approx(1.0 / 6.0)
    assert features["morph_diam"] == pytest.approx(1.0)


def test_morphology_of_a_constant_roi_has_no_autocorrelation_and_no_shift() -> None:
    _, mask, spacing = phantom()
    features = assert_no_warnings(
        morphology.morphology_features, mask, spacing=spacing, intensities=np.full(mask.shape, 5.0)
    )
    assert math.isnan(features["morph_moran_i"])
    assert math.isnan(features["morph_geary_c"])
    assert features["morph_com"] == pytest.approx(0.0, abs=1e-12)


def test_morphology_without_intensities_gives_nan_intensity_features() -> None:
    _, mask, spacing = phantom()
    features = morphology.morphology_features(mask, spacing=spacing)
    for tag in ("morph_com", "morph_integ_int", "morph_moran_i", "morph_geary_c"):
        assert math.isnan(features[tag])
    assert math.isfinite(features["morph_volume"])


def test_morphology_refuses_an_empty_roi() -> None:
    with pytest.raises(ValueError, match="at least one ROI voxel"):
        morphology.morphology_features(np.zeros((2, 2, 2), bool), spacing=(1.0, 1.0, 1.0))


def test_moran_and_geary_in_blocks_equal_the_dense_pairwise_sums(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image, mask, spacing = phantom()
    positions, values = np.argwhere(mask) * np.array(spacing), image[mask]
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    weights = np.divide(1.0, distance, out=np.zeros_like(distance), where=distance > 0)
    deviation = values - values.mean()
    n, total = len(values), np.sum(deviation**2)
    moran = n / weights.sum() * (deviation @ weights @ deviation) / total
    geary = (n - 1) * np.sum(weights * (values[:, None] - values[None]) ** 2) / (2 * weights.sum() * total)
    monkeypatch.setattr(morphology, "_PAIR_BLOCK", 3 * n)  # blocks of 3 rows
    assert morphology.spatial_autocorrelation(positions, values) == pytest.approx((moran, geary))


def test_mvee_of_an_ellipsoids_extreme_points_is_that_ellipsoid() -> None:
    axes = np.array([5.0, 3.0, 2.0])
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    directions = np.random.default_rng(1).normal(size=(400, 3))
    on_surface = directions / np.linalg.norm(directions, axis=1, keepdims=True) * axes
    points = np.vstack([np.diag(axes), -np.diag(axes), on_surface]) @ rotation.T + 7.0
    semi_axes = morphology.minimum_volume_enclosing_ellipsoid(points, tolerance=1e-6)
    assert semi_axes == pytest.approx(axes, rel=1e-3)


def test_ombb_of_a_rotated_box_is_that_box() -> None:
    edges = np.array([4.0, 2.0, 1.0])
    rotation, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))
    corners = (np.array(np.meshgrid(*[[0, 1]] * 3, indexing="ij")).reshape(3, -1).T * edges) @ rotation.T
    box = morphology.oriented_minimum_bounding_box(ConvexHull(corners))
    assert np.sort(box) == pytest.approx(np.sort(edges))


def test_ellipsoid_area_series_is_exact_for_a_sphere() -> None:
    assert morphology.ellipsoid_area(np.array([2.0, 2.0, 2.0])) == pytest.approx(16.0 * np.pi)
