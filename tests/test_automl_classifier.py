"""AutoClassifier: the scikit-learn estimator contract, FeatureTable input, parameters, binary and 8 classes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.utils.estimator_checks import check_estimator

from lai.automl import AutoClassifier
from lai.data.feature_table import FeatureTable
from lai.data.taxonomy import DIAGNOSES
from synthetic_tables import synthetic_table

QUICK = {"budget": None, "max_trials": 2}
"""Two trials (the two default logistic regressions): enough for the contract, fast."""


def train_test(table: FeatureTable) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of a patient-wise 70/30 split (patient number modulo 10 below 7 in train)."""
    in_train = table.groups.map(lambda p: int(p[1:]) % 10 < 7).to_numpy()
    return in_train, ~in_train


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_autoclassifier_passes_scikit_learn_estimator_checks():
    results = check_estimator(AutoClassifier(**QUICK, inner_folds=3), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []


def test_init_stores_every_argument_as_given_and_clone_keeps_them():
    params = {
        "metric": "lld",
        "budget": 12.5,
        "max_trials": 7,
        "preset": "worc",
        "inner_folds": 4,
        "ensemble_size": 20,
        "calibrate": True,
        "allowed_features": ["t2w:original_firstorder_F1"],
        "n_jobs": 2,
        "scheduler": "sync",
        "random_state": 3,
        "progress": True,
    }
    model = AutoClassifier(**params)
    assert model.get_params() == params
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    assert copy.set_params(metric="kappa").get_params()["metric"] == "kappa"


def test_defaults_are_the_documented_ones():
    assert AutoClassifier().get_params() == {
        "metric": "auc",
        "budget": 60.0,
        "max_trials": None,
        "preset": "default",
        "inner_folds": 5,
        "ensemble_size": 50,
        "calibrate": False,
        "allowed_features": None,
        "n_jobs": 1,
        "scheduler": None,
        "random_state": 0,
        "progress": False,
    }


def test_predict_and_predict_proba_refuse_before_fit():
    X = np.zeros((3, 2))
    with pytest.raises(NotFittedError):
        AutoClassifier().predict(X)
    with pytest.raises(NotFittedError):
        AutoClassifier().predict_proba(X)


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    return synthetic_table(n_lesions=300, n_patients=120)


@pytest.fixture(scope="module")
def malignancy_model(table) -> AutoClassifier:
    return AutoClassifier(**QUICK).fit(table.features, table.target("malignant"), groups=table.groups)


def test_pickle_round_trip_gives_identical_probabilities(table, malignancy_model):
    restored = pickle.loads(pickle.dumps(malignancy_model))
    np.testing.assert_array_equal(
        restored.predict_proba(table.features), malignancy_model.predict_proba(table.features)
    )


def test_a_feature_table_is_accepted_with_the_target_by_name(table, malignancy_model):
    from_table = AutoClassifier(**QUICK).fit(table, "malignant")
    np.testing.assert_array_equal(
        from_table.predict_proba(table), malignancy_model.predict_proba(table.features)
    )
    assert from_table.feature_names_in_.tolist() == table.feature_columns


def test_binary_malignancy_is_learned_on_held_out_patients(table):
    train, test = train_test(table)
    y = table.target("malignant").to_numpy()
    model = AutoClassifier(**QUICK).fit(table.features[train], y[train], groups=table.groups[train])
    assert model.classes_.tolist() == [False, True]
    proba = model.predict_proba(table.features[test])
    assert proba.shape == (test.sum(), 2)
    assert roc_auc_score(y[test], proba[:, 1]) > 0.75


def test_eight_class_lesion_type_is_learned_on_held_out_patients(table):
    train, test = train_test(table)
    y = table.target("diagnosis").to_numpy()
    model = AutoClassifier(**QUICK).fit(table.features[train], y[train], groups=table.groups[train])
    assert sorted(model.classes_) == sorted(DIAGNOSES)
    proba = model.predict_proba(table.features[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert accuracy_score(y[test], model.predict(table.features[test])) > 3 / len(DIAGNOSES)


def test_column_order_does_not_matter_at_prediction(table, malignancy_model):
    shuffled = table.features[table.feature_columns[::-1]]
    np.testing.assert_array_equal(
        malignancy_model.predict_proba(shuffled), malignancy_model.predict_proba(table.features)
    )


def test_missing_feature_columns_are_named_in_the_error(table, malignancy_model):
    lacking = table.features.drop(columns=["t2w:original_firstorder_F3", "t2w:original_firstorder_F11"])
    with pytest.raises(ValueError, match=r"2 feature column\(s\).*F3.*F11"):
        malignancy_model.predict(lacking)


def test_allowed_features_restrict_what_the_model_sees_and_needs(table):
    allowed = ["t2w:original_firstorder_F0", "t2w:original_firstorder_F5"]
    model = AutoClassifier(**QUICK, allowed_features=allowed).fit(table, "malignant")
    assert model.feature_names_in_.tolist() == allowed
    assert model.predict_proba(table.features[allowed]).shape == (len(table.frame), 2)


def test_allowed_features_naming_an_absent_column_is_refused(table):
    with pytest.raises(ValueError, match=r"1 column.*t2w:original_firstorder_Nope"):
        AutoClassifier(**QUICK, allowed_features=["t2w:original_firstorder_Nope"]).fit(table, "malignant")


def test_missing_values_and_constant_columns_are_handled(table):
    X = table.features.copy()
    X.iloc[::5, 0] = np.nan
    X["t2w:original_firstorder_Constant"] = 1.0
    X["adc:original_firstorder_Absent"] = np.nan
    model = AutoClassifier(**QUICK).fit(X, table.target("malignant"), groups=table.groups)
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all()
    assert model.search_["state"].eq("complete").all()


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match="only one class"):
        AutoClassifier(**QUICK).fit(np.zeros((4, 2)), ["hcc"] * 4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "accuracy"}, "Unknown metric 'accuracy'"),
        ({"preset": "fast"}, "Unknown preset 'fast'"),
        ({"budget": None, "max_trials": None}, "needs a time budget or max_trials"),
        ({"budget": -1.0}, "budget must be a positive"),
        ({"max_trials": 0}, "max_trials must be an integer of at least 1"),
        ({"inner_folds": 1}, "inner_folds must be an integer of at least 2"),
        ({"n_jobs": 0}, "n_jobs must be a positive integer"),
    ],
)
def test_invalid_parameters_are_refused_at_fit_with_their_name(params, message):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match=message):
        AutoClassifier(**params).fit(X, np.arange(20) % 2)


def test_groups_of_the_wrong_length_are_refused(table):
    with pytest.raises(ValueError, match="groups has 3 value"):
        AutoClassifier(**QUICK).fit(table.features, table.target("malignant"), groups=["a", "b", "c"])
