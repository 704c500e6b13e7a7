"""End-to-end runs that wire the stages together for the CLI: the demo, and validate-then-report.

DESIGN.md lets only ``cli.py`` (and the portal) wire stages; this module is the CLI's own layer,
kept apart so that ``cli.py`` stays a thin argument parser. Nothing below the CLI imports it.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from sklearn.base import clone

from lai import __version__
from lai.automl import AutoClassifier, load_model, save_model
from lai.compute import map_tasks, task_key
from lai.data import Dataset, FeatureTable
from lai.report import write_report
from lai.report.html import search_summary
from lai.validation import ValidationResult
from lai.validation.crossval import HARMONISERS, Harmoniser
from lai.validation.schemes import SCHEME_NAMES, validate

DEMO_TARGETS: tuple[str, ...] = ("malignant", "diagnosis")
"""The demo's two tasks: benign vs malignant, and lesion type."""

DEMO_SCHEMES: tuple[str, ...] = ("leave-centre-out", "repeated-split")
"""The demo's validation: centres unseen in training (external validity) next to repeated random splits."""

DEMO_REPEATS = 5
"""Random splits of the demo's repeated-split scheme (WORC uses 100; the demo keeps to a few minutes)."""

DEMO_AUTOML: dict[str, Any] = {"budget": None, "max_trials": 3, "inner_folds": 3}
"""AutoClassifier settings of the demo: a fixed number of trials (not seconds), so the numbers are the same
on every machine and the whole demo stays within a few minutes on two cores."""

DEMO_ROBUSTNESS_LESIONS = 10
"""Lesions of the demo's robustness study (re-extracted under each perturbation; 0 skips the study)."""

DEMO_PERTURBATIONS: tuple[str, ...] = ("erode:1", "rician:20")
"""The demo's perturbations: one of the delineation (erode by a voxel), one of the acquisition (Rician noise)."""

AUTOML_KEYS: frozenset[str] = frozenset(
    {
        "metric",
        "budget",
        "max_trials",
        "preset",
        "inner_folds",
        "ensemble_size",
        "calibrate",
        "allowed_features",
        "n_jobs",
        "random_state",
    }
)
"""AutoClassifier settings a YAML file given to ``lai validate`` may set (plus ``target`` / ``targets`` and
``harmonise``)."""

console = Console(stderr=True)


@dataclass(frozen=True)
class ReportRun:
    """What a run produced: the report's path, the validation results it shows, and the time it took."""

    html_path: Path
    results: list[ValidationResult]
    seconds: float


# --- The demo ---


def run_demo(
    out: Path,
    *,
    patients: int = 150,
    centres: int = 3,
    seed: int = 0,
    repeats: int = DEMO_REPEATS,
    robustness_lesions: int = DEMO_ROBUSTNESS_LESIONS,
    scheduler: str | None = None,
) -> ReportRun:
    """Synthesise a cohort, extract features, search, validate both tasks two ways, and write the report.

    The robustness study re-extracts ``robustness_lesions`` lesions under ``DEMO_PERTURBATIONS`` and
    measures the feature ICCs and how far the benign-vs-malignant model's predictions move.

    Every stage caches its finished work under ``out/cache`` by content hash, so a second run with the
    same arguments reuses it and takes seconds.
    """
    from lai.synth import generate_cohort

    start = time.perf_counter()
    cache = out / "cache"
    console.rule(f"[bold]LAI demo[/]: {patients} patients, {centres} centres, seed {seed}")
    console.print("[bold]1/5[/] Synthetic cohort")
    dataset = generate_cohort(
        out / "cohort", patients=patients, centres=centres, seed=seed, scheduler=scheduler, cache_dir=cache
    )
    console.print("[bold]2/5[/] Radiomics")
    table = extract_features_logged(dataset, out / "features.parquet", cache_dir=cache, scheduler=scheduler)
    console.print("[bold]3/5[/] AutoML and validation")
    factory = functools.partial(AutoClassifier, **DEMO_AUTOML, random_state=seed)
    models = fit_models(factory, table, DEMO_TARGETS, scheduler=scheduler, cache_dir=cache)
    searches = []
    for target, model in zip(DEMO_TARGETS, models, strict=True):
        folder = save_model(model, out / "models" / target, target=target, table=table, seed=seed)
        searches.append(read_search(folder))
    results = [
        validate(
            scheme,
            factory,
            table,
            target,
            n_repeats=repeats,
            seed=seed,
            importance_repeats=1 if scheme == "leave-centre-out" else 0,
            scheduler=scheduler,
            cache_dir=cache,
        )
        for target in DEMO_TARGETS
        for scheme in DEMO_SCHEMES
    ]
    robustness = None
    if robustness_lesions > 0:
        console.print(f"[bold]4/5[/] Robustness ({robustness_lesions} lesions)")
        robustness = robustness_summary(
            dataset, models[0], robustness_lesions, seed=seed, scheduler=scheduler, cache_dir=cache
        )
    console.print("[bold]5/5[/] Report")
    html = write_report(
        out,
        title="LAI demo: synthetic multi-centre liver MRI cohort",
        cases=dataset.cases,
        lesions=dataset.lesions,
        results=results,
        provenance=_provenance(
            dataset, table, seed, extra={"patients": patients, "centres": centres, "automl": DEMO_AUTOML}
        ),
        searches=searches,
        robustness=robustness,
    )
    return ReportRun(html, results, time.perf_counter() - start)


def robustness_summary(
    dataset: Dataset,
    model: Any,
    n_lesions: int,
    *,
    perturbations: Sequence[str] = DEMO_PERTURBATIONS,
    threshold: float = 0.75,
    seed: int = 0,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Return the report's robustness section: feature ICC(3,1) under perturbation and prediction shifts.

    The features of ``n_lesions`` lesions (whole cases, seeded) are re-extracted under each perturbation
    (``lai.validation.robustness``); the shift of a lesion is the largest change of any class probability
    of ``model`` over the perturbations.
    """
    from lai.radiomics import RadiomicsWarning
    from lai.validation.robustness import Perturbation, prediction_shift, robustness_study

    chosen = [Perturbation.parse(text) for text in perturbations]
    with warnings.catch_warnings():
        # lesions eroded away on coarse grids give NaN features; the study lists them in its problems
        warnings.simplefilter("ignore", RadiomicsWarning)
        study = robustness_study(
            dataset,
            None,
            chosen,
            seed=seed,
            cache_dir=cache_dir,
            scheduler=scheduler,
            max_lesions=n_lesions,
            liver_features=True,
        )
    shifts = prediction_shift(model, study.tables)
    return {
        "icc": study.icc,
        "threshold": threshold,
        "shifts": shifts.groupby("lesion_id", sort=True)["max_abs_shift"].max().tolist(),
        "perturbations": [p.name for p in chosen],
        "n_lesions": len(next(iter(study.tables.values()))),
    }


def extract_features_logged(
    dataset: Dataset,
    out: Path,
    *,
    settings: Any = None,
    cache_dir: Path | None = None,
    scheduler: str | None = None,
) -> FeatureTable:
    """Extract a Dataset's FeatureTable to ``out``; lesions with undefined features go to a log beside it.

    Small lesions on coarse grids (a voxel or two on 6 mm DWI) leave some features NaN; each such lesion
    and sequence is one line of ``<out stem>.warnings.txt`` and one summary line on the console, rather
    than a screenful of warnings.
    """
    from lai.files import write_text_atomic
    from lai.radiomics import RadiomicsWarning, extract_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RadiomicsWarning)
        table = extract_dataset(dataset, settings=settings, cache_dir=cache_dir, scheduler=scheduler)
    table.write(out)
    notes = [str(w.message) for w in caught if issubclass(w.category, RadiomicsWarning)]
    for other in (w for w in caught if not issubclass(w.category, RadiomicsWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    log = out.with_name(f"{out.stem}.warnings.txt")
    if notes:
        write_text_atomic(log, "\n".join(notes) + "\n")
        console.print(
            f"[yellow]{len(notes)} lesion/sequence pair(s) have undefined features (NaN), mostly tiny lesions "
            f"on coarse grids; see {log}[/]"
        )
    elif log.exists():
        log.unlink()
    return table


# --- Final models, cached ---


@dataclass(frozen=True)
class FitTask:
    """Fit ``make_estimator()`` to every lesion of a table for one target."""

    make_estimator: Callable[[], Any]
    features: pd.DataFrame
    labels: np.ndarray
    groups: np.ndarray


def fit_model(task: FitTask) -> Any:
    """Return the estimator fitted on all rows (with patient groups when it takes them)."""
    return task.make_estimator().fit(task.features, task.labels, groups=task.groups)


def fit_models(
    make_estimator: Callable[[], Any],
    table: FeatureTable,
    targets: Sequence[str],
    *,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> list[Any]:
    """Return one model per target fitted on the whole table, in parallel and cached by content."""
    features = table.features
    groups = table.groups.astype(str).to_numpy()
    tasks = [FitTask(make_estimator, features, table.target(t).to_numpy(), groups) for t in targets]
    description = repr(make_estimator())
    data = task_key(features.to_numpy(), list(features.columns), groups)
    keys = [task_key("final model", description, data, t.labels.astype(str)) for t in tasks]
    return map_tasks(
        fit_model,
        tasks,
        keys=keys if cache_dir is not None else None,
        cache_dir=cache_dir,
        description="Fitting the final models",
        scheduler=scheduler,
    )


def read_search(folder: Path) -> dict[str, Any]:
    """Return the ``search_summary`` of a Model folder (its ``search.parquet`` and ``model.json``)."""
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    search_file = folder / "search.parquet"
    search = pd.read_parquet(search_file) if search_file.is_file() else pd.DataFrame({"score": []})
    return search_summary(search, meta)


# --- lai validate ---


@dataclass(frozen=True)
class Candidate:
    """What ``lai validate`` validates: an estimator factory, its targets, its Model folder if any, and the
    harmonisation its settings ask for (``None``: none)."""

    make_estimator: Callable[[], Any]
    targets: list[str]
    model_dir: Path | None
    label: str
    harmonise: Harmoniser | None = None


def load_candidate(path: Path, *, targets: Sequence[str] = ()) -> Candidate:
    """Return what to validate from a Model folder or a YAML file of AutoClassifier settings.

    A Model folder's ``AutoClassifier`` settings are cloned and re-run inside every split (the search never
    sees test lesions); its target comes from ``model.json``. A YAML file sets AutoClassifier arguments
    (``metric``, ``budget`` in seconds, ``max_trials``, ``preset`` ...), optionally ``target`` or
    ``targets`` (``targets`` given here take precedence) and ``harmonise: combat`` (ComBat across centres
    fitted inside every training split; ``none`` or absent: no harmonisation).
    """
    if path.is_dir():
        model, meta = load_model(path)
        return Candidate(
            functools.partial(clone, model), list(targets) or [str(meta["target"])], path, path.name
        )
    if not path.is_file():
        msg = f"{path}: neither a Model folder nor an AutoML settings file"
        raise FileNotFoundError(msg)
    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        msg = f"{path}: not valid YAML ({error})"
        raise ValueError(msg) from error
    if not isinstance(settings, dict):
        msg = f"{path}: expected a mapping of AutoClassifier settings, got {type(settings).__name__}"
        raise ValueError(msg)
    named = settings.pop("targets", None) or ([settings.pop("target")] if "target" in settings else [])
    settings.pop("target", None)
    harmonise = parse_harmonise(settings.pop("harmonise", None), where=f"{path}: harmonise")
    unknown = sorted(set(settings) - AUTOML_KEYS)
    if unknown:
        msg = f"{path}: unknown AutoClassifier setting(s) {unknown}; allowed: {sorted(AUTOML_KEYS)}"
        raise ValueError(msg)
    if isinstance(settings.get("budget"), str):
        msg = f"{path}: budget must be a number of seconds (or null), got {settings['budget']!r}"
        raise ValueError(msg)
    chosen = list(targets) or [str(t) for t in named]
    if not chosen:
        msg = f"{path}: no target; add 'target: malignant' to the file or pass --target"
        raise ValueError(msg)
    return Candidate(functools.partial(AutoClassifier, **settings), chosen, None, path.name, harmonise)


def parse_harmonise(value: Any, *, where: str = "harmonise") -> Harmoniser | None:
    """Return the harmonisation named by ``value`` (``"combat"``), or ``None`` for ``none``, null or absent.

    Raises
    ------
    ValueError
        For any other value, naming ``where`` (the file and key, or the option) and the allowed values.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if isinstance(value, str) and value.strip().lower() in HARMONISERS:
        return "combat"
    msg = f"{where} must be one of {', '.join(HARMONISERS)} or none, got {value!r}"
    raise ValueError(msg)


def validate_model(
    candidate_path: Path,
    features: Path,
    out: Path,
    *,
    schemes: Sequence[str] = ("kfold",),
    targets: Sequence[str] = (),
    folds: int = 5,
    repeats: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    dataset_path: Path | None = None,
    external: Path | None = None,
    importance_repeats: int = 1,
    harmonise: str | None = None,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> ReportRun:
    """Validate a Model folder's pipeline (or AutoML settings) under each scheme and write the report.

    Parameters
    ----------
    candidate_path
        A Model folder, or a YAML file of AutoClassifier settings (``load_candidate``).
    features
        The development FeatureTable.
    out
        Folder of ``report.html`` and ``metrics.json``.
    schemes
        Names from ``lai.validation.schemes.SCHEME_NAMES``, in the order the report shows them.
    targets
        Label columns to validate; by default the model's own.
    folds, repeats, test_fraction
        ``kfold`` folds; ``repeated-split`` splits (default 100) or ``kfold`` rounds (default 1); test share
        of ``repeated-split`` and ``temporal``.
    seed
        Seed of splits, bootstrap and permutations.
    dataset_path
        The Dataset folder: the cohort table, and study dates for ``temporal``.
    external
        The external FeatureTable (``external`` scheme).
    importance_repeats
        Permutations per feature group and split (0: no importance).
    harmonise
        ``"combat"``: ComBat across centres fitted inside every training split; ``"none"``: no
        harmonisation; ``None`` (default): what the AutoML settings file says (``harmonise:``), else none.
    scheduler, cache_dir
        ``lai.compute`` scheduler and cache.
    """
    start = time.perf_counter()
    unknown = [s for s in schemes if s not in SCHEME_NAMES]
    if unknown:
        msg = f"Unknown scheme(s) {unknown}: use {', '.join(SCHEME_NAMES)}"
        raise ValueError(msg)
    candidate = load_candidate(candidate_path, targets=targets)
    chosen = candidate.harmonise if harmonise is None else parse_harmonise(harmonise, where="--harmonise")
    table = FeatureTable.read(features)
    dataset = Dataset.read(dataset_path) if dataset_path is not None else None
    dates = _study_dates(table, dataset) if "temporal" in schemes else None
    test_table = FeatureTable.read(external) if external is not None else None
    if "external" in schemes and test_table is None:
        msg = "The external scheme needs the external FeatureTable: --external FEATURES"
        raise ValueError(msg)
    results = [
        validate(
            scheme,
            candidate.make_estimator,
            table,
            target,
            test_table=test_table if scheme == "external" else None,
            dates=dates if scheme == "temporal" else None,
            n_repeats=repeats,
            n_splits=folds,
            test_fraction=test_fraction,
            seed=seed,
            importance_repeats=importance_repeats,
            train_name=features.name,
            test_name=external.name if external is not None else "the external table",
            harmonise=chosen,
            scheduler=scheduler,
            cache_dir=cache_dir,
        )
        for target in candidate.targets
        for scheme in schemes
    ]
    searches = [read_search(candidate.model_dir)] if candidate.model_dir is not None else []
    html = write_report(
        out,
        title=f"LAI validation of {candidate.label}",
        cases=dataset.cases if dataset is not None else _cases_from_table(table),
        lesions=dataset.lesions if dataset is not None else table.frame,
        results=results,
        provenance=_provenance(
            dataset,
            table,
            seed,
            extra={
                "model": str(candidate_path),
                "feature_table": str(features),
                "harmonise": chosen or "none",
            },
        ),
        searches=searches,
    )
    return ReportRun(html, results, time.perf_counter() - start)


def _study_dates(table: FeatureTable, dataset: Dataset | None) -> pd.Series:
    """Return each lesion's study date: the table's ``study_date``, else the Dataset's cases.csv by case_id."""
    if "study_date" in table.frame.columns:
        return table.frame["study_date"]
    if dataset is None or "study_date" not in dataset.cases.columns:
        msg = (
            "The temporal scheme needs study dates: a study_date column in FEATURES, or --dataset DIR whose "
            "cases.csv has study_date"
        )
        raise ValueError(msg)
    dates = dataset.cases.set_index(dataset.cases["case_id"].astype(str))["study_date"]
    found = table.frame["case_id"].astype(str).map(dates)
    if found.isna().any():
        missing = table.frame.loc[found.isna(), "case_id"].astype(str).unique()[:5].tolist()
        msg = f"{dataset.root / 'cases.csv'}: no study_date for case(s) {missing}"
        raise ValueError(msg)
    return found


def _cases_from_table(table: FeatureTable) -> Any:
    return table.frame[["case_id", "patient_id", "centre"]].drop_duplicates("case_id").reset_index(drop=True)


def missing_summary(table: FeatureTable) -> dict[str, Any]:
    """Return how many features and lesions have undefined (NaN) values, and the share of NaN values."""
    missing = table.features.isna()
    return {
        "features": int(missing.shape[1]),
        "features_with_missing": int(missing.any(axis=0).sum()),
        "lesions_with_missing": int(missing.any(axis=1).sum()),
        "fraction": float(missing.to_numpy().mean()) if missing.size else 0.0,
    }


def _provenance(
    dataset: Dataset | None, table: FeatureTable, seed: int, *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "lai_version": __version__,
        "seed": seed,
        "features": len(table.feature_columns),
        "missing_features": missing_summary(table),
    }
    if table.metadata.get("settings_hash"):
        info["extraction_hash"] = table.metadata["settings_hash"]
    if dataset is not None:
        info["dataset"] = dataset.name
        info["dataset_version"] = dataset.meta.get("version")
    return {**info, **(extra or {})}
