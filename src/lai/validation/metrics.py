"""Classification metrics written over lesion weights, so one call scores every bootstrap resample.

All metrics take integer class codes ``0..K-1`` and an ``(R, n)`` array of lesion weights (ones for the
plain estimate; bootstrap counts for resamples) and return one value per row of weights. With unit weights
they equal scikit-learn's ``roc_auc_score``, ``balanced_accuracy_score``, ``f1_score(average="macro")``,
``cohen_kappa_score`` and ``accuracy_score``.

References
----------
Hanley JA, McNeil BJ (1982). The meaning and use of the area under a receiver operating characteristic (ROC)
curve. Radiology 143:29-36 (AUC as the Mann-Whitney probability, ties counting one half).
Hand DJ, Till RJ (2001). A simple generalisation of the area under the ROC curve for multiple class
classification problems. Mach Learn 45:171-186 (one-vs-rest averaging; here the macro one-vs-rest mean of
Provost & Domingos 2000, as in scikit-learn's ``multi_class="ovr"``).
Brodersen KH, Ong CS, Stephan KE, Buhmann JM (2010). The balanced accuracy and its posterior distribution.
ICPR 2010:3121-3124.
Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol Meas 20:37-46.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

METRIC_NAMES: tuple[str, ...] = ("auc", "balanced_accuracy", "macro_f1", "cohen_kappa", "accuracy")
"""Headline metrics of every validation result, in the order reports show them."""

CLASS_METRIC_NAMES: tuple[str, ...] = ("auc", "sensitivity", "specificity", "ppv", "f1")
"""Per-class metrics (each class against the rest)."""


def weighted_auc(positive: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the ROC AUC for each row of ``weights``: P(score of a case > score of a control), ties 1/2.

    Parameters
    ----------
    positive
        Boolean, shape ``(n,)``: which observations are cases.
    score
        Shape ``(n,)``: higher means more likely a case.
    weights
        Shape ``(R, n)``: the multiplicity of each observation in each of ``R`` resamples.

    Returns
    -------
    numpy.ndarray
        Shape ``(R,)``; NaN where a resample holds no case or no control.
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    sorted_weights = np.asarray(weights, dtype=np.float64)[:, order]
    sorted_positive = positive[order]
    cases = np.add.reduceat(np.where(sorted_positive, sorted_weights, 0.0), starts, axis=1)
    controls = np.add.reduceat(np.where(sorted_positive, 0.0, sorted_weights), starts, axis=1)
    controls_below = np.cumsum(controls, axis=1) - controls
    wins = np.sum(cases * (controls_below + 0.5 * controls), axis=1)
    pairs = cases.sum(axis=1) * controls.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def class_aucs(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the one-vs-rest AUC of every class, shape ``(R, K)``, scoring class ``k`` by ``proba[:, k]``."""
    n_classes = proba.shape[1]
    return np.stack([weighted_auc(y_true == k, proba[:, k], weights) for k in range(n_classes)], axis=1)


def weighted_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, weights: np.ndarray
) -> np.ndarray:
    """Return confusion matrices, shape ``(R, K, K)``: ``[r, i, j]`` = weight of true ``i`` predicted ``j``."""
    cell = np.asarray(y_true) * n_classes + np.asarray(y_pred)
    one_hot = np.zeros((cell.size, n_classes * n_classes))
    one_hot[np.arange(cell.size), cell] = 1.0
    return (np.asarray(weights, dtype=np.float64) @ one_hot).reshape(-1, n_classes, n_classes)


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Return the headline metrics (``METRIC_NAMES``), each of shape ``(R,)``, for predictions ``argmax(proba)``.

    ``auc`` is the binary AUC of class 1 when ``K == 2`` and the unweighted mean of the one-vs-rest AUCs
    otherwise (classes without cases in a resample are left out of the mean). Balanced accuracy is the mean
    recall over classes present; macro F1 the mean F1 over classes present or predicted, as scikit-learn.
    """
    n_classes = proba.shape[1]
    y_pred = np.argmax(proba, axis=1)
    confusion = weighted_confusion(y_true, y_pred, n_classes, weights)
    total = confusion.sum(axis=(1, 2))
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    if n_classes == 2:
        auc = weighted_auc(y_true == 1, proba[:, 1], weights)
    else:
        auc = _nanmean(class_aucs(y_true, proba, weights))
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(support + predicted > 0, 2.0 * hits / (support + predicted), np.nan)
        observed = hits.sum(axis=1) / total
        chance = np.sum(support * predicted, axis=1) / total**2
        kappa = np.where(chance < 1.0, (observed - chance) / (1.0 - chance), np.nan)
    return {
        "auc": auc,
        "balanced_accuracy": _nanmean(recall),
        "macro_f1": _nanmean(f1),
        "cohen_kappa": kappa,
        "accuracy": observed,
    }


def class_metrics(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-class metrics (``CLASS_METRIC_NAMES``), each of shape ``(R, K)``, class ``k`` against the rest."""
    n_classes = proba.shape[1]
    confusion = weighted_confusion(y_true, np.argmax(proba, axis=1), n_classes, weights)
    total = confusion.sum(axis=(1, 2))[:, None]
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    negatives = total - support
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "auc": class_aucs(y_true, proba, weights),
            "sensitivity": np.where(support > 0, hits / support, np.nan),
            "specificity": np.where(negatives > 0, (total - support - predicted + hits) / negatives, np.nan),
            "ppv": np.where(predicted > 0, hits / predicted, np.nan),
            "f1": np.where(support + predicted > 0, 2.0 * hits / (support + predicted), np.nan),
        }


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN (without a warning) where every value is NaN."""
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(finite, values, 0.0).sum(axis=-1) / count, np.nan)


# --- Rates of the confusion matrix, Brier score, per-group tables ---


def _one_vs_rest_counts(
    y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Return weighted (TP, FP, TN, FN) per class, each ``(R, K)``, and whether ``weights`` was given."""
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true)
    given = weights is not None
    w = np.ones((1, y_true.size)) if weights is None else np.asarray(weights, dtype=np.float64)
    n_classes = proba.shape[1]
    confusion = weighted_confusion(y_true, np.argmax(proba, axis=1), n_classes, w)
    total = confusion.sum(axis=(1, 2))[:, None]
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    fn = confusion.sum(axis=2) - tp
    fp = confusion.sum(axis=1) - tp
    return tp, fp, total - tp - fp - fn, fn, given


def _rate(numerator: np.ndarray, denominator: np.ndarray, n_classes: int, given: bool) -> np.ndarray:
    """Return ``numerator / denominator`` (NaN where 0), class 1 only when binary, row axis only if weighted."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(denominator > 0, numerator / denominator, np.nan)
    if n_classes == 2:
        rate = rate[:, 1]
    return rate if given else rate[0]


def sensitivity(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Return the sensitivity (recall, true-positive rate) TP / (TP + FN) of the prediction ``argmax(proba)``.

    Parameters
    ----------
    y_true
        Integer class codes ``0..K-1``, shape ``(n,)``.
    proba
        Class probabilities, shape ``(n, K)``; the predicted class is the most probable one.
    weights
        Optional lesion weights, shape ``(R, n)`` (bootstrap counts); ``None`` means every lesion once.

    Returns
    -------
    numpy.ndarray
        Binary (``K == 2``): the value for class 1 (the positive class), shape ``()`` or ``(R,)``.
        Multi-class: each class against the rest, shape ``(K,)`` or ``(R, K)``. NaN where the
        denominator is zero.

    Examples
    --------
    >>> float(sensitivity(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])))
    0.5

    References
    ----------
    Altman DG, Bland JM (1994). Diagnostic tests 1: sensitivity and specificity. BMJ 308:1552.
    """
    tp, _, _, fn, given = _one_vs_rest_counts(y_true, proba, weights)
    return _rate(tp, tp + fn, np.shape(proba)[1], given)


def specificity(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Return the specificity (true-negative rate) TN / (TN + FP); arguments and shapes as ``sensitivity``.

    References
    ----------
    Altman DG, Bland JM (1994). Diagnostic tests 1: sensitivity and specificity. BMJ 308:1552.
    """
    _, fp, tn, _, given = _one_vs_rest_counts(y_true, proba, weights)
    return _rate(tn, tn + fp, np.shape(proba)[1], given)


def ppv(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Return the positive predictive value (precision) TP / (TP + FP); arguments and shapes as ``sensitivity``.

    References
    ----------
    Altman DG, Bland JM (1994). Diagnostic tests 2: predictive values. BMJ 309:102.
    """
    tp, fp, _, _, given = _one_vs_rest_counts(y_true, proba, weights)
    return _rate(tp, tp + fp, np.shape(proba)[1], given)


def npv(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Return the negative predictive value TN / (TN + FN); arguments and shapes as ``sensitivity``.

    References
    ----------
    Altman DG, Bland JM (1994). Diagnostic tests 2: predictive values. BMJ 309:102.
    """
    _, _, tn, fn, given = _one_vs_rest_counts(y_true, proba, weights)
    return _rate(tn, tn + fn, np.shape(proba)[1], given)


def brier_score(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Return the Brier score: the mean over lesions of the mean over classes of ``(proba - one_hot)**2``.

    Convention: the squared error is averaged over the ``K`` classes, so the score lies in ``[0, 1]`` for
    any ``K`` and, for two classes, equals the usual binary Brier score ``mean((p_1 - y)**2)`` (the two
    classes' errors are equal). Brier's original sum over classes is ``K`` times this value.

    Parameters
    ----------
    y_true
        Integer class codes ``0..K-1``, shape ``(n,)``.
    proba
        Class probabilities, shape ``(n, K)``.
    weights
        Optional lesion weights ``(R, n)``; ``None`` means every lesion once.

    Returns
    -------
    numpy.ndarray
        Shape ``()`` without weights, ``(R,)`` with them; 0 is perfect, 0.25 is a constant 0.5 in the binary case.

    References
    ----------
    Brier GW (1950). Verification of forecasts expressed in terms of probability. Mon Weather Rev 78:1-3.
    """
    proba = np.asarray(proba, dtype=np.float64)
    one_hot = np.eye(proba.shape[1])[np.asarray(y_true)]
    error = np.mean((proba - one_hot) ** 2, axis=1)
    if weights is None:
        return np.asarray(error.mean())
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ error) / w.sum(axis=1)


GROUP_METRIC_NAMES: tuple[str, ...] = (
    *METRIC_NAMES,
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "brier",
)
"""Columns of ``per_group_metrics`` after ``group``, ``n`` and ``n_positive``."""


def per_group_metrics(y_true: Any, proba: np.ndarray, classes: Sequence[Any], groups: Any) -> pd.DataFrame:
    """Return one row per group (e.g. per centre) with its size and every metric, plus an ``all`` row.

    Parameters
    ----------
    y_true
        Class labels (values of ``classes``), shape ``(n,)``.
    proba
        Class probabilities, shape ``(n, K)``, columns in the order of ``classes``.
    classes
        The class labels; for a binary target the second is the positive class.
    groups
        The group of each lesion (centre, vendor, field strength ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``n``, ``n_positive`` (lesions of the positive class; for multi-class, lesions of
        the rarest class present in the whole set) then ``GROUP_METRIC_NAMES``. Sensitivity, specificity,
        PPV and NPV are of the positive class when binary and the unweighted mean over classes (each
        against the rest) otherwise. Metrics undefined in a group (an AUC without cases) are NaN. Groups
        are sorted; the last row, ``group == "all"``, pools every lesion.

    Examples
    --------
    >>> table = per_group_metrics(["b", "m", "m", "b"], np.array([[.8, .2], [.3, .7], [.6, .4], [.9, .1]]),
    ...                           ["b", "m"], ["A", "A", "B", "B"])
    >>> table["n"].tolist()
    [2, 2, 4]
    """
    proba = np.asarray(proba, dtype=np.float64)
    labels = pd.Series(np.asarray(y_true, dtype=object))
    index = {label: code for code, label in enumerate(classes)}
    unknown = sorted({str(v) for v in labels if v not in index})
    if unknown:
        msg = f"Labels {unknown} are not among the classes {list(classes)}"
        raise ValueError(msg)
    if proba.ndim != 2 or proba.shape != (labels.size, len(classes)):
        msg = f"Inconsistent shapes: proba {proba.shape}, {labels.size} labels and {len(classes)} classes"
        raise ValueError(msg)
    codes = labels.map(index).to_numpy(dtype=np.int64)
    group_values = np.asarray(groups, dtype=object)
    counts = np.bincount(codes, minlength=len(classes))
    positive = 1 if len(classes) == 2 else int(np.argmin(np.where(counts > 0, counts, np.inf)))
    rows = [_group_row(str(g), codes, proba, group_values == g, positive) for g in sorted(set(group_values))]
    rows.append(_group_row("all", codes, proba, np.ones(codes.size, dtype=bool), positive))
    return pd.DataFrame(rows, columns=["group", "n", "n_positive", *GROUP_METRIC_NAMES])


def _group_row(
    name: str, codes: np.ndarray, proba: np.ndarray, rows: np.ndarray, positive: int
) -> dict[str, Any]:
    """Return the metrics of the lesions selected by ``rows`` as one table row."""
    y, p = codes[rows], proba[rows]
    weights = np.ones((1, y.size))
    headline = {name: float(value[0]) for name, value in classification_metrics(y, p, weights).items()}
    rates = {
        fn.__name__: float(_nanmean(np.atleast_1d(fn(y, p)))) for fn in (sensitivity, specificity, ppv, npv)
    }
    return {
        "group": name,
        "n": int(y.size),
        "n_positive": int(np.sum(y == positive)),
        **headline,
        **rates,
        "brier": float(brier_score(y, p)),
    }
