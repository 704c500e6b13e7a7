"""Submission checks with precise messages, and aggregate metrics checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score, roc_auc_score

from lai.portal.scoring import SubmissionError, compute_metrics, validate_predictions

IDS = ["l1", "l2", "l3"]


def check(text: str, task: str = "malignant", ids: list[str] = IDS) -> list[str]:
    with pytest.raises(SubmissionError) as error:
        validate_predictions(text.encode(), "mine.csv", ids, task, "lesion")
    assert str(error.value).startswith("mine.csv: ")
    return list(error.value.problems)


def test_valid_file_is_returned_in_the_phase_order_whatever_the_row_order() -> None:
    text = "proba_malignant,lesion_id,proba_benign\n0.2,l3,0.8\n0.9,l1,0.1\n0.5,l2,0.5\n"
    proba = validate_predictions(text.encode(), "p.csv", IDS, "malignant", "lesion")
    np.testing.assert_array_equal(proba, [[0.1, 0.9], [0.5, 0.5], [0.8, 0.2]])


def test_wrong_and_missing_columns_are_named_with_the_expected_header() -> None:
    problems = check("lesion_id,proba_benign,proba_cancer\nl1,0.5,0.5\n")
    assert problems == [
        "missing column(s) proba_malignant (expected lesion_id, proba_benign, proba_malignant)",
        "unexpected column(s) proba_cancer (expected lesion_id, proba_benign, proba_malignant)",
    ]


def test_missing_unknown_and_duplicate_ids_are_each_listed() -> None:
    problems = check("lesion_id,proba_benign,proba_malignant\nl1,0.5,0.5\nl1,0.5,0.5\nzz,0.5,0.5\n")
    assert problems == [
        "duplicate lesion_id(s): l1",
        "2 lesion_id(s) missing: l2, l3",
        "1 unknown lesion_id(s) not in this phase: zz",
    ]


def test_probabilities_not_summing_to_one_out_of_range_or_not_numbers() -> None:
    problems = check("lesion_id,proba_benign,proba_malignant\nl1,0.5,0.6\nl2,1.2,-0.2\nl3,x,0.5\n")
    assert problems == [
        "1 row(s) with empty or non-numeric probabilities: l3",
        "1 row(s) with probabilities outside [0, 1]: l2",
        "1 row(s) whose probabilities do not sum to 1 (tolerance 0.001): l1 (first sums to 1.1000)",
    ]


def test_long_id_lists_are_cut_after_five() -> None:
    ids = [f"l{i}" for i in range(9)]
    problems = check("lesion_id,proba_benign,proba_malignant\n", ids=ids)
    assert problems == ["9 lesion_id(s) missing: l0, l1, l2, l3, l4 and 4 more"]


def test_a_binary_file_is_refused_as_unreadable() -> None:
    assert check("\x00\x01\x02garbage") != []


def test_metrics_equal_scikit_learn_on_a_multiclass_example() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, size=60)
    raw = rng.random((60, 4)) + np.eye(4)[y] * 0.8
    proba = raw / raw.sum(axis=1, keepdims=True)
    got = compute_metrics(y, proba, ["auc", "balanced_accuracy", "macro_f1", "cohen_kappa", "lld", "brier"])
    predicted = proba.argmax(axis=1)
    f1 = f1_score(y, predicted, average="macro")
    kappa = cohen_kappa_score(y, predicted)
    assert got["auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-6)
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, predicted), abs=1e-6)
    assert got["macro_f1"] == pytest.approx(f1, abs=1e-6)
    assert got["cohen_kappa"] == pytest.approx(kappa, abs=1e-6)
    assert got["lld"] == pytest.approx((f1 + kappa) / 2, abs=1e-6)
    assert got["brier"] == pytest.approx(np.mean((proba - np.eye(4)[y]) ** 2), abs=1e-6)


@pytest.mark.slow
def test_worker_stops_a_scoring_over_its_time_limit_and_serves_the_next_one() -> None:
    import os
    import time

    from lai.portal.scoring import ScoringTimeout, ScoringWorker

    worker = ScoringWorker()
    try:
        first = worker.run(os.getpid, (), 120.0)
        assert first != os.getpid()  # a separate process
        started = time.monotonic()
        with pytest.raises(ScoringTimeout, match=r"time limit of 0\.5 s"):
            worker.run(time.sleep, (30,), 0.5)
        assert time.monotonic() - started < 15  # stopped, not waited for
        second = worker.run(os.getpid, (), 120.0)
        assert second not in (first, os.getpid())  # a new worker replaced the stopped one
    finally:
        worker.close()
