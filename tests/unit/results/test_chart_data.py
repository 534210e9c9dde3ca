"""``coinbt.results.figures.chart_data``: what the price/equity/drawdown chart shows, checked
against plain loops over the bars and trades (aggregated candles, merged trade markers, the
deepest drawdown kept, a zoomed range at full resolution)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.results.figures import chart_data


@pytest.fixture(scope="module")
def run() -> coinbt.BacktestResult:
    rng = np.random.default_rng(11)
    n = 2_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    idx = pd.date_range("2024-03-01", periods=n, freq="1min", tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 9, n)},
        index=idx,
    )
    bars.attrs.update(symbol="TEST-USDT", exchange="synthetic", timeframe="1m")
    result = coinbt.backtest("sma_cross", bars=bars, params={"window": 2}, fee_rate=0.001)
    assert len(result.trades) > 200  # many trades share a displayed candle
    return result


def iso(t: pd.Timestamp) -> str:
    return t.tz_convert("UTC").tz_localize(None).isoformat()


def test_long_range_is_aggregated_and_trades_merged_per_candle(run: coinbt.BacktestResult) -> None:
    k = 20  # 2,000 bars into 100 candles
    data = chart_data(run, max_candles=100)
    bars, eq, trades = run.bars, run.equity, run.trades
    position = {t: i for i, t in enumerate(bars.index)}
    assert len(data["price"]["x"]) == 100
    for c in (0, 37, 99):
        chunk = bars.iloc[c * k : (c + 1) * k]
        assert data["price"]["x"][c] == iso(chunk.index[0])
        assert data["price"]["open"][c] == chunk["open"].iloc[0]
        assert data["price"]["high"][c] == chunk["high"].max()
        assert data["price"]["low"][c] == chunk["low"].min()
        assert data["price"]["close"][c] == chunk["close"].iloc[-1]
        assert data["equity"]["y"][c] == eq["equity"].iloc[(c + 1) * k - 1]
        assert data["drawdown"]["y"][c] == eq["drawdown"].iloc[c * k : (c + 1) * k].min()
    assert min(data["drawdown"]["y"]) == pytest.approx(run.stats["max_drawdown"])

    for side in ("entry", "exit"):
        groups: dict[int, list[int]] = defaultdict(list)
        for i, when in enumerate(trades[f"{side}_time"]):
            groups[position[when] // k].append(i)
        markers = data[side]
        assert len(markers["x"]) == len(groups)
        counts = [int(t.split()[0].replace(",", "")) for t in markers["text"]]
        assert sum(counts) == len(trades)
        for j, c in enumerate(sorted(groups)):
            rows = trades.iloc[groups[c]]
            value = (rows[f"{side}_price"] * rows["quantity"]).sum()
            assert markers["x"][j] == iso(bars.index[c * k])
            assert markers["y"][j] == pytest.approx(value / rows["quantity"].sum())
            assert markers["pnl"][j] == pytest.approx(rows["net_pnl"].sum())
            assert counts[j] == len(rows)


def test_short_range_shows_every_bar_and_every_trade(run: coinbt.BacktestResult) -> None:
    trades = run.trades
    start, end = trades["entry_time"].iloc[40], trades["exit_time"].iloc[60]
    data = chart_data(run, start, end, max_candles=100)
    window = run.bars.loc[start:end]
    assert list(data["price"]["x"]) == [iso(t) for t in window.index]
    assert list(data["price"]["close"]) == list(window["close"])
    assert list(data["drawdown"]["y"]) == list(run.equity.loc[start:end, "drawdown"])
    entered = [i for i, t in enumerate(trades["entry_time"]) if start <= t <= end]
    exited = [i for i, t in enumerate(trades["exit_time"]) if start <= t <= end]
    assert entered[0] == 40 and exited[-1] == 60
    entry, exit_ = data["entry"], data["exit"]
    assert list(entry["x"]) == [iso(trades["entry_time"].iloc[i]) for i in entered]
    assert list(entry["y"]) == [trades["entry_price"].iloc[i] for i in entered]
    assert [t.split("<br>")[0] for t in entry["text"]] == [f"trade #{i + 1} entry" for i in entered]
    assert list(exit_["pnl"]) == [trades["net_pnl"].iloc[i] for i in exited]
    assert all(
        trades["exit_reason"].iloc[i] in t for i, t in zip(exited, exit_["text"], strict=True)
    )


def test_figure_colours_exits_by_gain_and_keeps_one_panel_each(run: coinbt.BacktestResult) -> None:
    fig = run.plot(max_candles=100)
    traces = {t.name: t for t in fig.data}
    assert [t.name for t in fig.data] == ["price", "entry", "exit", "equity", "drawdown"]
    exit_ = traces["exit"]
    data = chart_data(run, max_candles=100)
    assert list(exit_.marker.color) == [1.0 if v > 0 else 0.0 for v in data["exit"]["pnl"]]
    assert exit_.marker.colorscale[0][1] == "#d62728"  # losses red
    assert exit_.marker.colorscale[1][1] == "#2ca02c"  # gains green
    assert traces["entry"].marker.color == "#1f77b4"
    assert traces["drawdown"].yaxis == "y3" and traces["equity"].yaxis == "y2"
