"""Drawdown curve, max drawdown, drawdown duration and episode depth on hand-checked bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coinbt.errors import DataError
from coinbt.metrics import drawdown

# bar:        0    1    2   3   4    5    6    7    8    9   10   11
THREE_DIPS = [100, 120, 90, 96, 108, 120, 150, 135, 150, 160, 112, 128]
# running peak: 100 120 120 120 120 120 150 150 150 160 160 160
# episode A: bars 2-4 under the peak 120 of bar 1, back at 120 on bar 5
#   depths 90/120-1 = -0.25, 96/120-1 = -0.2, 108/120-1 = -0.1 -> episode depth -0.25
#   duration bar 1 -> bar 5 = 4 bars
# episode B: bar 7 under the peak 150 of bar 6, back at 150 on bar 8
#   depth 135/150-1 = -0.1, duration bar 6 -> bar 8 = 2 bars
# episode C: bars 10-11 under the peak 160 of bar 9, never back
#   depths 112/160-1 = -0.3, 128/160-1 = -0.2 -> episode depth -0.3
#   duration bar 9 -> last bar 11 = 2 bars


def test_drawdown_is_equity_over_running_peak_minus_one() -> None:
    expected = [0, 0, -0.25, -0.2, -0.1, 0, 0, -0.1, 0, 0, -0.3, -0.2]
    assert drawdown(np.array(THREE_DIPS, dtype=float)) == pytest.approx(expected, abs=1e-15)


def test_drawdown_is_exactly_zero_at_every_new_high_or_equal_peak() -> None:
    dd = drawdown(np.array(THREE_DIPS, dtype=float))
    for bar in (0, 1, 5, 6, 8, 9):
        assert dd[bar] == 0.0


def test_drawdown_keeps_a_series_index() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC")
    out = drawdown(pd.Series([100.0, 80.0, 100.0, 90.0], index=index))
    assert isinstance(out, pd.Series)
    assert out.index.equals(index)
    # 80/100-1 = -0.2, 90/100-1 = -0.1
    assert out.to_list() == pytest.approx([0.0, -0.2, 0.0, -0.1])


def test_drawdown_of_empty_equity_is_empty() -> None:
    assert drawdown(np.array([])).shape == (0,)


def test_drawdown_below_minus_one_when_equity_turns_negative() -> None:
    # -20/100 - 1 = -1.2
    assert drawdown(np.array([100.0, -20.0])) == pytest.approx([0.0, -1.2])


def test_drawdown_undefined_while_the_running_peak_is_not_positive() -> None:
    dd = drawdown(np.array([-5.0, 0.0, 10.0, 5.0]))
    # peaks -5, 0, 10, 10: undefined, undefined, 0, 5/10-1 = -0.5
    assert np.isnan(dd[0]) and np.isnan(dd[1])
    assert dd[2:] == pytest.approx([0.0, -0.5])


def test_drawdown_rejects_2d_input() -> None:
    with pytest.raises(DataError, match="1-D"):
        drawdown(np.ones((2, 2)))


def test_max_drawdown_is_the_deepest_episode(run_stats) -> None:
    s = run_stats(THREE_DIPS)
    assert s["max_drawdown"] == pytest.approx(-0.3)


def test_drawdown_duration_runs_from_peak_to_recovery(run_stats) -> None:
    s = run_stats(THREE_DIPS, timeframe="1d")
    # longest is episode A: bar 1 -> bar 5
    assert s["max_drawdown_duration_bars"] == 4
    assert s["max_drawdown_duration_days"] == pytest.approx(4.0)


def test_drawdown_duration_in_days_follows_the_bar_length(run_stats) -> None:
    s = run_stats(THREE_DIPS, timeframe="4h")
    # 4 bars x 4 h = 16 h = 16/24 day
    assert s["max_drawdown_duration_days"] == pytest.approx(16 / 24)


def test_avg_drawdown_is_the_mean_episode_depth(run_stats) -> None:
    s = run_stats(THREE_DIPS)
    # episodes A, B, C: (-0.25 - 0.1 - 0.3) / 3
    assert s["avg_drawdown"] == pytest.approx((-0.25 - 0.1 - 0.3) / 3)


def test_unrecovered_drawdown_counts_to_the_last_bar(run_stats) -> None:
    # peak bar 0 (100); under water on bars 1-4 and never back: 4 - 0 = 4 bars
    s = run_stats([100, 90, 80, 85, 95])
    assert s["max_drawdown_duration_bars"] == 4
    # one episode, depth 80/100-1
    assert s["max_drawdown"] == pytest.approx(-0.2)
    assert s["avg_drawdown"] == pytest.approx(-0.2)


def test_getting_back_to_the_peak_exactly_ends_an_episode(run_stats) -> None:
    # episode 1: bar 1 (90/100-1 = -0.1) from peak bar 0, back at 100 on bar 2 -> 2 bars
    # episode 2: bar 3 (95/100-1 = -0.05) from peak bar 2, never back -> 3 - 2 = 1 bar
    s = run_stats([100, 90, 100, 95])
    assert s["max_drawdown_duration_bars"] == 2
    assert s["avg_drawdown"] == pytest.approx((-0.1 - 0.05) / 2)


def test_no_drawdown_gives_zero_depth_zero_duration_and_no_average(run_stats) -> None:
    s = run_stats([100, 101, 101, 105])
    assert s["max_drawdown"] == 0.0
    assert s["max_drawdown_duration_bars"] == 0
    assert s["max_drawdown_duration_days"] == 0.0
    assert s["avg_drawdown"] is None
    assert s["calmar"] is None


def test_drawdown_ignores_init_cash_as_a_peak(run_stats) -> None:
    # the engine's equity is the curve; init_cash 100 above equity[0] = 99 is not a peak
    s = run_stats([99, 99, 99], init_cash=100.0)
    assert s["max_drawdown"] == 0.0
    # but the first bar's return does see it: 99/100 - 1
    assert s["total_return"] == pytest.approx(-0.01)
