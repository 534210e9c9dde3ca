"""SweepResult: best, top, summary, heatmap, re-runs and flat memory."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.errors import ConfigError
from coinbt.sweeps import Range, sweep
from coinbt.sweeps.table import METRIC_COLUMNS

GRID = {"window": [10, 20, 40], "vol_mult": [0.0, 1.2, 1.6, 2.0]}


@pytest.fixture(scope="module")
def two_symbols(btc_bars, eth_bars):
    return sweep(
        "sma_cross",
        GRID,
        bars={"BTC-USDT": btc_bars, "ETH-USDT": eth_bars},
        fee_rate=0.0005,
        progress=False,
    )


def test_trial_table_is_tidy(two_symbols):
    t = two_symbols.trials
    assert two_symbols.n_trials == len(t) == 24
    assert list(t.columns) == ["window", "vol_mult", "symbol", *METRIC_COLUMNS, "run_id"]
    assert t.index.name == "trial" and list(t.index) == list(range(24))
    assert t["run_id"].is_unique
    assert t["n_trades"].dtype == np.int64
    assert two_symbols.swept == ["window", "vol_mult"]


def test_best_and_top_pick_the_largest_metric(two_symbols):
    t = two_symbols.trials
    assert two_symbols.best().name == t["sharpe"].idxmax()
    assert two_symbols.best().attrs == {"metric": "sharpe", "n_trials": 24}
    assert "trials=24" in repr(two_symbols) and "best sharpe=" in repr(two_symbols)
    assert two_symbols.best("max_drawdown")["max_drawdown"] == t["max_drawdown"].max()
    eth = two_symbols.best(symbol="ETH-USDT")
    assert eth["symbol"] == "ETH-USDT"
    assert eth["sharpe"] == t.loc[t["symbol"] == "ETH-USDT", "sharpe"].max()
    top = two_symbols.top(5, "total_return")
    assert list(top["total_return"]) == sorted(t["total_return"], reverse=True)[:5]
    with pytest.raises(ConfigError, match="Did you mean 'sortino'"):
        two_symbols.best("sortin")
    with pytest.raises(ConfigError, match="not in this sweep"):
        two_symbols.best(symbol="SOL-USDT")


def test_summary_reports_trial_count_next_to_the_best_and_is_json(two_symbols):
    s = two_symbols.summary()
    assert s["n_trials"] == 24 and s["n_param_sets"] == 12
    assert s["symbols"] == ["BTC-USDT", "ETH-USDT"]
    assert s["best"]["trial"] == two_symbols.best().name
    assert s["deflated_sharpe"]["n_trials"] == 24
    assert 0.0 <= s["deflated_sharpe"]["deflated_sharpe"] <= 1.0
    json.dumps(s, allow_nan=False)


def test_heatmap_has_the_parameter_axes_and_aggregates(two_symbols):
    import plotly.graph_objects as go

    fig = two_symbols.heatmap("window", "vol_mult", metric="total_return")
    assert isinstance(fig, go.Figure)
    hm = fig.data[0]
    assert list(hm.x) == [10, 20, 40] and list(hm.y) == [0.0, 1.2, 1.6, 2.0]
    assert fig.layout.xaxis.title.text == "window" and fig.layout.yaxis.title.text == "vol_mult"
    z = np.asarray(hm.z, dtype=float)
    assert z.shape == (4, 3)
    t = two_symbols.trials
    cell = t[(t["window"] == 20) & (t["vol_mult"] == 1.6)]["total_return"]
    assert z[2, 1] == pytest.approx(cell.mean())  # mean over both symbols
    btc = two_symbols.heatmap("vol_mult", "window", symbol="BTC-USDT", agg="max")
    assert list(btc.data[0].x) == [0.0, 1.2, 1.6, 2.0]
    want = t[(t["symbol"] == "BTC-USDT") & (t["window"] == 40) & (t["vol_mult"] == 0.0)]
    assert np.asarray(btc.data[0].z, dtype=float)[2, 0] == pytest.approx(want["sharpe"].iloc[0])
    with pytest.raises(ConfigError, match="not a parameter"):
        two_symbols.heatmap("windo", "vol_mult")
    with pytest.raises(ConfigError, match="agg must be one of"):
        two_symbols.heatmap("window", "vol_mult", agg="sum")


def test_run_trial_rebuilds_the_full_backtest(two_symbols):
    trial = int(two_symbols.best().name)
    run = two_symbols.run_trial(trial)
    assert run.run_id == two_symbols.trials.at[trial, "run_id"]
    assert run.stats["final_equity"] == two_symbols.trials.at[trial, "final_equity"]
    assert len(run.trades) == two_symbols.trials.at[trial, "n_trades"]


def test_coinbt_sweep_is_the_function_after_importing_the_subpackage(btc_bars):
    import coinbt.sweeps  # noqa: F401  (the package is "sweeps", so nothing shadows coinbt.sweep)

    res = coinbt.sweep("sma_cross", {"window": [20]}, bars=btc_bars, progress=False)
    assert res.n_trials == 1


def test_a_failing_user_strategy_stops_the_sweep_with_its_error(btc_bars):
    def broken(bars, window: int = 5):
        if window == 7:
            raise ValueError("window 7 is cursed")
        return bars["close"] > 0

    with pytest.raises(ValueError, match="cursed"):
        sweep(broken, {"window": [5, 6, 7, 8]}, bars=btc_bars, progress=False)


def test_memory_does_not_grow_with_trials_beyond_the_table(btc_bars):
    """No equity curve is kept: 10× the trials must not hold 10× the curves."""
    curve_bytes = len(btc_bars) * 8

    def peak(n: int) -> int:
        tracemalloc.start()
        sweep(
            "sma_cross",
            {"window": Range(5, 200), "vol_mult": Range(0.5, 2.5)},
            bars=btc_bars,
            random=n,
            seed=3,
            progress=False,
        )
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(20)  # warm caches (kernels, fingerprints)
    small, large = peak(30), peak(300)
    # each extra trial holds a table row and its parameters (~2 kB here); keeping its equity
    # curve would add ~23 kB. tracemalloc sees numpy buffers; benchmarks/bench_sweep.py
    # measures the peak RSS of the whole process.
    per_trial = (large - small) / 270
    assert per_trial < curve_bytes / 4, (small, large, per_trial)


def test_progress_bar_counts_every_trial(btc_bars, capsys):
    sweep("sma_cross", {"window": [10, 20, 30]}, bars=btc_bars, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err


def test_bars_without_attrs_need_a_timeframe(btc_bars):
    bare = pd.DataFrame(
        btc_bars[["open", "high", "low", "close", "volume"]].to_numpy(),
        index=btc_bars.index,
        columns=["open", "high", "low", "close", "volume"],
    )
    with pytest.raises(ConfigError, match="bars need one timeframe"):
        sweep("sma_cross", {"window": [10]}, bars=bare, progress=False)
    res = sweep(
        "sma_cross", {"window": [10]}, bars=bare, timeframe="1h", symbols="X-Y", progress=False
    )
    assert list(res.trials["symbol"]) == ["X-Y"]
    assert res.run_trial(0).run_id == res.trials.at[0, "run_id"]
    assert res.summary()["deflated_sharpe"]["n_returns"] == len(bare)
    single = coinbt.backtest("sma_cross", "X-Y", "1h", bars=bare, params=res.params_of(0))
    assert single.run_id == res.trials.at[0, "run_id"]
    with pytest.raises(ConfigError, match="start/end select data from the catalog"):
        sweep("sma_cross", {"window": [10]}, bars=btc_bars, start="2023-02-01", progress=False)
