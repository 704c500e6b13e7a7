"""Run many independent tasks with a progress bar: local processes, in-process, or a Dask cluster.

The scheduler is chosen by argument or by the ``LAI_SCHEDULER`` environment variable:

- ``None`` / ``"processes"``: a local process pool (the default);
- ``"sync"``: one after the other in this process (debugging, tiny inputs);
- ``"tcp://host:port"``: the tasks go to a ``dask.distributed`` scheduler at that address.

With a ``cache_dir`` and per-task ``keys``, finished results are stored by content hash as they
arrive, so an interrupted run resumes where it stopped and a repeated run returns at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lai.compute.cache import Cache

T = TypeVar("T")
R = TypeVar("R")

SCHEDULER_ENV = "LAI_SCHEDULER"


class TaskError(RuntimeError):
    """A task failed; the message names the task and carries the original error."""


def resolve_scheduler(scheduler: str | None) -> str:
    """Return the scheduler to use: the argument, else ``$LAI_SCHEDULER``, else ``"processes"``."""
    chosen = scheduler or os.environ.get(SCHEDULER_ENV) or "processes"
    if chosen not in ("processes", "sync") and not chosen.startswith(("tcp://", "tls://", "inproc://")):
        msg = (
            f"Unknown scheduler {chosen!r}: use 'processes', 'sync' or a Dask address such as tcp://host:8786"
        )
        raise ValueError(msg)
    return chosen


@contextmanager
def _progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    disable = os.environ.get("LAI_NO_PROGRESS") == "1"
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=disable, transient=False) as progress:
        task = progress.add_task(description or "Working", total=total)
        yield lambda n: progress.advance(task, n)


def map_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    keys: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    description: str = "",
    scheduler: str | None = None,
    max_workers: int | None = None,
) -> list[R]:
    """Return ``[fn(item) for item in items]``, computed in parallel, cached, with a progress bar.

    Parameters
    ----------
    fn
        A top-level (picklable) function of one item.
    items
        The task inputs, in the order results are returned.
    keys
        One content hash per item (see ``task_key``); with ``cache_dir``, a result already stored
        under its key is not recomputed.
    cache_dir
        Folder of the result cache; ``None`` caches nothing.
    description
        Text of the progress bar.
    scheduler
        ``"processes"`` (default), ``"sync"``, or a Dask scheduler address; ``$LAI_SCHEDULER`` otherwise.
    max_workers
        Local processes to use (default: the number of CPUs).
    """
    if keys is not None and len(keys) != len(items):
        msg = f"map_tasks: {len(keys)} keys for {len(items)} items"
        raise ValueError(msg)
    cache = Cache(cache_dir) if cache_dir is not None and keys is not None else None
    results: list[Any] = [None] * len(items)
    todo: list[int] = []
    for index in range(len(items)):
        if cache is not None and keys is not None:
            hit = cache.get(keys[index], default=_NOT_CACHED)
            if hit is not _NOT_CACHED:
                results[index] = hit
                continue
        todo.append(index)

    def store(index: int, value: Any) -> None:
        results[index] = value
        if cache is not None and keys is not None:
            cache.put(keys[index], value)

    chosen = resolve_scheduler(scheduler)
    with _progress(description, len(items)) as advance:
        advance(len(items) - len(todo))
        if not todo:
            return results
        if chosen == "sync" or (chosen == "processes" and (len(todo) == 1 or max_workers == 1)):
            for index in todo:
                store(index, _call(fn, items[index], index))
                advance(1)
        elif chosen == "processes":
            _run_processes(fn, items, todo, store, advance, max_workers)
        else:
            _run_dask(fn, items, todo, store, advance, chosen)
    return results


_NOT_CACHED = object()


def _call(fn: Callable[[Any], Any], item: Any, index: int) -> Any:
    try:
        return fn(item)
    except Exception as error:
        name = getattr(fn, "__qualname__", repr(fn))
        msg = f"Task {index} ({name}) failed: {type(error).__name__}: {error}"
        raise TaskError(msg) from error


def _run_processes(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    todo: list[int],
    store: Callable[[int, Any], None],
    advance: Callable[[int], None],
    max_workers: int | None,
) -> None:
    workers = min(max_workers or os.cpu_count() or 1, len(todo))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future[Any], int] = {pool.submit(_call, fn, items[i], i): i for i in todo}
        try:
            for future in as_completed(futures):
                store(futures[future], future.result())
                advance(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _run_dask(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    todo: list[int],
    store: Callable[[int, Any], None],
    advance: Callable[[int], None],
    address: str,
) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(address) as client:
        futures = [client.submit(_call, fn, items[i], i, pure=False) for i in todo]
        index_of = {f.key: i for f, i in zip(futures, todo, strict=True)}
        for future in dask_completed(futures):
            store(index_of[future.key], future.result())
            advance(1)


def default_cache_dir() -> Path:
    """Return the cache folder: ``$LAI_CACHE`` or ``~/.cache/lai``."""
    return Path(os.environ.get("LAI_CACHE") or Path.home() / ".cache" / "lai")
