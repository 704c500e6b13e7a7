"""The ``lai`` command: thin wrappers that parse arguments and call the stage packages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from lai import __version__

if TYPE_CHECKING:
    import pandas as pd

    from lai.validation import ValidationResult

app = typer.Typer(
    name="lai",
    help="LAI: AI on MRI of liver lesions - synthetic cohorts, radiomics, AutoML, validation, reports.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
dataset_app = typer.Typer(help="Inspect and check Dataset folders.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
radiomics_app = typer.Typer(help="Features of one image and mask.", no_args_is_help=True)
app.add_typer(radiomics_app, name="radiomics")

console = Console()
err_console = Console(stderr=True)

SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        envvar="LAI_SCHEDULER",
        help="'processes' (default), 'sync', or a Dask scheduler address such as tcp://host:8786.",
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option("--cache", help="Result cache folder (default: $LAI_CACHE or ~/.cache/lai)."),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _cache_dir(cache: Path | None) -> Path:
    from lai.compute import default_cache_dir

    return cache if cache is not None else default_cache_dir()


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help="Print LAI's version and exit.")] = False,
) -> None:
    """LAI: AI on MRI of liver lesions."""
    if version:
        console.print(f"lai {__version__}")
        raise typer.Exit()


# --- Synthetic cohort ---


@app.command()
def synth(
    out: Annotated[Path | None, typer.Option("--out", help="Dataset folder to write.")] = None,
    patients: Annotated[int, typer.Option("--patients", min=1, help="Number of patients.")] = 200,
    centres: Annotated[int, typer.Option("--centres", min=1, max=14, help="Number of centres.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same files.")] = 0,
    dicom: Annotated[
        Path | None, typer.Option("--dicom", help="Also write every series as DICOM here.")
    ] = None,
    describe: Annotated[
        Path | None,
        typer.Option(
            "--describe", help="Print lesion-to-liver intensity ratios of an existing cohort and exit."
        ),
    ] = None,
    scheduler: SchedulerOption = None,
    cache: CacheOption = None,
) -> None:
    """Write a realistic synthetic multi-centre liver MRI cohort as a Dataset folder (and DICOM)."""
    from lai.data import Dataset, DatasetError

    if describe is not None:
        from lai.synth import describe_cohort

        try:
            dataset = Dataset.read(describe)
        except DatasetError as error:
            raise _fail(str(error)) from error
        table = describe_cohort(dataset, scheduler=scheduler)
        _print_frame(table, title=f"Lesion-to-liver intensity ratio, {dataset.name} (median [IQR])")
        return
    if out is None:
        raise _fail("--out DIR is required (or --describe DIR)")
    from lai.synth import generate_cohort

    dataset = generate_cohort(
        out,
        patients=patients,
        centres=centres,
        seed=seed,
        dicom_dir=dicom,
        scheduler=scheduler,
        cache_dir=_cache_dir(cache),
    )
    console.print(
        f"Wrote [bold]{len(dataset.cases)}[/] cases and [bold]{len(dataset.lesions)}[/] lesions to {out}"
        + (f"; DICOM in {dicom}" if dicom else "")
    )


# --- Dataset folder ---


@dataset_app.command("validate")
def dataset_validate(path: Annotated[Path, typer.Argument(help="Dataset folder.")]) -> None:
    """List every problem of a Dataset folder at once; exit 1 if there is any."""
    from lai.data.validate import format_problems, validate_dataset

    problems = validate_dataset(path)
    if problems:
        err_console.print(f"[bold red]{path}[/]: not a valid Dataset folder")
        err_console.print(format_problems(problems), markup=False, highlight=False)
        raise typer.Exit(code=1)
    console.print(f"[green]{path}: valid[/]")


# --- Radiomics ---


@app.command()
def extract(
    dataset_path: Annotated[Path, typer.Argument(metavar="DATASET", help="Dataset folder.")],
    out: Annotated[Path, typer.Option("--out", help="FeatureTable to write (.parquet).")],
    params: Annotated[str | None, typer.Option("--params", help="Settings (YAML) or preset name.")] = None,
    scheduler: SchedulerOption = None,
    cache: CacheOption = None,
) -> None:
    """Extract features for every lesion and sequence of a Dataset into a FeatureTable."""
    from lai.data import Dataset, DatasetError
    from lai.pipeline import extract_features_logged
    from lai.radiomics import RadiomicsError, SettingsError

    try:
        dataset = Dataset.read(dataset_path)
    except DatasetError as error:
        raise _fail(str(error)) from error
    try:
        table = extract_features_logged(
            dataset, out, settings=params, cache_dir=_cache_dir(cache), scheduler=scheduler
        )
    except (RadiomicsError, SettingsError) as error:
        raise _fail(str(error)) from error
    console.print(f"Wrote {len(table.frame)} lesions x {len(table.feature_columns)} features to {out}")


@radiomics_app.command("extract")
def radiomics_extract(
    image: Annotated[Path, typer.Argument(help="Image (NIfTI, NRRD, ...).")],
    mask: Annotated[Path, typer.Argument(help="Label map; met in world coordinates.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: one row, one column per feature.")],
    params: Annotated[str | None, typer.Option("--params", help="Settings (YAML) or preset name.")] = None,
    label: Annotated[int, typer.Option("--label", help="Label of the lesion in the mask.")] = 1,
) -> None:
    """Extract the features of one lesion of one image into a one-row CSV."""
    import pandas as pd

    from lai.files import write_text_atomic
    from lai.imaging import ImageError
    from lai.radiomics import RadiomicsError, SettingsError, extract_features

    try:
        features = extract_features(image, mask, params, label=label)
    except (ImageError, RadiomicsError, SettingsError) as error:
        raise _fail(str(error)) from error
    write_text_atomic(out, pd.DataFrame([features]).to_csv(index=False))
    console.print(f"Wrote {len(features)} features to {out}")


@radiomics_app.command("ibsi")
def radiomics_ibsi(
    image: Annotated[Path, typer.Argument(help="Image (NIfTI, NRRD, ...).")],
    mask: Annotated[Path, typer.Argument(help="Label map; met in world coordinates.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: one row per IBSI feature tag.")],
    settings: Annotated[
        str, typer.Option("--settings", help="IBSI preset (ibsi-digital-phantom, ibsi-ct-a..e) or YAML file.")
    ] = "ibsi-digital-phantom",
) -> None:
    """Compute IBSI 1 features under the IBSI reference names (tag, family, code, name, value)."""
    from lai.files import write_text_atomic
    from lai.imaging import ImageError
    from lai.radiomics import RadiomicsError, SettingsError
    from lai.radiomics.ibsi import ibsi_features

    try:
        table = ibsi_features(image, mask, settings)
    except (ImageError, RadiomicsError, SettingsError) as error:
        raise _fail(str(error)) from error
    write_text_atomic(out, table.to_csv(index=False))
    console.print(f"Wrote {len(table)} IBSI feature values to {out}")


# --- AutoML ---


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """Return seconds from a duration such as ``90s``, ``10m`` or ``1h`` (a bare number is seconds)."""
    match = _DURATION.match(text)
    if match is None:
        msg = f"Invalid duration {text!r}: use e.g. 90s, 10m or 1h"
        raise typer.BadParameter(msg)
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


@app.command()
def automl(
    features: Annotated[Path, typer.Argument(help="FeatureTable (.parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    target: Annotated[
        str, typer.Option("--target", help="Label column: diagnosis or malignant.")
    ] = "diagnosis",
    budget: Annotated[str, typer.Option("--budget", help="Search budget (90s, 10m, 1h).")] = "10m",
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Fit a model on a FeatureTable and write a Model folder."""
    from lai.automl import AutoClassifier, save_model
    from lai.data import FeatureTable, FeatureTableError

    parse_duration(budget)  # validated now; the fixed pipeline of this version does not search yet
    try:
        table = FeatureTable.read(features)
        y = table.target(target)
    except FeatureTableError as error:
        raise _fail(str(error)) from error
    model = AutoClassifier(random_state=seed).fit(table.features, y, groups=table.groups)
    save_model(model, out, target=target, table=table, seed=seed)
    console.print(f"Wrote model for {target!r} ({len(model.classes_)} classes) to {out}")


@app.command()
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model folder.")],
    features: Annotated[Path, typer.Argument(help="FeatureTable (.parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Predictions CSV to write.")],
) -> None:
    """Predict with a Model folder on a FeatureTable: ids, predicted class and one probability per class."""
    from lai.automl import load_model, predict_table
    from lai.data import FeatureTable, FeatureTableError
    from lai.files import write_text_atomic

    try:
        table = FeatureTable.read(features)
        model, meta = load_model(model_path)
        predictions = predict_table(model, meta, table)
    except (FeatureTableError, ValueError, FileNotFoundError) as error:
        raise _fail(str(error)) from error
    write_text_atomic(out, predictions.to_csv(index=False))
    console.print(f"Wrote {len(predictions)} predictions to {out}")


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
        raise _fail(f"Unknown scheme {scheme!r}: this version offers 'kfold'")
    try:
        report = validate_model(
            model_path,
            features,
            out,
            folds=folds,
            seed=seed,
            dataset_path=dataset_path,
            scheduler=scheduler,
            cache_dir=_cache_dir(cache),
        )
    except (ValueError, FileNotFoundError) as error:
        raise _fail(str(error)) from error
    _print_headlines(report.results)
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
    _print_headlines(report.results)
    console.print(f"Report: [bold]{report.html_path.resolve()}[/]  ({report.seconds:.0f} s)")


def _print_headlines(results: Sequence[ValidationResult]) -> None:
    table = Table(title="Cross-validated performance (95% CI)")
    for column in ("task", "classes", "AUC", "balanced accuracy"):
        table.add_column(column)
    for result in results:
        auc = result.metrics["auc"]
        bacc = result.metrics["balanced_accuracy"]
        table.add_row(
            result.target,
            str(len(result.classes)),
            f"{auc.value:.3f} [{auc.ci_low:.3f}, {auc.ci_high:.3f}]",
            f"{bacc.value:.3f} [{bacc.ci_low:.3f}, {bacc.ci_high:.3f}]",
        )
    console.print(table)


def _print_frame(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
