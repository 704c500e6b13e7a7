"""ComBat: removes planted centre effects, keeps biology, is fitted on training rows only, is a real estimator."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lai.validation.harmonisation import ComBat, HarmonisationWarning

CENTRES = ("A", "B", "C", "D")
SHIFT = {"A": 0.0, "B": 3.0, "C": -2.0, "D": 1.0}
SCALE = {"A": 1.0, "B": 2.0, "C": 0.5, "D": 1.5}


def multicentre_table(
    n_per_centre: int = 60, n_features: int = 20, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features = class signal + noise, then each centre's planted shift and scale (different per feature)."""
    rng = np.random.default_rng(seed)
    centre = np.repeat(CENTRES, n_per_centre)
    y = rng.integers(0, 2, centre.size)
    feature_shift = rng.uniform(0.5, 1.5, n_features)
    feature_scale = rng.uniform(0.8, 1.2, n_features)
    values = 10.0 + 0.8 * y[:, None] + rng.normal(0, 1, (centre.size, n_features))
    shift = np.array([SHIFT[c] for c in centre])[:, None] * feature_shift
    scale = np.array([SCALE[c] for c in centre])[:, None] ** feature_scale
    values = 10.0 + (values - 10.0) * scale + shift
    table = pd.DataFrame(values, columns=[f"t2w:original_firstorder_F{i}" for i in range(n_features)])
    table.insert(0, "centre", centre)
    return table, y


def centre_spread(frame: pd.DataFrame, centre: pd.Series) -> tuple[float, float]:
    """Largest difference between centres of a feature's mean, and largest ratio of its standard deviations."""
    means = frame.groupby(centre.to_numpy()).mean()
    sds = frame.groupby(centre.to_numpy()).std()
    return float((means.max() - means.min()).max()), float((sds.max() / sds.min()).max())


@pytest.mark.parametrize("parametric", [True, False])
def test_planted_centre_shift_and_scale_are_removed(parametric):
    table, y = multicentre_table()
    before = centre_spread(table.drop(columns="centre"), table["centre"])
    harmonised = ComBat(parametric=parametric).fit_transform(table)
    after = centre_spread(harmonised, table["centre"])
    assert before[0] > 4.0 and before[1] > 3.0
    # empirical-Bayes shrinkage leaves a little of each centre's effect; sampling noise of 60 rows another bit
    assert after[0] < 0.8
    assert after[1] < 1.6
    assert list(harmonised.columns) == list(table.columns[1:])
    signal = np.mean([roc_auc_score(y, harmonised[c]) for c in harmonised.columns])
    assert signal > 0.65


def test_large_batches_reduce_to_per_centre_standardisation_onto_the_pooled_scale():
    # with 5000 rows per centre the empirical-Bayes shrinkage is negligible: y* = (y - m_i) / s_i * sigma + alpha
    table, _ = multicentre_table(n_per_centre=5000, n_features=5, seed=1)
    features = table.drop(columns="centre")
    harmonised = ComBat().fit_transform(table)
    alpha = features.mean()
    residual = features - features.groupby(table["centre"]).transform("mean")
    sigma = np.sqrt((residual**2).mean())
    by_centre = features.groupby(table["centre"])
    expected = (features - by_centre.transform("mean")) / by_centre.transform("std") * sigma + alpha
    np.testing.assert_allclose(harmonised.to_numpy(), expected.to_numpy(), atol=0.05 * float(sigma.min()))


def test_fitted_parameters_do_not_change_when_test_rows_change():
    table, _ = multicentre_table(seed=2)
    train = table.index % 3 != 0
    combat = ComBat().fit(table[train])
    altered = table.copy()
    altered.loc[~train, altered.columns[1:]] = altered.loc[~train, altered.columns[1:]] * 100.0 + 7.0
    again = ComBat().fit(altered[train])
    for name in ("grand_mean_", "pooled_sd_", "gamma_", "delta_"):
        np.testing.assert_array_equal(getattr(combat, name), getattr(again, name))
    test_out = combat.transform(table[~train])
    altered_out = combat.transform(altered[~train])
    assert not np.allclose(test_out.to_numpy(), altered_out.to_numpy())


def test_inside_cross_validation_each_fold_fits_combat_on_its_training_rows_only():
    table, y = multicentre_table(seed=3)
    groups = np.arange(len(table)) // 2
    pipeline = make_pipeline(ComBat(), StandardScaler(), LogisticRegression())
    folds = list(GroupKFold(n_splits=4).split(table, y, groups))
    result = cross_validate(pipeline, table, y, cv=folds, return_estimator=True)
    features = table.drop(columns="centre")
    for (train, _test), fitted in zip(folds, result["estimator"], strict=True):
        combat = fitted.named_steps["combat"]
        np.testing.assert_allclose(combat.grand_mean_, features.iloc[train].mean().to_numpy(), rtol=1e-12)
        assert not np.allclose(combat.grand_mean_, features.mean().to_numpy(), rtol=1e-6)
        assert fitted.named_steps["standardscaler"].n_features_in_ == features.shape[1]
    assert result["test_score"].mean() > 0.6


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    combat = ComBat(batch_column="scanner", parametric=False, unseen="keep")
    copy = clone(combat)
    assert copy.get_params() == combat.get_params()
    assert not hasattr(copy, "gamma_")


def test_unseen_centre_is_estimated_from_its_own_rows_with_a_warning():
    table, _ = multicentre_table(seed=4)
    held_out = table["centre"] == "B"
    combat = ComBat().fit(table[~held_out])
    with pytest.warns(HarmonisationWarning, match="'B' was not seen at fit"):
        harmonised = combat.transform(table[held_out])
    gap = np.abs(harmonised.mean().to_numpy() - combat.grand_mean_)
    assert gap.max() < 0.6
    raw_gap = np.abs(table[held_out].drop(columns="centre").mean().to_numpy() - combat.grand_mean_)
    assert raw_gap.min() > 1.0


def test_unseen_centre_is_kept_as_is_when_asked():
    table, _ = multicentre_table(seed=5)
    held_out = table["centre"] == "C"
    combat = ComBat(unseen="keep").fit(table[~held_out])
    with pytest.warns(HarmonisationWarning, match="left as it is"):
        harmonised = combat.transform(table[held_out])
    np.testing.assert_allclose(harmonised.to_numpy(), table[held_out].drop(columns="centre").to_numpy())


def test_seen_centres_give_no_warning_and_missing_values_stay_missing():
    table, _ = multicentre_table(seed=6)
    table.iloc[3, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", HarmonisationWarning)
        harmonised = ComBat().fit_transform(table)
    assert np.isnan(harmonised.iloc[3, 1])
    assert np.isfinite(harmonised.drop(index=3).to_numpy()).all()


def test_constant_feature_passes_through():
    table, _ = multicentre_table(seed=7)
    table["t2w:original_shape_Flatness"] = 0.5
    harmonised = ComBat().fit_transform(table)
    assert (harmonised["t2w:original_shape_Flatness"] == 0.5).all()


def test_same_input_gives_the_same_numbers():
    table, _ = multicentre_table(seed=8)
    first = ComBat(parametric=False).fit_transform(table)
    second = ComBat(parametric=False).fit_transform(table)
    assert first.equals(second)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"x:a": [1.0, 2.0]}), "no batch column 'centre'"),
        (
            pd.DataFrame({"centre": ["A", "A", "B"], "x:a": [1.0, 2.0, 3.0]}),
            r"at least 2 rows per batch.*\['B'\]",
        ),
        (pd.DataFrame({"centre": ["A", "A"], "x:a": ["u", "v"]}), "non-numeric columns: \\['x:a'\\]"),
    ],
)
def test_bad_input_is_refused(frame, message):
    with pytest.raises(ValueError, match=message):
        ComBat().fit(frame)


def test_transform_before_fit_is_refused():
    table, _ = multicentre_table(seed=9)
    with pytest.raises(Exception, match="not fitted"):
        ComBat().transform(table)


def test_parametric_estimates_solve_johnsons_posterior_equations():
    # Johnson et al. (2007) section 3.1, written out here from the paper for one centre
    table, _ = multicentre_table(n_per_centre=25, n_features=30, seed=10)
    combat = ComBat(tol=1e-10).fit(table)
    features = table.drop(columns="centre").to_numpy()
    centre = table["centre"].to_numpy()
    alpha = features.mean(axis=0)
    means = np.stack([features[centre == c].mean(axis=0) for c in CENTRES])
    sigma = np.sqrt(np.mean((features - means[np.searchsorted(CENTRES, centre)]) ** 2, axis=0))
    np.testing.assert_allclose(combat.grand_mean_, alpha)
    np.testing.assert_allclose(combat.pooled_sd_, sigma)
    b = CENTRES.index("C")
    z = (features[centre == "C"] - alpha) / sigma
    n = z.shape[0]
    gamma_hat, delta_hat2 = z.mean(axis=0), z.var(axis=0, ddof=1)
    gamma_bar, tau2 = gamma_hat.mean(), gamma_hat.var(ddof=1)
    m, s2 = delta_hat2.mean(), delta_hat2.var(ddof=1)
    lam, theta = (m**2 + 2 * s2) / s2, (m**3 + m * s2) / s2
    gamma, delta2 = combat.gamma_[b], combat.delta_[b] ** 2
    np.testing.assert_allclose(
        gamma, (n * tau2 * gamma_hat + delta2 * gamma_bar) / (n * tau2 + delta2), rtol=1e-6
    )
    residual = np.sum((z - gamma) ** 2, axis=0)
    np.testing.assert_allclose(delta2, (theta + 0.5 * residual) / (n / 2 + lam - 1), rtol=1e-6)
    assert not np.allclose(gamma, gamma_hat, rtol=1e-3)  # the shrinkage did something
    harmonised = combat.transform(table[table["centre"] == "C"]).to_numpy()
    np.testing.assert_allclose(harmonised, sigma * (z - gamma) / np.sqrt(delta2) + alpha, rtol=1e-10)


def test_non_parametric_estimates_are_likelihood_weighted_means_of_the_other_features():
    # Johnson et al. (2007) section 3.2: prior = the other features' (gamma_hat, delta_hat**2)
    table, _ = multicentre_table(n_per_centre=15, n_features=12, seed=11)
    combat = ComBat(parametric=False).fit(table)
    features = table.drop(columns="centre").to_numpy()
    z = (features[table["centre"].to_numpy() == "B"] - combat.grand_mean_) / combat.pooled_sd_
    gamma_hat, delta_hat2 = z.mean(axis=0), z.var(axis=0, ddof=1)
    b = CENTRES.index("B")
    for g in range(z.shape[1]):
        others = [h for h in range(z.shape[1]) if h != g]
        log_likelihood = np.array(
            [norm.logpdf(z[:, g], gamma_hat[h], np.sqrt(delta_hat2[h])).sum() for h in others]
        )
        weights = np.exp(log_likelihood - log_likelihood.max())
        weights /= weights.sum()
        assert combat.gamma_[b, g] == pytest.approx(weights @ gamma_hat[others], rel=1e-9, abs=1e-12)
        assert combat.delta_[b, g] ** 2 == pytest.approx(weights @ delta_hat2[others], rel=1e-9)
