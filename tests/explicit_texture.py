"""Loop-by-loop evaluations of the texture matrices, against which the vectorised families are tested.

Slow on purpose: zones by flood fill one voxel at a time, neighbours one offset at a time, and the
count-matrix formulas the GLSZM, GLDZM and NGLDM share evaluated term by term.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import product

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition


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
    features: dict[str, float], definitions: tuple[FeatureDefinition, ...], names: tuple[str, ...]
) -> dict[str, float]:
    """Return {count-feature name: value} of a family's output, pairing its FEATURES with the names in order."""
    return {name: features[definition.base_tag] for definition, name in zip(definitions, names, strict=True)}
