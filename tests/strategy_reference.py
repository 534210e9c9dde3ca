"""Plain-Python reference implementations of the two inherited strategies.

Written from the rule text (``docs/strategies.md`` and the predecessor's algorithm as described
in the legacy fact sheet §1.2–1.3), not from ``coinbt/strategies/_nb.py``: one loop over bars,
Python floats, every bin visited for every candle, the bin edges from ``numpy.linspace`` and the
midpoint bin from ``bisect`` (the predecessor used ``np.searchsorted(..., side="right") - 1``).
Clarity over speed. The tests compare the numba kernels with these, decision for decision.

Arithmetic is spelled out in the order the documentation gives, so both implementations compute
the same floating-point numbers:

* overlap share ``(overlap_end - overlap_start) * (volume / candle_height)`` (the predecessor
  wrote ``volume * (overlap / height)``: the same number up to rounding);
* ``total`` = bin volumes added from the top bin down, and the running sum from the top in the
  same order, compared with ``total * top_percentile``;
* breakout level ``resistance * (1 + breakout_buffer)``.
"""

from __future__ import annotations

import bisect
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from hypothesis import strategies as st


class ReferenceSignals(NamedTuple):
    entries: list[bool]
    confidence: list[float]  # NaN where there is no entry
    level: list[float]  # vol_ma (volume_long_candle) or resistance (volume_zone_breakout)


def _columns(bars: pd.DataFrame) -> tuple[list[float], ...]:
    return tuple(bars[c].astype(float).tolist() for c in ("open", "high", "low", "close", "volume"))


# ------------------------------------------------------------------------------------------------
# volume_long_candle
# ------------------------------------------------------------------------------------------------


def volume_long_candle_reference(
    bars: pd.DataFrame,
    vol_ma_window: int = 20,
    vol_multiplier: float = 1.5,
    body_pct: float = 0.02,
) -> ReferenceSignals:
    """The rule of ``docs/strategies.md`` bar by bar; the volume mean is pandas' rolling mean."""
    open_, high, low, close, volume = _columns(bars)
    n = len(close)
    # full windows only (the predecessor used min_periods=1)
    vol_ma = bars["volume"].astype(float).rolling(vol_ma_window).mean().tolist()
    entries = [False] * n
    confidence = [math.nan] * n
    for t in range(n):
        if math.isnan(vol_ma[t]):
            continue  # the window is not full yet
        o, h, lo, c, v = open_[t], high[t], low[t], close[t], volume[t]

        # 1-2. volume surge against the mean of the window that ends at t (t included)
        threshold = vol_ma[t] * vol_multiplier
        surge = v > 0.0 and v >= threshold

        # 3. body and wicks as fractions of the open
        body = (c - o) / o
        upper_wick = max(h - c, 0.0) / o
        lower_wick = max(o - lo, 0.0) / o

        # 4. long bullish candle
        long_candle = (
            body >= body_pct and upper_wick < body_pct * 2 and lower_wick < body_pct * 2 and c > o
        )

        # 5. signal
        if surge and long_candle:
            entries[t] = True
            # 6. confidence: half surge strength, half body share of the bar's range
            surge_score = 1.0 - threshold / v
            body_share = min(max((c - o) / (h - lo), 0.0), 1.0)
            confidence[t] = 0.5 * surge_score + 0.5 * body_share
    return ReferenceSignals(entries, confidence, vol_ma)


# ------------------------------------------------------------------------------------------------
# volume_zone_breakout
# ------------------------------------------------------------------------------------------------


def volume_profile_resistance(
    opens: list[float],
    highs: list[float],
    lows: list[float],
    closes: list[float],
    volumes: list[float],
    top_percentile: float,
    num_bins: int,
    include_wicks: bool,
) -> tuple[float, float] | None:
    """(resistance, pmax − pmin) of one window of candles, or None when it has none."""
    # 2. each candle's price span
    spans = []
    for o, h, lo, c in zip(opens, highs, lows, closes, strict=True):
        if include_wicks:
            spans.append((lo, h))
        else:
            spans.append((min(o, c), max(o, c)))

    # 3. the profile's price range (without wicks: lowest body low, highest body high)
    price_min = min(s[0] for s in spans)
    price_max = max(s[1] for s in spans)
    if price_min == price_max:
        return None  # flat window

    # 4. num_bins equal-width bins
    edges = np.linspace(price_min, price_max, num_bins + 1).tolist()

    # 5. spread every candle's volume over the bins by overlap
    bin_volume = [0.0] * num_bins
    for (candle_low, candle_high), volume in zip(spans, volumes, strict=True):
        height = candle_high - candle_low
        if height == 0:
            center = (candle_low + candle_high) / 2
            j = bisect.bisect_right(edges, center) - 1
            j = max(0, min(j, num_bins - 1))
            bin_volume[j] += volume
            continue
        for j in range(num_bins):
            bin_start, bin_end = edges[j], edges[j + 1]
            overlap_start = candle_low if candle_low > bin_start else bin_start  # max
            overlap_end = candle_high if candle_high < bin_end else bin_end  # min
            if overlap_start < overlap_end:
                bin_volume[j] += (overlap_end - overlap_start) * (volume / height)

    # 6. walk down from the top bin until the running volume reaches the share
    total = 0.0
    for j in reversed(range(num_bins)):
        total += bin_volume[j]
    if total == 0:
        return None  # no volume traded in the window
    threshold = total * top_percentile
    cumulative = 0.0
    for j in reversed(range(num_bins)):
        cumulative += bin_volume[j]
        if cumulative >= threshold:
            return edges[j], price_max - price_min
    return max(highs), price_max - price_min  # fallback (unreachable while top_percentile <= 1)


def volume_zone_breakout_reference(
    bars: pd.DataFrame,
    volume_window: int = 10,
    top_percentile: float = 0.2,
    breakout_buffer: float = 0.0,
    num_bins: int = 20,
    include_wicks: bool = True,
) -> ReferenceSignals:
    """The per-window volume-profile breakout, one bar at a time."""
    open_, high, low, close, volume = _columns(bars)
    n = len(close)
    entries = [False] * n
    confidence = [math.nan] * n
    resistance = [math.nan] * n
    for i in range(volume_window, n):
        # 1. the window: the volume_window bars strictly before i
        w = slice(i - volume_window, i)
        found = volume_profile_resistance(
            open_[w],
            high[w],
            low[w],
            close[w],
            volume[w],
            top_percentile,
            num_bins,
            include_wicks,
        )
        if found is None:
            continue
        level_price, price_range = found
        resistance[i] = level_price
        # 7. breakout: the bar's high touches the level
        level = level_price * (1 + breakout_buffer)
        if high[i] >= level:
            entries[i] = True
            # 8. confidence: 0.5 at the level, 1.0 a whole window range above it
            confidence[i] = 0.5 + 0.5 * min((high[i] - level) / price_range, 1.0)
    return ReferenceSignals(entries, confidence, resistance)


# ------------------------------------------------------------------------------------------------
# the predecessor's performance-script data (legacy §1.5)
# ------------------------------------------------------------------------------------------------


def legacy_performance_bars(num_candles: int, seed: int = 42) -> pd.DataFrame:
    """The predecessor's synthetic daily candles, drawn from numpy's legacy global RNG.

    Per bar, in this order: ``change = randn() * 2`` (the price walks from 100 by it);
    ``open = price``; ``close = open + randn() * 1``; on every ``max(1, n // 50)``-th bar except
    bar 0 ``volume = uniform(2000, 3000)`` and the close is replaced by ``open * 1.02`` (index a
    multiple of twice the interval) or ``open * 0.99`` (otherwise), on other bars
    ``volume = uniform(100, 500)``; then ``high = max(open, close) + abs(randn()) * 0.5`` and
    ``low = min(open, close) - abs(randn()) * 0.5``. Daily UTC bars from 2024-01-01.

    The global seed is restored afterwards, so calling this leaves no trace on ``np.random``.
    """
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        interval = max(1, num_candles // 50)
        price = 100.0
        rows = []
        for i in range(num_candles):
            price += np.random.randn() * 2
            open_price = price
            close_price = price + np.random.randn() * 1
            if i % interval == 0 and i > 0:
                volume = np.random.uniform(2000, 3000)
                close_price = open_price * 1.02 if i % (interval * 2) == 0 else open_price * 0.99
            else:
                volume = np.random.uniform(100, 500)
            high_price = max(open_price, close_price) + abs(np.random.randn()) * 0.5
            low_price = min(open_price, close_price) - abs(np.random.randn()) * 0.5
            rows.append((open_price, high_price, low_price, close_price, volume))
    finally:
        np.random.set_state(state)
    idx = pd.date_range("2024-01-01", periods=num_candles, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=idx)


# ------------------------------------------------------------------------------------------------
# small frames for hand-built fixtures and generated cases
# ------------------------------------------------------------------------------------------------


def bars_frame(rows: list[tuple[float, float, float, float, float]]) -> pd.DataFrame:
    """Canonical bars from ``(open, high, low, close, volume)`` rows, hourly from 2024-01-01."""
    idx = pd.date_range("2024-01-01", periods=len(rows), freq="1h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        np.asarray(rows, dtype=np.float64).reshape(len(rows), 5),
        columns=["open", "high", "low", "close", "volume"],
        index=idx,
    )


Row = tuple[float, float, float, float, float]


@st.composite
def bar_rows(draw: st.DrawFn, min_bars: int = 1, max_bars: int = 40) -> list[Row]:
    """Hypothesis: OHLCV rows that provoke the edge cases.

    Prices come either from a grid of exact binary fractions (ties, flat windows, candles of
    zero span, prices exactly on bin edges) or as arbitrary floats; volumes include zeros;
    some bars repeat the previous one or have no range at all.
    """
    n = draw(st.integers(min_bars, max_bars))
    if draw(st.booleans()):
        price = st.integers(0, 12).map(lambda k: 100.0 + 0.5 * k)
        wick = st.sampled_from([0.0, 0.0, 0.5, 1.0])
    else:
        price = st.floats(50.0, 150.0, allow_nan=False, allow_infinity=False)
        wick = st.one_of(st.just(0.0), st.floats(0.0, 5.0, allow_nan=False))
    volume = st.one_of(
        st.just(0.0), st.sampled_from([1.0, 2.5, 10.0]), st.floats(0.0, 1e4, allow_nan=False)
    )
    rows: list[Row] = []
    for _ in range(n):
        kind = draw(st.integers(0, 9))
        if rows and kind == 0:  # repeat the previous bar: flat windows
            rows.append(rows[-1])
        elif kind == 1:  # no range: open = high = low = close
            p = draw(price)
            rows.append((p, p, p, p, draw(volume)))
        else:
            o, c = draw(price), draw(price)
            rows.append((o, max(o, c) + draw(wick), min(o, c) - draw(wick), c, draw(volume)))
    return rows
