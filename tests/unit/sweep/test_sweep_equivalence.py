"""Every trial of a sweep is a single ``coinbt.backtest`` run: same figures, same run id."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.sweeps import sweep
from coinbt.sweeps.runner import uses_fast_path
from coinbt.sweeps.table import METRIC_COLUMNS

#: summed in a different order than numpy's pairwise ``np.sum`` (see docs/sweeps.md)
ROUNDING_ONLY = {"profit_factor"}


@coinbt.strategy(
    params={
        "window": coinbt.Param(int, 10, min=2, max=500),
        "exit_window": coinbt.Param(int, 5, min=2),
    },
    register=False,
)
def donchian(bars, window=10, exit_window=5):
    """Enter above the prior window's high, leave below the prior exit_window's low."""
    high = bars["high"].rolling(window).max().shift(1)
    low = bars["low"].rolling(exit_window).min().shift(1)
    return (bars["close"] > high).to_numpy(), (bars["close"] < low).to_numpy()


def assert_trials_match_backtests(res, strategy, bars_by_symbol, **settings) -> int:
    """Compare every trial with a fresh ``coinbt.backtest``; return the number compared."""
    for trial, row in res.trials.iterrows():
        params = res.params_of(trial)
        single = coinbt.backtest(
            strategy, bars=bars_by_symbol[row["symbol"]], params=params, **settings
        )
        for key in METRIC_COLUMNS:
            want, got = single.stats[key], row[key]
            where = f"trial {trial} {params} {row['symbol']}: {key}"
            if want is None:
                assert pd.isna(got), f"{where}: sweep {got!r}, backtest None"
            elif key in ROUNDING_ONLY:
                assert math.isclose(got, want, rel_tol=1e-12, abs_tol=0.0), where
            else:
                assert got == want, f"{where}: sweep {got!r} != backtest {want!r}"
        assert row["run_id"] == single.run_id, f"trial {trial}: run id differs"
    return res.n_trials


def test_sma_cross_grid_every_trial_equals_a_single_backtest(btc_bars):
    grid = {"window": [5, 10, 20, 50, 120], "vol_mult": [0.0, 1.0, 1.5, 2.5]}
    res = sweep("sma_cross", grid, bars=btc_bars, fee_rate=0.0005, progress=False)
    assert uses_fast_path(coinbt.sweeps.api.get_strategy("sma_cross"))
    assert res.n_trials == 20
    assert (
        assert_trials_match_backtests(res, "sma_cross", {"BTC-USDT": btc_bars}, fee_rate=0.0005)
        == 20
    )
    assert res.trials["n_trades"].gt(0).all()


@pytest.mark.parametrize(
    "settings",
    [
        {"fill": "close", "slippage_bps": 3.0, "stop_loss": 0.02, "take_profit": 0.04},
        {
            "trailing_stop": 0.03,
            "same_bar_priority": "take_profit",
            "take_profit": 0.02,
            "hold_bars": 12,
            "close_at_end": True,
        },
        {
            "short": True,
            "size_type": "notional",
            "size": 4_000.0,
            "lot_size": 0.001,
            "min_notional": 100.0,
            "init_cash": 5_000.0,
        },
    ],
    ids=["close-fill-stops", "trailing-hold", "short-notional-lots"],
)
def test_engine_settings_reach_every_trial(btc_bars, settings):
    """Each setting travels through the packed kernel arguments in the right slot."""
    grid = {"window": [8, 30], "vol_mult": [0.0, 1.2]}
    res = sweep("sma_cross", grid, bars=btc_bars, progress=False, **settings)
    assert assert_trials_match_backtests(res, "sma_cross", {"BTC-USDT": btc_bars}, **settings) == 4


def test_user_function_strategy_trials_equal_single_backtests(btc_bars, eth_bars):
    grid = {"window": [10, 24, 48], "exit_window": [5, 12]}
    bars = {"BTC-USDT": btc_bars, "ETH-USDT": eth_bars}
    res = sweep(donchian, grid, bars=bars, fee_rate=0.001, stop_loss=0.05, progress=False)
    assert not uses_fast_path(donchian)
    assert res.n_trials == 12
    assert sorted(res.trials["symbol"].unique()) == ["BTC-USDT", "ETH-USDT"]
    assert assert_trials_match_backtests(res, donchian, bars, fee_rate=0.001, stop_loss=0.05) == 12


def test_plain_function_without_declared_bounds_sweeps(btc_bars):
    def momentum(bars, lookback: int = 24):
        ret = bars["close"].pct_change(lookback)
        return (ret > 0).to_numpy(), (ret < 0).to_numpy()

    res = sweep(momentum, {"lookback": [12, 48]}, bars=btc_bars, progress=False)
    assert assert_trials_match_backtests(res, momentum, {"BTC-USDT": btc_bars}) == 2


def test_catalog_sweep_run_ids_match_catalog_backtests():
    res = sweep(
        "sma_cross",
        {"window": [20, 40]},
        symbols=["BTC-USDT", "ETH-USDT"],
        timeframe="1h",
        start="2023-02-01",
        end="2023-02-28",
        exchange="binance",
        progress=False,
    )
    for trial, row in res.trials.iterrows():
        single = coinbt.backtest(
            "sma_cross",
            row["symbol"],
            "1h",
            "2023-02-01",
            "2023-02-28",
            exchange="binance",
            params=res.params_of(trial),
        )
        assert row["run_id"] == single.run_id
        assert row["final_equity"] == single.stats["final_equity"]
        assert res.run_trial(trial).run_id == row["run_id"]


def test_fast_and_generic_paths_agree_and_threads_do_not_change_results(btc_bars):
    from coinbt.strategies import Strategy
    from coinbt.strategies.sma_cross import SMA_CROSS, sma_cross

    grid = {"window": [6, 15, 33], "vol_mult": [0.0, 1.3]}
    fast = sweep("sma_cross", grid, bars=btc_bars, progress=False, n_jobs=2)
    # the same rule behind another function object takes the generic per-trial path
    generic_strategy = Strategy(
        name="sma_cross",
        fn=lambda bars, window=20, vol_mult=0.0: sma_cross(bars, window, vol_mult),
        params=SMA_CROSS.params,
        builtin=True,
    )
    assert not uses_fast_path(generic_strategy)
    generic = sweep(generic_strategy, grid, bars=btc_bars, progress=False, n_jobs=1)
    pd.testing.assert_frame_equal(fast.trials, generic.trials)
    serial = sweep("sma_cross", grid, bars=btc_bars, progress=False, n_jobs=1)
    pd.testing.assert_frame_equal(fast.trials, serial.trials)


def test_ties_with_the_sma_are_decided_as_in_the_single_kernel():
    """Coarse, often flat prices make close == SMA common; the shared-window kernel must
    read such ties exactly as ``sma_cross`` does (a tie is neither above nor below)."""
    rng = np.random.default_rng(11)
    n = 3_000
    close = 100.0 + np.cumsum(rng.choice([-1.0, 0.0, 0.0, 1.0], size=n))
    open_ = np.concatenate([[close[0]], close[:-1]])
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 0.5,
            "low": np.minimum(open_, close) - 0.5,
            "close": close,
            "volume": rng.choice([1.0, 2.0, 3.0], size=n),
        },
        index=idx,
    )
    bars.attrs.update({"symbol": "TIE-USD", "timeframe": "1h"})
    from coinbt.strategies.sma_cross import sma_cross

    entries, _ = sma_cross(bars, 2, 0.0)
    sma = bars["close"].rolling(2).mean().to_numpy()
    assert (close[1:] == sma[1:]).sum() > 100  # ties really happen
    res = sweep(
        "sma_cross", {"window": [2, 3, 4], "vol_mult": [0.0, 1.0, 1.5]}, bars=bars, progress=False
    )
    assert assert_trials_match_backtests(res, "sma_cross", {"TIE-USD": bars}) == 9
    assert entries.sum() > 100


def test_volume_zone_breakout_trials_equal_single_backtests(btc_bars):
    """The shared-resistance path runs the strategy's own profile kernel once per group."""
    grid = {
        "volume_window": [5, 12],
        "top_percentile": [0.1, 0.3],
        "breakout_buffer": [0.0, 0.002, 0.01],
        "num_bins": [10, 20],
        "include_wicks": [True, False],
    }
    strat = coinbt.sweeps.api.get_strategy("volume_zone_breakout")
    assert uses_fast_path(strat)
    res = sweep(strat, grid, bars=btc_bars, fee_rate=0.0005, progress=False)
    assert res.n_trials == 48
    assert res.trials["n_trades"].gt(0).all()
    assert res.trials.groupby("breakout_buffer")["n_trades"].mean().is_monotonic_decreasing
    assert assert_trials_match_backtests(res, strat, {"BTC-USDT": btc_bars}, fee_rate=0.0005) == 48
    # the strategy's default hold_bars=1 applies unless the caller overrides it
    held = sweep(
        strat, {"breakout_buffer": [0.0, 0.005]}, bars=btc_bars, hold_bars=3, progress=False
    )
    assert assert_trials_match_backtests(held, strat, {"BTC-USDT": btc_bars}, hold_bars=3) == 2


def test_volume_zone_ties_with_the_resistance_enter_as_in_the_strategy():
    """Integer-valued bars put highs exactly on resistance levels (bin edges)."""
    from coinbt.strategies.volume_zone_breakout import volume_zone_resistance

    rng = np.random.default_rng(5)
    n = 3_000
    close = 100.0 + np.cumsum(rng.choice([-2.0, 0.0, 2.0], size=n))
    open_ = np.concatenate([[close[0]], close[:-1]])
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + rng.choice([0.0, 1.0, 2.0], size=n),
            "low": np.minimum(open_, close) - rng.choice([0.0, 1.0, 2.0], size=n),
            "close": close,
            "volume": rng.choice([1.0, 2.0, 4.0], size=n),
        },
        index=idx,
    )
    bars.attrs.update({"symbol": "TIE-USD", "timeframe": "1h"})
    level = volume_zone_resistance(bars, volume_window=5, top_percentile=0.1, num_bins=4)
    assert (bars["high"] == level).sum() > 100  # ties really happen
    grid = {
        "volume_window": [5],
        "top_percentile": [0.1, 0.3],
        "num_bins": [4, 8],
        "breakout_buffer": [0.0, 0.25],
    }
    res = sweep("volume_zone_breakout", grid, bars=bars, progress=False)
    assert assert_trials_match_backtests(res, "volume_zone_breakout", {"TIE-USD": bars}) == 8
