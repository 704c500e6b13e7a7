"""The PyRadiomics compatibility mode against PyRadiomics' own baselines, feature by feature.

Each baseline column's settings come from its ``diagnostics_Configuration_Settings`` row. The plain
``brain1``/``breast1`` columns were written by PyRadiomics 1.3 (binWidth 25, voxelArrayShift 2000); the
variants by PyRadiomics 2.0.1: ``_2d`` (force2D), ``_FBN`` (binCount 64), ``_combined`` (weightingNorm
no_weighting), ``_normalization`` (normalize, scale 100, binWidth 5), ``_resegmentation`` (sigma mode,
[-3, 3]), ``_flatRegion`` (binWidth 5000: one grey level; resegmentRange [0]) and ``_resampling``
(2 x 2 x 2 mm, sitkBSpline, padDistance 5). On these cases neither resegmentation removes a voxel, so
resegmentation itself is checked on small arrays below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pywt
from scipy import ndimage

from lai.imaging import Image, load_image
from lai.radiomics.filters import laplacian_of_gaussian
from lai.radiomics.gldm import dependence_matrix, gldm_features
from lai.radiomics.pyradiomics_compat import (
    PyRadiomicsParamsError,
    glcm_angles,
    glcm_features,
    ngtdm_features,
    pyradiomics_features,
    read_pyradiomics_params,
    resegmented,
)
from pyradiomics_reference import MESH_FEATURES, PYRADIOMICS_3_BRAIN1

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PYRADIOMICS = SHARED / "pyradiomics"
CASES = ("brain1", "breast1")
FEATURE_COUNTS = {"glcm": 24, "gldm": 14, "ngtdm": 5, "glszm": 16, "glrlm": 16, "firstorder": 18}
"""Features per family in the baselines."""
NOT_IN_BASELINE = {"firstorder": {"original_firstorder_StandardDeviation"}}
"""Features LAI returns that the baselines do not hold (StandardDeviation is the square root of Variance)."""
TEXTURE_VARIANTS = ("", "_2d", "_FBN", "_flatRegion", "_normalization", "_resegmentation", "_resampling")
VARIANTS = {
    "glcm": (*TEXTURE_VARIANTS, "_combined"),
    "gldm": TEXTURE_VARIANTS,
    "ngtdm": TEXTURE_VARIANTS,
    "glszm": TEXTURE_VARIANTS,
    "glrlm": (*TEXTURE_VARIANTS, "_combined"),
    "firstorder": ("", "_normalization", "_resegmentation", "_resampling"),
}
"""Baseline columns (suffixes of the case name) compared, per family: every column of the baselines."""


def baseline_column(family: str, column: str) -> tuple[dict[str, float], dict[str, object]]:
    """Return PyRadiomics' expected ``{original_<family>_<Feature>: value}`` and the settings of a column."""
    table = pd.read_csv(PYRADIOMICS / "baseline" / f"baseline_{family}.csv", index_col=0)
    settings = ast.literal_eval(table.loc["diagnostics_Configuration_Settings", column])
    expected = {k: float(v) for k, v in table[column].items() if k.startswith(f"original_{family}_")}
    return expected, settings


def compat_features(case: str, family: str, settings: dict[str, object]) -> dict[str, float]:
    return pyradiomics_features(
        PYRADIOMICS / f"{case}_image.nrrd",
        PYRADIOMICS / f"{case}_label.nrrd",
        {"setting": settings, "featureClass": {family: None}},
    )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    ("family", "variant"),
    [(family, variant) for family, variants in VARIANTS.items() for variant in variants],
)
def test_features_match_pyradiomics_baseline(case: str, family: str, variant: str) -> None:
    expected, settings = baseline_column(family, case + variant)
    found = compat_features(case, family, settings)
    assert len(expected) == FEATURE_COUNTS[family]
    assert set(found) == set(expected) | NOT_IN_BASELINE.get(family, set())
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("column", ["brain1", "breast1", "brain1_resampling", "breast1_resampling"])
def test_shape_matches_pyradiomics_baseline(column: str) -> None:
    expected, settings = baseline_column("shape", column)
    found = compat_features(column.split("_")[0], "shape", settings)
    assert len(expected) == 14
    for name, value in expected.items():
        feature = name.rsplit("_", 1)[1]
        if column == "brain1" and feature in MESH_FEATURES:  # written by an older PyRadiomics' marching cubes
            assert found[name] == pytest.approx(PYRADIOMICS_3_BRAIN1[feature], rel=1e-12), name
            assert found[name] == pytest.approx(value, rel=1e-3), name
        else:
            assert found[name] == pytest.approx(value, rel=1e-6), name


def test_resampled_grid_keeps_an_axis_the_roi_spans_in_one_voxel_and_truncates_integers() -> None:
    i, j, k = np.indices((8, 8, 4))
    image = (5 * i + 40 * j + k).astype(np.int16)
    mask = np.zeros(image.shape, dtype=np.uint8)
    mask[2:6, 3:5, 1] = 1  # one slice thick
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    settings = {"resampledPixelSpacing": [0.5, 2, 1], "interpolator": "sitkLinear", "padDistance": 0}
    found = pyradiomics_features(
        Image(image, affine), Image(mask, affine), {"setting": {**settings, "binWidth": 1}}
    )
    # x at 0.5 mm: the box 2..5 becomes new voxels 3..11 (floor((2 - 0.5) * 2), ceil((6 - 0.5) * 2)) at old
    # index 1.25 + 0.5 m (centres aligned: (0.5 - 1) / 2 + 3 / 2); the mask's nearest voxel is in 2..5 for
    # 1.75 .. 5.25 (8 samples). y at 2 mm: new voxels 1..3 at old index 2.5, 4.5, 6.5; only 2.5 rounds (up)
    # into the mask (row 3). z: one voxel thick, so kept at 2 mm: slice 1.
    x = 1.75 + 0.5 * np.arange(8)
    expected = np.trunc(5 * x + 40 * 2.5 + 1)  # linear in the index: interpolation is exact; cast truncates
    assert expected[0] == 109.0  # 109.75, truncated as SimpleITK casts to the image's int16
    assert found["original_shape_VoxelVolume"] == pytest.approx(8 * 0.5 * 2 * 2)
    assert found["original_firstorder_Mean"] == pytest.approx(expected.mean())


@pytest.mark.parametrize(
    ("interpolator", "ok"), [("sitkBSpline", True), (2, True), ("sitkLanczosWindowedSinc", False)]
)
def test_interpolators_are_pyradiomics_names_or_codes(interpolator: object, ok: bool) -> None:
    if ok:
        read_pyradiomics_params({"setting": {"interpolator": interpolator}})
    else:
        with pytest.raises(PyRadiomicsParamsError, match="interpolator"):
            read_pyradiomics_params({"setting": {"interpolator": interpolator}})


def test_remove_outliers_clips_the_normalised_image_before_the_scale() -> None:
    values = np.zeros((10, 10, 10))
    values[0, 0, 0] = 1000.0  # far beyond 3 standard deviations of the image
    values[5, 5, 5] = 1.0
    mask = np.zeros(values.shape, dtype=np.uint8)
    mask[0, 0, 0] = mask[5, 5, 5] = 1
    mean, sd = values.mean(), values.std(ddof=1)
    params = {"normalize": True, "normalizeScale": 10, "removeOutliers": 3, "binWidth": 1}
    found = pyradiomics_features(
        Image(values, np.eye(4)),
        Image(mask, np.eye(4)),
        {"setting": params, "featureClass": {"firstorder": None}},
    )
    assert found["original_firstorder_Maximum"] == pytest.approx(30.0)
    assert found["original_firstorder_Minimum"] == pytest.approx((1.0 - mean) / sd * 10)


def test_feature_class_lists_select_features() -> None:
    found = pyradiomics_features(
        PYRADIOMICS / "breast1_image.nrrd",
        PYRADIOMICS / "breast1_label.nrrd",
        {"featureClass": {"shape": ["Sphericity"], "gldm": ["DependenceEntropy"]}},
    )
    assert sorted(found) == ["original_gldm_DependenceEntropy", "original_shape_Sphericity"]


def test_force2d_dimension_follows_the_axis_of_pyradiomics_zyx_array() -> None:
    image = load_image(PYRADIOMICS / "breast1_image.nrrd")
    mask = load_image(PYRADIOMICS / "breast1_label.nrrd")
    expected, settings = baseline_column("glcm", "breast1_2d")
    # Swapping LAI's x and z axes makes PyRadiomics' axis 2 (x) the slice axis of the original slices.
    swap = np.eye(4)[[2, 1, 0, 3]]
    swapped = [Image(np.swapaxes(im.array, 0, 2), im.affine @ swap) for im in (image, mask)]
    found = pyradiomics_features(
        *swapped, {"setting": {**settings, "force2Ddimension": 2}, "featureClass": {"glcm": None}}
    )
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


# --- Parameters ---


def test_parameter_file_is_read_with_pyradiomics_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(
        "imageType:\n  Original: {}\nfeatureClass:\n  glcm:\n  gldm: [DependenceEntropy]\n"
        "setting:\n  binCount: 32\n  force2D: true\n  label: 2\n  interpolator: sitkBSpline\n",
        encoding="utf-8",
    )
    params = read_pyradiomics_params(path)
    assert params["featureClass"] == {"glcm": None, "gldm": ["DependenceEntropy"]}
    setting = params["setting"]
    assert [setting[key] for key in ("binWidth", "binCount", "force2D", "label")] == [None, 32, True, 2]
    assert (setting["distances"], setting["gldm_a"], setting["weightingNorm"]) == ([1], 0, None)


def test_parameter_file_path_drives_the_extraction(tmp_path: Path) -> None:
    expected, _ = baseline_column("glcm", "breast1_FBN")
    path = tmp_path / "fbn.yaml"
    path.write_text(
        "# PyRadiomics-style parameter file\nimageType:\n  Original: {}\nfeatureClass:\n  glcm:\n"
        "setting:\n  binCount: 64\n  label: 1\n  interpolator: sitkBSpline\n",
        encoding="utf-8",
    )
    found = pyradiomics_features(PYRADIOMICS / "breast1_image.nrrd", PYRADIOMICS / "breast1_label.nrrd", path)
    assert set(found) == set(expected)
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


def test_original_image_type_settings_override_the_setting_section() -> None:
    params = read_pyradiomics_params(
        {"imageType": {"Original": {"binWidth": 10}}, "setting": {"binWidth": 5}}
    )
    assert params["setting"]["binWidth"] == 10
    assert set(params["featureClass"]) == {"firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}


def test_voxel_based_parameter_section_is_refused_by_name() -> None:
    with pytest.raises(PyRadiomicsParamsError, match="voxelSetting"):
        read_pyradiomics_params({"setting": {}, "voxelSetting": {"kernelRadius": 2}})


@pytest.mark.parametrize("image_type", ["Square", "Gradient", "LBP3D"])
def test_other_filtered_image_types_are_refused_by_name(image_type: str) -> None:
    with pytest.raises(PyRadiomicsParamsError, match=image_type):
        read_pyradiomics_params({"imageType": {"Original": {}, image_type: {}}})


@pytest.mark.parametrize(
    ("image_type", "message"),
    [
        ({"LoG": {}}, "LoG needs sigma"),
        ({"LoG": {"sigma": [1.0, -2.0]}}, "LoG needs sigma"),
        ({"Wavelet": {"wavelet": "db7"}}, "wavelet='db7'"),
        ({"Wavelet": {"level": 2}}, "only level 1"),
        ({"LoG": {"sigma": [1.0], "resampledPixelSpacing": [1, 1, 1]}}, "cannot be set per image type"),
    ],
)
def test_bad_filter_image_types_are_refused(image_type: dict[str, object], message: str) -> None:
    with pytest.raises(PyRadiomicsParamsError, match=message):
        read_pyradiomics_params({"imageType": image_type})


def filter_case() -> tuple[Image, Image]:
    """A smooth random 24 x 20 x 16 image (even sizes, as pywt.swtn needs) and a ball well inside it."""
    rng = np.random.default_rng(3)
    values = ndimage.gaussian_filter(rng.normal(100.0, 20.0, (24, 20, 16)), 1.0)
    i, j, k = np.indices(values.shape)
    mask = ((i - 12) ** 2 + (j - 10) ** 2 + (k - 8) ** 2 <= 16).astype(np.uint8)
    affine = np.diag([1.0, 1.25, 2.0, 1.0])
    return Image(values, affine), Image(mask, affine)


def test_wavelet_image_type_gives_pywt_swtn_sub_bands_inside_the_roi() -> None:
    image, mask = filter_case()
    params = {
        "imageType": {"Wavelet": {"binWidth": 1}},
        "featureClass": {"firstorder": ["Mean", "Maximum"]},
        "setting": {"binWidth": 25},
    }
    found = pyradiomics_features(image, mask, params)
    assert len(found) == 8 * 2 and not any(name.startswith("original_") for name in found)
    # PyRadiomics filters the whole image with pywt.swtn; its keys read a (low) / d (high) per axis
    bands = pywt.swtn(np.asarray(image.array), "coif1", level=1, start_level=0)[0]
    inside = np.asarray(mask.array) > 0
    for key, response in bands.items():
        name = "wavelet-" + key.replace("a", "L").replace("d", "H")
        assert found[f"{name}_firstorder_Mean"] == pytest.approx(response[inside].mean(), rel=1e-9), name
        assert found[f"{name}_firstorder_Maximum"] == pytest.approx(response[inside].max(), rel=1e-9), name


def test_log_image_type_filters_the_whole_image_inside_the_roi_with_pyradiomics_names() -> None:
    image, mask = filter_case()
    params = {
        "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.5]}},
        "featureClass": {"firstorder": ["Median"], "glcm": ["Contrast"]},
    }
    found = pyradiomics_features(image, mask, params)
    assert sorted(found) == sorted(
        f"{prefix}_{name}"
        for prefix in ("original", "log-sigma-1-0-mm-3D", "log-sigma-2-5-mm-3D")
        for name in ("firstorder_Median", "glcm_Contrast")
    )
    inside = np.asarray(mask.array) > 0
    for sigma in (1.0, 2.5):
        whole = laplacian_of_gaussian(image.array, image.spacing, sigma, normalise="pyradiomics")
        name = f"log-sigma-{sigma:g}-0-mm-3D" if sigma == 1.0 else "log-sigma-2-5-mm-3D"
        assert found[f"{name}_firstorder_Median"] == pytest.approx(np.median(whole[inside]), rel=1e-9)


@pytest.mark.parametrize("setting", [{"binCount": 16}, {"binWidth": 0.5, "force2D": True}])
def test_images_computed_together_equal_each_image_alone(setting: dict[str, object]) -> None:
    # the original image and its filter responses share one pass of each family's formulas over their
    # stacked matrices: every value must be that of the response given alone as the original image
    image, mask = filter_case()
    families = {name: None for name in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}
    params = {
        "imageType": {"Original": {}, "LoG": {"sigma": [1.5]}},
        "featureClass": families,
        "setting": setting,
    }
    together = pyradiomics_features(image, mask, params)
    response = laplacian_of_gaussian(image.array, image.spacing, 1.5, normalise="pyradiomics")
    alone = pyradiomics_features(
        Image(response, image.affine), mask, {**params, "imageType": {"Original": {}}}
    )
    original = pyradiomics_features(image, mask, {**params, "imageType": {"Original": {}}})
    assert len(alone) == 24 + 16 + 16 + 14 + 5 + 19
    for name, value in alone.items():
        batched = together[name.replace("original_", "log-sigma-1-5-mm-3D_")]
        assert batched == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name
    for name, value in original.items():
        assert together[name] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"weightingNorm": "euclidean"}, "weightingNorm"),
        ({"binWidth": 25, "binCount": 16}, "binWidth"),
        ({"force2Ddimension": 3}, "force2Ddimension"),
        ({"binwidth": 25}, "binwidth"),
    ],
)
def test_unsupported_or_unknown_settings_are_refused_by_name(setting: dict[str, object], named: str) -> None:
    with pytest.raises(PyRadiomicsParamsError, match=named):
        read_pyradiomics_params({"setting": setting})


@pytest.mark.parametrize(("family", "distances"), [("glrlm", [1, 2]), ("gldm", [2]), ("ngtdm", [1, 3])])
def test_distances_a_family_cannot_follow_are_refused(family: str, distances: list[int]) -> None:
    with pytest.raises(PyRadiomicsParamsError, match=family):
        compat_features("breast1", family, {"distances": distances})


def test_gldm_distances_one_to_two_use_the_radius_two_neighbourhood() -> None:
    levels = np.ones((5, 1, 1), dtype=np.int64)
    near = gldm_features(levels, levels > 0, n_levels=1, in_plane=True)
    far = gldm_features(levels, levels > 0, n_levels=1, distance=2, in_plane=True)
    # A line of 5: dependence (with the centre) 2, 3, 3, 3, 2 at radius 1; 3, 4, 5, 4, 3 at radius 2.
    assert near["LargeDependenceEmphasis"] == pytest.approx((4 + 9 * 3 + 4) / 5)
    assert far["LargeDependenceEmphasis"] == pytest.approx((9 + 16 + 25 + 16 + 9) / 5)


def test_unknown_feature_class_is_refused() -> None:
    with pytest.raises(PyRadiomicsParamsError, match="glcmx"):
        read_pyradiomics_params({"featureClass": {"glcmx": None}})


def test_glcm_angles_are_pyradiomics_offsets_of_each_chebyshev_distance() -> None:
    assert len(glcm_angles([1], in_plane=False)) == 13
    assert len(glcm_angles([1], in_plane=True)) == 4
    # Every offset in the 5x5x5 cube at Chebyshev norm 1 or 2, one of each opposite pair: (125 - 1) / 2.
    assert len(glcm_angles([1, 2], in_plane=False)) == 62


@pytest.mark.parametrize(("symmetrical", "joint_average"), [(True, 1.5), (False, 1.0)])
def test_glcm_counts_pairs_both_ways_only_when_symmetrical(symmetrical: bool, joint_average: float) -> None:
    levels = np.array([1, 2]).reshape(2, 1, 1)  # one pair, along the first axis: (1, 2)
    setting = read_pyradiomics_params({"symmetricalGLCM": symmetrical})["setting"]
    found = glcm_features(levels, levels > 0, setting)
    assert found["JointAverage"] == pytest.approx(joint_average)
    assert found["Contrast"] == pytest.approx(1.0)


# --- GLDM ---


def test_gldm_matrix_counts_each_voxel_by_level_and_dependence_with_the_centre() -> None:
    levels = np.array([[1, 1, 2], [1, 3, 2]])[:, :, None]
    matrix, counts = dependence_matrix(levels, levels > 0, n_levels=3, in_plane=True)
    # Level 1: three mutually adjacent voxels (dependence 3); level 2: two (2); level 3: alone (1).
    assert counts.tolist() == [1, 2, 3]
    assert matrix.tolist() == [[0, 0, 3], [0, 2, 0], [1, 0, 0]]


def test_gldm_alpha_lets_neighbours_within_alpha_depend() -> None:
    levels = np.array([[1, 2], [2, 3]])[:, :, None]
    strict = gldm_features(levels, levels > 0, n_levels=3, in_plane=True)
    loose = gldm_features(levels, levels > 0, n_levels=3, alpha=1, in_plane=True)
    assert strict["SmallDependenceEmphasis"] == pytest.approx((1 + 1 / 4 + 1 / 4 + 1) / 4)
    # With alpha 1 only the corner pair (1, 3) is not dependent: counts 3, 4, 4, 3.
    assert loose["LargeDependenceEmphasis"] == pytest.approx((9 + 16 + 16 + 9) / 4)


# --- Resegmentation and flat regions ---


@pytest.mark.parametrize(
    ("bounds", "mode", "kept"),
    [
        ([2.0], "absolute", [False, True, True, True, True]),
        ([2.0, 3.0], "absolute", [False, True, False, True, False]),
        ([0.5, 0.8], "relative", [False, False, True, False, False]),  # 10 x [0.5, 0.8] = [5, 8]
        (
            [-1.0, 1.0],
            "sigma",
            [False, True, True, True, False],
        ),  # mean 4 -/+ sd sqrt(11.6) (N): [0.59, 7.41]
    ],
)
def test_resegmentation_keeps_roi_voxels_within_the_range_read_by_mode(
    bounds: list[float], mode: str, kept: list[bool]
) -> None:
    intensities = np.array([0.0, 2.0, 5.0, 3.0, 10.0])
    region = np.ones(5, dtype=bool)
    assert resegmented(region, intensities, bounds, mode).tolist() == kept


def test_ngtdm_of_one_grey_level_takes_pyradiomics_flat_region_values() -> None:
    levels = np.ones((3, 3, 3), dtype=np.int64)
    found = ngtdm_features(levels, levels > 0, read_pyradiomics_params({})["setting"])
    assert found == {"Coarseness": 1e6, "Contrast": 0.0, "Busyness": 0.0, "Complexity": 0.0, "Strength": 0.0}


def test_resegmentation_that_leaves_no_voxel_is_an_error() -> None:
    with pytest.raises(ValueError, match="leaves no voxel"):
        pyradiomics_features(
            PYRADIOMICS / "breast1_image.nrrd",
            PYRADIOMICS / "breast1_label.nrrd",
            {"resegmentRange": [1e9]},
        )
