"""The HTML report: sections, self-contained, escaped; metrics.json holds every number and every figure's points."""

from __future__ import annotations

import functools
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lai.report import cohort_table, write_report
from lai.report.html import search_summary
from lai.validation.schemes import validate
from synthetic_tables import synthetic_table

PROVENANCE = {"dataset": "synthetic-liver", "dataset_version": "0.3", "seed": 1, "date": "2026-01-02"}
LOGISTIC = functools.partial(clone, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))
SEARCH = pd.DataFrame(
    {
        "trial": [0, 1, 2],
        "state": ["complete", "complete", "pruned"],
        "pipeline": ["standard > logistic_regression(l2)", "standard > random_forest", "quantile > lda"],
        "score": [0.91, 0.94, np.nan],
        "duration": [0.5, 3.0, 0.2],
        "ensemble_weight": [0.25, 0.75, 0.0],
    }
)
SEARCH_META = {
    "target": "malignant",
    "metric": "auc",
    "budget": 30.0,
    "preset": "default",
    "feature_groups": [
        {
            "dimension": "sequence",
            "group": "portal",
            "n_columns": 12,
            "trials_on": 2,
            "mean_score_on": 0.93,
            "mean_score_off": None,
            "ensemble_weight": 1.0,
        },
    ],
}
ROBUSTNESS = {
    "icc": {f"t2w:original_firstorder_F{j}": 0.5 + j / 50 for j in range(24)},
    "threshold": 0.75,
    "shifts": [0.01, 0.02, 0.1],
    "perturbations": ["erode 1 voxel", "added noise"],
    "n_lesions": 3,
}


class Outline(HTMLParser):
    """Collects section ids, headings, element attributes and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.headings: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._heading: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
            if name == "id":
                self.ids.append(value or "")
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = ""

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading += data


@pytest.fixture(scope="module")
def inputs():
    table = synthetic_table(n_lesions=240, n_patients=90)
    results = [
        validate(
            "leave-centre-out",
            LOGISTIC,
            table,
            "malignant",
            seed=1,
            n_resamples=300,
            importance_repeats=1,
            scheduler="sync",
        ),
        validate("kfold", LOGISTIC, table, "diagnosis", seed=1, n_resamples=300, scheduler="sync"),
    ]
    cases = table.frame[["case_id", "patient_id", "centre"]].drop_duplicates()
    lesions = table.frame[["lesion_id", "case_id", "diagnosis", "malignant"]]
    return cases, lesions, results


def _write(out, inputs):
    cases, lesions, results = inputs
    return write_report(
        out,
        title="Liver <lesions> & co",
        cases=cases,
        lesions=lesions,
        results=results,
        provenance=PROVENANCE,
        searches=[search_summary(SEARCH, SEARCH_META)],
        robustness=ROBUSTNESS,
    )


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("report"), inputs)


@pytest.fixture(scope="module")
def record(report) -> dict:
    return json.loads((report.parent / "metrics.json").read_text(encoding="utf-8"))


def outline(path: Path) -> Outline:
    parser = Outline()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_report_opens_with_the_key_results_then_every_section(report):
    parsed = outline(report)
    expected = {
        "summary",
        "cohort",
        "task-malignant",
        "task-diagnosis",
        "search",
        "robustness",
        "checklist",
        "model-card",
        "methods",
        "provenance",
        "scheme-malignant-leave-centre-out",
        "scheme-diagnosis-kfold",
    }
    assert expected <= set(parsed.ids)
    assert parsed.headings[:3] == ["Liver <lesions> & co", "Key results", "Cohort"]
    for heading in (
        "Headline metrics",
        "Calibration",
        "Per centre",
        "Per class (each class against the rest)",
    ):
        assert parsed.headings.count(heading) == 2
    text = " ".join(parsed.text)
    for words in (
        "2026-01-02",
        "synthetic-liver",
        "0.3",
        "seed 1",
        "grouped by patient",
        "Nadeau",
        "DeLong",
        "On centres the model was never trained on",
    ):
        assert words in text


def test_every_figure_is_an_inline_image_with_id_and_alt_text(report):
    parsed = outline(report)
    ids = [v for t, n, v in parsed.attributes if t == "img" and n == "id"]
    alts = [v for t, n, v in parsed.attributes if t == "img" and n == "alt"]
    assert len(ids) == len(alts) == parsed.tags.count("img") == 13
    for kind in ("roc", "pr", "confusion", "calibration", "decision", "importance"):
        assert f"fig-malignant-leave-centre-out-{kind}" in ids
    for kind in ("roc", "pr", "confusion", "calibration", "decision"):
        assert f"fig-diagnosis-kfold-{kind}" in ids
    assert {"fig-search-malignant", "fig-robustness"} <= set(ids)
    assert all(alt for alt in alts)


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    parsed = outline(report)
    sources = [value for tag, name, value in parsed.attributes if name == "src"]
    assert sources and all(value.startswith("data:image/svg+xml;base64,") for value in sources)
    links = [value for tag, name, value in parsed.attributes if name == "href"]
    assert all(value.startswith("#") for value in links)
    assert "script" not in parsed.tags and "link" not in parsed.tags


def test_title_is_escaped(report):
    html = report.read_text(encoding="utf-8")
    assert "Liver &lt;lesions&gt; &amp; co" in html
    assert "<lesions>" not in html


def test_metrics_json_equals_the_results(record, inputs):
    _, _, results = inputs
    assert record["provenance"] == PROVENANCE
    assert [r["scheme_name"] for r in record["results"]] == ["leave-centre-out", "kfold"]
    for result, saved in zip(results, record["results"], strict=True):
        for name, estimate in result.metrics.items():
            assert saved["metrics"][name]["value"] == estimate.value
            assert saved["metrics"][name]["ci_low"] == estimate.ci_low
            assert saved["metrics"][name]["ci_high"] == estimate.ci_high
        for centre, metrics in result.per_centre.items():
            assert saved["per_centre"][centre]["sensitivity"]["value"] == metrics["sensitivity"].value
        assert [s["split"] for s in saved["per_split"]] == [s["split"] for s in result.per_split]


def test_metrics_json_holds_the_roc_and_pr_points_of_the_figures(record, inputs):
    _, _, results = inputs
    predictions = results[0].predictions
    positive = predictions["y_true"].astype(bool).to_numpy()
    score = predictions["proba_True"].to_numpy()
    figures = record["results"][0]["figures"]
    fpr, tpr, _ = roc_curve(positive, score, drop_intermediate=False)
    curve = figures["roc"]["curves"][0]
    np.testing.assert_allclose(curve["fpr"], fpr)
    np.testing.assert_allclose(curve["tpr"], tpr)
    assert all(
        lo <= hi for lo, hi in zip(figures["roc"]["band_low"], figures["roc"]["band_high"], strict=True)
    )
    precision, recall, _ = precision_recall_curve(positive, score)
    np.testing.assert_allclose(figures["pr"]["curves"][0]["precision"], precision)
    np.testing.assert_allclose(figures["pr"]["curves"][0]["recall"], recall)
    assert len(record["results"][1]["figures"]["roc"]["curves"]) == 8


def test_decision_curve_numbers_are_the_net_benefit_formula(record, inputs):
    _, _, results = inputs
    predictions = results[0].predictions
    event = predictions["y_true"].astype(bool).to_numpy()
    p = predictions["proba_True"].to_numpy()
    decision = record["results"][0]["figures"]["decision"]
    for index in (9, 29, 49):  # thresholds 0.10, 0.30, 0.50
        t = decision["threshold"][index]
        treated = p >= t
        expected = (np.sum(treated & event) - np.sum(treated & ~event) * t / (1 - t)) / len(p)
        assert decision["model"][index] == pytest.approx(expected, abs=1e-12)
        assert decision["treat_all"][index] == pytest.approx(event.mean() - (1 - event.mean()) * t / (1 - t))
    # lesion type: the decision is about malignancy, from the summed probabilities of the malignant types
    assert record["results"][1]["figures"]["decision"]["event"].startswith("malignant")


def test_calibration_slope_matches_an_unpenalised_logistic_fit(record, inputs):
    _, _, results = inputs
    predictions = results[0].predictions
    p = np.clip(predictions["proba_True"].to_numpy(), 1e-12, 1 - 1e-12)
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf, max_iter=5000, tol=1e-10).fit(
        logit, predictions["y_true"].astype(bool)
    )
    saved = record["results"][0]["figures"]["calibration"]["classes"][0]
    assert saved["slope"] == pytest.approx(fit.coef_[0, 0], rel=1e-3)
    assert sum(point["count"] for point in saved["points"]) == len(p)


def test_headline_auc_is_shown_with_its_interval(report, inputs):
    _, _, results = inputs
    auc = results[0].metrics["auc"]
    html = report.read_text(encoding="utf-8")
    assert f"{auc.value:.3f}" in html
    assert f"{auc.ci_low:.3f} to {auc.ci_high:.3f}" in html
    assert f"AUC of {auc.value:.2f}" in html


def test_checklist_items_are_filled_by_lai_with_counts_from_the_data(record, inputs):
    cases, lesions, _ = inputs
    items = {item["topic"]: item for item in record["checklist"]}
    assert all(item["status"] == "filled by LAI" for item in record["checklist"])
    inclusion = items["Participants and inclusion counts"]["content"]
    assert f"{cases['patient_id'].nunique()} patients" in inclusion
    assert f"{len(lesions)} lesions" in inclusion
    malignant = int(lesions["malignant"].sum())
    assert f"malignant {malignant}" in items["Outcome prevalence"]["content"]
    assert "3 pipelines tried" in items["Model type, building and tuning"]["content"]
    for topic in (
        "Data sources",
        "Data dates",
        "Missing data",
        "Data partitions and leakage control",
        "Software versions and seeds",
        "Performance with confidence intervals",
        "Calibration",
        "Heterogeneity across centres",
    ):
        assert items[topic]["content"]
    assert [row["field"] for row in record["model_card"]][:3] == ["Model", "Tasks", "Intended use"]


def test_search_and_robustness_sections_show_their_numbers(report, record):
    html = report.read_text(encoding="utf-8")
    assert "3 pipelines tried (2 complete, 1 pruned)" in " ".join(html.split())
    assert "standard &gt; random_forest" in html
    assert record["searches"][0]["best"][0]["score"] == 0.94
    robust = sum(v >= 0.75 for v in ROBUSTNESS["icc"].values())
    assert f"{robust} of 24 features keep an ICC(3,1)" in " ".join(html.split())


def test_names_are_spelt_out_for_readers(report):
    html = report.read_text(encoding="utf-8")
    section = html[html.index('id="task-malignant"') : html.index('id="task-diagnosis"')]
    assert "Classes: benign, malignant (positive class: malignant)" in " ".join(section.split())
    assert "<td>benign</td>" in section
    assert "<td>False</td>" not in section
    diagnosis = html[html.index('id="task-diagnosis"') : html.index('id="search"')]
    assert "<td>hepatocellular carcinoma</td>" in diagnosis
    assert "<td>hcc</td>" not in diagnosis


@pytest.mark.slow
def test_same_inputs_give_the_same_bytes(report, inputs, tmp_path):
    again = _write(tmp_path, inputs)
    assert again.read_bytes() == report.read_bytes()
    assert (tmp_path / "metrics.json").read_bytes() == (report.parent / "metrics.json").read_bytes()


def test_cohort_table_counts_patients_lesions_and_malignancy_per_centre(inputs):
    cases, lesions, _ = inputs
    table = cohort_table(cases, lesions)
    joined = lesions.merge(cases, on="case_id")
    for centre, part in joined.groupby("centre"):
        assert table.loc[centre, "patients"] == part["patient_id"].nunique()
        assert table.loc[centre, "lesions"] == len(part)
        assert table.loc[centre, "hcc"] == (part["diagnosis"] == "hcc").sum()
        assert table.loc[centre, "malignant_percent"] == pytest.approx(
            100 * part["malignant"].mean(), abs=0.05
        )
    assert table.loc["all", "lesions"] == len(lesions)


def test_cohort_table_names_missing_columns():
    with pytest.raises(ValueError, match="cases table lacks column"):
        cohort_table(pd.DataFrame({"case_id": ["c"]}), pd.DataFrame({"case_id": ["c"], "diagnosis": ["hcc"]}))
