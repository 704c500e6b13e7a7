"""lai.radiomics against PyRadiomics' own baseline values for its test cases (plain settings, no resampling).

The settings of each baseline column are read from its ``diagnostics_Configuration_Settings`` row.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from lai.radiomics import extract_features
from pyradiomics_reference import MESH_FEATURES, PYRADIOMICS_3_BRAIN1

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PYRADIOMICS = SHARED / "pyradiomics"
CASES = ("brain1", "breast1")


def baseline(family: str, case: str) -> tuple[dict[str, float], dict[str, object]]:
    """Return PyRadiomics' expected features (without prefix) and the settings it used for one case."""
    column = pd.read_csv(PYRADIOMICS / "baseline" / f"baseline_{family}.csv", index_col=0)[case]
    settings = ast.literal_eval(column["diagnostics_Configuration_Settings"])
    prefix = f"original_{family}_"
    expected = {k[len(prefix) :]: float(v) for k, v in column.items() if k.startswith(prefix)}
    return expected, settings


def lai_features(case: str, pyradiomics_settings: dict[str, object]) -> dict[str, float]:
    assert pyradiomics_settings["resampledPixelSpacing"] is None
    assert pyradiomics_settings["normalize"] is False
    settings = {
        "preset": "pyradiomics",
        "bin_width": pyradiomics_settings["binWidth"],
        "voxel_array_shift": pyradiomics_settings.get("voxelArrayShift", 0),
    }
    return extract_features(
        PYRADIOMICS / f"{case}_image.nrrd",
        PYRADIOMICS / f"{case}_label.nrrd",
        settings,
        label=int(str(pyradiomics_settings["label"])),
    )


@pytest.mark.parametrize("case", CASES)
def test_firstorder_matches_pyradiomics_baseline(case: str) -> None:
    expected, settings = baseline("firstorder", case)
    features = lai_features(case, settings)
    assert len(expected) == 18
    for name, value in expected.items():
        assert features[f"original_firstorder_{name}"] == pytest.approx(value, rel=1e-6), name


@pytest.mark.parametrize("case", CASES)
def test_shape_matches_pyradiomics_baseline(case: str) -> None:
    expected, settings = baseline("shape", case)
    features = lai_features(case, settings)
    assert len(expected) == 14
    for name, value in expected.items():
        if case == "brain1" and name in MESH_FEATURES:
            assert features[f"original_shape_{name}"] == pytest.approx(
                PYRADIOMICS_3_BRAIN1[name], rel=1e-12
            ), name
            assert features[f"original_shape_{name}"] == pytest.approx(value, rel=1e-3), name
        else:
            assert features[f"original_shape_{name}"] == pytest.approx(value, rel=1e-6), name
