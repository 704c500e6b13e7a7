"""The ``lai`` command: each subcommand run for real on files, with its output files and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from lai import __version__
from lai.cli import app, parse_duration
from lai.data import FeatureTable
from synthetic_tables import synthetic_table
from tiny_dataset import write_tiny_dataset

runner = CliRunner()


def test_version_is_printed() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("45", 45.0)])
def test_budget_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_malformed_duration_is_refused_with_examples() -> None:
    with pytest.raises(typer.BadParameter, match="90s"):
        parse_duration("ten minutes")


def test_dataset_validate_accepts_a_valid_folder(tmp_path: Path) -> None:
    write_tiny_dataset(tmp_path)
    result = runner.invoke(app, ["dataset", "validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_dataset_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    write_tiny_dataset(tmp_path)
    lesions = pd.read_csv(tmp_path / "lesions.csv")
    lesions.loc[0, "diagnosis"] = "lymphoma"
    lesions.to_csv(tmp_path / "lesions.csv", index=False)
    next((tmp_path / "images").rglob("*.nii.gz")).unlink()
    result = runner.invoke(app, ["dataset", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "unknown-diagnosis" in result.output
    assert "lymphoma" in result.output
    assert "missing-file" in result.output
    assert "checksum-mismatch" in result.output  # lesions.csv changed after dataset.json was written


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("features") / "features.parquet"
    synthetic_table(n_lesions=240, n_patients=90).write(path)
    return path


def test_automl_predict_and_validate_hand_files_to_each_other(features: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    result = runner.invoke(
        app, ["automl", str(features), "--target", "malignant", "--trials", "2", "--out", str(model)]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((model / "model.json").read_text())
    assert meta["target"] == "malignant"

    predictions = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(model), str(features), "--out", str(predictions)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(predictions)
    assert list(table.columns[:4]) == ["lesion_id", "case_id", "patient_id", "centre"]
    assert {"predicted", "proba_False", "proba_True"} <= set(table.columns)
    assert len(table) == 240

    report = tmp_path / "validation"
    result = runner.invoke(
        app, ["validate", str(model), str(features), "--out", str(report), "--scheduler", "sync"]
    )
    assert result.exit_code == 0, result.output
    assert (report / "report.html").is_file()
    metrics = json.loads((report / "metrics.json").read_text())
    auc = metrics["results"][0]["metrics"]["auc"]
    assert f"{auc['value']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]" in result.output
    everyone = next(row for row in metrics["cohort"] if row["centre"] == "all")
    assert everyone["lesions"] == 240


def test_predict_names_the_feature_columns_the_table_lacks(features: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    assert runner.invoke(app, ["automl", str(features), "--trials", "2", "--out", str(model)]).exit_code == 0
    table = FeatureTable.read(features)
    dropped = table.feature_columns[:2]
    FeatureTable(table.frame.drop(columns=dropped), table.metadata).write(tmp_path / "partial.parquet")
    result = runner.invoke(app, ["predict", str(model), str(tmp_path / "partial.parquet"), "--out", "p.csv"])
    assert result.exit_code == 1
    assert dropped[0] in result.output


def test_automl_on_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["automl", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "nope.parquet" in result.output


def test_synth_writes_a_cohort_that_describe_and_extract_read(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    result = runner.invoke(
        app,
        [
            "synth",
            "--patients",
            "3",
            "--centres",
            "2",
            "--seed",
            "1",
            "--out",
            str(cohort),
            "--cache",
            str(tmp_path / "cache"),
            "--scheduler",
            "sync",
        ],
    )
    assert result.exit_code == 0, result.output
    lesions = pd.read_csv(cohort / "lesions.csv")
    assert f"{len(lesions)} lesions" in result.output

    result = runner.invoke(app, ["synth", "--describe", str(cohort), "--scheduler", "sync"])
    assert result.exit_code == 0, result.output
    for diagnosis in lesions["diagnosis"].unique():
        assert diagnosis in result.output

    features = tmp_path / "features.parquet"
    result = runner.invoke(
        app, ["extract", str(cohort), "--out", str(features), "--cache", str(tmp_path / "cache")]
    )
    assert result.exit_code == 0, result.output
    assert sorted(FeatureTable.read(features).frame["lesion_id"]) == sorted(lesions["lesion_id"])


def test_synth_describe_of_a_folder_that_is_no_dataset_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--describe", str(tmp_path)])
    assert result.exit_code == 1
    assert "dataset.json" in result.output


def test_extract_with_unusable_settings_is_a_clear_error(tmp_path: Path) -> None:
    write_tiny_dataset(tmp_path / "ds")
    result = runner.invoke(
        app,
        ["extract", str(tmp_path / "ds"), "--params", "no-such-preset", "--out", str(tmp_path / "f.parquet")],
    )
    assert result.exit_code == 1
    assert "no-such-preset" in result.output
    assert not (tmp_path / "f.parquet").exists()


def test_extract_lists_lesions_with_undefined_features_in_a_log_beside_the_table(tmp_path: Path) -> None:
    from radiomics_datasets import write_awkward_dataset

    write_awkward_dataset(tmp_path / "ds")
    out = tmp_path / "features.parquet"
    result = runner.invoke(
        app, ["extract", str(tmp_path / "ds"), "--out", str(out), "--cache", str(tmp_path / "cache")]
    )
    assert result.exit_code == 0, result.output
    assert "3 lesion/sequence pair(s) have undefined features" in " ".join(result.output.split())
    lines = (tmp_path / "features.warnings.txt").read_text().splitlines()
    assert sorted(line.split(",")[0] for line in lines) == ["Lesion c1-2", "Lesion c1-3", "Lesion c1-4"]
    assert FeatureTable.read(out).frame["lesion_id"].tolist() == ["c1-1", "c1-2", "c1-3", "c1-4"]
