"""lai.radiomics against the IBSI 1 consensus values for the digital phantom, where the features coincide.

The phantom is used without discretisation (grey levels 1, 3, 4, 6): a bin width of 1 puts each level in
its own bin. Reference values carry 3 significant figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from lai.radiomics import extract_features

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PHANTOM = SHARED / "ibsi" / "digital_phantom"

SAME_DEFINITION = {
    "morph_volume": "shape_MeshVolume",
    "morph_vol_approx": "shape_VoxelVolume",
    "morph_area_mesh": "shape_SurfaceArea",
    "morph_av": "shape_SurfaceVolumeRatio",
    "morph_sphericity": "shape_Sphericity",
    "morph_diam": "shape_Maximum3DDiameter",
    "morph_pca_elongation": "shape_Elongation",
    "morph_pca_flatness": "shape_Flatness",
    "stat_mean": "firstorder_Mean",
    "stat_var": "firstorder_Variance",
    "stat_skew": "firstorder_Skewness",
    "stat_median": "firstorder_Median",
    "stat_min": "firstorder_Minimum",
    "stat_p10": "firstorder_10Percentile",
    "stat_p90": "firstorder_90Percentile",
    "stat_max": "firstorder_Maximum",
    "stat_iqr": "firstorder_InterquartileRange",
    "stat_range": "firstorder_Range",
    "stat_mad": "firstorder_MeanAbsoluteDeviation",
    "stat_rmad": "firstorder_RobustMeanAbsoluteDeviation",
    "stat_energy": "firstorder_Energy",
    "stat_rms": "firstorder_RootMeanSquared",
    "ih_entropy": "firstorder_Entropy",
    "ih_uniformity": "firstorder_Uniformity",
}

AXIS_LENGTHS = {
    "morph_pca_maj_axis": "shape_MajorAxisLength",
    "morph_pca_min_axis": "shape_MinorAxisLength",
    "morph_pca_least_axis": "shape_LeastAxisLength",
}


def round_3(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def reference() -> pd.Series:
    return pd.read_csv(SHARED / "ibsi" / "reference_digital_phantom.csv").set_index("tag")["reference_value"]


@pytest.fixture(scope="module")
def features() -> dict[str, float]:
    return extract_features(
        PHANTOM / "phantom.nii.gz", PHANTOM / "mask.nii.gz", {"preset": "pyradiomics", "bin_width": 1}
    )


@pytest.mark.parametrize("tag", sorted(SAME_DEFINITION))
def test_feature_matches_ibsi_digital_phantom(
    tag: str, reference: pd.Series, features: dict[str, float]
) -> None:
    assert round_3(features[f"original_{SAME_DEFINITION[tag]}"]) == pytest.approx(reference[tag])


def test_kurtosis_is_ibsi_excess_kurtosis_plus_three(
    reference: pd.Series, features: dict[str, float]
) -> None:
    assert round_3(features["original_firstorder_Kurtosis"] - 3.0) == pytest.approx(reference["stat_kurt"])


@pytest.mark.parametrize("tag", sorted(AXIS_LENGTHS))
def test_axis_length_matches_ibsi_after_sample_covariance_correction(
    tag: str, reference: pd.Series, features: dict[str, float]
) -> None:
    # PyRadiomics (and LAI) divide the covariance by N, IBSI by N - 1; the phantom's mask has 74 voxels
    corrected = features[f"original_{AXIS_LENGTHS[tag]}"] * math.sqrt(74 / 73)
    assert round_3(corrected) == pytest.approx(reference[tag])
