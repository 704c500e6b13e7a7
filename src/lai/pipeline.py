"""End-to-end runs that wire the stages together for the CLI: the demo, and validate-then-report.

DESIGN.md lets only ``cli.py`` (and the portal) wire stages; this module is the CLI's own layer,
kept apart so that ``cli.py`` stays a thin argument parser. Nothing below the CLI imports it.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from lai import __version__
from lai.automl import AutoClassifier, load_model, save_model
from lai.data import Dataset, FeatureTable
from lai.report import write_report
from lai.validation import ValidationResult, cross_validate

DEMO_TARGETS: tuple[str, ...] = ("malignant", "diagnosis")
"""The demo's two tasks: benign vs malignant, and lesion type."""

console = Console(stderr=True)


@dataclass(frozen=True)
class ReportRun:
    """What a run produced: the report's path, the validation results it shows, and the time it took."""

    html_path: Path
    results: list[ValidationResult]
    seconds: float


def run_demo(
    out: Path, *, patients: int = 150, centres: int = 3, seed: int = 0, scheduler: str | None = None
) -> ReportRun:
    """Synthesise a cohort, extract features, fit and validate both demo tasks, and write the report.

    Every stage caches its finished work under ``out/cache`` by content hash, so a second run with the
    same arguments reuses it and takes seconds.
    """
    from lai.synth import generate_cohort

    start = time.perf_counter()
    cache = out / "cache"
    console.rule(f"[bold]LAI demo[/]: {patients} patients, {centres} centres, seed {seed}")
    console.print("[bold]1/4[/] Synthetic cohort")
    dataset = generate_cohort(
        out / "cohort", patients=patients, centres=centres, seed=seed, scheduler=scheduler, cache_dir=cache
    )
    console.print("[bold]2/4[/] Radiomics")
    table = extract_features_logged(dataset, out / "features.parquet", cache_dir=cache, scheduler=scheduler)
    console.print("[bold]3/4[/] Models and validation")
    results = [
        _fit_and_validate(table, target, out / "models" / target, seed=seed, scheduler=scheduler, cache=cache)
        for target in DEMO_TARGETS
    ]
    console.print("[bold]4/4[/] Report")
    html = write_report(
        out,
        title="LAI demo: synthetic multi-centre liver MRI cohort",
        cases=dataset.cases,
        lesions=dataset.lesions,
        results=results,
        provenance=_provenance(dataset, table, seed, extra={"patients": patients, "centres": centres}),
    )
    return ReportRun(html, results, time.perf_counter() - start)


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


def validate_model(
    model_path: Path,
    features: Path,
    out: Path,
    *,
    folds: int = 5,
    seed: int = 0,
    dataset_path: Path | None = None,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> ReportRun:
    """Re-fit a Model folder's pipeline in patient-grouped folds on ``features`` and write the report."""
    from sklearn.base import clone

    start = time.perf_counter()
    model, meta = load_model(model_path)
    table = FeatureTable.read(features)
    result = cross_validate(
        functools.partial(clone, model),
        table,
        str(meta["target"]),
        n_splits=folds,
        seed=seed,
        scheduler=scheduler,
        cache_dir=cache_dir,
    )
    dataset = Dataset.read(dataset_path) if dataset_path is not None else None
    html = write_report(
        out,
        title=f"LAI validation of {model_path.name}",
        cases=dataset.cases if dataset is not None else _cases_from_table(table),
        lesions=dataset.lesions if dataset is not None else table.frame,
        results=[result],
        provenance=_provenance(dataset, table, seed, extra={"model": str(model_path)}),
    )
    return ReportRun(html, [result], time.perf_counter() - start)


def _fit_and_validate(
    table: FeatureTable, target: str, model_dir: Path, *, seed: int, scheduler: str | None, cache: Path
) -> ValidationResult:
    factory = functools.partial(AutoClassifier, random_state=seed)
    result = cross_validate(
        factory, table, target, n_splits=5, seed=seed, scheduler=scheduler, cache_dir=cache
    )
    model = factory().fit(table.features, table.target(target), groups=table.groups)
    save_model(model, model_dir, target=target, table=table, seed=seed)
    return result


def _cases_from_table(table: FeatureTable) -> Any:
    return table.frame[["case_id", "patient_id", "centre"]].drop_duplicates("case_id").reset_index(drop=True)


def _provenance(
    dataset: Dataset | None, table: FeatureTable, seed: int, *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {"lai_version": __version__, "seed": seed, "features": len(table.feature_columns)}
    if dataset is not None:
        info["dataset"] = dataset.name
        info["dataset_version"] = dataset.meta.get("version")
    return {**info, **(extra or {})}
