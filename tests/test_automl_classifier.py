"""AutoClassifier: the scikit-learn estimator contract, binary and 8-class lesion tables."""

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


def train_test(table: FeatureTable) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of a patient-wise 70/30 split (patient number modulo 10 below 7 in train)."""
    in_train = table.groups.map(lambda p: int(p[1:]) % 10 < 7).to_numpy()
    return in_train, ~in_train


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_autoclassifier_passes_scikit_learn_estimator_checks():
    results = check_estimator(AutoClassifier(), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []


def test_clone_and_get_set_params_round_trip():
    model = AutoClassifier(random_state=3, C=0.5)
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == {"random_state": 3, "C": 0.5, "max_iter": 5000}
    assert copy.set_params(C=2.0).get_params()["C"] == 2.0
    assert AutoClassifier(**copy.get_params()).get_params() == copy.get_params()


def test_predict_and_predict_proba_refuse_before_fit():
    X = np.zeros((3, 2))
    with pytest.raises(NotFittedError):
        AutoClassifier().predict(X)
    with pytest.raises(NotFittedError):
        AutoClassifier().predict_proba(X)


def test_pickle_round_trip_gives_identical_probabilities():
    table = synthetic_table()
    model = AutoClassifier().fit(table.features, table.target("diagnosis"))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(table.features), model.predict_proba(table.features))


def test_same_seed_gives_same_output():
    table = synthetic_table()
    first = AutoClassifier(random_state=7).fit(table.features, table.target("diagnosis"))
    second = AutoClassifier(random_state=7).fit(table.features, table.target("diagnosis"))
    np.testing.assert_array_equal(first.predict_proba(table.features), second.predict_proba(table.features))


def test_binary_malignancy_is_learned_on_held_out_patients():
    table = synthetic_table()
    train, test = train_test(table)
    y = table.target("malignant").to_numpy()
    model = AutoClassifier().fit(table.features[train], y[train], groups=table.groups[train])
    assert model.classes_.tolist() == [False, True]
    proba = model.predict_proba(table.features[test])
    assert proba.shape == (test.sum(), 2)
    assert roc_auc_score(y[test], proba[:, 1]) > 0.75


def test_eight_class_lesion_type_is_learned_on_held_out_patients():
    table = synthetic_table()
    train, test = train_test(table)
    y = table.target("diagnosis").to_numpy()
    model = AutoClassifier().fit(table.features[train], y[train])
    assert sorted(model.classes_) == sorted(DIAGNOSES)
    proba = model.predict_proba(table.features[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert accuracy_score(y[test], model.predict(table.features[test])) > 3 / len(DIAGNOSES)


def test_dataframe_feature_names_are_kept_and_column_order_does_not_matter():
    table = synthetic_table()
    model = AutoClassifier().fit(table.features, table.target("malignant"))
    assert model.feature_names_in_.tolist() == table.feature_columns
    shuffled = table.features[table.feature_columns[::-1]]
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(table.features))


def test_missing_feature_columns_are_named_in_the_error():
    table = synthetic_table()
    model = AutoClassifier().fit(table.features, table.target("malignant"))
    lacking = table.features.drop(columns=["t2w:original_firstorder_F3", "t2w:original_firstorder_F11"])
    with pytest.raises(ValueError, match=r"2 feature column\(s\).*F3.*F11"):
        model.predict(lacking)


def test_missing_values_and_constant_columns_are_handled():
    table = synthetic_table()
    X = table.features.copy()
    X.iloc[::5, 0] = np.nan
    X["t2w:original_firstorder_Constant"] = 1.0
    X["adc:original_firstorder_Absent"] = np.nan
    with pytest.warns(UserWarning, match="without any observed values"):
        model = AutoClassifier().fit(X, table.target("malignant"))
        proba = model.predict_proba(X)
    assert np.isfinite(proba).all()


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match="only one class"):
        AutoClassifier().fit(np.zeros((4, 2)), ["hcc"] * 4)
