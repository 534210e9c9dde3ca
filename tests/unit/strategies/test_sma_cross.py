"""sma_cross signals: the cross definition, the volume filter and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinbt.strategies._nb import rolling_mean_nb
from coinbt.strategies.sma_cross import sma_cross


def bars_from(close: list[float], volume: list[float] | None = None) -> pd.DataFrame:
    close_a = np.asarray(close, dtype=float)
    idx = pd.date_range("2024-01-01", periods=len(close_a), freq="1h", tz="UTC", name="timestamp")
    vol = np.ones(len(close_a)) if volume is None else np.asarray(volume, dtype=float)
    return pd.DataFrame(
        {"open": close_a, "high": close_a, "low": close_a, "close": close_a, "volume": vol},
        index=idx,
    )


def plain_signals(df: pd.DataFrame, window: int, vol_mult: float) -> tuple[np.ndarray, np.ndarray]:
    """The documented rule, written out with pandas and a Python loop."""
    close = df["close"].tolist()
    sma = df["close"].rolling(window).mean().tolist()
    vsma = df["volume"].rolling(window).mean().tolist()
    vol = df["volume"].tolist()
    n = len(close)
    entries, exits = [False] * n, [False] * n
    for t in range(1, n):
        if np.isnan(sma[t - 1]):
            continue
        if close[t] > sma[t] and close[t - 1] <= sma[t - 1]:
            entries[t] = vol_mult <= 0 or vol[t] > vol_mult * vsma[t]
        if close[t] < sma[t] and close[t - 1] >= sma[t - 1]:
            exits[t] = True
    return np.array(entries), np.array(exits)


def test_cross_above_needs_previous_close_at_or_below_sma():
    # window 2: sma = [nan, 1.5, 2.5, 2.5, 2.0, 2.5]
    df = bars_from([1, 2, 3, 2, 2, 3])
    entries, exits = sma_cross(df, window=2)
    # t=2: 3 > 2.5 but previous close 2 > sma 1.5 -> no new cross
    assert entries.tolist() == [False, False, False, False, False, True]
    # t=3: 2 < 2.5 and previous 3 >= 2.5 -> cross below
    assert exits.tolist() == [False, False, False, True, False, False]


def test_tie_with_sma_is_neither_above_nor_below():
    # flat closes put the close exactly on the SMA; then a rise is a cross above
    df = bars_from([5, 5, 5, 5, 6, 5, 5])
    entries, exits = sma_cross(df, window=3)
    # sma: nan nan 5 5 5.333.. 5.333.. 5.333..
    assert entries.tolist() == [False, False, False, False, True, False, False]
    assert exits.tolist() == [False, False, False, False, False, True, False]


def test_volume_filter_blocks_entry_on_quiet_bar():
    close = [1, 1, 1, 2, 1, 1, 2]
    quiet = bars_from(close, [10, 10, 10, 10, 10, 10, 10])
    loud = bars_from(close, [10, 10, 10, 10, 10, 10, 40])
    e_quiet, _ = sma_cross(quiet, window=3, vol_mult=1.5)
    e_loud, _ = sma_cross(loud, window=3, vol_mult=1.5)
    assert not e_quiet.any()
    # bar 6: volume 40 > 1.5 * mean(10, 10, 40) = 30
    assert e_loud.tolist() == [False] * 6 + [True]


def test_no_signal_before_the_sma_exists():
    df = bars_from([1, 3, 1, 3, 1, 3, 1, 3])
    entries, exits = sma_cross(df, window=4)
    assert not entries[:4].any() and not exits[:4].any()


@pytest.mark.parametrize(
    "path",
    ["binance/BTC-USDT_1h.parquet", "binanceus/BTC-USDC_1m.parquet", "upbit/ETH-KRW_15m.parquet"],
)
@pytest.mark.parametrize(("window", "vol_mult"), [(20, 0.0), (20, 1.5), (7, 1.0)])
def test_signals_equal_plain_rule_on_real_candles(real_data_dir, path, window, vol_mult):
    df = pd.read_parquet(real_data_dir / path).set_index("timestamp")
    entries, exits = sma_cross(df, window=window, vol_mult=vol_mult)
    want_e, want_x = plain_signals(df, window, vol_mult)
    assert entries.sum() > 10
    np.testing.assert_array_equal(entries, want_e)
    np.testing.assert_array_equal(exits, want_x)


def test_rolling_mean_is_bit_identical_to_pandas_on_flat_runs(real_data_dir):
    # BTC-USDC on Binance.US is 43 % zero-volume flat bars: ties close == SMA are common
    df = pd.read_parquet(real_data_dir / "binanceus/BTC-USDC_1m.parquet")
    for window in (5, 20, 60):
        ours = rolling_mean_nb(df["close"].to_numpy(), window)
        theirs = df["close"].rolling(window).mean().to_numpy()
        assert np.array_equal(ours, theirs, equal_nan=True)
    ties = (df["close"] == df["close"].rolling(20).mean()).sum()
    assert ties > 100  # 280 exact ties on this file


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(1.0, 2.0), min_size=12, max_size=60),
    st.integers(2, 8),
    st.data(),
)
def test_signals_up_to_t_ignore_later_bars(closes, window, data):
    df = bars_from(closes, [1.0 + (i % 3) for i in range(len(closes))])
    t = data.draw(st.integers(0, len(closes) - 2))
    changed = df.copy()
    noise = data.draw(
        st.lists(st.floats(0.5, 3.0), min_size=len(df) - t - 1, max_size=len(df) - t - 1)
    )
    changed.iloc[t + 1 :, changed.columns.get_loc("close")] = noise
    changed.iloc[t + 1 :, changed.columns.get_loc("volume")] = [v * 7 for v in noise]
    a = sma_cross(df, window=window, vol_mult=1.2)
    b = sma_cross(changed, window=window, vol_mult=1.2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[: t + 1], y[: t + 1])
