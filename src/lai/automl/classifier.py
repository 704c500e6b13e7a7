"""``AutoClassifier``: the automatic lesion classifier, a scikit-learn estimator that searches pipelines.

``fit`` searches imputation, scaling, feature groups, feature filters, resampling and classifiers
(``lai.automl.space``) with Optuna, scoring each pipeline by stratified, patient-grouped inner
cross-validation (``lai.automl.search``), then combines the best into an ensemble (``lai.automl.ensemble``)
refitted on all the training data.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from lai.automl.ensemble import LIBRARY_SIZE, Ensemble, EnsembleMember, caruana_weights, top_n_weights
from lai.automl.feature_groups import feature_groups
from lai.automl.scoring import check_metric, score
from lai.automl.search import (
    REFIT_SAFETY,
    SearchData,
    SearchSettings,
    TrialResult,
    inner_splits,
    refit_all,
    run_search,
)
from lai.automl.space import SpaceFacts, default_configs, describe, sample_config
from lai.data.feature_table import FeatureTable

PRESETS: tuple[str, ...] = ("default", "worc")
"""``default``: TPE, pruning, strong defaults first, Caruana ensemble; ``worc``: random search, top-N mean."""

_SEARCH_SHARE = 0.92
"""Share of the budget the search and refit plan for; the rest absorbs ensemble selection and overheads."""


class AutoClassifier(ClassifierMixin, BaseEstimator):
    """Lesion classifier that searches pipelines and ensembles the best, with the scikit-learn API.

    Parameters
    ----------
    metric : str
        What the search maximises: ``"auc"`` (binary AUC; macro one-vs-rest for multi-class),
        ``"balanced_accuracy"``, ``"f1_macro"``, ``"kappa"`` or ``"lld"`` (mean of macro F1 and kappa).
    budget : float or None
        Seconds the whole ``fit`` may take (search, ensemble, refit), honoured within 10%; ``None``: no
        time limit (then ``max_trials`` is needed).
    max_trials : int or None
        Pipelines to try at most.
    preset : str
        ``"default"`` (multivariate TPE, pruning across inner folds, strong defaults first, greedy ensemble
        selection) or ``"worc"`` (random search, no pruning, mean of the top ``ensemble_size``: WORC).
    inner_folds : int
        Folds of the inner, patient-grouped, stratified cross-validation (fewer when a class is small).
    ensemble_size : int
        Selection steps of the greedy ensemble, or N of WORC's top-N mean.
    calibrate : bool
        Calibrate every pipeline's probabilities in patient-grouped folds of its training data (sigmoid).
    allowed_features : list of str or None
        Feature columns the search may use (e.g. the ICC-robust ones); ``None``: all. Needs named columns.
    n_jobs : int
        Trials run at once (through ``lai.compute``); ``-1``: one per CPU.
    scheduler : str or None
        ``"processes"`` (default), ``"sync"`` or a Dask scheduler address, for ``n_jobs > 1``.
    random_state : int
        The one seed of the folds, the sampler and every pipeline step.
    progress : bool
        Show a progress bar (trials, best score, time left) on stderr.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels, sorted; ``predict_proba`` columns follow this order.
    n_features_in_, feature_names_in_
        Features seen in ``fit`` (names only when ``X`` had string column names).
    search_ : pandas.DataFrame
        One row per trial: ``trial``, ``state``, ``pipeline``, ``classifier``, ``params`` (JSON),
        ``fold_scores``, ``score`` (mean inner-CV score of ``metric``), ``duration``, ``error``,
        ``ensemble_weight``.
    ensemble_ : lai.automl.ensemble.Ensemble
        The fitted members with their weights (``ensemble_.to_frame()``).
    feature_groups_ : pandas.DataFrame
        One row per switchable sequence or feature family: its columns, the trials with it on and off
        (every trial with a scored fold; a pruned trial counts with the mean of the folds it finished),
        their mean and best scores, and the ensemble's weight on pipelines that use it.
    cv_note_ : str
        Why the inner cross-validation has fewer folds than asked (empty when it has not).
    inner_splits_ : list of (numpy.ndarray, numpy.ndarray)
        The ``(train, validation)`` row indices of the inner folds every trial was scored on.
    fit_seconds_ : float
        Wall time of ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=80, random_state=0)
    >>> model = AutoClassifier(budget=None, max_trials=3, inner_folds=3).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        metric: str = "auc",
        budget: float | None = 60.0,
        max_trials: int | None = None,
        preset: str = "default",
        inner_folds: int = 5,
        ensemble_size: int = 50,
        calibrate: bool = False,
        allowed_features: list[str] | None = None,
        n_jobs: int = 1,
        scheduler: str | None = None,
        random_state: int = 0,
        progress: bool = False,
    ):
        self.metric = metric
        self.budget = budget
        self.max_trials = max_trials
        self.preset = preset
        self.inner_folds = inner_folds
        self.ensemble_size = ensemble_size
        self.calibrate = calibrate
        self.allowed_features = allowed_features
        self.n_jobs = n_jobs
        self.scheduler = scheduler
        self.random_state = random_state
        self.progress = progress

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.budget is not None and self.max_trials is None
        return tags

    # --- Fitting ---

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> AutoClassifier:
        """Search pipelines for features ``X`` and labels ``y``, build the ensemble; return ``self``.

        Parameters
        ----------
        X : array-like, pandas.DataFrame or lai.data.FeatureTable, shape (n_lesions, n_features)
            Features; NaN marks a missing value. A DataFrame's column names are remembered and required
            at prediction time; a FeatureTable contributes its feature columns.
        y : array-like of shape (n_lesions,), or str with a FeatureTable
            Labels (at least two classes), or the name of the FeatureTable's label column.
        groups : array-like of shape (n_lesions,), optional
            Patient ids: no patient's lesions are ever on both sides of an inner split. A FeatureTable's
            patients by default; otherwise each lesion is its own patient.
        """
        start = time.time()
        n_jobs = self._check_params()
        # one thread per fit: threaded BLAS on small matrices is many times slower than a single thread
        # when the cores are busy (and trials run in parallel through n_jobs instead)
        with threadpool_limits(limits=1):
            return self._fit(X, y, groups, start, n_jobs)

    def _fit(self, X: Any, y: Any, groups: Any, start: float, n_jobs: int) -> AutoClassifier:
        X, y, groups = self._unpack(X, y, groups)
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", reset=True, dtype=np.float64)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            msg = f"AutoClassifier needs at least 2 classes; y has only one class: {classes.tolist()}"
            raise ValueError(msg)
        groups = self._groups(groups, len(codes))
        names = [str(n) for n in getattr(self, "feature_names_in_", range(X.shape[1]))]
        counts = np.bincount(codes)
        facts = SpaceFacts(
            n_samples=len(codes),
            n_features=X.shape[1],
            n_classes=classes.size,
            smallest_class=int(counts.min()),
            has_missing=bool(np.isnan(X).any()),
            groups=feature_groups(names),
        )
        splits, note = inner_splits(codes, groups, int(self.inner_folds), int(self.random_state))
        if note:
            warnings.warn(f"AutoClassifier: {note}", UserWarning, stacklevel=2)
        data = SearchData(
            X=X,
            y=codes,
            groups=groups,
            n_classes=classes.size,
            splits=tuple(splits),
            facts=facts,
            metric=self.metric,
            calibrate=bool(self.calibrate),
            random_state=int(self.random_state),
        )
        deadline = start + _SEARCH_SHARE * float(self.budget) if self.budget is not None else None
        settings = SearchSettings(
            preset=self.preset,
            deadline=deadline,
            max_trials=self.max_trials,
            n_jobs=n_jobs,
            scheduler=self.scheduler,
            refit_members=int(self.ensemble_size) if self.preset == "worc" else 3,
        )
        results = self._search(data, settings) if splits else []
        self.ensemble_ = self._ensemble(results, data, settings)
        self.classes_ = classes
        self.search_ = _search_frame(results, self.ensemble_)
        self.feature_groups_ = _group_summary(results, facts, self.ensemble_)
        self.cv_note_ = note
        self.inner_splits_ = [(train.copy(), test.copy()) for train, test in splits]
        self.fit_seconds_ = time.time() - start
        return self

    def _check_params(self) -> int:
        check_metric(self.metric)
        if self.preset not in PRESETS:
            msg = f"Unknown preset {self.preset!r}: use one of {', '.join(PRESETS)}"
            raise ValueError(msg)
        if self.budget is None and self.max_trials is None:
            msg = "AutoClassifier needs a time budget or max_trials (both are None)"
            raise ValueError(msg)
        if self.budget is not None and not float(self.budget) > 0:
            msg = f"budget must be a positive number of seconds or None, got {self.budget!r}"
            raise ValueError(msg)
        for name in ("max_trials", "inner_folds", "ensemble_size"):
            value = getattr(self, name)
            smallest = 2 if name == "inner_folds" else 1
            if value is not None and (int(value) != value or value < smallest):
                msg = f"{name} must be an integer of at least {smallest}, got {value!r}"
                raise ValueError(msg)
        if self.n_jobs == -1:
            return os.cpu_count() or 1
        if int(self.n_jobs) != self.n_jobs or self.n_jobs < 1:
            msg = f"n_jobs must be a positive integer or -1, got {self.n_jobs!r}"
            raise ValueError(msg)
        return int(self.n_jobs)

    def _unpack(self, X: Any, y: Any, groups: Any) -> tuple[Any, Any, Any]:
        """Return features, labels and patients from a FeatureTable or from arrays, restricted to
        ``allowed_features``."""
        if isinstance(X, FeatureTable):
            table = X
            if isinstance(y, str):
                y = table.target(y)
            if groups is None:
                groups = table.groups.to_numpy()
            X = table.features
        if self.allowed_features is not None:
            if not isinstance(X, pd.DataFrame):
                msg = "allowed_features needs X with column names (a DataFrame or a FeatureTable)"
                raise ValueError(msg)
            allowed = list(self.allowed_features)
            missing = [c for c in allowed if c not in X.columns]
            if missing:
                msg = f"allowed_features names {len(missing)} column(s) X lacks: {_shown(missing)}"
                raise ValueError(msg)
            if not allowed:
                msg = "allowed_features is empty: no feature left to fit on"
                raise ValueError(msg)
            X = X[allowed]
        return X, y, groups

    @staticmethod
    def _groups(groups: Any, n: int) -> np.ndarray:
        if groups is None:
            return np.arange(n).astype(str)
        values = np.asarray(groups).astype(str)
        if values.shape != (n,):
            msg = f"groups has {values.size} value(s) for {n} lesion(s)"
            raise ValueError(msg)
        return values

    def _search(self, data: SearchData, settings: SearchSettings) -> list[TrialResult]:
        if not self.progress:
            return run_search(data, settings)
        from lai.automl.progress import search_progress

        with search_progress(self.metric, self.max_trials, settings.deadline) as update:
            return run_search(data, settings, on_trial=update)

    def _ensemble(self, results: list[TrialResult], data: SearchData, settings: SearchSettings) -> Ensemble:
        """Choose members from the complete trials, trim them to the time left, refit them."""
        complete = sorted(
            (r for r in results if r.state == "complete" and np.isfinite(r.score)),
            key=lambda r: (-r.score, r.number),
        )
        if not complete:
            config = sample_config(optuna.trial.FixedTrial(default_configs(data.facts)[0]), data.facts)
            fallback = TrialResult(number=-1, config=config, state="default")
            return self._refitted("single", [fallback], np.ones(1), data, settings, math.nan, math.nan)
        oof = [r.oof for r in complete if r.oof is not None]
        single = [score(data.metric, data.y, p) for p in oof]
        if self.preset == "worc":
            weights = top_n_weights([r.score for r in complete], int(self.ensemble_size))
            method = "top_n_mean"
        else:
            library = sorted(range(len(oof)), key=lambda i: (-single[i], i))[:LIBRARY_SIZE]
            # the selection may take half the time left before the refit
            left = None if settings.deadline is None else time.time() + (settings.deadline - time.time()) / 2
            chosen, _, _ = caruana_weights(
                [oof[i] for i in library], data.y, data.metric, int(self.ensemble_size), deadline=left
            )
            weights = np.zeros(len(oof))
            weights[library] = chosen
            method = "caruana"
        members = self._within_time(
            [complete[i] for i in np.flatnonzero(weights)], weights[weights > 0], data, settings
        )
        position = {r.number: i for i, r in enumerate(complete)}
        kept = np.array([weights[position[m.number]] for m in members])
        blended = sum(w * oof[position[m.number]] for w, m in zip(kept, members, strict=True)) / kept.sum()
        return self._refitted(
            method,
            members,
            kept,
            data,
            settings,
            score(data.metric, data.y, blended),
            float(np.nanmax(single)),
        )

    @staticmethod
    def _within_time(
        members: list[TrialResult], weights: np.ndarray, data: SearchData, settings: SearchSettings
    ) -> list[TrialResult]:
        """Return the members whose refit fits in the time left, heaviest first (at least one)."""
        order = sorted(range(len(members)), key=lambda i: (-weights[i], -members[i].score, members[i].number))
        if settings.deadline is None:
            return [members[i] for i in order]
        left = settings.deadline - time.time()
        share = float(np.mean([len(train) for train, _ in data.splits])) / len(data.y)
        kept: list[TrialResult] = []
        for index in order:
            cost = float(np.mean(members[index].fold_seconds)) / share * REFIT_SAFETY
            if kept and cost > left:
                continue
            kept.append(members[index])
            left -= cost
        return kept

    def _refitted(
        self,
        method: str,
        members: list[TrialResult],
        weights: np.ndarray,
        data: SearchData,
        settings: SearchSettings,
        oof_score: float,
        best_single: float,
    ) -> Ensemble:
        models = refit_all([m.config for m in members], data, settings.n_jobs, settings.scheduler)
        return Ensemble(
            method=method,
            members=[
                EnsembleMember(m.number, float(w / weights.sum()), describe(m.config), m.config, model)
                for m, w, model in zip(members, weights, models, strict=True)
            ],
            n_classes=data.n_classes,
            oof_score=float(oof_score),
            best_single_oof_score=float(best_single),
        )

    # --- Prediction ---

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities, shape ``(n_lesions, n_classes)``, columns in ``classes_`` order."""
        checked = self._checked(X)
        with threadpool_limits(limits=1):
            return self.ensemble_.predict_proba(checked)

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable class of each lesion."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _checked(self, X: Any) -> np.ndarray:
        """Return ``X`` validated against the fit: the fitted columns, in the fitted order."""
        check_is_fitted(self, "ensemble_")
        if isinstance(X, FeatureTable):
            X = X.features
        names = getattr(self, "feature_names_in_", None)
        if names is not None and isinstance(X, pd.DataFrame):
            missing = [name for name in names if name not in X.columns]
            if missing:
                msg = f"X lacks {len(missing)} feature column(s) the model was fitted on: {_shown(missing)}"
                raise ValueError(msg)
            X = X[list(names)]
        return validate_data(self, X, ensure_all_finite="allow-nan", reset=False, dtype=np.float64)


def _shown(names: list[str], limit: int = 10) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _search_frame(results: list[TrialResult], ensemble: Ensemble) -> pd.DataFrame:
    weight = {m.trial: m.weight for m in ensemble.members}
    rows = [
        {
            "trial": r.number,
            "state": r.state,
            "pipeline": describe(r.config),
            "classifier": r.config["classifier"],
            "params": json.dumps(r.config, sort_keys=True),
            "fold_scores": [float(s) for s in r.fold_scores],
            "score": r.score if r.state == "complete" else math.nan,
            "duration": float(r.duration),
            "error": r.error,
            "ensemble_weight": weight.get(r.number, 0.0),
        }
        for r in results
    ]
    columns = [
        "trial",
        "state",
        "pipeline",
        "classifier",
        "params",
        "fold_scores",
        "score",
        "duration",
        "error",
        "ensemble_weight",
    ]
    return pd.DataFrame(rows, columns=columns)


def _group_summary(results: list[TrialResult], facts: SpaceFacts, ensemble: Ensemble) -> pd.DataFrame:
    scored = [r for r in results if np.isfinite(r.score)]
    rows = []
    sizes = {"sequence": facts.groups.sequence, "family": facts.groups.family}
    for dimension, name in facts.groups.switches:
        key = f"{dimension}:{name}"
        on = [r.score for r in scored if r.config.get(key, True)]
        off = [r.score for r in scored if not r.config.get(key, True)]
        rows.append(
            {
                "dimension": dimension,
                "group": name,
                "n_columns": int(sizes[dimension][name].size),
                "trials_on": len(on),
                "trials_off": len(off),
                "mean_score_on": float(np.mean(on)) if on else math.nan,
                "mean_score_off": float(np.mean(off)) if off else math.nan,
                "best_score_on": float(np.max(on)) if on else math.nan,
                "best_score_off": float(np.max(off)) if off else math.nan,
                "ensemble_weight": float(sum(m.weight for m in ensemble.members if m.config.get(key, True))),
            }
        )
    columns = [
        "dimension",
        "group",
        "n_columns",
        "trials_on",
        "trials_off",
        "mean_score_on",
        "mean_score_off",
        "best_score_on",
        "best_score_off",
        "ensemble_weight",
    ]
    return pd.DataFrame(rows, columns=columns)
