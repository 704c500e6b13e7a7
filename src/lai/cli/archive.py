"""Commands of the archive: ingest, labels import, qc."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lai.cli.root import SchedulerOption, app, console, err_console, fail

labels_app = typer.Typer(help="Lesion labels and masks of an archive.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="LAI_ARCHIVE_DB",
        help="Catalog URL, e.g. postgresql+psycopg://user:pass@host/db (default: ARCHIVE/catalog.sqlite).",
    ),
]


def _catalog_error(archive: Path, db: str | None, error: Exception) -> str:
    """The message for a catalog that cannot be used, naming it (never with its password)."""
    from sqlalchemy.engine import make_url

    where = make_url(db).render_as_string(hide_password=True) if db else archive / "catalog.sqlite"
    return f"catalog {where}: {type(error).__name__}: {getattr(error, 'orig', None) or error}"


def _require_archive(archive: Path, db: str | None) -> None:
    """Refuse a folder that is not an archive, rather than create an empty catalog in it."""
    if db is None and not (archive / "dataset.json").is_file():
        raise fail(f"{archive}: not an archive (no dataset.json; create one with lai ingest)")


def _default_secret_file(centre: str) -> Path:
    return Path.home() / ".config" / "lai" / "secrets" / f"{centre}.key"


@app.command()
def ingest(
    dicom_dir: Annotated[Path, typer.Argument(help="Folder (or zip) of a centre's DICOM files; only read.")],
    centre: Annotated[str, typer.Option("--centre", help="Name of the contributing centre.")],
    archive: Annotated[Path, typer.Option("--archive", help="Archive folder (a Dataset folder).")],
    db: DbOption = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            help="The centre's pseudonymisation secret (created if missing; default "
            "~/.config/lai/secrets/CENTRE.key). Keep it at the centre, never in the archive.",
        ),
    ] = None,
    keep_mapping: Annotated[
        Path | None,
        typer.Option("--keep-mapping", help="Also keep the original -> pseudonym map here, encrypted."),
    ] = None,
    scheduler: SchedulerOption = None,
) -> None:
    """De-identify, recognise and convert a DICOM folder into ARCHIVE's Dataset and catalog."""
    import sqlalchemy as sa

    from lai.archive.convert import ConversionError
    from lai.archive.deidentify import PseudonymMapError, load_secret, new_secret
    from lai.archive.ingest import ingest as run_ingest

    secret_path = secret_file if secret_file is not None else _default_secret_file(centre)
    try:
        if secret_path.exists():
            secret = load_secret(secret_path)
        else:
            secret = new_secret(secret_path)
            err_console.print(
                f"New secret for {centre} written to {secret_path}: keep it safe, at the centre."
            )
        report = run_ingest(
            dicom_dir,
            archive,
            centre=centre,
            secret=secret,
            db=db,
            keep_mapping=keep_mapping,
            scheduler=scheduler,
        )
    except (FileNotFoundError, ValueError, PseudonymMapError, ConversionError) as error:
        raise fail(str(error)) from None
    except sa.exc.SQLAlchemyError as error:
        raise fail(_catalog_error(archive, db, error)) from None
    for problem in report.problems:
        err_console.print(f"[yellow]skipped[/] {problem.shown}: {problem.reason}")
    for failure in report.failures:
        err_console.print(f"[red]failed[/] {failure}")
    console.print(
        f"{report.n_files} files: {report.converted} series converted, {report.already_present} already in "
        f"the archive, {len(report.problems)} files skipped, {len(report.failures)} series failed"
    )


@labels_app.command("import")
def labels_import(
    archive: Annotated[Path, typer.Argument(help="Archive folder.")],
    sheet: Annotated[Path, typer.Argument(help="lesions.csv: case_id or series, mask_label, diagnosis, ...")],
    masks: Annotated[
        Path | None,
        typer.Option("--masks", help="Folder of masks, one per case: CASE_ID.nii.gz, .nrrd or .dcm (SEG)."),
    ] = None,
    liver_masks: Annotated[
        Path | None,
        typer.Option("--liver-masks", help="Folder of liver masks named like --masks (optional per case)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import lesion labels (and masks), validated against the catalog and the taxonomy."""
    import sqlalchemy as sa

    from lai.archive.labels import LabelError, import_labels

    _require_archive(archive, db)
    try:
        result = import_labels(archive, sheet, masks=masks, liver_masks=liver_masks, db=db)
    except LabelError as error:
        raise fail(str(error)) from None
    except sa.exc.SQLAlchemyError as error:
        raise fail(_catalog_error(archive, db, error)) from None
    console.print(f"{result.lesions} lesions in {len(result.cases)} cases; {len(result.masks)} masks written")


@app.command()
def qc(
    archive: Annotated[Path, typer.Argument(help="Archive folder.")],
    db: DbOption = None,
) -> None:
    """Check every series and mask of ARCHIVE; list the findings (exit code 1 if any is an error)."""
    import sqlalchemy as sa

    from lai.archive.qc import run_qc
    from lai.imaging import ImageError

    _require_archive(archive, db)
    try:
        findings = run_qc(archive, db)
    except ImageError as error:
        raise fail(str(error)) from None
    except sa.exc.SQLAlchemyError as error:
        raise fail(_catalog_error(archive, db, error)) from None
    table = Table(title=f"Quality control of {archive}")
    for column in ("case", "series", "check", "severity", "finding"):
        table.add_column(column)
    for f in findings:
        colour = "red" if f.severity == "error" else "yellow"
        table.add_row(f.case_id, f.series_key or "-", f.check, f"[{colour}]{f.severity}[/]", f.message)
    console.print(table if findings else "No QC findings.")
    errors = sum(f.severity == "error" for f in findings)
    if errors:
        err_console.print(f"{errors} error(s)")
        raise typer.Exit(code=1)
