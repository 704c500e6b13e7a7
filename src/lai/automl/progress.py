"""Progress of a search on the terminal: trials done, best score so far, time left (Rich)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lai.automl.search import TrialResult


@contextmanager
def search_progress(
    metric: str, max_trials: int | None, deadline: float | None
) -> Iterator[Callable[[TrialResult, list[TrialResult]], None]]:
    """Yield a callback for ``run_search``'s ``on_trial`` that updates a progress bar on stderr.

    The bar counts trials against ``max_trials`` (or shows the time budget used when there is none);
    ``LAI_NO_PROGRESS=1`` hides it.
    """
    disable = os.environ.get("LAI_NO_PROGRESS") == "1"
    columns = (
        TextColumn("[bold]Searching pipelines"),
        BarColumn(),
        MofNCompleteColumn() if max_trials is not None else TextColumn("{task.fields[done]} trials"),
        TextColumn("best {task.fields[metric]} {task.fields[best]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"),
    )
    start = time.time()
    total = float(max_trials) if max_trials is not None else max((deadline or start) - start, 1.0)
    with Progress(*columns, console=Console(stderr=True), disable=disable, transient=False) as progress:
        task = progress.add_task("search", total=total, done=0, metric=metric, best="-", left="")

        def update(result: TrialResult, results: list[TrialResult]) -> None:
            scores = [r.score for r in results if r.state == "complete" and np.isfinite(r.score)]
            best = f"{max(scores):.4f}" if scores else "-"
            left = f"{max(0.0, deadline - time.time()):.0f} s left" if deadline is not None else ""
            completed = len(results) if max_trials is not None else min(time.time() - start, total)
            progress.update(task, completed=completed, done=len(results), best=best, left=left)

        yield update
        progress.update(task, completed=total)
