"""The FeatureTable: one row per lesion, id and label columns, then one column per feature.

Feature columns are named ``<sequence>:<filter>_<family>_<Feature>`` in PyRadiomics' spelling
(``portal:original_firstorder_Mean``), or carry a ``kinetics:`` / ``context:`` prefix for the liver-specific
ones. The Parquet file's metadata records the extraction parameters, their hash and LAI's version.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lai import __version__
from lai.files import atomic_path

ID_COLUMNS: tuple[str, ...] = ("lesion_id", "case_id", "patient_id", "centre")
LABEL_COLUMNS: tuple[str, ...] = ("diagnosis", "malignant")
_META_KEY = b"lai"


class FeatureTableError(ValueError):
    """A feature table that cannot be read or used; the message names the file and the problem."""


def is_feature_column(name: str) -> bool:
    """Return whether a column name is a feature (``<prefix>:<name>``) rather than an id or label."""
    return ":" in name


@dataclass
class FeatureTable:
    """Lesion-level features with their ids, labels and provenance.

    Examples
    --------
    >>> table = FeatureTable.read("features.parquet")   # doctest: +SKIP
    >>> X = table.features                               # doctest: +SKIP
    >>> y = table.frame["diagnosis"]                     # doctest: +SKIP
    """

    frame: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in ID_COLUMNS if c not in self.frame.columns]
        if missing:
            msg = f"FeatureTable lacks id column(s) {', '.join(missing)}"
            raise FeatureTableError(msg)

    @property
    def feature_columns(self) -> list[str]:
        """Names of the feature columns, in table order."""
        return [c for c in self.frame.columns if is_feature_column(c)]

    @property
    def features(self) -> pd.DataFrame:
        """The feature columns only, as float64."""
        return self.frame[self.feature_columns].astype("float64")

    @property
    def groups(self) -> pd.Series:
        """Patient ids, the grouping every split must respect."""
        return self.frame["patient_id"]

    def target(self, name: str) -> pd.Series:
        """Return a label column (``diagnosis``, ``malignant``, ...), refusing rows with no label."""
        if name not in self.frame.columns:
            msg = f"FeatureTable has no target column {name!r}; columns with labels: {list(LABEL_COLUMNS)}"
            raise FeatureTableError(msg)
        column = self.frame[name]
        if column.isna().any():
            msg = f"Target {name!r} is missing for {int(column.isna().sum())} lesion(s)"
            raise FeatureTableError(msg)
        return column

    # --- Files ---

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write Parquet with the metadata (parameters, their hash, LAI version) in the schema."""
        meta = {"lai_version": __version__, **self.metadata}
        arrow = pa.Table.from_pandas(self.frame, preserve_index=False)
        schema_meta = dict(arrow.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(meta, sort_keys=True, default=str).encode("utf-8")
        arrow = arrow.replace_schema_metadata(schema_meta)
        with atomic_path(path) as tmp:
            pq.write_table(arrow, tmp)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> FeatureTable:
        """Read a FeatureTable written by ``write`` (or any Parquet/CSV with the id columns)."""
        path = Path(path)
        if not path.is_file():
            msg = f"{path}: no such feature table"
            raise FeatureTableError(msg)
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype={c: str for c in ID_COLUMNS})
            return cls(frame, {})
        try:
            arrow = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as error:
            msg = f"{path}: not a readable Parquet file ({error})"
            raise FeatureTableError(msg) from error
        raw = (arrow.schema.metadata or {}).get(_META_KEY)
        meta = json.loads(raw) if raw else {}
        try:
            return cls(arrow.to_pandas(), meta)
        except FeatureTableError as error:
            msg = f"{path}: {error}"
            raise FeatureTableError(msg) from error
