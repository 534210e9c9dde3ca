"""``coinbt.results.compare``: runs side by side, checked against the runs themselves."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.errors import ConfigError
from coinbt.results import compare


@pytest.fixture(scope="module")
def runs() -> list[coinbt.BacktestResult]:
    common = {"exchange": "binance", "start": "2023-01-01", "end": "2023-03-31"}
    a = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", **common,
                        params={"volume_window": 30}, fee_rate=0.0005)  # fmt: skip
    b = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", **common,
                        params={"volume_window": 10}, fee_rate=0.001)  # fmt: skip
    c = coinbt.backtest("volume_long_candle", "ETH-USDT", "1h", exchange="binance",
                        start="2023-02-01", end="2023-04-30")  # fmt: skip
    return [a, b, c]


def test_stats_table_holds_each_runs_own_numbers(runs: list[coinbt.BacktestResult]) -> None:
    raw = compare.stats_table(runs, formatted=False)
    labels = compare.run_labels(runs)
    assert list(raw.columns) == labels and len(set(labels)) == 3
    assert list(raw.index[:3]) == ["total_return", "buy_hold_return", "cagr"]
    for label, run in zip(labels, runs, strict=True):
        assert raw[label].to_dict() == dict(run.stats)
    shown = compare.stats_table(runs)
    ret = runs[0].stats["total_return"]
    assert shown.at["total_return", labels[0]] == f"{100 * ret:,.2f} %"


def test_spec_table_marks_exactly_the_differing_fields(runs: list[coinbt.BacktestResult]) -> None:
    table = compare.spec_table(runs[:2])
    differs = set(table.index[table["differs"]])
    assert differs == {"param.volume_window", "engine.fee_rate"}
    assert table.loc["param.volume_window"].iloc[:2].tolist() == [30, 10]
    everything = compare.spec_table(runs)
    assert {"strategy", "symbol", "data_start", "param.vol_ma_window"} <= set(
        everything.index[everything["differs"]]
    )
    # a parameter only one strategy has: None for the others, and it differs
    assert everything.at["param.vol_ma_window", compare.run_labels(runs)[0]] is None
    css = compare.highlight_differences(table).to_html().split("</style>")[0]
    assert "background-color: #fff3bf" in css
    shaded = {int(row) for row in re.findall(r"_row(\d+)_col\d+", css)}
    assert shaded == {table.index.get_loc(name) for name in differs}


def test_equity_curves_are_normalised_on_the_union_of_times(
    runs: list[coinbt.BacktestResult],
) -> None:
    curves = compare.equity_curves(runs)
    a, c = runs[0], runs[2]
    label_a, label_c = compare.run_labels([a, c])
    expected = a.equity["equity"] / a.spec.engine["init_cash"]
    pd.testing.assert_series_equal(
        curves[label_a].dropna(), expected, check_names=False, check_freq=False
    )
    assert curves.index.is_monotonic_increasing
    assert curves.index[0] == a.equity.index[0] and curves.index[-1] == c.equity.index[-1]
    assert np.isnan(curves.at[curves.index[0], label_c])  # c starts a month later
    raw = compare.equity_curves(runs, normalise=False)
    assert raw[label_a].dropna().iloc[-1] == pytest.approx(a.stats["final_equity"])


def test_figure_has_an_equity_and_a_drawdown_trace_per_run(
    runs: list[coinbt.BacktestResult],
) -> None:
    fig = compare.compare_figure(runs)
    assert len(fig.data) == 6
    assert [t.name for t in fig.data[::2]] == compare.run_labels(runs)
    assert min(fig.data[1].y) == pytest.approx(100 * runs[0].equity["drawdown"].min())


def test_bad_selections_are_refused(runs: list[coinbt.BacktestResult]) -> None:
    with pytest.raises(ConfigError, match="two or more runs, got 1"):
        compare.stats_table(runs[:1])
    with pytest.raises(ConfigError, match="listed twice"):
        compare.spec_table([runs[0], runs[0]])
