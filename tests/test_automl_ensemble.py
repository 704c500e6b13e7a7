"""Ensembles: greedy selection with replacement (Caruana et al., 2004) and WORC's top-N mean."""

from __future__ import annotations

import numpy as np
import pytest

from lai.automl.ensemble import caruana_weights, top_n_weights
from lai.automl.scoring import score


def two_class(p1: np.ndarray) -> np.ndarray:
    return np.c_[1 - p1, p1]


def test_two_complementary_models_beat_either_alone():
    # A ranks the first half perfectly and is noise on the second; B the reverse
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    a = two_class(np.array([0.2, 0.8, 0.1, 0.9, 0.5, 0.5, 0.5, 0.5]))
    b = two_class(np.array([0.5, 0.5, 0.5, 0.5, 0.2, 0.8, 0.1, 0.9]))
    weights, best, history = caruana_weights([a, b], y, "auc", size=10)
    # each alone: 14 of 16 pairs ordered (the 0.5 ties count one half)
    assert score("auc", y, a) == pytest.approx(0.875) and score("auc", y, b) == pytest.approx(0.875)
    assert best == pytest.approx(1.0)
    np.testing.assert_allclose(weights, [0.5, 0.5])
    assert history[0] == pytest.approx(0.875)


def test_a_useless_candidate_gets_no_weight():
    y = np.array([0, 0, 1, 1, 0, 1])
    good = two_class(np.array([0.1, 0.3, 0.7, 0.9, 0.2, 0.8]))
    bad = two_class(np.array([0.9, 0.7, 0.3, 0.1, 0.8, 0.2]))
    weights, best, _ = caruana_weights([bad, good], y, "auc", size=5)
    np.testing.assert_allclose(weights, [0.0, 1.0])
    assert best == pytest.approx(1.0)


@pytest.mark.parametrize("metric", ["auc", "balanced_accuracy", "lld"])
def test_the_ensemble_scores_at_least_its_best_single_candidate(metric):
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 90)
    candidates = [rng.dirichlet(np.ones(3), 90) * 0.5 + 0.5 * np.eye(3)[y] * rng.random() for _ in range(8)]
    candidates = [c / c.sum(axis=1, keepdims=True) for c in candidates]
    weights, best, _ = caruana_weights(candidates, y, metric, size=20)
    blended = sum(w * c for w, c in zip(weights, candidates, strict=True))
    assert best == pytest.approx(score(metric, y, blended))
    assert best >= max(score(metric, y, c) for c in candidates)
    assert weights.sum() == pytest.approx(1.0)


def test_top_n_mean_weighs_the_n_best_equally_ties_to_the_earlier():
    np.testing.assert_allclose(top_n_weights([0.7, 0.9, 0.8, 0.9], 2), [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(top_n_weights([0.7, 0.9], 5), [0.5, 0.5])
