"""Commands on Dataset folders and features: synth, dataset validate, extract, radiomics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lai.cli.root import (
    CacheOption,
    SchedulerOption,
    app,
    console,
    dataset_app,
    err_console,
    fail,
    print_frame,
    radiomics_app,
    resolve_cache_dir,
)

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
            raise fail(str(error)) from error
        table = describe_cohort(dataset, scheduler=scheduler)
        print_frame(table, title=f"Lesion-to-liver intensity ratio, {dataset.name} (median [IQR])")
        return
    if out is None:
        raise fail("--out DIR is required (or --describe DIR)")
    from lai.synth import generate_cohort

    dataset = generate_cohort(
        out,
        patients=patients,
        centres=centres,
        seed=seed,
        dicom_dir=dicom,
        scheduler=scheduler,
        cache_dir=resolve_cache_dir(cache),
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
        raise fail(str(error)) from error
    try:
        table = extract_features_logged(
            dataset, out, settings=params, cache_dir=resolve_cache_dir(cache), scheduler=scheduler
        )
    except (RadiomicsError, SettingsError) as error:
        raise fail(str(error)) from error
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
        raise fail(str(error)) from error
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
        raise fail(str(error)) from error
    write_text_atomic(out, table.to_csv(index=False))
    console.print(f"Wrote {len(table)} IBSI feature values to {out}")
