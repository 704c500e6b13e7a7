"""Report figures: the numbers behind each figure, and the figure as a self-contained SVG data URI.

Each figure has a ``*_data`` function returning its numbers as JSON-ready lists (they go to
``metrics.json`` too, so every plotted point can be checked) and a ``*_figure`` function drawing exactly
those numbers. Figures are drawn on matplotlib's object API with the Agg canvas (no pyplot state, no
display) and saved as SVG with a fixed hash salt and no date, so the same result always gives the same bytes.

References
----------
Fawcett T (2006). An introduction to ROC analysis. Pattern Recogn Lett 27:861-874.
Saito T, Rehmsmeier M (2015). The precision-recall plot is more informative than the ROC plot when
evaluating binary classifiers on imbalanced datasets. PLoS One 10:e0118432.
Van Calster B et al. (2019). Calibration: the Achilles heel of predictive analytics. BMC Med 17:230.
Vickers AJ, Elkin EB (2006). Decision curve analysis. Med Decis Making 26:565-574.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any, Literal

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import average_precision_score, precision_recall_curve

from lai.data.taxonomy import DIAGNOSES
from lai.validation.bootstrap import cluster_codes, cluster_resample_counts, json_number
from lai.validation.calibration import (
    calibration_intercept_slope,
    expected_calibration_error,
    reliability_curve,
)
from lai.validation.crossval import ValidationResult
from lai.validation.decision import decision_curve
from lai.validation.metrics import brier_score
from lai.validation.roc import FPR_GRID, roc_band, roc_curve, tpr_at

_MALIGNANT_LABELS = {"False": "benign", "True": "malignant"}


def class_label(target: str, value: object) -> str:
    """Return how a class is shown to readers: benign / malignant, or the lesion type spelt out."""
    text = str(value)
    if target == "malignant":
        return _MALIGNANT_LABELS.get(text, text)
    if text in DIAGNOSES:
        return DIAGNOSES[text].name
    return text


_STYLE: dict[Any, Any] = {
    "svg.hashsalt": "lai-report",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def svg_data_uri(figure: Figure) -> str:
    """Return the figure as a ``data:image/svg+xml;base64,...`` URI, with deterministic bytes."""
    buffer = io.BytesIO()
    with mpl.rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Figure:
    with mpl.rc_context(_STYLE):
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(figure)
    return figure


def shown(number: float | None, digits: int = 3) -> str:
    """Return a number rounded for display (no negative zero), an en dash when undefined (None or NaN)."""
    if number is None or not np.isfinite(number):
        return "\u2013"
    return f"{round(float(number), digits) + 0.0:.{digits}f}"


def _legend(axes: Any, binary: bool, loc: str) -> None:
    """Place the legend inside the axes for one curve, below them for one curve per class."""
    if binary:
        axes.legend(loc=loc, fontsize=6.5, frameon=False)
    else:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=6.5, frameon=False)


def _floats(values: Any) -> list[float | None]:
    """Return an array as a JSON-ready list (``None`` for NaN)."""
    return [json_number(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def _positive_columns(result: ValidationResult) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return (label, is-positive, score) per curve: the positive class if binary, each class otherwise."""
    truth = result.predictions["y_true"].astype(str).to_numpy()
    labels = result.classes[1:] if len(result.classes) == 2 else result.classes
    return [
        (str(label), truth == str(label), result.predictions[f"proba_{label}"].to_numpy(dtype=np.float64))
        for label in labels
    ]


# --- ROC ---


def roc_data(result: ValidationResult, band_resamples: int = 500) -> dict[str, Any]:
    """Return the ROC curves of a result and the 95% pointwise cluster-bootstrap band.

    Binary targets: one curve (positive class ``classes[1]``) and its band. Multi-class: one one-vs-rest
    curve per class, their macro average over FPR (``FPR_GRID``) and the band of that average.
    """
    patients = result.predictions["patient_id"].astype(str)
    curves = []
    for label, positive, score in _positive_columns(result):
        if positive.all() or not positive.any():
            continue
        fpr, tpr = roc_curve(positive, score)
        curves.append({"class": label, "fpr": _floats(fpr), "tpr": _floats(tpr)})
    data: dict[str, Any] = {"grid": _floats(FPR_GRID), "curves": curves}
    if len(result.classes) == 2 and curves:
        _, positive, score = _positive_columns(result)[0]
        low, high = roc_band(positive, score, patients, n_resamples=band_resamples, seed=result.seed)
        data["band_low"], data["band_high"] = _floats(low), _floats(high)
    elif curves:
        mean = np.mean([tpr_at(np.array(c["fpr"]), np.array(c["tpr"])) for c in curves], axis=0)
        low, high = _macro_band(result, band_resamples)
        data["macro_tpr"], data["band_low"], data["band_high"] = _floats(mean), _floats(low), _floats(high)
    return data


def _macro_band(result: ValidationResult, n_resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the pointwise 95% band of the macro-average one-vs-rest ROC curve, resampling patients."""
    codes = cluster_codes(result.predictions["patient_id"].astype(str))
    weights = cluster_resample_counts(int(codes.max()) + 1, n_resamples, result.seed)[:, codes].astype(float)
    per_class = []
    for _, positive, score in _positive_columns(result):
        if positive.all() or not positive.any():
            continue
        fpr, tpr = roc_curve(positive, score, weights)
        per_class.append(
            np.array(
                [
                    tpr_at(f, t)
                    if np.isfinite(t[-1]) and np.isfinite(f[-1])
                    else np.full(FPR_GRID.size, np.nan)
                    for f, t in zip(fpr, tpr, strict=True)
                ]
            )
        )
    stacked = np.stack(per_class)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(stacked).sum(axis=0)
        macro = np.where(counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan)
    valid = macro[np.isfinite(macro).all(axis=1)]
    low, high = np.quantile(valid, [0.025, 0.975], axis=0)
    return low, high


def roc_figure(result: ValidationResult, data: dict[str, Any]) -> str:
    """Return the ROC figure drawn from ``roc_data``: curve(s), band, chance line, AUC with its CI."""
    auc = result.metrics["auc"]
    with mpl.rc_context(_STYLE):
        figure = _new_figure(4.4, 4.2)
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1, label="chance")
        grid = np.array(data["grid"], dtype=float)
        if "band_low" in data:
            label = "95% band (bootstrap)" if len(result.classes) == 2 else "95% band of the mean"
            axes.fill_between(
                grid,
                np.array(data["band_low"], dtype=float),
                np.array(data["band_high"], dtype=float),
                step="post",
                color="C0",
                alpha=0.2,
                label=label,
            )
        if len(result.classes) == 2:
            for curve in data["curves"]:
                axes.step(
                    curve["fpr"],
                    curve["tpr"],
                    where="post",
                    color="C0",
                    linewidth=1.8,
                    label=f"AUC {shown(auc.value, 2)} ({shown(auc.ci_low, 2)} to {shown(auc.ci_high, 2)})",
                )
            axes.set_title(
                f"ROC: {class_label(result.target, result.classes[1])} vs {class_label(result.target, result.classes[0])}"
            )
        else:
            for index, curve in enumerate(data["curves"]):
                class_auc = result.per_class[curve["class"]]["auc"].value
                axes.step(
                    curve["fpr"],
                    curve["tpr"],
                    where="post",
                    color=f"C{(index + 1) % 10}",
                    linewidth=0.9,
                    alpha=0.8,
                    label=f"{class_label(result.target, curve['class'])} ({shown(class_auc, 2)})",
                )
            if "macro_tpr" in data:
                axes.plot(
                    grid,
                    np.array(data["macro_tpr"], dtype=float),
                    color="black",
                    linewidth=2,
                    label=f"mean ({shown(auc.value, 2)}, {shown(auc.ci_low, 2)} to {shown(auc.ci_high, 2)})",
                )
            axes.set_title("ROC: each lesion type against the rest")
        axes.set_xlabel("1 - specificity (false-positive rate)")
        axes.set_ylabel("sensitivity (true-positive rate)")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.01)
        axes.set_aspect("equal")
        _legend(axes, len(result.classes) == 2, "lower right")
    return svg_data_uri(figure)


# --- Precision-recall ---


def pr_data(result: ValidationResult) -> dict[str, Any]:
    """Return precision-recall curves (one per positive class) with average precision and prevalence."""
    curves = []
    for label, positive, score in _positive_columns(result):
        if positive.all() or not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, score)
        curves.append(
            {
                "class": label,
                "recall": _floats(recall),
                "precision": _floats(precision),
                "average_precision": json_number(average_precision_score(positive, score)),
                "prevalence": json_number(positive.mean()),
            }
        )
    return {"curves": curves}


def pr_figure(result: ValidationResult, data: dict[str, Any]) -> str:
    """Return the precision-recall figure drawn from ``pr_data``, with each class's prevalence (chance)."""
    with mpl.rc_context(_STYLE):
        figure = _new_figure(4.4, 4.2)
        axes = figure.add_subplot()
        binary = len(result.classes) == 2
        for index, curve in enumerate(data["curves"]):
            colour = "C0" if binary else f"C{(index + 1) % 10}"
            name = class_label(result.target, curve["class"])
            axes.step(
                curve["recall"],
                curve["precision"],
                where="post",
                color=colour,
                linewidth=1.8 if binary else 0.9,
                label=f"{name} (AP {shown(curve['average_precision'], 2)})",
            )
            axes.axhline(curve["prevalence"], color=colour, linestyle=":", linewidth=0.8)
        axes.set_xlabel("sensitivity (recall)")
        axes.set_ylabel("positive predictive value (precision)")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.set_title("Precision-recall" + ("" if binary else ", each type against the rest"))
        _legend(axes, binary, "lower left")
    return svg_data_uri(figure)


# --- Confusion matrix ---


def confusion_figure(result: ValidationResult) -> str:
    """Return the confusion matrix as an SVG data URI: counts (left) and row-normalised (right)."""
    counts = result.confusion()
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = counts / counts.sum(axis=1, keepdims=True)
    labels = [class_label(result.target, c) for c in result.classes]
    size = max(3.4, 2.4 + 0.42 * len(labels))
    font = 9 if len(labels) <= 3 else 7
    with mpl.rc_context(_STYLE):
        figure = _new_figure(2 * size, size)
        for axes, values, title, fmt in zip(
            figure.subplots(1, 2),
            (counts, rates),
            ("number of lesions", "share of each true class (sensitivity on the diagonal)"),
            ("{:.0f}", "{:.2f}"),
            strict=True,
        ):
            scaled = values / max(float(np.nanmax(values)), 1e-12)
            axes.imshow(np.nan_to_num(scaled), cmap="Blues", vmin=0, vmax=1)
            for (row, column), value in np.ndenumerate(values):
                if np.isfinite(value):
                    colour = "white" if scaled[row, column] > 0.6 else "black"
                    axes.text(
                        column, row, fmt.format(value), ha="center", va="center", color=colour, fontsize=font
                    )
            axes.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=font)
            axes.set_yticks(range(len(labels)), labels, fontsize=font)
            axes.set_xlabel("predicted")
            axes.set_ylabel("true")
            axes.set_title(title, fontsize=8)
            axes.spines[:].set_visible(False)
    return svg_data_uri(figure)


# --- Calibration ---


def calibration_data(result: ValidationResult, n_bins: int = 10) -> dict[str, Any]:
    """Return the reliability curve(s), calibration intercept and slope, ECE and Brier score.

    Binary: the positive class, ``n_bins`` quantile bins. Multi-class: each class against the rest with
    ``max(3, n_bins // 2)`` equal-width bins (most one-vs-rest probabilities are near 0, so quantile bins
    would crowd there).
    """
    codes = result.class_codes()
    proba = result.probabilities()
    binary = len(result.classes) == 2
    bins = n_bins if binary else max(3, n_bins // 2)
    strategy: Literal["quantile", "uniform"] = "quantile" if binary else "uniform"
    classes: list[dict[str, Any]] = []
    for k, label in enumerate(result.classes):
        if binary and k == 0:
            continue
        event = (codes == k).astype(int)
        p = proba[:, k]
        curve = reliability_curve(event, p, n_bins=bins, strategy=strategy)
        intercept, slope = calibration_intercept_slope(event, p)
        classes.append(
            {
                "class": str(label),
                "prevalence": json_number(event.mean()),
                "intercept": json_number(float(intercept)),
                "slope": json_number(float(slope)),
                "ece": json_number(float(expected_calibration_error(event, p, n_bins=n_bins))),
                "points": [
                    {k2: (json_number(v) if isinstance(v, float) else int(v)) for k2, v in row.items()}
                    for row in curve.to_dict(orient="records")
                ],
            }
        )
    return {
        "n_bins": bins,
        "strategy": strategy,
        "brier": json_number(float(brier_score(codes, proba))),
        "classes": classes,
    }


def calibration_figure(result: ValidationResult, data: dict[str, Any]) -> str:
    """Return the reliability diagram drawn from ``calibration_data`` (binary: with Wilson intervals)."""
    binary = len(result.classes) == 2
    with mpl.rc_context(_STYLE):
        figure = _new_figure(4.4, 4.2)
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1, label="perfect calibration")
        for index, entry in enumerate(data["classes"]):
            points = pd.DataFrame(entry["points"])
            colour = "C0" if binary else f"C{(index + 1) % 10}"
            name = class_label(result.target, entry["class"])
            if binary:
                axes.errorbar(
                    points["predicted"],
                    points["observed"],
                    yerr=np.clip(
                        [points["observed"] - points["ci_low"], points["ci_high"] - points["observed"]],
                        0.0,
                        None,
                    ),
                    color=colour,
                    marker="o",
                    markersize=4,
                    linewidth=1.4,
                    capsize=2,
                    label=f"{name}: slope {shown(entry['slope'], 2)}, intercept {shown(entry['intercept'], 2)}",
                )
                axes.text(
                    0.02,
                    0.97,
                    f"ECE {shown(entry['ece'])}\nBrier {shown(data['brier'])}",
                    transform=axes.transAxes,
                    va="top",
                    fontsize=7,
                )
            else:
                axes.plot(
                    points["predicted"],
                    points["observed"],
                    color=colour,
                    marker="o",
                    markersize=3,
                    linewidth=0.9,
                    label=f"{name} (slope {shown(entry['slope'], 2)})",
                )
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.set_aspect("equal")
        axes.set_xlabel("predicted probability")
        axes.set_ylabel("observed fraction")
        axes.set_title("Calibration" + ("" if binary else ", each type against the rest"))
        _legend(axes, binary, "lower right")
    return svg_data_uri(figure)


# --- Decision curve ---


def decision_event(result: ValidationResult) -> tuple[str, np.ndarray, np.ndarray] | None:
    """Return (event name, event indicator, predicted probability of the event) for the decision curve.

    Binary targets: the positive class. Lesion type: malignancy, with the probability of malignancy the
    sum of the malignant types' probabilities. Other multi-class targets have no single event: ``None``.
    """
    if len(result.classes) == 2:
        label = result.classes[1]
        event = (result.predictions["y_true"].astype(str) == str(label)).to_numpy().astype(int)
        return (
            class_label(result.target, label),
            event,
            result.predictions[f"proba_{label}"].to_numpy(dtype=float),
        )
    if all(str(c) in DIAGNOSES for c in result.classes):
        malignant = [c for c in result.classes if DIAGNOSES[str(c)].malignant]
        if not malignant or len(malignant) == len(result.classes):
            return None
        event = (
            result.predictions["y_true"].astype(str).isin([str(c) for c in malignant]).to_numpy().astype(int)
        )
        p = result.predictions[[f"proba_{c}" for c in malignant]].to_numpy(dtype=float).sum(axis=1)
        return "malignant (sum of malignant types)", event, np.clip(p, 0.0, 1.0)
    return None


def decision_data(result: ValidationResult) -> dict[str, Any] | None:
    """Return the decision curve (net benefit of the model, treat all, treat none) at thresholds 0.01-0.99."""
    found = decision_event(result)
    if found is None:
        return None
    name, event, p = found
    curve = decision_curve(event, p)
    return {
        "event": name,
        "prevalence": json_number(event.mean()),
        "threshold": _floats(curve["threshold"]),
        "model": _floats(curve["net_benefit"]),
        "treat_all": _floats(curve["treat_all"]),
        "treat_none": _floats(curve["treat_none"]),
    }


def decision_figure(data: dict[str, Any]) -> str:
    """Return the decision curve drawn from ``decision_data``."""
    with mpl.rc_context(_STYLE):
        figure = _new_figure(4.4, 4.2)
        axes = figure.add_subplot()
        threshold = np.array(data["threshold"], dtype=float)
        axes.plot(
            threshold,
            np.array(data["treat_all"], dtype=float),
            color="0.5",
            linewidth=1,
            label=f"treat all as {data['event'].split(' (')[0]}",
        )
        axes.plot(
            threshold,
            np.array(data["treat_none"], dtype=float),
            color="0.2",
            linestyle="--",
            linewidth=1,
            label="treat none",
        )
        axes.plot(threshold, np.array(data["model"], dtype=float), color="C3", linewidth=1.8, label="model")
        top = max(float(data["prevalence"] or 0.0), 0.05) * 1.1
        axes.set_ylim(-0.15 * top, top)
        axes.set_xlim(0, 1)
        axes.set_xlabel("threshold probability (risk at which one would act)")
        axes.set_ylabel("net benefit")
        axes.set_title(f"Decision curve: {data['event']}")
        axes.legend(loc="upper right", fontsize=6.5, frameon=False)
    return svg_data_uri(figure)


# --- Permutation importance ---


def importance_figure(rows: Sequence[dict[str, Any]], top: int = 20) -> str:
    """Return a bar chart of the ``top`` feature groups by mean drop in AUC when permuted (± SD over splits)."""
    bars = list(rows)[:top][::-1]
    with mpl.rc_context(_STYLE):
        figure = _new_figure(5.2, 0.9 + 0.22 * len(bars))
        axes = figure.add_subplot()
        means = np.array([r["auc_drop_mean"] or 0.0 for r in bars])
        sds = np.array([r["auc_drop_sd"] or 0.0 for r in bars])
        axes.barh(range(len(bars)), means, xerr=sds, color="C0", alpha=0.8, error_kw={"linewidth": 0.8})
        axes.set_yticks(range(len(bars)), [r["group"] for r in bars], fontsize=7)
        axes.axvline(0, color="0.3", linewidth=0.8)
        axes.set_xlabel("drop in AUC when shuffled")
        axes.set_title("Permutation importance", fontsize=9)
    return svg_data_uri(figure)


# --- AutoML search and robustness ---


def search_figure(search: pd.DataFrame, metric: str) -> str:
    """Return the search history: each trial's inner-CV score and the best score so far."""
    with mpl.rc_context(_STYLE):
        figure = _new_figure(5.2, 3.0)
        axes = figure.add_subplot()
        trial = np.arange(len(search))
        score = search["score"].to_numpy(dtype=float)
        axes.scatter(trial, score, s=8, color="C0", alpha=0.6, label="trial")
        best = pd.Series(score).cummax().to_numpy()
        axes.step(trial, best, where="post", color="C3", linewidth=1.5, label="best so far")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("trial")
        axes.set_ylabel(f"inner cross-validation {metric}")
        axes.legend(loc="lower right", fontsize=7, frameon=False)
        axes.set_title("AutoML search", fontsize=9)
    return svg_data_uri(figure)


def robustness_figure(icc: Any, shifts: Sequence[float] | None, threshold: float) -> str:
    """Return the ICC distribution of the features (left) and the distribution of prediction shifts (right)."""
    panels = 2 if shifts is not None and len(shifts) else 1
    with mpl.rc_context(_STYLE):
        figure = _new_figure(4.4 * panels, 3.0)
        axes = figure.subplots(1, panels, squeeze=False)[0]
        values = np.asarray(icc, dtype=float)
        values = values[np.isfinite(values)]
        axes[0].hist(
            values, bins=np.linspace(min(0.0, values.min(initial=0.0)), 1.0, 41), color="C0", alpha=0.8
        )
        axes[0].axvline(threshold, color="C3", linewidth=1, label=f"threshold {threshold:.2f}")
        axes[0].set_xlabel("ICC(3,1) under perturbation")
        axes[0].set_ylabel("features")
        axes[0].legend(fontsize=7, frameon=False)
        axes[0].set_title("Feature stability", fontsize=9)
        if panels == 2 and shifts is not None:
            axes[1].hist(np.asarray(shifts, dtype=float), bins=30, color="C2", alpha=0.8)
            axes[1].set_xlabel("largest change of a lesion's predicted probability")
            axes[1].set_ylabel("lesions")
            axes[1].set_title("Prediction stability", fontsize=9)
    return svg_data_uri(figure)
