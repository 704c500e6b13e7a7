"""``lai automl`` and ``lai predict``: options reach the search, files hand over, bad input is named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lai.cli import app
from synthetic_tables import sequence_table

runner = CliRunner()


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("features") / "features.parquet"
    sequence_table(n_lesions=120, n_patients=50).write(path)
    return path


@pytest.mark.slow
def test_automl_passes_its_options_and_predict_reads_the_model(features: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    arguments = ["automl", str(features), "--target", "malignant", "--budget", "1m", "--trials", "3"]
    arguments += ["--metric", "balanced_accuracy", "--preset", "worc", "--seed", "4", "--out", str(model)]
    result = runner.invoke(app, arguments, env={"LAI_NO_PROGRESS": "1"})
    assert result.exit_code == 0, result.output
    meta = json.loads((model / "model.json").read_text())
    assert (meta["metric"], meta["budget"], meta["preset"], meta["seed"]) == (
        "balanced_accuracy",
        60.0,
        "worc",
        4,
    )
    assert meta["params"]["max_trials"] == 3 and meta["ensemble"]["method"] == "top_n_mean"
    assert len(pd.read_parquet(model / "search.parquet")) == 3
    assert "Best pipelines" in result.output and "Feature groups" in result.output

    predictions = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(model), str(features), "--out", str(predictions)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(predictions)
    assert list(table.columns) == [
        "lesion_id",
        "case_id",
        "patient_id",
        "centre",
        "predicted",
        "proba_False",
        "proba_True",
    ]
    assert len(table) == 120


def test_allowed_features_file_restricts_the_model(features: Path, tmp_path: Path) -> None:
    allowed = tmp_path / "robust.txt"
    allowed.write_text("portal:original_firstorder_F0\nportal:original_glcm_F1\n")
    model = tmp_path / "model"
    arguments = ["automl", str(features), "--target", "malignant", "--trials", "2", "--out", str(model)]
    result = runner.invoke(
        app, [*arguments, "--allowed-features", str(allowed)], env={"LAI_NO_PROGRESS": "1"}
    )
    assert result.exit_code == 0, result.output
    assert json.loads((model / "model.json").read_text())["feature_columns"] == [
        "portal:original_firstorder_F0",
        "portal:original_glcm_F1",
    ]


def test_allowed_features_naming_unknown_columns_is_an_error_naming_file_and_column(
    features: Path, tmp_path: Path
) -> None:
    allowed = tmp_path / "robust.txt"
    allowed.write_text("portal:original_firstorder_F0\nt2w:original_shape_Nope\n")
    arguments = ["automl", str(features), "--target", "malignant", "--out", str(tmp_path / "m")]
    result = runner.invoke(app, [*arguments, "--allowed-features", str(allowed)])
    assert result.exit_code == 1
    assert "robust.txt" in result.output and "t2w:original_shape_Nope" in result.output


def test_unknown_metric_and_preset_are_refused_with_the_choices(features: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["automl", str(features), "--metric", "accuracy", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 1 and "auc, balanced_accuracy" in result.output
    result = runner.invoke(app, ["automl", str(features), "--preset", "fast", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "default, worc" in result.output


def test_an_unknown_target_is_an_error_naming_it(features: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["automl", str(features), "--target", "grade", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "grade" in result.output


def test_predict_on_a_table_lacking_feature_columns_names_them(features: Path, tmp_path: Path) -> None:
    from lai.data import FeatureTable

    model = tmp_path / "model"
    arguments = ["automl", str(features), "--target", "malignant", "--trials", "1", "--out", str(model)]
    assert runner.invoke(app, arguments, env={"LAI_NO_PROGRESS": "1"}).exit_code == 0
    table = FeatureTable.read(features)
    partial = tmp_path / "partial.parquet"
    FeatureTable(table.frame.drop(columns=["adc:original_glcm_F3", "t2w:original_firstorder_F0"])).write(
        partial
    )
    result = runner.invoke(app, ["predict", str(model), str(partial), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1
    assert "partial.parquet" in result.output and "lacks 2 column(s)" in result.output
    assert "adc:original_glcm_F3" in result.output and "t2w:original_firstorder_F0" in result.output
    assert not (tmp_path / "p.csv").exists()
