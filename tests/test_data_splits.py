"""lai.data.splits: no patient on both sides, class balance kept, the same seed gives the same split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lai.data.splits import grouped_kfold, grouped_train_test_split


def lesion_table() -> pd.DataFrame:
    """300 lesions of 80 patients; patient p00 alone has 25 lesions, about 30 % of lesions are malignant."""
    rng = np.random.default_rng(12345)
    patients = ["p00"] * 25 + [f"p{1 + i % 79:02d}" for i in range(275)]
    malignant = rng.random(300) < 0.3
    malignant[:25] = True  # one patient with many metastases
    return pd.DataFrame(
        {
            "lesion_id": [f"l{i:03d}" for i in range(300)],
            "case_id": [f"c-{p}" for p in patients],
            "patient_id": patients,
            "malignant": malignant,
        }
    )


def patients_of(table: pd.DataFrame, lesion_ids: list[str]) -> set[str]:
    return set(table.set_index("lesion_id").loc[lesion_ids, "patient_id"])


@pytest.mark.parametrize("stratify", [None, "malignant"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_train_test_split_never_puts_a_patient_on_both_sides(seed: int, stratify: str | None) -> None:
    table = lesion_table()
    train, test = grouped_train_test_split(table, 0.25, seed, stratify)
    assert patients_of(table, train).isdisjoint(patients_of(table, test))
    assert sorted(train + test) == sorted(table["lesion_id"])


def test_train_test_split_takes_about_the_fraction_of_rows() -> None:
    table = lesion_table()
    for seed in range(5):
        _, test = grouped_train_test_split(table, 0.25, seed)
        assert 0.22 <= len(test) / len(table) <= 0.28


def test_train_test_split_keeps_the_class_balance_when_stratified() -> None:
    table = lesion_table().set_index("lesion_id", drop=False)
    overall = table["malignant"].mean()
    for seed in range(10):
        train, test = grouped_train_test_split(table, 0.25, seed, "malignant")
        assert abs(table.loc[test, "malignant"].mean() - overall) < 0.04
        assert abs(table.loc[train, "malignant"].mean() - overall) < 0.04


def test_train_test_split_is_the_same_for_a_seed_and_differs_across_seeds() -> None:
    table = lesion_table()
    first = grouped_train_test_split(table, 0.25, 7, "malignant")
    assert grouped_train_test_split(table, 0.25, 7, "malignant") == first
    assert grouped_train_test_split(table, 0.25, 8, "malignant") != first


def test_train_test_split_of_cases_returns_case_ids() -> None:
    cases = pd.DataFrame({"case_id": ["a", "b", "c", "d"], "patient_id": ["p1", "p1", "p2", "p3"]})
    train, test = grouped_train_test_split(cases, 0.5, 0)
    assert sorted(train + test) == ["a", "b", "c", "d"]
    assert {"a", "b"} <= set(train) or {"a", "b"} <= set(test)


def test_train_test_split_refuses_rows_without_a_patient() -> None:
    table = lesion_table()
    table.loc[3, "patient_id"] = None
    with pytest.raises(ValueError, match=r"'patient_id' is empty on 1 row"):
        grouped_train_test_split(table, 0.25, 0)


def test_train_test_split_refuses_a_single_patient() -> None:
    table = lesion_table().assign(patient_id="p00")
    with pytest.raises(ValueError, match="1 patient"):
        grouped_train_test_split(table, 0.25, 0)


def test_train_test_split_refuses_an_impossible_fraction() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        grouped_train_test_split(lesion_table(), 1.0, 0)


@pytest.mark.parametrize("stratify", [None, "malignant"])
def test_kfold_tests_each_row_once_and_never_splits_a_patient(stratify: str | None) -> None:
    table = lesion_table()
    folds = grouped_kfold(table, 5, 0, stratify)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(table)))
    for train, test in folds:
        assert set(train).isdisjoint(test)
        assert len(train) + len(test) == len(table)
        assert set(table["patient_id"].iloc[train]).isdisjoint(table["patient_id"].iloc[test])


def test_kfold_keeps_the_class_balance_when_stratified() -> None:
    table = lesion_table()
    overall = table["malignant"].mean()
    for _, test in grouped_kfold(table, 4, 0, "malignant"):
        assert abs(table["malignant"].iloc[test].mean() - overall) < 0.1


def test_kfold_is_the_same_for_a_seed() -> None:
    table = lesion_table()
    first = grouped_kfold(table, 5, 3, "malignant")
    again = grouped_kfold(table, 5, 3, "malignant")
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(first, again, strict=True))
    other = grouped_kfold(table, 5, 4, "malignant")
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(first, other, strict=True))
