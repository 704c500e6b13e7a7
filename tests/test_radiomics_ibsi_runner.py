"""`lai radiomics ibsi` and `lai radiomics extract` on the IBSI digital phantom, against IBSI's reference table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lai.cli import app
from lai.imaging import Image
from lai.radiomics.ibsi import compare_with_reference, families_of, family_module, ibsi_features

IBSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibsi"
PHANTOM = IBSI / "digital_phantom" / "phantom.nii.gz"
MASK = IBSI / "digital_phantom" / "mask.nii.gz"

runner = CliRunner()


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    table = pd.read_csv(IBSI / "reference_digital_phantom.csv")
    return table[table["reference_value"].notna()]


@pytest.fixture(scope="module")
def comparison(reference: pd.DataFrame) -> pd.DataFrame:
    return compare_with_reference(ibsi_features(PHANTOM, MASK, "ibsi-digital-phantom"), reference)


def test_every_reference_tag_is_computed(comparison: pd.DataFrame) -> None:
    assert comparison.loc[comparison["value"].isna(), "tag"].tolist() == []


def test_every_reference_tag_matches_within_its_tolerance(comparison: pd.DataFrame) -> None:
    failures = comparison.loc[~comparison["matches"], ["tag", "reference_value", "value"]]
    assert failures.to_dict("records") == []


def test_every_family_module_lists_the_tags_of_the_reference(reference: pd.DataFrame) -> None:
    for family in families_of(reference["tag"].tolist()):
        module = family_module(family)
        listed = {d.tag(a) for d in module.FEATURES for a in (tuple(module.AGGREGATIONS) or ("",))}
        expected = {t for t in reference["tag"] if families_of([t]) == {family}}
        assert expected <= listed, family


def test_ibsi_command_writes_one_row_per_tag(tmp_path: Path, reference: pd.DataFrame) -> None:
    out = tmp_path / "values.csv"
    result = runner.invoke(app, ["radiomics", "ibsi", str(PHANTOM), str(MASK), "--out", str(out)])
    assert result.exit_code == 0, result.output
    values = pd.read_csv(out)
    assert list(values.columns) == ["tag", "family", "ibsi_code", "name", "value"]
    assert set(reference["tag"]) <= set(values["tag"])
    assert values["tag"].is_unique


def test_ibsi_command_refuses_an_unknown_preset(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["radiomics", "ibsi", str(PHANTOM), str(MASK), "--settings", "ibsi-ct-z", "--out", "v.csv"]
    )
    assert result.exit_code == 1
    assert "ibsi-digital-phantom" in result.output


def test_extract_command_gives_the_phantom_volume_and_mean(tmp_path: Path) -> None:
    out = tmp_path / "features.csv"
    result = runner.invoke(
        app, ["radiomics", "extract", str(PHANTOM), str(MASK), "--params", "pyradiomics", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out).iloc[0]
    assert row["original_shape_VoxelVolume"] == pytest.approx(74 * 2.0**3)  # IBSI morph_vol_approx 592
    assert round(row["original_firstorder_Mean"], 2) == 2.15  # IBSI stat_mean


def test_extract_command_names_a_missing_image(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["radiomics", "extract", str(tmp_path / "none.nii.gz"), str(MASK), "--out", "f.csv"]
    )
    assert result.exit_code == 1
    assert "none.nii.gz" in result.output


def test_runner_takes_gldzm_distances_and_the_ivh_range_from_the_morphological_roi_and_range() -> None:
    # a 3x3x3 ROI of intensity 1 with 2 at its centre; re-segmentation to [1, 4] removes the face centre
    # (1, 2, 2), of intensity 10, next to the cube's centre
    image = np.zeros((5, 5, 5))
    image[1:4, 1:4, 1:4] = 1.0
    image[2, 2, 2] = 2.0
    image[1, 2, 2] = 10.0
    roi = np.zeros(image.shape, dtype=np.uint8)
    roi[1:4, 1:4, 1:4] = 1
    settings = {"families": ["gldzm", "ivh"], "dimensions": "3D", "resegment_range": [1.0, 4.0]}
    values = ibsi_features(Image(image, np.eye(4)), Image(roi, np.eye(4)), settings).set_index("tag")["value"]
    # GLDZM: the level-1 zone on the edge (distance 1) and the centre 2 steps inside the morphological cube
    assert values["dzm_lde_3D"] == pytest.approx((1**2 + 2**2) / 2)
    # IVH over the range's grid 1, 2, 3, 4: nu = 1, 1/26, 0, 0 at gamma = 0, 1/3, 2/3, 1
    assert values["ivh_v90"] == 0.0  # no voxel reaches 1 + 0.9 * 3
    assert values["ivh_i10"] == 2.0
    assert values["ivh_auc"] == pytest.approx((0.5 + 1 / 26) / 3)
