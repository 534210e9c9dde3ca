"""An independent, plain-Python reference implementation of ``docs/engine.md``.

It was written from the rule book alone (not from ``coinbt/engine/_nb.py``), so that the
test suite can compare two implementations of the same contract. Clarity over speed: one
Python loop over bars, Python floats, one small method per rule, numpy arrays built at the end.

Where the rule book leaves room for reading, the most literal reading is taken; the choices
are marked ``LITERAL:`` below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coinbt.engine.enums import (
    ENTRY_STATUS_NAMES,
    EXIT_END_OF_DATA,
    EXIT_HOLD_BARS,
    EXIT_SIGNAL,
    EXIT_STOP_LOSS,
    EXIT_TAKE_PROFIT,
    EXIT_TRAILING_STOP,
    EXPIRED_END_OF_DATA,
    FILLED,
    IGNORED_IN_POSITION,
    NO_SIGNAL,
    REJECTED_INSUFFICIENT_CASH,
    REJECTED_MIN_NOTIONAL,
    REJECTED_ZERO_QUANTITY,
)
from coinbt.engine.records import open_position_dt, trade_dt
from coinbt.engine.settings import EngineSettings

LONG = 1
SHORT = -1


@dataclass
class ReferenceResult:
    """Same attributes as the engine's result."""

    trades: np.ndarray
    open_position: np.ndarray
    cash: np.ndarray
    position_value: np.ndarray
    equity: np.ndarray
    entry_status: np.ndarray
    status_counts: dict[str, int]


@dataclass
class _Position:
    side: int  # +1 long, -1 short
    quantity: float
    entry_bar: int  # the bar of the entry fill
    entry_raw: float  # raw price before slippage
    entry_price: float  # fill price after slippage (E)
    entry_fee: float
    extreme: float  # peak P (long) or trough T (short); starts at E
    entered_at_open: bool  # True when the fill was at the open of entry_bar (step A)


class _Reference:
    def __init__(self, settings: EngineSettings, n: int) -> None:
        self.settings = settings
        self.s = settings.slippage_bps / 10000.0
        self.side = SHORT if settings.short else LONG
        self.next_open = settings.fill == "next_open"
        self.cash = float(settings.init_cash)
        self.position: _Position | None = None
        self.trades: list[tuple] = []
        self.entry_status = [NO_SIGNAL] * n
        self.cash_out = [0.0] * n
        self.value_out = [0.0] * n
        self.equity_out = [0.0] * n

    # --- prices ---------------------------------------------------------------------------

    def buy_fill(self, raw: float) -> float:
        return raw * (1.0 + self.s)

    def sell_fill(self, raw: float) -> float:
        return raw * (1.0 - self.s)

    # --- sizing and the entry fill (steps 1-6) --------------------------------------------

    def enter(self, raw: float, bar: int, at_open: bool) -> int:
        """Try to open a position at raw price ``raw``; return the entry status code."""
        st = self.settings
        fill = self.buy_fill(raw) if self.side == LONG else self.sell_fill(raw)
        cash = self.cash
        # 1. quantity
        if st.size_type == "equity_fraction":
            qty = st.size * cash / (fill * (1.0 + st.fee_rate))
        elif st.size_type == "notional":
            qty = st.size / fill
        elif st.size_type == "quantity":
            qty = st.size
        else:  # pragma: no cover - EngineSettings validates
            raise ValueError(st.size_type)
        # 2. lot size
        if st.lot_size > 0:
            # a quotient a hair below a whole number of lots (0.3 / 0.1) still buys that many
            qty = math.floor(qty / st.lot_size * (1 + 1e-12)) * st.lot_size
        # 3. zero quantity
        if qty <= 0:
            return REJECTED_ZERO_QUANTITY
        # 4. min notional
        notional = qty * fill
        if notional < st.min_notional:
            return REJECTED_MIN_NOTIONAL
        # 5. cash
        fee = notional * st.fee_rate
        if cash <= 0 or notional + fee > cash * (1.0 + 1e-9):
            return REJECTED_INSUFFICIENT_CASH
        # 6. fill
        if self.side == LONG:
            self.cash = cash - (notional + fee)
        else:
            self.cash = cash + (notional - fee)
        self.position = _Position(
            side=self.side,
            quantity=qty,
            entry_bar=bar,
            entry_raw=raw,
            entry_price=fill,
            entry_fee=fee,
            extreme=fill,
            entered_at_open=at_open,
        )
        return FILLED

    # --- the exit fill ----------------------------------------------------------------------

    def exit(self, raw: float, bar: int, reason: int) -> None:
        pos = self.position
        assert pos is not None
        fee_rate = self.settings.fee_rate
        qty = pos.quantity
        if pos.side == LONG:
            fill_x = self.sell_fill(raw)
            fee_x = qty * fill_x * fee_rate
            self.cash = self.cash + (qty * fill_x - fee_x)
        else:
            fill_x = self.buy_fill(raw)
            fee_x = qty * fill_x * fee_rate
            self.cash = self.cash - (qty * fill_x + fee_x)
        gross = pos.side * qty * (fill_x - pos.entry_price)
        net = gross - pos.entry_fee - fee_x
        slippage_cost = qty * abs(pos.entry_price - pos.entry_raw) + qty * abs(fill_x - raw)
        self.trades.append(
            (
                pos.entry_bar,
                bar,
                pos.side,
                pos.entry_price,
                fill_x,
                qty,
                pos.entry_fee,
                fee_x,
                slippage_cost,
                gross,
                net,
                net / (qty * pos.entry_price),
                bar - pos.entry_bar,
                reason,
            )
        )
        self.position = None

    # --- step B: stops inside the bar -------------------------------------------------------

    def stop_levels(self) -> tuple[float | None, int, float | None]:
        """(stop level or None, its reason, take-profit level or None) for the open position."""
        st = self.settings
        pos = self.position
        assert pos is not None
        e = pos.entry_price
        sl_level = tr_level = tp_level = None
        if pos.side == LONG:
            if st.stop_loss is not None:
                sl_level = e * (1.0 - st.stop_loss)
            if st.trailing_stop is not None:
                tr_level = pos.extreme * (1.0 - st.trailing_stop)
            if st.take_profit is not None:
                tp_level = e * (1.0 + st.take_profit)
            trailing_wins = tr_level is not None and (sl_level is None or tr_level > sl_level)
        else:
            if st.stop_loss is not None:
                sl_level = e * (1.0 + st.stop_loss)
            if st.trailing_stop is not None:
                tr_level = pos.extreme * (1.0 + st.trailing_stop)
            if st.take_profit is not None:
                tp_level = e * (1.0 - st.take_profit)
            trailing_wins = tr_level is not None and (sl_level is None or tr_level < sl_level)
        if trailing_wins:
            return tr_level, EXIT_TRAILING_STOP, tp_level
        return sl_level, EXIT_STOP_LOSS, tp_level

    def check_stops(self, t: int, o: float, h: float, lo: float) -> None:
        pos = self.position
        assert pos is not None
        stop, stop_reason, target = self.stop_levels()
        long = pos.side == LONG
        # 1. gap rule (also on the entry bar: with slippage beyond the stop distance the level
        #    lies past the open, and the open is the price the exit gets)
        if stop is not None and (o <= stop if long else o >= stop):
            self.exit(o, t, stop_reason)
            return
        if target is not None and (o >= target if long else o <= target):
            self.exit(o, t, EXIT_TAKE_PROFIT)
            return
        # 2. inside the bar
        hit_stop = stop is not None and (lo <= stop if long else h >= stop)
        hit_target = target is not None and (h >= target if long else lo <= target)
        if hit_stop and hit_target:
            if self.settings.same_bar_priority == "stop_loss":
                self.exit(stop, t, stop_reason)
            else:
                self.exit(target, t, EXIT_TAKE_PROFIT)
            return
        if hit_stop:
            self.exit(stop, t, stop_reason)
            return
        if hit_target:
            self.exit(target, t, EXIT_TAKE_PROFIT)
            return
        # 3. no exit: update the peak / trough
        pos.extreme = max(pos.extreme, h) if long else min(pos.extreme, lo)

    # --- step D -----------------------------------------------------------------------------

    def mark(self, t: int, c: float) -> None:
        pos = self.position
        value = 0.0 if pos is None else pos.side * pos.quantity * c
        self.cash_out[t] = self.cash
        self.value_out[t] = value
        self.equity_out[t] = self.cash + value

    # --- the loop ---------------------------------------------------------------------------

    def run(self, o, h, lo, c, entries, exits) -> None:
        st = self.settings
        n = len(o)
        pending_entry: int | None = None  # the signal bar of a pending entry
        pending_exit: int | None = None  # the reason of a pending exit
        for t in range(n):
            # A. pending orders at the open (next_open only)
            if self.next_open:
                assert pending_entry is None or pending_exit is None
                if pending_exit is not None:
                    self.exit(o[t], t, pending_exit)
                    pending_exit = None
                elif pending_entry is not None:
                    self.entry_status[pending_entry] = self.enter(o[t], t, at_open=True)
                    pending_entry = None
            # B. stops inside the bar
            if self.position is not None:
                self.check_stops(t, o[t], h[t], lo[t])
            # C. decisions at the close
            held = self.position is not None
            if held:
                pos = self.position
                reason = None
                if exits[t]:
                    reason = EXIT_SIGNAL
                elif st.hold_bars > 0:
                    elapsed = (t + 1 - pos.entry_bar) if self.next_open else (t - pos.entry_bar)
                    if elapsed >= st.hold_bars:
                        reason = EXIT_HOLD_BARS
                if reason is not None:
                    if self.next_open:
                        pending_exit = reason  # LITERAL: never fills on the last bar
                    else:
                        self.exit(c[t], t, reason)
            if entries[t]:
                if held:
                    self.entry_status[t] = IGNORED_IN_POSITION
                elif self.next_open:
                    if t == n - 1:
                        self.entry_status[t] = EXPIRED_END_OF_DATA
                    else:
                        pending_entry = t
                else:
                    self.entry_status[t] = self.enter(c[t], t, at_open=False)
            # D. marking
            self.mark(t, c[t])
        # after the last bar
        if n > 0 and self.position is not None and st.close_at_end:
            # LITERAL: also when an exit signal is pending, the reason is end_of_data
            self.exit(c[n - 1], n - 1, EXIT_END_OF_DATA)
            self.mark(n - 1, c[n - 1])

    def result(self, c) -> ReferenceResult:
        trades = np.array(self.trades, dtype=trade_dt) if self.trades else np.zeros(0, trade_dt)
        if self.position is not None:
            pos = self.position
            mark_price = c[-1]
            open_position = np.array(
                [
                    (
                        pos.entry_bar,
                        pos.side,
                        pos.entry_price,
                        pos.quantity,
                        pos.entry_fee,
                        pos.quantity * abs(pos.entry_price - pos.entry_raw),
                        mark_price,
                        pos.side * pos.quantity * (mark_price - pos.entry_price) - pos.entry_fee,
                    )
                ],
                dtype=open_position_dt,
            )
        else:
            open_position = np.zeros(0, open_position_dt)
        entry_status = np.array(self.entry_status, dtype=np.int8)
        status_counts = {
            name: int(np.count_nonzero(entry_status == code))
            for code, name in enumerate(ENTRY_STATUS_NAMES)
        }
        return ReferenceResult(
            trades=trades,
            open_position=open_position,
            cash=np.array(self.cash_out, dtype=np.float64),
            position_value=np.array(self.value_out, dtype=np.float64),
            equity=np.array(self.equity_out, dtype=np.float64),
            entry_status=entry_status,
            status_counts=status_counts,
        )


def reference_simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    settings: EngineSettings,
) -> ReferenceResult:
    """Simulate one symbol by the rules of ``docs/engine.md``, one bar at a time.

    Parameters
    ----------
    open_, high, low, close : array of float
        Valid OHLC bars, all of length n.
    entries, exits : array of bool
        Decisions taken at the close of each bar.
    settings : EngineSettings
        Every simulation choice.

    Returns
    -------
    ReferenceResult
        ``trades`` (trade_dt, in exit order), ``open_position`` (open_position_dt, length 0
        or 1), ``cash``/``position_value``/``equity`` after each bar, ``entry_status`` (int8,
        -1 where there is no entry signal) and ``status_counts``.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in (open_, high, low, close)]
    n = len(arrays[0])
    sig = [np.asarray(a, dtype=bool) for a in (entries, exits)]
    if any(len(a) != n for a in (*arrays, *sig)):
        raise ValueError("all inputs must have the same length")
    o, h, lo, c = (a.tolist() for a in arrays)
    ent, ext = (a.tolist() for a in sig)
    ref = _Reference(settings, n)
    ref.run(o, h, lo, c, ent, ext)
    return ref.result(c)
