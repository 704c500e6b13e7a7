"""The Model folder: a fitted ``AutoClassifier`` with the record of what it was fitted on.

```
<model>/
  model.joblib     the fitted AutoClassifier (joblib pickle: load only models you trust)
  model.json       target, classes, feature columns, training data hash, LAI version, seed, metric, budget,
                   preset, ensemble members, feature-group summary, time
  search.parquet   one row per trial: trial, state, pipeline, classifier, params (JSON), fold_scores, score,
                   duration, error, ensemble_weight
```
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lai import __version__
from lai.automl.classifier import AutoClassifier
from lai.data.feature_table import ID_COLUMNS, FeatureTable
from lai.files import write_json_atomic, write_with

MODEL_FILE = "model.joblib"
META_FILE = "model.json"
SEARCH_FILE = "search.parquet"


class ModelFolderError(ValueError):
    """A Model folder that cannot be read; the message names the folder and the problem."""


def training_data_hash(table: FeatureTable, target: str) -> str:
    """Return the sha256 of the training data: feature names and float64 values, row order, then labels."""
    features = table.features
    digest = hashlib.sha256()
    digest.update(json.dumps(list(features.columns)).encode("utf-8"))
    digest.update(np.ascontiguousarray(features.to_numpy(dtype=np.float64)).tobytes())
    digest.update(json.dumps([str(v) for v in table.target(target)]).encode("utf-8"))
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """Return a class label as a JSON value (numpy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _finite(value: float) -> float | None:
    """Return ``value``, or ``None`` (JSON null) when it is NaN."""
    return float(value) if np.isfinite(value) else None


def save_model(
    model: AutoClassifier,
    folder: str | os.PathLike[str],
    *,
    target: str,
    table: FeatureTable,
    seed: int,
) -> Path:
    """Write a fitted model, its ``model.json`` and ``search.parquet`` into ``folder``; return the folder.

    Parameters
    ----------
    model
        A fitted ``AutoClassifier``.
    folder
        The Model folder (created if needed); existing files of the same names are replaced atomically.
    target
        The label column the model predicts (``malignant``, ``diagnosis``).
    table
        The FeatureTable the model was fitted on (hashed, not stored).
    seed
        The seed the model was fitted with.
    """
    if not hasattr(model, "ensemble_"):
        msg = "save_model needs a fitted AutoClassifier; call fit first"
        raise ValueError(msg)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_with(folder / MODEL_FILE, lambda tmp: joblib.dump(model, tmp))
    search = model.search_
    write_with(folder / SEARCH_FILE, lambda tmp: search.to_parquet(tmp, index=False))
    feature_columns = getattr(model, "feature_names_in_", None)
    params = model.get_params()
    meta = {
        "estimator": type(model).__name__,
        "target": target,
        "classes": [_plain(c) for c in model.classes_],
        "feature_columns": list(feature_columns) if feature_columns is not None else table.feature_columns,
        "training_data_hash": training_data_hash(table, target),
        "n_lesions": len(table.frame),
        "n_patients": int(table.groups.nunique()),
        "lai_version": __version__,
        "seed": seed,
        "metric": params["metric"],
        "budget": params["budget"],
        "preset": params["preset"],
        "params": params,
        "n_trials": len(search),
        "trial_states": {str(k): int(v) for k, v in search["state"].value_counts().sort_index().items()},
        "fit_seconds": round(float(model.fit_seconds_), 3),
        "inner_cv_note": model.cv_note_,
        "ensemble": {
            "method": model.ensemble_.method,
            "oof_score": _finite(model.ensemble_.oof_score),
            "best_single_oof_score": _finite(model.ensemble_.best_single_oof_score),
            "members": [
                {"trial": m.trial, "weight": m.weight, "pipeline": m.pipeline, "params": m.config}
                for m in model.ensemble_.members
            ],
        },
        "feature_groups": json.loads(model.feature_groups_.to_json(orient="records")),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json_atomic(folder / META_FILE, meta)
    return folder


def load_model(folder: str | os.PathLike[str]) -> tuple[AutoClassifier, dict[str, Any]]:
    """Return the fitted model and its ``model.json`` record from a Model folder."""
    folder = Path(folder)
    missing = [name for name in (MODEL_FILE, META_FILE) if not (folder / name).is_file()]
    if missing:
        msg = f"{folder}: not a Model folder (missing {', '.join(missing)})"
        raise ModelFolderError(msg)
    model = joblib.load(folder / MODEL_FILE)
    if not isinstance(model, AutoClassifier):
        msg = f"{folder / MODEL_FILE}: holds a {type(model).__name__}, not an AutoClassifier"
        raise ModelFolderError(msg)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    return model, meta


def predict_table(model: AutoClassifier, meta: dict[str, Any], table: FeatureTable) -> pd.DataFrame:
    """Return one row per lesion: id columns, ``predicted`` and ``proba_<class>`` for every class.

    The features are taken by the names in ``meta["feature_columns"]``; a table lacking any of them is
    refused with their names.
    """
    columns = list(meta["feature_columns"])
    missing = [c for c in columns if c not in table.frame.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        msg = f"The feature table lacks {len(missing)} column(s) the model needs: {shown}"
        raise ValueError(msg)
    proba = model.predict_proba(table.frame[columns].astype(np.float64))
    out = table.frame[list(ID_COLUMNS)].reset_index(drop=True)
    out["predicted"] = model.classes_[np.argmax(proba, axis=1)]
    for index, label in enumerate(model.classes_):
        out[f"proba_{label}"] = proba[:, index]
    return out
