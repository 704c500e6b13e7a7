"""Feature selection steps of the search space, as scikit-learn transformers.

Each selector keeps at most ``k`` columns (fewer when the input has fewer) and never returns an empty table:
at least the best-ranked column is kept. All take NaN-free input (they run after imputation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.feature_selection import SelectorMixin, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data


class ColumnSubset(TransformerMixin, BaseEstimator):
    """Keep the columns at the given indices: the feature groups a pipeline switched on.

    Parameters
    ----------
    columns : array-like of int
        Indices of the columns to keep, in output order.

    Examples
    --------
    >>> ColumnSubset([2, 0]).fit_transform(np.arange(6).reshape(2, 3)).tolist()
    [[2, 0], [5, 3]]
    """

    def __init__(self, columns: Any = None):
        self.columns = columns

    def fit(self, X: Any, y: Any = None) -> ColumnSubset:
        """Remember the number of input columns; return ``self``."""
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return the kept columns of ``X``."""
        check_is_fitted(self, "n_features_in_")
        return np.asarray(X)[:, np.asarray(self.columns, dtype=np.intp)]


class _TopK(SelectorMixin, BaseEstimator):
    """Keep the ``k`` columns of highest importance (ties: lower index first)."""

    k: int

    def fit(self, X: Any, y: Any) -> _TopK:
        """Rank the columns of ``X`` for labels ``y``; return ``self``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        importance = np.nan_to_num(np.asarray(self._importance(X, y), dtype=np.float64), nan=0.0)
        self.importance_ = importance
        order = np.argsort(-importance, kind="stable")
        keep = min(max(1, int(self.k)), X.shape[1])
        mask = np.zeros(X.shape[1], dtype=bool)
        mask[order[:keep]] = True
        self.support_ = self._restrict(mask, importance)
        return self

    def _importance(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _restrict(self, mask: np.ndarray, importance: np.ndarray) -> np.ndarray:
        return mask

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


class UnivariateFilter(_TopK):
    """Keep the ``k`` columns with the largest ANOVA F statistic between classes (Fisher's F test).

    Parameters
    ----------
    k : int
        Columns to keep (all when the input has fewer).
    """

    def __init__(self, k: int = 50):
        self.k = k

    def _importance(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic, _ = f_classif(X, y)
        return np.asarray(statistic)


class L1Filter(_TopK):
    """Keep the columns an L1-penalised logistic regression gives a non-zero weight (Tibshirani, 1996).

    At most ``k`` are kept (largest absolute weight summed over classes); at least one.

    Parameters
    ----------
    C : float
        Inverse penalty strength: smaller keeps fewer columns.
    k : int
        Upper bound on the columns kept.
    random_state : int
        Seed of the SAGA solver's sample order.
    """

    def __init__(self, C: float = 0.1, k: int = 1000, random_state: int = 0):
        self.C = C
        self.k = k
        self.random_state = random_state

    def _importance(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        model = LogisticRegression(
            C=self.C, l1_ratio=1.0, solver="saga", tol=1e-3, max_iter=300, random_state=self.random_state
        )
        return np.abs(model.fit(X, y).coef_).sum(axis=0)

    def _restrict(self, mask: np.ndarray, importance: np.ndarray) -> np.ndarray:
        nonzero = mask & (importance > 0)
        return nonzero if nonzero.any() else mask & (importance == importance[mask].max())


class TreeFilter(_TopK):
    """Keep the ``k`` columns with the largest impurity importance in 100 extremely randomised trees.

    Parameters
    ----------
    k : int
        Columns to keep.
    random_state : int
        Seed of the trees (Geurts et al., 2006).
    """

    def __init__(self, k: int = 50, random_state: int = 0):
        self.k = k
        self.random_state = random_state

    def _importance(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        trees = ExtraTreesClassifier(n_estimators=100, n_jobs=1, random_state=self.random_state)
        return trees.fit(X, y).feature_importances_


class CorrelationFilter(_TopK):
    """Drop redundant columns: walk the columns by decreasing F statistic and keep one only when its
    absolute Pearson correlation with every column kept so far is at most ``threshold``; stop at ``k``.

    Parameters
    ----------
    threshold : float
        Largest absolute correlation allowed between two kept columns.
    k : int
        Upper bound on the columns kept.
    """

    def __init__(self, threshold: float = 0.9, k: int = 200):
        self.threshold = threshold
        self.k = k

    def _importance(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic, _ = f_classif(X, y)
        return np.asarray(statistic)

    def fit(self, X: Any, y: Any) -> CorrelationFilter:
        """Choose the kept columns of ``X`` for labels ``y``; return ``self``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        importance = np.nan_to_num(np.asarray(self._importance(X, y), dtype=np.float64), nan=0.0)
        self.importance_ = importance
        centred = X - X.mean(axis=0)
        norms = np.linalg.norm(centred, axis=0)
        unit = np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)
        limit = min(max(1, int(self.k)), X.shape[1])
        kept: list[int] = []
        for column in np.argsort(-importance, kind="stable"):
            if kept and np.max(np.abs(unit[:, kept].T @ unit[:, column])) > self.threshold:
                continue
            kept.append(int(column))
            if len(kept) == limit:
                break
        mask = np.zeros(X.shape[1], dtype=bool)
        mask[kept] = True
        self.support_ = mask
        return self


class QuasiConstantFilter(_TopK):
    """Drop quasi-constant columns: those whose most frequent value covers more than ``max_share`` of the
    rows (a variance filter that does not depend on the scale).

    Parameters
    ----------
    max_share : float
        Largest share of rows one value may cover in a kept column.
    """

    def __init__(self, max_share: float = 0.9):
        self.max_share = max_share
        self.k = 0

    def fit(self, X: Any, y: Any = None) -> QuasiConstantFilter:
        """Find the quasi-constant columns of ``X``; return ``self``."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        ordered = np.sort(X, axis=0)
        share = np.zeros(X.shape[1])
        for column in range(X.shape[1]):
            _, counts = np.unique(ordered[:, column], return_counts=True)
            share[column] = counts.max() / X.shape[0]
        self.importance_ = 1.0 - share
        mask = share <= self.max_share
        if not mask.any():
            mask[int(np.argmin(share))] = True
        self.support_ = mask
        return self
