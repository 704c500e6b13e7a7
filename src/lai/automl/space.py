"""The search space: every pipeline the search can try, sampled with Optuna and built with scikit-learn.

A pipeline is a plain ``dict`` (its *config*, JSON-able: what ``search.parquet`` records) and is built in
two parts:

- the **prefix**, ``impute > scale``, works column by column (kNN imputation excepted) on all feature columns,
  so the search computes it once per inner fold and reuses it across trials;
- the **head**, ``feature groups > drop constant > filter > resample > classify``, is fitted per trial.

The space (Optuna parameter names in brackets):

| step | choices |
|---|---|
| impute (``imputer``) | median; kNN (``impute_k``) - only when some value is missing |
| scale (``scaler``) | standard, robust, quantile (normal output) |

(kNN imputation and the quantile scaler only up to ``WIDE_COLUMNS`` feature columns.)
| feature groups (``sequence:<name>``, ``family:<name>``) | each sequence and feature family on or off |
| filter (``filter``) | none; variance (quasi-constant, ``variance_share``); correlation redundancy (``filter_threshold``, ``filter_k``); univariate F test (``filter_k``); L1 model (``filter_C``, ``filter_k``); tree model (``filter_k``); PCA (``filter_k`` components) |
| resample (``resampler``) | none, SMOTE, borderline SMOTE, random under-sampling (imbalanced-learn, training folds only) |
| classify (``classifier``) | logistic regression (L1 / L2 / elastic net), linear SVM, RBF SVM, random forest, extra trees, LightGBM, kNN, LDA, Gaussian naive Bayes |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from imblearn.over_sampling import SMOTE, BorderlineSMOTE
from imblearn.pipeline import Pipeline as ResamplingPipeline
from imblearn.under_sampling import RandomUnderSampler
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, QuantileTransformer, RobustScaler, StandardScaler
from sklearn.svm import SVC, LinearSVC

from lai.automl.feature_groups import FeatureGroups
from lai.automl.selection import (
    ColumnSubset,
    CorrelationFilter,
    L1Filter,
    QuasiConstantFilter,
    TreeFilter,
    UnivariateFilter,
)

CLASSIFIERS: tuple[str, ...] = (
    "logistic_regression",
    "linear_svm",
    "rbf_svm",
    "random_forest",
    "extra_trees",
    "lightgbm",
    "knn",
    "lda",
    "gaussian_nb",
)
FILTERS: tuple[str, ...] = ("none", "variance", "correlation", "univariate", "l1", "tree", "pca")
RESAMPLERS: tuple[str, ...] = ("none", "smote", "borderline_smote", "random_under")
SCALERS: tuple[str, ...] = ("standard", "robust", "quantile")

WIDE_COLUMNS = 2000
"""Above this many columns kNN imputation and the quantile scaler are left out of the space: on a table
of 10,000 columns each costs several seconds per fold, most of a short budget."""
_LDA_SHRINKAGE_MAX_COLUMNS = 500
"""Above this many columns LDA uses the SVD solver: a shrunk covariance matrix would not fit in memory."""


@dataclass(frozen=True)
class SpaceFacts:
    """What the space needs to know about the training data: sizes, missing values, feature groups."""

    n_samples: int
    n_features: int
    n_classes: int
    smallest_class: int
    has_missing: bool
    groups: FeatureGroups


# --- Sampling ---


def sample_config(trial: optuna.Trial | optuna.trial.FixedTrial, facts: SpaceFacts) -> dict[str, Any]:
    """Return a pipeline config sampled by ``trial`` (define-by-run: conditional parameters by step)."""
    config: dict[str, Any] = {"imputer": "median"}
    wide = facts.n_features > WIDE_COLUMNS
    if facts.has_missing and not wide:
        config["imputer"] = trial.suggest_categorical("imputer", ["median", "knn"])
        if config["imputer"] == "knn":
            config["impute_k"] = trial.suggest_int("impute_k", 2, 15)
    config["scaler"] = trial.suggest_categorical("scaler", list(SCALERS[:2] if wide else SCALERS))
    for dimension, name in facts.groups.switches:
        key = f"{dimension}:{name}"
        config[key] = trial.suggest_categorical(key, [True, False])
    _sample_filter(trial, facts, config)
    config["resampler"] = trial.suggest_categorical("resampler", list(RESAMPLERS))
    config["classifier"] = trial.suggest_categorical("classifier", list(CLASSIFIERS))
    _sample_classifier(trial, facts, config)
    return config


def _sample_filter(
    trial: optuna.Trial | optuna.trial.FixedTrial, facts: SpaceFacts, config: dict[str, Any]
) -> None:
    chosen = config["filter"] = trial.suggest_categorical("filter", list(FILTERS))
    top = max(1, min(facts.n_features, 1000))
    if chosen == "variance":
        config["variance_share"] = trial.suggest_float("variance_share", 0.5, 0.99)
    elif chosen in ("correlation", "univariate", "l1", "tree"):
        config["filter_k"] = trial.suggest_int("filter_k", 1, top, log=True)
    elif chosen == "pca":
        config["filter_k"] = trial.suggest_int("filter_k", 1, max(1, min(top, 100)), log=True)
    if chosen == "correlation":
        config["filter_threshold"] = trial.suggest_float("filter_threshold", 0.5, 0.99)
    if chosen == "l1":
        config["filter_C"] = trial.suggest_float("filter_C", 1e-3, 10.0, log=True)


def _sample_classifier(
    trial: optuna.Trial | optuna.trial.FixedTrial, facts: SpaceFacts, config: dict[str, Any]
) -> None:
    chosen = config["classifier"]
    weights = ["balanced", "none"]
    if chosen == "logistic_regression":
        config["lr_penalty"] = trial.suggest_categorical("lr_penalty", ["l2", "l1", "elasticnet"])
        config["lr_C"] = trial.suggest_float("lr_C", 1e-4, 100.0, log=True)
        if config["lr_penalty"] == "elasticnet":
            config["lr_l1_ratio"] = trial.suggest_float("lr_l1_ratio", 0.05, 0.95)
        config["lr_class_weight"] = trial.suggest_categorical("lr_class_weight", weights)
    elif chosen in ("linear_svm", "rbf_svm"):
        config["svm_C"] = trial.suggest_float("svm_C", 1e-4, 100.0, log=True)
        if chosen == "rbf_svm":
            config["svm_gamma"] = trial.suggest_float("svm_gamma", 1e-5, 1.0, log=True)
        config["svm_class_weight"] = trial.suggest_categorical("svm_class_weight", weights)
    elif chosen in ("random_forest", "extra_trees"):
        config["trees_n"] = trial.suggest_int("trees_n", 50, 500, log=True)
        config["trees_max_features"] = trial.suggest_float("trees_max_features", 0.01, 1.0, log=True)
        config["trees_min_leaf"] = trial.suggest_int("trees_min_leaf", 1, 10)
        config["trees_class_weight"] = trial.suggest_categorical("trees_class_weight", weights)
    elif chosen == "lightgbm":
        config["gbm_n"] = trial.suggest_int("gbm_n", 20, 500, log=True)
        config["gbm_learning_rate"] = trial.suggest_float("gbm_learning_rate", 0.01, 0.3, log=True)
        config["gbm_leaves"] = trial.suggest_int("gbm_leaves", 2, 64, log=True)
        config["gbm_min_child"] = trial.suggest_int("gbm_min_child", 2, 30, log=True)
        config["gbm_subsample"] = trial.suggest_float("gbm_subsample", 0.5, 1.0)
        config["gbm_colsample"] = trial.suggest_float("gbm_colsample", 0.05, 1.0, log=True)
        config["gbm_lambda"] = trial.suggest_float("gbm_lambda", 1e-3, 10.0, log=True)
        config["gbm_class_weight"] = trial.suggest_categorical("gbm_class_weight", weights)
    elif chosen == "knn":
        config["knn_k"] = trial.suggest_int("knn_k", 1, max(1, min(50, facts.n_samples // 2)), log=True)
        config["knn_weights"] = trial.suggest_categorical("knn_weights", ["uniform", "distance"])
    elif chosen == "gaussian_nb":
        config["nb_smoothing"] = trial.suggest_float("nb_smoothing", 1e-12, 1e-1, log=True)


def default_configs(facts: SpaceFacts) -> list[dict[str, Any]]:
    """Return the strong default pipelines the default preset tries first, as Optuna parameters.

    On small radiomics tables a standardised, L2-penalised logistic regression is hard to beat, so the
    search starts there (two penalty strengths), then an RBF SVM, a random forest and LightGBM (cheapest
    first); the sampler then explores around whichever did best.
    """
    common: dict[str, Any] = {"scaler": "standard", "resampler": "none", "filter": "none"}
    if facts.has_missing and facts.n_features <= WIDE_COLUMNS:
        common["imputer"] = "median"
    common.update({f"{d}:{n}": True for d, n in facts.groups.switches})
    lr = {**common, "classifier": "logistic_regression", "lr_penalty": "l2", "lr_class_weight": "balanced"}
    return [
        {**lr, "lr_C": 1.0},
        {**lr, "lr_C": 0.05},
        {
            **common,
            "classifier": "rbf_svm",
            "svm_C": 1.0,
            "svm_gamma": max(1e-5, min(1.0, 1.0 / max(facts.n_features, 1))),
            "svm_class_weight": "balanced",
        },
        {
            **common,
            "classifier": "random_forest",
            "trees_n": 200,
            "trees_max_features": max(0.01, min(1.0, 1.0 / math.sqrt(max(facts.n_features, 1)))),
            "trees_min_leaf": 1,
            "trees_class_weight": "balanced",
        },
        {
            **common,
            "classifier": "lightgbm",
            "gbm_n": 100,
            "gbm_learning_rate": 0.1,
            "gbm_leaves": 8,
            "gbm_min_child": 5,
            "gbm_subsample": 0.8,
            "gbm_colsample": 0.3,
            "gbm_lambda": 1.0,
            "gbm_class_weight": "balanced",
        },
    ]


# --- Building ---


def _to_float32(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.float32)


def build_prefix(config: Mapping[str, Any], n_samples: int) -> Pipeline:
    """Return the unfitted ``impute > scale > float32`` pipeline of ``config`` for ``n_samples`` rows.

    Empty columns are kept (imputed as 0) so that column indices, and with them the feature groups, are
    the same in every fold.
    """
    imputer: BaseEstimator
    if config["imputer"] == "knn":
        imputer = KNNImputer(n_neighbors=int(config["impute_k"]), keep_empty_features=True)
    else:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    scaler: BaseEstimator
    if config["scaler"] == "robust":
        scaler = RobustScaler()
    elif config["scaler"] == "quantile":
        scaler = QuantileTransformer(n_quantiles=max(2, min(1000, n_samples)), output_distribution="normal")
    else:
        scaler = StandardScaler()
    return Pipeline([("impute", imputer), ("scale", scaler), ("float32", FunctionTransformer(_to_float32))])


def prefix_key(config: Mapping[str, Any]) -> tuple[Any, ...]:
    """Return what identifies a config's prefix: trials with the same key share fitted prefixes."""
    return (config["imputer"], config.get("impute_k"), config["scaler"])


def selected_columns(config: Mapping[str, Any], groups: FeatureGroups) -> np.ndarray:
    """Return the indices of the feature columns whose groups ``config`` switches on."""
    on = {
        (dimension, name): bool(config.get(f"{dimension}:{name}", True))
        for dimension, name in groups.switches
    }
    return groups.columns(on)


def build_head(
    config: Mapping[str, Any],
    columns: np.ndarray,
    y: np.ndarray,
    random_state: int,
) -> ResamplingPipeline:
    """Return the unfitted ``columns > drop constant > filter > resample > classify`` pipeline.

    Parameters
    ----------
    config
        The pipeline config.
    columns
        Indices of the prefix's output columns to use (``selected_columns``).
    y
        Class codes of the rows it will be fitted on: neighbour counts of SMOTE, kNN and the SVMs'
        calibration folds are limited by the class sizes.
    random_state
        Seed of every random step.
    """
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    steps: list[tuple[str, Any]] = [
        ("columns", ColumnSubset(columns)),
        ("drop_constant", VarianceThreshold(0.0)),
        ("filter", _filter(config, random_state, min(len(y) - 1, len(columns)))),
        ("resample", _resampler(config, smallest, random_state)),
        ("classify", _classifier(config, len(y), smallest, len(columns), random_state)),
    ]
    return ResamplingPipeline(steps)


def _filter(config: Mapping[str, Any], random_state: int, max_components: int) -> Any:
    chosen = config["filter"]
    k = int(config.get("filter_k", 1))
    if chosen == "variance":
        return QuasiConstantFilter(max_share=float(config["variance_share"]))
    if chosen == "correlation":
        return CorrelationFilter(threshold=float(config["filter_threshold"]), k=k)
    if chosen == "univariate":
        return UnivariateFilter(k=k)
    if chosen == "l1":
        return L1Filter(C=float(config["filter_C"]), k=k, random_state=random_state)
    if chosen == "tree":
        return TreeFilter(k=k, random_state=random_state)
    if chosen == "pca":
        return PCA(n_components=max(1, min(k, max_components)), random_state=random_state)
    return "passthrough"


def _resampler(config: Mapping[str, Any], smallest: int, random_state: int) -> Any:
    chosen = config["resampler"]
    if chosen == "random_under":
        return RandomUnderSampler(random_state=random_state)
    if chosen in ("smote", "borderline_smote") and smallest >= 2:
        k = min(5, smallest - 1)
        if chosen == "smote":
            return SMOTE(k_neighbors=k, random_state=random_state)
        return BorderlineSMOTE(k_neighbors=k, m_neighbors=max(k, 2), random_state=random_state)
    return "passthrough"


def _weight(value: Any) -> str | None:
    return "balanced" if value == "balanced" else None


def _classifier(
    config: Mapping[str, Any], n_samples: int, smallest: int, n_columns: int, random_state: int
) -> Any:
    chosen = config["classifier"]
    if chosen == "logistic_regression":
        penalty = config["lr_penalty"]
        ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, float(config.get("lr_l1_ratio", 0.5)))
        return LogisticRegression(
            C=float(config["lr_C"]),
            l1_ratio=ratio,
            solver="lbfgs" if ratio == 0.0 else "saga",
            tol=1e-3,
            max_iter=1000 if ratio == 0.0 else 300,
            class_weight=_weight(config["lr_class_weight"]),
            random_state=random_state,
        )
    if chosen in ("linear_svm", "rbf_svm"):
        svm: BaseEstimator
        weight = _weight(config["svm_class_weight"])
        if chosen == "linear_svm":
            svm = LinearSVC(C=float(config["svm_C"]), class_weight=weight, random_state=random_state)
        else:
            svm = SVC(C=float(config["svm_C"]), gamma=float(config["svm_gamma"]), class_weight=weight)
        folds = StratifiedKFold(n_splits=max(2, min(3, smallest)), shuffle=True, random_state=random_state)
        return CalibratedClassifierCV(svm, method="sigmoid", cv=folds)
    if chosen in ("random_forest", "extra_trees"):
        forest = RandomForestClassifier if chosen == "random_forest" else ExtraTreesClassifier
        return forest(
            n_estimators=int(config["trees_n"]),
            max_features=float(config["trees_max_features"]),
            min_samples_leaf=int(config["trees_min_leaf"]),
            class_weight=_weight(config["trees_class_weight"]),
            n_jobs=1,
            random_state=random_state,
        )
    if chosen == "lightgbm":
        return LGBMClassifier(
            n_estimators=int(config["gbm_n"]),
            learning_rate=float(config["gbm_learning_rate"]),
            num_leaves=int(config["gbm_leaves"]),
            min_child_samples=int(config["gbm_min_child"]),
            subsample=float(config["gbm_subsample"]),
            subsample_freq=1,
            colsample_bytree=float(config["gbm_colsample"]),
            reg_lambda=float(config["gbm_lambda"]),
            class_weight=_weight(config["gbm_class_weight"]),
            n_jobs=1,
            verbose=-1,
            random_state=random_state,
        )
    if chosen == "knn":
        return KNeighborsClassifier(
            n_neighbors=max(1, min(int(config["knn_k"]), n_samples - 1)), weights=config["knn_weights"]
        )
    if chosen == "lda":
        if n_columns <= _LDA_SHRINKAGE_MAX_COLUMNS:
            return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        return LinearDiscriminantAnalysis(solver="svd")
    if chosen == "gaussian_nb":
        return GaussianNB(var_smoothing=float(config["nb_smoothing"]))
    msg = f"Unknown classifier {chosen!r} in pipeline config; known: {', '.join(CLASSIFIERS)}"
    raise ValueError(msg)


# --- Reading ---


def describe(config: Mapping[str, Any]) -> str:
    """Return a one-line description of a pipeline config, e.g.
    ``median > standard > univariate(k=40) > smote > logistic_regression(l2)``."""
    imputer = "knn-impute" if config["imputer"] == "knn" else "median-impute"
    filter_name = str(config["filter"])
    if "filter_k" in config:
        filter_name += f"(k={config['filter_k']})"
    off = sorted(k for k, v in config.items() if ":" in k and v is False)
    groups = f"without {','.join(off)}" if off else "all groups"
    classifier = str(config["classifier"])
    if classifier == "logistic_regression":
        classifier += f"({config['lr_penalty']})"
    return " > ".join(
        [imputer, str(config["scaler"]), groups, filter_name, str(config["resampler"]), classifier]
    )
