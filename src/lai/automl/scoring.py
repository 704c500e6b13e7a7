"""The metrics the search optimises, computed from class probabilities with scikit-learn.

Every metric is "higher is better". Labels are integer codes ``0 .. n_classes - 1`` and probabilities have one
column per code, so a fold whose validation part lacks a class is still scored against all classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score

METRICS: tuple[str, ...] = ("auc", "balanced_accuracy", "f1_macro", "kappa", "lld")
"""Names accepted by ``AutoClassifier(metric=...)``."""


def auc_score(y: np.ndarray, proba: np.ndarray) -> float:
    """Return the ROC AUC: binary, or the macro mean of one-vs-rest AUCs over the classes present.

    Each AUC is the Mann-Whitney U statistic of the class's probability, positives against the rest,
    divided by the number of pairs (ties count one half), which equals the area under the ROC curve
    (Bamber, 1975) and scikit-learn's ``roc_auc_score``, at a fraction of its cost, which matters to the
    ensemble selection. A class is left out of the multi-class mean when ``y`` lacks it or holds nothing
    else (its AUC is undefined); with no class left the result is NaN. One-vs-rest macro AUC as in
    scikit-learn's ``multi_class="ovr"`` (Provost and Domingos, 2000).

    Parameters
    ----------
    y : numpy.ndarray of int, shape (n,)
        Class codes.
    proba : numpy.ndarray, shape (n, n_classes)
        Probabilities, one column per code.

    References
    ----------
    Bamber D (1975). The area above the ordinal dominance graph and the area below the receiver operating
    characteristic graph. J Math Psychol 12:387-415.
    Provost F, Domingos P (2000). Well-trained PETs: improving probability estimation trees. CeDER
    working paper IS-00-04, New York University.
    """
    codes = [1] if proba.shape[1] == 2 else list(range(proba.shape[1]))
    aucs = []
    for code in codes:
        positives = y == code
        n_pos = int(positives.sum())
        n_neg = len(y) - n_pos
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = rankdata(proba[:, code])
        aucs.append((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
    return float(np.mean(aucs)) if aucs else float("nan")


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.argmax(proba, axis=1)


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    return float(balanced_accuracy_score(y, _labels(proba)))


def _f1_macro(y: np.ndarray, proba: np.ndarray) -> float:
    return float(f1_score(y, _labels(proba), average="macro", labels=np.unique(y), zero_division=0.0))


def _kappa(y: np.ndarray, proba: np.ndarray) -> float:
    value = cohen_kappa_score(y, _labels(proba))
    return 0.0 if np.isnan(value) else float(value)


def _lld(y: np.ndarray, proba: np.ndarray) -> float:
    return (_f1_macro(y, proba) + _kappa(y, proba)) / 2.0


_SCORERS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auc": auc_score,
    "balanced_accuracy": _balanced_accuracy,
    "f1_macro": _f1_macro,
    "kappa": _kappa,
    "lld": _lld,
}


def score(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    """Return ``metric`` of probabilities ``proba`` against class codes ``y`` (higher is better).

    Parameters
    ----------
    metric : str
        ``"auc"`` (binary AUC; macro one-vs-rest for multi-class), ``"balanced_accuracy"``, ``"f1_macro"``
        (macro F1 over the classes present in ``y``), ``"kappa"`` (Cohen, 1960, unweighted) or ``"lld"``
        (mean of macro F1 and kappa, the ranking metric of the LLD-MMRI2023 challenge; Lou et al., 2024).
        Label metrics use the most probable class.
    y : numpy.ndarray of int, shape (n,)
        Class codes ``0 .. n_classes - 1``.
    proba : numpy.ndarray, shape (n, n_classes)
        Class probabilities.

    References
    ----------
    Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol Meas 20:37-46.
    Lou M et al. (2024). SDR-Former: a Siamese dual-resolution transformer for liver lesion classification
    using 3D multi-phase imaging (LLD-MMRI2023 dataset and metrics). arXiv:2402.17246.
    """
    return _SCORERS[check_metric(metric)](y, proba)


def check_metric(metric: str) -> str:
    """Return ``metric`` if LAI knows it, else raise a ``ValueError`` listing the known ones."""
    if metric not in _SCORERS:
        msg = f"Unknown metric {metric!r}: use one of {', '.join(METRICS)}"
        raise ValueError(msg)
    return metric
