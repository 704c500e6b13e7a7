"""Per-sequence settings (``sequences:`` in the LAI settings file), read by load_settings and honoured by extract_dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lai.cli import app
from lai.data import Dataset
from lai.data.feature_table import FeatureTable
from lai.radiomics import SettingsError, extract_dataset, load_settings, settings_for
from radiomics_datasets import BALLS, LIVER, write_dataset

SETTINGS_YAML = """
preset: liver_mri
texture_bin_count: 16
sequences:
  t2w:
    normalise: none
    feature_classes: [firstorder, shape]
  portal:
    texture_bin_width: 0.1
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return write_dataset(tmp_path_factory.mktemp("per-sequence"))


def test_sequence_overrides_apply_on_top_of_the_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(SETTINGS_YAML)
    settings = load_settings(path)
    t2w, portal, adc = (settings_for(settings, s) for s in ("t2w", "portal", "adc"))
    assert (t2w["normalise"], t2w["feature_classes"], t2w["texture_bin_count"]) == (
        "none",
        ["firstorder", "shape"],
        16,
    )
    # a width given alone replaces the file's bin count for that sequence only
    assert (portal["texture_bin_width"], portal["texture_bin_count"]) == (0.1, None)
    assert (adc["normalise"], adc["texture_bin_count"], len(adc["feature_classes"])) == ("liver", 16, 7)


@pytest.mark.parametrize(
    ("sequences", "message"),
    [
        ({"t1": {"normalise": "none"}}, r"unknown sequence 't1'"),
        ({"adc": {"preset": "pyradiomics"}}, r"sequences.adc: key\(s\) \['preset'\] cannot be set"),
        ({"adc": {"colour": 3}}, r"sequences.adc: key\(s\) \['colour'\]"),
        ({"dwi": {"texture_bin_count": 0}}, r"sequences.dwi: Setting texture_bin_count must be"),
        ({"dwi": "none"}, r"sequences.dwi must be a mapping"),
        (["adc"], r"sequences must map sequence names"),
    ],
)
def test_bad_sequence_settings_are_refused_naming_the_sequence(sequences: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"sequences": sequences})


def test_extract_dataset_uses_each_sequence_settings(dataset: Dataset) -> None:
    settings = {"sequences": {"t2w": {"normalise": "none", "feature_classes": ["firstorder", "shape"]}}}
    table = extract_dataset(dataset, settings=settings, scheduler="sync", liver_features=False)
    frame = table.frame.set_index("lesion_id")
    t2w = [c for c in frame.columns if c.startswith("t2w:original_")]
    portal = [c for c in frame.columns if c.startswith("portal:original_")]
    assert {c.split("_")[1] for c in t2w} == {"firstorder", "shape"}
    assert "portal:original_glcm_Contrast" in portal
    # t2w keeps raw intensities: the ball's value; portal is divided by the liver median (ratio)
    _, _, ratio = BALLS[1]  # lesion c1-1 is label 1
    assert frame.loc["c1-1", "t2w:original_firstorder_Median"] == pytest.approx(LIVER["t2w"] * ratio)
    assert frame.loc["c1-1", "portal:original_firstorder_Median"] == pytest.approx(ratio)
    assert table.metadata["settings"]["sequences"]["t2w"]["normalise"] == "none"


@pytest.mark.slow
def test_lai_extract_honours_the_sequences_of_the_params_file(dataset: Dataset, tmp_path: Path) -> None:
    params = tmp_path / "settings.yaml"
    params.write_text("sequences:\n  t2w:\n    normalise: none\n    feature_classes: [firstorder]\n")
    out = tmp_path / "features.parquet"
    result = CliRunner().invoke(
        app, ["extract", str(dataset.root), "--params", str(params), "--out", str(out), "--scheduler", "sync"]
    )
    assert result.exit_code == 0, result.output
    frame = FeatureTable.read(out).frame.set_index("lesion_id")
    assert not [c for c in frame.columns if c.startswith("t2w:original_glcm")]
    assert frame.loc["c1-1", "t2w:original_firstorder_Median"] == pytest.approx(LIVER["t2w"] * BALLS[1][2])


def test_lai_extract_names_the_sequence_of_a_bad_override(dataset: Dataset, tmp_path: Path) -> None:
    params = tmp_path / "settings.yaml"
    params.write_text("sequences:\n  adc:\n    texture_bin_count: -3\n")
    result = CliRunner().invoke(
        app, ["extract", str(dataset.root), "--params", str(params), "--out", str(tmp_path / "f.parquet")]
    )
    assert result.exit_code != 0
    assert "sequences.adc" in result.output and "Traceback" not in result.output
