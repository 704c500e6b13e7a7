"""The PyRadiomics compatibility mode against PyRadiomics' own baselines, feature by feature.

Each baseline column's settings come from its ``diagnostics_Configuration_Settings`` row. The plain
``brain1``/``breast1`` columns were written by PyRadiomics 1.3 (binWidth 25); ``_2d`` (force2D), ``_FBN``
(binCount 64) and ``_combined`` (weightingNorm no_weighting) by PyRadiomics 2.0.1. The columns that
resample, normalise or resegment are outside this mode: they are checked to be refused by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.imaging import Image, load_image
from lai.radiomics.gldm import dependence_matrix, gldm_features
from lai.radiomics.pyradiomics_compat import (
    PyRadiomicsParamsError,
    glcm_angles,
    pyradiomics_features,
    read_pyradiomics_params,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PYRADIOMICS = SHARED / "pyradiomics"
CASES = ("brain1", "breast1")
FEATURE_COUNTS = {"glcm": 24, "gldm": 14, "ngtdm": 5, "glszm": 16, "glrlm": 16}
"""Features per family in the baselines (PyRadiomics 2.0 names; no deprecated ones)."""
VARIANTS = {
    "glcm": ("", "_2d", "_FBN", "_combined"),
    "gldm": ("", "_2d", "_FBN"),
    "ngtdm": ("", "_2d", "_FBN"),
    "glszm": ("", "_2d", "_FBN"),
    "glrlm": ("", "_2d", "_FBN", "_combined"),
}
"""Baseline columns (suffixes of the case name) whose settings this mode supports."""
REFUSED = {
    "_flatRegion": "resegmentRange",
    "_normalization": "normalize",
    "_resampling": "resampledPixelSpacing",
    "_resegmentation": "resegmentRange",
}
"""Baseline columns outside this mode, and the setting named when they are refused."""


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
def test_texture_features_match_pyradiomics_baseline(case: str, family: str, variant: str) -> None:
    expected, settings = baseline_column(family, case + variant)
    found = compat_features(case, family, settings)
    assert len(expected) == FEATURE_COUNTS[family]
    assert sorted(found) == sorted(expected)
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("variant", "setting"), REFUSED.items())
def test_baseline_columns_that_change_image_or_mask_are_refused_by_setting_name(
    case: str, variant: str, setting: str
) -> None:
    _, settings = baseline_column("glcm", case + variant)
    with pytest.raises(PyRadiomicsParamsError, match=setting):
        compat_features(case, "glcm", settings)


def test_firstorder_and_shape_come_with_pyradiomics_names_and_voxel_array_shift() -> None:
    expected, settings = baseline_column("firstorder", "brain1")
    found = pyradiomics_features(
        PYRADIOMICS / "brain1_image.nrrd",
        PYRADIOMICS / "brain1_label.nrrd",
        {"setting": settings, "featureClass": {"firstorder": None, "shape": ["Sphericity"]}},
    )
    # The baseline has no StandardDeviation (the square root of Variance); LAI's firstorder module adds it.
    extra = {"original_firstorder_StandardDeviation", "original_shape_Sphericity"}
    assert set(found) == set(expected) | extra
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-6), name


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


@pytest.mark.parametrize("image_type", ["LoG", "Wavelet"])
def test_filtered_image_types_are_refused_by_name(image_type: str) -> None:
    with pytest.raises(PyRadiomicsParamsError, match=image_type):
        read_pyradiomics_params({"imageType": {"Original": {}, image_type: {}}})


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


def test_unknown_feature_class_is_refused() -> None:
    with pytest.raises(PyRadiomicsParamsError, match="glcmx"):
        read_pyradiomics_params({"featureClass": {"glcmx": None}})


def test_glcm_angles_are_pyradiomics_offsets_of_each_chebyshev_distance() -> None:
    assert len(glcm_angles([1], in_plane=False)) == 13
    assert len(glcm_angles([1], in_plane=True)) == 4
    # Every offset in the 5x5x5 cube at Chebyshev norm 1 or 2, one of each opposite pair: (125 - 1) / 2.
    assert len(glcm_angles([1, 2], in_plane=False)) == 62


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
