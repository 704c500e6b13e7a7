"""Lesion feature tables made with scikit-learn's ``make_classification``, shared by the model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from lai.data.feature_table import FeatureTable
from lai.data.taxonomy import DIAGNOSES


def synthetic_table(
    n_lesions: int = 400, n_patients: int = 150, n_centres: int = 3, seed: int = 0
) -> FeatureTable:
    """A lesion table: 8 diagnoses from ``make_classification``, patients with 1 to many lesions, centres."""
    X, y = make_classification(
        n_samples=n_lesions,
        n_features=24,
        n_informative=10,
        n_redundant=4,
        n_classes=len(DIAGNOSES),
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, n_patients, n_lesions)
    codes = np.array(list(DIAGNOSES))[y]
    frame = pd.DataFrame(
        {
            "lesion_id": [f"L{i:04d}" for i in range(n_lesions)],
            "case_id": [f"C{p:04d}" for p in patient],
            "patient_id": [f"P{p:04d}" for p in patient],
            "centre": [f"centre-{p % n_centres}" for p in patient],
            "diagnosis": codes,
            "malignant": [DIAGNOSES[c].malignant for c in codes],
        }
    )
    features = pd.DataFrame(X, columns=[f"t2w:original_firstorder_F{j}" for j in range(X.shape[1])])
    return FeatureTable(pd.concat([frame, features], axis=1))
