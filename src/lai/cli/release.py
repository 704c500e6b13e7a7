"""Commands of benchmark releases and public layouts: release, dataset import."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from lai.cli.root import CacheOption, SchedulerOption, app, console, dataset_app, fail, resolve_cache_dir


class PublicLayout(StrEnum):
    """Public dataset layouts ``lai dataset import`` reads."""

    lld_mmri = "lld-mmri"
    worc = "worc"
    decathlon = "decathlon"


@app.command()
def release(
    archive: Annotated[Path, typer.Argument(help="Archive (or any Dataset folder) with labelled lesions.")],
    name: Annotated[str, typer.Option("--name", help="Benchmark name.")],
    version: Annotated[str, typer.Option("--version", help="Benchmark version.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to create: public/ and private/.")],
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", help="Share of lesions (whole patients) in test.")
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split.")] = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Write a benchmark release: a public Dataset without test labels and a private ground truth."""
    from lai.archive.release import ReleaseError, make_release

    try:
        made = make_release(
            archive,
            out,
            name=name,
            version=version,
            test_fraction=test_fraction,
            seed=seed,
            scheduler=scheduler,
        )
    except ReleaseError as error:
        raise fail(str(error)) from error
    console.print(
        f"Release [bold]{name} {version}[/]: {len(made.train_cases)} train and {len(made.test_cases)} test "
        f"cases ({made.test_lesions} test lesions); public in {made.public}, ground truth in {made.private}"
    )


@dataset_app.command("import")
def dataset_import(
    source: Annotated[Path, typer.Argument(help="Folder in the public layout.")],
    layout: Annotated[PublicLayout, typer.Option("--format", help="Layout of SOURCE.")],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
    labels: Annotated[
        Path | None, typer.Option("--labels", help="WORC: label table (default: the CSV in SOURCE).")
    ] = None,
    sequence: Annotated[
        str | None,
        typer.Option("--sequence", help="WORC: canonical sequence of the images (default t2w)."),
    ] = None,
    channels: Annotated[
        str | None,
        typer.Option(
            "--channels",
            help="Decathlon: channel to sequence, e.g. '0=t2w,1=adc' (default: from dataset.json).",
        ),
    ] = None,
    scheduler: SchedulerOption = None,
    cache: CacheOption = None,
) -> None:
    """Convert a public layout (LLD-MMRI2023, WORC database, Decathlon / nnU-Net) into a Dataset folder."""
    from lai.archive.readers import ReaderError, read_decathlon, read_lld_mmri, read_worc

    run: dict[str, Any] = {"scheduler": scheduler, "cache_dir": resolve_cache_dir(cache)}
    try:
        if layout is PublicLayout.lld_mmri:
            dataset = read_lld_mmri(source, out, **run)
        elif layout is PublicLayout.worc:
            dataset = read_worc(source, out, labels=labels, sequence=sequence or "t2w", **run)
        else:
            mapping = None
            if channels:
                try:
                    mapping = {int(k): v for k, v in (item.split("=") for item in channels.split(","))}
                except ValueError:
                    raise fail(f"--channels {channels!r}: expected e.g. '0=t2w,1=adc'") from None
            dataset = read_decathlon(source, out, channels=mapping, **run)
    except ReaderError as error:
        raise fail(str(error)) from error
    console.print(
        f"Imported [bold]{len(dataset.cases)}[/] cases and [bold]{len(dataset.lesions)}[/] lesions "
        f"from {source} ({layout.value}) into {out}"
    )
