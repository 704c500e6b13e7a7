"""Cross-validation splits that keep every patient on one side and the class balance in every fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lai.data.splits import grouped_kfold


def grouped_stratified_kfold(
    y: Any, groups: Any, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``n_splits`` (train, test) index pairs: folds stratified by ``y``, grouped by patient.

    Lesions of one patient are correlated; a patient with lesions on both sides of a split leaks
    information and inflates every metric. The folds come from ``lai.data.splits.grouped_kfold``
    (scikit-learn's ``StratifiedGroupKFold`` with shuffled patients), which keeps each patient whole and
    balances the classes across folds as far as whole patients allow.

    Parameters
    ----------
    y
        Label of each lesion.
    groups
        Patient id of each lesion.
    n_splits
        Number of folds; at least 2 and at most the number of patients.
    seed
        Seed of the shuffling of patients.

    Returns
    -------
    list of tuple of numpy.ndarray
        Integer positions of the training and test lesions of each fold; every lesion is tested once.

    Examples
    --------
    >>> folds = grouped_stratified_kfold([0, 1, 0, 1, 0, 1], ["a", "a", "b", "b", "c", "c"], n_splits=3)
    >>> len(folds)
    3
    """
    labels = np.asarray(y)
    patients = np.asarray(groups)
    if labels.shape[0] != patients.shape[0]:
        msg = f"Inconsistent lengths: y has {labels.shape[0]} lesions, groups has {patients.shape[0]}"
        raise ValueError(msg)
    if n_splits < 2:
        msg = f"n_splits must be at least 2, got {n_splits}"
        raise ValueError(msg)
    n_patients = len(np.unique(patients))
    if n_patients < n_splits:
        msg = f"Cannot make {n_splits} patient-grouped folds from {n_patients} patient(s); lower n_splits"
        raise ValueError(msg)
    frame = pd.DataFrame({"label": labels, "patient": patients})
    return grouped_kfold(frame, n_splits=n_splits, seed=seed, stratify="label", group="patient")
