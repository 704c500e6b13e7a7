"""The validation report: one self-contained HTML file, and ``metrics.json`` with every number in it.

The HTML embeds its CSS and figures (SVG data URIs) and links to nothing, so it can be mailed, archived
with a paper, or opened offline. Text is escaped by Jinja2's autoescaping. The report opens with the
headline numbers in plain words, then the cohort, one section per task and validation scheme (ROC with its
band, precision-recall, confusion matrix, calibration, decision curve, per-centre and per-class tables,
permutation importance), the AutoML search, robustness, the TRIPOD+AI and CLAIM items that software can
fill, a model card, and the methods.

References
----------
Collins GS et al. (2024). TRIPOD+AI statement: updated guidance for reporting clinical prediction models that
use regression or machine learning methods. BMJ 385:e078378.
Tejani AS et al. (2024). Checklist for Artificial Intelligence in Medical Imaging (CLAIM): 2024 update.
Radiol Artif Intell 6:e240300.
Mitchell M et al. (2019). Model cards for model reporting. FAT* 2019:220-229.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import sklearn

from lai import __version__
from lai.data.taxonomy import DIAGNOSES, is_malignant
from lai.files import write_json_atomic, write_text_atomic
from lai.report import figures
from lai.report.figures import class_label, shown
from lai.validation.bootstrap import Estimate, json_number
from lai.validation.crossval import HEADLINE_NAMES, ValidationResult
from lai.validation.metrics import CLASS_METRIC_NAMES

REPORT_FILE = "report.html"
METRICS_FILE = "metrics.json"

TASK_TITLES = {"malignant": "Benign vs malignant", "diagnosis": "Lesion type"}
"""Section titles of the usual targets; other targets are titled by their column name."""

SCHEME_TITLES = {
    "repeated-split": "Repeated random splits (internal validation)",
    "kfold": "Cross-validation (internal validation)",
    "leave-centre-out": "Leave-centre-out (each centre unseen in training)",
    "temporal": "Temporal validation (trained on earlier, tested on later examinations)",
    "external": "External validation (a separate test set)",
}

SCHEME_PLAIN = {
    "repeated-split": "averaged over random train/test splits of the same centres",
    "kfold": "in cross-validation on the same centres",
    "leave-centre-out": "on centres the model was never trained on",
    "temporal": "on the most recent examinations, with training on earlier ones only",
    "external": "on a separate external test set",
}

METRIC_LABELS = {
    "auc": "AUC",
    "auc_delong": "AUC (DeLong interval)",
    "balanced_accuracy": "Balanced accuracy",
    "macro_f1": "Macro F1",
    "cohen_kappa": "Cohen's kappa",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "Positive predictive value",
    "npv": "Negative predictive value",
    "brier": "Brier score (lower is better)",
    "f1": "F1",
}

CENTRE_COLUMNS: tuple[str, ...] = ("auc", "sensitivity", "specificity", "balanced_accuracy", "brier")
"""Metrics of the per-centre table."""


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


# --- Display helpers ---


def _interval(estimate: Estimate, digits: int = 3) -> dict[str, str]:
    """Return an estimate's value and 95% CI as display strings (an en dash where undefined)."""
    return {
        "value": shown(estimate.value, digits),
        "ci": f"{shown(estimate.ci_low, digits)} to {shown(estimate.ci_high, digits)}",
    }


def _cohort_header(column: str) -> str:
    if column == "malignant_percent":
        return "malignant %"
    if column in DIAGNOSES:
        return DIAGNOSES[column].name
    return column


# --- One task under one scheme ---


def _figure_data(result: ValidationResult) -> dict[str, Any]:
    """Return the numbers behind every figure of a result (they go to metrics.json too)."""
    return {
        "roc": figures.roc_data(result),
        "pr": figures.pr_data(result),
        "calibration": figures.calibration_data(result),
        "decision": figures.decision_data(result),
        "confusion": result.confusion().tolist(),
    }


def _scheme_context(result: ValidationResult, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the template context of one result: tables as display strings and figures as data URIs."""
    auc_label = "AUC" if len(result.classes) == 2 else "AUC (mean of one-vs-rest)"
    labels = {**METRIC_LABELS, "auc": auc_label}
    slug = f"{result.target}-{result.scheme_name}"
    title = TASK_TITLES.get(result.target, result.target)
    names = [n for n in (*HEADLINE_NAMES, "auc_delong") if n in result.metrics]
    centre_sizes = result.predictions.groupby(result.predictions["centre"].astype(str)).size()
    calibration = data["calibration"]
    context: dict[str, Any] = {
        "slug": slug,
        "scheme_name": result.scheme_name,
        "scheme_title": SCHEME_TITLES.get(result.scheme_name, result.scheme_name),
        "scheme": result.scheme,
        "metrics": [
            {"name": labels[n], **_interval(result.metrics[n]), "method": result.metrics[n].method}
            for n in names
        ],
        "centre_names": [labels[n] for n in CENTRE_COLUMNS],
        "per_centre": [
            {
                "centre": centre,
                "n": int(centre_sizes.get(centre, 0)),
                "cells": [_interval(values[n], 2) for n in CENTRE_COLUMNS],
            }
            for centre, values in result.per_centre.items()
        ],
        "class_metric_names": [METRIC_LABELS[n] for n in CLASS_METRIC_NAMES],
        "per_class": [
            {
                "label": class_label(result.target, label),
                "cells": [_interval(values[n], 2) for n in CLASS_METRIC_NAMES],
            }
            for label, values in result.per_class.items()
        ],
        "per_split": [
            {
                "split": s["split"],
                "held_out": s["held_out"],
                "n_train": s["n_train"],
                "n_test": s["n_test"],
                "auc": shown(s["auc"], 2),
                "balanced_accuracy": shown(s["balanced_accuracy"], 2),
            }
            for s in result.per_split
        ],
        "figures": [
            {
                "id": f"fig-{slug}-roc",
                "src": figures.roc_figure(result, data["roc"]),
                "alt": f"ROC curve, {title}, {result.scheme_name}",
                "caption": (
                    "How well the model ranks lesions: each point is one decision threshold; the closer the curve "
                    "to the top-left corner, the better. The shaded band is the 95% confidence band "
                    "(bootstrap over patients)."
                ),
            },
            {
                "id": f"fig-{slug}-pr",
                "src": figures.pr_figure(result, data["pr"]),
                "alt": f"Precision-recall curve, {title}, {result.scheme_name}",
                "caption": (
                    "Of the lesions called positive, how many truly are (precision), against how many true "
                    "positives are found (sensitivity). Dotted lines: the share of positives, i.e. guessing."
                ),
            },
            {
                "id": f"fig-{slug}-confusion",
                "src": figures.confusion_figure(result),
                "alt": f"Confusion matrix, {title}, {result.scheme_name}",
                "caption": "True class (rows) against the model's most probable class (columns).",
            },
            {
                "id": f"fig-{slug}-calibration",
                "src": figures.calibration_figure(result, calibration),
                "alt": f"Calibration (reliability diagram), {title}, {result.scheme_name}",
                "caption": (
                    "Do predicted probabilities match what happens? Points on the dashed diagonal are perfectly "
                    "calibrated; a slope below 1 means over-confident predictions. Bars: 95% Wilson intervals."
                ),
            },
        ],
        "calibration": [
            {
                "label": class_label(result.target, entry["class"]),
                "intercept": shown(entry["intercept"], 2),
                "slope": shown(entry["slope"], 2),
                "ece": shown(entry["ece"], 3),
            }
            for entry in calibration["classes"]
        ],
        "brier": shown(calibration["brier"], 3),
    }
    if data["decision"] is not None:
        context["figures"].append(
            {
                "id": f"fig-{slug}-decision",
                "src": figures.decision_figure(data["decision"]),
                "alt": f"Decision curve, {title}, {result.scheme_name}",
                "caption": (
                    "Net benefit of acting on the model (e.g. biopsy or treat lesions it calls "
                    f"{data['decision']['event'].split(' (')[0]}) compared with acting on every lesion or on none, "
                    "for each risk threshold at which one would act. Higher is better."
                ),
            }
        )
    importance = result.to_dict()["importance"]
    if importance:
        context["figures"].append(
            {
                "id": f"fig-{slug}-importance",
                "src": figures.importance_figure(importance),
                "alt": f"Permutation feature importance, {title}, {result.scheme_name}",
                "caption": (
                    "Which inputs the model relies on: the drop in AUC on held-out lesions when one group of "
                    "features (an MRI sequence, or a feature family) is shuffled; mean and SD over splits. "
                    "Top 20 groups."
                ),
            }
        )
    # the wide figures (confusion matrix, importance) after the square ones, so those pair up in the grid
    context["figures"].sort(key=lambda figure: figure["id"].endswith(("-confusion", "-importance")))
    return context


def _headline_sentence(result: ValidationResult) -> str:
    """Return the plain-language sentence of a result's AUC, sensitivity and specificity."""
    auc = result.metrics["auc"]
    where = SCHEME_PLAIN.get(result.scheme_name, result.scheme_name)
    if len(result.classes) == 2:
        positive = class_label(result.target, result.classes[1])
        negative = class_label(result.target, result.classes[0])
        sens, spec = result.metrics["sensitivity"], result.metrics["specificity"]
        return (
            f"{where.capitalize()}, the model told {positive} from {negative} lesions with an AUC of "
            f"{shown(auc.value, 2)} (95% CI {shown(auc.ci_low, 2)} to {shown(auc.ci_high, 2)}): a randomly chosen "
            f"{positive} lesion scored higher than a randomly chosen {negative} one {shown(100 * auc.value, 0)}% of "
            f"the time. Calling the more probable class, it found {shown(100 * sens.value, 0)}% of {positive} lesions "
            f"(sensitivity) and cleared {shown(100 * spec.value, 0)}% of {negative} ones (specificity)."
        )
    bacc = result.metrics["balanced_accuracy"]
    return (
        f"{where.capitalize()}, the model named the lesion type among {len(result.classes)} types with a mean "
        f"one-vs-rest AUC of {shown(auc.value, 2)} (95% CI {shown(auc.ci_low, 2)} to {shown(auc.ci_high, 2)}) and a "
        f"balanced accuracy of {shown(100 * bacc.value, 0)}% (chance: {100 / len(result.classes):.0f}%)."
    )


# --- AutoML search, robustness, checklists, model card ---


def search_summary(search: pd.DataFrame, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return the AutoML search of a Model folder in numbers: trials, best pipelines, feature groups chosen.

    Parameters
    ----------
    search
        The Model folder's ``search.parquet`` (one row per trial; ``score``, ``pipeline``, optionally
        ``state``, ``duration``, ``ensemble_weight``).
    meta
        Its ``model.json`` (``metric``, ``budget``, ``preset``, ``feature_groups`` when recorded).
    """
    if "score" not in search.columns:
        search = search.assign(score=np.nan)
    scored = search.assign(score=pd.to_numeric(search["score"], errors="coerce"))
    best = scored.dropna(subset=["score"]).sort_values("score", ascending=False, kind="stable").head(5)
    states = (
        search["state"].value_counts().sort_index() if "state" in search.columns else pd.Series(dtype=int)
    )
    groups = [
        {
            "dimension": str(g.get("dimension", "")),
            "group": str(g.get("group", "")),
            "n_columns": g.get("n_columns"),
            "trials_on": g.get("trials_on"),
            "mean_score_on": json_number(g["mean_score_on"]) if g.get("mean_score_on") is not None else None,
            "mean_score_off": json_number(g["mean_score_off"])
            if g.get("mean_score_off") is not None
            else None,
            "ensemble_weight": json_number(g["ensemble_weight"])
            if g.get("ensemble_weight") is not None
            else None,
        }
        for g in meta.get("feature_groups", []) or []
    ]
    return {
        "target": str(meta.get("target", "")),
        "metric": str(meta.get("metric", "score")),
        "budget": meta.get("budget"),
        "max_trials": (meta.get("params") or {}).get("max_trials"),
        "preset": meta.get("preset"),
        "n_trials": len(search),
        "states": {str(k): int(v) for k, v in states.items()},
        "scores": _floats_or_none(scored["score"]),
        "best": [
            {
                "pipeline": str(row.get("pipeline", "")),
                "score": json_number(row["score"]),
                "duration": json_number(row["duration"]) if "duration" in row else None,
                "ensemble_weight": json_number(row["ensemble_weight"]) if "ensemble_weight" in row else None,
            }
            for _, row in best.iterrows()
        ],
        "ensemble": meta.get("ensemble", {}).get("members", [])
        if isinstance(meta.get("ensemble"), dict)
        else [],
        "feature_groups": groups,
    }


def _floats_or_none(values: Any) -> list[float | None]:
    return [json_number(v) for v in np.asarray(values, dtype=np.float64)]


def _search_context(summary: Mapping[str, Any]) -> dict[str, Any]:
    scores = pd.DataFrame({"score": [np.nan if s is None else s for s in summary["scores"]]})
    target = summary["target"]
    groups = sorted(summary["feature_groups"], key=lambda g: -(g["ensemble_weight"] or 0.0))
    return {
        "target": target,
        "title": TASK_TITLES.get(target, target),
        "metric": summary["metric"],
        "limit": _search_limit(summary.get("budget"), summary.get("max_trials")),
        "preset": summary["preset"],
        "n_trials": summary["n_trials"],
        "states": ", ".join(f"{n} {s}" for s, n in summary["states"].items()),
        "best": [
            {
                **b,
                "score": shown(b["score"], 3),
                "duration": shown(b["duration"], 1),
                "ensemble_weight": shown(b["ensemble_weight"], 2),
            }
            for b in summary["best"]
        ],
        "groups": [
            {
                **g,
                "mean_score_on": shown(g["mean_score_on"], 3),
                "mean_score_off": shown(g["mean_score_off"], 3),
                "ensemble_weight": shown(g["ensemble_weight"], 2),
            }
            for g in groups[:20]
        ],
        "figure": figures.search_figure(scores, summary["metric"]) if scores["score"].notna().any() else None,
    }


def _search_limit(budget: Any, max_trials: Any) -> str:
    """Return the search's stopping rule in words: a time budget, a number of trials, or both."""
    parts = []
    if budget is not None:
        parts.append(f"a budget of {float(budget):g} s")
    if max_trials is not None:
        parts.append(f"at most {int(max_trials)} trials")
    return " and ".join(parts) or "no limit"


def _robustness_context(robustness: Mapping[str, Any]) -> dict[str, Any]:
    icc = pd.Series(robustness["icc"], dtype=float)
    threshold = float(robustness.get("threshold", 0.75))
    shifts = robustness.get("shifts")
    finite = icc.dropna()
    return {
        "n_features": int(icc.size),
        "n_robust": int((finite >= threshold).sum()),
        "threshold": threshold,
        "median_icc": shown(float(finite.median()) if finite.size else float("nan"), 2),
        "perturbations": ", ".join(robustness.get("perturbations", [])),
        "n_lesions": robustness.get("n_lesions"),
        "median_shift": shown(float(np.median(shifts)) if shifts else float("nan"), 3),
        "max_shift": shown(float(np.max(shifts)) if shifts else float("nan"), 3),
        "figure": figures.robustness_figure(finite.to_numpy(), shifts, threshold),
    }


def checklist_items(
    *,
    cases: pd.DataFrame,
    lesions: pd.DataFrame,
    results: Sequence[ValidationResult],
    provenance: Mapping[str, Any],
    searches: Sequence[Mapping[str, Any]],
) -> list[dict[str, str]]:
    """Return the TRIPOD+AI and CLAIM items software can fill, each with the text LAI filled in.

    Only what the data and the run determine is filled: sources, dates, counts, prevalence, missing data,
    splits and leakage controls, preprocessing, the model search, versions and seeds, performance with
    intervals, calibration and per-centre results. Everything else (rationale, eligibility, reference
    standard, ethics, clinical use) remains the authors' to write.
    """
    dates = pd.to_datetime(cases["study_date"], errors="coerce") if "study_date" in cases.columns else None
    date_text = (
        f"study dates {dates.min().date().isoformat()} to {dates.max().date().isoformat()}"
        if dates is not None and dates.notna().any()
        else "study dates not recorded"
    )
    centres = sorted(cases["centre"].astype(str).unique())
    equipment = [
        f"{column.replace('_', ' ')}: {', '.join(sorted(cases[column].astype(str).unique()))}"
        for column in ("vendor", "field_strength")
        if column in cases.columns
    ]
    prevalence = []
    for target in dict.fromkeys(r.target for r in results):
        # the result that tested the most lesions (leave-centre-out and k-fold test every lesion)
        result = max((r for r in results if r.target == target), key=lambda r: len(r.predictions))
        counts = result.predictions["y_true"].astype(str).value_counts()
        parts = [f"{class_label(result.target, c)} {int(counts.get(str(c), 0))}" for c in result.classes]
        prevalence.append(f"{TASK_TITLES.get(result.target, result.target)}: " + ", ".join(parts))
    missing = provenance.get("missing_features")
    schemes = list(dict.fromkeys(r.scheme[0].upper() + r.scheme[1:] for r in results))
    performance = [
        f"{TASK_TITLES.get(r.target, r.target)}, {r.scheme_name}: AUC {shown(r.metrics['auc'].value)} "
        f"({shown(r.metrics['auc'].ci_low)} to {shown(r.metrics['auc'].ci_high)}; {r.metrics['auc'].method})"
        for r in results
    ]
    calibration = []
    for r in results:
        if len(r.classes) == 2:
            data = figures.calibration_data(r)["classes"][0]
            calibration.append(
                f"{TASK_TITLES.get(r.target, r.target)}, {r.scheme_name}: intercept {shown(data['intercept'], 2)}, "
                f"slope {shown(data['slope'], 2)}, ECE {shown(data['ece'])}"
            )
    search_text = (
        "; ".join(
            f"{TASK_TITLES.get(s['target'], s['target'])}: {s['n_trials']} pipelines tried, metric {s['metric']}, "
            f"{_search_limit(s.get('budget'), s.get('max_trials'))}, preset {s['preset']}"
            for s in searches
        )
        or "the estimator given was fitted as is in every split (no search recorded)"
    )
    harmonisation = _harmonisation_text(results)
    versions = (
        f"LAI {__version__}, Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"scikit-learn {sklearn.__version__}; seed {provenance.get('seed', 'not recorded')}"
    )
    rows = [
        (
            "TRIPOD+AI",
            "Data sources",
            f"dataset {provenance.get('dataset', 'unnamed')} "
            f"{provenance.get('dataset_version') or ''}; {len(centres)} centre(s): {', '.join(centres)}"
            + (f"; {'; '.join(equipment)}" if equipment else ""),
        ),
        ("TRIPOD+AI", "Data dates", date_text),
        (
            "TRIPOD+AI / CLAIM",
            "Participants and inclusion counts",
            f"{cases['patient_id'].nunique()} patients, {cases['case_id'].nunique()} examinations, "
            f"{len(lesions)} lesions (per centre in the cohort table)",
        ),
        ("TRIPOD+AI", "Outcome prevalence", "; ".join(prevalence)),
        (
            "TRIPOD+AI / CLAIM",
            "Missing data",
            (
                f"{missing['features_with_missing']} of {missing['features']} features undefined for at least one "
                f"lesion ({missing['lesions_with_missing']} lesions affected, {100 * missing['fraction']:.2f}% of values); "
                "imputed inside each training fold by the model pipeline"
            )
            if isinstance(missing, Mapping)
            else "not summarised for this run",
        ),
        (
            "TRIPOD+AI / CLAIM",
            "Data partitions and leakage control",
            "; ".join(schemes)
            + ". Every split keeps all lesions of a patient on one side; all preprocessing, "
            "feature selection and model search are refitted inside each training split.",
        ),
        (
            "TRIPOD+AI / CLAIM",
            "Predictors and preprocessing",
            f"{provenance.get('features', 'unknown number of')} radiomics features per lesion"
            + (
                f"; extraction parameters hash {provenance['extraction_hash']}"
                if provenance.get("extraction_hash")
                else ""
            )
            + f"; {harmonisation}",
        ),
        ("TRIPOD+AI / CLAIM", "Model type, building and tuning", search_text),
        ("TRIPOD+AI / CLAIM", "Software versions and seeds", versions),
        ("TRIPOD+AI / CLAIM", "Performance with confidence intervals", "; ".join(performance)),
        (
            "TRIPOD+AI",
            "Calibration",
            "; ".join(calibration) or "reliability per class in the calibration figures",
        ),
        (
            "TRIPOD+AI / CLAIM",
            "Heterogeneity across centres",
            "per-centre tables in each task section; leave-centre-out results when computed",
        ),
    ]
    return [{"guideline": g, "topic": t, "content": c, "status": "filled by LAI"} for g, t, c in rows]


def _harmonisation_text(results: Sequence[ValidationResult]) -> str:
    """Return whether and how the features were harmonised across centres, per scheme when it differs."""
    used = {r.harmonisation for r in results if r.harmonisation}
    if not used:
        return "no harmonisation across centres (features as extracted)"
    schemes = ", ".join(dict.fromkeys(r.scheme_name for r in results if r.harmonisation))
    unseen = sum(len(r.notes) for r in results if r.harmonisation)
    text = "; ".join(sorted(used)) + f" ({schemes})"
    if len(used) < len({r.harmonisation for r in results}):
        text += "; the other schemes without harmonisation"
    if unseen:
        text += f"; {unseen} test centre(s) absent from their split's training (notes in metrics.json)"
    return text


def model_card(
    results: Sequence[ValidationResult], provenance: Mapping[str, Any], searches: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """Return the model card (Mitchell et al. 2019) as (field, text) rows."""
    targets = list(dict.fromkeys(r.target for r in results))
    estimator = results[0].estimator if results else ""
    synthetic = "synth" in str(provenance.get("dataset", "")).lower()
    evaluation = "; ".join(
        f"{TASK_TITLES.get(r.target, r.target)} ({r.scheme_name}): AUC {shown(r.metrics['auc'].value, 2)} "
        f"[{shown(r.metrics['auc'].ci_low, 2)}, {shown(r.metrics['auc'].ci_high, 2)}]"
        for r in results
    )
    ensemble = "; ".join(
        f"{TASK_TITLES.get(s['target'], s['target'])}: "
        + ", ".join(
            f"{m.get('pipeline', '')} (weight {float(m.get('weight', 0)):.2f})" for m in s["ensemble"][:5]
        )
        for s in searches
        if s["ensemble"]
    )
    return [
        {"field": "Model", "text": f"{estimator}" + (f"; final ensembles: {ensemble}" if ensemble else "")},
        {"field": "Tasks", "text": ", ".join(TASK_TITLES.get(t, t) for t in targets)},
        {
            "field": "Intended use",
            "text": "Research on MRI of focal liver lesions; a second opinion to study, "
            "not a medical device. Not for diagnosing individual patients.",
        },
        {
            "field": "Training data",
            "text": f"{provenance.get('dataset', 'unnamed dataset')}"
            + (" (synthetic: no real patients)" if synthetic else ""),
        },
        {"field": "Evaluation", "text": evaluation},
        {
            "field": "Known limitations",
            "text": "Performance can drop at centres, scanners and protocols unlike the "
            "training ones (compare the leave-centre-out and per-centre results); probabilities need "
            "recalibration before use at a new site (see the calibration slope)."
            + (" Results on synthetic data say nothing about clinical performance." if synthetic else ""),
        },
        {
            "field": "Ethical considerations",
            "text": "Patient identifiers are never stored in LAI's outputs; "
            "check fairness across patient groups (sex, age, cirrhosis) before any clinical study.",
        },
        {"field": "Version", "text": f"LAI {__version__}, seed {provenance.get('seed', 'not recorded')}"},
    ]


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
    searches: Sequence[Mapping[str, Any]] = (),
    robustness: Mapping[str, Any] | None = None,
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
        Validation results, one per task and scheme (``lai.validation.schemes.validate``), in the order
        shown; the first scheme of each task is its headline.
    provenance
        What produced the results: ``dataset``, ``dataset_version`` and ``seed`` appear in the header,
        every key in the provenance table and in ``metrics.json``. ``date`` (ISO) replaces today's date;
        ``missing_features`` (``features``, ``features_with_missing``, ``lesions_with_missing``,
        ``fraction``) fills the missing-data item.
    searches
        ``search_summary`` of each task's Model folder, when the model came from an AutoML search.
    robustness
        ``icc`` (feature name to ICC), ``threshold``, ``shifts`` (per-lesion largest probability change, or
        None), ``perturbations`` (names), ``n_lesions``; None when no robustness study was run.
    """
    out = Path(out_dir)
    created = str(provenance.get("date") or datetime.now(UTC).date().isoformat())
    cohort = cohort_table(cases, lesions)
    data = [_figure_data(r) for r in results]
    tasks: dict[str, dict[str, Any]] = {}
    for result, numbers in zip(results, data, strict=True):
        task = tasks.setdefault(
            result.target,
            {
                "target": result.target,
                "title": TASK_TITLES.get(result.target, result.target),
                "classes": [class_label(result.target, c) for c in result.classes],
                "positive": class_label(result.target, result.classes[1])
                if len(result.classes) == 2
                else None,
                "n_lesions": len(result.predictions),
                "n_patients": int(result.predictions["patient_id"].nunique()),
                "headline": _headline_sentence(result),
                "schemes": [],
                "summary": [],
            },
        )
        task["schemes"].append(_scheme_context(result, numbers))
        task["summary"].append(
            {
                "scheme": SCHEME_TITLES.get(result.scheme_name, result.scheme_name),
                "cells": [
                    _interval(result.metrics[n], 2)
                    for n in ("auc", "sensitivity", "specificity", "balanced_accuracy", "brier")
                ],
            }
        )
    items = checklist_items(
        cases=cases, lesions=lesions, results=results, provenance=provenance, searches=searches
    )
    card = model_card(results, provenance, searches)
    html = (
        _environment()
        .get_template(REPORT_FILE)
        .render(
            title=title,
            created=created,
            lai_version=__version__,
            provenance={str(k): str(v) for k, v in provenance.items()},
            dataset=str(provenance.get("dataset") or "unnamed dataset"),
            dataset_version=""
            if provenance.get("dataset_version") is None
            else str(provenance["dataset_version"]),
            seed="" if provenance.get("seed") is None else str(provenance["seed"]),
            cohort_columns=[_cohort_header(c) for c in cohort.columns],
            cohort_rows=[
                {"centre": centre, "cells": ["\u2013" if pd.isna(v) else v for v in row]}
                for centre, row in zip(cohort.index, cohort.itertuples(index=False), strict=True)
            ],
            tasks=list(tasks.values()),
            searches=[_search_context(s) for s in searches],
            robustness=_robustness_context(robustness) if robustness is not None else None,
            checklist=items,
            model_card=card,
            n_resamples=results[0].n_resamples if results else 0,
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
        "results": [{**r.to_dict(), "figures": numbers} for r, numbers in zip(results, data, strict=True)],
        "searches": list(searches),
        "robustness": _robustness_record(robustness),
        "checklist": items,
        "model_card": card,
    }
    write_json_atomic(out / METRICS_FILE, metrics)
    write_text_atomic(out / REPORT_FILE, html)
    return out / REPORT_FILE


def _robustness_record(robustness: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if robustness is None:
        return None
    return {
        "icc": {str(k): json_number(v) for k, v in dict(robustness["icc"]).items()},
        "threshold": float(robustness.get("threshold", 0.75)),
        "shifts": None if robustness.get("shifts") is None else _floats_or_none(robustness["shifts"]),
        "perturbations": list(robustness.get("perturbations", [])),
        "n_lesions": robustness.get("n_lesions"),
    }
