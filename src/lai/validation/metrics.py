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

import numpy as np

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
