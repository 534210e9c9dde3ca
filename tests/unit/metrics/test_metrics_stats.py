"""compute_stats as a whole: one fully hand-computed run, the key set, input checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from coinbt.engine.records import open_position_dt, trade_dt
from coinbt.errors import ConfigError, DataError
from coinbt.metrics import METRICS_VERSION, STAT_KEYS, compute_stats

DAY_NS = 86_400 * 10**9
JAN_1_2024_NS = 1_704_067_200 * 10**9


def _six_day_run() -> dict:
    """Six daily bars: flat, long for two bars with a loss, flat, then a gain."""
    trades = np.zeros(1, dtype=trade_dt)
    trades["net_pnl"] = -10.0
    trades["return"] = -0.01
    trades["bars_held"] = 2
    trades["entry_fee"] = 1.1
    trades["exit_fee"] = 0.99
    open_position = np.zeros(1, dtype=open_position_dt)
    open_position["entry_fee"] = 1.2
    return dict(
        equity=np.array([1000.0, 1000.0, 1100.0, 880.0, 990.0, 1210.0]),
        position_value=np.array([0.0, 0.0, 1100.0, 880.0, 0.0, 0.0]),
        close=np.array([10.0, 11.0, 12.0, 9.0, 10.0, 12.0]),
        timestamps=JAN_1_2024_NS + np.arange(6, dtype=np.int64) * DAY_NS,
        trades=trades,
        open_position=open_position,
        init_cash=1000.0,
        timeframe="1d",
    )


def test_every_figure_of_a_six_bar_run_by_hand() -> None:
    s = compute_stats(**_six_day_run())
    # per-bar returns with init_cash 1000 before bar 0
    r = [0.0, 0.0, 1100 / 1000 - 1, 880 / 1100 - 1, 990 / 880 - 1, 1210 / 990 - 1]
    mean = sum(r) / 6
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 5)
    downside = math.sqrt((880 / 1100 - 1) ** 2 / 6)  # only bar 3 lost: -0.2
    cagr = (1210 / 1000) ** (365 / 6) - 1  # 6 days = 6/365 year
    expected = {
        "start": "2024-01-01T00:00:00+00:00",
        "end": "2024-01-06T00:00:00+00:00",
        "bars": 6,
        "duration_days": 6.0,
        "initial_equity": 1000.0,
        "final_equity": 1210.0,
        "total_return": 0.21,
        "cagr": cagr,
        "volatility_ann": std * math.sqrt(365),
        "sharpe": mean / std * math.sqrt(365),
        "sortino": mean / downside * math.sqrt(365),
        # one episode: peak 1100 on bar 2, trough 880 on bar 3 (880/1100-1 = -0.2),
        # 990 on bar 4 still below, back above on bar 5: 5 - 2 = 3 bars
        "calmar": cagr / 0.2,
        "max_drawdown": -0.2,
        "max_drawdown_duration_bars": 3,
        "max_drawdown_duration_days": 3.0,
        "avg_drawdown": -0.2,
        "exposure_time": 2 / 6,
        "n_trades": 1,
        "n_open_positions": 1,
        "win_rate": 0.0,
        "profit_factor": 0.0,  # 0 / |-10|
        "expectancy": -10.0,
        "avg_trade_return": -0.01,
        "best_trade_return": -0.01,
        "worst_trade_return": -0.01,
        "avg_bars_held": 2.0,
        "fees_paid": 1.1 + 0.99 + 1.2,
        "buy_hold_return": 0.2,  # 12/10 - 1
        "periods_per_year": 365.0,
    }
    assert list(s) == list(STAT_KEYS)
    for key, value in expected.items():
        if isinstance(value, float):
            assert s[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert s[key] == value, key


def test_stats_are_plain_python_values_and_strict_json() -> None:
    s = compute_stats(**_six_day_run())
    for key, value in s.items():
        assert value is None or type(value) in (float, int, str), (key, type(value))
    assert json.loads(json.dumps(s, allow_nan=False)) == s


def test_datetime64_timestamps_are_accepted() -> None:
    run = _six_day_run()
    run["timestamps"] = np.array(["2024-03-01T00:00", "2024-03-01T01:00"], dtype="datetime64[s]")
    run.update(equity=run["equity"][:2], position_value=run["position_value"][:2])
    run.update(close=run["close"][:2], timeframe="1h")
    s = compute_stats(**run)
    assert s["start"] == "2024-03-01T00:00:00+00:00"
    assert s["end"] == "2024-03-01T01:00:00+00:00"
    assert s["duration_days"] == pytest.approx(2 / 24)


def test_metrics_version_is_an_int() -> None:
    assert isinstance(METRICS_VERSION, int)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"close": np.ones(5)}, DataError, "close has 5 values but equity has 6"),
        ({"position_value": np.ones(7)}, DataError, "position_value has 7"),
        ({"timestamps": np.zeros(3, dtype=np.int64)}, DataError, "timestamps has 3"),
        ({"timestamps": np.zeros(6)}, DataError, "int64 nanoseconds"),
        ({"init_cash": 0.0}, ConfigError, "init_cash must be a finite amount > 0"),
        ({"init_cash": float("nan")}, ConfigError, "init_cash"),
        ({"init_cash": "1000"}, ConfigError, "init_cash must be a number"),
        ({"timeframe": "1hr"}, ConfigError, "unknown timeframe"),
        ({"trades": np.zeros(2)}, DataError, "structured numpy array"),
        (
            {"trades": np.zeros(1, dtype=[("net_pnl", float)])},
            DataError,
            "lacks the field",
        ),
        ({"open_position": np.zeros(2, dtype=open_position_dt)}, DataError, "length 0 or 1"),
    ],
)
def test_bad_inputs_are_rejected_with_a_clear_message(change, error, message) -> None:
    run = _six_day_run()
    run.update(change)
    with pytest.raises(error, match=message):
        compute_stats(**run)


def test_empty_equity_is_rejected() -> None:
    run = _six_day_run()
    for key in ("equity", "position_value", "close", "timestamps"):
        run[key] = run[key][:0]
    with pytest.raises(DataError, match="at least one bar"):
        compute_stats(**run)


def test_non_finite_equity_is_rejected_with_its_bar() -> None:
    run = _six_day_run()
    run["equity"] = run["equity"].copy()
    run["equity"][4] = np.nan
    with pytest.raises(DataError, match="bar 4"):
        compute_stats(**run)


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        compute_stats(*_six_day_run().values())  # type: ignore[misc]
