"""The compiled floating-point passes (lai.radiomics._numeric) against scipy, numpy and sums by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest
from scipy import ndimage

from lai.radiomics import filters, texture

numeric = pytest.importorskip(
    "lai.radiomics.numeric", reason="the C extension lai.radiomics._numeric is not built"
)

MODES = tuple(numeric.PAD_MODES)
T = TypeVar("T")


def both(use_compiled: Callable[[bool], None], run: Callable[[], T]) -> tuple[T, T]:
    """Return ``run()`` with the C passes, then with the numpy/scipy passes."""
    use_compiled(True)
    compiled = run()
    use_compiled(False)
    return compiled, run()


def close(got: np.ndarray, expected: np.ndarray, rtol: float = 1e-12) -> None:
    """Assert agreement to ``rtol`` relative to the largest expected magnitude (sums may cancel)."""
    assert got.shape == expected.shape
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


# --- correlate_axis ---


def test_correlate_axis_by_hand() -> None:
    src = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)
    kernel = np.array([1.0, 2.0, -1.0])
    out = numeric.correlate_axis(src, kernel, 1)
    assert out.shape == (2, 3, 3)
    # out[i, n, k] = src[i, n, k] + 2 src[i, n + 1, k] - src[i, n + 2, k]; along axis 1 a step adds 3
    # so that value is 2 src[i, n, k] + 2 * 3 - 6 = 2 src[i, n, k]
    np.testing.assert_array_equal(out, 2 * src[:, :3, :])
    last = numeric.correlate_axis(src, kernel, 2)
    np.testing.assert_array_equal(last, 2 * src[:, :, :1])  # steps of 1: x + 2 (x + 1) - (x + 2) = 2x
    started = numeric.correlate_axis(src, np.array([0.5]), 0, start=1)
    np.testing.assert_array_equal(started, 0.5 * src[1:])


@pytest.mark.parametrize("shape", [(7, 9, 11), (1, 2, 3), (4, 1, 6)])
@pytest.mark.parametrize("length", [1, 3, 7, 13])
def test_correlate1d_is_scipys_for_every_mode_axis_and_symmetry(
    shape: tuple[int, int, int], length: int
) -> None:
    rng = np.random.default_rng(length * 100 + shape[0])
    values = rng.normal(size=shape) * 50.0
    base = rng.normal(size=length)
    kernels = {"symmetric": base + base[::-1], "antisymmetric": base - base[::-1], "general": base}
    for name, kernel in kernels.items():
        for axis in range(3):
            n = shape[axis]
            for mode in MODES:
                for keep in (slice(None), slice(1, n - 1), slice(n - 1, n), slice(0, 1)):
                    expected = ndimage.correlate1d(values, kernel, axis=axis, mode=mode)
                    expected = expected[(slice(None),) * axis + (keep,)]
                    (got,) = numeric.correlate1d(values, (kernel,), axis, mode, keep)
                    close(got, expected)
                    pair = numeric.correlate1d(values, (kernel, kernel[::-1].copy()), axis, mode, keep)
                    close(pair[0], expected)
                    reverse = ndimage.convolve1d(values, kernel, axis=axis, mode=mode)
                    close(pair[1], reverse[(slice(None),) * axis + (keep,)], rtol=1e-12)
                    assert name  # each kind of kernel ran


def test_correlate1d_scales_and_adds_in_place() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=(6, 8, 9))
    kernel, other = rng.normal(size=5), rng.normal(size=5)
    for axis in range(3):
        base = rng.normal(size=values.shape)
        expected = base + 0.75 * ndimage.correlate1d(values, kernel, axis=axis, mode="reflect")
        target = base.copy()
        (got,) = numeric.correlate1d(values, (kernel,), axis, "reflect", scales=(0.75,), add_to=(target,))
        assert got is target
        close(got, expected)
        plain, scaled = numeric.correlate1d(values, (kernel, other), axis, "wrap", scales=(1.0, -2.0))
        close(plain, ndimage.correlate1d(values, kernel, axis=axis, mode="wrap"))
        close(scaled, -2.0 * ndimage.correlate1d(values, other, axis=axis, mode="wrap"))
    with pytest.raises(ValueError, match="add_to has shape"):
        numeric.correlate1d(values, (kernel,), 0, "reflect", add_to=(np.zeros((2, 2, 2)),))


def test_correlate_axis_rejects_bad_buffers() -> None:
    src = np.zeros((4, 5, 6))
    kernel = np.ones(3)
    with pytest.raises(TypeError, match="src must hold float64"):
        numeric._numeric.correlate_axis(src.astype(np.float32), kernel, 0, np.zeros((2, 5, 6)))
    with pytest.raises(TypeError, match="C-contiguous"):
        numeric._numeric.correlate_axis(src[:, :, ::2], kernel, 0, np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="pad it by the kernel's radius"):
        numeric._numeric.correlate_axis(src, kernel, 0, np.zeros((3, 5, 6)))
    with pytest.raises(ValueError, match="shape except along axis"):
        numeric._numeric.correlate_axis(src, kernel, 0, np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="axis 3 is not an axis"):
        numeric._numeric.correlate_axis(src, kernel, 3, np.zeros((2, 5, 6)))
    with pytest.raises(ValueError, match="one length"):
        numeric._numeric.correlate_axis_pair(
            src, kernel, np.ones(5), 0, np.zeros((2, 5, 6)), np.zeros((2, 5, 6))
        )
    with pytest.raises(ValueError, match="mode must be one of"):
        numeric.correlate1d(src, (kernel,), 0, "mirror")


def test_filters_switch_between_c_and_scipy(use_compiled: Callable[[bool], None]) -> None:
    values = np.random.default_rng(5).normal(size=(9, 10, 11))
    c_path, scipy_path = both(
        use_compiled, lambda: filters.laplacian_of_gaussian(values, (1.0, 1.0, 1.0), 1.0)
    )
    close(c_path, scipy_path)


# --- GLCM features ---


def glcm_stacks(seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | int]]:
    """Sparse symmetric and asymmetric GLCM stacks with zero-padded absent levels, n from 1 to 40."""
    rng = np.random.default_rng(seed)
    stacks: list[tuple[np.ndarray, np.ndarray, np.ndarray | int]] = []
    for n in (1, 2, 5, 17, 40):
        counts = rng.integers(0, 6, size=(13, n, n)) * (rng.random((13, n, n)) < 0.4)
        counts[:, 0, 0] += 1
        grey = np.sort(rng.choice(np.arange(1, 3 * n + 2), size=(13, n)), axis=1)
        if n > 2:  # the last row and column: an absent level, zero-padded
            grey[:, -1], counts[:, -1, :], counts[:, :, -1] = 0, 0, 0
        stacks.append((counts + counts.swapaxes(1, 2), grey, rng.integers(n, 4 * n + 2, size=13)))
        stacks.append((counts, grey[0], 3 * n + 1))
    return stacks


def test_glcm_features_equal_the_numpy_formulas(use_compiled: Callable[[bool], None]) -> None:
    from lai.radiomics.pyradiomics_compat import glcm_matrix_features

    for counts, grey, n_g in glcm_stacks(21):
        compiled, reference = both(
            use_compiled, lambda c=counts, g=grey, n=n_g: glcm_matrix_features(c, g, n)
        )
        assert list(compiled) == list(reference)  # same names, same order
        for name, expected in reference.items():
            close(compiled[name], expected)


def test_glcm_mcc_equals_pyradiomics_eigenvalues() -> None:
    # PyRadiomics' definition: Q = sum_k p(i, k) p(j, k) / (p_x(i) p_y(k)), MCC = sqrt of Q's second largest
    # eigenvalue (numpy's general eigenvalue solver here; absent levels removed as PyRadiomics does)
    rng = np.random.default_rng(4)
    for trial in range(60):
        n = int(rng.integers(2, 36))
        counts = rng.integers(0, 9, size=(4, n, n)) * (rng.random((4, n, n)) < rng.uniform(0.1, 0.9))
        if trial % 2:
            counts = counts + counts.swapaxes(1, 2)
        counts[:, 0, 0] += 1
        got = numeric.glcm_mcc(counts)
        for matrix, value in zip(counts, got, strict=True):
            rows, columns = matrix.sum(axis=1) > 0, matrix.sum(axis=0) > 0
            p = matrix[rows][:, columns] / matrix.sum()
            px, py = p.sum(axis=1), p.sum(axis=0)
            q = (p / px[:, None] / py[None, :]) @ p.T
            eigenvalues = np.sort(np.linalg.eigvals(q).real)
            expected = np.sqrt(max(eigenvalues[-2], 0.0)) if len(eigenvalues) > 1 else 0.0
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-7)  # sqrt of eigenvalues ~1e-16 is ~1e-8
    # every matrix of a stack, also zero-padded: the same values as one at a time
    padded = np.zeros((3, 12, 12))
    padded[:, :9, :9] = rng.integers(0, 5, size=(3, 9, 9))
    padded[:, 0, 0] += 1
    one_by_one = [numeric.glcm_mcc(matrix[None, :9, :9])[0] for matrix in padded]
    np.testing.assert_array_equal(numeric.glcm_mcc(padded), one_by_one)


def test_count_features_equal_the_numpy_formulas(use_compiled: Callable[[bool], None]) -> None:
    rng = np.random.default_rng(12)
    for g, v in ((1, 1), (3, 7), (32, 40)):
        matrix = rng.integers(0, 9, size=(6, g, v)) * (rng.random((6, g, v)) < 0.3)
        matrix[0] = 0  # no entity: NaN but Percentage
        values = np.sort(rng.choice(np.arange(1, 500), size=v, replace=False))
        n_voxels = rng.integers(1, 900, size=6)
        n_voxels[1] = 0  # no voxel: Percentage NaN
        compiled, reference = both(
            use_compiled, lambda m=matrix, c=values, n=n_voxels: texture.count_matrix_features(m, c, n)
        )
        assert list(compiled) == list(texture.COUNT_FEATURES) == list(reference)
        for name, expected in reference.items():
            np.testing.assert_array_equal(np.isnan(compiled[name]), np.isnan(expected), err_msg=name)
            kept = ~np.isnan(expected)
            close(compiled[name][kept], expected[kept])


def test_run_length_features_in_c_equal_the_numpy_formulas(use_compiled: Callable[[bool], None]) -> None:
    from lai.radiomics import glrlm

    rng = np.random.default_rng(13)
    stack = rng.integers(0, 30, size=(13, 24, 18)) * (rng.random((13, 24, 18)) < 0.25)
    stack[:, :, 0] += 1
    compiled, reference = both(use_compiled, lambda: glrlm.glrlm_matrix_features(stack))
    assert list(compiled) == list(reference) == [f.base_tag for f in glrlm.FEATURES]
    for name, expected in reference.items():
        close(compiled[name], expected)


def test_count_features_by_hand() -> None:
    # two zones of level 1 and size 1, one zone of level 2 and size 3, in 5 voxels
    table = numeric.count_features(
        np.array([[[2.0, 0.0], [0.0, 1.0]]]), np.array([1.0, 3.0]), np.array([5.0])
    )
    got = dict(zip(texture.COUNT_FEATURES, table[0], strict=True))
    assert got["small_emphasis"] == pytest.approx(2 / 3 + 1 / 3 / 9, rel=1e-15)
    assert got["large_high_grey_emphasis"] == pytest.approx(2 / 3 + 1 / 3 * 4 * 9, rel=1e-15)
    assert got["grey_non_uniformity"] == pytest.approx((4 + 1) / 3, rel=1e-15)
    assert got["percentage"] == 3 / 5
    assert got["count_entropy"] == pytest.approx(
        -(2 / 3) * np.log2(2 / 3) - (1 / 3) * np.log2(1 / 3), rel=1e-15
    )
    assert got["count_variance"] == pytest.approx(
        2 / 3 * (1 - 5 / 3) ** 2 + 1 / 3 * (3 - 5 / 3) ** 2, rel=1e-14
    )
    with pytest.raises(ValueError, match="count values must be positive"):
        numeric.count_features(np.ones((1, 2, 2)), np.array([0.0, 1.0]), np.ones(1))


def test_glcm_mcc_by_hand() -> None:
    # 2 x 2: Q has eigenvalues 1 and det(A)^2, A = D_x^-1/2 P D_y^-1/2, so MCC = |det P| / sqrt(p_x1 p_x2 p_y1 p_y2)
    # [[2, 1], [1, 2]] / 6: det P = 1/9 - 1/36 = 1/12, marginals 1/2: MCC = (1/12) / (1/4) = 1/3;
    # [[1, 2], [0, 1]] / 4: det P = 1/16, p_x = (3/4, 1/4), p_y = (1/4, 3/4): MCC = (1/16) / (3/16) = 1/3
    got = numeric.glcm_mcc(np.array([[[2.0, 1.0], [1.0, 2.0]], [[1.0, 2.0], [0.0, 1.0]]]))
    np.testing.assert_allclose(got, [1 / 3, 1 / 3], rtol=1e-14)
    # two levels never next to each other: two separate blocks, Q has eigenvalue 1 twice; one level: 0
    blocks = np.zeros((1, 4, 4))
    blocks[0, :2, :2], blocks[0, 2:, 2:] = [[2, 1], [1, 2]], [[3, 1], [1, 1]]
    alone = np.zeros((1, 3, 3))
    alone[0, 1, 1] = 5
    assert numeric.glcm_mcc(blocks)[0] == pytest.approx(1.0, rel=1e-14)
    assert numeric.glcm_mcc(alone)[0] == 0.0
    with pytest.raises(ValueError, match=r"counts must have shape \(M, n, n\)"):
        numeric.glcm_mcc(np.ones((2, 3, 4)))


def test_glcm_features_by_hand() -> None:
    # half the pairs (1, 1), half (2, 2): p = diag(0.5, 0.5)
    table = numeric.glcm_features(
        np.array([[[2.0, 0.0], [0.0, 2.0]]]), np.array([[1.0, 2.0]]), np.array([2.0])
    )
    got = dict(zip(numeric.GLCM_FEATURES, table[0], strict=True))
    assert got["Autocorrelation"] == 0.5 * 1 + 0.5 * 4
    assert got["JointAverage"] == 1.5
    assert got["SumAverage"] == 0.5 * 2 + 0.5 * 4
    assert got["Contrast"] == 0.0 and got["DifferenceAverage"] == 0.0
    assert got["Idm"] == 1.0 and got["Id"] == 1.0 and got["InverseVariance"] == 0.0
    assert got["JointEnergy"] == 0.5 and got["MaximumProbability"] == 0.5
    assert got["Correlation"] == pytest.approx((2.5 - 1.5 * 1.5) / 0.25, rel=1e-15)
    assert got["JointEntropy"] == pytest.approx(1.0, rel=1e-14)
    assert got["SumSquares"] == 0.25
    assert got["ClusterTendency"] == pytest.approx(0.5 * 1 + 0.5 * 1, rel=1e-15)  # (2 - 3)^2, (4 - 3)^2
    assert got["ClusterShade"] == 0.0


def test_glcm_features_rejects_bad_levels_and_shapes() -> None:
    counts = np.ones((1, 2, 2))
    with pytest.raises(ValueError, match="whole numbers"):
        numeric.glcm_features(counts, np.array([[1.0, 2.5]]), np.array([2.0]))
    with pytest.raises(ValueError, match="grey must have 2 elements"):
        numeric.glcm_features(counts, np.array([[1.0, 2.0, 3.0]]), np.array([2.0]))
    with pytest.raises(ValueError, match=r"shape \(M, n, n\)"):
        numeric.glcm_features(np.ones((1, 2, 3)), np.array([[1.0, 2.0]]), np.array([2.0]))


# --- First order ---


def test_order_statistics_are_the_sorted_values() -> None:
    rng = np.random.default_rng(31)
    samples = {
        "normal": rng.normal(100.0, 30.0, size=5001),
        "few levels": rng.integers(0, 4, size=3000).astype(float),
        "sorted": np.arange(1000.0),
        "reversed": np.arange(1000.0)[::-1].copy(),
        "equal": np.full(777, 2.5),
        "one": np.array([-1.0]),
        "signed zeros and infinities": np.array([0.0, -0.0, np.inf, -np.inf, 1.0] * 9),
    }
    for name, values in samples.items():
        n = values.size
        for ranks in (np.arange(n), np.unique([0, n - 1]), np.unique(rng.integers(0, n, size=7))):
            got = numeric.order_statistics(values, ranks)
            assert got is not None, name
            np.testing.assert_array_equal(got, np.sort(values)[ranks], err_msg=name)
        assert numeric.order_statistics(values, np.array([], dtype=np.int64)).size == 0
    assert numeric.order_statistics(np.array([1.0, np.nan, 3.0]), np.array([1])) is None
    with pytest.raises(ValueError, match="ranks must increase strictly"):
        numeric.order_statistics(np.arange(5.0), np.array([2, 2]))
    with pytest.raises(ValueError, match=r"ranks must increase strictly within 0\.\.4"):
        numeric.order_statistics(np.arange(5.0), np.array([5]))


def test_binned_order_statistics_are_the_sorted_values() -> None:
    from lai.radiomics.discretisation import discretise_fixed_bin_count, discretise_fixed_bin_width

    rng = np.random.default_rng(33)
    samples = (rng.normal(100.0, 30.0, size=4000), rng.integers(0, 5, size=999) * 0.5, np.full(50, 1.5))
    for values in samples:
        n = values.size
        for keys in (discretise_fixed_bin_count(values, 16), discretise_fixed_bin_width(values, 7.0)):
            for ranks in (np.arange(n), np.unique([0, n - 1]), np.unique(rng.integers(0, n, size=9))):
                got = numeric.order_statistics(values, ranks, keys=keys)
                assert got is not None
                np.testing.assert_array_equal(got, np.sort(values)[ranks])
    nan = numeric.order_statistics(np.array([1.0, np.nan]), np.array([0]), keys=np.array([1, 1]))
    assert nan is None
    values, keys = np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1])
    call = numeric._numeric.binned_order_statistics
    one, zero, none = np.array([1]), np.array([0]), np.array([-1, 0])
    with pytest.raises(ValueError, match="key 2 of value 2 is not a bin"):
        call(values, np.array([0, 1, 2]), none, np.array([2]), one, zero, np.empty(1))
    with pytest.raises(ValueError, match="segment 0 holds 2 values, sizes says 1"):
        call(values, keys, none, np.array([1]), zero, zero, np.empty(1))
    with pytest.raises(ValueError, match="outside the segment"):
        call(values, keys, none, np.array([2]), np.array([2]), zero, np.empty(1))


def test_firstorder_sums_by_hand() -> None:
    sums = numeric.firstorder_sums(np.array([1.0, 2.0, 3.0, 6.0]), 1.0, 2.0, 3.0)
    # mean 3, deviations -2 -1 0 3; shifted values 2 3 4 7; between 2 and 3: 2 and 3 (mean 2.5)
    assert sums == {
        "minimum": 1.0,
        "maximum": 6.0,
        "sum": 12.0,
        "shifted_squares": 4.0 + 9.0 + 16.0 + 49.0,
        "centred_2": 4.0 + 1.0 + 0.0 + 9.0,
        "centred_3": -8.0 - 1.0 + 0.0 + 27.0,
        "centred_4": 16.0 + 1.0 + 0.0 + 81.0,
        "absolute_deviation": 6.0,
        "robust_count": 2.0,
        "robust_sum": 5.0,
        "robust_absolute_deviation": 1.0,
    }
    with pytest.raises(ValueError, match="at least one value"):
        numeric.firstorder_sums(np.array([]), 0.0, 0.0, 1.0)


ORDER_FEATURES = (
    "Minimum",
    "Maximum",
    "Range",
    "10Percentile",
    "90Percentile",
    "Median",
    "InterquartileRange",
)


def test_firstorder_features_equal_the_numpy_path(use_compiled: Callable[[bool], None]) -> None:
    from lai.radiomics.firstorder import firstorder_features

    rng = np.random.default_rng(32)
    for n in (1, 2, 3, 10, 999, 20000):
        for values in (rng.normal(100.0, 30.0, size=n), rng.integers(0, 9, size=n) * 0.1, np.full(n, 7.7)):
            for discretisation in ({"bin_width": 5.0, "shift": 3.0}, {"bin_count": 16}):
                compiled, reference = both(
                    use_compiled,
                    lambda v=values, d=discretisation: firstorder_features(v, voxel_volume=0.7, **d),  # type: ignore[arg-type]
                )
                assert list(compiled) == list(reference)
                for name, expected in reference.items():
                    if name in ORDER_FEATURES:  # exact order statistics and numpy's interpolation
                        assert compiled[name] == expected, name
                    else:  # skewness's third moment cancels: 1e-10 of the value
                        np.testing.assert_allclose(
                            compiled[name], expected, rtol=1e-10, atol=1e-300, err_msg=name
                        )
            if np.ptp(values) == 0:  # a constant region: the centred moments are exactly 0
                assert (
                    compiled["Skewness"]
                    == compiled["Variance"]
                    == compiled["RobustMeanAbsoluteDeviation"]
                    == 0
                )


def test_firstorder_features_with_nan_fall_back_to_numpy() -> None:
    from lai.radiomics.firstorder import firstorder_features

    got = firstorder_features(
        np.array([1.0, np.nan, 2.0, 3.0]), voxel_volume=1.0, bin_count=4, bins=np.ones(4, int)
    )
    assert np.isnan(got["Median"]) and np.isnan(got["10Percentile"]) and np.isnan(got["Mean"])


def test_without_the_extension_the_numpy_passes_run(
    monkeypatch: pytest.MonkeyPatch, use_compiled: Callable[[bool], None]
) -> None:
    import sys

    import lai.radiomics
    from lai.radiomics.firstorder import firstorder_features

    use_compiled(True)
    values = np.random.default_rng(41).normal(50.0, 10.0, size=300)
    with_c = firstorder_features(values, voxel_volume=1.0, bin_count=8)
    # an extension that was not built: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "lai.radiomics._numeric", None)
    monkeypatch.setitem(sys.modules, "lai.radiomics.numeric", None)
    monkeypatch.delattr(lai.radiomics, "numeric")
    try:
        assert texture.compiled_numeric() is None
        without = firstorder_features(values, voxel_volume=1.0, bin_count=8)
    finally:
        monkeypatch.undo()
        use_compiled(True)
    assert without["Median"] == with_c["Median"]
    np.testing.assert_allclose(without["Kurtosis"], with_c["Kurtosis"], rtol=1e-12)


# --- NGTDM sums and grey level x count matrices ---


@pytest.mark.parametrize("aggregation", ["3D", "2_5D", "2D"])
def test_ngtdm_matrix_from_c_equals_the_numpy_bincounts_bit_for_bit(
    use_compiled: Callable[[bool], None], aggregation: str
) -> None:
    from lai.radiomics import ngtdm

    rng = np.random.default_rng(7)
    mask = rng.random((11, 9, 6)) < 0.7
    levels = np.where(mask, rng.integers(1, 9, mask.shape), 0)
    compiled, reference = both(
        use_compiled, lambda: ngtdm.ngtdm_matrix(levels, mask, n_levels=8, aggregation=aggregation)
    )
    for got, expected in zip(compiled, reference, strict=True):
        assert got.shape == expected.shape and np.array_equal(got, expected)


def test_ngtdm_accumulate_leaves_out_voxels_without_neighbours_and_refuses_levels_out_of_range() -> None:
    s, n = numeric.ngtdm_accumulate(
        np.array([1, 2, 2, 3]), np.array([4, 3, 0, 6]), np.array([2, 3, 0, 4]), None, 3, 1
    )
    # level 1: |1 - 4/2| = 1; level 2: |2 - 1| = 1 (the second voxel has no neighbour); level 3: |3 - 1.5|
    assert s.tolist() == [[1.0, 1.0, 1.5]] and n.tolist() == [[1.0, 1.0, 1.0]]
    with pytest.raises(ValueError, match="outside"):
        numeric.ngtdm_accumulate(np.array([4]), np.array([1]), np.array([1]), None, 3, 1)


def test_count_matrix_from_c_equals_texture_count_matrices() -> None:
    rng = np.random.default_rng(8)
    grey = rng.integers(1, 7, 500)
    counts = rng.integers(1, 28, 500)
    counts[counts == 13] = 14  # a count that never occurs gets no column
    matrix, values = numeric.count_matrix(grey, counts, 6)
    expected, expected_values = texture.count_matrices(np.zeros_like(grey), grey, counts, 1, 6)
    assert np.array_equal(values, expected_values) and 13 not in values
    assert np.array_equal(matrix, expected[0])
    with pytest.raises(ValueError, match="outside"):
        numeric.count_matrix(np.array([7]), np.array([1]), 6)
