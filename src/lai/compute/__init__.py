"""Run many tasks: local processes by default, a Dask cluster by address; content-hash cache; progress."""

from __future__ import annotations

from lai.compute.cache import Cache, task_key
from lai.compute.runner import SCHEDULER_ENV, TaskError, default_cache_dir, map_tasks, resolve_scheduler

__all__ = [
    "SCHEDULER_ENV",
    "Cache",
    "TaskError",
    "default_cache_dir",
    "map_tasks",
    "resolve_scheduler",
    "task_key",
]
