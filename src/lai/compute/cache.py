"""A content-addressed result cache: finished work is found again by the hash of its inputs."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from lai import __version__
from lai.files import write_bytes_atomic

_MISSING = object()


def _canonical(value: Any) -> Any:
    """Return a JSON-serialisable form of ``value`` that is stable across runs and processes."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        # the bytes of an object array are pointers, different in every process: hash the values
        return {"ndarray": [_canonical(v) for v in value.ravel().tolist()], "shape": list(value.shape)}
    if isinstance(value, np.ndarray):
        return {
            "ndarray": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
            "dtype": str(value.dtype),
            "shape": list(value.shape),
        }
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    msg = f"task_key: cannot hash a {type(value).__name__}; pass plain values, paths, arrays or file hashes"
    raise TypeError(msg)


def task_key(*parts: Any) -> str:
    """Return the sha256 key of a task from plain values (names, parameters, input file hashes).

    LAI's version is part of every key, so a new release never reuses results of an older one.
    """
    payload = json.dumps(
        [__version__, *(_canonical(p) for p in parts)], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Cache:
    """Results stored as pickles under ``root/<key[:2]>/<key>.pkl``, each written atomically."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pkl"

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """Return the stored result for ``key``; ``default`` (or ``KeyError``) when absent or unreadable."""
        path = self._path(key)
        try:
            with open(path, "rb") as stream:
                return pickle.load(stream)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            if default is _MISSING:
                raise KeyError(key) from None
            return default

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (atomically: a crash never leaves a half-written entry)."""
        write_bytes_atomic(self._path(key), pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
