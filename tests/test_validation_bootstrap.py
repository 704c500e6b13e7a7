"""Cluster bootstrap: intervals contain the estimate, narrow with data, resample whole patients, are fast."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import bootstrap as scipy_bootstrap
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from lai.validation.bootstrap import cluster_bootstrap
from lai.validation.metrics import classification_metrics, weighted_auc

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def auc_statistic(positive: np.ndarray, score: np.ndarray):
    return lambda weights: {"auc": weighted_auc(positive, score, weights)}


def noisy_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.4
    return positive, positive + rng.normal(0, 1.2, n)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_interval_contains_the_point_estimate(method):
    positive, score = noisy_scores(200, seed=1)
    point, low, high = cluster_bootstrap(auc_statistic(positive, score), np.arange(200), method=method)["auc"]
    assert point == pytest.approx(roc_auc_score(positive, score))
    assert low < point < high


def test_interval_narrows_with_more_patients():
    widths = []
    for n in (100, 400, 1600):
        positive, score = noisy_scores(n, seed=2)
        _, low, high = cluster_bootstrap(auc_statistic(positive, score), np.arange(n))["auc"]
        widths.append(float(high - low))
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(4.0, rel=0.3)


def test_interval_on_asah_agrees_with_proc_delong_interval():
    asah = pd.read_csv(SHARED / "stats" / "aSAH.csv")
    positive, score = (asah["outcome"] == "Poor").to_numpy(), asah["s100b"].to_numpy(float)
    auc, variance = 0.731368563685637, 0.00266868245717244
    half = 1.959963984540054 * np.sqrt(variance)
    for method in ("percentile", "bca"):
        point, low, high = cluster_bootstrap(
            auc_statistic(positive, score), np.arange(len(asah)), method=method
        )["auc"]
        assert point == pytest.approx(auc, abs=1e-12)
        assert low == pytest.approx(auc - half, abs=0.025)
        assert high == pytest.approx(auc + half, abs=0.025)


def test_duplicated_lesions_of_a_patient_do_not_narrow_the_interval():
    positive, score = noisy_scores(150, seed=3)
    patients = np.arange(150)
    _, low, high = cluster_bootstrap(auc_statistic(positive, score), patients)["auc"]
    copies = np.repeat(np.arange(150), 4)
    _, low4, high4 = cluster_bootstrap(auc_statistic(positive[copies], score[copies]), patients[copies])[
        "auc"
    ]
    _, naive_low, naive_high = cluster_bootstrap(
        auc_statistic(positive[copies], score[copies]), np.arange(copies.size)
    )["auc"]
    assert high4 - low4 == pytest.approx(high - low, rel=0.15)
    assert naive_high - naive_low < 0.7 * (high4 - low4)


def test_resamples_draw_whole_patients():
    patients = np.repeat(np.arange(30), 3)
    seen = []

    def statistic(weights: np.ndarray) -> dict[str, np.ndarray]:
        seen.append(weights)
        return {"total": weights.sum(axis=1)}

    cluster_bootstrap(statistic, patients, n_resamples=300)
    resamples = np.concatenate(seen[1:])
    per_patient = resamples.reshape(len(resamples), 30, 3)
    assert (per_patient == per_patient[:, :, :1]).all()
    np.testing.assert_array_equal(resamples.sum(axis=1), 90)


def test_same_seed_same_interval_and_another_seed_another():
    positive, score = noisy_scores(200, seed=4)
    first = cluster_bootstrap(auc_statistic(positive, score), np.arange(200), seed=11)["auc"]
    again = cluster_bootstrap(auc_statistic(positive, score), np.arange(200), seed=11)["auc"]
    other = cluster_bootstrap(auc_statistic(positive, score), np.arange(200), seed=12)["auc"]
    assert first[1:] == again[1:]
    assert first[1:] != other[1:]


def test_bca_interval_of_a_mean_agrees_with_scipy():
    sample = np.random.default_rng(5).exponential(1.0, 300)

    def mean(weights: np.ndarray) -> dict[str, np.ndarray]:
        return {"mean": weights @ sample / weights.sum(axis=1)}

    _, low, high = cluster_bootstrap(mean, np.arange(sample.size), method="bca", n_resamples=4000)["mean"]
    reference = scipy_bootstrap((sample,), np.mean, method="BCa", n_resamples=4000, random_state=0)
    assert low == pytest.approx(reference.confidence_interval.low, rel=0.03)
    assert high == pytest.approx(reference.confidence_interval.high, rel=0.03)


def test_all_metrics_of_500_lesions_and_8_classes_take_well_under_a_second():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 8, 500)
    proba = rng.dirichlet(np.ones(8), 500)
    patients = rng.integers(0, 200, 500)
    start = time.process_time()  # CPU time: eight engineers share two cores, wall time is noise
    result = cluster_bootstrap(lambda w: classification_metrics(y, proba, w), patients, n_resamples=2000)
    assert time.process_time() - start < 1.0
    assert set(result) == {"auc", "balanced_accuracy", "macro_f1", "cohen_kappa", "accuracy"}


def test_fewer_than_two_patients_is_refused():
    with pytest.raises(ValueError, match="at least 2 clusters"):
        cluster_bootstrap(lambda w: {"n": w.sum(axis=1)}, ["P1", "P1"])


@pytest.mark.slow
def test_bca_interval_covers_the_true_auc_at_about_its_nominal_rate():
    # binormal population: controls N(0, 1), cases N(1, 1), true AUC = Phi(1 / sqrt(2)) (Hanley 1988)
    true_auc = norm.cdf(1.0 / np.sqrt(2.0))
    rng = np.random.default_rng(2024)
    covered = []
    for seed in range(300):
        positive = rng.random(120) < 0.4
        score = rng.normal(0.0, 1.0, 120) + positive
        _, low, high = cluster_bootstrap(
            auc_statistic(positive, score), np.arange(120), method="bca", n_resamples=1000, seed=seed
        )["auc"]
        covered.append(low <= true_auc <= high)
    assert 0.91 <= np.mean(covered) <= 0.98, np.mean(covered)
