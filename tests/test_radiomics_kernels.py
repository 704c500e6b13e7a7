"""The compiled (numba) counting kernels give the numpy passes' integers exactly, and counts checked by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from lai.radiomics import glrlm, texture
from lai.radiomics.pyradiomics_compat import cooccurrence_counts, glcm_angles

pytest.importorskip("numba")


@pytest.fixture
def use_numba(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    """Switch between the compiled kernels and the numpy passes (``LAI_RADIOMICS_NUMBA``)."""

    def switch(on: bool) -> None:
        monkeypatch.setenv("LAI_RADIOMICS_NUMBA", "1" if on else "0")
        texture.compiled.cache_clear()

    yield switch
    texture.compiled.cache_clear()


def random_roi(seed: int, shape: tuple[int, int, int], n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (levels 1..n_levels in a blobby ROI, 0 outside; ROI mask) of ``shape``."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.75
    mask[0] = False  # a box smaller than the array
    levels = np.where(mask, rng.integers(1, n_levels + 1, size=shape), 0)
    # smooth patches so that runs and zones longer than one voxel occur
    levels[2:5, 1:4, :] = np.where(mask[2:5, 1:4, :], 2, 0)
    return levels, mask


CASES = [(seed, shape, n) for seed, shape, n in [(0, (9, 8, 7), 3), (1, (12, 6, 5), 8), (2, (5, 11, 9), 2)]]


def both(use_numba: Callable[[bool], None], run: Callable[[], Any]) -> tuple[Any, Any]:
    use_numba(True)
    assert texture.compiled() is not None
    compiled = run()
    use_numba(False)
    assert texture.compiled() is None
    return compiled, run()


@pytest.mark.parametrize(("seed", "shape", "n_levels"), CASES)
def test_counts_match_the_numpy_passes(
    use_numba: Callable[[bool], None], seed: int, shape: tuple[int, int, int], n_levels: int
) -> None:
    levels, mask = random_roi(seed, shape, n_levels)
    for in_plane in (False, True):
        for distances in ([1], [1, 2]):
            offsets = glcm_angles(distances, in_plane)
            a, b = both(
                use_numba,
                lambda offsets=offsets: cooccurrence_counts(
                    levels, mask, offsets, n_levels=n_levels, symmetrical=True
                ),
            )
            np.testing.assert_array_equal(a, b)
        for distance in (1, 2):
            for alpha in (0, 1):
                a, b = both(
                    use_numba,
                    lambda d=distance, al=alpha, p=in_plane: texture.dependence_counts(
                        levels, mask, alpha=al, distance=d, in_plane=p
                    )[mask],
                )
                np.testing.assert_array_equal(a, b)
            a, b = both(
                use_numba,
                lambda d=distance, p=in_plane: texture.neighbourhood_sums(
                    levels, mask, distance=d, in_plane=p
                ),
            )
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
        a, b = both(use_numba, lambda p=in_plane: texture.zone_table(levels, mask, in_plane=p))
        # zones may be numbered differently: compare the multiset of (grey, size[, slice]); a 3D zone
        # spans slices, its slice index is used only in plane
        kept = 3 if in_plane else 2
        assert sorted(zip(*a[:kept], strict=True)) == sorted(zip(*b[:kept], strict=True))
    for dims in (2, 3):
        a, b = both(
            use_numba, lambda d=dims: glrlm.run_length_matrices(levels, mask, n_levels=n_levels, dims=d)
        )
        np.testing.assert_array_equal(a, b)
    a, b = both(use_numba, lambda: texture.roi_levels(levels, mask, n_levels))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # already cropped (and a level outside the ROI to be zeroed)
    dirty = b[0].copy()
    dirty[~b[1]] = 1
    for cropped in (b[0], dirty):
        a, c = both(use_numba, lambda cropped=cropped: texture.roi_levels(cropped, b[1], n_levels))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(c[0], b[0])
    with pytest.raises(ValueError, match=f"integers in 1..{n_levels - 1}"):
        use_numba(True)
        texture.roi_levels(levels, mask, n_levels - 1)


def test_zone_labels_partition_the_roi_like_the_numpy_pass(use_numba: Callable[[bool], None]) -> None:
    levels, mask = random_roi(3, (10, 9, 8), 3)
    for in_plane in (False, True):
        a, b = both(use_numba, lambda p=in_plane: texture.zones(levels, mask, in_plane=p))
        pairs = set(zip(a[0][mask].tolist(), b[0][mask].tolist(), strict=True))
        # one-to-one correspondence of labels, and the same grey level per zone
        assert (
            len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs}) == a[1].size == b[1].size
        )
        assert all(a[1][x - 1] == b[1][y - 1] for x, y in pairs)


def test_zone_table_by_hand(use_numba: Callable[[bool], None]) -> None:
    use_numba(True)
    levels = np.zeros((4, 4, 2), dtype=np.int64)
    levels[0, 0, 0] = levels[1, 1, 1] = 1  # diagonal neighbours: one zone in 3D, two in plane
    levels[3, 3, 0] = levels[3, 2, 0] = levels[3, 1, 0] = 2  # a row of three
    levels[0, 3, 1] = 2  # alone
    mask = levels > 0
    grey, sizes, slices = texture.zone_table(levels, mask, in_plane=False)
    assert sorted(zip(grey.tolist(), sizes.tolist(), strict=True)) == [(1, 2), (2, 1), (2, 3)]
    grey, sizes, slices = texture.zone_table(levels, mask, in_plane=True)
    assert sorted(zip(grey.tolist(), sizes.tolist(), slices.tolist(), strict=True)) == [
        (1, 1, 0),
        (1, 1, 1),
        (2, 1, 1),
        (2, 3, 0),
    ]


def test_runs_and_dependence_by_hand(use_numba: Callable[[bool], None]) -> None:
    use_numba(True)
    levels = np.array([[[1], [1], [2], [2], [2]]])  # one line along j: runs 1x2, 2x3
    mask = levels > 0
    runs = glrlm.run_length_matrices(levels, mask, n_levels=2, dims=2)
    along_j = runs[0, [tuple(o) for o in texture.directions(2).tolist()].index((0, 1, 0))]
    np.testing.assert_array_equal(along_j, [[0, 1, 0], [0, 0, 1]])
    dependence = texture.dependence_counts(levels, mask, alpha=0, distance=1, in_plane=True)[mask]
    np.testing.assert_array_equal(dependence, [2, 2, 2, 3, 2])
    total, count = texture.neighbourhood_sums(levels, mask, distance=1, in_plane=True)
    np.testing.assert_array_equal(total, [1, 3, 3, 4, 2])
    np.testing.assert_array_equal(count, [1, 2, 2, 2, 1])


def test_switched_off_by_the_environment(use_numba: Callable[[bool], None]) -> None:
    use_numba(False)
    assert texture.compiled() is None
    use_numba(True)
    assert texture.compiled() is not None


def test_firstorder_takes_the_callers_discretisation() -> None:
    from lai.radiomics.discretisation import discretise_fixed_bin_count
    from lai.radiomics.firstorder import firstorder_features

    values = np.random.default_rng(4).normal(100.0, 20.0, size=500)
    own = firstorder_features(values, voxel_volume=2.0, bin_count=16)
    given = firstorder_features(
        values, voxel_volume=2.0, bin_count=16, bins=discretise_fixed_bin_count(values, 16)
    )
    assert own == given
    # other bins change Entropy and Uniformity only: the given bins are used
    other = firstorder_features(values, voxel_volume=2.0, bin_count=16, bins=np.ones(500, dtype=np.int64))
    assert abs(other["Entropy"]) < 1e-12 and other["Uniformity"] == 1.0 and other["Mean"] == own["Mean"]
    with pytest.raises(ValueError, match="3 bins for 500 values"):
        firstorder_features(values, voxel_volume=2.0, bin_count=16, bins=np.ones(3, dtype=np.int64))


def test_largest_distance_equals_the_numpy_pass_bit_for_bit(use_numba: Callable[[bool], None]) -> None:
    from lai.radiomics import kernels

    rng = np.random.default_rng(5)
    for trial in range(60):
        n = int(rng.integers(2, 120))
        points = rng.normal(size=(n, 3)) * 10 ** rng.uniform(-2, 3)
        if trial % 2:
            points = np.round(points * 2) / 2 * np.array([0.7, 0.7, 5.0])  # half-voxel mesh vertices
        block = points[:, None, :] - points[None, :, :]
        expected = float(np.einsum("ijk,ijk->ij", block, block).max())
        assert kernels.largest_squared_distance(points, np.array([0]), np.array([n])) == expected
    # by hand: groups are compared only within themselves
    points = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [100.0, 0.0, 0.0], [100.0, 0.0, 2.0]])
    assert kernels.largest_squared_distance(points, np.array([0, 2]), np.array([2, 4])) == 25.0
    assert kernels.largest_squared_distance(points, np.array([0]), np.array([4])) == 100.0**2 + 2.0**2
