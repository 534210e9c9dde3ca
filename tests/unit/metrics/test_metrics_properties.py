"""Invariants of the metrics on generated equity curves and trades (hypothesis)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from coinbt.engine.records import open_position_dt, trade_dt
from coinbt.metrics import compute_stats, drawdown

positive_equity = st.lists(
    st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)
any_equity = st.lists(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=100,
)
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
trade_rows = st.lists(
    st.tuples(finite, finite, st.integers(0, 10_000), st.floats(0, 1e6), st.floats(0, 1e6)),
    max_size=30,
)
timeframes = st.sampled_from(["1m", "5m", "1h", "4h", "1d", "1w", "1M"])


def _trades(rows: list[tuple]) -> np.ndarray:
    trades = np.zeros(len(rows), dtype=trade_dt)
    for i, (pnl, ret, held, entry_fee, exit_fee) in enumerate(rows):
        trades[i]["net_pnl"] = pnl
        trades[i]["return"] = ret
        trades[i]["bars_held"] = held
        trades[i]["entry_fee"] = entry_fee
        trades[i]["exit_fee"] = exit_fee
    return trades


def _stats(equity, trades, timeframe="1h", init_cash=10_000.0, open_fee=None) -> dict:
    eq = np.asarray(equity, dtype=np.float64)
    n = eq.shape[0]
    open_position = None
    if open_fee is not None:
        open_position = np.zeros(1, dtype=open_position_dt)
        open_position["entry_fee"] = open_fee
    return compute_stats(
        equity=eq,
        position_value=np.where(np.arange(n) % 3 == 0, 0.0, eq),
        close=np.abs(eq) + 1.0,
        timestamps=np.arange(n, dtype=np.int64) * 3_600 * 10**9,
        trades=trades,
        open_position=open_position,
        init_cash=init_cash,
        timeframe=timeframe,
    )


def _reference_episodes(equity: list[float]) -> tuple[float, int, list[float]]:
    """Plain-Python drawdown episodes: (max drawdown, longest duration, depths)."""
    peak, peak_bar = equity[0], 0
    depths: list[float] = []
    longest = 0
    current: float | None = None  # depth of the open episode
    for bar, value in enumerate(equity):
        if value >= peak:
            if current is not None:
                depths.append(current)
                longest = max(longest, bar - peak_bar)
                current = None
            peak, peak_bar = value, bar
        else:
            dd = value / peak - 1
            current = dd if current is None else min(current, dd)
    if current is not None:
        depths.append(current)
        longest = max(longest, len(equity) - 1 - peak_bar)
    return min([0.0, *depths]), longest, depths


@given(positive_equity)
def test_drawdown_is_never_positive_and_zero_at_new_highs(equity) -> None:
    eq = np.array(equity)
    dd = drawdown(eq)
    assert dd.shape == eq.shape
    assert np.all(dd <= 0.0)
    at_high = eq >= np.maximum.accumulate(eq)
    assert np.all(dd[at_high] == 0.0)
    assert np.all(dd[~at_high] < 0.0)


@settings(deadline=None)
@given(positive_equity, timeframes)
def test_max_drawdown_is_between_minus_one_and_zero(equity, timeframe) -> None:
    s = _stats(equity, _trades([]), timeframe)
    assert -1.0 <= s["max_drawdown"] <= 0.0
    assert s["max_drawdown"] == pytest.approx(float(drawdown(np.array(equity)).min()), abs=1e-15)


@settings(deadline=None)
@given(positive_equity)
def test_drawdown_episodes_match_a_plain_python_reference(equity) -> None:
    s = _stats(equity, _trades([]))
    max_dd, longest, depths = _reference_episodes(equity)
    assert s["max_drawdown"] == pytest.approx(max_dd, abs=1e-15)
    assert s["max_drawdown_duration_bars"] == longest
    if depths:
        assert s["avg_drawdown"] == pytest.approx(sum(depths) / len(depths), rel=1e-9)
    else:
        assert s["avg_drawdown"] is None


@settings(deadline=None)
@given(positive_equity, trade_rows, timeframes, st.none() | st.floats(0, 1e3))
def test_stats_are_strict_json_for_positive_equity_and_random_trades(
    equity, rows, timeframe, open_fee
) -> None:
    s = _stats(equity, _trades(rows), timeframe, open_fee=open_fee)
    json.dumps(s, allow_nan=False)
    assert s["n_trades"] == len(rows)
    if rows:
        wins = sum(1 for row in rows if row[0] > 0)
        assert s["win_rate"] == pytest.approx(wins / len(rows))
    else:
        assert s["win_rate"] is None


@settings(deadline=None)
@given(any_equity, trade_rows)
@example(equity=[5e-324], rows=[])  # final/initial underflows to 0: CAGR must be None
def test_stats_never_crash_and_stay_strict_json_for_any_finite_equity(equity, rows) -> None:
    s = _stats(equity, _trades(rows))
    json.dumps(s, allow_nan=False)
    if equity[-1] <= 0:
        assert s["cagr"] is None


@settings(deadline=None)
@given(
    st.lists(st.floats(min_value=-0.5, max_value=0.5, allow_nan=False), min_size=2, max_size=100)
)
def test_sharpe_matches_numpy_on_random_returns(returns) -> None:
    r = np.array(returns)
    equity = 10_000.0 * np.cumprod(1.0 + r)
    s = _stats(equity, _trades([]), "1h")
    std = np.std(r, ddof=1)
    if std > 1e-9:
        expected = np.mean(r) / std * math.sqrt(8760)
        assert s["sharpe"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
