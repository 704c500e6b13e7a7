"""The HTML report: parses, has its sections, is self-contained and escaped; metrics.json matches results."""

from __future__ import annotations

import functools
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from lai.automl import AutoClassifier
from lai.report import cohort_table, write_report
from lai.validation import cross_validate
from synthetic_tables import synthetic_table

PROVENANCE = {"dataset": "synthetic-liver", "dataset_version": "0.3", "seed": 1, "date": "2026-01-02"}


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
        if tag in ("h1", "h2", "h3"):
            self._heading = ""

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading += data


@pytest.fixture(scope="module")
def inputs():
    table = synthetic_table()
    factory = functools.partial(AutoClassifier, random_state=0)
    results = [
        cross_validate(factory, table, target, seed=1, n_resamples=300, scheduler="sync")
        for target in ("malignant", "diagnosis")
    ]
    cases = table.frame[["case_id", "patient_id", "centre"]].drop_duplicates()
    lesions = table.frame[["lesion_id", "case_id", "diagnosis", "malignant"]]
    return cases, lesions, results


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory) -> Path:
    cases, lesions, results = inputs
    out = tmp_path_factory.mktemp("report")
    return write_report(
        out,
        title="Liver <lesions> & co",
        cases=cases,
        lesions=lesions,
        results=results,
        provenance=PROVENANCE,
    )


def outline(path: Path) -> Outline:
    parser = Outline()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_report_parses_and_holds_every_section(report):
    parsed = outline(report)
    assert {"cohort", "task-malignant", "task-diagnosis", "provenance"} <= set(parsed.ids)
    assert parsed.headings[:3] == ["Liver <lesions> & co", "Cohort", "Benign vs malignant"]
    assert "Lesion type" in parsed.headings
    for heading in ("Headline metrics", "Per centre", "Per class (each class against the rest)", "Methods"):
        assert parsed.headings.count(heading) == 2
    text = " ".join(parsed.text)
    for words in ("2026-01-02", "synthetic-liver", "0.3", "seed 1", "grouped by patient", "Efron"):
        assert words in text
    assert parsed.tags.count("img") == 4


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    parsed = outline(report)
    sources = [value for tag, name, value in parsed.attributes if name in ("src", "href")]
    assert sources and all(value.startswith("data:image/svg+xml;base64,") for value in sources)
    assert "script" not in parsed.tags and "link" not in parsed.tags


def test_title_is_escaped(report):
    html = report.read_text(encoding="utf-8")
    assert "Liver &lt;lesions&gt; &amp; co" in html
    assert "<lesions>" not in html


def test_metrics_json_equals_the_results(report, inputs):
    _, _, results = inputs
    record = json.loads((report.parent / "metrics.json").read_text(encoding="utf-8"))
    assert record["provenance"] == PROVENANCE
    assert len(record["results"]) == 2
    for result, saved in zip(results, record["results"], strict=True):
        assert saved["target"] == result.target
        for name, estimate in result.metrics.items():
            assert saved["metrics"][name]["value"] == estimate.value
            assert saved["metrics"][name]["ci_low"] == estimate.ci_low
            assert saved["metrics"][name]["ci_high"] == estimate.ci_high
        for centre, metrics in result.per_centre.items():
            assert (
                saved["per_centre"][centre]["balanced_accuracy"]["value"]
                == metrics["balanced_accuracy"].value
            )


def test_headline_auc_is_shown_with_its_interval(report, inputs):
    _, _, results = inputs
    auc = results[0].metrics["auc"]
    assert f"{auc.value:.3f}" in report.read_text(encoding="utf-8")
    assert f"{auc.ci_low:.3f} to {auc.ci_high:.3f}" in report.read_text(encoding="utf-8")


def test_same_inputs_give_the_same_bytes(report, inputs, tmp_path):
    cases, lesions, results = inputs
    again = write_report(
        tmp_path,
        title="Liver <lesions> & co",
        cases=cases,
        lesions=lesions,
        results=results,
        provenance=PROVENANCE,
    )
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


def test_malignancy_classes_are_shown_as_benign_and_malignant(report):
    html = report.read_text(encoding="utf-8")
    section = html[html.index('id="task-malignant"') : html.index('id="task-diagnosis"')]
    assert "classes: benign, malignant (positive class: malignant)" in section
    assert "<td>benign</td>" in section
    assert "<td>False</td>" not in section
