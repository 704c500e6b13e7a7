"""ROC curves, with a pointwise confidence band from the patient-level (cluster) bootstrap.

The band is the percentile interval of the bootstrap TPR at each fixed FPR (vertical averaging; Fawcett
2006; Macskassy, Provost & Rosset 2005), resampling patients as ``lai.validation.bootstrap``.

References
----------
Fawcett T (2006). An introduction to ROC analysis. Pattern Recogn Lett 27:861-874.
Macskassy SA, Provost F, Rosset S (2005). ROC confidence bands: an empirical evaluation. ICML 2005:537-544.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lai.validation.bootstrap import cluster_codes, cluster_resample_counts

FPR_GRID = np.linspace(0.0, 1.0, 101)
"""False-positive rates at which curves are averaged and bands computed."""


def roc_curve(
    positive: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(fpr, tpr)`` of the empirical ROC curve from (0, 0) to (1, 1), one point per distinct score.

    With ``weights`` of shape ``(R, n)`` both arrays have shape ``(R, G + 1)`` (one curve per resample).
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    w = np.ones((1, score.size)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    sorted_w = w[:, order]
    cases = np.cumsum(np.add.reduceat(np.where(positive[order], sorted_w, 0.0), starts, axis=1), axis=1)
    controls = np.cumsum(np.add.reduceat(np.where(positive[order], 0.0, sorted_w), starts, axis=1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = cases / cases[:, -1:]
        fpr = controls / controls[:, -1:]
    zeros = np.zeros((w.shape[0], 1))
    tpr, fpr = np.hstack([zeros, tpr]), np.hstack([zeros, fpr])
    return (fpr[0], tpr[0]) if weights is None else (fpr, tpr)


def tpr_at(fpr: np.ndarray, tpr: np.ndarray, grid: np.ndarray = FPR_GRID) -> np.ndarray:
    """Return the TPR of a step ROC curve at each FPR of ``grid`` (the highest TPR reached at that FPR)."""
    return tpr[np.searchsorted(fpr, grid, side="right") - 1]


def roc_band(
    positive: np.ndarray,
    score: np.ndarray,
    groups: Any,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    grid: np.ndarray = FPR_GRID,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the lower and upper TPR of the pointwise bootstrap band at each FPR of ``grid``.

    Patients (``groups``) are resampled; resamples without cases or controls are skipped.
    """
    codes = cluster_codes(groups)
    counts = cluster_resample_counts(int(codes.max()) + 1, n_resamples, seed)
    fpr, tpr = roc_curve(positive, score, counts[:, codes].astype(np.float64))
    valid = np.isfinite(fpr[:, -1]) & np.isfinite(tpr[:, -1])
    curves = np.array([tpr_at(f, t, grid) for f, t in zip(fpr[valid], tpr[valid], strict=True)])
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(curves, [alpha, 1.0 - alpha], axis=0)
    return low, high
