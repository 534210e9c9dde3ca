"""Per-bar returns, annualisation, CAGR, volatility, Sharpe, Sortino and Calmar."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import coinbt.metrics
from coinbt.metrics.returns import bar_returns

# init_cash 100 then five daily bars; per-bar returns by hand:
#   110/100-1 = 0.1, 99/110-1 = -0.1, 108.9/99-1 = 0.1, 108.9/108.9-1 = 0, 119.79/108.9-1 = 0.1
FIVE_BARS = [110.0, 99.0, 108.9, 108.9, 119.79]
R = [0.1, -0.1, 0.1, 0.0, 0.1]


def test_bar_returns_prepend_init_cash() -> None:
    assert bar_returns(np.array(FIVE_BARS), 100.0) == pytest.approx(R)


def test_bar_returns_are_undefined_on_a_non_positive_base() -> None:
    r = bar_returns(np.array([50.0, 0.0, 10.0, 20.0]), 100.0)
    # 50/100-1, 0/50-1, 10/0 undefined, 20/10-1
    assert r[:2] == pytest.approx([-0.5, -1.0])
    assert np.isnan(r[2])
    assert r[3] == pytest.approx(1.0)


def test_sharpe_sortino_volatility_by_hand(run_stats) -> None:
    s = run_stats(FIVE_BARS, init_cash=100.0, timeframe="1d")
    # mean = (0.1 - 0.1 + 0.1 + 0 + 0.1) / 5 = 0.04
    # deviations 0.06, -0.14, 0.06, -0.04, 0.06; squares sum
    #   0.0036 + 0.0196 + 0.0036 + 0.0016 + 0.0036 = 0.032; var (ddof=1) = 0.032 / 4 = 0.008
    # downside: min(r, 0)^2 = 0, 0.01, 0, 0, 0; mean over all 5 bars = 0.002
    ppy = 365.0
    assert s["volatility_ann"] == pytest.approx(math.sqrt(0.008) * math.sqrt(ppy))
    assert s["sharpe"] == pytest.approx(0.04 / math.sqrt(0.008) * math.sqrt(ppy))
    assert s["sortino"] == pytest.approx(0.04 / math.sqrt(0.002) * math.sqrt(ppy))
    # numerically: sharpe = 0.4472136 * 19.1049732 = 8.5440037
    assert s["sharpe"] == pytest.approx(8.5440037, rel=1e-7)


def test_sharpe_sortino_match_an_independent_numpy_computation(run_stats) -> None:
    equity = np.array([1000.0, 1012.0, 1003.0, 990.0, 1020.0, 1018.5, 1031.0, 1029.0])
    init_cash = 1000.0
    s = run_stats(list(equity), init_cash=init_cash, timeframe="1h")
    values = np.concatenate([[init_cash], equity])
    r = np.diff(values) / values[:-1]
    ppy = 365 * 24
    downside = np.sqrt(np.mean(np.clip(r, None, 0.0) ** 2))
    assert s["volatility_ann"] == pytest.approx(np.std(r, ddof=1) * np.sqrt(ppy), rel=1e-12)
    assert s["sharpe"] == pytest.approx(np.mean(r) / np.std(r, ddof=1) * np.sqrt(ppy), rel=1e-12)
    assert s["sortino"] == pytest.approx(np.mean(r) / downside * np.sqrt(ppy), rel=1e-12)


@pytest.mark.parametrize(
    ("timeframe", "bars_per_year"),
    [
        ("1h", 8760.0),  # 365 * 24
        ("1d", 365.0),
        ("15m", 35040.0),  # 365 * 24 * 4
        ("1w", 365 / 7),
        ("1M", 12.0),
    ],
)
def test_periods_per_year_use_a_365_day_24_hour_year(run_stats, timeframe, bars_per_year) -> None:
    s = run_stats([100.0, 101.0, 99.0], timeframe=timeframe)
    assert s["periods_per_year"] == pytest.approx(bars_per_year)


def test_daily_bars_never_annualise_with_a_trading_day_year(run_stats) -> None:
    s = run_stats([100.0, 101.0, 99.0], timeframe="1d")
    assert s["periods_per_year"] == 365.0
    assert s["periods_per_year"] != 252.0


def test_hourly_and_daily_annualisation_differ_by_root_24(run_stats) -> None:
    hourly = run_stats(FIVE_BARS, timeframe="1h")
    daily = run_stats(FIVE_BARS, timeframe="1d")
    # same per-bar returns; sqrt(8760) / sqrt(365) = sqrt(24)
    assert hourly["sharpe"] / daily["sharpe"] == pytest.approx(math.sqrt(24))
    assert hourly["volatility_ann"] / daily["volatility_ann"] == pytest.approx(math.sqrt(24))


def test_no_trading_day_year_anywhere_in_the_metrics_source() -> None:
    package = Path(coinbt.metrics.__file__).parent
    for path in package.glob("*.py"):
        assert not re.search(r"\b252\b", path.read_text()), path


def test_total_return_and_cagr_over_half_a_year_of_monthly_bars(run_stats) -> None:
    # 6 bars of 1M = 6 x (365/12) days = 182.5 days = 0.5 year
    s = run_stats([100, 102, 104, 103, 107, 110], init_cash=100.0, timeframe="1M")
    assert s["duration_days"] == pytest.approx(182.5)
    assert s["total_return"] == pytest.approx(0.10)  # 110/100 - 1
    assert s["cagr"] == pytest.approx(1.1**2 - 1)  # (110/100) ** (1 / 0.5) - 1 = 0.21


def test_cagr_and_calmar_on_daily_bars(run_stats) -> None:
    s = run_stats(FIVE_BARS, init_cash=100.0, timeframe="1d")
    # years = 5 / 365; CAGR = 1.1979 ** (365 / 5) - 1
    cagr = 1.1979**73 - 1
    assert s["cagr"] == pytest.approx(cagr)
    # max drawdown: peak 110 (bar 0), trough 99 (bar 1): 99/110 - 1 = -0.1
    assert s["max_drawdown"] == pytest.approx(-0.1)
    assert s["calmar"] == pytest.approx(cagr / 0.1)


def test_flat_equity_has_no_sharpe_no_sortino_and_zero_volatility(run_stats) -> None:
    s = run_stats([100.0] * 6, init_cash=100.0)
    assert s["volatility_ann"] == 0.0
    assert s["sharpe"] is None
    assert s["sortino"] is None
    assert s["cagr"] == 0.0
    assert s["calmar"] is None


def test_constant_growth_has_zero_variance_up_to_rounding(run_stats) -> None:
    # every bar +1 %: std(r) is floating-point noise, so Sharpe is undefined, not 1e15
    equity = [100.0 * 1.01 ** (t + 1) for t in range(10)]
    s = run_stats(equity, init_cash=100.0)
    assert s["volatility_ann"] == 0.0
    assert s["sharpe"] is None
    assert s["sortino"] is None  # no losing bar


def test_one_bar_has_no_volatility_or_sharpe_but_a_sortino(run_stats) -> None:
    s = run_stats([90.0], init_cash=100.0, timeframe="1d")
    assert s["volatility_ann"] is None
    assert s["sharpe"] is None
    # r = -0.1, downside deviation 0.1: -0.1 / 0.1 * sqrt(365)
    assert s["sortino"] == pytest.approx(-math.sqrt(365))


def test_final_equity_below_zero_has_no_cagr_but_finite_ratios(run_stats) -> None:
    # a short that lost more than everything: bases 100, 100, 50 are positive
    s = run_stats([100.0, 50.0, -10.0], init_cash=100.0)
    assert s["cagr"] is None
    assert s["calmar"] is None
    assert s["total_return"] == pytest.approx(-1.1)  # -10/100 - 1
    assert s["max_drawdown"] == pytest.approx(-1.1)  # -10/100 - 1
    # r = 0, -0.5, -1.2 -> mean -1.7/3
    assert s["sharpe"] == pytest.approx(
        np.mean([0.0, -0.5, -1.2]) / np.std([0.0, -0.5, -1.2], ddof=1) * math.sqrt(365)
    )


def test_equity_through_zero_leaves_return_ratios_undefined(run_stats) -> None:
    s = run_stats([50.0, 0.0, 5.0], init_cash=100.0)
    # the return of bar 2 is 5/0 - 1: undefined, and with it every return-based ratio
    assert s["volatility_ann"] is None
    assert s["sharpe"] is None
    assert s["sortino"] is None
    assert s["total_return"] == pytest.approx(-0.95)


def test_buy_and_hold_over_the_same_bars(run_stats) -> None:
    s = run_stats([100.0] * 4, close=[100.0, 90.0, 120.0, 150.0])
    assert s["buy_hold_return"] == pytest.approx(0.5)  # 150/100 - 1


def test_buy_and_hold_undefined_on_a_non_positive_first_close(run_stats) -> None:
    s = run_stats([100.0] * 2, close=[0.0, 5.0])
    assert s["buy_hold_return"] is None


def test_exposure_counts_long_and_short_bars(run_stats) -> None:
    s = run_stats([100.0] * 6, position_value=[0.0, 0.0, 50.0, 60.0, 0.0, -30.0])
    assert s["exposure_time"] == pytest.approx(3 / 6)
