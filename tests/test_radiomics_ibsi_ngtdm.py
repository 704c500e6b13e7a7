"""NGTDM (IBSI 1 section 3.10) against the IBSI digital phantom, a slow voxel-by-voxel NGTDM and PyRadiomics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explicit_texture import (
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
from lai.radiomics import ngtdm
from pyradiomics_reference import PYRADIOMICS_CASES, pyradiomics_baseline, pyradiomics_brain1


def explicit_ngtdm(
    levels: np.ndarray, roi: np.ndarray, n_levels: int, in_plane: bool
) -> tuple[list[float], list[int]]:
    """Return (s_i, n_i) for i = 1..n_levels, visiting one voxel and one neighbour at a time."""
    s = [0.0] * n_levels
    n = [0] * n_levels
    for voxel in voxels(roi):
        neighbours = []
        for offset in offsets(in_plane):
            other = tuple(voxel[d] + offset[d] for d in range(3))
            if all(0 <= other[d] < roi.shape[d] for d in range(3)) and roi[other]:
                neighbours.append(int(levels[other]))
        if neighbours:
            grey = int(levels[voxel])
            s[grey - 1] += abs(grey - sum(neighbours) / len(neighbours))
            n[grey - 1] += 1
    return s, n


def explicit_features(s: list[float], n: list[int]) -> dict[str, float]:
    """Return the IBSI NGTDM features of (s_i, n_i), sums written out term by term (NaN where undefined)."""
    n_valid = sum(n)
    p = [count / n_valid for count in n]
    levels = [i for i in range(1, len(n) + 1) if n[i - 1] > 0]
    pairs = [(i, j) for i in levels for j in levels]
    weighted = sum(p[i - 1] * s[i - 1] for i in levels)
    s_total = sum(s)

    def ratio(a: float, b: float) -> float:
        return a / b if b != 0 else math.nan

    n_present = len(levels)
    return {
        "ngt_coarseness": ratio(1.0, weighted),
        "ngt_contrast": ratio(
            sum(p[i - 1] * p[j - 1] * (i - j) ** 2 for i, j in pairs), n_present * (n_present - 1)
        )
        * s_total
        / n_valid,
        "ngt_busyness": ratio(weighted, sum(abs(i * p[i - 1] - j * p[j - 1]) for i, j in pairs)),
        "ngt_complexity": sum(
            abs(i - j) * (p[i - 1] * s[i - 1] + p[j - 1] * s[j - 1]) / (p[i - 1] + p[j - 1]) for i, j in pairs
        )
        / n_valid,
        "ngt_strength": ratio(sum((p[i - 1] + p[j - 1]) * (i - j) ** 2 for i, j in pairs), s_total),
    }


@pytest.mark.parametrize(("tag", "base_tag", "aggregation", "reference", "tolerance"), reference_rows("ngt_"))
def test_ngtdm_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    levels, mask = phantom_levels()
    value = ngtdm.ngtdm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING)[
        base_tag
    ]
    assert matches_reference(value, reference, tolerance), f"{tag}: {value} != {reference}"


def test_ngtdm_reference_covers_every_feature_and_aggregation() -> None:
    tags = {row[0] for row in reference_rows("ngt_")}
    assert tags == {f.tag(a) for f in ngtdm.FEATURES for a in ngtdm.AGGREGATIONS}


@pytest.mark.parametrize("aggregation", ngtdm.AGGREGATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ngtdm_matches_explicit_voxel_loop_on_random_volume(aggregation: str, seed: int) -> None:
    levels, mask = random_volume(seed)
    if aggregation == "3D":
        expected = explicit_features(*explicit_ngtdm(levels, mask, 4, in_plane=False))
    else:
        slices = []
        for k in range(mask.shape[2]):
            roi = np.zeros_like(mask)
            roi[:, :, k] = mask[:, :, k]
            slices.append(explicit_ngtdm(levels, roi, 4, in_plane=True))
        if aggregation == "2_5D":
            s = [sum(values) for values in zip(*(s for s, _ in slices), strict=True)]
            n = [sum(values) for values in zip(*(n for _, n in slices), strict=True)]
            expected = explicit_features(s, n)
        else:
            per_slice = [explicit_features(s, n) for s, n in slices]
            expected = {name: float(np.nanmean([f[name] for f in per_slice])) for name in per_slice[0]}
    found = ngtdm.ngtdm_features(levels, mask, n_levels=4, aggregation=aggregation, spacing=PHANTOM_SPACING)
    assert found == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("aggregation", ngtdm.AGGREGATIONS)
def test_ngtdm_constant_roi_gives_nan_where_denominators_vanish(aggregation: str) -> None:
    levels = np.full((4, 3, 2), 2)
    found = assert_no_warnings(
        ngtdm.ngtdm_features, levels, levels > 0, n_levels=3, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found["ngt_complexity"] == 0.0
    for name in ("ngt_coarseness", "ngt_contrast", "ngt_busyness", "ngt_strength"):
        assert math.isnan(found[name]), name


@pytest.mark.parametrize("aggregation", ngtdm.AGGREGATIONS)
def test_ngtdm_one_voxel_roi_has_no_neighbourhood_and_gives_nan(aggregation: str) -> None:
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros(levels.shape, dtype=bool)
    mask[1, 1, 1] = True
    found = assert_no_warnings(
        ngtdm.ngtdm_features, levels, mask, n_levels=2, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert all(math.isnan(value) for value in found.values())


def test_ngtdm_ignores_grey_levels_outside_the_roi() -> None:
    levels, mask = random_volume(3)
    changed = np.where(mask, levels, 99)
    expected = ngtdm.ngtdm_features(levels, mask, n_levels=4, aggregation="3D", spacing=PHANTOM_SPACING)
    assert (
        ngtdm.ngtdm_features(changed, mask, n_levels=4, aggregation="3D", spacing=PHANTOM_SPACING) == expected
    )


@pytest.mark.parametrize("aggregation", ngtdm.AGGREGATIONS)
def test_ngtdm_unchanged_when_the_image_extends_beyond_the_roi(aggregation: str) -> None:
    levels, mask = phantom_levels()
    wider_levels = np.pad(levels, 2, constant_values=1)
    wider_mask = np.pad(mask, 2, constant_values=False)
    expected = ngtdm.ngtdm_features(
        levels, mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    found = ngtdm.ngtdm_features(
        wider_levels, wider_mask, n_levels=6, aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    assert found == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("case", "aggregation"), PYRADIOMICS_CASES)
def test_ngtdm_matches_pyradiomics_baseline_where_names_are_given(case: str, aggregation: str) -> None:
    levels, mask = pyradiomics_brain1()
    found = ngtdm.ngtdm_features(
        levels, mask, n_levels=int(levels.max()), aggregation=aggregation, spacing=PHANTOM_SPACING
    )
    baseline = pyradiomics_baseline("ngtdm", case)
    named = [f for f in ngtdm.FEATURES if f.pyradiomics]
    assert len(named) == 5
    for feature in named:
        assert found[feature.base_tag] == pytest.approx(baseline[feature.pyradiomics], rel=1e-9), (
            feature.base_tag
        )
