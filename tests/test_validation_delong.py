"""DeLong's AUC variance and paired test, against pROC's own test values on aSAH (stats/EXPECTED.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lai.validation.delong import delong_interval, delong_test, delong_variance

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def asah() -> pd.DataFrame:
    return pd.read_csv(SHARED / "stats" / "aSAH.csv")


def test_delong_variance_of_s100b_equals_proc(asah):
    auc, variance = delong_variance((asah["outcome"] == "Poor").to_numpy(), asah["s100b"].to_numpy(float))
    assert auc == pytest.approx(0.731368563685637, abs=1e-12)
    assert variance == pytest.approx(0.00266868245717244, rel=1e-9)


def test_paired_delong_test_of_wfns_and_s100b_equals_proc(asah):
    result = delong_test(
        (asah["outcome"] == "Poor").to_numpy(), asah["wfns"].to_numpy(float), asah["s100b"].to_numpy(float)
    )
    assert result.z == pytest.approx(2.20898359144091, rel=1e-9)
    assert result.p_value == pytest.approx(0.0271757822291882, rel=1e-9)
    assert result.ci_low == pytest.approx(0.0104061769564846, rel=1e-9)
    assert result.ci_high == pytest.approx(0.174214419249478, rel=1e-9)


def test_delong_interval_is_symmetric_around_the_auc_inside_zero_one(asah):
    auc, low, high = delong_interval((asah["outcome"] == "Poor").to_numpy(), asah["s100b"].to_numpy(float))
    assert low < auc < high
    assert auc - low == pytest.approx(high - auc)
    assert 0.0 <= low and high <= 1.0


def test_delong_refuses_a_single_class():
    with pytest.raises(ValueError, match="cases and controls"):
        delong_variance([True, True, True], [0.1, 0.2, 0.3])
