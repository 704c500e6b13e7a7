"""``lai demo`` end to end on a small cohort: every stage's file, both tasks, and a second run from cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lai.cli import app
from lai.data import Dataset, FeatureTable
from lai.data.validate import validate_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--out", str(out), "--patients", "24", "--seed", "3"])
    assert result.exit_code == 0, result.output
    return out


def test_demo_writes_a_valid_cohort_features_models_and_report(demo: Path) -> None:
    assert validate_dataset(demo / "cohort") == []
    dataset = Dataset.read(demo / "cohort")
    assert len(dataset.cases) == 24
    table = FeatureTable.read(demo / "features.parquet")
    assert sorted(table.frame["lesion_id"]) == sorted(dataset.lesions["lesion_id"])
    for target in ("malignant", "diagnosis"):
        assert json.loads((demo / "models" / target / "model.json").read_text())["target"] == target
    html = (demo / "report.html").read_text()
    assert "Benign vs malignant" in html
    assert "Lesion type" in html


def test_demo_metrics_cover_both_tasks_with_intervals(demo: Path) -> None:
    metrics = json.loads((demo / "metrics.json").read_text())
    targets = [result["target"] for result in metrics["results"]]
    assert targets == ["malignant", "diagnosis"]
    for result in metrics["results"]:
        auc = result["metrics"]["auc"]
        assert 0.0 <= auc["ci_low"] <= auc["value"] <= auc["ci_high"] <= 1.0


def test_second_demo_run_reuses_every_finished_result(demo: Path) -> None:
    cache_entries = sorted((demo / "cache").rglob("*.pkl"))
    images = sorted((demo / "cohort" / "images").rglob("*.nii.gz"))
    stamps = [p.stat().st_mtime_ns for p in cache_entries + images]
    metrics_before = json.loads((demo / "metrics.json").read_text())["results"]
    result = runner.invoke(app, ["demo", "--out", str(demo), "--patients", "24", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert sorted((demo / "cache").rglob("*.pkl")) == cache_entries
    assert [p.stat().st_mtime_ns for p in cache_entries + images] == stamps
    assert json.loads((demo / "metrics.json").read_text())["results"] == metrics_before
