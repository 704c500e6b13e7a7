"""Commands on models: automl (search pipelines, write a Model folder), predict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lai.cli.root import (
    SchedulerOption,
    app,
    console,
    fail,
    parse_duration,
    print_frame,
)

if TYPE_CHECKING:
    from lai.automl import AutoClassifier


@app.command()
def automl(
    features: Annotated[Path, typer.Argument(help="FeatureTable (.parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    target: Annotated[
        str, typer.Option("--target", help="Label column: diagnosis or malignant.")
    ] = "diagnosis",
    budget: Annotated[
        str, typer.Option("--budget", help="Time for the whole fit: search, ensemble, refit (90s, 10m, 1h).")
    ] = "60s",
    trials: Annotated[
        int | None,
        typer.Option("--trials", min=1, help="Pipelines to try at most (default: until the budget)."),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="auc, balanced_accuracy, f1_macro, kappa or lld.")
    ] = "auc",
    preset: Annotated[
        str,
        typer.Option("--preset", help="default (TPE, pruning, Caruana ensemble) or worc (random, top-N)."),
    ] = "default",
    inner_folds: Annotated[int, typer.Option("--inner-folds", min=2, help="Inner CV folds.")] = 5,
    ensemble_size: Annotated[
        int, typer.Option("--ensemble-size", min=1, help="Greedy selection steps, or N of worc's top-N mean.")
    ] = 50,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Calibrate probabilities in folds.")] = False,
    allowed_features: Annotated[
        Path | None,
        typer.Option("--allowed-features", help="Text file of feature columns to use, one per line."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Trials run at once.")] = 1,
    scheduler: SchedulerOption = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the folds, the sampler and every pipeline step.")
    ] = 0,
) -> None:
    """Search pipelines on a FeatureTable, ensemble the best and write a Model folder."""
    from lai.automl import METRICS, PRESETS, AutoClassifier, save_model
    from lai.data import FeatureTable, FeatureTableError

    seconds = parse_duration(budget)
    if metric not in METRICS:
        raise fail(f"--metric {metric!r} is not one of {', '.join(METRICS)}")
    if preset not in PRESETS:
        raise fail(f"--preset {preset!r} is not one of {', '.join(PRESETS)}")
    try:
        table = FeatureTable.read(features)
        y = table.target(target)
    except FeatureTableError as error:
        raise fail(str(error)) from error
    allowed = _allowed_features(allowed_features, table.feature_columns) if allowed_features else None
    model = AutoClassifier(
        metric=metric,
        budget=seconds,
        max_trials=trials,
        preset=preset,
        inner_folds=inner_folds,
        ensemble_size=ensemble_size,
        calibrate=calibrate,
        allowed_features=allowed,
        n_jobs=jobs,
        scheduler=scheduler,
        random_state=seed,
        progress=True,
    )
    try:
        model.fit(table.features, y, groups=table.groups)
    except ValueError as error:
        raise fail(f"{features}: {error}") from error
    save_model(model, out, target=target, table=table, seed=seed)
    _print_summary(model, metric)
    console.print(f"Wrote model for {target!r} ({len(model.classes_)} classes) to {out}")


def _allowed_features(path: Path, columns: list[str]) -> list[str]:
    """Return the feature names listed in ``path`` (one per line), refusing names the table lacks."""
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise fail(f"{path}: cannot read the allowed features ({error.strerror})") from error
    unknown = [name for name in names if name not in set(columns)]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise fail(f"{path}: {len(unknown)} name(s) are not feature columns of the table: {shown}")
    if not names:
        raise fail(f"{path}: lists no feature column")
    return names


def _print_summary(model: AutoClassifier, metric: str) -> None:
    search = model.search_
    states = ", ".join(f"{n} {s}" for s, n in search["state"].value_counts().items())
    console.print(f"{len(search)} trials ({states}) in {model.fit_seconds_:.0f} s")
    if model.cv_note_:
        console.print(f"[yellow]note:[/] {model.cv_note_}")
    best = search.sort_values(["score", "trial"], ascending=[False, True]).head(5)
    best = best.assign(score=best["score"].map("{:.4f}".format))
    print_frame(best[["trial", "score", "pipeline"]], f"Best pipelines (inner-CV {metric})")
    members = model.ensemble_.to_frame()
    members["weight"] = members["weight"].map("{:.3f}".format)
    title = f"Ensemble ({model.ensemble_.method}): out-of-fold {metric} {model.ensemble_.oof_score:.4f}"
    print_frame(members, title)
    groups = model.feature_groups_
    if len(groups):
        shown = groups[["dimension", "group", "n_columns", "trials_on", "trials_off"]].assign(
            score_on=groups["mean_score_on"].map("{:.4f}".format),
            score_off=groups["mean_score_off"].map("{:.4f}".format),
        )
        print_frame(shown, "Feature groups: mean inner-CV score of the trials with the group on and off")


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
        raise fail(f"{features}: {error}" if "feature table lacks" in str(error) else str(error)) from error
    write_text_atomic(out, predictions.to_csv(index=False))
    console.print(f"Wrote {len(predictions)} predictions to {out}")
