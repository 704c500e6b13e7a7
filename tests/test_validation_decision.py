"""Decision curves: net benefit equals R dcurves' reference on its example data, and hand counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lai.validation.decision import DEFAULT_THRESHOLDS, decision_curve

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def dca() -> pd.DataFrame:
    table = pd.read_csv(SHARED / "stats" / "dca_df_binary.csv")
    table["cancer"] = table["cancer"].map({True: 1, False: 0, "True": 1, "False": 0})
    return table


def test_net_benefit_at_25_percent_equals_dcurves(dca):
    # stats/EXPECTED.md: dcurves tests/testthat/test-dca.R, threshold 0.25
    curve = decision_curve(dca["cancer"].to_numpy(), dca["cancerpredmarker"].to_numpy(), np.array([0.25]))
    row = curve.iloc[0]
    assert row["net_benefit"] == pytest.approx(0.0640000, abs=5e-8)
    assert row["treat_all"] == pytest.approx(-0.1466667, abs=5e-8)
    assert row["treat_none"] == 0.0


def test_default_thresholds_are_the_hundredths(dca):
    curve = decision_curve(dca["cancer"].to_numpy(), dca["cancerpredmarker"].to_numpy())
    np.testing.assert_array_equal(curve["threshold"], DEFAULT_THRESHOLDS)
    assert len(curve) == 99
    assert curve.loc[curve["threshold"] == 0.25, "net_benefit"].item() == pytest.approx(0.064, abs=5e-8)


def test_net_benefit_by_hand_with_ties_at_the_threshold():
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.2, 0.2, 0.1, 0.7, 0.5, 0.05, 0.3, 0.1, 0.2])
    curve = decision_curve(y, p, np.array([0.2, 0.5])).set_index("threshold")
    # at 0.2 (p >= 0.2 is positive): TP 3 of 10, FP 4 of 10, weight 0.25
    assert curve.loc[0.2, "net_benefit"] == pytest.approx(0.3 - 0.4 * 0.25)
    # at 0.5: TP 2 (0.9, 0.5), FP 1 (0.7), weight 1
    assert curve.loc[0.5, "net_benefit"] == pytest.approx(0.2 - 0.1)
    assert curve.loc[0.5, "treat_all"] == pytest.approx(0.3 - 0.7)


def test_perfect_model_gains_the_prevalence_and_treat_all_crosses_zero_at_it():
    y = np.repeat([1, 0], [30, 70])
    curve = decision_curve(y, y.astype(float))
    np.testing.assert_allclose(curve["net_benefit"], 0.3)
    crossing = curve["threshold"][np.argmin(np.abs(curve["treat_all"]))]
    assert crossing == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("y", "p", "thresholds", "message"),
    [
        ([0, 1], [0.1, 0.9], [0.0, 0.5], "strictly between"),
        ([0, 2], [0.1, 0.9], [0.5], "0/1"),
        ([0, 1], [0.1], [0.5], "Inconsistent shapes"),
    ],
)
def test_bad_input_is_refused(y, p, thresholds, message):
    with pytest.raises(ValueError, match=message):
        decision_curve(np.array(y), np.array(p), np.array(thresholds))
