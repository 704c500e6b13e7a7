"""The Dataset folder: read, write, validate; the label taxonomy; patient-grouped splits."""

from __future__ import annotations

from lai.data.dataset import (
    CASE_COLUMNS,
    LESION_COLUMNS,
    Case,
    Dataset,
    DatasetError,
    Lesion,
    image_relpath,
    lesion_mask_relpath,
    liver_mask_relpath,
    write_index,
)
from lai.data.feature_table import FeatureTable, FeatureTableError
from lai.data.taxonomy import DIAGNOSES, DYNAMIC_PHASES, REFERENCE_SEQUENCE, SEQUENCES, is_malignant

__all__ = [
    "CASE_COLUMNS",
    "DIAGNOSES",
    "DYNAMIC_PHASES",
    "LESION_COLUMNS",
    "REFERENCE_SEQUENCE",
    "SEQUENCES",
    "Case",
    "Dataset",
    "DatasetError",
    "FeatureTable",
    "FeatureTableError",
    "Lesion",
    "image_relpath",
    "is_malignant",
    "lesion_mask_relpath",
    "liver_mask_relpath",
    "write_index",
]
