"""The search space: every step builds and fits; the selectors keep what they promise; configs read well."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.pipeline import Pipeline

from lai.automl.feature_groups import feature_groups
from lai.automl.selection import (
    ColumnSubset,
    CorrelationFilter,
    L1Filter,
    QuasiConstantFilter,
    TreeFilter,
    UnivariateFilter,
)
from lai.automl.space import (
    CLASSIFIERS,
    FILTERS,
    RESAMPLERS,
    SCALERS,
    SpaceFacts,
    build_head,
    build_prefix,
    default_configs,
    describe,
    sample_config,
    selected_columns,
)

COLUMNS = [f"t2w:original_firstorder_F{j}" for j in range(6)] + [f"adc:original_glcm_F{j}" for j in range(6)]
ALL_ON = {"sequence:adc": True, "sequence:t2w": True, "family:firstorder": True, "family:glcm": True}
LOGISTIC = {
    "classifier": "logistic_regression",
    "lr_penalty": "l2",
    "lr_C": 1.0,
    "lr_class_weight": "balanced",
}


def three_class_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """40 + 40 + 6 rows, 12 columns; class k is shifted on column k (and k + 6); some values missing."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [40, 40, 6])
    X = rng.normal(size=(y.size, 12))
    X[np.arange(y.size), y] += 3.0
    X[np.arange(y.size), y + 6] += 3.0
    X[::7, 5] = np.nan
    return X, y


def facts_of(X: np.ndarray, y: np.ndarray) -> SpaceFacts:
    return SpaceFacts(
        n_samples=len(y),
        n_features=X.shape[1],
        n_classes=int(y.max()) + 1,
        smallest_class=int(np.bincount(y).min()),
        has_missing=bool(np.isnan(X).any()),
        groups=feature_groups(COLUMNS),
    )


def sampled(facts: SpaceFacts, seed: int = 0, **fixed: object) -> dict:
    """A config with the ``fixed`` parameters, the others drawn by a seeded random sampler."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    study.enqueue_trial(fixed)
    return sample_config(study.ask(), facts)


def fit_full(config: dict, X: np.ndarray, y: np.ndarray, facts: SpaceFacts) -> Pipeline:
    prefix = build_prefix(config, len(y))
    head = build_head(config, selected_columns(config, facts.groups), y, random_state=0)
    return Pipeline([("prefix", prefix), ("head", head)]).fit(X, y)


def check_fits(config: dict) -> None:
    X, y = three_class_data()
    model = fit_full(config, X, y, facts_of(X, y))
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (model.predict(X) == y).mean() > 0.6, describe(config)


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_every_classifier_fits_three_classes_with_a_class_of_six(classifier):
    X, y = three_class_data()
    plain = {"imputer": "median", "scaler": "standard", "filter": "none", "resampler": "none", **ALL_ON}
    check_fits(sampled(facts_of(X, y), classifier=classifier, **plain))


@pytest.mark.parametrize("chosen", FILTERS)
def test_every_filter_fits_before_a_logistic_regression(chosen):
    X, y = three_class_data()
    check_fits(
        sampled(facts_of(X, y), seed=4, filter=chosen, filter_k=6, resampler="none", **ALL_ON, **LOGISTIC)
    )


@pytest.mark.parametrize("resampler", RESAMPLERS)
def test_every_resampler_fits_with_a_class_of_six(resampler):
    X, y = three_class_data()
    check_fits(sampled(facts_of(X, y), filter="none", resampler=resampler, **ALL_ON, **LOGISTIC))


@pytest.mark.parametrize("imputer", ["median", "knn"])
@pytest.mark.parametrize("scaler", SCALERS)
def test_every_prefix_keeps_every_column_and_fills_missing_values(imputer, scaler):
    X, y = three_class_data()
    X[:, 11] = np.nan  # a column with no value at all keeps its place
    config = sampled(facts_of(X, y), imputer=imputer, scaler=scaler, **LOGISTIC)
    out = build_prefix(config, len(y)).fit_transform(X)
    assert out.shape == X.shape and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_feature_group_switches_choose_the_columns_of_the_head():
    X, y = three_class_data()
    facts = facts_of(X, y)
    config = sampled(facts, **{**ALL_ON, "sequence:adc": False}, filter="none", resampler="none", **LOGISTIC)
    assert selected_columns(config, facts.groups).tolist() == [0, 1, 2, 3, 4, 5]
    assert "without sequence:adc" in describe(config)


def test_kinds_of_space_parameters_depend_on_missing_values():
    X, y = three_class_data()
    complete = facts_of(np.nan_to_num(X), y)
    assert "imputer" not in default_configs(complete)[0]
    assert default_configs(facts_of(X, y))[0]["imputer"] == "median"
    assert sampled(complete)["imputer"] == "median"


def test_the_first_default_is_a_standardised_l2_logistic_regression():
    X, y = three_class_data()
    first = sampled(facts_of(X, y), **default_configs(facts_of(X, y))[0])
    assert describe(first) == (
        "median-impute > standard > all groups > none > none > logistic_regression(l2)"
    )


# --- Selectors ---


def test_univariate_filter_keeps_the_k_columns_with_largest_f_statistic():
    X, y = three_class_data()
    X = np.nan_to_num(X)
    kept = UnivariateFilter(k=3).fit(X, y).get_support(indices=True)
    assert set(kept) <= {0, 1, 2, 6, 7, 8} and len(kept) == 3
    assert UnivariateFilter(k=500).fit(X, y).get_support().all()


def test_correlation_filter_drops_a_copy_of_a_kept_column():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    a = rng.normal(size=60) + y
    X = np.c_[a, 2 * a + 1e-6 * rng.normal(size=60), rng.normal(size=60)]
    assert CorrelationFilter(threshold=0.9, k=10).fit(X, y).get_support(indices=True).tolist() == [0, 2]
    assert CorrelationFilter(threshold=0.9, k=1).fit(X, y).get_support(indices=True).tolist() == [0]


def test_quasi_constant_filter_drops_a_column_with_one_value_in_most_rows():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=20), np.r_[np.zeros(19), 1.0], np.zeros(20)]
    assert QuasiConstantFilter(max_share=0.9).fit(X).get_support(indices=True).tolist() == [0]


def test_l1_and_tree_filters_find_the_informative_columns():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 50)
    X = rng.normal(size=(100, 20))
    X[:, 4] += 2.5 * y
    assert L1Filter(C=0.05, k=5).fit(X, y).get_support(indices=True).tolist() == [4]
    assert 4 in TreeFilter(k=2).fit(X, y).get_support(indices=True)


def test_column_subset_keeps_the_given_columns_in_order():
    X = np.arange(12).reshape(3, 4)
    assert ColumnSubset([3, 1]).fit(X).transform(X).tolist() == [[3, 1], [7, 5], [11, 9]]
