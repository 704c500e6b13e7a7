"""Patient-grouped splits of a cases or lesions table: no patient is ever on both sides.

A patient may have several exams (cases) and an exam several lesions; rows of one patient are
correlated, so every split here keeps a patient's rows together. Splits are deterministic for a seed.
Named splits are stored with a Dataset through ``write_index(splits=...)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold


def grouped_train_test_split(
    frame: pd.DataFrame,
    test_fraction: float = 0.2,
    seed: int = 0,
    stratify: str | None = None,
    *,
    group: str = "patient_id",
    id_column: str | None = None,
) -> tuple[list[str], list[str]]:
    """Return (train ids, test ids): about ``test_fraction`` of the rows in test, whole patients only.

    Patients are visited in an order shuffled by ``seed``, repeatedly until nothing changes; each moves to
    the other side when that brings the test side's row counts per stratum closer to ``test_fraction`` of
    their totals, so the class balance of ``stratify`` is kept on both sides as far as whole patients allow. (scikit-learn's
    ``GroupShuffleSplit`` takes a fraction of patients rather than of rows, and does not stratify.)

    Parameters
    ----------
    frame
        A cases table (one row per case) or a lesions table joined with ``patient_id`` (one row per lesion).
    test_fraction
        Share of the rows wanted in the test side, strictly between 0 and 1.
    seed
        Seed of the patient order; the same seed gives the same split.
    stratify
        Column whose class balance both sides should keep (``"malignant"``, ``"diagnosis"``), or None.
    group
        Column naming the patient.
    id_column
        Column whose values are returned; by default ``lesion_id`` if present, else ``case_id``.

    Returns
    -------
    train_ids, test_ids
        The ids of each side as strings, in table order.

    Raises
    ------
    ValueError
        When a column is missing or has empty values, there are fewer than two patients, or no
        patient fits in the test side (one patient holds more than twice the wanted test rows).
    """
    if not 0.0 < test_fraction < 1.0:
        msg = f"test_fraction must be strictly between 0 and 1, got {test_fraction}"
        raise ValueError(msg)
    id_column = id_column or ("lesion_id" if "lesion_id" in frame.columns else "case_id")
    groups = _column(frame, group)
    ids = _column(frame, id_column).astype(str)
    strata = _column(frame, stratify) if stratify is not None else pd.Series(0, index=frame.index)
    patients, patient_of_row = np.unique(groups.astype(str).to_numpy(), return_inverse=True)
    if len(patients) < 2:
        msg = f"Cannot split {len(patients)} patient(s) into train and test; need at least 2"
        raise ValueError(msg)
    _, stratum_of_row = np.unique(strata.astype(str).to_numpy(), return_inverse=True)
    counts = np.zeros((len(patients), stratum_of_row.max() + 1))
    np.add.at(counts, (patient_of_row, stratum_of_row), 1)
    target = test_fraction * counts.sum(axis=0)

    in_test = np.zeros(len(patients), dtype=bool)
    test_counts = np.zeros_like(target)
    order = np.random.default_rng(seed).permutation(len(patients))
    moved = True
    while moved:  # each move strictly lowers the squared distance to the target, so this ends
        moved = False
        for patient in order:
            sign = -1.0 if in_test[patient] else 1.0
            candidate = test_counts + sign * counts[patient]
            if np.sum((candidate - target) ** 2) < np.sum((test_counts - target) ** 2):
                in_test[patient] = not in_test[patient]
                test_counts = candidate
                moved = True
    if not in_test.any() or in_test.all():
        msg = (
            f"No split of {len(patients)} patients puts about {test_fraction:.0%} of {len(frame)} rows "
            f"in test; a patient has too many rows (largest: {int(counts.sum(axis=1).max())})"
        )
        raise ValueError(msg)
    test_rows = in_test[patient_of_row]
    return ids[~test_rows].tolist(), ids[test_rows].tolist()


def grouped_kfold(
    frame: pd.DataFrame,
    n_splits: int = 5,
    seed: int = 0,
    stratify: str | None = None,
    *,
    group: str = "patient_id",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``n_splits`` (train positions, test positions) pairs; each patient is tested exactly once.

    Built on scikit-learn's ``StratifiedGroupKFold`` when ``stratify`` names a column, else on
    ``GroupKFold``; both with patients shuffled by ``seed``.

    Parameters
    ----------
    frame
        A cases or lesions table with a ``group`` column.
    n_splits
        Number of folds; at most the number of patients.
    seed
        Seed of the patient shuffle; the same seed gives the same folds.
    stratify
        Column whose class balance each fold should keep, or None.
    group
        Column naming the patient.

    Returns
    -------
    list of (ndarray, ndarray)
        Integer row positions (for ``frame.iloc``) of the training and test rows of each fold.
    """
    groups = _column(frame, group).astype(str).to_numpy()
    positions = np.zeros((len(frame), 1))
    if stratify is None:
        folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(positions, groups=groups)
    else:
        labels = _column(frame, stratify).astype(str).to_numpy()
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = splitter.split(positions, labels, groups)
    return [(train, test) for train, test in folds]


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Return a column, refusing one that is absent or has empty values."""
    if name not in frame.columns:
        msg = f"Table has no column {name!r}; columns: {', '.join(map(str, frame.columns))}"
        raise ValueError(msg)
    column = frame[name]
    if column.isna().any():
        msg = (
            f"Column {name!r} is empty on {int(column.isna().sum())} row(s); splits need a value on every row"
        )
        raise ValueError(msg)
    return column
