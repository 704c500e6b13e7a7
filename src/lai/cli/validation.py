"""Commands on validation and reports: validate, demo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lai.cli.root import CacheOption, SchedulerOption, app, console, fail, resolve_cache_dir

if TYPE_CHECKING:
    from lai.validation import ValidationResult


def print_results(results: Sequence[ValidationResult]) -> None:
    """Print each task and scheme's AUC and balanced accuracy with their 95% intervals."""
    table = Table(title="Validated performance (95% CI)")
    for column in ("task", "scheme", "classes", "AUC", "balanced accuracy"):
        table.add_column(column)
    for result in results:
        auc, bacc = result.metrics["auc"], result.metrics["balanced_accuracy"]
        table.add_row(
            result.target,
            result.scheme_name,
            str(len(result.classes)),
            f"{auc.value:.3f} [{auc.ci_low:.3f}, {auc.ci_high:.3f}]",
            f"{bacc.value:.3f} [{bacc.ci_low:.3f}, {bacc.ci_high:.3f}]",
        )
    console.print(table)


# --- Validation and report ---


@app.command()
def validate(
    model_path: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL_OR_AUTOML_CONFIG",
            help="Model folder (its AutoML settings are re-run inside every split) or a YAML file of "
            "AutoClassifier settings (metric, budget, max_trials, preset, target ...).",
        ),
    ],
    features: Annotated[Path, typer.Argument(help="FeatureTable (.parquet) to validate on.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and metrics.json.")],
    scheme: Annotated[
        list[str] | None,
        typer.Option(
            "--scheme",
            help="Validation scheme, repeatable: repeated-split, kfold, leave-centre-out, temporal, external.",
        ),
    ] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Label column(s); default: the model's own.")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="kfold: folds per round.")] = 5,
    repeats: Annotated[
        int | None,
        typer.Option(
            "--repeats", min=1, help="repeated-split: splits (default 100); kfold: rounds (default 1)."
        ),
    ] = None,
    test_fraction: Annotated[
        float,
        typer.Option("--test-fraction", min=0.05, max=0.8, help="repeated-split / temporal test share."),
    ] = 0.2,
    external: Annotated[
        Path | None, typer.Option("--external", help="External FeatureTable (scheme 'external').")
    ] = None,
    dataset_path: Annotated[
        Path | None,
        typer.Option("--dataset", help="Dataset folder: cohort table, and study dates for 'temporal'."),
    ] = None,
    importance: Annotated[
        int, typer.Option("--importance", min=0, help="Permutations per feature group and split (0: none).")
    ] = 1,
    harmonise: Annotated[
        str | None,
        typer.Option(
            "--harmonise",
            metavar="combat|none",
            help="Harmonise features across centres inside every split: 'combat' fits ComBat on each "
            "split's training lesions only (the model never sees the centre); 'none' turns off a "
            "'harmonise:' of the settings file. Default: the settings file's, else none.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    scheduler: SchedulerOption = None,
    cache: CacheOption = None,
) -> None:
    """Validate a model's pipeline under one or more schemes and write a self-contained HTML report."""
    from lai.automl import ModelFolderError
    from lai.data.feature_table import FeatureTableError
    from lai.pipeline import validate_model

    try:
        report = validate_model(
            model_path,
            features,
            out,
            schemes=scheme or ["kfold"],
            targets=target or [],
            folds=folds,
            repeats=repeats,
            test_fraction=test_fraction,
            seed=seed,
            dataset_path=dataset_path,
            external=external,
            importance_repeats=importance,
            harmonise=harmonise,
            scheduler=scheduler,
            cache_dir=resolve_cache_dir(cache),
        )
    except (ValueError, FileNotFoundError, ModelFolderError, FeatureTableError) as error:
        raise fail(str(error)) from error
    print_results(report.results)
    for result in report.results:
        for note in result.notes:
            console.print(f"[yellow]{result.target}, {result.scheme_name}: {note}[/]")
    console.print(f"Report: [bold]{report.html_path}[/]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo"),
    patients: Annotated[int, typer.Option("--patients", min=10)] = 150,
    centres: Annotated[int, typer.Option("--centres", min=2, max=14)] = 3,
    repeats: Annotated[int, typer.Option("--repeats", min=2, help="Random splits of repeated-split.")] = 5,
    robustness: Annotated[
        int, typer.Option("--robustness", min=0, help="Lesions of the robustness study (0: skip it).")
    ] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Run every stage end to end on a synthetic cohort and write OUT/report.html."""
    from lai.pipeline import run_demo

    report = run_demo(
        out,
        patients=patients,
        centres=centres,
        seed=seed,
        repeats=repeats,
        robustness_lesions=robustness,
        scheduler=scheduler,
    )
    print_results(report.results)
    console.print(f"Report: [bold]{report.html_path.resolve()}[/]  ({report.seconds:.0f} s)")
