"""The compiled (C) counting kernels give the numpy passes' integers exactly, counts checked by hand, and
clear errors for buffers they cannot take."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from lai.radiomics import _kernels, glrlm, kernels, shape, texture
from lai.radiomics.pyradiomics_compat import cooccurrence_counts, glcm_angles

Switch = Callable[[bool], None]


def random_roi(seed: int, shape: tuple[int, int, int], n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (levels 1..n_levels in a blobby ROI, 0 outside; ROI mask) of ``shape``."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.75
    mask[0] = False  # a box smaller than the array
    levels = np.where(mask, rng.integers(1, n_levels + 1, size=shape), 0)
    # smooth patches so that runs and zones longer than one voxel occur
    levels[2:5, 1:4, :] = np.where(mask[2:5, 1:4, :], 2, 0)
    return levels, mask


def both(use_compiled: Switch, run: Callable[[], Any]) -> tuple[Any, Any]:
    """Return ``run()`` with the C kernels, then with the numpy passes."""
    use_compiled(True)
    assert texture.compiled() is kernels
    compiled = run()
    use_compiled(False)
    assert texture.compiled() is None
    return compiled, run()


def assert_all_families_match(
    use_compiled: Switch, levels: np.ndarray, mask: np.ndarray, n_levels: int
) -> None:
    """Every kernel's caller gives the same integers with the C kernels and with the numpy passes."""
    for in_plane in (False, True):
        for distances in ([1], [1, 2], [3]):
            offsets = glcm_angles(distances, in_plane)
            a, b = both(
                use_compiled,
                lambda offsets=offsets: cooccurrence_counts(
                    levels, mask, offsets, n_levels=n_levels, symmetrical=False
                ),
            )
            np.testing.assert_array_equal(a, b)
        for distance in (1, 2, 3):
            for alpha in (0, 1, 5):
                a, b = both(
                    use_compiled,
                    lambda d=distance, al=alpha, p=in_plane: texture.dependence_counts(
                        levels, mask, alpha=al, distance=d, in_plane=p
                    )[mask],
                )
                np.testing.assert_array_equal(a, b)
            a, b = both(
                use_compiled,
                lambda d=distance, p=in_plane: texture.neighbourhood_sums(
                    levels, mask, distance=d, in_plane=p
                ),
            )
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
        a, b = both(use_compiled, lambda p=in_plane: texture.zone_table(levels, mask, in_plane=p))
        # zones may be numbered differently: compare the multiset of (grey, size[, slice]); a 3D zone
        # spans slices, its slice index is used only in plane
        kept = 3 if in_plane else 2
        assert sorted(zip(*a[:kept], strict=True)) == sorted(zip(*b[:kept], strict=True))
    for dims in (2, 3):
        a, b = both(
            use_compiled, lambda d=dims: glrlm.run_length_matrices(levels, mask, n_levels=n_levels, dims=d)
        )
        np.testing.assert_array_equal(a, b)
    a, b = both(use_compiled, lambda: texture.roi_levels(levels, mask, n_levels))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


CASES = [(0, (9, 8, 7), 3), (1, (12, 6, 5), 8), (2, (5, 11, 9), 2)]


@pytest.mark.parametrize(("seed", "shape", "n_levels"), CASES)
def test_counts_match_the_numpy_passes(
    use_compiled: Switch, seed: int, shape: tuple[int, int, int], n_levels: int
) -> None:
    levels, mask = random_roi(seed, shape, n_levels)
    assert_all_families_match(use_compiled, levels, mask, n_levels)
    b = texture.roi_levels(levels, mask, n_levels)
    # already cropped (and a level outside the ROI to be zeroed)
    dirty = b[0].copy()
    dirty[~b[1]] = 1
    for cropped in (b[0], dirty):
        a, c = both(use_compiled, lambda cropped=cropped: texture.roi_levels(cropped, b[1], n_levels))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(c[0], b[0])
    with pytest.raises(ValueError, match=f"integers in 1..{n_levels - 1}"):
        use_compiled(True)
        texture.roi_levels(levels, mask, n_levels - 1)


@pytest.mark.parametrize(
    ("name", "shape", "n_levels"),
    [
        ("one slice", (7, 9, 1), 4),
        ("one line", (1, 1, 12), 3),
        ("levels beyond 255 (uint16 arrays)", (6, 7, 5), 300),
    ],
)
def test_edge_shapes_and_level_ranges_match(
    use_compiled: Switch, name: str, shape: tuple[int, int, int], n_levels: int
) -> None:
    levels, mask = random_roi(7, shape, n_levels)
    mask[0] = True  # the whole array may be the ROI's box
    levels = np.where(mask, np.random.default_rng(8).integers(1, n_levels + 1, size=shape), 0)
    levels.flat[0] = n_levels  # the top level occurs
    mask.flat[0] = True
    assert_all_families_match(use_compiled, levels, mask, n_levels)


def test_single_voxel_and_empty_roi(use_compiled: Switch) -> None:
    levels = np.zeros((3, 4, 5), dtype=np.int64)
    levels[1, 2, 3] = 2
    assert_all_families_match(use_compiled, levels, levels > 0, 2)
    use_compiled(True)
    grey, sizes, slices = texture.zone_table(levels, levels > 0, in_plane=True)
    assert (grey.tolist(), sizes.tolist(), slices.tolist()) == ([2], [1], [3])
    total, number = texture.neighbourhood_sums(levels, levels > 0, distance=1, in_plane=False)
    assert (total.tolist(), number.tolist()) == ([0], [0])
    empty = np.zeros((3, 4, 5), dtype=bool)
    cropped, inside = texture.roi_levels(levels, empty, 2)
    assert cropped.shape == inside.shape == (0, 0, 0)
    flat = np.zeros(30, dtype=np.uint8)  # an empty padded ROI
    steps = np.array([1, 6], dtype=np.int64)
    assert kernels.zone_table(flat, steps, 5, 1)[0].size == 0
    assert kernels.zone_labels(flat, steps)[1] == 0
    assert kernels.dependence(flat, steps, 0).size == 0
    assert not kernels.cooccurrence(flat, steps, 3).any()
    assert not kernels.run_lengths(flat, steps, 3, 6, 5, 2).any()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.uint64])
def test_level_arrays_of_any_integer_type(use_compiled: Switch, dtype: type) -> None:
    levels, mask = random_roi(4, (8, 7, 6), 5)
    typed = levels.astype(dtype)
    a, b = both(use_compiled, lambda: texture.roi_levels(typed, mask, 5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    flat, padded_shape = texture.padded_levels(np.where(mask, levels, 0))
    steps = texture.flat_steps(texture.neighbour_offsets(1, False), padded_shape)
    steps = steps[steps > 0]
    typed_flat = flat.astype(dtype)
    np.testing.assert_array_equal(
        kernels.cooccurrence(typed_flat, steps, 5), kernels.cooccurrence(flat, steps, 5)
    )
    np.testing.assert_array_equal(
        kernels.dependence(typed_flat, steps, 1), kernels.dependence(flat, steps, 1)
    )
    for got, expected in zip(
        kernels.zone_table(typed_flat, steps, padded_shape[2], 1),
        kernels.zone_table(flat, steps, padded_shape[2], 1),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)


def test_zone_labels_partition_the_roi_like_the_numpy_pass(use_compiled: Switch) -> None:
    levels, mask = random_roi(3, (10, 9, 8), 3)
    for in_plane in (False, True):
        a, b = both(use_compiled, lambda p=in_plane: texture.zones(levels, mask, in_plane=p))
        pairs = set(zip(a[0][mask].tolist(), b[0][mask].tolist(), strict=True))
        # one-to-one correspondence of labels, and the same grey level per zone
        assert (
            len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs}) == a[1].size == b[1].size
        )
        assert all(a[1][x - 1] == b[1][y - 1] for x, y in pairs)
        assert not a[0][~mask].any()


def test_zone_table_by_hand(use_compiled: Switch) -> None:
    use_compiled(True)
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


def test_zones_are_numbered_by_their_first_element() -> None:
    # a U of level 1 whose arms meet only at the bottom: the right arm starts a zone first seen later
    flat = np.zeros((5, 7), dtype=np.uint8)
    flat[1:4, 1] = flat[1:4, 3] = flat[3, 1:4] = 1
    flat[1, 5] = 2
    steps = np.array([1, 6, 7, 8], dtype=np.int64)  # right, and the row below (padded width 7)
    labels, n_zones = kernels.zone_labels(flat.ravel(), steps)
    assert n_zones == 2
    assert labels.reshape(5, 7)[1, 1] == labels.reshape(5, 7)[1, 3] == labels.reshape(5, 7)[3, 2] == 1
    assert labels.reshape(5, 7)[1, 5] == 2
    grey, sizes, slices = kernels.zone_table(flat.ravel(), steps, 7, 1)
    assert (grey.tolist(), sizes.tolist(), slices.tolist()) == ([1, 2], [7, 1], [0, 4])


def test_runs_and_dependence_by_hand(use_compiled: Switch) -> None:
    use_compiled(True)
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


def test_run_lengths_are_clipped_to_the_bound() -> None:
    flat = np.array([0, 1, 1, 1, 1, 1, 0, 2, 0, 0], dtype=np.uint8)  # runs of 1 x 5 and 2 x 1 along a line
    counts = kernels.run_lengths(flat, np.array([1]), 2, 3, 10, 1).reshape(
        3, 3
    )  # lengths 0..2, 2 = 2 or more
    np.testing.assert_array_equal(counts, [[0, 0, 0], [0, 0, 1], [0, 1, 0]])
    with pytest.raises(ValueError, match="2 <= bound <= 65535"):
        kernels.run_lengths(flat, np.array([1]), 2, 1, 10, 1)


def test_cooccurrence_by_hand() -> None:
    flat = np.array([0, 1, 2, 2, 0, 0], dtype=np.uint8)
    counts = kernels.cooccurrence(flat, np.array([1]), 2).reshape(3, 3)
    # pairs (1, 2), (2, 2), (2, 0): only first voxels in the ROI count
    np.testing.assert_array_equal(counts, [[0, 0, 0], [0, 0, 1], [1, 0, 1]])


def test_switched_by_the_environment(use_compiled: Switch, monkeypatch: pytest.MonkeyPatch) -> None:
    use_compiled(False)
    assert texture.compiled() is None
    use_compiled(True)
    assert texture.compiled() is kernels
    monkeypatch.setenv("LAI_RADIOMICS_KERNELS", "numba")  # gone: warns and keeps c
    texture.compiled.cache_clear()
    with pytest.warns(RuntimeWarning, match="LAI_RADIOMICS_KERNELS='numba' is not one of"):
        assert texture.compiled() is kernels


def test_the_extension_is_built_and_numba_is_not_loaded() -> None:
    code = (
        "import sys; from lai.radiomics import texture; k = texture.compiled();"
        "print(k.__name__, k._kernels.__file__.endswith(('.so', '.pyd')), 'numba' in sys.modules)"
    )
    environment = {name: value for name, value in os.environ.items() if name != "LAI_RADIOMICS_KERNELS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )
    assert out.stdout.split() == ["lai.radiomics.kernels", "True", "False"]


def test_bad_buffers_raise_clear_errors() -> None:
    flat = np.zeros(40, dtype=np.uint8)
    flat[10] = 2
    steps = np.array([1, 5], dtype=np.int64)
    counts = np.zeros((2, 9), dtype=np.int64)
    with pytest.raises(TypeError, match="flat must hold integers, got format 'd'"):
        _kernels.cooccurrence(flat.astype(float), steps, 2, counts)
    with pytest.raises(TypeError, match="flat must be a C-contiguous array"):
        _kernels.cooccurrence(np.zeros(80, dtype=np.uint8)[::2], steps, 2, counts)
    with pytest.raises(TypeError, match="steps must hold int64"):
        _kernels.cooccurrence(flat, steps.astype(np.int32), 2, counts)
    with pytest.raises(TypeError, match="counts must be a C-contiguous, writable array"):
        _kernels.cooccurrence(flat, steps, 2, b"x" * 144)
    with pytest.raises(TypeError, match=r"flat must be a C-contiguous array \(a numpy array\), got list"):
        _kernels.cooccurrence([0, 1, 0], steps, 2, counts)
    with pytest.raises(ValueError, match="counts must have 18 elements, got 8"):
        _kernels.cooccurrence(flat, steps, 2, np.zeros(8, dtype=np.int64))
    with pytest.raises(ValueError, match="levels must be at most n_levels=1, found 2"):
        kernels.cooccurrence(flat, steps, 1)
    with pytest.raises(ValueError, match="levels must be >= 0"):
        kernels.dependence(np.where(flat > 0, -1, 0).astype(np.int8), steps, 0)
    with pytest.raises(ValueError, match="zone_table: steps must be positive, found -1"):
        kernels.zone_table(flat, -steps, 5, 1)
    with pytest.raises(ValueError, match="steps must be non-zero"):
        kernels.dependence(flat, np.array([0]), 0)
    edge = np.zeros(40, dtype=np.uint8)
    edge[37] = 1  # within a step of 5 of the end: not padded
    for run in (
        lambda: kernels.cooccurrence(edge, steps, 2),
        lambda: kernels.run_lengths(edge, steps, 2, 5, 5, 1),
        lambda: kernels.dependence(edge, steps, 0),
        lambda: kernels.zone_labels(edge, steps),
        lambda: kernels.neighbour_sums(edge, steps, 1),
    ):
        with pytest.raises(ValueError, match="padded by background"):
            run()
    big = np.zeros(300, dtype=np.int64)
    big[150] = 2**30
    with pytest.raises(ValueError, match="may overflow the int32 sums"):
        kernels.neighbour_sums(big, np.array([10, 1]), 1)
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 4, 5\)"):
        kernels.roi_bounds(np.zeros((3, 4, 5), dtype=np.int64), np.zeros((3, 4, 6), dtype=bool))
    with pytest.raises(ValueError, match="levels must be 3D"):
        kernels.roi_bounds(np.zeros((3, 4), dtype=np.int64), np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"bounds 0\.\.7 of axis 1 outside 0\.\.4"):
        kernels.cropped_levels(
            np.zeros((3, 4, 5), dtype=np.int64), np.zeros((3, 4, 5), dtype=bool), np.array([0, 1, 0, 7, 0, 1])
        )
    with pytest.raises(TypeError, match="points must hold float64"):
        _kernels.largest_squared_distance(np.zeros((4, 3), dtype=np.int64), np.array([0]), np.array([4]))
    with pytest.raises(ValueError, match=r"group 0 spans rows 0\.\.5 outside 0\.\.4"):
        kernels.largest_squared_distance(np.zeros((4, 3)), np.array([0]), np.array([5]))
    with pytest.raises(ValueError, match=r"points must have shape \(n, 3\)"):
        kernels.largest_squared_distance(np.zeros((4, 2)), np.array([0]), np.array([4]))


def test_kernels_run_in_threads_without_sharing_state() -> None:
    levels, mask = random_roi(9, (30, 30, 20), 16)
    flat, padded_shape = texture.padded_levels(np.where(mask, levels, 0))
    steps = texture.flat_steps(texture.neighbour_offsets(1, False), padded_shape)
    steps = steps[steps > 0]
    expected = kernels.zone_table(flat, steps, padded_shape[2], 1)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: kernels.zone_table(flat, steps, padded_shape[2], 1), range(16)))
    for result in results:
        for got, want in zip(result, expected, strict=True):
            np.testing.assert_array_equal(got, want)


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


def test_largest_distance_equals_the_numpy_pass_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    for trial in range(62):
        n = int(rng.integers(2, 120)) if trial < 60 else 700  # and two hulls of a large lesion's size
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
    assert kernels.largest_squared_distance(points, np.array([0]), np.array([1])) == 0.0
    # other types and layouts are converted
    assert (
        kernels.largest_squared_distance(points[::-1].astype(np.float32), [0], np.array([2], np.int32)) == 4.0
    )


def shape_masks() -> list[np.ndarray]:
    """Masks for the shape kernels: random blobs, thin structures, one voxel, masks filling their box."""
    rng = np.random.default_rng(11)
    masks = [rng.random((9, 8, 7)) < density for density in (0.2, 0.5, 0.8)]
    grid = np.indices((14, 12, 9)).transpose(1, 2, 3, 0)
    for seed in range(3):
        centre, radii = rng.uniform([4, 4, 3], [10, 8, 6]), rng.uniform([2, 2, 1], [6, 5, 4])
        blob = (((grid - centre) / radii) ** 2).sum(axis=-1) <= 1.0
        masks.append(blob & (rng.random(blob.shape) > 0.1 * seed))
    one = np.zeros((3, 3, 3), dtype=bool)
    one[1, 1, 1] = True
    line = np.zeros((6, 5, 4), dtype=bool)
    line[:, 2, 1] = True  # touches two faces of the box
    sheet = np.zeros((5, 6, 4), dtype=bool)
    sheet[1:4, :, 2] = True  # one voxel thick
    diagonal = np.eye(5, dtype=bool)[:, :, None] & np.ones((1, 1, 3), dtype=bool)  # voxels touching by edges
    masks += [one, np.ones((1, 1, 1), dtype=bool), line, sheet, diagonal, np.ones((4, 3, 5), dtype=bool)]
    return masks


SHAPE_AFFINES = [
    np.eye(4),
    np.diag([0.7, 0.7, 5.0, 1.0]),
    np.array([[0.9, 0.2, 0.0, 5.0], [0.0, 1.1, 0.3, -2.0], [0.1, 0.0, 3.0, 1.0], [0.0, 0.0, 0.0, 1.0]]),
    np.array([[0.0, 0.0, 3.0, 0.0], [0.0, -2.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]),
]


def test_cube_triangles_come_from_scikit_image() -> None:
    triangles = shape.cube_triangles()
    assert triangles.shape == (256, 5, 3, 3)
    assert not triangles[0].any() and not triangles[255].any()
    # configuration 1: only corner (0, 0, 0) inside, one triangle through the midpoints of its three edges
    corners = {tuple(corner) for corner in triangles[1, 0]}
    assert corners == {(0.5, 0.0, 0.0), (0.0, 0.5, 0.0), (0.0, 0.0, 0.5)}
    assert not triangles[1, 1:].any()
    # every corner is the midpoint of a cube edge: one coordinate 0.5, the others 0 or 1
    used = triangles[
        np.abs(
            np.cross(triangles[:, :, 1] - triangles[:, :, 0], triangles[:, :, 2] - triangles[:, :, 0])
        ).sum(-1)
        > 0
    ]
    assert used.size and np.all((used == 0.5).sum(axis=-1) == 1) and np.all(np.isin(used, [0.0, 0.5, 1.0]))


@pytest.mark.parametrize("affine", SHAPE_AFFINES, ids=["identity", "anisotropic", "oblique", "permuted"])
def test_mesh_volume_and_area_from_cubes_equal_the_mesh(affine: np.ndarray) -> None:
    for mask in shape_masks():
        counts, origins, *_ = kernels.mesh_cubes(mask)
        volume, area = shape.cube_volume_and_area(counts, origins, affine)
        mesh_volume, mesh_area = shape.volume_and_area(shape.surface_mesh(mask, affine))
        assert volume == pytest.approx(mesh_volume, rel=1e-12, abs=0.0)
        assert area == pytest.approx(mesh_area, rel=1e-12, abs=0.0)


def test_label_bounds_find_the_box_of_a_label_in_any_memory_order() -> None:
    rng = np.random.default_rng(8)
    labels = np.zeros((20, 17, 9), dtype=np.int16)
    labels[3:7, 10:15, 2:3] = 2
    labels[12, 1, 8] = 2
    labels[rng.random(labels.shape) < 0.01] = 5
    region = labels == 2
    expected = texture.roi_box(region)
    for array in (labels, np.asfortranarray(labels), labels[:, ::-1][:, ::-1], labels.astype(np.uint8)):
        assert kernels.label_bounds(array, 2) == (expected, int(region.sum()))
    assert kernels.label_bounds(labels.astype(bool), 1)[1] == int((labels != 0).sum())
    # a label the type cannot hold, a label absent: no voxel
    assert kernels.label_bounds(labels.astype(np.uint8), -2)[1] == 0
    assert kernels.label_bounds(labels, 3) == ((slice(0, 0),) * 3, 0)
    with pytest.raises(ValueError, match="labels must be 3D"):
        kernels.label_bounds(labels[0], 2)


def test_label_box_is_the_grown_box_of_the_label_either_way(use_compiled: Switch) -> None:
    from lai.radiomics.extract import RadiomicsError, label_box

    labels = np.zeros((12, 10, 8), dtype=np.uint8, order="F")
    labels[1:4, 5:9, 6:8] = 3
    for on in (True, False):
        use_compiled(on)
        box, region = label_box(labels, 3, "case 7", margin=2)
        assert box == (slice(0, 6), slice(3, 10), slice(4, 8))  # grown by 2, clipped to the array
        np.testing.assert_array_equal(region, labels[box] == 3)
        with pytest.raises(
            RadiomicsError, match=r"Lesion label 4 has no voxel .*case 7.*labels present: \[3\]"
        ):
            label_box(labels, 4, "case 7")


def test_cube_configurations_in_numpy_equal_the_kernel() -> None:
    checkerboard = np.indices((6, 5, 4)).sum(axis=0) % 2 == 1
    for mask in [*shape_masks(), checkerboard]:
        counts, origins, *_ = kernels.mesh_cubes(mask)
        numpy_counts, numpy_origins = shape.cube_configurations(mask)
        np.testing.assert_array_equal(numpy_counts, counts)
        np.testing.assert_array_equal(numpy_origins, origins)
    # one voxel: 8 cubes, each with that voxel at a different corner, from (-1, -1, -1) to (0, 0, 0)
    counts, origins = shape.cube_configurations(np.ones((1, 1, 1), dtype=bool))
    assert np.flatnonzero(counts).tolist() == [1, 2, 4, 8, 16, 32, 64, 128]
    assert origins[1].tolist() == [0, 0, 0] and origins[128].tolist() == [-1, -1, -1]


def test_pyradiomics_triangles_join_face_diagonals_only_through_corner_0_1_1() -> None:
    classic, joined = shape.cube_triangles(), shape.pyradiomics_cube_triangles()
    assert joined.shape == (256, 5, 3, 3) and not joined.flags.writeable

    def area(triangles: np.ndarray) -> float:
        a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
        return float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2)

    # corners (0, 0, 0) and (0, 1, 1), bits 0 and 3: joined through the cube, the triangulation of the
    # complement (six corners inside) of area 3 sqrt(3) / 4; the classic cases cut off two corners
    assert area(joined[0b1001]) == pytest.approx(3 * math.sqrt(3) / 4, rel=1e-14)
    assert area(classic[0b1001]) == pytest.approx(2 * math.sqrt(3) / 8, rel=1e-14)
    # the other diagonal of that face, (0, 1, 0) and (0, 0, 1), bits 2 and 1, stays split
    assert area(joined[0b0110]) == pytest.approx(2 * math.sqrt(3) / 8, rel=1e-14)
    # every triangle corner of every configuration is the midpoint of a cube edge whose two ends differ,
    # and every such edge carries a corner: the surface crosses exactly the edges it must
    bits = np.arange(8)
    corners = np.stack([bits >> 2 & 1, bits >> 1 & 1, bits & 1], axis=1)
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.abs(corners[a] - corners[b]).sum() == 1]
    for configuration in range(1, 255):
        used = {tuple(point) for point in joined[configuration].reshape(-1, 3) if point.any()}
        crossed = {
            tuple((corners[a] + corners[b]) / 2)
            for a, b in edges
            if (configuration >> a & 1) != (configuration >> b & 1)
        }
        assert used == crossed, configuration


@pytest.mark.parametrize(
    ("voxels", "area", "volume"),
    [
        # PyRadiomics 3.0.1 (radiomics._cshape.calculate_coefficients on these voxels in its (k, j, i) order):
        # 14 cubes cut off one corner (sqrt(3) / 8 each) and the shared cube joins the two voxels (3 sqrt(3) / 4)
        ([(0, 0, 0), (0, 1, 1)], 5 * math.sqrt(3) / 2, 2 / 3),
        # split: two octahedra of area sqrt(3) and volume 1 / 6 each
        ([(0, 0, 0), (1, 1, 0)], 2 * math.sqrt(3), 1 / 3),
        ([(0, 0, 0), (1, 0, 1)], 2 * math.sqrt(3), 1 / 3),
        ([(0, 1, 0), (0, 0, 1)], 2 * math.sqrt(3), 1 / 3),
    ],
)
def test_shape_mesh_of_two_voxels_touching_by_an_edge_is_pyradiomics(
    use_compiled: Switch, voxels: list[tuple[int, int, int]], area: float, volume: float
) -> None:
    mask = np.zeros((3, 4, 3), dtype=bool)
    for voxel in voxels:
        mask[tuple(np.add(voxel, 1))] = True
    for on in (True, False):
        use_compiled(on)
        features = shape.shape_features(mask, np.eye(4))
        assert features["SurfaceArea"] == pytest.approx(area, rel=1e-14)
        assert features["MeshVolume"] == pytest.approx(volume, rel=1e-14)


def test_shape_volume_with_holes_in_the_mesh_does_not_depend_on_where_the_mask_lies(
    use_compiled: Switch,
) -> None:
    # random voxels: many cubes join two voxels on one face and split them in the neighbouring cube, so the
    # mesh has holes and its signed volume depends on where the tetrahedra start (PyRadiomics: one voxel
    # before the mask's box); moving the mask inside the array must not change it
    rng = np.random.default_rng(5)
    blob = rng.random((7, 6, 5)) < 0.5
    counts, _ = shape.cube_configurations(blob)
    assert counts @ shape._cube_terms("pyradiomics")[1] @ np.ones(3) != 0  # the mesh is open
    for on in (True, False):
        use_compiled(on)
        values = set()
        for offset in ((0, 0, 0), (3, 1, 2), (9, 0, 4)):
            array = np.zeros((20, 12, 12), dtype=bool)
            array[offset[0] : offset[0] + 7, offset[1] : offset[1] + 6, offset[2] : offset[2] + 5] = blob
            values.add(shape.shape_features(array, np.diag([0.8, 0.8, 3.0, 1.0]))["MeshVolume"])
        assert len(values) == 1


def test_mesh_volume_and_area_of_one_voxel_by_hand(use_compiled: Switch) -> None:
    # one voxel's surface is the octahedron of the six face midpoints: volume 4/3 * 0.5^3, area 8 triangles
    # of side sqrt(1/2); a 2 mm k spacing doubles the volume and stretches the triangles
    mask = np.ones((1, 1, 1), dtype=bool)
    for on in (True, False):
        use_compiled(on)
        assert shape.mesh_volume_and_area(mask, np.eye(4)) == pytest.approx((1 / 6, math.sqrt(3)), rel=1e-14)
        stretched = shape.mesh_volume_and_area(mask, np.diag([1.0, 1.0, 2.0, 1.0]))
        side_area = math.sqrt(0.5**2 + 0.5**2 + 0.25**2) / 2  # |(-0.5, 0.5, 0) x (-0.5, 0, 1)| / 2 = 0.375
        assert stretched == pytest.approx((1 / 3, 8 * side_area), rel=1e-14)


def test_mesh_vertices_are_the_meshs_vertices() -> None:
    for mask in shape_masks():
        doubled = kernels.mesh_cubes(mask)[3]
        reference = shape.surface_mesh(mask, np.eye(4)).index_vertices
        assert reference is not None and len(doubled) == len(reference)  # each vertex once
        np.testing.assert_array_equal(np.unique(doubled / 2, axis=0), np.unique(reference, axis=0))
    # more vertices than the first guess (a checkerboard has a vertex on every edge): listed all the same
    checkerboard = np.indices((20, 20, 20)).sum(axis=0) % 2 == 1
    doubled = kernels.mesh_cubes(checkerboard)[3]
    assert len(doubled) == 3 * 20 * 20 * 19 + 6 * 20 * 20 // 2 > 4 * 3 * 20 * 20 + 64
    assert len(np.unique(doubled, axis=0)) == len(doubled)


def test_mesh_cubes_read_any_strides_and_sum_the_voxels() -> None:
    rng = np.random.default_rng(13)
    large = rng.random((20, 18, 16)) < 0.5
    for view in (large[3:15, 2:17, 4:11], large[::2, ::-3, 1::2], large.transpose(2, 0, 1)[:, 5:, ::-1]):
        copy = np.ascontiguousarray(view)
        for got, want in zip(kernels.mesh_cubes(view), kernels.mesh_cubes(copy), strict=True):
            np.testing.assert_array_equal(got, want)
        i, j, k = np.nonzero(copy)
        expected = [i.size, i.sum(), j.sum(), k.sum(), i @ i, i @ j, i @ k, j @ j, j @ k, k @ k]
        np.testing.assert_array_equal(kernels.mesh_cubes(view)[2], expected)
    # by hand: one voxel at (2, 0, 1) of a 3 x 1 x 2 mask, eight cubes around it, one per configuration
    mask = np.zeros((3, 1, 2), dtype=bool)
    mask[2, 0, 1] = True
    counts, origins, sums, vertices, ends = kernels.mesh_cubes(mask)
    assert sums.tolist() == [1, 2, 0, 1, 4, 0, 2, 0, 0, 1]
    # its six face midpoints (doubled), by the edge's first voxel in C order: (1, 0, 1), (2, -1, 1),
    # (2, 0, 0), then the voxel itself along i, j and k
    expected = [[3, 0, 2], [4, -1, 2], [4, 0, 1], [5, 0, 2], [4, 1, 2], [4, 0, 3]]
    assert vertices.tolist() == expected
    assert ends.tolist() == [7] * 6  # each alone on its lines
    assert np.flatnonzero(counts).tolist() == [1 << bit for bit in range(8)] and counts.sum() == 8
    # configuration 1 << 7 has the voxel at its corner (1, 1, 1): the cube's origin is the voxel minus one
    assert origins[128].tolist() == [1, -1, 0] and origins[1].tolist() == [2, 0, 1]


def test_diameter_candidates_equal_the_numpy_filters() -> None:
    for mask in shape_masks():
        index = shape.surface_mesh(mask, np.eye(4)).index_vertices
        assert index is not None
        flags = kernels.diameter_candidates(shape._doubled(index))
        np.testing.assert_array_equal(np.flatnonzero(flags & 1), np.sort(shape._hull_candidates(index)))
        axis_ends = shape._axis_ends(index)
        for bit, axis in ((2, 2), (4, 1), (8, 0)):
            u, v = (a for a in range(3) if a != axis)
            on_lines = np.flatnonzero(axis_ends[u] & axis_ends[v])
            plane, first, second = index[on_lines, axis], index[on_lines, u], index[on_lines, v]
            diagonal = shape._ends_of_lines(plane, first + second, first) & shape._ends_of_lines(
                plane, first - second, first
            )
            np.testing.assert_array_equal(np.flatnonzero(flags & bit), on_lines[diagonal])
    # with the ends along the axes from mesh_cubes (its vertices listed in order along every line)
    for mask in shape_masks():
        _, _, _, doubled, axis_ends = kernels.mesh_cubes(mask)
        expected = shape._axis_ends(doubled / 2.0)
        np.testing.assert_array_equal(axis_ends, (expected * np.array([[1], [2], [4]])).sum(axis=0))
        np.testing.assert_array_equal(
            kernels.diameter_candidates(doubled, axis_ends), kernels.diameter_candidates(doubled)
        )
    # by hand: the corners of a square in the plane k = 0 and its centre, which lies between two corners on
    # the diagonal i + j = 2: every corner is a candidate in 3D and in all its planes (alone in its planes
    # of fixed i and j); the centre only in its planes of fixed i and j, where it is alone
    square = np.array([[0, 0, 0], [0, 2, 0], [2, 0, 0], [2, 2, 0], [1, 1, 0]])
    assert kernels.diameter_candidates(square).tolist() == [15, 15, 15, 15, 8 | 4]


@pytest.mark.parametrize("affine", SHAPE_AFFINES, ids=["identity", "anisotropic", "oblique", "permuted"])
def test_shape_features_match_the_mesh_pass(use_compiled: Switch, affine: np.ndarray) -> None:
    for mask in shape_masks():
        compiled, reference = both(use_compiled, lambda mask=mask: shape.shape_features(mask, affine))
        for name, value in reference.items():
            if name in ("MeshVolume", "SurfaceArea", "Sphericity", "SurfaceVolumeRatio"):
                assert compiled[name] == pytest.approx(value, rel=1e-12, abs=0.0), name
            else:  # the same vertices and distances, the same voxel sums: the same bits
                assert compiled[name] == value, name


def test_candidate_diameters_are_the_largest_distances_per_plane() -> None:
    rng = np.random.default_rng(21)
    doubled = rng.integers(-6, 7, size=(300, 3))
    points = doubled * np.array([0.35, 0.4, 2.5]) + rng.normal(0.0, 0.01, size=(300, 3))
    flags = rng.integers(0, 16, size=300).astype(np.uint8)
    got = kernels.candidate_diameters(points, doubled, flags)

    def brute(rows: np.ndarray, axis: int | None) -> float:
        largest = 0.0
        for a in rows:
            for b in rows:
                if axis is None or doubled[a, axis] == doubled[b, axis]:
                    d = points[a] - points[b]
                    largest = max(largest, (d[0] * d[0] + d[2] * d[2]) + d[1] * d[1])
        return largest

    expected = [brute(np.flatnonzero(flags & 1), None)]
    expected += [brute(np.flatnonzero(flags & bit), axis) for bit, axis in ((2, 2), (4, 1), (8, 0))]
    assert got.tolist() == expected
    # no candidate, one candidate: no pair
    assert kernels.candidate_diameters(points[:1], doubled[:1], flags[:1] | 15).tolist() == [0.0] * 4


def test_shape_kernels_refuse_bad_buffers() -> None:
    counts, origins, sums = np.empty(256, np.int64), np.empty(768, np.int64), np.empty(10, np.int64)
    vertices, ends, one = np.empty((64, 3), np.int64), np.empty(64, np.uint8), np.ones((1, 1, 1), dtype=bool)
    with pytest.raises(TypeError, match="mask must hold bool"):
        _kernels.mesh_cubes(np.ones((2, 2, 2), dtype=np.uint8), counts, origins, sums, vertices, ends)
    with pytest.raises(ValueError, match="mask must be 3D"):
        kernels.mesh_cubes(np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="origins must have 768 elements, got 256"):
        _kernels.mesh_cubes(one, counts, counts, sums, vertices, ends)
    with pytest.raises(TypeError, match="sums must be a C-contiguous, writable array"):
        _kernels.mesh_cubes(one, counts, origins, bytes(80), vertices, ends)
    with pytest.raises(ValueError, match=r"vertices must have shape \(n, 3\)"):
        _kernels.mesh_cubes(one, counts, origins, sums, np.empty((6, 2), np.int64), ends)
    with pytest.raises(ValueError, match="ends must have 64 elements, got 63"):
        _kernels.mesh_cubes(one, counts, origins, sums, vertices, ends[:63])
    # too few rows: the number is returned, nothing written beyond the rows
    few = np.full((3, 3), -7, dtype=np.int64)
    assert _kernels.mesh_cubes(one, counts, origins, sums, few[:2], ends[:2]) == 6
    assert few[2].tolist() == [-7, -7, -7]
    points = np.zeros((4, 3), dtype=np.int64)
    with pytest.raises(TypeError, match="flags must hold uint8"):
        _kernels.diameter_candidates(points, np.empty(4, dtype=bool))
    with pytest.raises(ValueError, match="flags must have 4 elements, got 3"):
        _kernels.diameter_candidates(points, np.empty(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="axis_ends must have 4 elements, got 2"):
        kernels.diameter_candidates(points, np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"beyond \+-2\*\*40"):
        kernels.diameter_candidates(points + 2**41)
    with pytest.raises(ValueError, match=r"span 268435456 along axis 1, more than 2\*\*28"):
        kernels.diameter_candidates(np.array([[0, 0, 0], [0, 2**28, 0]]))


def test_shape_features_refuse_an_empty_mask_either_way(use_compiled: Switch) -> None:
    for on in (True, False):
        use_compiled(on)
        with pytest.raises(ValueError, match="the mask holds no voxel"):
            shape.shape_features(np.zeros((3, 4, 5), dtype=bool), np.eye(4))


def test_largest_distance_skips_only_pairs_that_cannot_be_the_largest() -> None:
    def numpy_pass(points: np.ndarray) -> float:
        block = points[:, None, :] - points[None, :, :]
        return float(np.einsum("ijk,ijk->ij", block, block).max())

    rng = np.random.default_rng(14)
    lattice = np.indices((6, 5, 4)).reshape(3, -1).T * np.array([0.7, 0.7, 5.0])  # many equal distances
    direction = rng.normal(size=(500, 3))
    sphere = (
        50.0 * direction / np.linalg.norm(direction, axis=1, keepdims=True)
    )  # every point near the far end
    for points in (lattice, sphere, rng.normal(size=(300, 3)) * [1.0, 30.0, 0.01]):
        for offset in (0.0, 1e4, -3e7):
            shifted = points + offset
            n = np.array([len(shifted)])
            assert kernels.largest_squared_distance(shifted, n * 0, n) == numpy_pass(shifted)
    # groups: each compared within itself, the largest over all of them
    points = np.concatenate([sphere, lattice + 500.0])
    starts, ends = np.array([0, 500]), np.array([500, 620])
    expected = max(numpy_pass(sphere), numpy_pass(lattice + 500.0))
    assert kernels.largest_squared_distance(points, starts, ends) == expected
    # a NaN coordinate: its distances are never the largest, every other pair still counts
    with_nan = np.concatenate([sphere[:100], [[np.nan, 0.0, 0.0]]])
    assert kernels.largest_squared_distance(with_nan, np.array([0]), np.array([101])) == numpy_pass(
        sphere[:100]
    )
