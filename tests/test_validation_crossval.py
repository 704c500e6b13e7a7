"""cross_validate: out-of-fold predictions, no patient leakage, same results in-process and in processes."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lai.data.feature_table import ID_COLUMNS, FeatureTable
from lai.data.taxonomy import DIAGNOSES
from lai.validation import ComBat, cross_validate
from lai.validation.splitters import grouped_stratified_kfold
from synthetic_tables import synthetic_table

FACTORY = functools.partial(clone, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    return synthetic_table()


@pytest.fixture(scope="module")
def diagnosis_result(table):
    return cross_validate(FACTORY, table, "diagnosis", seed=1, n_resamples=500, scheduler="sync")


def test_predictions_are_out_of_fold_with_ids_and_probabilities(table, diagnosis_result):
    predictions = diagnosis_result.predictions
    classes = list(DIAGNOSES)
    assert diagnosis_result.classes == classes
    assert list(predictions.columns) == [
        *ID_COLUMNS,
        "split",
        "n_tests",
        "y_true",
        "predicted",
        *(f"proba_{c}" for c in classes),
    ]
    assert predictions["lesion_id"].tolist() == table.frame["lesion_id"].tolist()
    assert predictions.groupby("patient_id")["split"].nunique().max() == 1
    assert sorted(predictions["split"].unique()) == [f"fold-{k}" for k in range(5)]
    assert (predictions["n_tests"] == 1).all()
    np.testing.assert_allclose(predictions[[f"proba_{c}" for c in classes]].sum(axis=1), 1.0)


def test_metrics_equal_scikit_learn_on_the_pooled_predictions(diagnosis_result):
    predictions = diagnosis_result.predictions
    labels = sorted(diagnosis_result.classes)
    proba = predictions[[f"proba_{c}" for c in labels]].to_numpy()
    expected_auc = roc_auc_score(predictions["y_true"], proba, multi_class="ovr", labels=labels)
    metrics = diagnosis_result.metrics
    assert metrics["auc"].value == pytest.approx(expected_auc, abs=1e-12)
    expected_balanced = balanced_accuracy_score(predictions["y_true"], predictions["predicted"])
    assert metrics["balanced_accuracy"].value == pytest.approx(expected_balanced, abs=1e-12)
    for estimate in metrics.values():
        assert estimate.ci_low <= estimate.value <= estimate.ci_high
    assert set(diagnosis_result.per_centre) == {"centre-0", "centre-1", "centre-2"}
    assert set(diagnosis_result.per_class) == set(DIAGNOSES)
    assert [s["split"] for s in diagnosis_result.per_split] == [f"fold-{k}" for k in range(5)]


def test_result_to_dict_is_json_with_every_metric(diagnosis_result):
    record = json.loads(json.dumps(diagnosis_result.to_dict()))
    assert record["metrics"]["auc"]["value"] == diagnosis_result.metrics["auc"].value
    assert record["classes"] == list(DIAGNOSES)
    assert np.sum(record["confusion"]) == len(diagnosis_result.predictions)
    assert record["n_patients"] == diagnosis_result.predictions["patient_id"].nunique()


def test_patients_with_many_identical_lesions_cannot_leak_between_folds():
    rng = np.random.default_rng(0)
    n_patients, copies = 80, 6
    patient = np.repeat(np.arange(n_patients), copies)
    label = np.repeat(rng.random(n_patients) < 0.5, copies)
    features = np.repeat(rng.normal(size=(n_patients, 5)), copies, axis=0)
    frame = pd.DataFrame(
        {
            "lesion_id": np.arange(patient.size).astype(str),
            "case_id": patient.astype(str),
            "patient_id": patient.astype(str),
            "centre": "A",
            "malignant": label,
        }
    )
    for j in range(5):
        frame[f"t2w:f{j}"] = features[:, j]
    memoriser = functools.partial(KNeighborsClassifier, n_neighbors=1)
    result = cross_validate(memoriser, FeatureTable(frame), "malignant", n_resamples=200, scheduler="sync")
    # Features carry no signal: a lesion's twin in the training folds would give AUC 1.
    assert result.metrics["auc"].value < 0.7


def test_sync_and_process_pool_give_identical_results(table, diagnosis_result):
    pooled = cross_validate(FACTORY, table, "diagnosis", seed=1, n_resamples=500, scheduler="processes")
    pd.testing.assert_frame_equal(pooled.predictions, diagnosis_result.predictions)
    assert pooled.to_dict() == diagnosis_result.to_dict()


def test_cached_folds_are_reused(tmp_path, table):
    first = cross_validate(FACTORY, table, "malignant", n_resamples=200, scheduler="sync", cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("*.pkl"))) == 5
    again = cross_validate(FACTORY, table, "malignant", n_resamples=200, scheduler="sync", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first.predictions, again.predictions)
    assert first.classes == [False, True]


def test_a_table_without_features_is_refused(table):
    ids_only = FeatureTable(table.frame[[*ID_COLUMNS, "malignant"]])
    with pytest.raises(ValueError, match="no feature columns"):
        cross_validate(FACTORY, ids_only, "malignant", scheduler="sync")


def test_harmonised_folds_equal_combat_then_model_fitted_by_hand_on_each_training_fold(table):
    result = cross_validate(
        FACTORY, table, "malignant", seed=3, n_resamples=100, harmonise="combat", scheduler="sync"
    )
    assert "ComBat" in result.harmonisation and result.notes == []
    labels = table.target("malignant").to_numpy()
    X = table.frame[[*table.feature_columns, "centre"]]
    folds = grouped_stratified_kfold(labels, table.groups.astype(str).to_numpy(), n_splits=5, seed=3)
    for k, (train, test) in enumerate(folds):
        combat = ComBat().fit(X.iloc[train])
        model = FACTORY().fit(combat.transform(X.iloc[train]), labels[train])
        expected = model.predict_proba(combat.transform(X.iloc[test]))[:, 1]
        found = result.split_predictions[result.split_predictions["split"] == f"fold-{k}"]
        np.testing.assert_allclose(found["proba_True"].to_numpy(), expected, rtol=1e-12)
