"""signal_study: forward returns per signal and horizon, and the predecessor's figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.errors import ConfigError


def bars_of(close: list[float], open_: list[float] | None = None) -> pd.DataFrame:
    c = np.asarray(close, dtype=float)
    o = c if open_ is None else np.asarray(open_, dtype=float)
    idx = pd.date_range("2024-01-01", periods=len(c), freq="1h", tz="UTC", name="timestamp")
    df = pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(o, c),
            "low": np.minimum(o, c),
            "close": c,
            "volume": np.ones(len(c)),
        },
        index=idx,
    )
    df.attrs.update(symbol="T-USD", timeframe="1h")
    return df


def on_bars(*bars_at: int):
    def rule(bars):
        e = np.zeros(len(bars), dtype=bool)
        e[list(bars_at)] = True
        return e

    return rule


def test_close_fill_returns_by_hand():
    b = bars_of([100, 110, 99, 121, 100])
    s = coinbt.signal_study(on_bars(0, 2), bars=b, horizons=(1, 2), fill="close")
    # bar 0: 110/100-1 = 0.1, 99/100-1 = -0.01; bar 2: 121/99-1, 100/99-1
    np.testing.assert_allclose(s.signals["return_1"], [0.1, 121 / 99 - 1])
    np.testing.assert_allclose(s.signals["return_2"], [-0.01, 100 / 99 - 1])
    assert s.summary.loc[1, "win_rate"] == 1.0 and s.summary.loc[2, "win_rate"] == 0.5


def test_next_open_fill_enters_at_next_open_and_exits_h_opens_later():
    b = bars_of([1, 1, 1, 1, 1], open_=[10, 20, 30, 40, 50])
    s = coinbt.signal_study(on_bars(0, 3), bars=b, horizons=(1, 2))
    assert s.signals["entry_price"].tolist() == [20.0, 50.0]
    # bar 0: 30/20-1, 40/20-1; bar 3: no open after bar 4 -> NaN (dropped)
    np.testing.assert_allclose(s.signals["return_1"].iloc[0], 0.5)
    np.testing.assert_allclose(s.signals["return_2"].iloc[0], 1.0)
    assert np.isnan(s.signals["return_1"].iloc[1])
    assert s.summary.loc[1, "signals"] == 1


def test_fees_are_charged_on_both_sides():
    b = bars_of([100, 110])
    s = coinbt.signal_study(on_bars(0), bars=b, horizons=1, fill="close", fee_rate=0.001)
    assert s.signals["return_1"].iloc[0] == pytest.approx(110 * 0.999 / (100 * 1.001) - 1)


def legacy_figures(close: np.ndarray, signal_bars: np.ndarray, hold: int) -> tuple[float, float]:
    """The predecessor's metrics.py, as legacy_system.md §1.1/§2 describes it (in %pt)."""
    n = len(close)
    returns = []
    for i in signal_bars:
        entry = close[i]
        exit_ = close[min(i + hold, n - 1)]
        returns.append((exit_ - entry) / entry * 100)
    win_rate = sum(1 for r in returns if r > 0) / len(returns)
    avg_return = sum(returns) / len(returns)
    return win_rate, avg_return


@pytest.mark.parametrize("hold", [1, 3])
def test_close_fill_with_clamp_reproduces_the_predecessor_figures(hold):
    bars = coinbt.load_bars("BTC-USDT", "1h", "2023-01-01", "2023-06-30", exchange="binance")
    s = coinbt.signal_study(
        "sma_cross",
        bars=bars,
        params={"window": 10},
        horizons=hold,
        fill="close",
        incomplete="clamp",
    )
    entries = coinbt.backtest("sma_cross", bars=bars, params={"window": 10}).signals.index
    at = bars.index.get_indexer(entries)
    win_rate, avg_pct = legacy_figures(bars["close"].to_numpy(), at, hold)
    assert s.summary.loc[hold, "signals"] == len(at) > 30
    assert s.summary.loc[hold, "win_rate"] == pytest.approx(win_rate)
    assert s.summary.loc[hold, "mean"] * 100 == pytest.approx(avg_pct)


def test_summary_quantiles_and_median():
    b = bars_of([100, 101, 102, 101, 105, 104, 110, 100, 120, 90, 95])
    s = coinbt.signal_study(
        on_bars(*range(10)), bars=b, horizons=1, fill="close", quantiles=(0.25, 0.75)
    )
    r = s.signals["return_1"].to_numpy()
    assert s.summary.loc[1, "median"] == pytest.approx(np.median(r))
    assert s.summary.loc[1, "q25"] == pytest.approx(np.quantile(r, 0.25))
    assert s.summary.loc[1, "q75"] == pytest.approx(np.quantile(r, 0.75))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizons": 0}, "horizons must be whole numbers of bars ≥ 1, got 0"),
        ({"horizons": []}, "horizons must name at least one horizon"),
        ({"fill": "open"}, "fill must be one of"),
        ({"incomplete": "keep"}, "incomplete must be one of"),
        ({"fee_rate": -0.1}, "fee_rate must be a fraction in [0, 1)"),
        ({"quantiles": (5,)}, "quantiles must lie in (0, 1), got 5"),
    ],
)
def test_mistakes_are_explained(kwargs, message):
    with pytest.raises(ConfigError) as info:
        coinbt.signal_study(on_bars(0), bars=bars_of([1, 2, 3]), **kwargs)
    assert message in str(info.value)
