"""The pipeline search: Optuna trials scored by patient-grouped inner cross-validation, with pruning.

One trial is one pipeline config (``lai.automl.space``) fitted fold by fold. After each fold the running
mean of the fold scores is compared with the trials before it (successive halving, asynchronous form: Li
et al., 2020): at the rungs after the first and the third fold a trial continues only when it is in the
better half of the trials that reached that rung. A completed trial leaves its out-of-fold probabilities,
the raw material of the ensemble.

Trials run one after the other in this process (the prefix ``impute > scale`` of each fold is then computed
once per kind and reused), or in batches of ``n_jobs`` through ``lai.compute.map_tasks`` (local processes or a
Dask cluster); Optuna's study stays in this process and is driven by ask and tell.
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from lai.automl.scoring import score
from lai.automl.space import (
    SpaceFacts,
    build_head,
    build_prefix,
    default_configs,
    prefix_key,
    sample_config,
    selected_columns,
)
from lai.compute import map_tasks

RUNG_FOLDS = (1, 3)
"""Folds completed at which a trial is compared with the others (successive halving rungs)."""
KEEP_FRACTION = 0.5
"""Share of the trials at a rung that continue (the reduction factor is 1 / KEEP_FRACTION = 2)."""
MIN_RUNG_TRIALS = 5
"""Trials a rung must have seen before it prunes anything."""

REFIT_SAFETY = 1.5
"""Factor on a pipeline's mean fold time (scaled to all rows) when planning its refit: busy cores vary."""
MAX_SKIPPED = 3
"""Trials in a row skipped for lack of time after which the search ends."""

_PREFIX_CACHE_BYTES = 400 * 2**20


# --- Inner cross-validation ---


def inner_splits(
    y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Return stratified, patient-grouped folds of ``y`` and a note of any reduction in their number.

    The number of folds is reduced to the number of patients, and to the number of patients of the
    smallest class (at least 2), so that every class can appear in several folds; folds whose training
    part lacks a class are avoided by trying fewer folds. No patient is ever on both sides of a split.

    Parameters
    ----------
    y : numpy.ndarray of int
        Class codes.
    groups : numpy.ndarray
        Patient id of each row.
    n_folds : int
        Folds wanted.
    seed : int
        Seed of the shuffling of patients.

    Returns
    -------
    splits, note
        ``(train_indices, validation_indices)`` pairs (empty when no grouped split can hold every class in
        its training part) and a sentence explaining a reduction (empty when none).
    """
    n_groups = len(np.unique(groups))
    patients_per_class = [len(np.unique(groups[y == code])) for code in np.unique(y)]
    folds = min(n_folds, n_groups, max(2, min(patients_per_class)))
    n_classes = len(patients_per_class)
    while folds >= 2:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            splits = [(train, test) for train, test in splitter.split(np.zeros(len(y)), y, groups)]
        if all(len(test) > 0 and len(np.unique(y[train])) == n_classes for train, test in splits):
            note = ""
            if folds < n_folds:
                note = (
                    f"inner cross-validation uses {folds} folds instead of {n_folds}: the smallest class "
                    f"has {min(patients_per_class)} patient(s) and there are {n_groups} patients"
                )
            return splits, note
        folds -= 1
    note = (
        f"no patient-grouped split keeps every class in training (smallest class: "
        f"{min(patients_per_class)} patient(s)); the first default pipeline is fitted without a search"
    )
    return [], note


# --- One trial ---


@dataclass(frozen=True)
class SearchData:
    """What every trial needs: the raw features, class codes, patients, folds and settings."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    n_classes: int
    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    facts: SpaceFacts
    metric: str
    calibrate: bool
    random_state: int


@dataclass(eq=False)
class TrialResult:
    """The outcome of one trial: its config, fold scores, out-of-fold probabilities and timing.

    ``state`` is ``complete`` (every fold scored), ``pruned`` (stopped by successive halving), ``budget``
    (stopped because the time budget ran out), ``failed`` (a step raised; ``error`` says what) or
    ``no features`` (its feature groups left no column).
    """

    number: int
    config: dict[str, Any]
    fold_scores: list[float] = field(default_factory=list)
    fold_seconds: list[float] = field(default_factory=list)
    oof: np.ndarray | None = None
    state: str = "complete"
    error: str = ""
    duration: float = 0.0

    @property
    def score(self) -> float:
        """Mean inner-CV score of the optimised metric (NaN when no fold was scored)."""
        finite = [s for s in self.fold_scores if np.isfinite(s)]
        return float(np.mean(finite)) if finite else float("nan")

    @property
    def running_means(self) -> list[float]:
        """Mean of the fold scores after each fold (what pruning compares)."""
        values = np.asarray(self.fold_scores, dtype=np.float64)
        return [
            float(np.nanmean(values[: i + 1])) if np.isfinite(values[: i + 1]).any() else 0.0
            for i in range(len(values))
        ]


class PrefixCache:
    """Fitted ``impute > scale`` outputs per fold and prefix kind, least recently used dropped first."""

    def __init__(self, max_bytes: int = _PREFIX_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def get(self, data: SearchData, fold: int, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Return the prefix's output for the training and validation part of ``fold``."""
        key = (fold, *prefix_key(config))
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        train, test = data.splits[fold]
        prefix = build_prefix(config, len(train))
        value = (prefix.fit_transform(data.X[train]), prefix.transform(data.X[test]))
        self._entries[key] = value
        while (
            len(self._entries) > 1
            and sum(a.nbytes + b.nbytes for a, b in self._entries.values()) > self.max_bytes
        ):
            self._entries.popitem(last=False)
        return value


def fit_head(
    config: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    data: SearchData,
) -> BaseEstimator:
    """Fit the head of ``config`` on prefix output ``X``; with ``data.calibrate``, calibrated in folds.

    Calibration fits the head on patient-grouped folds of these rows and Platt's sigmoid on each held-out
    part (Platt, 1999; scikit-learn's ``CalibratedClassifierCV``); the probabilities are the folds' mean.
    """
    columns = selected_columns(config, data.facts.groups)
    head = build_head(config, columns, y, data.random_state)
    if data.calibrate:
        splits, _ = inner_splits(y, groups, 3, data.random_state)
        if splits:
            return CalibratedClassifierCV(head, method="sigmoid", cv=splits).fit(X, y)
    return head.fit(X, y)


def full_proba(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Return ``model.predict_proba(X)`` with one column per class code (zeros for classes it never saw)."""
    proba = np.zeros((X.shape[0], n_classes))
    proba[:, np.asarray(model.classes_, dtype=np.intp)] = model.predict_proba(X)
    return proba


@dataclass(frozen=True)
class Rungs:
    """Running-mean thresholds of successive halving, one per rung fold (``-inf``: no pruning yet)."""

    thresholds: dict[int, float]

    @classmethod
    def from_results(cls, results: list[TrialResult], n_folds: int) -> Rungs:
        """Return the thresholds given the trials so far."""
        thresholds = {}
        for rung in RUNG_FOLDS:
            if rung >= n_folds:
                continue
            values = sorted(
                (r.running_means[rung - 1] for r in results if len(r.fold_scores) >= rung), reverse=True
            )
            if len(values) >= MIN_RUNG_TRIALS:
                keep = max(1, int(np.ceil(KEEP_FRACTION * len(values))))
                thresholds[rung] = values[keep - 1]
        return cls(thresholds)


def evaluate_trial(
    data: SearchData,
    number: int,
    config: dict[str, Any],
    *,
    rungs: Rungs | None,
    deadline: float | None,
    fold_seconds_hint: float = 0.0,
    cache: PrefixCache | None = None,
) -> TrialResult:
    """Fit and score one pipeline config fold by fold; return its ``TrialResult``.

    Parameters
    ----------
    data
        Features, labels, folds and settings.
    number
        The trial's number.
    config
        The pipeline config.
    rungs
        Successive halving thresholds (``None``: no pruning).
    deadline
        ``time.time()`` after which no fold starts that is expected to end later (``None``: no limit).
    fold_seconds_hint
        Expected seconds of the first fold (later folds expect the previous fold's time).
    cache
        Prefix outputs shared with other trials of this process.
    """
    start = time.perf_counter()
    cache = cache if cache is not None else PrefixCache()
    result = TrialResult(number=number, config=config)
    if selected_columns(config, data.facts.groups).size == 0:
        result.state = "no features"
        return result
    oof = np.zeros((len(data.y), data.n_classes))
    if deadline is not None and time.time() + fold_seconds_hint * len(data.splits) > deadline:
        result.state = "budget"  # expected not to finish: skipped, leaving the time to cheaper trials
        return result
    expected = fold_seconds_hint
    for fold, (train, test) in enumerate(data.splits):
        if deadline is not None and time.time() + expected > deadline:
            result.state = "budget"
            break
        fold_start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                X_train, X_test = cache.get(data, fold, config)
                model = fit_head(config, X_train, data.y[train], data.groups[train], data)
                proba = full_proba(model, X_test, data.n_classes)
        except Exception as error:  # a pipeline that cannot fit these data is a failed trial, not a crash
            result.state = "failed"
            result.error = f"{type(error).__name__}: {error}"[:500]
            if os.environ.get("LAI_AUTOML_DEBUG") == "1":
                traceback.print_exc()
            break
        oof[test] = proba
        result.fold_scores.append(score(data.metric, data.y[test], proba))
        result.fold_seconds.append(time.perf_counter() - fold_start)
        expected = result.fold_seconds[-1]
        done = len(result.fold_scores)
        if rungs is not None and done < len(data.splits) and done in rungs.thresholds:
            if result.running_means[-1] < rungs.thresholds[done]:
                result.state = "pruned"
                break
    if result.state == "complete":
        result.oof = oof
    result.duration = time.perf_counter() - start
    return result


@dataclass(frozen=True)
class TrialTask:
    """One trial sent to a worker: everything ``evaluate_trial`` needs."""

    data: SearchData
    number: int
    config: dict[str, Any]
    rungs: Rungs | None
    deadline: float | None
    fold_seconds_hint: float


def run_trial_task(task: TrialTask) -> TrialResult:
    """Evaluate one ``TrialTask`` (top-level, so it can be sent to other processes), single-threaded."""
    with threadpool_limits(limits=1):
        return evaluate_trial(
            task.data,
            task.number,
            task.config,
            rungs=task.rungs,
            deadline=task.deadline,
            fold_seconds_hint=task.fold_seconds_hint,
        )


# --- The search ---


@dataclass(frozen=True)
class SearchSettings:
    """How to search: preset, limits, parallelism, and the time reserved after the search."""

    preset: str
    deadline: float | None
    max_trials: int | None
    n_jobs: int
    scheduler: str | None
    refit_members: int


def make_study(preset: str, seed: int) -> optuna.Study:
    """Return the in-memory study of a preset: multivariate TPE for ``default``, random for ``worc``."""
    sampler: optuna.samplers.BaseSampler
    if preset == "worc":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                multivariate=True, group=True, seed=seed, n_startup_trials=10, constant_liar=True
            )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", sampler=sampler)


def run_search(
    data: SearchData,
    settings: SearchSettings,
    on_trial: Callable[[TrialResult, list[TrialResult]], None] | None = None,
) -> list[TrialResult]:
    """Run the search until ``settings`` say stop; return every trial's result in trial order.

    The default preset first tries ``space.default_configs`` and prunes by successive halving; the WORC
    preset samples at random and never prunes. The search stops before ``max_trials`` are done when less
    time is left than the refit of the best ``refit_members`` pipelines is expected to take, when a trial
    runs out of time, or after ``MAX_SKIPPED`` trials in a row were skipped because trials of their
    classifier took longer than the time left.
    """
    study = make_study(settings.preset, data.random_state)
    if settings.preset != "worc":
        for params in default_configs(data.facts):
            study.enqueue_trial(params)
    results: list[TrialResult] = []
    cache = PrefixCache()
    n_folds = len(data.splits)
    skipped = 0
    while not _should_stop(results, settings, data):
        room = (
            settings.n_jobs
            if settings.max_trials is None
            else min(settings.n_jobs, settings.max_trials - len(results))
        )
        trials = [study.ask() for _ in range(max(1, room))]
        configs = [sample_config(trial, data.facts) for trial in trials]
        rungs = Rungs.from_results(results, n_folds) if settings.preset != "worc" else None
        deadline = _search_deadline(results, settings, data)
        hints = [_fold_hint(results, config) for config in configs]
        if settings.n_jobs == 1:
            batch = [
                evaluate_trial(
                    data, t.number, c, rungs=rungs, deadline=deadline, fold_seconds_hint=h, cache=cache
                )
                for t, c, h in zip(trials, configs, hints, strict=True)
            ]
        else:
            tasks = [
                TrialTask(data, t.number, c, rungs, deadline, h)
                for t, c, h in zip(trials, configs, hints, strict=True)
            ]
            with _quiet_progress():
                batch = map_tasks(
                    run_trial_task, tasks, scheduler=settings.scheduler, max_workers=settings.n_jobs
                )
        for trial, result in zip(trials, batch, strict=True):
            _tell(study, trial, result)
            results.append(result)
            if on_trial is not None:
                on_trial(result, results)
            skipped = skipped + 1 if result.state == "budget" else 0
        if skipped >= MAX_SKIPPED or any(r.state == "budget" and r.fold_seconds for r in batch):
            break
    return results


def _tell(study: optuna.Study, trial: optuna.Trial, result: TrialResult) -> None:
    for step, value in enumerate(result.running_means):
        trial.report(value, step)
    if result.state == "complete" and np.isfinite(result.score):
        study.tell(trial, result.score)
    elif result.state == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def refit_seconds(results: list[TrialResult], count: int, n_samples: int, data: SearchData) -> float:
    """Return the expected seconds to refit the ``count`` best complete pipelines on all ``n_samples``."""
    complete = sorted((r for r in results if r.state == "complete"), key=lambda r: (-r.score, r.number))[
        :count
    ]
    if not complete:
        return 0.0
    train_share = float(np.mean([len(train) for train, _ in data.splits])) / n_samples
    seconds = sum(float(np.mean(r.fold_seconds)) for r in complete)
    return seconds / max(train_share, 0.1) * REFIT_SAFETY


def _search_deadline(results: list[TrialResult], settings: SearchSettings, data: SearchData) -> float | None:
    if settings.deadline is None:
        return None
    return settings.deadline - refit_seconds(results, settings.refit_members, len(data.y), data)


def _should_stop(results: list[TrialResult], settings: SearchSettings, data: SearchData) -> bool:
    if settings.max_trials is not None and len(results) >= settings.max_trials:
        return True
    deadline = _search_deadline(results, settings, data)
    return deadline is not None and time.time() >= deadline


def _fold_hint(results: list[TrialResult], config: dict[str, Any]) -> float:
    """Median first-fold seconds of earlier trials with the same classifier (0 when none)."""
    same = [
        r.fold_seconds[0]
        for r in results
        if r.fold_seconds and r.config["classifier"] == config["classifier"]
    ]
    return float(np.median(same)) if same else 0.0


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide ``map_tasks``' own progress bar: the search shows trials, not batches."""
    before = os.environ.get("LAI_NO_PROGRESS")
    os.environ["LAI_NO_PROGRESS"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["LAI_NO_PROGRESS"]
        else:
            os.environ["LAI_NO_PROGRESS"] = before


# --- Final pipelines ---


def fit_pipeline(config: dict[str, Any], data: SearchData) -> Pipeline:
    """Return the full pipeline of ``config`` (prefix and head) fitted on all of ``data``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prefix = build_prefix(config, len(data.y))
        X = prefix.fit_transform(data.X)
        head = fit_head(config, X, data.y, data.groups, data)
    return Pipeline([("prefix", prefix), ("head", head)])


@dataclass(frozen=True)
class RefitTask:
    """One final pipeline to fit on all the training data."""

    config: dict[str, Any]
    data: SearchData


def run_refit_task(task: RefitTask) -> Pipeline:
    """Fit one ``RefitTask`` (top-level, so it can be sent to other processes), single-threaded."""
    with threadpool_limits(limits=1):
        return fit_pipeline(task.config, task.data)


def refit_all(
    configs: list[dict[str, Any]], data: SearchData, n_jobs: int, scheduler: str | None
) -> list[Pipeline]:
    """Return the pipelines of ``configs`` fitted on all of ``data``, in parallel when ``n_jobs > 1``."""
    if n_jobs == 1 or len(configs) == 1:
        return [fit_pipeline(config, data) for config in configs]
    with _quiet_progress():
        return map_tasks(
            run_refit_task, [RefitTask(c, data) for c in configs], scheduler=scheduler, max_workers=n_jobs
        )
