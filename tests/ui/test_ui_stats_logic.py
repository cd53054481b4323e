"""What the Statistics page writes about its numbers (ui/stats_logic.py): rates with n, Wilson intervals,
small samples, and tables that never send a missing cell (the browser draws one as "None")."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy.stats import binomtest

from threekcal.ui import stats_logic


def test_rates_are_written_with_their_n_and_a_dash_without_one() -> None:
    assert stats_logic.rate_text(1.0, 3) == "100% (n=3)"
    assert stats_logic.rate_text(0.8333, 1200, digits=1) == "83.3% (n=1,200)"
    assert stats_logic.rate_text(None, 0) == "— (n=0)"
    assert stats_logic.interval_text(0.482, 0.741) == "48.2%–74.1%"
    assert stats_logic.interval_text(None, None) == ""


def test_wilson_interval_is_scipys_and_empty_without_comments() -> None:
    rate = stats_logic.wilson(3, 3)
    expected = binomtest(3, 3).proportion_ci(0.95, method="wilson")
    assert (rate.value, rate.n) == (1.0, 3)
    assert (rate.low, rate.high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert rate.below == pytest.approx(1.0 - expected.low) and rate.above == pytest.approx(0.0, abs=1e-12)
    empty = stats_logic.wilson(0, 0)
    assert (empty.value, empty.low, empty.high, empty.above, empty.below) == (None, None, None, None, None)


def test_small_means_some_but_fewer_than_the_threshold() -> None:
    assert [stats_logic.is_small(n, 30) for n in (0, 1, 29, 30)] == [False, True, True, False]


def test_readable_tables_carry_text_and_a_dash_for_missing_numbers() -> None:
    frame = pd.DataFrame({"label": ["joy", "fear"], "f1": [0.5, math.nan], "support": [2, 0]})
    shown = stats_logic.readable(frame, {"f1": "{:.3f}"})
    assert shown["f1"].tolist() == ["0.500", "—"]
    assert shown["support"].tolist() == [2, 0]  # counts are never missing: left as numbers
    assert not shown.isna().to_numpy().any()
    assert frame["f1"].isna().tolist() == [False, True]  # the figures' frame is left as it was
