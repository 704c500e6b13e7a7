"""Metrics the search optimises: explicit small cases and agreement with scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lai.automl.scoring import METRICS, auc_score, score


def two_class(p1: list[float]) -> np.ndarray:
    p = np.asarray(p1)
    return np.c_[1 - p, p]


def test_binary_auc_counts_correctly_ordered_pairs():
    # pairs (negative, positive): (0.1, 0.35) ok, (0.1, 0.8) ok, (0.4, 0.35) wrong, (0.4, 0.8) ok -> 3/4
    assert auc_score(np.array([0, 0, 1, 1]), two_class([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_binary_auc_counts_a_tie_as_one_half():
    assert auc_score(np.array([0, 1]), two_class([0.5, 0.5])) == pytest.approx(0.5)


def test_multiclass_auc_is_the_macro_one_vs_rest_mean_of_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 150)
    proba = rng.dirichlet(np.ones(4), 150)
    proba[:40] = proba[0]  # ties
    assert auc_score(y, proba) == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12)


def test_multiclass_auc_leaves_out_a_class_absent_from_the_fold():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
    # class 0: positives 0.8, 0.6 vs 0.2, 0.5 -> 1.0; class 1: 0.7, 0.4 vs 0.1, 0.3 -> 1.0; class 2 absent
    assert auc_score(y, proba) == pytest.approx(1.0)


def test_auc_of_a_single_class_is_nan():
    assert np.isnan(auc_score(np.array([1, 1]), two_class([0.2, 0.9])))


def test_label_metrics_use_the_most_probable_class():
    y = np.array([0, 0, 1, 1])
    proba = two_class([0.2, 0.7, 0.9, 0.6])  # predicted 0, 1, 1, 1
    assert score("balanced_accuracy", y, proba) == pytest.approx(0.75)
    # F1: class 0 precision 1, recall 1/2 -> 2/3; class 1 precision 2/3, recall 1 -> 4/5
    assert score("f1_macro", y, proba) == pytest.approx((2 / 3 + 4 / 5) / 2)
    # observed agreement 3/4, chance agreement 1/2 * 1/4 + 1/2 * 3/4 = 1/2 -> kappa 1/2
    assert score("kappa", y, proba) == pytest.approx(0.5)
    assert score("lld", y, proba) == pytest.approx(((2 / 3 + 4 / 5) / 2 + 0.5) / 2)


def test_every_metric_is_higher_for_perfect_than_for_reversed_predictions():
    y = np.array([0, 1, 2, 0, 1, 2])
    perfect = np.eye(3)[y] * 0.8 + 0.2 / 3
    reversed_ = np.eye(3)[(y + 1) % 3] * 0.8 + 0.2 / 3
    for metric in METRICS:
        assert score(metric, y, perfect) > score(metric, y, reversed_), metric


def test_an_unknown_metric_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown metric 'accuracy'.*auc, balanced_accuracy"):
        score("accuracy", np.array([0, 1]), two_class([0.2, 0.8]))
