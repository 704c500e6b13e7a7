"""IBSI-style radiomics per lesion and sequence, named as PyRadiomics names them.

``extract_features`` computes one lesion's features on one image (first order, shape, GLCM, GLRLM,
GLSZM, GLDM, NGTDM on the original image and optional LoG and wavelet images); ``extract_dataset``
runs it over every lesion and sequence of a Dataset (cached, in parallel) and returns a FeatureTable.
One module per feature family; settings and presets in ``settings``.
"""

from __future__ import annotations

from lai.radiomics.extract import (
    FEATURE_NAMES,
    RadiomicsError,
    RadiomicsWarning,
    extract_features,
    feature_names,
)
from lai.radiomics.settings import PRESETS, SettingsError, load_settings, settings_for
from lai.radiomics.table import extract_dataset

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
