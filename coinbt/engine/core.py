"""Public wrapper around the simulation kernel: validate, convert, call, re-wrap."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from coinbt.engine._nb import position_value_nb, simulate_nb
from coinbt.engine.enums import (
    ENTRY_STATUS_NAMES,
    FILL_MODES,
    NO_SIGNAL,
    SAME_BAR_PRIORITIES,
    SIZE_TYPES,
)
from coinbt.engine.records import trade_dt
from coinbt.engine.settings import EngineSettings
from coinbt.errors import ConfigError


@dataclass(frozen=True)
class SimResult:
    """Raw simulation output.

    Attributes
    ----------
    trades : ndarray of ``trade_dt``
        Closed trades in exit order.
    open_position : ndarray of ``open_position_dt``
        The position still open after the last bar (length 0 or 1).
    equity : ndarray of float64
        Equity after each bar's close (cash + marked position), quote currency.
    entry_status : ndarray of int8
        Outcome of the entry signal of each bar (−1: no signal), see ``enums``.
    close : ndarray of float64
        The close prices the position was marked at.
    position_value, cash : ndarray of float64
        Signed position value and cash after each bar's close, derived on first use from the
        trade records (``position_value``) and ``equity − position_value`` (``cash``).
    """

    trades: np.ndarray
    open_position: np.ndarray
    equity: np.ndarray
    entry_status: np.ndarray
    close: np.ndarray

    @cached_property
    def position_value(self) -> np.ndarray:
        return position_value_nb(self.trades, self.open_position, self.close)

    @cached_property
    def cash(self) -> np.ndarray:
        return self.equity - self.position_value

    @property
    def exposure_bars(self) -> int:
        """Bars at whose close a position was open."""
        held = int((self.trades["exit_bar"] - self.trades["entry_bar"]).sum())
        if len(self.open_position):
            held += len(self.equity) - int(self.open_position["entry_bar"][0])
        return held

    @property
    def status_counts(self) -> dict[str, int]:
        """How many entry signals ended in each status."""
        counts = np.bincount(self.entry_status[self.entry_status >= 0], minlength=6)
        return {name: int(counts[i]) for i, name in enumerate(ENTRY_STATUS_NAMES)}


def _prices(name: str, values: object, n: int | None) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be one-dimensional, got shape {arr.shape}", field=name)
    if n is not None and arr.shape[0] != n:
        raise ConfigError(
            f"{name} has {arr.shape[0]} bars but close has {n}; all inputs must be aligned",
            field=name,
        )
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ConfigError(
            f"{name} has a non-finite value at bar {bad}; validate the bars first", field=name
        )
    return arr


def _signals(name: str, values: object, n: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype != np.bool_:
        raise ConfigError(
            f"{name} must be a boolean array (True where the rule fires), got dtype {arr.dtype}",
            field=name,
        )
    if arr.shape != (n,):
        raise ConfigError(f"{name} must have {n} bars, got shape {arr.shape}", field=name)
    return np.ascontiguousarray(arr)


def simulate(
    open_: object,
    high: object,
    low: object,
    close: object,
    entries: object,
    exits: object,
    settings: EngineSettings | None = None,
) -> SimResult:
    """Run the simulation of ``docs/engine.md`` on one symbol.

    Parameters
    ----------
    open_, high, low, close : array-like of float
        Bar prices, aligned, finite.
    entries, exits : array-like of bool
        Decisions taken at each bar's close.
    settings : EngineSettings, optional
        Fills, costs, sizing and exits; defaults to ``EngineSettings()``.

    Returns
    -------
    SimResult

    Notes
    -----
    A decision at bar t fills at bar t+1's open unless ``settings.fill == "close"``; nothing at
    bar t reads any later bar.
    """
    s = settings or EngineSettings()
    close_a = _prices("close", close, None)
    n = close_a.shape[0]
    open_a = _prices("open", open_, n)
    high_a = _prices("high", high, n)
    low_a = _prices("low", low, n)
    entries_a = _signals("entries", entries, n)
    equity = np.empty(n, dtype=np.float64)
    status = np.full(n, NO_SIGNAL, dtype=np.int8)
    # every closed trade needs a filled entry signal: the signal count bounds the records
    trades = np.empty(int(np.count_nonzero(entries_a)), dtype=trade_dt)
    n_trades, open_pos = simulate_nb(
        open_a,
        high_a,
        low_a,
        close_a,
        entries_a,
        _signals("exits", exits, n),
        equity,
        status,
        trades,
        s.init_cash,
        FILL_MODES[s.fill],
        s.fee_rate,
        s.slippage_bps / 10_000.0,
        SIZE_TYPES[s.size_type],
        s.size,
        s.lot_size,
        s.min_notional,
        s.hold_bars,
        s.stop_loss or 0.0,
        s.take_profit or 0.0,
        s.trailing_stop or 0.0,
        SAME_BAR_PRIORITIES[s.same_bar_priority],
        s.short,
        s.close_at_end,
    )
    return SimResult(trades[:n_trades].copy(), open_pos, equity, status, close_a)
