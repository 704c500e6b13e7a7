"""The root ``lai`` Typer application, its shared options and printing helpers.

Command modules beside this one register their commands on ``app`` when :mod:`lai.cli` imports them."""

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


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def resolve_cache_dir(cache: Path | None) -> Path:
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


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """Return seconds from a duration such as ``90s``, ``10m`` or ``1h`` (a bare number is seconds)."""
    match = _DURATION.match(text)
    if match is None:
        msg = f"Invalid duration {text!r}: use e.g. 90s, 10m or 1h"
        raise typer.BadParameter(msg)
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


def print_headlines(results: Sequence[ValidationResult]) -> None:
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


def print_frame(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
