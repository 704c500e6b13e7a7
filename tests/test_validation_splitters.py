"""Patient-grouped, stratified folds."""

from __future__ import annotations

import numpy as np
import pytest

from lai.validation.splitters import grouped_stratified_kfold


def lesions_with_one_prolific_patient(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """60 patients with one lesion each and one patient (metastases) with 25 lesions."""
    rng = np.random.default_rng(seed)
    groups = np.array([f"P{i}" for i in range(60)] + ["P-many"] * 25)
    labels = np.array(list(rng.choice(["hcc", "hem", "cyst"], 60)) + ["met"] * 25)
    return labels, groups


def test_folds_never_share_a_patient():
    labels, groups = lesions_with_one_prolific_patient()
    for train, test in grouped_stratified_kfold(labels, groups, n_splits=5, seed=3):
        assert set(groups[train]).isdisjoint(groups[test])


def test_every_lesion_is_tested_exactly_once():
    labels, groups = lesions_with_one_prolific_patient()
    tested = np.concatenate([test for _, test in grouped_stratified_kfold(labels, groups, n_splits=4)])
    np.testing.assert_array_equal(np.sort(tested), np.arange(labels.size))


def test_classes_are_spread_over_the_folds():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(100), 2)
    labels = np.repeat(rng.random(100) < 0.3, 2)
    for _, test in grouped_stratified_kfold(labels, groups, n_splits=5, seed=0):
        assert 0.15 < labels[test].mean() < 0.45


def test_the_seed_changes_the_folds_and_fixes_them():
    labels, groups = lesions_with_one_prolific_patient()
    first = [test.tolist() for _, test in grouped_stratified_kfold(labels, groups, seed=1)]
    assert first == [test.tolist() for _, test in grouped_stratified_kfold(labels, groups, seed=1)]
    assert first != [test.tolist() for _, test in grouped_stratified_kfold(labels, groups, seed=2)]


def test_fewer_patients_than_folds_is_refused():
    with pytest.raises(ValueError, match="5 patient-grouped folds from 3 patient"):
        grouped_stratified_kfold([0, 1, 0, 1], ["a", "b", "c", "c"], n_splits=5)
