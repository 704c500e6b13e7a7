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
DEMO_ARGS = ["demo", "--patients", "24", "--seed", "3", "--repeats", "3", "--robustness", "4"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, [*DEMO_ARGS, "--out", str(out)])
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
        assert (demo / "models" / target / "search.parquet").is_file()
    html = (demo / "report.html").read_text()
    for words in (
        "Benign vs malignant",
        "Lesion type",
        "Leave-centre-out",
        "Repeated random splits",
        "AutoML search",
        "Robustness",
        "filled by LAI",
        "Model card",
    ):
        assert words in html


def test_demo_validates_both_tasks_on_unseen_centres_and_repeated_splits(demo: Path) -> None:
    metrics = json.loads((demo / "metrics.json").read_text())
    runs = [(result["target"], result["scheme_name"]) for result in metrics["results"]]
    assert runs == [
        ("malignant", "leave-centre-out"),
        ("malignant", "repeated-split"),
        ("diagnosis", "leave-centre-out"),
        ("diagnosis", "repeated-split"),
    ]
    centres = sorted(Dataset.read(demo / "cohort").cases["centre"].unique())
    for result in metrics["results"]:
        auc = result["metrics"]["auc"]
        assert 0.0 <= auc["ci_low"] <= auc["value"] <= auc["ci_high"] <= 1.0
        if result["scheme_name"] == "leave-centre-out":
            assert [s["held_out"] for s in result["per_split"]] == [f"centre {c}" for c in centres]
        else:
            assert len(result["per_split"]) == 3
            assert "corrected resampled t" in auc["method"]
    assert [s["target"] for s in metrics["searches"]] == ["malignant", "diagnosis"]
    robustness = metrics["robustness"]
    assert robustness["perturbations"] == ["erode:1", "rician:20"]
    assert len(robustness["shifts"]) == robustness["n_lesions"] >= 4
    assert len(robustness["icc"]) > 100


def test_second_demo_run_reuses_every_finished_result(demo: Path) -> None:
    cache_entries = sorted((demo / "cache").rglob("*.pkl"))
    images = sorted((demo / "cohort" / "images").rglob("*.nii.gz"))
    stamps = [p.stat().st_mtime_ns for p in cache_entries + images]
    metrics_before = json.loads((demo / "metrics.json").read_text())["results"]
    result = runner.invoke(app, [*DEMO_ARGS, "--out", str(demo)])
    assert result.exit_code == 0, result.output
    assert sorted((demo / "cache").rglob("*.pkl")) == cache_entries
    assert [p.stat().st_mtime_ns for p in cache_entries + images] == stamps
    assert json.loads((demo / "metrics.json").read_text())["results"] == metrics_before
