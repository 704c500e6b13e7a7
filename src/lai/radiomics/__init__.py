"""IBSI-style radiomics per lesion and sequence, named as PyRadiomics names them.

``extract_features`` computes one lesion's features on one image (first order, shape, GLCM, GLRLM,
GLSZM, GLDM, NGTDM on the original image and optional LoG and wavelet images); ``extract_dataset``
runs it over every lesion and sequence of a Dataset (cached, in parallel) and returns a FeatureTable.
One module per feature family; settings and presets in ``settings``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lai.radiomics.extract import (
    FEATURE_NAMES,
    RadiomicsError,
    RadiomicsWarning,
    extract_features,
    feature_names,
)
from lai.radiomics.settings import PRESETS, SettingsError, load_settings, settings_for

if TYPE_CHECKING:
    from lai.radiomics.table import extract_dataset


def __getattr__(name: str) -> Any:
    """Import ``extract_dataset`` on first use: its module brings the Dataset and FeatureTable (pandas),
    which single-image extraction does not need (a worker that only extracts stays ~75 MB smaller)."""
    if name == "extract_dataset":
        from lai.radiomics.table import extract_dataset

        return extract_dataset
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "FEATURE_NAMES",
    "PRESETS",
    "RadiomicsError",
    "RadiomicsWarning",
    "SettingsError",
    "extract_dataset",
    "extract_features",
    "feature_names",
    "load_settings",
    "settings_for",
]
