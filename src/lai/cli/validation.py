"""Commands on validation and reports: validate, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lai.cli.root import (
    CacheOption,
    SchedulerOption,
    app,
    console,
    fail,
    print_headlines,
    resolve_cache_dir,
)

# --- Validation and report ---


@app.command()
def validate(
    model_path: Annotated[
        Path, typer.Argument(metavar="MODEL", help="Model folder whose pipeline is validated.")
    ],
    features: Annotated[Path, typer.Argument(help="FeatureTable (.parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and metrics.json.")],
    scheme: Annotated[
        str, typer.Option("--scheme", help="Validation scheme: kfold (patient-grouped).")
    ] = "kfold",
    folds: Annotated[int, typer.Option("--folds", min=2)] = 5,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    dataset_path: Annotated[
        Path | None, typer.Option("--dataset", help="Dataset folder, for the cohort table.")
    ] = None,
    scheduler: SchedulerOption = None,
    cache: CacheOption = None,
) -> None:
    """Re-fit a model's pipeline inside patient-grouped folds and write a self-contained HTML report."""
    from lai.pipeline import validate_model

    if scheme != "kfold":
        raise fail(f"Unknown scheme {scheme!r}: this version offers 'kfold'")
    try:
        report = validate_model(
            model_path,
            features,
            out,
            folds=folds,
            seed=seed,
            dataset_path=dataset_path,
            scheduler=scheduler,
            cache_dir=resolve_cache_dir(cache),
        )
    except (ValueError, FileNotFoundError) as error:
        raise fail(str(error)) from error
    print_headlines(report.results)
    console.print(f"Report: [bold]{report.html_path}[/]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo"),
    patients: Annotated[int, typer.Option("--patients", min=10)] = 150,
    centres: Annotated[int, typer.Option("--centres", min=1, max=14)] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Run every stage end to end on a synthetic cohort and write OUT/report.html."""
    from lai.pipeline import run_demo

    report = run_demo(out, patients=patients, centres=centres, seed=seed, scheduler=scheduler)
    print_headlines(report.results)
    console.print(f"Report: [bold]{report.html_path.resolve()}[/]  ({report.seconds:.0f} s)")
