"""Grid expansion, random search and their validation errors."""

from __future__ import annotations

import numpy as np
import pytest

import coinbt
from coinbt.errors import ConfigError, DataError
from coinbt.strategies import get_strategy
from coinbt.sweeps import Range, sweep
from coinbt.sweeps.space import check_space, expand_grid, parse_grid_text, sample_random

SMA = get_strategy("sma_cross")


@coinbt.strategy(
    params={
        "window": coinbt.Param(int, 10, min=2, max=60),
        "band": coinbt.Param(float, 0.5, min=0.1, max=2.0),
        "mode": coinbt.Param(str, "fast", choices=("fast", "slow")),
    },
    register=False,
)
def banded(bars, window=10, band=0.5, mode="fast", strict: bool = False):
    close = bars["close"]
    mid = close.rolling(window).mean()
    return (close > mid * (1 + band / 100)).to_numpy(), (close < mid).to_numpy()


def test_grid_expands_to_the_product_with_defaults_merged():
    sets = expand_grid(SMA, check_space(SMA, {"window": [10, 20], "vol_mult": [1, 2.5]}))
    assert sets == [
        {"window": 10, "vol_mult": 1.0},
        {"window": 10, "vol_mult": 2.5},
        {"window": 20, "vol_mult": 1.0},
        {"window": 20, "vol_mult": 2.5},
    ]
    assert all(isinstance(s["vol_mult"], float) for s in sets)  # ints become declared floats
    only_window = expand_grid(SMA, check_space(SMA, {"window": np.array([5, 7])}))
    assert only_window == [{"window": 5, "vol_mult": 0.0}, {"window": 7, "vol_mult": 0.0}]


def test_range_with_count_is_a_linspace_rounded_for_ints():
    space = check_space(SMA, {"window": Range(10, 100, 10), "vol_mult": Range(1.0, 2.5, 4)})
    sets = expand_grid(SMA, space)
    assert sorted({s["window"] for s in sets}) == list(range(10, 101, 10))
    assert sorted({s["vol_mult"] for s in sets}) == [1.0, 1.5, 2.0, 2.5]
    assert Range(2, 4, 5).values(int) == [2, 3, 4]  # 2, 2.5, 3, 3.5, 4 rounded, de-duplicated


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            {"windw": [10]},
            "unknown parameter 'windw' for strategy 'sma_cross'; known: window, "
            "vol_mult. Did you mean 'window'?",
        ),
        ({"window": [1, 10]}, "parameter 'window' of strategy 'sma_cross' must be ≥ 2, got 1"),
        ({"vol_mult": [-0.5]}, "must be ≥ 0.0, got -0.5"),
        ({"window": [10.5]}, "parameter 'window' of strategy 'sma_cross' must be int, got 10.5"),
        ({"window": ["20"]}, "must be int, got '20' (str)"),
        ({"window": [True]}, "must be int, got True (bool)"),
        ({"window": []}, "the grid of 'window' is empty"),
        ({"window": [10, 10]}, "repeats the value 10"),
        ({"window": Range(1, 50, 3)}, "must be ≥ 2, got 1"),
        ([("window", [10])], "grid must be a mapping"),
    ],
)
def test_grid_errors_name_the_problem(grid, message):
    with pytest.raises(ConfigError) as exc:
        check_space(SMA, grid)
    assert message in str(exc.value)


def test_empty_grid_without_random_is_an_error(btc_bars):
    for grid in (None, {}):
        with pytest.raises(ConfigError, match="the grid is empty: give grid="):
            sweep("sma_cross", grid, bars=btc_bars, progress=False)


def test_sweep_rejects_bad_metric_setting_jobs_and_seed(btc_bars):
    with pytest.raises(ConfigError, match="unknown metric 'sharp'.*Did you mean 'sharpe'"):
        sweep("sma_cross", {"window": [10]}, bars=btc_bars, metric="sharp", progress=False)
    with pytest.raises(ConfigError, match="unknown sweep setting 'fee'.*go in grid="):
        sweep("sma_cross", {"window": [10]}, bars=btc_bars, fee=0.001, progress=False)
    with pytest.raises(ConfigError, match="n_jobs must be >= 1"):
        sweep("sma_cross", {"window": [10]}, bars=btc_bars, n_jobs=0, progress=False)
    with pytest.raises(ConfigError, match="seed only applies to a random search"):
        sweep("sma_cross", {"window": [10]}, bars=btc_bars, seed=1, progress=False)


def test_random_search_is_reproducible_distinct_and_inside_declared_ranges():
    space = check_space(banded, {"band": Range(0.2, 0.4)})
    a = sample_random(banded, space, 200, np.random.default_rng(7))
    b = sample_random(banded, space, 200, np.random.default_rng(7))
    c = sample_random(banded, space, 200, np.random.default_rng(8))
    assert a == b and a != c
    assert len({tuple(s.values()) for s in a}) == 200
    assert all(2 <= s["window"] <= 60 and isinstance(s["window"], int) for s in a)  # declared
    assert all(0.2 <= s["band"] <= 0.4 for s in a)  # the given interval
    assert {s["mode"] for s in a} == {"fast", "slow"}  # choices
    assert {s["strict"] for s in a} == {False, True}  # bool
    windows = [s["window"] for s in a]
    assert min(windows) < 15 and max(windows) > 45  # spread over the range, not stuck


def test_random_search_samples_from_given_lists_and_keeps_unbounded_defaults(btc_bars):
    res = sweep(
        "sma_cross", {"window": [10, 20, 30]}, bars=btc_bars, random=3, seed=1, progress=False
    )
    # window from the list; vol_mult has no max, so it keeps its default
    assert sorted(res.trials["window"]) == [10, 20, 30]
    assert set(res.trials["vol_mult"]) == {0.0}
    again = sweep(
        "sma_cross", {"window": [10, 20, 30]}, bars=btc_bars, random=3, seed=1, progress=False
    )
    assert res.trials.equals(again.trials)
    assert res.search == "random" and res.seed == 1


def test_random_search_errors():
    with pytest.raises(ConfigError, match="more distinct parameter sets than the space holds"):
        sample_random(SMA, check_space(SMA, {"window": [10, 20]}), 3, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="random must be a whole number of trials >= 1"):
        sample_random(SMA, {}, 0, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="nothing to sample"):
        # a parameter without min and max has no range to draw from

        def open_ended(bars, window: int = 3):
            return bars["close"] > 0

        sample_random(get_strategy(open_ended), {}, 2, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="has no count"):
        expand_grid(SMA, check_space(SMA, {"vol_mult": Range(1.0, 2.0)}))


def test_command_line_grid_text():
    space = parse_grid_text(SMA, ["window=10,20,30", "vol_mult=1.0:2.5:4"])
    assert space == {"window": [10, 20, 30], "vol_mult": Range(1.0, 2.5, 4)}
    assert parse_grid_text(SMA, ["vol_mult=1:2"]) == {"vol_mult": Range(1.0, 2.0)}
    for bad, message in [
        (["window"], "--grid expects name=v1,v2"),
        (["window=ten"], "must be int, got 'ten'"),
        (["vol_mult=1.0:x:3"], "expected numbers as lo:hi:count"),
        (["window=10", "window=20"], "gives 'window' twice"),
        (["vol_mul=1,2"], "Did you mean 'vol_mult'?"),
        (["vol_mult=2.5:1.0:3"], "Range needs lo <= hi"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
            parse_grid_text(SMA, bad)


def test_every_unavailable_symbol_is_reported_at_once():
    with pytest.raises(DataError) as exc:
        sweep(
            "sma_cross",
            {"window": [10]},
            symbols=["BTC-USDT", "NOPE-USDT", "XYZ-ABC"],
            timeframe="1h",
            exchange="binance",
            progress=False,
        )
    assert len(exc.value.problems) == 2
    assert "NOPE-USDT" in str(exc.value) and "XYZ-ABC" in str(exc.value)


def test_multi_symbol_sweep_runs_each_parameter_set_on_each_symbol():
    res = sweep(
        "sma_cross",
        {"window": [12, 24, 48]},
        symbols=["BTC-USDT", "ETH-USDT"],
        timeframe="1h",
        start="2023-03-01",
        end="2023-03-31",
        exchange="binance",
        progress=False,
    )
    assert res.n_trials == 6
    assert list(res.trials["symbol"]) == ["BTC-USDT", "ETH-USDT"] * 3
    assert list(res.trials["window"]) == [12, 12, 24, 24, 48, 48]
    assert res.summary()["n_param_sets"] == 3
