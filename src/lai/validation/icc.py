"""Intraclass correlation: how much of a feature's variation is between lesions rather than between settings.

A radiomic feature is reproducible when re-extracting it under another segmentation or acquisition (a
"rater") changes it little compared with how much it differs between lesions (the "targets"). The ICC is
computed from the two-way ANOVA of the ``n x k`` table of values (lesions x settings):

================  =====================================  ============================================
kind              McGraw & Wong (1996)                   formula (Shrout & Fleiss 1979)
================  =====================================  ============================================
``"1,1"``         one-way random, single rater           (MSR - MSW) / (MSR + (k - 1) MSW)
``"2,1"``         two-way random, absolute agreement      (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)
``"3,1"``         two-way mixed, consistency              (MSR - MSE) / (MSR + (k - 1) MSE)
================  =====================================  ============================================

MSR is the between-lesions mean square, MSC the between-settings one, MSE the residual and MSW the
within-lesion one. ICC(3,1) ignores a shift common to all lesions under one setting (consistency), which
suits robustness studies whose perturbations are fixed, not sampled; ICC(2,1) penalises such shifts too.
Koo & Li (2016) read ICC < 0.5 as poor, 0.5-0.75 moderate, 0.75-0.9 good and > 0.9 excellent reliability.

References
----------
Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability. Psychol Bull
86:420-428.
McGraw KO, Wong SP (1996). Forming inferences about some intraclass correlation coefficients. Psychol
Methods 1:30-46.
Koo TK, Li MY (2016). A guideline of selecting and reporting intraclass correlation coefficients for
reliability research. J Chiropr Med 15:155-163.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from lai.data.feature_table import is_feature_column

IccKind = Literal["1,1", "2,1", "3,1"]

ICC_KINDS: tuple[str, ...] = ("1,1", "2,1", "3,1")


def icc(ratings: np.ndarray | pd.DataFrame, kind: IccKind = "3,1") -> float:
    """Return the intraclass correlation of an ``n x k`` table (rows: targets, e.g. lesions; columns: raters).

    Parameters
    ----------
    ratings
        At least 2 targets and 2 raters, no missing values.
    kind
        ``"3,1"`` (two-way mixed, consistency, single rater; default), ``"2,1"`` (two-way random, absolute
        agreement, single rater) or ``"1,1"`` (one-way random, single rater).

    Returns
    -------
    float
        The ICC; NaN when every value is equal (no variation to apportion). It can be negative when the
        between-target variation is below the residual.

    Examples
    --------
    Shrout & Fleiss (1979), Table 2: six targets rated by four judges.

    >>> table = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> round(icc(table, "3,1"), 2), round(icc(table, "2,1"), 2), round(icc(table, "1,1"), 2)
    (0.71, 0.29, 0.17)

    References
    ----------
    Shrout PE, Fleiss JL (1979). Psychol Bull 86:420-428. McGraw KO, Wong SP (1996). Psychol Methods 1:30-46.
    """
    values = np.asarray(ratings, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 2:
        msg = f"ICC needs a 2-D table of at least 2 targets x 2 raters, got shape {values.shape}"
        raise ValueError(msg)
    if not np.all(np.isfinite(values)):
        msg = "ICC ratings must not contain missing or infinite values"
        raise ValueError(msg)
    return float(icc_many(values[:, :, None], kind)[0])


def icc_many(ratings: np.ndarray, kind: IccKind = "3,1") -> np.ndarray:
    """Return the ICC of each slice ``ratings[:, :, f]`` of an ``(n, k, F)`` array, vectorised over ``F``."""
    if kind not in ICC_KINDS:
        msg = f"Unknown ICC kind {kind!r}: use one of {list(ICC_KINDS)}"
        raise ValueError(msg)
    n, k = ratings.shape[:2]
    grand = ratings.mean(axis=(0, 1))
    row_means = ratings.mean(axis=1)
    column_means = ratings.mean(axis=0)
    total = np.sum((ratings - grand) ** 2, axis=(0, 1))
    between_rows = k * np.sum((row_means - grand) ** 2, axis=0)
    between_columns = n * np.sum((column_means - grand) ** 2, axis=0)
    msr = between_rows / (n - 1)
    msc = between_columns / (k - 1)
    mse = (total - between_rows - between_columns) / ((n - 1) * (k - 1))
    msw = (total - between_rows) / (n * (k - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "1,1":
            value = (msr - msw) / (msr + (k - 1) * msw)
        elif kind == "2,1":
            value = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        else:
            value = (msr - mse) / (msr + (k - 1) * mse)
    scale = np.maximum(np.abs(grand), 1.0)
    return np.where(total > (1e-12 * scale) ** 2 * n * k, value, np.nan)


def feature_icc(
    tables: Sequence[pd.DataFrame],
    id_column: str = "lesion_id",
    kind: IccKind = "3,1",
    features: Sequence[str] | None = None,
) -> pd.Series:
    """Return the ICC of every feature across feature tables of the same lesions (one table per setting).

    Parameters
    ----------
    tables
        At least 2 tables, e.g. the original extraction and one per perturbation; each has ``id_column`` and
        the feature columns. Lesions are matched by ``id_column``; only lesions present in every table count.
    id_column
        Column identifying a lesion.
    kind
        ICC form, see ``icc``.
    features
        Feature columns to assess; by default every feature column (``lai.data`` naming) common to all tables.

    Returns
    -------
    pandas.Series
        ICC per feature, indexed by column name, in the first table's column order. A feature missing (NaN)
        for some lesion in some table is assessed on the lesions where it is defined in every table; NaN
        when fewer than 2 such lesions remain or the feature is constant.

    Examples
    --------
    >>> a = pd.DataFrame({"lesion_id": ["L1", "L2", "L3"], "t2w:original_firstorder_Mean": [1.0, 2.0, 3.0]})
    >>> b = a.assign(**{"t2w:original_firstorder_Mean": [1.1, 2.1, 3.1]})
    >>> round(float(feature_icc([a, b])["t2w:original_firstorder_Mean"]), 6)
    1.0
    """
    if len(tables) < 2:
        msg = f"feature_icc needs at least 2 tables (settings), got {len(tables)}"
        raise ValueError(msg)
    for position, table in enumerate(tables):
        if id_column not in table.columns:
            msg = f"Table {position} has no {id_column!r} column"
            raise ValueError(msg)
        if table[id_column].duplicated().any():
            msg = f"Table {position} repeats {id_column} values, e.g. {table[id_column][table[id_column].duplicated()].iloc[0]!r}"
            raise ValueError(msg)
    if features is None:
        common = set.intersection(*(set(t.columns) for t in tables[1:]))
        names = [c for c in tables[0].columns if c in common and is_feature_column(str(c))]
    else:
        names = list(features)
        missing = [(i, f) for i, t in enumerate(tables) for f in names if f not in t.columns]
        if missing:
            msg = f"Table {missing[0][0]} has no feature column {missing[0][1]!r}"
            raise ValueError(msg)
    ids = tables[0][id_column]
    for table in tables[1:]:
        ids = ids[ids.isin(table[id_column])]
    stacked = np.stack(
        [t.set_index(id_column).loc[ids, names].to_numpy(dtype=np.float64) for t in tables], axis=1
    )
    result = np.full(len(names), np.nan)
    complete = np.all(np.isfinite(stacked), axis=(0, 1))
    if stacked.shape[0] >= 2:
        result[complete] = icc_many(stacked[:, :, complete], kind)
    for f in np.flatnonzero(~complete):
        rows = np.all(np.isfinite(stacked[:, :, f]), axis=1)
        if rows.sum() >= 2:
            result[f] = icc_many(stacked[rows][:, :, f : f + 1], kind)[0]
    return pd.Series(result, index=pd.Index(names, name="feature"), name=f"icc({kind})")


def robust_features(icc: pd.Series, threshold: float = 0.75) -> list[str]:
    """Return the features whose ICC is at least ``threshold``, for ``AutoClassifier(allowed_features=...)``.

    The default 0.75 is the lower bound of "good" reliability of Koo & Li (2016). Features with an undefined
    (NaN) ICC are left out.

    Examples
    --------
    >>> robust_features(pd.Series({"a": 0.9, "b": 0.5, "c": float("nan")}))
    ['a']
    """
    values = pd.to_numeric(icc, errors="coerce")
    return [str(name) for name in values.index[values.to_numpy() >= threshold]]
