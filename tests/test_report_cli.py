"""``lai validate``: a Model folder or AutoML settings, several schemes, one report; bad input named in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lai.automl import AutoClassifier, save_model
from lai.cli import app
from lai.data.feature_table import FeatureTable
from synthetic_tables import synthetic_table

runner = CliRunner()
FAST_AUTOML = {"budget": None, "max_trials": 1, "inner_folds": 2, "random_state": 0}


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tables")
    table = synthetic_table(n_lesions=160, n_patients=70, seed=4)
    frame = table.frame
    paths = {"all": folder / "features.parquet", "a": folder / "a.parquet", "b": folder / "b.parquet"}
    table.write(paths["all"])
    FeatureTable(frame[frame["centre"] != "centre-2"].reset_index(drop=True)).write(paths["a"])
    FeatureTable(frame[frame["centre"] == "centre-2"].reset_index(drop=True)).write(paths["b"])
    return paths


def invoke(*args: str):
    return runner.invoke(app, ["validate", *args, "--scheduler", "sync"])


@pytest.mark.slow
def test_validate_automl_settings_under_two_schemes_writes_one_report(tables, tmp_path):
    settings = tmp_path / "automl.yaml"
    settings.write_text("target: malignant\nbudget: null\nmax_trials: 1\ninner_folds: 2\n")
    out = tmp_path / "report"
    result = invoke(
        str(settings),
        str(tables["all"]),
        "--scheme",
        "leave-centre-out",
        "--scheme",
        "repeated-split",
        "--repeats",
        "3",
        "--importance",
        "0",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "cache"),
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())
    assert [(r["target"], r["scheme_name"]) for r in record["results"]] == [
        ("malignant", "leave-centre-out"),
        ("malignant", "repeated-split"),
    ]
    assert "AutoClassifier" in record["results"][0]["estimator"]
    assert "max_trials=1" in record["results"][0]["estimator"]
    assert (out / "report.html").read_text().count("<img") >= 10
    assert "leave-centre-out" in result.output


@pytest.mark.slow
def test_validate_a_model_folder_on_an_external_table(tables, tmp_path):
    development = FeatureTable.read(tables["a"])
    model = AutoClassifier(**FAST_AUTOML).fit(
        development.features, development.target("diagnosis"), groups=development.groups
    )
    folder = save_model(model, tmp_path / "model", target="diagnosis", table=development, seed=0)
    out = tmp_path / "external"
    result = invoke(
        str(folder),
        str(tables["a"]),
        "--scheme",
        "external",
        "--external",
        str(tables["b"]),
        "--importance",
        "0",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "cache"),
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())
    saved = record["results"][0]
    assert (saved["target"], saved["scheme_name"]) == ("diagnosis", "external")
    assert saved["n_lesions"] == len(FeatureTable.read(tables["b"]).frame)
    assert list(saved["per_centre"]) == ["centre-2"]
    assert record["searches"][0]["n_trials"] == 1
    assert "b.parquet" in saved["scheme"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scheme", "bootstrap"], "Unknown scheme(s) ['bootstrap']"),
        (["--scheme", "temporal"], "needs study dates"),
        (["--scheme", "external"], "needs the external FeatureTable"),
    ],
)
def test_bad_options_fail_with_one_line_naming_the_problem(tables, tmp_path, arguments, message):
    settings = tmp_path / "automl.yaml"
    settings.write_text("target: malignant\nmax_trials: 1\n")
    result = invoke(str(settings), str(tables["all"]), *arguments, "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "report.html").exists()


def test_settings_file_with_an_unknown_key_is_named(tables, tmp_path):
    settings = tmp_path / "automl.yaml"
    settings.write_text("target: malignant\nbudjet: 10\n")
    result = invoke(str(settings), str(tables["all"]), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "automl.yaml" in output and "budjet" in output


def test_settings_without_a_target_ask_for_one(tables, tmp_path):
    settings = tmp_path / "automl.yaml"
    settings.write_text("max_trials: 1\n")
    result = invoke(str(settings), str(tables["all"]), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "no target" in " ".join(result.output.split())


def test_missing_inputs_are_named(tables, tmp_path):
    result = invoke(str(tmp_path / "nowhere"), str(tables["all"]), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "nowhere" in " ".join(result.output.split())
    settings = tmp_path / "automl.yaml"
    settings.write_text("target: malignant\n")
    result = invoke(str(settings), str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "missing.parquet" in " ".join(result.output.split())


@pytest.mark.slow
def test_temporal_scheme_takes_study_dates_from_the_dataset_cases(tables, tmp_path):
    table = FeatureTable.read(tables["all"])
    cases = table.frame[["case_id", "patient_id", "centre"]].drop_duplicates("case_id").reset_index(drop=True)
    cases["study_date"] = [f"20{10 + i % 12:02d}-0{1 + i % 9}-15" for i in range(len(cases))]
    dataset = tmp_path / "cohort"
    dataset.mkdir()
    (dataset / "dataset.json").write_text(json.dumps({"name": "dates-only", "version": "1"}))
    cases.to_csv(dataset / "cases.csv", index=False)
    lesions = table.frame[["lesion_id", "case_id", "diagnosis", "malignant"]].assign(
        mask_label=1, reference_standard="histology", diameter_mm=20.0
    )
    lesions.to_csv(dataset / "lesions.csv", index=False)
    settings = tmp_path / "automl.yaml"
    settings.write_text("target: malignant\nbudget: null\nmax_trials: 1\ninner_folds: 2\n")
    out = tmp_path / "temporal"
    result = invoke(
        str(settings),
        str(tables["all"]),
        "--scheme",
        "temporal",
        "--dataset",
        str(dataset),
        "--importance",
        "0",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "cache"),
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "metrics.json").read_text())["results"][0]
    assert saved["scheme_name"] == "temporal"
    dates = table.frame["case_id"].map(cases.set_index("case_id")["study_date"])
    cut = saved["per_split"][0]["held_out"].rsplit(" ", 1)[-1]
    assert saved["n_lesions"] == int(
        (
            table.frame["patient_id"].map(
                pd.Series(pd.to_datetime(dates).to_numpy())
                .groupby(table.frame["patient_id"].to_numpy())
                .min()
            )
            >= pd.Timestamp(cut)
        ).sum()
    )
