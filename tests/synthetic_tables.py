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


def sequence_table(
    n_lesions: int = 200,
    n_patients: int = 80,
    informative: str = "portal",
    seed: int = 0,
) -> FeatureTable:
    """A benign/malignant lesion table whose features span sequences and families, signal in one sequence.

    Sequences ``t2w``, ``portal`` and ``adc``, families ``firstorder`` and ``glcm`` (8 columns each), plus
    3 ``kinetics:`` columns: only the ``informative`` sequence's columns carry the label (a shifted mean
    for malignant lesions); every other column is noise. Patients have 1 to several lesions.
    """
    rng = np.random.default_rng(seed)
    patient = np.sort(rng.integers(0, n_patients, n_lesions))
    malignant = rng.random(n_lesions) < 0.4
    columns: dict[str, np.ndarray] = {}
    for sequence in ("t2w", "portal", "adc"):
        for family in ("firstorder", "glcm"):
            for j in range(8):
                values = rng.normal(size=n_lesions)
                if sequence == informative:
                    values = values + 1.2 * malignant
                columns[f"{sequence}:original_{family}_F{j}"] = values
    for j in range(3):
        columns[f"kinetics:ratio_{j}"] = rng.normal(size=n_lesions)
    frame = pd.DataFrame(
        {
            "lesion_id": [f"L{i:04d}" for i in range(n_lesions)],
            "case_id": [f"C{p:04d}" for p in patient],
            "patient_id": [f"P{p:04d}" for p in patient],
            "centre": [f"centre-{p % 2}" for p in patient],
            "diagnosis": np.where(malignant, "hcc", "hem"),
            "malignant": malignant,
        }
    )
    return FeatureTable(pd.concat([frame, pd.DataFrame(columns)], axis=1))


def one_big_patient_table(n_lesions: int = 120, big_patient_lesions: int = 40, seed: int = 0) -> FeatureTable:
    """A binary table where one patient has ``big_patient_lesions`` lesions and the others one or two.

    The big patient's lesions are near-duplicates of each other (one tumour seen many times), so a split
    that put some of them on each side would look far better than it is.
    """
    rng = np.random.default_rng(seed)
    others = n_lesions - big_patient_lesions
    patient = np.concatenate([np.zeros(big_patient_lesions, dtype=int), 1 + np.arange(others) // 2])
    malignant = np.concatenate([np.ones(big_patient_lesions, dtype=bool), rng.random(others) < 0.5])
    X = rng.normal(size=(n_lesions, 6)) + 0.8 * malignant[:, None]
    X[:big_patient_lesions] = X[0] + 0.01 * rng.normal(size=(big_patient_lesions, 6))
    frame = pd.DataFrame(
        {
            "lesion_id": [f"L{i:04d}" for i in range(n_lesions)],
            "case_id": [f"C{p:04d}" for p in patient],
            "patient_id": [f"P{p:04d}" for p in patient],
            "centre": "centre-0",
            "diagnosis": np.where(malignant, "met", "cyst"),
            "malignant": malignant,
        }
    )
    features = pd.DataFrame(X, columns=[f"t2w:original_firstorder_F{j}" for j in range(6)])
    return FeatureTable(pd.concat([frame, features], axis=1))


def small_class_table(n_per_class: int = 30, small: int = 5, seed: int = 0) -> FeatureTable:
    """A 4-class lesion-type table (hcc, hem, cyst, fnh) in which ``fnh`` has only ``small`` lesions.

    Every lesion is its own patient; classes differ by their mean on 5 of 10 features.
    """
    rng = np.random.default_rng(seed)
    codes = np.array(["hcc"] * n_per_class + ["hem"] * n_per_class + ["cyst"] * n_per_class + ["fnh"] * small)
    centre_of = {"hcc": 0, "hem": 1, "cyst": 2, "fnh": 3}
    X = rng.normal(size=(codes.size, 10))
    for code, k in centre_of.items():
        X[codes == code, k] += 2.0
    n = codes.size
    frame = pd.DataFrame(
        {
            "lesion_id": [f"L{i:04d}" for i in range(n)],
            "case_id": [f"C{i:04d}" for i in range(n)],
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "centre": "centre-0",
            "diagnosis": codes,
            "malignant": [DIAGNOSES[c].malignant for c in codes],
        }
    )
    features = pd.DataFrame(X, columns=[f"adc:original_firstorder_F{j}" for j in range(10)])
    return FeatureTable(pd.concat([frame, features], axis=1))
