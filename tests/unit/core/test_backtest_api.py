"""coinbt.backtest end to end on small bars: result shape, invariants, user mistakes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.errors import ConfigError


@pytest.fixture
def bars() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 600
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.001, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n))
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="timestamp")
    df = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 9, n)},
        index=idx,
    )
    df.attrs.update(symbol="TEST-USDT", exchange="synthetic", timeframe="1h")
    return df


def test_result_carries_spec_stats_trades_positions_equity(bars):
    r = coinbt.backtest("sma_cross", bars=bars, params={"window": 10}, fee_rate=0.001)
    assert r.spec.params == {"window": 10, "vol_mult": 0.0}
    assert r.spec.engine["fee_rate"] == 0.001 and r.spec.bars == len(bars)
    assert r.run_id == r.spec.run_id
    assert len(r.trades) == r.stats["n_trades"] > 5
    assert list(r.equity.columns) == ["equity", "cash", "position_value", "drawdown"]
    assert len(r.equity) == len(bars) and (r.equity["drawdown"] <= 0).all()
    assert set(r.trades["exit_reason"].astype(str)) <= {"signal", "end_of_data"}
    json.dumps(r.to_dict(), allow_nan=False)


def test_equity_identities_hold(bars):
    r = coinbt.backtest(
        "sma_cross",
        bars=bars,
        params={"window": 10},
        fee_rate=0.002,
        slippage_bps=5,
        stop_loss=0.02,
    )
    eq = r.equity
    np.testing.assert_allclose(eq["equity"], eq["cash"] + eq["position_value"], rtol=1e-12)
    unreal = r.positions["unrealised_pnl"].sum()
    final = 10_000 + r.trades["net_pnl"].sum() + unreal
    assert eq["equity"].iloc[-1] == pytest.approx(final, rel=1e-9)


def test_same_inputs_give_the_same_run_id_and_numbers(bars):
    a = coinbt.backtest("sma_cross", bars=bars, params={"window": 12})
    b = coinbt.backtest("sma_cross", bars=bars.copy(), params={"window": 12})
    assert a.run_id == b.run_id and a.stats == b.stats
    c = coinbt.backtest("sma_cross", bars=bars, params={"window": 13})
    assert c.run_id != a.run_id


def test_user_function_strategy(bars):
    def dip_buyer(bars, drop: float = 0.01):
        ret = bars["close"].pct_change()
        return ret < -drop, ret > drop

    r = coinbt.backtest(dip_buyer, bars=bars, params={"drop": 0.012}, hold_bars=3)
    assert r.spec.strategy == "dip_buyer" and r.spec.strategy_code
    assert r.spec.params == {"drop": 0.012}
    assert len(r.trades) > 0


def test_fill_close_is_recorded(bars):
    r = coinbt.backtest("sma_cross", bars=bars, fill="close")
    assert r.spec.engine["fill"] == "close"
    t = r.trades.iloc[0]
    assert t["entry_price"] == pytest.approx(bars.loc[t["entry_time"], "close"])


def test_unknown_setting_suggests_the_right_name(bars):
    with pytest.raises(
        ConfigError, match=r"unknown backtest setting 'fee'.*Did you mean 'fee_rate'"
    ):
        coinbt.backtest("sma_cross", bars=bars, fee=0.001)


def test_negative_fee_is_rejected_with_units(bars):
    with pytest.raises(
        ConfigError,
        match=r"fee_rate must be a fraction in \[0, 1\) \(0.001 = 0.1 % "
        r"per side\), got -0.001",
    ):
        coinbt.backtest("sma_cross", bars=bars, fee_rate=-0.001)


def test_wrong_setting_type_is_rejected(bars):
    with pytest.raises(ConfigError, match=r"stop_loss must be a number, got '5%' \(str\)"):
        coinbt.backtest("sma_cross", bars=bars, stop_loss="5%")


def test_stop_given_in_percent_is_rejected(bars):
    with pytest.raises(
        ConfigError, match=r"stop_loss must be a fraction between 0 and 1 \(0.05 = 5 %\)"
    ):
        coinbt.backtest("sma_cross", bars=bars, stop_loss=5)


def test_unknown_fill_mode(bars):
    with pytest.raises(ConfigError, match=r"fill must be one of 'next_open', 'close', got 'next'"):
        coinbt.backtest("sma_cross", bars=bars, fill="next")


def test_bars_without_columns_are_rejected(bars):
    with pytest.raises(ConfigError, match=r"bars lack column\(s\) \['volume'\]"):
        coinbt.backtest("sma_cross", bars=bars.drop(columns="volume"))


def test_missing_symbol_is_explained():
    with pytest.raises(ConfigError, match="backtest needs symbol and timeframe"):
        coinbt.backtest("sma_cross")


def test_plot_has_price_equity_and_drawdown(bars):
    fig = coinbt.backtest("sma_cross", bars=bars, params={"window": 10}).plot()
    names = [t.name for t in fig.data]
    assert names[:1] == ["price"] and {"entry", "exit", "equity", "drawdown"} <= set(names)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_exposure_from_records_equals_per_bar_count(bars, fill):
    from coinbt.metrics import compute_stats

    r = coinbt.backtest(
        "sma_cross", bars=bars, params={"window": 8}, fill=fill, stop_loss=0.01, hold_bars=5
    )
    sim = r.sim
    per_bar = compute_stats(
        equity=sim.equity,
        position_value=sim.position_value,
        close=bars["close"].to_numpy(),
        timestamps=bars.index.asi8,
        trades=sim.trades,
        open_position=sim.open_position,
        init_cash=10_000.0,
        timeframe="1h",
    )
    assert np.count_nonzero(sim.position_value) > 50
    assert r.stats["exposure_time"] == per_bar["exposure_time"]
    assert r.stats["exposure_time"] == sim.exposure_bars / len(bars)


def test_signal_table_lists_every_entry_signal_with_confidence_and_outcome(bars):
    def graded(bars, drop: float = 0.005):
        ret = bars["close"].pct_change().fillna(0.0)
        return ret < -drop, ret > drop, (ret.abs() * 10).clip(0, 1)

    r = coinbt.backtest(graded, bars=bars, hold_bars=4)
    sig = r.signals
    entries = bars["close"].pct_change() < -0.005
    assert len(sig) == int(entries.sum())
    assert list(sig.columns) == ["price", "confidence", "status", "traded"]
    assert sig["traded"].sum() == len(r.trades) + len(r.positions)
    assert set(sig["status"].astype(str)) <= {
        "filled",
        "ignored_in_position",
        "expired_end_of_data",
    }
    assert (sig.loc[sig["status"] == "ignored_in_position", "traded"] == False).all()  # noqa: E712
    want = (bars["close"].pct_change().abs() * 10).clip(0, 1)[entries.to_numpy()]
    np.testing.assert_allclose(sig["confidence"].to_numpy(), want.to_numpy())
    np.testing.assert_array_equal(sig["price"].to_numpy(), bars["close"][entries].to_numpy())


def test_strategy_setting_defaults_apply_unless_overridden(bars):
    @coinbt.strategy(settings={"hold_bars": 2}, register=False)
    def every_tenth(bars):
        return np.arange(len(bars)) % 10 == 0

    r = coinbt.backtest(every_tenth, bars=bars)
    assert r.spec.engine["hold_bars"] == 2
    assert set(r.trades["bars_held"]) == {2}
    r = coinbt.backtest(every_tenth, bars=bars, hold_bars=3)
    assert set(r.trades["bars_held"]) == {3}
