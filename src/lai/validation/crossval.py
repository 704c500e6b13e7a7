"""Patient-grouped cross-validation of a classifier on a FeatureTable, with bootstrap intervals.

Each fold fits a fresh estimator on the training patients and predicts the held-out ones; the folds run
through ``lai.compute`` (processes, or a Dask cluster) and are cached by content. The pooled out-of-fold
predictions are then scored once, with cluster-bootstrap intervals over patients.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import has_fit_parameter

from lai.compute import map_tasks, task_key
from lai.data.feature_table import ID_COLUMNS, FeatureTable
from lai.data.taxonomy import DIAGNOSES
from lai.validation.bootstrap import Estimate, IntervalMethod, cluster_bootstrap, json_number
from lai.validation.metrics import METRIC_NAMES, class_metrics, classification_metrics
from lai.validation.splitters import grouped_stratified_kfold


@dataclass
class ValidationResult:
    """Out-of-fold predictions of one target and their metrics with confidence intervals.

    Attributes
    ----------
    target
        The label column (``malignant``, ``diagnosis``).
    classes
        Class labels, in the order of the ``proba_<class>`` columns; for binary targets the second class
        is the positive one.
    predictions
        One row per lesion, in table order: id columns, ``fold``, ``y_true``, ``predicted``, ``proba_<class>``.
    metrics
        Headline metrics (``METRIC_NAMES``) over all lesions.
    per_centre
        The headline metrics within each centre.
    per_class
        For each class (as ``str``), its metrics against the rest (``CLASS_METRIC_NAMES``).
    per_fold
        Point metrics of each fold, in fold order.
    scheme
        A sentence describing the validation scheme.
    seed
        Seed of the folds and of the bootstrap.
    estimator
        Description (repr) of the estimator that was validated.
    """

    target: str
    classes: list[Any]
    predictions: pd.DataFrame
    metrics: dict[str, Estimate]
    per_centre: dict[str, dict[str, Estimate]]
    per_class: dict[str, dict[str, Estimate]]
    per_fold: list[dict[str, float | None]]
    scheme: str
    seed: int
    n_splits: int
    n_resamples: int
    interval: str
    estimator: str = ""

    def confusion(self) -> np.ndarray:
        """Return the confusion matrix of counts: rows true class, columns predicted, in ``classes`` order."""
        index = {str(c): i for i, c in enumerate(self.classes)}
        matrix = np.zeros((len(self.classes), len(self.classes)), dtype=np.int64)
        truth = self.predictions["y_true"].map(lambda v: index[str(v)])
        predicted = self.predictions["predicted"].map(lambda v: index[str(v)])
        np.add.at(matrix, (truth.to_numpy(), predicted.to_numpy()), 1)
        return matrix

    def to_dict(self) -> dict[str, Any]:
        """Return every number of the result as JSON-ready values (predictions are summarised by counts)."""
        return {
            "target": self.target,
            "classes": [_plain(c) for c in self.classes],
            "scheme": self.scheme,
            "seed": self.seed,
            "n_splits": self.n_splits,
            "n_resamples": self.n_resamples,
            "interval": self.interval,
            "estimator": self.estimator,
            "n_lesions": len(self.predictions),
            "n_patients": int(self.predictions["patient_id"].nunique()),
            "metrics": {name: e.to_dict() for name, e in self.metrics.items()},
            "per_centre": {c: {n: e.to_dict() for n, e in m.items()} for c, m in self.per_centre.items()},
            "per_class": {c: {n: e.to_dict() for n, e in m.items()} for c, m in self.per_class.items()},
            "per_fold": self.per_fold,
            "confusion": self.confusion().tolist(),
        }


def _plain(value: Any) -> Any:
    """Return a label as a JSON value (numpy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def ordered_classes(labels: Any) -> list[Any]:
    """Return the distinct labels: in taxonomy order for diagnosis codes, sorted otherwise."""
    present = pd.unique(pd.Series(np.asarray(labels)))
    if all(isinstance(v, str) and v in DIAGNOSES for v in present):
        return [code for code in DIAGNOSES if code in set(present)]
    return sorted(present.tolist())


# --- Folds ---


@dataclass(frozen=True)
class FoldTask:
    """One fold's work: fit ``make_estimator()`` on the training rows, predict the test rows."""

    make_estimator: Callable[[], Any]
    features: pd.DataFrame
    labels: np.ndarray
    groups: np.ndarray
    train: np.ndarray
    test: np.ndarray


def fit_and_predict_fold(task: FoldTask) -> tuple[np.ndarray, list[Any]]:
    """Return the test rows' class probabilities and the fitted estimator's class order."""
    estimator = task.make_estimator()
    X_train, y_train = task.features.iloc[task.train], task.labels[task.train]
    if has_fit_parameter(estimator, "groups"):
        estimator.fit(X_train, y_train, groups=task.groups[task.train])
    else:
        estimator.fit(X_train, y_train)
    proba = estimator.predict_proba(task.features.iloc[task.test])
    return np.asarray(proba, dtype=np.float64), list(estimator.classes_)


def cross_validate(
    make_estimator: Callable[[], Any],
    table: FeatureTable,
    target: str,
    *,
    n_splits: int = 5,
    seed: int = 0,
    n_resamples: int = 2000,
    interval: IntervalMethod = "percentile",
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Return out-of-fold predictions and metrics of ``make_estimator()`` by patient-grouped k-fold CV.

    Parameters
    ----------
    make_estimator
        A picklable callable returning a fresh, unfitted classifier with ``fit`` and ``predict_proba``
        (``functools.partial(AutoClassifier, random_state=0)``, or an estimator class).
    table
        Lesions with features, ids and labels.
    target
        The label column to predict.
    n_splits
        Folds (``grouped_stratified_kfold``).
    seed
        Seed of the folds and of the bootstrap.
    n_resamples
        Cluster-bootstrap resamples for the confidence intervals.
    interval
        ``"percentile"`` or ``"bca"`` (``cluster_bootstrap``).
    scheduler, cache_dir
        Passed to ``lai.compute.map_tasks``.
    """
    labels = table.target(target).to_numpy()
    groups = table.groups.astype(str).to_numpy()
    features = table.features
    if features.shape[1] == 0:
        msg = "The feature table has no feature columns (names with ':')"
        raise ValueError(msg)
    classes = ordered_classes(labels)
    folds = grouped_stratified_kfold(labels, groups, n_splits=n_splits, seed=seed)
    tasks = [FoldTask(make_estimator, features, labels, groups, train, test) for train, test in folds]
    description = repr(make_estimator())
    keys = None
    if cache_dir is not None:
        data = (features.to_numpy(), list(features.columns), labels.astype(str), groups)
        keys = [task_key("cross_validate fold", description, *data, t.train, t.test) for t in tasks]
    outputs = map_tasks(
        fit_and_predict_fold,
        tasks,
        keys=keys,
        cache_dir=cache_dir,
        description=f"Cross-validating {target}",
        scheduler=scheduler,
    )
    proba = np.zeros((len(labels), len(classes)))
    fold_of = np.zeros(len(labels), dtype=np.int64)
    column_of = {str(c): i for i, c in enumerate(classes)}
    for fold, (task, (fold_proba, fold_classes)) in enumerate(zip(tasks, outputs, strict=True)):
        for source, label in enumerate(fold_classes):
            proba[task.test, column_of[str(label)]] = fold_proba[:, source]
        fold_of[task.test] = fold
    predictions = table.frame[list(ID_COLUMNS)].reset_index(drop=True)
    predictions["fold"] = fold_of
    predictions["y_true"] = labels
    predictions["predicted"] = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    for index, label in enumerate(classes):
        predictions[f"proba_{label}"] = proba[:, index]
    scheme = (
        f"{n_splits}-fold cross-validation stratified by {target} and grouped by patient "
        f"(all lesions of a patient in the same fold), patients shuffled with seed {seed}"
    )
    return score_predictions(
        predictions,
        classes,
        target=target,
        scheme=scheme,
        seed=seed,
        n_splits=n_splits,
        n_resamples=n_resamples,
        interval=interval,
        estimator=description,
    )


# --- Scoring ---


def score_predictions(
    predictions: pd.DataFrame,
    classes: list[Any],
    *,
    target: str,
    scheme: str,
    seed: int = 0,
    n_splits: int = 0,
    n_resamples: int = 2000,
    interval: IntervalMethod = "percentile",
    estimator: str = "",
) -> ValidationResult:
    """Return the metrics of predictions (columns ``y_true``, ``proba_<class>``, ``patient_id``, ``centre``).

    Overall, per-centre and per-class metrics get cluster-bootstrap intervals resampling patients; the
    per-fold metrics (when a ``fold`` column exists) are point values.
    """
    column_of = {str(c): i for i, c in enumerate(classes)}
    codes = predictions["y_true"].map(lambda v: column_of[str(v)]).to_numpy()
    proba = predictions[[f"proba_{c}" for c in classes]].to_numpy(dtype=np.float64)
    patients = predictions["patient_id"].astype(str).to_numpy()
    method = f"cluster bootstrap over patients, {interval}, {n_resamples} resamples, seed {seed}"

    def estimates(rows: np.ndarray, statistic: Callable[..., dict[str, np.ndarray]]) -> dict[str, Any]:
        y, p = codes[rows], proba[rows]
        if len(np.unique(patients[rows])) < 2:
            point = statistic(y, p, np.ones((1, rows.size)))
            return {
                n: (v[0], np.full(v.shape[1:], np.nan), np.full(v.shape[1:], np.nan))
                for n, v in point.items()
            }
        return cluster_bootstrap(
            lambda w: statistic(y, p, w),
            patients[rows],
            n_resamples=n_resamples,
            seed=seed,
            method=interval,
        )

    everyone = np.arange(len(predictions))
    overall = estimates(everyone, classification_metrics)
    metrics = {
        name: Estimate(float(v), float(lo), float(hi), method) for name, (v, lo, hi) in overall.items()
    }
    per_centre = {}
    for centre in sorted(predictions["centre"].astype(str).unique()):
        rows = np.flatnonzero(predictions["centre"].astype(str).to_numpy() == centre)
        found = estimates(rows, classification_metrics)
        per_centre[centre] = {
            n: Estimate(float(v), float(lo), float(hi), method) for n, (v, lo, hi) in found.items()
        }
    by_class = estimates(everyone, class_metrics)
    per_class = {
        str(label): {
            name: Estimate(float(v[k]), float(lo[k]), float(hi[k]), method)
            for name, (v, lo, hi) in by_class.items()
        }
        for k, label in enumerate(classes)
    }
    per_fold: list[dict[str, float | None]] = []
    if "fold" in predictions.columns:
        for fold in sorted(predictions["fold"].unique()):
            rows = np.flatnonzero(predictions["fold"].to_numpy() == fold)
            values = classification_metrics(codes[rows], proba[rows], np.ones((1, rows.size)))
            per_fold.append({name: json_number(values[name][0]) for name in METRIC_NAMES})
    return ValidationResult(
        target=target,
        classes=list(classes),
        predictions=predictions,
        metrics=metrics,
        per_centre=per_centre,
        per_class=per_class,
        per_fold=per_fold,
        scheme=scheme,
        seed=seed,
        n_splits=n_splits,
        n_resamples=n_resamples,
        interval=interval,
        estimator=estimator,
    )
