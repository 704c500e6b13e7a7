"""``AutoClassifier``: the automatic lesion classifier, a scikit-learn estimator.

This first version fits one fixed pipeline, chosen to be a strong, stable baseline for radiomics tables
(hundreds of correlated features, a few hundred lesions, missing values where a sequence is absent):
median imputation, removal of constant columns, standardisation and an L2-penalised multinomial logistic
regression with balanced class weights. The pipeline search (``search_results_`` holds one row per
pipeline tried) replaces it without changing this interface.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

PIPELINE_NAME = "median-impute > drop-constant > standardise > logistic-regression(L2, balanced)"
"""Readable description of the fixed pipeline, written to model.json and search.parquet."""


class AutoClassifier(ClassifierMixin, BaseEstimator):
    """Lesion classifier for binary and multi-class targets with the scikit-learn estimator API.

    Parameters
    ----------
    random_state : int
        Seed of every random choice (the fixed pipeline's solver is deterministic; the search will not be).
    C : float
        Inverse strength of the L2 penalty of the logistic regression.
    max_iter : int
        Iterations allowed to the L-BFGS solver.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels, sorted (scikit-learn's convention); ``predict_proba`` columns follow this order.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray
        Feature names seen in ``fit``; set only when ``X`` was a DataFrame with string column names.
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted pipeline.
    n_iter_ : numpy.ndarray
        Solver iterations of the final classifier.
    search_results_ : list of dict
        One row per pipeline tried: ``pipeline``, ``params``, ``fold_scores``, ``score``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=60, random_state=0)
    >>> AutoClassifier(random_state=0).fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    """

    search_results_: list[dict[str, Any]]

    def __init__(self, random_state: int = 0, C: float = 1.0, max_iter: int = 5000):
        self.random_state = random_state
        self.C = C
        self.max_iter = max_iter

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # --- Fitting ---

    def fit(self, X: Any, y: Any, groups: Any = None) -> AutoClassifier:
        """Fit the pipeline to features ``X`` and labels ``y``; return ``self``.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_lesions, n_features)
            Features; NaN marks a missing value. A DataFrame's column names are remembered and required
            at prediction time.
        y : array-like of shape (n_lesions,)
            Labels (at least two classes).
        groups : array-like of shape (n_lesions,), optional
            Patient ids, for the internal resampling of the pipeline search; the fixed pipeline ignores them.
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", reset=True)
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size < 2:
            msg = f"AutoClassifier needs at least 2 classes; y has only one class: {classes.tolist()}"
            raise ValueError(msg)
        params = {"C": self.C, "max_iter": self.max_iter, "class_weight": "balanced", "imputer": "median"}
        self.pipeline_ = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("drop_constant", VarianceThreshold(threshold=0.0)),
                ("scale", StandardScaler()),
                (
                    "classify",
                    LogisticRegression(
                        C=self.C,
                        class_weight="balanced",
                        max_iter=self.max_iter,
                        random_state=self.random_state,
                    ),
                ),
            ]
        ).fit(X, y)
        self.classes_ = self.pipeline_.classes_
        self.n_iter_ = self.pipeline_[-1].n_iter_
        self.search_results_ = [
            {"pipeline": PIPELINE_NAME, "params": params, "fold_scores": [], "score": np.nan}
        ]
        return self

    # --- Prediction ---

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities, shape ``(n_lesions, n_classes)``, columns in ``classes_`` order."""
        checked = self._checked(X)
        return self.pipeline_.predict_proba(checked)

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable class of each lesion."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _checked(self, X: Any) -> np.ndarray:
        """Return ``X`` validated against the fit: the fitted columns, in the fitted order."""
        check_is_fitted(self, "pipeline_")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and isinstance(X, pd.DataFrame):
            missing = [name for name in names if name not in X.columns]
            if missing:
                shown = ", ".join(missing[:10]) + (
                    f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                )
                msg = f"X lacks {len(missing)} feature column(s) the model was fitted on: {shown}"
                raise ValueError(msg)
            X = X[list(names)]
        return validate_data(self, X, ensure_all_finite="allow-nan", reset=False)
