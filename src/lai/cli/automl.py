"""Commands on models: automl, predict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lai.cli.root import (
    app,
    console,
    fail,
    parse_duration,
)


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
        raise fail(str(error)) from error
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
        raise fail(str(error)) from error
    write_text_atomic(out, predictions.to_csv(index=False))
    console.print(f"Wrote {len(predictions)} predictions to {out}")
