"""Validation schemes: who is trained on what, every out-of-split prediction kept, the right intervals."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lai.data.feature_table import FeatureTable
from lai.validation.schemes import (
    kfold_splits,
    leave_centre_out_splits,
    repeated_splits,
    temporal_split,
    validate,
)
from synthetic_tables import synthetic_table

LOGISTIC = functools.partial(clone, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))


class SeenSpy(ClassifierMixin, BaseEstimator):
    """Predicts class 1 with probability 1 exactly for test rows whose ``column`` value it saw in training.

    The feature column holds a numeric code of the patient or centre, so any test row predicted 1 proves
    that its patient (or centre) was among the training rows.
    """

    def __init__(self, column: str = "t2w:patient_code"):
        self.column = column

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.seen_ = set(X[self.column].tolist())
        return self

    def predict_proba(self, X):
        seen = X[self.column].isin(self.seen_).to_numpy(dtype=np.float64)
        return np.column_stack([1.0 - seen, seen] + [np.zeros(len(X))] * (len(self.classes_) - 2))


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    base = synthetic_table(n_lesions=240, n_patients=90, seed=2)
    frame = base.frame.copy()
    frame["t2w:patient_code"] = frame["patient_id"].str[1:].astype(float)
    frame["t2w:centre_code"] = frame["centre"].str[-1].astype(float)
    rng = np.random.default_rng(5)
    first_visit = {
        p: pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(d))
        for p, d in zip(
            frame["patient_id"].unique(), rng.integers(0, 3000, frame["patient_id"].nunique()), strict=True
        )
    }
    frame["study_date"] = [
        first_visit[p] + pd.Timedelta(days=int(d))
        for p, d in zip(frame["patient_id"], rng.choice([0, 0, 0, 400], len(frame)), strict=True)
    ]
    return FeatureTable(frame)


def test_leave_centre_out_never_trains_on_the_held_out_centre(table):
    splits = leave_centre_out_splits(table.frame["centre"])
    centres = table.frame["centre"].to_numpy()
    assert [s.name for s in splits] == ["centre-centre-0", "centre-centre-1", "centre-centre-2"]
    for split in splits:
        held_out = set(centres[split.test])
        assert len(held_out) == 1
        assert held_out.isdisjoint(centres[split.train])
        assert len(split.train) + len(split.test) == len(centres)
    spy = functools.partial(SeenSpy, "t2w:centre_code")
    result = validate("leave-centre-out", spy, table, "malignant", n_resamples=200, scheduler="sync")
    # The spy predicts malignant exactly when it trained on the test lesion's centre: never.
    assert (result.split_predictions["proba_True"] == 0.0).all()
    assert len(result.split_predictions) == len(table.frame)
    assert [s["held_out"] for s in result.per_split] == [
        "centre centre-0",
        "centre centre-1",
        "centre centre-2",
    ]


def test_a_single_centre_table_is_refused_for_leave_centre_out():
    with pytest.raises(ValueError, match="at least 2 centres"):
        leave_centre_out_splits(["A"] * 10)


@pytest.mark.parametrize("scheme", ["repeated-split", "kfold"])
def test_internal_schemes_keep_every_prediction_and_never_test_a_training_patient(table, scheme):
    spy = functools.partial(SeenSpy, "t2w:patient_code")
    result = validate(scheme, spy, table, "malignant", n_repeats=4, n_resamples=200, scheduler="sync")
    long = result.split_predictions
    assert (long["proba_True"] == 0.0).all()
    splits = long["split"].unique()
    assert len(splits) == (4 if scheme == "repeated-split" else 20)
    # every split's test lesions are whole patients: a patient's lesions are all tested together
    lesions_per_patient = table.frame.groupby("patient_id").size()
    tested = long.groupby(["split", "patient_id"]).size()
    assert (tested.to_numpy() == lesions_per_patient.loc[tested.index.get_level_values(1)].to_numpy()).all()
    assert long.groupby("split")["lesion_id"].apply(lambda s: s.is_unique).all()
    assert sum(s["n_test"] for s in result.per_split) == len(long)
    pooled = result.predictions
    assert (pooled["n_tests"] == long.groupby("lesion_id").size().loc[pooled["lesion_id"]].to_numpy()).all()


def test_repeated_split_tests_about_a_fifth_with_the_class_balance(table):
    labels = table.target("malignant").to_numpy()
    for split in repeated_splits(labels, table.groups.to_numpy(), n_repeats=5, seed=3):
        assert 0.15 < len(split.test) / len(labels) < 0.25
        assert abs(labels[split.test].mean() - labels.mean()) < 0.1
        assert set(table.groups.iloc[split.test]).isdisjoint(table.groups.iloc[split.train])


def test_kfold_repeats_test_each_lesion_once_per_round(table):
    labels = table.target("diagnosis").to_numpy()
    splits = kfold_splits(labels, table.groups.to_numpy(), n_splits=5, n_repeats=3, seed=1)
    for round_ in range(3):
        tested = np.concatenate([s.test for s in splits[5 * round_ : 5 * round_ + 5]])
        assert sorted(tested.tolist()) == list(range(len(labels)))
    assert [s.name for s in splits[:2]] == ["r0-fold-0", "r0-fold-1"]


def test_repeated_split_headline_uses_the_corrected_t_interval_inside_0_1(table):
    result = validate(
        "repeated-split", LOGISTIC, table, "malignant", n_repeats=6, n_resamples=200, scheduler="sync"
    )
    auc = result.metrics["auc"]
    scores = [s["auc"] for s in result.per_split]
    assert auc.value == pytest.approx(np.mean(scores), abs=1e-12)
    assert "corrected resampled t" in auc.method
    assert 0.0 < auc.ci_low < auc.value < auc.ci_high < 1.0
    assert "cluster bootstrap" in result.per_centre["centre-0"]["auc"].method
    pooled = result.pooled_metrics["auc"]
    assert "cluster bootstrap" in pooled.method
    assert pooled.value == pytest.approx(
        roc_auc_score(result.predictions["y_true"], result.predictions["proba_True"])
    )


def test_temporal_split_trains_only_on_examinations_before_every_test_examination(table):
    dates = pd.to_datetime(table.frame["study_date"])
    split = temporal_split(dates, table.groups.to_numpy(), test_fraction=0.25)
    assert dates.iloc[split.train].max() < dates.iloc[split.test].min()
    assert set(table.groups.iloc[split.test]).isdisjoint(table.groups.iloc[split.train])
    assert 0.25 <= len(split.test) / len(dates) < 0.4
    result = validate(
        "temporal",
        functools.partial(SeenSpy, "t2w:patient_code"),
        table,
        "malignant",
        test_fraction=0.25,
        n_resamples=200,
        scheduler="sync",
    )
    assert (result.split_predictions["proba_True"] == 0.0).all()
    assert "first seen on or after" in result.per_split[0]["held_out"]


def test_temporal_without_dates_says_what_is_needed(table):
    no_dates = FeatureTable(table.frame.drop(columns="study_date"))
    with pytest.raises(ValueError, match="needs study dates"):
        validate("temporal", LOGISTIC, no_dates, "malignant", scheduler="sync")


def test_external_trains_on_one_table_and_tests_every_lesion_of_the_other(table):
    development = FeatureTable(table.frame[table.frame["centre"] != "centre-2"].reset_index(drop=True))
    external = FeatureTable(table.frame[table.frame["centre"] == "centre-2"].reset_index(drop=True))
    spy = functools.partial(SeenSpy, "t2w:centre_code")
    result = validate(
        "external",
        spy,
        development,
        "malignant",
        test_table=external,
        n_resamples=200,
        scheduler="sync",
        test_name="centre-2",
    )
    assert result.predictions["lesion_id"].tolist() == external.frame["lesion_id"].tolist()
    assert (result.predictions["proba_True"] == 0.0).all()
    assert result.per_split[0]["n_train"] == len(development.frame)
    fitted = validate(
        "external", LOGISTIC, development, "malignant", test_table=external, n_resamples=200, scheduler="sync"
    )
    assert "DeLong" in fitted.metrics["auc_delong"].method
    assert "bca" in fitted.metrics["auc"].method


def test_external_table_missing_features_is_refused_with_their_names(table):
    external = FeatureTable(table.frame.drop(columns=["t2w:original_firstorder_F3"]))
    with pytest.raises(ValueError, match=r"lacks 1 feature column.*F3"):
        validate("external", LOGISTIC, table, "malignant", test_table=external, scheduler="sync")


def test_unknown_scheme_is_refused(table):
    with pytest.raises(ValueError, match="Unknown scheme 'bootstrap'"):
        validate("bootstrap", LOGISTIC, table, "malignant", scheduler="sync")


def test_permutation_importance_ranks_the_informative_group_first(table):
    frame = table.frame.copy()
    rng = np.random.default_rng(0)
    signal = frame["malignant"].astype(float) * 2.0 + rng.normal(size=len(frame)) * 0.5
    features = pd.DataFrame(
        {
            "portal:signal": signal,
            "t2w:noise": rng.normal(size=len(frame)),
            "adc:noise": rng.normal(size=len(frame)),
        }
    )
    small = FeatureTable(
        pd.concat([frame[["lesion_id", "case_id", "patient_id", "centre", "malignant"]], features], axis=1)
    )
    result = validate(
        "kfold", LOGISTIC, small, "malignant", importance_repeats=3, n_resamples=200, scheduler="sync"
    )
    summary = result.to_dict()["importance"]
    assert summary[0]["group"] == "portal"
    assert summary[0]["auc_drop_mean"] > 0.2
    assert all(abs(row["auc_drop_mean"]) < 0.05 for row in summary[1:])
    assert summary[0]["n_splits"] == 5


def test_cached_splits_are_reused(tmp_path, table):
    first = validate(
        "leave-centre-out",
        LOGISTIC,
        table,
        "malignant",
        n_resamples=200,
        scheduler="sync",
        cache_dir=tmp_path,
    )
    entries = sorted(tmp_path.rglob("*.pkl"))
    assert len(entries) == 3
    again = validate(
        "leave-centre-out",
        LOGISTIC,
        table,
        "malignant",
        n_resamples=200,
        scheduler="sync",
        cache_dir=tmp_path,
    )
    assert sorted(tmp_path.rglob("*.pkl")) == entries
    pd.testing.assert_frame_equal(first.split_predictions, again.split_predictions)
