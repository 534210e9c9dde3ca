"""Hypothesis strategies: valid OHLC bars, signals and every EngineSettings field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from coinbt.engine.settings import EngineSettings


@dataclass
class Case:
    open_: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    entries: np.ndarray
    exits: np.ndarray
    price_level: float

    @property
    def n(self) -> int:
        return len(self.close)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.open_, self.high, self.low, self.close, self.entries, self.exits


# Prices are whole ticks most of the time, so that ties (low == stop level, open == target,
# close == close) happen; a tick is scaled by a price level from tiny (ADA/BTC) to large (KRW).
PRICE_LEVELS = (5e-5, 0.1, 1.0, 100.0, 30_000.0, 4_000_000.0)


@st.composite
def ohlc_bars(draw: st.DrawFn, n: int, level: float) -> tuple[np.ndarray, ...]:
    """n valid bars: random opens/closes, non-negative wicks, flat bars, gaps at the open."""
    tick = level / 100.0
    # a step is a whole number of ticks; about 100 ticks is the price level
    step = st.integers(-6, 6)
    o = np.empty(n)
    h = np.empty(n)
    lo = np.empty(n)
    c = np.empty(n)
    prev_close = 100
    for t in range(n):
        kind = draw(st.sampled_from(("normal", "normal", "normal", "flat", "gap")))
        if kind == "flat":  # O = H = L = C = previous close, as a no-trade bar
            o[t] = h[t] = lo[t] = c[t] = prev_close * tick
            continue
        open_ticks = prev_close + (draw(st.integers(-15, 15)) if kind == "gap" else 0)
        open_ticks = max(open_ticks, 20)
        close_ticks = max(open_ticks + draw(step), 20)
        up = draw(st.sampled_from((0, 0, 1, 2, 5)))
        down = draw(st.sampled_from((0, 0, 1, 2, 5)))
        o[t] = open_ticks * tick
        c[t] = close_ticks * tick
        h[t] = (max(open_ticks, close_ticks) + up) * tick
        lo[t] = (min(open_ticks, close_ticks) - down) * tick
        if draw(st.booleans()):  # off-grid prices sometimes
            jitter = draw(st.floats(0.0, 0.5, allow_nan=False))
            o[t] += jitter * tick
            c[t] += jitter * tick
            h[t] = max(h[t], o[t], c[t])
        prev_close = close_ticks
    return o, h, lo, c


@st.composite
def signal_array(draw: st.DrawFn, n: int) -> np.ndarray:
    """Booleans, sparse or dense (never, or 1, 3 or 6 bars in 10)."""
    in_ten = draw(st.sampled_from((0, 1, 1, 3, 3, 6)))
    flags = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    return np.array(flags, dtype=np.int64) < in_ten


@st.composite
def cases(draw: st.DrawFn, min_bars: int = 1, max_bars: int = 60) -> Case:
    n = draw(st.integers(min_bars, max_bars))
    level = draw(st.sampled_from(PRICE_LEVELS))
    o, h, lo, c = draw(ohlc_bars(n, level))
    return Case(o, h, lo, c, draw(signal_array(n)), draw(signal_array(n)), level)


def fraction_or_none() -> st.SearchStrategy[float | None]:
    # 0.25, 0.125, 0.5: 1 ± f is exact, so levels land exactly on whole-number prices (ties);
    # 0.001-0.003: below a large slippage, so the level lies beyond the entry bar's open
    return st.one_of(
        st.none(),
        st.sampled_from((0.01, 0.02, 0.05, 0.1, 0.2)),
        st.sampled_from((0.0625, 0.125, 0.25, 0.5)),
        st.sampled_from((0.001, 0.002, 0.003)),
        st.floats(0.001, 0.5, allow_nan=False),
    )


@st.composite
def engine_settings(draw: st.DrawFn, price_level: float = 100.0) -> EngineSettings:
    """Settings drawing every EngineSettings field, scaled to the price level."""
    init_cash = draw(st.sampled_from((1_000.0, 10_000.0)) | st.floats(10.0, 1e7))
    size_type = draw(st.sampled_from(("equity_fraction", "notional", "quantity")))
    typical_qty = init_cash / price_level
    if size_type == "equity_fraction":
        size = draw(st.just(1.0) | st.floats(0.01, 1.0))
    elif size_type == "notional":
        size = init_cash * draw(st.floats(0.01, 1.2))
    else:
        size = typical_qty * draw(st.floats(0.01, 1.2))
    lot_size = draw(
        st.just(0.0) | st.sampled_from((1e-3, 1e-2, 0.1, 0.3, 2.0)).map(typical_qty.__mul__)
    )
    min_notional = draw(st.just(0.0) | st.sampled_from((0.05, 0.3, 0.9)).map(init_cash.__mul__))
    return EngineSettings(
        init_cash=init_cash,
        fill=draw(st.sampled_from(("next_open", "close"))),
        fee_rate=draw(st.sampled_from((0.0, 0.001, 0.00075)) | st.floats(0.0, 0.01)),
        slippage_bps=draw(st.sampled_from((0.0, 0.0, 5.0, 30.0, 100.0)) | st.floats(0.0, 50.0)),
        size_type=size_type,
        size=size,
        lot_size=lot_size,
        min_notional=min_notional,
        hold_bars=draw(st.integers(0, 6)),
        stop_loss=draw(fraction_or_none()),
        take_profit=draw(fraction_or_none()),
        trailing_stop=draw(fraction_or_none()),
        same_bar_priority=draw(st.sampled_from(("stop_loss", "take_profit"))),
        short=draw(st.booleans()),
        close_at_end=draw(st.booleans()),
    )


@st.composite
def cases_with_settings(draw: st.DrawFn, max_bars: int = 60) -> tuple[Case, EngineSettings]:
    case = draw(cases(max_bars=max_bars))
    return case, draw(engine_settings(case.price_level))


@st.composite
def tie_prone_cases(draw: st.DrawFn) -> tuple[Case, EngineSettings]:
    """Whole-number prices near 100 and round fractions without slippage: levels such as
    100 * (1 - 0.05) = 95 land exactly on a low, high or open, so every ``<=``/``>=`` matters."""
    n = draw(st.integers(2, 30))
    price = st.sampled_from((90, 95, 98, 100, 100, 100, 102, 105, 110))
    wick = st.sampled_from((0, 0, 2, 5, 10))
    rows = []
    for _ in range(n):
        o, c = draw(price), draw(price)
        rows.append((o, max(o, c) + draw(wick), min(o, c) - draw(wick), c))
    a = np.array(rows, dtype=np.float64)
    case = Case(
        a[:, 0], a[:, 1], a[:, 2], a[:, 3], draw(signal_array(n)), draw(signal_array(n)), 100.0
    )
    fraction = st.none() | st.sampled_from((0.02, 0.05, 0.1, 0.25))
    settings = EngineSettings(
        fill=draw(st.sampled_from(("next_open", "close"))),
        fee_rate=0.0,
        stop_loss=draw(fraction),
        take_profit=draw(fraction),
        trailing_stop=draw(fraction),
        same_bar_priority=draw(st.sampled_from(("stop_loss", "take_profit"))),
        short=draw(st.booleans()),
    )
    return case, settings
