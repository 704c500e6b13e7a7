"""GLSZM (IBSI 1 section 3.8) against the IBSI digital phantom, a slow explicit zone count and PyRadiomics.

Also holds the helpers the NGTDM, NGLDM and GLDZM tests share: the phantom, the IBSI comparison, an explicit
(loop-by-loop) evaluation of the count-matrix formulas GLSZM, GLDZM and NGLDM have in common, and the
PyRadiomics brain1 case with its baselines.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.imaging import load_image
from lai.radiomics import glszm
from lai.radiomics.discretisation import discretise_fixed_bin_width

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IBSI = SHARED / "ibsi"
PYRADIOMICS = SHARED / "pyradiomics"
PYRADIOMICS_CASES = [("brain1", "3D"), ("brain1_2d", "2_5D")]
"""PyRadiomics baseline columns and the aggregation that reproduces them (force2D merges the slices)."""
SPACING = (2.0, 2.0, 2.0)


# --- Shared helpers (GLDZM and NGLDM tests import these) ---


def phantom() -> tuple[np.ndarray, np.ndarray]:
    """Return the IBSI digital phantom's grey levels and ROI mask, axes (i, j, k)."""
    levels = load_image(IBSI / "digital_phantom" / "phantom.nii.gz").array.astype(np.int64)
    mask = load_image(IBSI / "digital_phantom" / "mask.nii.gz").array > 0
    return levels, mask


def reference_rows(prefix: str) -> list[tuple[str, str, str, float, float]]:
    """Return (tag, base tag, aggregation, reference value, tolerance) of the IBSI tags starting with prefix."""
    table = pd.read_csv(IBSI / "reference_digital_phantom.csv")
    table = table[table["base_tag"].str.startswith(prefix) & table["reference_value"].notna()]
    return [
        (row.tag, row.base_tag, row.aggregation, float(row.reference_value), float(row.tolerance))
        for row in table.itertuples()
    ]


def pyradiomics_brain1() -> tuple[np.ndarray, np.ndarray]:
    """Return PyRadiomics' brain1 test case discretised as its baseline was (bin width 25), and its label."""
    image = load_image(PYRADIOMICS / "brain1_image.nrrd").array
    mask = load_image(PYRADIOMICS / "brain1_label.nrrd").array == 1
    levels = np.zeros(image.shape, dtype=np.int64)
    levels[mask] = discretise_fixed_bin_width(image[mask], 25)
    return levels, mask


def pyradiomics_baseline(family: str, case: str) -> dict[str, float]:
    """Return {PyRadiomics feature name: baseline value} of one family and case column."""
    table = pd.read_csv(PYRADIOMICS / "baseline" / f"baseline_{family}.csv").set_index("featureName")
    prefix = f"original_{family}_"
    return {
        name[len(prefix) :]: float(value) for name, value in table[case].items() if name.startswith(prefix)
    }


def matches_ibsi(value: float, reference: float, tolerance: float) -> bool:
    """Return whether value equals reference after rounding to 3 significant figures, or within the tolerance.

    The tolerance is the listed one, or a relative 5e-3 where the list gives 0 (the data README's rule).
    """
    rounded = float(f"{value:.3g}")
    allowed = tolerance if tolerance > 0 else 5e-3 * abs(reference)
    return rounded == reference or math.isclose(value, reference, rel_tol=0, abs_tol=allowed)


def random_volume(
    seed: int, shape: tuple[int, int, int] = (6, 5, 4), n_levels: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Return random grey levels 1..n_levels and a random ROI holding most voxels."""
    rng = np.random.default_rng(seed)
    levels = rng.integers(1, n_levels + 1, size=shape)
    mask = rng.random(shape) < 0.8
    return levels, mask


def offsets(in_plane: bool) -> list[tuple[int, int, int]]:
    """Return the Chebyshev-distance-1 neighbour offsets: 26 in 3D, or the 8 of the (i, j) plane."""
    ks = (0,) if in_plane else (-1, 0, 1)
    return [(a, b, c) for a, b, c in product((-1, 0, 1), (-1, 0, 1), ks) if (a, b, c) != (0, 0, 0)]


def voxels(mask: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """Yield the ROI voxel indices one by one."""
    for index in zip(*np.nonzero(mask), strict=True):
        yield (int(index[0]), int(index[1]), int(index[2]))


def explicit_zones(
    levels: np.ndarray, mask: np.ndarray, in_plane: bool
) -> list[tuple[int, list[tuple[int, int, int]]]]:
    """Return (grey level, voxel list) of each zone, by flood fill one voxel at a time."""
    seen: set[tuple[int, int, int]] = set()
    found = []
    for start in voxels(mask):
        if start in seen:
            continue
        grey = int(levels[start])
        stack, zone = [start], []
        seen.add(start)
        while stack:
            voxel = stack.pop()
            zone.append(voxel)
            for offset in offsets(in_plane):
                other = (voxel[0] + offset[0], voxel[1] + offset[1], voxel[2] + offset[2])
                inside = all(0 <= other[d] < mask.shape[d] for d in range(3))
                if inside and other not in seen and mask[other] and levels[other] == grey:
                    seen.add(other)
                    stack.append(other)
        found.append((grey, zone))
    return found


def explicit_count_features(
    counts: Counter[tuple[int, int]], n_levels: int, n_voxels: int
) -> dict[str, float]:
    """Return the count-matrix features of {(grey level i, count j): number} evaluated term by term."""
    total = sum(counts.values())
    p = {key: value / total for key, value in counts.items()}
    row = Counter[int]()
    column = Counter[int]()
    for (i, j), value in p.items():
        row[i] += value
        column[j] += value
    mu_i = sum(i * value for (i, _), value in p.items())
    mu_j = sum(j * value for (_, j), value in p.items())
    assert max(i for i, _ in p) <= n_levels
    return {
        "small_emphasis": sum(value / j**2 for (_, j), value in p.items()),
        "large_emphasis": sum(value * j**2 for (_, j), value in p.items()),
        "low_grey_emphasis": sum(value / i**2 for (i, _), value in p.items()),
        "high_grey_emphasis": sum(value * i**2 for (i, _), value in p.items()),
        "small_low_grey_emphasis": sum(value / (i**2 * j**2) for (i, j), value in p.items()),
        "small_high_grey_emphasis": sum(value * i**2 / j**2 for (i, j), value in p.items()),
        "large_low_grey_emphasis": sum(value * j**2 / i**2 for (i, j), value in p.items()),
        "large_high_grey_emphasis": sum(value * i**2 * j**2 for (i, j), value in p.items()),
        "grey_non_uniformity": sum((value * total) ** 2 for value in row.values()) / total,
        "grey_non_uniformity_norm": sum(value**2 for value in row.values()),
        "count_non_uniformity": sum((value * total) ** 2 for value in column.values()) / total,
        "count_non_uniformity_norm": sum(value**2 for value in column.values()),
        "percentage": total / n_voxels,
        "grey_variance": sum((i - mu_i) ** 2 * value for (i, _), value in p.items()),
        "count_variance": sum((j - mu_j) ** 2 * value for (_, j), value in p.items()),
        "count_entropy": -sum(value * math.log2(value) for value in p.values()),
        "count_energy": sum(value**2 for value in p.values()),
    }


def explicit_aggregate(
    mask: np.ndarray,
    aggregation: str,
    counts_of: Callable[[np.ndarray], Counter[tuple[int, int]]],
    n_levels: int,
) -> dict[str, float]:
    """Return the explicit count features for an aggregation, ``counts_of(roi)`` giving one ROI's matrix.

    2D averages the slices' features, 2.5D adds the slices' matrices, 3D uses the whole ROI at once.
    """
    if aggregation == "3D":
        return explicit_count_features(counts_of(mask), n_levels, int(mask.sum()))
    per_slice = []
    merged: Counter[tuple[int, int]] = Counter()
    for k in range(mask.shape[2]):
        roi = np.zeros_like(mask)
        roi[:, :, k] = mask[:, :, k]
        if roi.any():
            counts = counts_of(roi)
            merged.update(counts)
            per_slice.append(explicit_count_features(counts, n_levels, int(roi.sum())))
    if aggregation == "2_5D":
        return explicit_count_features(merged, n_levels, int(mask.sum()))
    return {name: float(np.mean([features[name] for features in per_slice])) for name in per_slice[0]}


def family_values(
    features: dict[str, float], definitions: tuple[object, ...], names: tuple[str, ...]
) -> dict[str, float]:
    """Return {count-feature name: value} of a family's output, pairing its FEATURES with the names in order."""
    return {name: features[definition.base_tag] for definition, name in zip(definitions, names, strict=True)}  # type: ignore[attr-defined]


def strict_call(
    function: Callable[..., dict[str, float]], *args: object, **kwargs: object
) -> dict[str, float]:
    """Call a feature function with every warning (numpy's RuntimeWarning included) turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


# --- GLSZM ---

GLSZM_NAMES = glszm.COUNT_FEATURES[:16]


@pytest.mark.parametrize(("tag", "base_tag", "aggregation", "reference", "tolerance"), reference_rows("szm_"))
def test_glszm_matches_ibsi_digital_phantom(
    tag: str, base_tag: str, aggregation: str, reference: float, tolerance: float
) -> None:
    levels, mask = phantom()
    value = glszm.glszm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=SPACING)[base_tag]
    assert matches_ibsi(value, reference, tolerance), f"{tag}: {value} != {reference}"


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
    found = glszm.glszm_features(levels, mask, n_levels=4, aggregation=aggregation, spacing=SPACING)
    values = family_values(found, glszm.FEATURES, GLSZM_NAMES)
    for name in GLSZM_NAMES:
        assert values[name] == pytest.approx(expected[name], rel=1e-12), name


@pytest.mark.parametrize("aggregation", glszm.AGGREGATIONS)
def test_glszm_constant_roi_is_one_zone(aggregation: str) -> None:
    levels = np.full((4, 3, 2), 2)
    mask = np.ones(levels.shape, dtype=bool)
    found = strict_call(
        glszm.glszm_features, levels, mask, n_levels=3, aggregation=aggregation, spacing=SPACING
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
    found = strict_call(
        glszm.glszm_features, levels, mask, n_levels=3, aggregation=aggregation, spacing=SPACING
    )
    assert found["szm_sze"] == 1.0
    assert found["szm_lzhge"] == 9.0
    assert found["szm_z_perc"] == 1.0


def test_glszm_empty_roi_gives_nan_without_warnings() -> None:
    levels = np.ones((3, 3, 3), dtype=int)
    mask = np.zeros(levels.shape, dtype=bool)
    for aggregation in glszm.AGGREGATIONS:
        found = strict_call(
            glszm.glszm_features, levels, mask, n_levels=1, aggregation=aggregation, spacing=SPACING
        )
        assert all(math.isnan(value) for value in found.values())


def test_glszm_refuses_grey_levels_outside_range() -> None:
    levels = np.array([[[1, 7]]])
    with pytest.raises(ValueError, match=r"1\.\.6"):
        glszm.glszm_features(levels, levels > 0, n_levels=6, aggregation="3D", spacing=SPACING)


@pytest.mark.parametrize("aggregation", glszm.AGGREGATIONS)
def test_glszm_unchanged_when_the_image_extends_beyond_the_roi(aggregation: str) -> None:
    levels, mask = phantom()
    wider_levels = np.pad(levels, 2, constant_values=1)
    wider_mask = np.pad(mask, 2, constant_values=False)
    expected = glszm.glszm_features(levels, mask, n_levels=6, aggregation=aggregation, spacing=SPACING)
    found = glszm.glszm_features(
        wider_levels, wider_mask, n_levels=6, aggregation=aggregation, spacing=SPACING
    )
    assert found == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("case", "aggregation"), PYRADIOMICS_CASES)
def test_glszm_matches_pyradiomics_baseline_where_names_are_given(case: str, aggregation: str) -> None:
    levels, mask = pyradiomics_brain1()
    found = glszm.glszm_features(
        levels, mask, n_levels=int(levels.max()), aggregation=aggregation, spacing=SPACING
    )
    baseline = pyradiomics_baseline("glszm", case)
    named = [f for f in glszm.FEATURES if f.pyradiomics]
    assert len(named) == 16
    for feature in named:
        assert found[feature.base_tag] == pytest.approx(baseline[feature.pyradiomics], rel=1e-9), (
            feature.base_tag
        )
