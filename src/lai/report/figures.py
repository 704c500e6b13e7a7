"""Report figures: ROC curves and confusion matrices as self-contained SVG data URIs.

Figures are drawn on matplotlib's object API with the Agg canvas (no pyplot state, no display), and saved
as SVG with a fixed hash salt and no date, so the same result always gives the same bytes.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lai.validation.crossval import ValidationResult
from lai.validation.roc import FPR_GRID, roc_band, roc_curve, tpr_at

_MALIGNANT_LABELS = {"False": "benign", "True": "malignant"}


def class_label(target: str, value: object) -> str:
    """Return how a class is shown to readers: ``benign`` / ``malignant`` for the malignancy flag, else as is."""
    text = str(value)
    return _MALIGNANT_LABELS.get(text, text) if target == "malignant" else text


_STYLE: dict[Any, Any] = {
    "svg.hashsalt": "lai-report",
    "svg.fonttype": "path",
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


def roc_figure(result: ValidationResult) -> str:
    """Return the ROC figure of a result as an SVG data URI.

    Binary targets get one curve (positive class: ``classes[1]``) with the 95% pointwise cluster-bootstrap
    band; multi-class targets one one-vs-rest curve per class and their macro average over FPR.
    """
    predictions = result.predictions
    truth = predictions["y_true"].astype(str).to_numpy()
    with mpl.rc_context(_STYLE):
        figure = _new_figure(4.6, 4.2)
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1, label="chance")
        auc = result.metrics["auc"]
        if len(result.classes) == 2:
            positive_label = result.classes[1]
            positive = truth == str(positive_label)
            score = predictions[f"proba_{positive_label}"].to_numpy()
            low, high = roc_band(
                positive,
                score,
                predictions["patient_id"].astype(str),
                n_resamples=result.n_resamples,
                seed=result.seed,
            )
            axes.fill_between(
                FPR_GRID, low, high, step="post", color="C0", alpha=0.2, label="95% CI (bootstrap)"
            )
            fpr, tpr = roc_curve(positive, score)
            axes.step(
                fpr,
                tpr,
                where="post",
                color="C0",
                linewidth=1.8,
                label=f"AUC {auc.value:.3f} ({auc.ci_low:.3f}-{auc.ci_high:.3f})",
            )
            axes.set_title(f"ROC, positive class: {class_label(result.target, positive_label)}")
        else:
            curves = []
            for index, label in enumerate(result.classes):
                positive = truth == str(label)
                if positive.all() or not positive.any():
                    continue
                fpr, tpr = roc_curve(positive, predictions[f"proba_{label}"].to_numpy())
                curves.append(tpr_at(fpr, tpr))
                class_auc = result.per_class[str(label)]["auc"].value
                axes.step(
                    fpr,
                    tpr,
                    where="post",
                    color=f"C{index % 10}",
                    linewidth=1,
                    label=f"{class_label(result.target, label)} ({class_auc:.2f})",
                )
            axes.plot(
                FPR_GRID,
                np.mean(curves, axis=0),
                color="black",
                linewidth=2,
                label=f"macro ({auc.value:.3f})",
            )
            axes.set_title("ROC, one class vs rest")
        axes.set_xlabel("1 - specificity (false-positive rate)")
        axes.set_ylabel("sensitivity (true-positive rate)")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.01)
        axes.set_aspect("equal")
        axes.legend(loc="lower right", fontsize=7, frameon=False)
    return svg_data_uri(figure)


def confusion_figure(result: ValidationResult) -> str:
    """Return the confusion matrix as an SVG data URI: counts (left) and row-normalised (right)."""
    counts = result.confusion()
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = counts / counts.sum(axis=1, keepdims=True)
    labels = [class_label(result.target, c) for c in result.classes]
    size = 2.2 + 0.45 * len(labels)
    with mpl.rc_context(_STYLE):
        figure = _new_figure(2 * size, size)
        for axes, values, title, fmt in zip(
            figure.subplots(1, 2),
            (counts, rates),
            ("counts", "row-normalised (recall)"),
            ("{:.0f}", "{:.2f}"),
            strict=True,
        ):
            scaled = values / max(float(np.nanmax(values)), 1e-12)
            axes.imshow(np.nan_to_num(scaled), cmap="Blues", vmin=0, vmax=1)
            for (row, column), value in np.ndenumerate(values):
                if np.isfinite(value):
                    colour = "white" if scaled[row, column] > 0.6 else "black"
                    axes.text(
                        column, row, fmt.format(value), ha="center", va="center", color=colour, fontsize=7
                    )
            axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
            axes.set_yticks(range(len(labels)), labels)
            axes.set_xlabel("predicted")
            axes.set_ylabel("true")
            axes.set_title(title)
            axes.spines[:].set_visible(False)
    return svg_data_uri(figure)
