"""Metrics over lesion weights: pROC's AUC on aSAH, scikit-learn's metrics, weights as repeated rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    cohen_kappa_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from lai.validation.metrics import (
    GROUP_METRIC_NAMES,
    brier_score,
    class_metrics,
    classification_metrics,
    npv,
    per_group_metrics,
    ppv,
    sensitivity,
    specificity,
    weighted_auc,
)

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


def test_rates_of_a_hand_counted_binary_confusion_matrix():
    # 10 lesions: TP 3, FN 1, FP 2, TN 4 (positive class 1, predicted when p_1 > 0.5)
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p1 = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.55, 0.1, 0.2, 0.3, 0.4])
    proba = np.column_stack([1 - p1, p1])
    assert float(sensitivity(y, proba)) == pytest.approx(3 / 4)
    assert float(specificity(y, proba)) == pytest.approx(4 / 6)
    assert float(ppv(y, proba)) == pytest.approx(3 / 5)
    assert float(npv(y, proba)) == pytest.approx(4 / 5)


def test_one_vs_rest_rates_equal_scikit_learn_per_class():
    y, proba = random_predictions(300, 4, seed=7)
    predicted = proba.argmax(axis=1)
    np.testing.assert_allclose(sensitivity(y, proba), recall_score(y, predicted, average=None))
    np.testing.assert_allclose(ppv(y, proba), precision_score(y, predicted, average=None))
    np.testing.assert_allclose(
        specificity(y, proba), [recall_score(y != k, predicted != k) for k in range(4)]
    )
    np.testing.assert_allclose(npv(y, proba), [precision_score(y != k, predicted != k) for k in range(4)])


def test_weighted_rates_equal_repeated_rows():
    y, proba = random_predictions(80, 2, seed=8)
    weights = np.random.default_rng(9).integers(0, 3, y.size)
    repeated = np.repeat(np.arange(y.size), weights)
    for rate in (sensitivity, specificity, ppv, npv, brier_score):
        found = rate(y, proba, weights[None, :].astype(float))
        assert found.shape == (1,)
        assert found[0] == pytest.approx(float(rate(y[repeated], proba[repeated])), abs=1e-12)


def test_binary_brier_equals_scikit_learn():
    y, proba = random_predictions(500, 2, seed=10)
    assert float(brier_score(y, proba)) == pytest.approx(brier_score_loss(y, proba[:, 1]), abs=1e-12)


def test_multiclass_brier_is_the_class_mean_of_squared_errors():
    y = np.array([0, 2])
    proba = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    # lesion 1: (0.25 + 0.0625 + 0.0625) / 3 = 0.125; lesion 2: (0.04 + 0.04 + 0.16) / 3 = 0.08
    assert float(brier_score(y, proba)) == pytest.approx((0.125 + 0.08) / 2)
    sklearn_sum_convention = brier_score_loss(y, proba, labels=[0, 1, 2], scale_by_half=False)
    assert float(brier_score(y, proba)) == pytest.approx(sklearn_sum_convention / 3)


def test_per_group_metrics_has_one_row_per_centre_and_a_pooled_row():
    y, proba = random_predictions(400, 2, seed=11)
    labels = np.where(y == 1, "malignant", "benign")
    centres = np.random.default_rng(12).choice(["C1", "C2", "C3"], y.size)
    table = per_group_metrics(labels, proba, ["benign", "malignant"], centres)
    assert table["group"].tolist() == ["C1", "C2", "C3", "all"]
    assert list(table.columns) == ["group", "n", "n_positive", *GROUP_METRIC_NAMES]
    assert table["n"].tolist()[:3] == [int(np.sum(centres == c)) for c in ("C1", "C2", "C3")]
    c2 = centres == "C2"
    row = table.set_index("group").loc["C2"]
    assert row["n_positive"] == int(np.sum(y[c2]))
    assert row["auc"] == pytest.approx(roc_auc_score(y[c2], proba[c2, 1]))
    assert row["sensitivity"] == pytest.approx(recall_score(y[c2], proba[c2].argmax(axis=1)))
    assert row["brier"] == pytest.approx(brier_score_loss(y[c2], proba[c2, 1]))
    assert table.set_index("group").loc["all", "auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))


def test_per_group_metrics_refuses_labels_outside_the_classes():
    with pytest.raises(ValueError, match="not among the classes"):
        per_group_metrics(["a", "z"], np.full((2, 2), 0.5), ["a", "b"], ["C1", "C1"])
