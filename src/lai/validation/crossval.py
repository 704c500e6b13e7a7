"""Fit a classifier inside train/test splits of a FeatureTable and score its out-of-split predictions.

Every split fits a fresh estimator on the training patients only and predicts the test lesions; the splits
run through ``lai.compute`` (processes, or a Dask cluster), are cached by content and resume after an
interruption. Every out-of-split prediction is kept with its split's name. The scores then get the
uncertainty that fits how the splits were drawn:

- splits whose test sets together cover each lesion once (k-fold, leave-centre-out) or a single test set
  (temporal, external): the pooled predictions are scored once, with a cluster bootstrap over patients
  (BCa by default; Efron 1987, Field & Welsh 2007), plus DeLong's interval for a binary AUC;
- repeated random splits (and repeated k-fold), where a lesion is tested many times: the headline metrics
  are the mean over splits with the corrected resampled t interval (Nadeau & Bengio 2003), because the
  splits' training sets overlap and the naive interval is far too narrow.

With ``harmonise="combat"`` every split's estimator becomes ``Pipeline([ComBat, estimator])``: ComBat
(Johnson et al. 2007) reads each lesion's centre, is fitted on that split's training rows only and removes
each centre's location and scale from every feature; the centre column goes to ComBat alone, never to the
classifier. A centre absent from the training rows (leave-centre-out, external) is harmonised from its own
unlabelled rows, as ``ComBat(unseen="estimate")`` documents, and the result's ``notes`` say so.

``lai.validation.schemes`` builds the splits of each named scheme; ``cross_validate`` is the k-fold one.

References
----------
Efron B (1987). Better bootstrap confidence intervals. J Am Stat Assoc 82:171-185.
Field CA, Welsh AH (2007). Bootstrapping clustered data. J R Stat Soc B 69(3):369-390.
Nadeau C, Bengio Y (2003). Inference for the generalization error. Mach Learn 52:239-281.
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Biometrics 44:837-845.
Breiman L (2001). Random forests. Mach Learn 45:5-32 (permutation importance).
Johnson WE, Li C, Rabinovic A (2007). Adjusting batch effects in microarray expression data using empirical
Bayes methods. Biostatistics 8:118-127 (ComBat).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from lai.compute import map_tasks, task_key
from lai.data.feature_table import ID_COLUMNS, FeatureTable
from lai.data.taxonomy import DIAGNOSES
from lai.validation.bootstrap import Estimate, IntervalMethod, cluster_bootstrap, json_number
from lai.validation.delong import delong_interval
from lai.validation.harmonisation import ComBat, HarmonisationWarning
from lai.validation.metrics import (
    GROUP_METRIC_NAMES,
    brier_score,
    class_metrics,
    classification_metrics,
    npv,
    ppv,
    sensitivity,
    specificity,
)
from lai.validation.splitters import grouped_stratified_kfold
from lai.validation.uncertainty import corrected_resampled_t_interval

HEADLINE_NAMES: tuple[str, ...] = GROUP_METRIC_NAMES
"""Metrics of every result, in report order: AUC, balanced accuracy, macro F1, kappa, accuracy,
sensitivity, specificity, PPV, NPV (of the positive class, or the mean over classes), Brier score."""

UNBOUNDED_METRICS: frozenset[str] = frozenset({"cohen_kappa"})
"""Metrics not confined to [0, 1] (kappa lies in [-1, 1]): their t interval is on the raw scale."""

Harmoniser = Literal["combat"]

HARMONISERS: tuple[str, ...] = ("combat",)
"""Harmonisations a validation can fit inside every split (``harmonise=``)."""

BATCH_COLUMN = "centre"
"""The column ComBat reads the batch from: added to the model input for the harmoniser only."""


@dataclass(frozen=True)
class Split:
    """One train/test split: row positions in the development table and in the test table.

    ``test`` indexes the development table itself except for external validation, where it indexes the
    external table. ``held_out`` says in words what the test side is (a centre, a date range).
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    held_out: str = ""


@dataclass
class ValidationResult:
    """Out-of-split predictions of one target under one validation scheme, and their metrics.

    Attributes
    ----------
    target
        The label column (``malignant``, ``diagnosis``).
    classes
        Class labels, in the order of the ``proba_<class>`` columns; for binary targets the second class
        is the positive one.
    predictions
        One row per lesion tested at least once, in table order: id columns, ``split`` (the split that
        tested it; for a lesion tested in several splits, the first), ``n_tests``, ``y_true``,
        ``predicted``, ``proba_<class>`` (the mean over the splits that tested the lesion).
    split_predictions
        Every out-of-split prediction: one row per split and test lesion, with the split's name.
    metrics
        Headline metrics (``HEADLINE_NAMES``, plus ``auc_delong`` for binary targets).
    per_centre, per_class
        Headline metrics within each centre; each class's metrics against the rest.
    per_split
        Each split's size, what it held out and its point metrics, in split order.
    scheme
        A sentence describing the validation scheme; ``scheme_name`` its short name.
    seed
        Seed of the splits and of the bootstrap.
    importance
        Permutation importance of feature groups (drop in AUC when a group's columns are shuffled in the
        test rows), one row per group and split; empty when not computed.
    pooled_metrics
        Repeated schemes only: the metrics of the pooled (per-lesion mean) predictions with their
        bootstrap intervals, next to the split means of ``metrics``; empty otherwise.
    harmonisation
        A sentence saying how features were harmonised across centres inside the splits; empty when not.
    notes
        What the reader of the numbers should know about how they were made, one sentence each, prefixed
        by the split (e.g. a held-out centre harmonised from its own rows).
    """

    target: str
    classes: list[Any]
    predictions: pd.DataFrame
    metrics: dict[str, Estimate]
    per_centre: dict[str, dict[str, Estimate]]
    per_class: dict[str, dict[str, Estimate]]
    per_split: list[dict[str, Any]]
    scheme: str
    seed: int
    n_splits: int
    n_resamples: int
    interval: str
    estimator: str = ""
    scheme_name: str = "kfold"
    split_predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)
    pooled_metrics: dict[str, Estimate] = field(default_factory=dict)
    harmonisation: str = ""
    notes: list[str] = field(default_factory=list)

    def confusion(self) -> np.ndarray:
        """Return the confusion matrix of counts: rows true class, columns predicted, in ``classes`` order."""
        index = {str(c): i for i, c in enumerate(self.classes)}
        matrix = np.zeros((len(self.classes), len(self.classes)), dtype=np.int64)
        truth = self.predictions["y_true"].map(lambda v: index[str(v)])
        predicted = self.predictions["predicted"].map(lambda v: index[str(v)])
        np.add.at(matrix, (truth.to_numpy(), predicted.to_numpy()), 1)
        return matrix

    def probabilities(self) -> np.ndarray:
        """Return the pooled class probabilities, shape ``(n, K)``, columns in ``classes`` order."""
        return self.predictions[[f"proba_{c}" for c in self.classes]].to_numpy(dtype=np.float64)

    def class_codes(self) -> np.ndarray:
        """Return each pooled prediction's true class as an integer code ``0..K-1``."""
        index = {str(c): i for i, c in enumerate(self.classes)}
        return self.predictions["y_true"].map(lambda v: index[str(v)]).to_numpy(dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Return every number of the result as JSON-ready values (predictions are summarised by counts)."""
        return {
            "target": self.target,
            "classes": [_plain(c) for c in self.classes],
            "scheme_name": self.scheme_name,
            "scheme": self.scheme,
            "seed": self.seed,
            "n_splits": self.n_splits,
            "n_resamples": self.n_resamples,
            "interval": self.interval,
            "estimator": self.estimator,
            "harmonisation": self.harmonisation,
            "notes": list(self.notes),
            "n_lesions": len(self.predictions),
            "n_patients": int(self.predictions["patient_id"].nunique()),
            "n_predictions": len(self.split_predictions),
            "metrics": {name: e.to_dict() for name, e in self.metrics.items()},
            "pooled_metrics": {name: e.to_dict() for name, e in self.pooled_metrics.items()},
            "per_centre": {c: {n: e.to_dict() for n, e in m.items()} for c, m in self.per_centre.items()},
            "per_class": {c: {n: e.to_dict() for n, e in m.items()} for c, m in self.per_class.items()},
            "per_split": self.per_split,
            "confusion": self.confusion().tolist(),
            "importance": _importance_summary(self.importance),
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


def headline_metrics(y_true: np.ndarray, proba: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Return ``HEADLINE_NAMES`` for each row of lesion weights ``(R, n)``, each of shape ``(R,)``.

    Sensitivity, specificity, PPV and NPV are those of the positive class (binary) or their mean over
    classes, each against the rest (multi-class); the Brier score is the class-mean convention of
    ``lai.validation.metrics.brier_score``.
    """
    values = classification_metrics(y_true, proba, weights)
    for rate in (sensitivity, specificity, ppv, npv):
        found = np.asarray(rate(y_true, proba, weights), dtype=np.float64)
        values[rate.__name__] = found if found.ndim == 1 else _mean_over_classes(found)
    values["brier"] = np.asarray(brier_score(y_true, proba, weights), dtype=np.float64)
    return values


def _mean_over_classes(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis, ignoring NaN; NaN where every value is NaN."""
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# --- Fitting inside splits ---


@dataclass(frozen=True)
class SplitTask:
    """One split's work: fit ``make_estimator()`` on the training rows, predict the test rows.

    ``importance_groups`` names groups of feature columns (positions) to permute jointly in the test rows
    ``importance_repeats`` times each, measuring the drop in AUC. With ``harmonise``, ``centres`` and
    ``test_centres`` hold each development and test row's centre, read by the harmoniser only.
    """

    make_estimator: Callable[[], Any]
    features: pd.DataFrame
    labels: np.ndarray
    groups: np.ndarray
    train: np.ndarray
    test_features: pd.DataFrame
    test_codes: np.ndarray
    test: np.ndarray
    classes: tuple[Any, ...]
    importance_groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
    importance_repeats: int = 0
    seed: int = 0
    harmonise: Harmoniser | None = None
    centres: np.ndarray | None = None
    test_centres: np.ndarray | None = None


@dataclass(frozen=True)
class SplitOutput:
    """A split's test probabilities (columns in ``classes`` order), permutation importances and notes."""

    proba: np.ndarray
    importance: dict[str, float]
    notes: tuple[str, ...] = ()


def harmonised_estimator(estimator: Any, harmonise: Harmoniser) -> Pipeline:
    """Return ``Pipeline([("harmonise", ComBat), ("model", estimator)])`` reading the centre from ``BATCH_COLUMN``.

    ComBat drops the centre column, so the model sees the harmonised feature columns only.
    """
    if harmonise != "combat":
        msg = f"Unknown harmonisation {harmonise!r}: use one of {', '.join(HARMONISERS)}"
        raise ValueError(msg)
    return Pipeline([("harmonise", ComBat(batch_column=BATCH_COLUMN)), ("model", estimator)])


def fit_and_predict_split(task: SplitTask) -> SplitOutput:
    """Return the test rows' class probabilities, in the task's class order, feature-group importances and notes.

    With ``task.harmonise`` the estimator is wrapped by ``harmonised_estimator`` and fitted on the training
    rows with their centres; the harmoniser's warnings (a centre unseen in training) become the notes.
    """
    estimator = task.make_estimator()
    fit_params = {"groups": task.groups[task.train]} if has_fit_parameter(estimator, "groups") else {}
    if task.harmonise is not None:
        estimator = harmonised_estimator(estimator, task.harmonise)
        fit_params = {f"model__{name}": value for name, value in fit_params.items()}
    X_test = task.test_features.iloc[task.test]
    test_centres = None if task.test_centres is None else task.test_centres[task.test]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HarmonisationWarning)
        estimator.fit(
            _model_input(
                task.features.iloc[task.train],
                task,
                None if task.centres is None else task.centres[task.train],
            ),
            task.labels[task.train],
            **fit_params,
        )
        proba = _ordered_proba(estimator, _model_input(X_test, task, test_centres), task.classes)
        importance = _permutation_importance(task, estimator, X_test, test_centres, proba)
    notes = []
    for warning in caught:
        if issubclass(warning.category, HarmonisationWarning):
            notes.append(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return SplitOutput(proba, importance, tuple(dict.fromkeys(notes)))


def _model_input(features: pd.DataFrame, task: SplitTask, centres: np.ndarray | None) -> pd.DataFrame:
    """Return what the (possibly harmonised) estimator is given: the features, plus the centre to harmonise."""
    if task.harmonise is None or centres is None:
        return features
    return features.assign(**{BATCH_COLUMN: centres})


def _permutation_importance(
    task: SplitTask, estimator: Any, X_test: pd.DataFrame, test_centres: np.ndarray | None, proba: np.ndarray
) -> dict[str, float]:
    """Return each feature group's mean drop in AUC when its columns are permuted jointly in the test rows."""
    importance: dict[str, float] = {}
    if task.importance_repeats <= 0 or not task.importance_groups:
        return importance
    codes = task.test_codes[task.test]
    weights = np.ones((1, codes.size))
    baseline = float(classification_metrics(codes, proba, weights)["auc"][0])
    rng = np.random.default_rng(task.seed)
    values = X_test.to_numpy(dtype=np.float64, copy=True)
    for name, columns in task.importance_groups:
        drops = []
        for _ in range(task.importance_repeats):
            shuffled = values.copy()
            shuffled[:, list(columns)] = values[rng.permutation(len(values))][:, list(columns)]
            permuted = pd.DataFrame(shuffled, columns=X_test.columns, index=X_test.index)
            score = classification_metrics(
                codes,
                _ordered_proba(estimator, _model_input(permuted, task, test_centres), task.classes),
                weights,
            )
            drops.append(baseline - float(score["auc"][0]))
        importance[name] = float(np.mean(drops))
    return importance


def _ordered_proba(estimator: Any, X: pd.DataFrame, classes: Sequence[Any]) -> np.ndarray:
    """Return ``predict_proba`` with columns in ``classes`` order (zeros for a class the fit never saw)."""
    raw = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    column_of = {str(c): i for i, c in enumerate(classes)}
    proba = np.zeros((raw.shape[0], len(classes)))
    for source, label in enumerate(estimator.classes_):
        proba[:, column_of[str(label)]] = raw[:, source]
    return proba


def importance_groups(
    columns: Sequence[str], max_single: int = 40
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Return the feature groups permuted together: one per sequence, else single columns, else families.

    Tables with columns from several sequences (``t2w:``, ``portal:``, ``kinetics:``) are grouped by that
    prefix, which answers the radiologist's question "which images matter"; a one-sequence table of at
    most ``max_single`` columns gets one group per column; a larger one a group per feature family
    (``original_glcm``, ``log-sigma-2-0-mm-3D_firstorder`` ...).
    """
    prefixes = [c.split(":", 1)[0] for c in columns]
    if len(set(prefixes)) > 1:
        keys = prefixes
    elif len(columns) <= max_single:
        keys = list(columns)
    else:
        keys = [c.split(":", 1)[-1].rsplit("_", 1)[0] for c in columns]
    positions: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        positions.setdefault(key, []).append(index)
    return tuple((key, tuple(found)) for key, found in positions.items())


def run_splits(
    make_estimator: Callable[[], Any],
    table: FeatureTable,
    target: str,
    splits: Sequence[Split],
    *,
    scheme_name: str,
    scheme: str,
    test_table: FeatureTable | None = None,
    repeated: bool = False,
    seed: int = 0,
    n_resamples: int = 2000,
    interval: IntervalMethod = "bca",
    importance_repeats: int = 0,
    harmonise: Harmoniser | None = None,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Return the validation result of fitting ``make_estimator()`` in every split and scoring the tests.

    Parameters
    ----------
    make_estimator
        A picklable callable returning a fresh, unfitted classifier with ``fit`` and ``predict_proba``.
    table
        The development table: training rows come from it (and test rows, unless ``test_table``).
    target
        The label column to predict.
    splits
        The splits (``lai.validation.schemes`` builds them).
    scheme_name, scheme
        Short name and one-sentence description of the scheme.
    test_table
        External test table (same feature columns); ``None`` tests on ``table``'s own rows.
    repeated
        Whether a lesion is tested in many splits (repeated random splits, repeated k-fold): the headline
        intervals are then the corrected resampled t over split scores instead of the bootstrap.
    seed
        Seed of the bootstrap and of the permutations.
    n_resamples, interval
        Cluster-bootstrap resamples and interval method (``"bca"`` or ``"percentile"``).
    importance_repeats
        Permutations per feature group and split for the permutation importance (0: not computed).
    harmonise
        ``"combat"``: ComBat fitted on each split's training rows, reading the ``centre`` column, in front
        of the estimator (``harmonised_estimator``); ``None``: the estimator sees the features as they are.
    scheduler, cache_dir
        Passed to ``lai.compute.map_tasks``; every split is cached under its content hash.
    """
    features = table.features
    if features.shape[1] == 0:
        msg = "The feature table has no feature columns (names with ':')"
        raise ValueError(msg)
    labels = table.target(target).to_numpy()
    groups = table.groups.astype(str).to_numpy()
    tested = table if test_table is None else test_table
    centres = test_centres = None
    if harmonise is not None:
        if harmonise not in HARMONISERS:
            msg = f"Unknown harmonisation {harmonise!r}: use one of {', '.join(HARMONISERS)} (or none)"
            raise ValueError(msg)
        centres = _centres(table, "development")
        test_centres = centres if test_table is None else _centres(test_table, "external")
        _check_harmonisable(splits, centres)
    test_features = features if test_table is None else _matching_features(test_table, features.columns)
    test_labels = tested.target(target).to_numpy()
    classes = ordered_classes(np.concatenate([labels, test_labels]))
    column_of = {str(c): i for i, c in enumerate(classes)}
    test_codes = np.array([column_of[str(v)] for v in test_labels], dtype=np.int64)
    groups_to_permute = importance_groups(list(features.columns)) if importance_repeats > 0 else ()
    tasks = [
        SplitTask(
            make_estimator,
            features,
            labels,
            groups,
            split.train,
            test_features,
            test_codes,
            split.test,
            tuple(classes),
            groups_to_permute,
            importance_repeats,
            seed + number,
            harmonise,
            centres,
            test_centres,
        )
        for number, split in enumerate(splits)
    ]
    description = repr(make_estimator())
    keys = None
    if cache_dir is not None:
        data = task_key(
            features.to_numpy(),
            list(features.columns),
            labels.astype(str),
            groups,
            None if test_table is None else test_features.to_numpy(),
            test_labels.astype(str),
        )
        if harmonise is not None:
            data = task_key(data, "harmonise", harmonise, centres, test_centres)
        keys = [
            task_key("validation split", description, data, t.train, t.test, t.importance_repeats, t.seed)
            for t in tasks
        ]
    outputs = map_tasks(
        fit_and_predict_split,
        tasks,
        keys=keys,
        cache_dir=cache_dir,
        description=f"Validating {target} ({scheme_name}, {len(tasks)} splits)",
        scheduler=scheduler,
    )
    ids = tested.frame[list(ID_COLUMNS)].reset_index(drop=True)
    long_parts = []
    for split, output in zip(splits, outputs, strict=True):
        part = ids.iloc[split.test].copy()
        part.insert(len(ID_COLUMNS), "split", split.name)
        part["row"] = split.test
        part["y_true"] = test_labels[split.test]
        part["predicted"] = np.asarray(classes, dtype=object)[np.argmax(output.proba, axis=1)]
        for index, label in enumerate(classes):
            part[f"proba_{label}"] = output.proba[:, index]
        long_parts.append(part)
    split_predictions = pd.concat(long_parts, ignore_index=True)
    predictions = _pooled(split_predictions, classes)
    per_split = [_split_record(split, split_predictions, classes, test_codes) for split in splits]
    importance = pd.DataFrame(
        [
            {"group": name, "split": split.name, "auc_drop": drop}
            for split, output in zip(splits, outputs, strict=True)
            for name, drop in output.importance.items()
        ],
        columns=["group", "split", "auc_drop"],
    )
    result = score_predictions(
        predictions,
        classes,
        target=target,
        scheme=scheme,
        seed=seed,
        n_splits=len(splits),
        n_resamples=n_resamples,
        interval=interval,
        estimator=description,
    )
    result.scheme_name = scheme_name
    result.per_split = per_split
    result.split_predictions = split_predictions.drop(columns="row")
    result.importance = importance
    result.harmonisation = harmonisation_description(harmonise)
    result.notes = [
        f"{split.name}: {note}"
        for split, output in zip(splits, outputs, strict=True)
        for note in output.notes
    ]
    if repeated:
        result.pooled_metrics = result.metrics
        result.metrics = {**result.metrics, **_corrected_t_metrics(per_split)}
    return result


def harmonisation_description(harmonise: Harmoniser | None) -> str:
    """Return the sentence the report shows for a harmonisation, empty for ``None``."""
    if harmonise is None:
        return ""
    return (
        "features harmonised across centres by ComBat (Johnson et al. 2007; parametric empirical Bayes, no "
        "covariates) fitted on each split's training lesions only; the centre is read by ComBat and never given "
        "to the model; a centre absent from training is harmonised from its own unlabelled lesions"
    )


def _centres(table: FeatureTable, name: str) -> np.ndarray:
    """Return each row's centre as text, refusing a table without centres (ComBat needs them)."""
    if BATCH_COLUMN not in table.frame.columns or table.frame[BATCH_COLUMN].isna().any():
        msg = f"Harmonisation needs a {BATCH_COLUMN!r} for every lesion of the {name} table"
        raise ValueError(msg)
    return table.frame[BATCH_COLUMN].astype(str).to_numpy()


def _check_harmonisable(splits: Sequence[Split], centres: np.ndarray) -> None:
    """Refuse splits whose training rows hold a centre with a single lesion (ComBat needs 2 to fit it)."""
    for split in splits:
        names, counts = np.unique(centres[split.train], return_counts=True)
        if (counts < 2).any():
            lonely = [str(n) for n in names[counts < 2]]
            msg = (
                f"ComBat needs at least 2 training lesions per centre; split {split.name} trains on a single "
                f"lesion of centre(s) {lonely}: merge or drop such centres, or validate without --harmonise"
            )
            raise ValueError(msg)


def _matching_features(table: FeatureTable, columns: pd.Index) -> pd.DataFrame:
    """Return ``table``'s feature columns named ``columns``, refusing a table that lacks any of them."""
    missing = [c for c in columns if c not in table.frame.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        msg = f"The external table lacks {len(missing)} feature column(s) of the development table: {shown}"
        raise ValueError(msg)
    return table.frame[list(columns)].astype("float64")


def _pooled(split_predictions: pd.DataFrame, classes: Sequence[Any]) -> pd.DataFrame:
    """Return one row per tested lesion (table order): the mean of its out-of-split probabilities."""
    proba_columns = [f"proba_{c}" for c in classes]
    grouped = split_predictions.groupby("row", sort=True)
    first = grouped.first()
    pooled = first[[*ID_COLUMNS, "split"]].copy()
    pooled["n_tests"] = grouped.size().to_numpy()
    pooled["y_true"] = first["y_true"]
    mean = grouped[proba_columns].mean()
    pooled["predicted"] = np.asarray(classes, dtype=object)[np.argmax(mean.to_numpy(), axis=1)]
    for column in proba_columns:
        pooled[column] = mean[column]
    return pooled.reset_index(drop=True)


def _split_record(
    split: Split, split_predictions: pd.DataFrame, classes: Sequence[Any], test_codes: np.ndarray
) -> dict[str, Any]:
    """Return one split's sizes, what it held out, and its point metrics (``None`` where undefined)."""
    rows = split_predictions[split_predictions["split"] == split.name]
    proba = rows[[f"proba_{c}" for c in classes]].to_numpy(dtype=np.float64)
    values = headline_metrics(test_codes[split.test], proba, np.ones((1, len(rows))))
    return {
        "split": split.name,
        "held_out": split.held_out,
        "n_train": len(split.train),
        "n_test": len(split.test),
        "n_test_patients": int(rows["patient_id"].nunique()),
        **{name: json_number(values[name][0]) for name in HEADLINE_NAMES},
    }


def _corrected_t_metrics(per_split: Sequence[dict[str, Any]]) -> dict[str, Estimate]:
    """Return the headline metrics as split means with corrected resampled t intervals."""
    n_train = round(float(np.mean([s["n_train"] for s in per_split])))
    n_test = round(float(np.mean([s["n_test"] for s in per_split])))
    found = {}
    for name in HEADLINE_NAMES:
        scores = np.array([s[name] for s in per_split if s[name] is not None], dtype=np.float64)
        if scores.size < 2:
            method = f"mean of {scores.size} split score(s); too few for an interval"
            value = float(scores.mean()) if scores.size else float("nan")
            found[name] = Estimate(value, float("nan"), float("nan"), method)
            continue
        estimate = corrected_resampled_t_interval(
            scores, n_train, n_test, bounded=name not in UNBOUNDED_METRICS
        )
        found[name] = estimate
    return found


def _importance_summary(importance: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the mean, SD and split count of each group's AUC drop, largest mean first."""
    if importance.empty:
        return []
    summary = importance.groupby("group", sort=False)["auc_drop"].agg(["mean", "std", "count"])
    summary = summary.sort_values("mean", ascending=False, kind="stable")
    return [
        {
            "group": str(group),
            "auc_drop_mean": json_number(row["mean"]),
            "auc_drop_sd": json_number(row["std"]),
            "n_splits": int(row["count"]),
        }
        for group, row in summary.iterrows()
    ]


# --- k-fold cross-validation ---


def cross_validate(
    make_estimator: Callable[[], Any],
    table: FeatureTable,
    target: str,
    *,
    n_splits: int = 5,
    seed: int = 0,
    n_resamples: int = 2000,
    interval: IntervalMethod = "percentile",
    harmonise: Harmoniser | None = None,
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
    harmonise
        ``"combat"`` to fit ComBat on each fold's training rows in front of the estimator (``run_splits``).
    scheduler, cache_dir
        Passed to ``lai.compute.map_tasks``.
    """
    labels = table.target(target).to_numpy()
    folds = grouped_stratified_kfold(
        labels, table.groups.astype(str).to_numpy(), n_splits=n_splits, seed=seed
    )
    splits = [Split(f"fold-{k}", train, test) for k, (train, test) in enumerate(folds)]
    scheme = (
        f"{n_splits}-fold cross-validation stratified by {target} and grouped by patient "
        f"(all lesions of a patient in the same fold), patients shuffled with seed {seed}"
    )
    return run_splits(
        make_estimator,
        table,
        target,
        splits,
        scheme_name="kfold",
        scheme=scheme,
        seed=seed,
        n_resamples=n_resamples,
        interval=interval,
        harmonise=harmonise,
        scheduler=scheduler,
        cache_dir=cache_dir,
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

    Overall, per-centre and per-class metrics get cluster-bootstrap intervals resampling patients; a binary
    target's AUC also gets DeLong's interval (``auc_delong``, lesions taken as independent).
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
    overall = estimates(everyone, headline_metrics)
    metrics = {
        name: Estimate(float(v), float(lo), float(hi), method) for name, (v, lo, hi) in overall.items()
    }
    if len(classes) == 2 and 0 < codes.sum() < codes.size:
        auc, low, high = delong_interval(codes == 1, proba[:, 1])
        metrics["auc_delong"] = Estimate(auc, low, high, "DeLong et al. (1988), lesions as independent")
    per_centre = {}
    for centre in sorted(predictions["centre"].astype(str).unique()):
        rows = np.flatnonzero(predictions["centre"].astype(str).to_numpy() == centre)
        found = estimates(rows, headline_metrics)
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
    return ValidationResult(
        target=target,
        classes=list(classes),
        predictions=predictions,
        metrics=metrics,
        per_centre=per_centre,
        per_class=per_class,
        per_split=[],
        scheme=scheme,
        seed=seed,
        n_splits=n_splits,
        n_resamples=n_resamples,
        interval=interval,
        estimator=estimator,
    )
