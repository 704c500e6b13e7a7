"""Submission checks and scoring: predictions CSV -> validated probabilities -> aggregate metrics.

A submission is a CSV with one row per lesion (``lesion_id``) or per case (``case_id`` for case-level
tasks) and one ``proba_<class>`` column per class, probabilities in [0, 1] summing to 1 (within 1e-3).
Classes: task ``malignant`` -> ``benign``, ``malignant``; task ``diagnosis`` -> the eight diagnosis codes
of :data:`lai.data.taxonomy.DIAGNOSES`. At case level a case is malignant when any of its lesions is.

Only aggregate metrics are computed, from :mod:`lai.validation.metrics`: ``auc`` (binary, or macro
one-vs-rest; Hand & Till 2001), ``balanced_accuracy`` (Brodersen et al. 2010), ``macro_f1``,
``cohen_kappa`` (Cohen 1960), ``accuracy``, ``lld`` = (macro F1 + kappa) / 2 (the LLD-MMRI 2023 challenge
score) and ``brier`` (Brier 1950; lower is better).
"""

from __future__ import annotations

import functools
import io
import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lai.data.taxonomy import DIAGNOSES
from lai.validation.metrics import brier_score, classification_metrics

logger = logging.getLogger(__name__)

TASKS: dict[str, tuple[str, ...]] = {
    "malignant": ("benign", "malignant"),
    "diagnosis": tuple(DIAGNOSES),
}
"""Classes of each task, in the order of the probability columns."""

METRICS: tuple[str, ...] = ("auc", "balanced_accuracy", "macro_f1", "cohen_kappa", "accuracy", "lld", "brier")
"""Metrics a phase can report."""

LOWER_IS_BETTER: frozenset[str] = frozenset({"brier"})
SUM_TOLERANCE = 1e-3
MAX_LISTED = 5


class SubmissionError(ValueError):
    """A predictions file that cannot be scored; ``problems`` lists every precise reason."""

    def __init__(self, filename: str, problems: Sequence[str]) -> None:
        self.filename = filename
        self.problems = tuple(problems)
        super().__init__(f"{filename}: " + "; ".join(self.problems))


class ScoringTimeout(RuntimeError):
    """Scoring did not finish within the phase's time limit."""


def id_column(level: str) -> str:
    """Return the id column of a submission at ``level`` (``lesion`` or ``case``)."""
    return "case_id" if level == "case" else "lesion_id"


def _listed(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


def validate_predictions(
    data: bytes, filename: str, expected_ids: Sequence[str], task: str, level: str
) -> np.ndarray:
    """Return probabilities of shape ``(len(expected_ids), K)`` in the order of ``expected_ids``.

    Raises
    ------
    SubmissionError
        Naming every problem: unreadable CSV, wrong or missing columns, duplicate, missing or unknown ids,
        non-numeric or out-of-range probabilities, rows not summing to 1. Messages name ids and columns only.
    """
    classes = TASKS[task]
    key = id_column(level)
    wanted = [key, *(f"proba_{c}" for c in classes)]
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={key: str}, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise SubmissionError(filename, [f"not a readable CSV file ({type(error).__name__})"]) from None
    columns = [str(c) for c in frame.columns]
    problems: list[str] = []
    missing_columns = [c for c in wanted if c not in columns]
    extra = [c for c in columns if c not in wanted]
    if missing_columns:
        problems.append(f"missing column(s) {', '.join(missing_columns)} (expected {', '.join(wanted)})")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)} (expected {', '.join(wanted)})")
    if problems:
        raise SubmissionError(filename, problems)
    ids = frame[key].astype(str)
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        problems.append(f"duplicate {key}(s): {_listed(duplicated)}")
    expected = set(expected_ids)
    given = set(ids)
    missing = [i for i in expected_ids if i not in given]
    unknown = sorted(given - expected)
    if missing:
        problems.append(f"{len(missing)} {key}(s) missing: {_listed(missing)}")
    if unknown:
        problems.append(f"{len(unknown)} unknown {key}(s) not in this phase: {_listed(unknown)}")
    proba_columns = wanted[1:]
    values = frame[proba_columns].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().any(axis=1) | ~np.isfinite(values.to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        problems.append(
            f"{int(bad.sum())} row(s) with empty or non-numeric probabilities: {_listed(list(ids[bad]))}"
        )
    array = values.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        outside = ~bad & ((array < 0) | (array > 1)).any(axis=1)
        sums = array.sum(axis=1)
        off = ~bad & ~outside & (np.abs(sums - 1.0) > SUM_TOLERANCE)
    if outside.any():
        problems.append(
            f"{int(outside.sum())} row(s) with probabilities outside [0, 1]: {_listed(list(ids[outside]))}"
        )
    if off.any():
        first = int(np.flatnonzero(off)[0])
        problems.append(
            f"{int(off.sum())} row(s) whose probabilities do not sum to 1 (tolerance {SUM_TOLERANCE:g}): "
            f"{_listed(list(ids[off]))} (first sums to {sums[first]:.4f})"
        )
    if problems:
        raise SubmissionError(filename, problems)
    order = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    return array[order.loc[list(expected_ids)].to_numpy()]


# --- Ground truth ---


def phase_ids(public: Path, labels: str, level: str) -> list[str]:
    """Return the ids a phase's submissions must cover: train or test lesions (or cases) of the release."""
    splits = json.loads((public / "splits.json").read_text())
    cases = [str(c) for c in splits[labels]]
    if level == "case":
        return sorted(cases)
    lesions = pd.read_csv(
        public / "lesions.csv", dtype={"lesion_id": str, "case_id": str}, usecols=["lesion_id", "case_id"]
    )
    return sorted(lesions.loc[lesions["case_id"].isin(set(cases)), "lesion_id"])


@functools.lru_cache(maxsize=8)
def _truth_table(folder: str, labels: str) -> pd.DataFrame:
    root = Path(folder)
    if labels == "test":
        table = pd.read_csv(
            root / "private" / "ground_truth.csv", dtype={"lesion_id": str, "case_id": str, "diagnosis": str}
        )
    else:
        splits = json.loads((root / "public" / "splits.json").read_text())
        table = pd.read_csv(
            root / "public" / "lesions.csv", dtype={"lesion_id": str, "case_id": str, "diagnosis": str}
        )
        table = table[table["case_id"].isin({str(c) for c in splits["train"]})]
    table["malignant"] = table["malignant"].astype(str).str.lower().isin({"true", "1", "1.0"})
    return table[["lesion_id", "case_id", "diagnosis", "malignant"]].reset_index(drop=True)


def truth_codes(folder: str, labels: str, task: str, level: str, ids: Sequence[str]) -> np.ndarray:
    """Return integer class codes (index into ``TASKS[task]``) of ``ids`` from the phase's labels."""
    table = _truth_table(folder, labels)
    if level == "case":
        truth = table.groupby("case_id")["malignant"].any().map({False: "benign", True: "malignant"})
    elif task == "malignant":
        truth = table.set_index("lesion_id")["malignant"].map({False: "benign", True: "malignant"})
    else:
        truth = table.set_index("lesion_id")["diagnosis"]
    lookup = {c: i for i, c in enumerate(TASKS[task])}
    return np.array([lookup[truth[i]] for i in ids], dtype=np.int64)


def compute_metrics(y_true: np.ndarray, proba: np.ndarray, metrics: Sequence[str]) -> dict[str, float | None]:
    """Return the named aggregate metrics of predictions ``proba`` against codes ``y_true`` (NaN -> None)."""
    ones = np.ones((1, len(y_true)))
    headline = {k: float(v[0]) for k, v in classification_metrics(y_true, proba, ones).items()}
    headline["lld"] = (headline["macro_f1"] + headline["cohen_kappa"]) / 2.0
    headline["brier"] = float(brier_score(y_true, proba))
    return {m: (round(headline[m], 6) if np.isfinite(headline[m]) else None) for m in metrics}


def evaluate(
    folder: str,
    labels: str,
    task: str,
    level: str,
    ids: Sequence[str],
    proba: np.ndarray,
    metrics: Sequence[str],
) -> dict[str, float | None]:
    """Score validated probabilities against a phase's labels (run inside the scoring worker)."""
    return compute_metrics(truth_codes(folder, labels, task, level, ids), proba, metrics)


def _ready() -> int:
    return os.getpid()


class ScoringWorker:
    """A separate process that scores submissions, restarted when a scoring exceeds its time limit.

    Examples
    --------
    >>> worker = ScoringWorker()  # doctest: +SKIP
    >>> worker.run(evaluate, args, time_limit_s=60)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            try:
                pool.submit(_ready).result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            self._pool = pool
        return self._pool

    def start(self) -> None:
        """Start the worker process now (otherwise at the first scoring).

        A worker killed while starting (say, the server stopping during start-up) is not an error here:
        the next scoring starts a new one.
        """
        with self._lock:
            try:
                self._start()
            except BrokenProcessPool:
                logger.warning("the scoring worker stopped while starting; it will be restarted when needed")

    def run(self, function: Callable[..., Any], args: tuple[Any, ...], time_limit_s: float) -> Any:
        """Return ``function(*args)`` computed in the worker, or raise :class:`ScoringTimeout` after the limit."""
        with self._lock:
            pool = self._start()
            msg = f"scoring exceeded the phase's time limit of {time_limit_s:g} s"
            started = time.perf_counter()
            future = pool.submit(function, *args)
            try:
                result = future.result(timeout=time_limit_s)
            except FutureTimeout:
                self._kill()
                raise ScoringTimeout(msg) from None
            if (
                time.perf_counter() - started > time_limit_s
            ):  # finished, but late (this thread was descheduled)
                raise ScoringTimeout(msg)
            return result

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker process."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
