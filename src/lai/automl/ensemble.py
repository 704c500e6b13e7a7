"""Ensembles of searched pipelines: greedy selection with replacement (Caruana) and WORC's top-N mean.

Both choose from the out-of-fold probabilities of the search's complete trials; the chosen pipelines are
then refitted on all training data and their probabilities averaged with the chosen weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lai.automl.scoring import score

LIBRARY_SIZE = 50
"""Best trials Caruana's selection chooses from (a pruned library, Caruana et al., 2006)."""


def caruana_weights(
    oof: list[np.ndarray], y: np.ndarray, metric: str, size: int, deadline: float | None = None
) -> tuple[np.ndarray, float, list[float]]:
    """Return member weights chosen by greedy forward selection with replacement, and their score.

    Starting from an empty ensemble, each of ``size`` steps adds (again, if it is best) the candidate whose
    addition gives the best ``metric`` of the averaged probabilities; ties go to the earlier candidate.
    The ensemble kept is the best one seen along the way, so its score is at least the best single
    candidate's (the first step picks it).

    Parameters
    ----------
    oof : list of numpy.ndarray, each (n, n_classes)
        Out-of-fold probabilities of each candidate.
    y : numpy.ndarray of int
        Class codes.
    metric : str
        The metric to maximise (``lai.automl.scoring``).
    size : int
        Selection steps (the ensemble's size with repetitions).
    deadline : float, optional
        ``time.time()`` after which no further step is taken (the best ensemble so far is returned).

    Returns
    -------
    weights, best_score, history
        Weights summing to 1 (one per candidate), the ensemble's score, and the score after each step.

    References
    ----------
    Caruana R, Niculescu-Mizil A, Crew G, Ksikes A (2004). Ensemble selection from libraries of models.
    Proc. 21st International Conference on Machine Learning (ICML).
    """
    if not oof:
        msg = "caruana_weights needs at least one candidate"
        raise ValueError(msg)
    counts = np.zeros(len(oof), dtype=np.int64)
    total = np.zeros_like(oof[0], dtype=np.float64)
    best_counts = counts.copy()
    best_score = -np.inf
    history: list[float] = []
    for step in range(1, max(1, size) + 1):
        scores = np.array([score(metric, y, (total + candidate) / step) for candidate in oof])
        scores = np.where(np.isfinite(scores), scores, -np.inf)
        chosen = int(np.argmax(scores))
        counts[chosen] += 1
        total += oof[chosen]
        history.append(float(scores[chosen]))
        if scores[chosen] > best_score:
            best_score = float(scores[chosen])
            best_counts = counts.copy()
        if deadline is not None and time.time() > deadline:
            break
    return best_counts / best_counts.sum(), best_score, history


def top_n_weights(scores: list[float], n: int) -> np.ndarray:
    """Return equal weights on the ``n`` best-scoring candidates (WORC's ensemble; Starmans et al., 2021).

    Ties go to the earlier candidate. References: Starmans MPA et al. (2021). Reproducible radiomics
    through automated machine learning validated on twelve clinical applications. arXiv:2108.08618.
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: max(1, n)]
    weights = np.zeros(len(scores))
    weights[order] = 1.0 / len(order)
    return weights


@dataclass
class EnsembleMember:
    """One pipeline of the ensemble: its trial, weight, description, config and fitted model."""

    trial: int
    weight: float
    pipeline: str
    config: dict[str, Any]
    model: Any


@dataclass
class Ensemble:
    """The fitted ensemble: members with weights; probabilities are their weighted mean.

    ``oof_score`` is the optimised metric of the weighted out-of-fold probabilities of the members (what
    the selection maximised, so optimistic), ``best_single_oof_score`` the best single trial's.
    """

    method: str
    members: list[EnsembleMember]
    n_classes: int
    oof_score: float = float("nan")
    best_single_oof_score: float = float("nan")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return the weighted mean probabilities, one column per class code, rows summing to 1."""
        total = np.zeros((X.shape[0], self.n_classes))
        for member in self.members:
            proba = np.zeros_like(total)
            proba[:, np.asarray(member.model.classes_, dtype=np.intp)] = member.model.predict_proba(X)
            total += member.weight * proba
        return total / total.sum(axis=1, keepdims=True)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per member: ``trial``, ``weight``, ``pipeline``."""
        return pd.DataFrame(
            [{"trial": m.trial, "weight": m.weight, "pipeline": m.pipeline} for m in self.members],
            columns=["trial", "weight", "pipeline"],
        )
