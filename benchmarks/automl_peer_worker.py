"""Fit one tool on one outer split and write its test-set probabilities: run by ``automl_peers.py``.

Usage (inside the tool's own interpreter, one core)::

    python automl_peer_worker.py TOOL SPLIT.npz PROBA.npz BUDGET SEED

``SPLIT.npz`` holds ``X_train``, ``y_train`` (integer class codes 0..k-1), ``groups_train`` (patient
codes) and ``X_test``. The worker fits ``TOOL`` (``lai``, ``logreg``, ``forest``, ``flaml``, ``tpot`` or
``autogluon``) with a time budget of ``BUDGET`` seconds and one job, writes ``proba`` (n_test x k, columns
in class-code order) to ``PROBA.npz`` and prints one JSON line: fit seconds (fit and predict), the tool's
version and notes. This file imports only what the chosen tool needs, so that it runs in each peer's venv;
it imports nothing of LAI's unless ``TOOL`` is ``lai``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int], tuple[np.ndarray, str]]
"""``(X_train, y_train, groups_train, X_test, budget, seed) -> (proba of the classes in fit order, notes)``."""


def _binary(y: np.ndarray) -> bool:
    return np.unique(y).size == 2


def fit_lai(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    from lai.automl import AutoClassifier

    wanted: dict[str, Any] = {"metric": "auc", "budget": budget, "random_state": seed, "n_jobs": 1}
    accepted = inspect.signature(AutoClassifier).parameters
    arguments = {name: value for name, value in wanted.items() if name in accepted}
    model = AutoClassifier(**arguments).fit(X, y, groups=groups)
    ignored = sorted(set(wanted) - set(arguments))
    notes = f"AutoClassifier({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    if ignored:
        notes += f"; this version has no {', '.join(ignored)}"
    return _in_class_order(model.predict_proba(X_test), model.classes_, y), notes


def fit_lai_worc(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    """LAI's ``worc`` preset: random search and the mean of the top N pipelines (WORC's defaults)."""
    from lai.automl import AutoClassifier

    arguments = {"metric": "auc", "budget": budget, "random_state": seed, "n_jobs": 1, "preset": "worc"}
    model = AutoClassifier(**arguments).fit(X, y, groups=groups)
    notes = f"AutoClassifier({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    return _in_class_order(model.predict_proba(X_test), model.classes_, y), notes


def fit_logreg(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        LogisticRegression(max_iter=5000, random_state=seed),
    ).fit(X, y)
    return model.predict_proba(X_test), "median impute > standardise > LogisticRegression(C=1, L2)"


def fit_forest(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        SimpleImputer(strategy="median"),
        RandomForestClassifier(n_estimators=500, n_jobs=1, random_state=seed),
    ).fit(X, y)
    return model.predict_proba(X_test), "median impute > RandomForestClassifier(500 trees)"


def fit_flaml(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    from flaml import AutoML
    from sklearn.model_selection import PredefinedSplit

    X, X_test, imputed = _median_imputed(X, X_test)
    automl = AutoML()
    grouped = np.unique(groups).size < groups.size
    # FLAML's own group split is one holdout that may miss a class (then its AUC fails); fixed
    # patient-grouped folds keep every class in every fold.
    options: dict[str, Any] = {}
    if grouped:
        options = {"eval_method": "cv", "split_type": PredefinedSplit(_grouped_folds(X, y, groups, seed))}
    automl.fit(
        X,
        y,
        task="classification",
        metric="roc_auc" if _binary(y) else "roc_auc_ovr",
        time_budget=budget,
        n_jobs=1,
        seed=seed,
        verbose=0,
        **options,
    )
    notes = f"best {automl.best_estimator}" + (", group folds" if grouped else "") + imputed
    return _in_class_order(automl.predict_proba(X_test), automl.classes_, y), notes


def fit_tpot(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    from sklearn.model_selection import PredefinedSplit
    from tpot import TPOTClassifier

    X, X_test, imputed = _median_imputed(X, X_test)
    grouped = np.unique(groups).size < groups.size
    # TPOT's fit takes no groups: its folds are fixed beforehand, patient-grouped like everyone's.
    fold_of = _grouped_folds(X, y, groups, seed)
    # The default 'linear' space evaluates no pipeline within 60 s on one core on a 1292-feature table;
    # 'linear-light' is TPOT's own lighter space for short runs.
    model = TPOTClassifier(
        search_space="linear-light",
        scorers=["roc_auc" if _binary(y) else "roc_auc_ovr"],
        scorers_weights=[1],
        cv=PredefinedSplit(fold_of),
        max_time_mins=budget / 60,
        max_eval_time_mins=budget / 60,
        n_jobs=1,
        verbose=0,
        random_state=seed,
    ).fit(X, y)
    proba = model.predict_proba(X_test)
    notes = "search_space='linear-light'" + (", group folds" if grouped else "") + imputed
    return _in_class_order(proba, model.classes_, y), notes


def fit_autogluon(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, X_test: np.ndarray, budget: float, seed: int
) -> tuple[np.ndarray, str]:
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    columns = [f"f{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(X, columns=columns)
    train["label"] = y
    grouped = np.unique(groups).size < groups.size
    if grouped:
        # AutoGluon makes one bagging fold per group: the groups are 5 patient-grouped folds, not patients.
        train["group"] = _grouped_folds(X, y, groups, seed)
    metric = "roc_auc" if _binary(y) else "roc_auc_ovr_macro"
    with tempfile.TemporaryDirectory(prefix="autogluon-") as scratch:
        predictor = TabularPredictor(
            label="label",
            problem_type="binary" if _binary(y) else "multiclass",
            eval_metric=metric,
            path=scratch,
            verbosity=0,
            **({"groups": "group"} if grouped else {}),
        )
        # AutoGluon seeds its models itself (0, the benchmark's default seed); fit takes no seed.
        predictor.fit(train, time_limit=budget, presets="medium_quality", num_cpus=1, num_gpus=0)
        proba = predictor.predict_proba(pd.DataFrame(X_test, columns=columns))
        classes = np.asarray(proba.columns)
        notes = f"eval_metric={metric}, best {predictor.model_best}" + (", group folds" if grouped else "")
        return _in_class_order(proba.to_numpy(), classes, y), notes


def _median_imputed(X: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Return ``X`` and ``X_test`` with NaN replaced by the training medians, for tools that refuse NaN.

    A column with no value at all becomes 0. The third item is a note for the results ("" if no NaN).
    """
    if not (np.isnan(X).any() or np.isnan(X_test).any()):
        return X, X_test, ""
    medians = np.nan_to_num(np.nanmedian(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0))
    return (
        np.where(np.isnan(X), medians, X),
        np.where(np.isnan(X_test), medians, X_test),
        ", NaN median-imputed by the benchmark",
    )


def _grouped_folds(X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Return each row's fold (0-4) of a stratified 5-fold split that keeps every patient in one fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    fold_of = np.empty(y.size, dtype=int)
    for fold, (_, held_out) in enumerate(
        StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(X, y, groups)
    ):
        fold_of[held_out] = fold
    return fold_of


def _in_class_order(proba: np.ndarray, classes: Any, y: np.ndarray) -> np.ndarray:
    """Return ``proba`` with one column per class code of ``y``'s training classes, sorted."""
    order = [list(np.asarray(classes).astype(int)).index(code) for code in np.unique(y)]
    return np.asarray(proba, dtype=float)[:, order]


FITS: dict[str, Fit] = {
    "lai": fit_lai,
    "lai-worc": fit_lai_worc,
    "logreg": fit_logreg,
    "forest": fit_forest,
    "flaml": fit_flaml,
    "tpot": fit_tpot,
    "autogluon": fit_autogluon,
}
MODULES = {
    "lai": ["lai.automl"],
    "lai-worc": ["lai.automl"],
    "logreg": ["sklearn.linear_model", "sklearn.pipeline"],
    "forest": ["sklearn.ensemble", "sklearn.pipeline"],
    "flaml": ["flaml"],
    "tpot": ["tpot"],
    "autogluon": ["autogluon.tabular"],
}
"""Imported before the clock starts: a fit's time excludes the interpreter's start and the imports."""
PACKAGES = {
    "lai": "lai",
    "lai-worc": "lai",
    "logreg": "scikit-learn",
    "forest": "scikit-learn",
    "flaml": "flaml",
    "tpot": "tpot",
    "autogluon": "autogluon.tabular",
}


def main() -> None:
    tool, split_path, proba_path, budget, seed = sys.argv[1:6]
    with np.load(split_path) as split:
        X, y, groups, X_test = (split[k] for k in ("X_train", "y_train", "groups_train", "X_test"))
    for module in MODULES[tool]:
        importlib.import_module(module)
    start = time.perf_counter()
    proba, notes = FITS[tool](X, y, groups, X_test, float(budget), int(seed))
    seconds = time.perf_counter() - start
    np.savez(proba_path, proba=proba, classes=np.unique(y))
    print(json.dumps({"fit_seconds": seconds, "version": version(PACKAGES[tool]), "notes": notes}))


if __name__ == "__main__":
    main()
