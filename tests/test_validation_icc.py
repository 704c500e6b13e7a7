"""ICC: Shrout & Fleiss's published example, vectorised over features, lesions matched by id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lai.validation.icc import feature_icc, icc, robust_features

SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)
"""Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges. Their Table 3: BMS 11.24, WMS 6.26, JMS 32.49,
EMS 1.02; ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71."""


@pytest.mark.parametrize(
    ("kind", "published", "from_mean_squares"),
    [
        ("3,1", 0.71, (11.24 - 1.02) / (11.24 + 3 * 1.02)),
        ("2,1", 0.29, (11.24 - 1.02) / (11.24 + 3 * 1.02 + 4 * (32.49 - 1.02) / 6)),
        ("1,1", 0.17, (11.24 - 6.26) / (11.24 + 3 * 6.26)),
    ],
)
def test_icc_matches_shrout_and_fleiss(kind, published, from_mean_squares):
    found = icc(SHROUT_FLEISS, kind)
    assert round(found, 2) == published
    assert found == pytest.approx(from_mean_squares, abs=2e-3)


def test_consistency_ignores_a_rater_shift_but_agreement_does_not():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 1, 50)
    ratings = np.column_stack([truth + rng.normal(0, 0.2, 50), truth + 3.0 + rng.normal(0, 0.2, 50)])
    assert icc(ratings, "3,1") > 0.9
    assert icc(ratings, "2,1") < 0.3


def tables_of(values: np.ndarray, ids: list[str], names: list[str]) -> list[pd.DataFrame]:
    return [
        pd.DataFrame(values[:, r, :], columns=names).assign(lesion_id=ids) for r in range(values.shape[1])
    ]


def test_feature_icc_equals_icc_per_feature_and_matches_lesions_by_id():
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, (40, 1, 3))
    noise = np.array([0.05, 0.5, 3.0])
    values = truth + rng.normal(0, 1, (40, 4, 3)) * noise
    names = ["t2w:original_firstorder_Mean", "t2w:original_glcm_Contrast", "adc:original_shape_Sphericity"]
    ids = [f"L{i}" for i in range(40)]
    tables = tables_of(values, ids, names)
    tables[2] = tables[2].sample(frac=1.0, random_state=0)
    tables[3] = pd.concat([tables[3], pd.DataFrame({"lesion_id": ["extra"], names[0]: [9.0]})])
    found = feature_icc(tables)
    assert found.index.tolist() == names
    for f, name in enumerate(names):
        assert found[name] == pytest.approx(icc(values[:, :, f]), abs=1e-12)
    assert found.iloc[0] > 0.99 > found.iloc[1] > 0.5 > found.iloc[2]
    assert robust_features(found) == names[:2]
    assert robust_features(found, threshold=0.9) == names[:1]


def test_missing_values_drop_only_their_lesion_for_that_feature():
    rng = np.random.default_rng(2)
    values = rng.normal(0, 1, (30, 1, 2)) + rng.normal(0, 0.3, (30, 3, 2))
    names = ["t2w:original_firstorder_Mean", "t2w:original_firstorder_Median"]
    tables = tables_of(values, [f"L{i}" for i in range(30)], names)
    tables[1].loc[4, names[1]] = np.nan
    found = feature_icc(tables)
    assert found.iloc[0] == pytest.approx(icc(values[:, :, 0]))
    assert found.iloc[1] == pytest.approx(icc(np.delete(values[:, :, 1], 4, axis=0)))


def test_constant_feature_has_undefined_icc_and_is_not_robust():
    tables = [pd.DataFrame({"lesion_id": ["a", "b", "c"], "t2w:original_shape_VoxelVolume": [5.0] * 3})] * 2
    found = feature_icc(tables)
    assert np.isnan(found.iloc[0])
    assert robust_features(found) == []


def test_duplicated_lesion_ids_are_refused():
    table = pd.DataFrame({"lesion_id": ["a", "a"], "t2w:original_firstorder_Mean": [1.0, 2.0]})
    with pytest.raises(ValueError, match="Table 0 repeats lesion_id"):
        feature_icc([table, table])


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="Unknown ICC kind"):
        icc(SHROUT_FLEISS, "3,k")  # type: ignore[arg-type]
