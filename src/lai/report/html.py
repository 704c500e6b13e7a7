"""The validation report: one self-contained HTML file, and ``metrics.json`` with every number in it.

The HTML embeds its CSS and figures (SVG data URIs) and links to nothing, so it can be mailed, archived
with a paper, or opened offline. Text is escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from lai import __version__
from lai.data.taxonomy import DIAGNOSES, is_malignant
from lai.files import write_json_atomic, write_text_atomic
from lai.report.figures import class_label, confusion_figure, roc_figure
from lai.validation.bootstrap import Estimate
from lai.validation.crossval import ValidationResult
from lai.validation.metrics import CLASS_METRIC_NAMES, METRIC_NAMES

REPORT_FILE = "report.html"
METRICS_FILE = "metrics.json"

TASK_TITLES = {"malignant": "Benign vs malignant", "diagnosis": "Lesion type"}
"""Section titles of the usual targets; other targets are titled by their column name."""

METRIC_LABELS = {
    "auc": "AUC",
    "balanced_accuracy": "Balanced accuracy",
    "macro_f1": "Macro F1",
    "cohen_kappa": "Cohen's kappa",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "f1": "F1",
}


def cohort_table(cases: pd.DataFrame, lesions: pd.DataFrame) -> pd.DataFrame:
    """Return the cohort by centre: patients, cases, lesions, lesions per diagnosis, % malignant; a total row.

    ``cases`` needs ``case_id``, ``patient_id``, ``centre``; ``lesions`` needs ``case_id`` and ``diagnosis``
    (``malignant`` is taken from the taxonomy when absent).
    """
    for name, frame, needed in (
        ("cases", cases, ("case_id", "patient_id", "centre")),
        ("lesions", lesions, ("case_id", "diagnosis")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            msg = f"The {name} table lacks column(s) {', '.join(missing)}"
            raise ValueError(msg)
    joined = lesions.drop(columns=[c for c in ("patient_id", "centre") if c in lesions.columns]).merge(
        cases[["case_id", "patient_id", "centre"]], on="case_id", how="left", validate="many_to_one"
    )
    if "malignant" in joined.columns:
        malignant = joined["malignant"].astype(str).str.lower().isin(("true", "1", "yes"))
    else:
        malignant = joined["diagnosis"].map(is_malignant)
    joined = joined.assign(malignant=malignant.astype(bool), centre=joined["centre"].astype(str))
    codes = [c for c in DIAGNOSES if c in set(joined["diagnosis"])]
    codes += sorted(set(joined["diagnosis"].astype(str)) - set(codes))

    def summary(part: pd.DataFrame, case_part: pd.DataFrame) -> dict[str, Any]:
        row: dict[str, Any] = {
            "patients": int(case_part["patient_id"].nunique()),
            "cases": int(case_part["case_id"].nunique()),
            "lesions": len(part),
        }
        row.update({code: int((part["diagnosis"] == code).sum()) for code in codes})
        row["malignant_percent"] = (
            round(100.0 * float(part["malignant"].mean()), 1) if len(part) else float("nan")
        )
        return row

    rows = {
        centre: summary(joined[joined["centre"] == centre], cases[cases["centre"].astype(str) == centre])
        for centre in sorted(cases["centre"].astype(str).unique())
    }
    rows["all"] = summary(joined, cases)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "centre"
    return table


def _text(value: Any) -> str:
    """Return a provenance value for display: empty when absent."""
    return "" if value is None else str(value)


def _interval(estimate: Estimate) -> dict[str, str]:
    """Return an estimate's value and 95% CI as display strings (an en dash where undefined)."""

    def show(number: float) -> str:
        return f"{number:.3f}" if math.isfinite(number) else "\u2013"

    return {"value": show(estimate.value), "ci": f"{show(estimate.ci_low)} to {show(estimate.ci_high)}"}


def _task(result: ValidationResult) -> dict[str, Any]:
    """Return the template context of one result: tables as display strings and figures as data URIs."""
    auc_label = "AUC" if len(result.classes) == 2 else "AUC (macro one-vs-rest)"
    labels = {**METRIC_LABELS, "auc": auc_label}
    return {
        "title": TASK_TITLES.get(result.target, result.target),
        "target": result.target,
        "classes": [class_label(result.target, c) for c in result.classes],
        "positive": class_label(result.target, result.classes[1]) if len(result.classes) == 2 else None,
        "n_lesions": len(result.predictions),
        "n_patients": int(result.predictions["patient_id"].nunique()),
        "metrics": [{"name": labels[n], **_interval(result.metrics[n])} for n in METRIC_NAMES],
        "metric_names": [labels[n] for n in METRIC_NAMES],
        "per_centre": [
            {"centre": centre, "cells": [_interval(values[n]) for n in METRIC_NAMES]}
            for centre, values in result.per_centre.items()
        ],
        "class_metric_names": [METRIC_LABELS[n] for n in CLASS_METRIC_NAMES],
        "per_class": [
            {
                "label": class_label(result.target, label),
                "cells": [_interval(values[n]) for n in CLASS_METRIC_NAMES],
            }
            for label, values in result.per_class.items()
        ],
        "roc": roc_figure(result),
        "confusion": confusion_figure(result),
        "scheme": result.scheme,
        "estimator": result.estimator,
        "n_resamples": result.n_resamples,
        "interval": result.interval,
        "seed": result.seed,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lai.report", "templates"),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    cases: pd.DataFrame,
    lesions: pd.DataFrame,
    results: Sequence[ValidationResult],
    provenance: Mapping[str, Any],
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/metrics.json``; return the path of the HTML report.

    Parameters
    ----------
    out_dir
        Folder of the report (created if needed).
    title
        Title of the report.
    cases, lesions
        The Dataset's ``cases.csv`` and ``lesions.csv`` tables (the cohort section).
    results
        One validation result per task (e.g. ``malignant``, ``diagnosis``).
    provenance
        What produced the results: ``dataset``, ``dataset_version`` and ``seed`` appear in the header,
        every key in the provenance table and in ``metrics.json``. ``date`` (ISO) replaces today's date.
    """
    out = Path(out_dir)
    created = str(provenance.get("date") or datetime.now(UTC).date().isoformat())
    cohort = cohort_table(cases, lesions)
    html = (
        _environment()
        .get_template(REPORT_FILE)
        .render(
            title=title,
            created=created,
            lai_version=__version__,
            provenance={str(k): str(v) for k, v in provenance.items()},
            dataset=str(provenance.get("dataset") or "unnamed dataset"),
            dataset_version=_text(provenance.get("dataset_version")),
            seed=_text(provenance.get("seed")),
            cohort_columns=list(cohort.columns),
            cohort_rows=[
                {"centre": centre, "cells": ["\u2013" if pd.isna(v) else v for v in row]}
                for centre, row in zip(cohort.index, cohort.itertuples(index=False), strict=True)
            ],
            tasks=[_task(r) for r in results],
        )
    )
    metrics = {
        "title": title,
        "created": created,
        "lai_version": __version__,
        "provenance": dict(provenance),
        "cohort": [
            {"centre": centre, **{k: (None if pd.isna(v) else v) for k, v in row.items()}}
            for centre, row in cohort.to_dict(orient="index").items()
        ],
        "results": [r.to_dict() for r in results],
    }
    write_json_atomic(out / METRICS_FILE, metrics)
    write_text_atomic(out / REPORT_FILE, html)
    return out / REPORT_FILE
