"""The search: patient grouping, reproducibility, budget, pruning, small classes, presets, ensembles."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from lai.automl import AutoClassifier
from lai.automl.feature_groups import feature_groups
from lai.automl.scoring import score
from lai.automl.search import MIN_RUNG_TRIALS, RUNG_FOLDS, SearchData, evaluate_trial, inner_splits
from lai.automl.space import SpaceFacts, build_head, build_prefix, selected_columns
from synthetic_tables import one_big_patient_table, sequence_table, small_class_table, synthetic_table


def patients_on_both_sides(groups: np.ndarray, splits: list) -> set[str]:
    shared: set[str] = set()
    for train, test in splits:
        shared |= set(groups[train]) & set(groups[test])
    return shared


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("folds", [2, 3, 5])
def test_inner_splits_never_put_a_patient_on_both_sides(seed, folds):
    table = one_big_patient_table()
    groups = table.groups.to_numpy()
    y = table.target("malignant").to_numpy().astype(int)
    splits, note = inner_splits(y, groups, folds, seed)
    assert len(splits) == folds and note == ""
    assert patients_on_both_sides(groups, splits) == set()
    rows = np.sort(np.concatenate([test for _, test in splits]))
    np.testing.assert_array_equal(rows, np.arange(len(y)))  # every lesion validated exactly once


def test_the_search_scores_every_trial_on_patient_grouped_folds():
    table = one_big_patient_table()
    model = AutoClassifier(budget=None, max_trials=2, inner_folds=4).fit(table, "malignant")
    groups = table.groups.to_numpy()
    assert len(model.inner_splits_) == 4
    assert patients_on_both_sides(groups, model.inner_splits_) == set()
    big = np.flatnonzero(groups == "P0000")
    assert any(set(big) <= set(test) for _, test in model.inner_splits_)
    assert (model.search_["fold_scores"].map(len) <= 4).all()


def test_folds_are_reduced_for_a_class_with_few_patients_and_the_reason_is_given():
    y = np.repeat([0, 1, 2], [20, 20, 3])
    groups = np.arange(43).astype(str)
    splits, note = inner_splits(y, groups, 5, seed=0)
    assert len(splits) == 3
    assert "3 folds instead of 5" in note and "3 patient(s)" in note
    assert all(set(y[train]) == {0, 1, 2} for train, _ in splits)


def test_a_class_of_a_single_patient_gives_no_split_and_says_why():
    y = np.array([0] * 10 + [1] * 10 + [2] * 2)
    groups = np.array([str(i) for i in range(20)] + ["same", "same"])
    splits, note = inner_splits(y, groups, 5, seed=0)
    assert splits == [] and "fitted without a search" in note


@pytest.mark.slow
def test_multiclass_with_a_class_of_five_lesions_is_searched_and_predicted():
    table = small_class_table(small=5)
    model = AutoClassifier(budget=None, max_trials=3, random_state=1).fit(table, "diagnosis")
    assert sorted(model.classes_) == ["cyst", "fnh", "hcc", "hem"]
    assert model.cv_note_ == ""
    assert (model.search_["state"] == "complete").all()
    proba = model.predict_proba(table.features)
    assert proba.shape == (len(table.frame), 4)
    fnh = table.frame["diagnosis"].to_numpy() == "fnh"
    column = list(model.classes_).index("fnh")
    assert proba[fnh, column].mean() > proba[~fnh, column].mean() + 0.3


def test_a_class_of_three_lesions_gets_fewer_folds_with_a_warning():
    table = small_class_table(small=3)
    with pytest.warns(UserWarning, match="3 folds instead of 5"):
        model = AutoClassifier(budget=None, max_trials=3).fit(table, "diagnosis")
    assert len(model.inner_splits_) == 3 and "3 folds" in model.cv_note_


def comparable(search: pd.DataFrame) -> pd.DataFrame:
    return search.drop(columns=["duration"])


@pytest.mark.slow
def test_the_same_seed_gives_the_same_search_ensemble_and_predictions():
    table = synthetic_table(n_lesions=100, n_patients=50)
    y = table.target("malignant")
    first = AutoClassifier(budget=None, max_trials=6, random_state=3).fit(
        table.features, y, groups=table.groups
    )
    second = AutoClassifier(budget=None, max_trials=6, random_state=3).fit(
        table.features, y, groups=table.groups
    )
    pd.testing.assert_frame_equal(comparable(first.search_), comparable(second.search_))
    pd.testing.assert_frame_equal(first.ensemble_.to_frame(), second.ensemble_.to_frame())
    np.testing.assert_array_equal(first.predict_proba(table.features), second.predict_proba(table.features))
    other = AutoClassifier(budget=None, max_trials=6, random_state=4).fit(
        table.features, y, groups=table.groups
    )
    assert other.search_["params"].tolist() != first.search_["params"].tolist()


@pytest.mark.slow
def test_the_search_honours_its_time_budget_within_ten_percent():
    table = synthetic_table(n_lesions=300, n_patients=120)
    budget = 8.0
    start = time.perf_counter()
    model = AutoClassifier(budget=budget, random_state=0).fit(table, "diagnosis")
    elapsed = time.perf_counter() - start
    assert elapsed <= 1.1 * budget
    assert elapsed >= 0.5 * budget  # the budget is used, not abandoned
    assert len(model.search_) >= 3


@pytest.mark.slow
def test_successive_halving_stops_weak_trials_at_the_rungs():
    table = synthetic_table(n_lesions=120, n_patients=60)
    model = AutoClassifier(budget=None, max_trials=10, random_state=0).fit(table, "malignant")
    search = model.search_
    pruned = search[search["state"] == "pruned"]
    assert len(pruned) > 0
    assert set(pruned["fold_scores"].map(len)) <= set(RUNG_FOLDS)
    assert pruned["trial"].min() >= MIN_RUNG_TRIALS
    complete = search[search["state"] == "complete"]
    assert (complete["fold_scores"].map(len) == 5).all()
    np.testing.assert_allclose(complete["score"], complete["fold_scores"].map(np.mean))


def test_the_default_preset_tries_a_standardised_logistic_regression_first():
    table = synthetic_table(n_lesions=120, n_patients=60)
    model = AutoClassifier(budget=None, max_trials=2).fit(table, "malignant")
    first = json.loads(model.search_.loc[0, "params"])
    assert (first["classifier"], first["lr_penalty"], first["scaler"]) == (
        "logistic_regression",
        "l2",
        "standard",
    )


def cross_validated_proba(config: dict, table, target: str, splits: list) -> np.ndarray:
    """Out-of-fold probabilities of one pipeline config, built here from the space's parts."""
    X = table.features.to_numpy()
    classes, y = np.unique(table.target(target).to_numpy(), return_inverse=True)
    groups = feature_groups(table.feature_columns)
    oof = np.zeros((len(y), classes.size))
    for train, test in splits:
        prefix = build_prefix(config, len(train))
        head = build_head(config, selected_columns(config, groups), y[train], random_state=0)
        model = Pipeline([("prefix", prefix), ("head", head)]).fit(X[train], y[train])
        oof[np.ix_(test, model.classes_)] = model.predict_proba(X[test])
    return oof


@pytest.mark.slow
def test_the_ensemble_scores_at_least_its_best_member_out_of_fold():
    table = sequence_table(n_lesions=120, n_patients=60)
    model = AutoClassifier(budget=None, max_trials=6, random_state=0).fit(table, "malignant")
    y = table.target("malignant").to_numpy().astype(int)
    members = model.ensemble_.members
    member_oof = [cross_validated_proba(m.config, table, "malignant", model.inner_splits_) for m in members]
    blended = sum(m.weight * p for m, p in zip(members, member_oof, strict=True))
    assert score("auc", y, blended) == pytest.approx(model.ensemble_.oof_score, abs=1e-9)
    complete = model.search_[model.search_["state"] == "complete"]
    best = json.loads(complete.loc[complete["score"].idxmax(), "params"])
    best_oof = score("auc", y, cross_validated_proba(best, table, "malignant", model.inner_splits_))
    assert model.ensemble_.oof_score >= best_oof - 1e-12


@pytest.mark.slow
def test_the_worc_preset_samples_at_random_and_averages_the_top_n():
    table = synthetic_table(n_lesions=120, n_patients=60)
    model = AutoClassifier(budget=None, max_trials=8, preset="worc", ensemble_size=3).fit(table, "malignant")
    assert model.ensemble_.method == "top_n_mean"
    assert "pruned" not in set(model.search_["state"])
    complete = model.search_[model.search_["state"] == "complete"].sort_values(
        ["score", "trial"], ascending=[False, True]
    )
    assert [m.trial for m in model.ensemble_.members] == complete["trial"].head(3).tolist()
    np.testing.assert_allclose([m.weight for m in model.ensemble_.members], [1 / 3] * 3)


@pytest.mark.slow
def test_feature_group_summary_shows_the_informative_sequence():
    table = sequence_table(informative="portal")
    model = AutoClassifier(budget=None, max_trials=16, random_state=0).fit(table, "malignant")
    groups = model.feature_groups_.set_index(["dimension", "group"])
    assert {"portal", "t2w", "adc"} <= set(groups.loc["sequence"].index)
    portal = groups.loc[("sequence", "portal")]
    assert portal["trials_off"] > 0
    assert portal["mean_score_on"] > portal["mean_score_off"] + 0.1
    assert portal["ensemble_weight"] == pytest.approx(1.0)


@pytest.mark.slow
def test_parallel_trials_through_processes_are_reproducible():
    table = synthetic_table(n_lesions=120, n_patients=60)
    settings = {"budget": None, "max_trials": 6, "n_jobs": 2, "scheduler": "processes", "random_state": 2}
    first = AutoClassifier(**settings).fit(table, "malignant")
    second = AutoClassifier(**settings).fit(table, "malignant")
    assert len(first.search_) == 6
    pd.testing.assert_frame_equal(comparable(first.search_), comparable(second.search_))
    np.testing.assert_array_equal(first.predict_proba(table.features), second.predict_proba(table.features))


def test_in_fold_calibration_gives_probabilities():
    table = synthetic_table(n_lesions=120, n_patients=60)
    model = AutoClassifier(budget=None, max_trials=2, calibrate=True).fit(table, "malignant")
    proba = model.predict_proba(table.features)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert type(model.ensemble_.members[0].model[-1]).__name__ == "CalibratedClassifierCV"


def search_data(table, target: str) -> SearchData:
    X = table.features.to_numpy()
    classes, y = np.unique(table.target(target).to_numpy(), return_inverse=True)
    groups = table.groups.to_numpy()
    splits, _ = inner_splits(y, groups, 3, seed=0)
    facts = SpaceFacts(
        n_samples=len(y),
        n_features=X.shape[1],
        n_classes=classes.size,
        smallest_class=int(np.bincount(y).min()),
        has_missing=False,
        groups=feature_groups(table.feature_columns),
    )
    return SearchData(X, y, groups, classes.size, tuple(splits), facts, "auc", False, 0)


def test_a_pipeline_that_cannot_fit_is_a_failed_trial_with_its_error():
    data = search_data(sequence_table(n_lesions=60, n_patients=30), "malignant")
    config = {"imputer": "median", "scaler": "standard", "filter": "none", "resampler": "none"}
    result = evaluate_trial(data, 7, {**config, "classifier": "perceptron"}, rungs=None, deadline=None)
    assert result.state == "failed" and "Unknown classifier 'perceptron'" in result.error
    assert result.oof is None and np.isnan(result.score)


def test_switching_off_every_sequence_leaves_no_features():
    data = search_data(sequence_table(n_lesions=60, n_patients=30), "malignant")
    off = {f"sequence:{name}": False for name in data.facts.groups.sequence}
    config = {"imputer": "median", "scaler": "standard", "filter": "none", "resampler": "none", **off}
    result = evaluate_trial(data, 0, {**config, "classifier": "lda"}, rungs=None, deadline=None)
    assert result.state == "no features" and result.fold_scores == []
