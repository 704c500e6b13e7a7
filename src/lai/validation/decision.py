"""Decision curve analysis: is acting on the model's predictions better than treating all or none?

At a threshold probability ``pt`` a clinician would act (biopsy, resect) when the predicted risk is at least
``pt``; choosing ``pt`` says how many false positives one true positive is worth: ``pt / (1 - pt)``. The net
benefit of acting on the model is ``TP/n - FP/n * pt / (1 - pt)``, in units of true positives per patient;
treating everyone gives ``prevalence - (1 - prevalence) * pt / (1 - pt)`` and treating no one 0. A model is
useful over the range of thresholds where its curve lies above both.

References
----------
Vickers AJ, Elkin EB (2006). Decision curve analysis: a novel method for evaluating prediction models.
Med Decis Making 26:565-574.
Vickers AJ, van Calster B, Steyerberg EW (2019). A simple, step-by-step guide to interpreting decision curve
analysis. Diagn Progn Res 3:18.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)
"""Threshold probabilities 0.01, 0.02, ..., 0.99."""


def decision_curve(
    y_true: np.ndarray, p: np.ndarray, thresholds: np.ndarray = DEFAULT_THRESHOLDS
) -> pd.DataFrame:
    """Return the net benefit of the model, of treating all and of treating none at each threshold.

    A lesion is test-positive when ``p >= threshold`` (the convention of the R package dcurves).

    Parameters
    ----------
    y_true
        Binary outcomes (0/1 or boolean), shape ``(n,)``.
    p
        Predicted probability of the event, shape ``(n,)``.
    thresholds
        Threshold probabilities, each in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold``, ``net_benefit`` (the model), ``treat_all``, ``treat_none`` (always 0), and
        ``true_positives`` / ``false_positives`` (rates per patient, for the reader who wants the parts).

    Examples
    --------
    >>> curve = decision_curve(np.array([1, 0, 0, 1]), np.array([0.9, 0.3, 0.6, 0.4]), np.array([0.5]))
    >>> float(curve["net_benefit"].iloc[0])  # TP 1/4, FP 1/4, weight 1
    0.0

    References
    ----------
    Vickers AJ, Elkin EB (2006). Med Decis Making 26:565-574.
    """
    outcome = np.asarray(y_true)
    probability = np.asarray(p, dtype=np.float64)
    cut = np.asarray(thresholds, dtype=np.float64).ravel()
    if outcome.ndim != 1 or probability.shape != outcome.shape or outcome.size == 0:
        msg = (
            f"Inconsistent shapes: y_true {outcome.shape}, p {probability.shape} (need equal, non-empty, 1-D)"
        )
        raise ValueError(msg)
    events = outcome.astype(np.float64)
    if not np.all(np.isin(events, (0.0, 1.0))):
        msg = "Outcomes must be 0/1 or boolean"
        raise ValueError(msg)
    if np.any((cut <= 0.0) | (cut >= 1.0)):
        msg = f"Thresholds must lie strictly between 0 and 1, got range [{cut.min()}, {cut.max()}]"
        raise ValueError(msg)
    n = events.size
    positive = probability[None, :] >= cut[:, None]
    true_positives = (positive & (events[None, :] == 1.0)).sum(axis=1) / n
    false_positives = (positive & (events[None, :] == 0.0)).sum(axis=1) / n
    odds = cut / (1.0 - cut)
    prevalence = events.mean()
    return pd.DataFrame(
        {
            "threshold": cut,
            "net_benefit": true_positives - false_positives * odds,
            "treat_all": prevalence - (1.0 - prevalence) * odds,
            "treat_none": np.zeros(cut.size),
            "true_positives": true_positives,
            "false_positives": false_positives,
        }
    )
