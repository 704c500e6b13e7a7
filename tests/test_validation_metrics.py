"""Metrics over lesion weights: pROC's AUC on aSAH, scikit-learn's metrics, weights as repeated rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from lai.validation.metrics import class_metrics, classification_metrics, weighted_auc

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

PROC_AUC = {"s100b": 0.731368563685637, "wfns": 0.823678861788618}
"""pROC's AUCs on aSAH (stats/EXPECTED.md): controls Good, cases Poor, higher marker means Poor."""


@pytest.fixture(scope="module")
def asah() -> pd.DataFrame:
    return pd.read_csv(SHARED / "stats" / "aSAH.csv")


@pytest.mark.parametrize("marker", sorted(PROC_AUC))
def test_auc_equals_proc_on_asah(asah, marker):
    poor = (asah["outcome"] == "Poor").to_numpy()
    auc = weighted_auc(poor, asah[marker].to_numpy(dtype=float), np.ones((1, len(asah))))
    assert auc[0] == pytest.approx(PROC_AUC[marker], abs=1e-9)


def random_predictions(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and informative but noisy class probabilities."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    proba = rng.dirichlet(np.ones(n_classes), n)
    proba[np.arange(n), y] += rng.uniform(0, 0.5, n)
    return y, proba / proba.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n_classes", [2, 8])
def test_headline_metrics_equal_scikit_learn(n_classes):
    y, proba = random_predictions(500, n_classes, seed=n_classes)
    predicted = proba.argmax(axis=1)
    found = {k: v[0] for k, v in classification_metrics(y, proba, np.ones((1, y.size))).items()}
    auc = roc_auc_score(y, proba[:, 1]) if n_classes == 2 else roc_auc_score(y, proba, multi_class="ovr")
    assert found["auc"] == pytest.approx(auc, abs=1e-12)
    assert found["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, predicted), abs=1e-12)
    assert found["macro_f1"] == pytest.approx(f1_score(y, predicted, average="macro"), abs=1e-12)
    assert found["cohen_kappa"] == pytest.approx(cohen_kappa_score(y, predicted), abs=1e-12)
    assert found["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)


def test_class_metrics_equal_scikit_learn_per_class():
    y, proba = random_predictions(400, 5, seed=1)
    predicted = proba.argmax(axis=1)
    found = {k: v[0] for k, v in class_metrics(y, proba, np.ones((1, y.size))).items()}
    np.testing.assert_allclose(found["sensitivity"], recall_score(y, predicted, average=None))
    np.testing.assert_allclose(found["ppv"], precision_score(y, predicted, average=None))
    np.testing.assert_allclose(found["f1"], f1_score(y, predicted, average=None))
    specificity = [recall_score(y != k, predicted != k) for k in range(5)]
    np.testing.assert_allclose(found["specificity"], specificity)
    np.testing.assert_allclose(found["auc"], [roc_auc_score(y == k, proba[:, k]) for k in range(5)])


def test_integer_weights_equal_repeated_rows():
    y, proba = random_predictions(120, 4, seed=2)
    weights = np.random.default_rng(3).integers(0, 4, y.size)
    repeated = np.repeat(np.arange(y.size), weights)
    found = classification_metrics(y, proba, weights[None, :].astype(float))
    expected = classification_metrics(y[repeated], proba[repeated], np.ones((1, repeated.size)))
    for name in expected:
        assert found[name][0] == pytest.approx(expected[name][0], abs=1e-12)
    assert found["auc"][0] == pytest.approx(roc_auc_score(y[repeated], proba[repeated], multi_class="ovr"))


def test_perfect_classifier_scores_one_and_chance_scores_a_half():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20000)
    perfect = np.eye(2)[y]
    assert classification_metrics(y, perfect, np.ones((1, y.size)))["auc"][0] == 1.0
    assert classification_metrics(y, perfect, np.ones((1, y.size)))["cohen_kappa"][0] == 1.0
    chance = rng.dirichlet(np.ones(2), y.size)
    found = classification_metrics(y, chance, np.ones((1, y.size)))
    assert found["auc"][0] == pytest.approx(0.5, abs=0.015)
    assert found["cohen_kappa"][0] == pytest.approx(0.0, abs=0.03)


def test_auc_is_undefined_without_cases():
    assert np.isnan(weighted_auc(np.zeros(5, dtype=bool), np.arange(5.0), np.ones((1, 5)))[0])
