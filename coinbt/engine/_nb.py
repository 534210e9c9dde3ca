"""Numba kernel of the single-symbol simulation (rules: ``docs/engine.md``).

Arrays and scalars in, structured records and arrays out. Business outcomes (rejected orders,
ignored signals) are integer status codes, never exceptions.
"""

import numpy as np
from numba import njit

from coinbt.engine.enums import (
    EXIT_END_OF_DATA,
    EXIT_HOLD_BARS,
    EXIT_SIGNAL,
    EXIT_STOP_LOSS,
    EXIT_TAKE_PROFIT,
    EXIT_TRAILING_STOP,
    EXPIRED_END_OF_DATA,
    FILL_NEXT_OPEN,
    FILLED,
    IGNORED_IN_POSITION,
    PRIORITY_STOP_LOSS,
    REJECTED_INSUFFICIENT_CASH,
    REJECTED_MIN_NOTIONAL,
    REJECTED_ZERO_QUANTITY,
    SIZE_EQUITY_FRACTION,
    SIZE_NOTIONAL,
)
from coinbt.engine.records import open_position_dt

CASH_TOLERANCE = 1e-9
LOT_TOLERANCE = 1e-12


@njit(cache=True, nogil=True)
def entry_quantity_nb(fill, cash, fee_rate, size_type, size, lot_size):
    """Quantity an entry at ``fill`` buys before the order checks."""
    if size_type == SIZE_EQUITY_FRACTION:
        qty = size * cash / (fill * (1.0 + fee_rate))
    elif size_type == SIZE_NOTIONAL:
        qty = size / fill
    else:
        qty = size
    if lot_size > 0.0:
        # 0.3 / 0.1 = 2.9999999999999996 must still be 3 lots
        qty = np.floor(qty / lot_size * (1.0 + LOT_TOLERANCE)) * lot_size
    return qty


@njit(cache=True, nogil=True)
def order_status_nb(qty, fill, cash, fee_rate, min_notional):
    """Status of an entry of ``qty`` at ``fill``: FILLED or a rejection code."""
    if not qty > 0.0:
        return REJECTED_ZERO_QUANTITY
    notional = qty * fill
    if notional < min_notional:
        return REJECTED_MIN_NOTIONAL
    if cash <= 0.0 or notional + notional * fee_rate > cash * (1.0 + CASH_TOLERANCE):
        return REJECTED_INSUFFICIENT_CASH
    return FILLED


@njit(cache=True, nogil=True)
def stop_exit_nb(side, entry_price, extreme, o, h, lo, sl, tp, tr, priority):
    """Check the stops of an open position inside one bar.

    Returns ``(reason, raw_price)``; reason −1 means no exit. ``extreme`` is the peak (long)
    or trough (short) before this bar.
    """
    has_stop = False
    stop = 0.0
    stop_reason = EXIT_STOP_LOSS
    if side > 0:
        if sl > 0.0:
            stop = entry_price * (1.0 - sl)
            has_stop = True
        if tr > 0.0:
            trail = extreme * (1.0 - tr)
            if not has_stop or trail > stop:
                stop = trail
                stop_reason = EXIT_TRAILING_STOP
            has_stop = True
        has_target = tp > 0.0
        target = entry_price * (1.0 + tp)
        if has_stop and o <= stop:
            return stop_reason, o
        if has_target and o >= target:
            return EXIT_TAKE_PROFIT, o
        hit_stop = has_stop and lo <= stop
        hit_target = has_target and h >= target
    else:
        if sl > 0.0:
            stop = entry_price * (1.0 + sl)
            has_stop = True
        if tr > 0.0:
            trail = extreme * (1.0 + tr)
            if not has_stop or trail < stop:
                stop = trail
                stop_reason = EXIT_TRAILING_STOP
            has_stop = True
        has_target = tp > 0.0
        target = entry_price * (1.0 - tp)
        if has_stop and o >= stop:
            return stop_reason, o
        if has_target and o <= target:
            return EXIT_TAKE_PROFIT, o
        hit_stop = has_stop and h >= stop
        hit_target = has_target and lo <= target
    if hit_stop and hit_target:
        if priority == PRIORITY_STOP_LOSS:
            return stop_reason, stop
        return EXIT_TAKE_PROFIT, target
    if hit_stop:
        return stop_reason, stop
    if hit_target:
        return EXIT_TAKE_PROFIT, target
    return -1, 0.0


@njit(cache=True, nogil=True)
def open_position_nb(
    raw, direction, cash, fee_rate, slippage, size_type, size, lot_size, min_notional
):
    """Try to open a position at raw price ``raw``.

    Returns ``(status, cash, qty, fill_price, fee, slippage_cost)``.
    """
    if direction > 0:
        fill = raw * (1.0 + slippage)
    else:
        fill = raw * (1.0 - slippage)
    qty = entry_quantity_nb(fill, cash, fee_rate, size_type, size, lot_size)
    status = order_status_nb(qty, fill, cash, fee_rate, min_notional)
    if status != FILLED:
        return status, cash, 0.0, 0.0, 0.0, 0.0
    notional = qty * fill
    fee = notional * fee_rate
    if direction > 0:
        cash -= notional + fee
    else:
        cash += notional - fee
    return status, cash, qty, fill, fee, qty * abs(fill - raw)


@njit(cache=True, nogil=True)
def close_position_nb(
    trades,
    n_trades,
    cash,
    raw,
    bar,
    reason,
    fee_rate,
    slippage,
    side,
    qty,
    entry_price,
    entry_fee,
    entry_slip,
    entry_bar,
):
    """Close the position at raw price ``raw`` and write its record at ``trades[n_trades]``.

    Returns ``(n_trades + 1, cash)``.
    """
    if side > 0:
        fill = raw * (1.0 - slippage)
    else:
        fill = raw * (1.0 + slippage)
    notional = qty * fill
    fee = notional * fee_rate
    if side > 0:
        cash += notional - fee
    else:
        cash -= notional + fee
    gross = side * qty * (fill - entry_price)
    net = gross - entry_fee - fee
    rec = trades[n_trades]
    rec["entry_bar"] = entry_bar
    rec["exit_bar"] = bar
    rec["side"] = side
    rec["entry_price"] = entry_price
    rec["exit_price"] = fill
    rec["quantity"] = qty
    rec["entry_fee"] = entry_fee
    rec["exit_fee"] = fee
    rec["slippage_cost"] = entry_slip + qty * abs(fill - raw)
    rec["gross_pnl"] = gross
    rec["net_pnl"] = net
    rec["return"] = net / (qty * entry_price)
    rec["bars_held"] = bar - entry_bar
    rec["exit_reason"] = reason
    return n_trades + 1, cash


@njit(cache=True, nogil=True)
def simulate_nb(
    open_,
    high,
    low,
    close,
    entries,
    exits,
    equity_out,
    entry_status,
    trades,
    init_cash,
    fill_mode,
    fee_rate,
    slippage,
    size_type,
    size,
    lot_size,
    min_notional,
    hold_bars,
    stop_loss,
    take_profit,
    trailing_stop,
    priority,
    short,
    close_at_end,
):
    """Simulate one symbol bar by bar (steps A-D of ``docs/engine.md``).

    Writes the equity after each bar's close into ``equity_out``, the outcome of each entry
    signal into ``entry_status`` and closed trades into ``trades`` (all allocated by the caller:
    ``entry_status`` filled with ``NO_SIGNAL``, ``trades`` with room for one record per entry
    signal, an upper bound), and returns ``(n_trades, open_position)``. Cash and position value are not
    stored per bar: they follow from the trade records (:func:`position_value_nb`).
    ``slippage`` is a fraction (bps / 1e4); disabled stops are 0.
    """
    n = close.shape[0]
    n_trades = 0

    direction = -1 if short else 1
    next_open = fill_mode == FILL_NEXT_OPEN
    any_stop = stop_loss > 0.0 or take_profit > 0.0 or trailing_stop > 0.0
    cash = init_cash
    side = 0  # +1 long, -1 short, 0 flat
    qty = 0.0
    entry_price = 0.0
    entry_fee = 0.0
    entry_slip = 0.0
    entry_bar = -1
    extreme = 0.0  # peak (long) or trough (short) since entry, before the current bar
    pending_entry = -1  # signal bar of an entry waiting for the next open
    pending_exit = -1  # exit reason waiting for the next open

    for t in range(n):
        # A. pending orders at the open
        if pending_exit >= 0:
            n_trades, cash = close_position_nb(
                trades,
                n_trades,
                cash,
                open_[t],
                t,
                pending_exit,
                fee_rate,
                slippage,
                side,
                qty,
                entry_price,
                entry_fee,
                entry_slip,
                entry_bar,
            )
            side = 0
            pending_exit = -1
        elif pending_entry >= 0:
            status, cash, q, fill, fee, slip_cost = open_position_nb(
                open_[t],
                direction,
                cash,
                fee_rate,
                slippage,
                size_type,
                size,
                lot_size,
                min_notional,
            )
            entry_status[pending_entry] = status
            pending_entry = -1
            if status == FILLED:
                side, qty, entry_price, entry_fee, entry_slip = direction, q, fill, fee, slip_cost
                entry_bar = t
                extreme = fill

        # B. stops inside the bar
        if side != 0 and any_stop:
            reason, raw = stop_exit_nb(
                side,
                entry_price,
                extreme,
                open_[t],
                high[t],
                low[t],
                stop_loss,
                take_profit,
                trailing_stop,
                priority,
            )
            if reason >= 0:
                n_trades, cash = close_position_nb(
                    trades,
                    n_trades,
                    cash,
                    raw,
                    t,
                    reason,
                    fee_rate,
                    slippage,
                    side,
                    qty,
                    entry_price,
                    entry_fee,
                    entry_slip,
                    entry_bar,
                )
                side = 0
            elif side > 0:
                extreme = max(extreme, high[t])
            else:
                extreme = min(extreme, low[t])

        # C. decisions at the close
        held = side != 0
        if held:
            reason = -1
            if exits[t]:
                reason = EXIT_SIGNAL
            elif hold_bars > 0 and t + (1 if next_open else 0) - entry_bar >= hold_bars:
                reason = EXIT_HOLD_BARS
            if reason >= 0:
                if next_open:
                    if t < n - 1:
                        pending_exit = reason
                else:
                    n_trades, cash = close_position_nb(
                        trades,
                        n_trades,
                        cash,
                        close[t],
                        t,
                        reason,
                        fee_rate,
                        slippage,
                        side,
                        qty,
                        entry_price,
                        entry_fee,
                        entry_slip,
                        entry_bar,
                    )
                    side = 0
        if entries[t]:
            if held:
                entry_status[t] = IGNORED_IN_POSITION
            elif next_open:
                if t == n - 1:
                    entry_status[t] = EXPIRED_END_OF_DATA
                else:
                    pending_entry = t
            else:
                status, cash, q, fill, fee, slip_cost = open_position_nb(
                    close[t],
                    direction,
                    cash,
                    fee_rate,
                    slippage,
                    size_type,
                    size,
                    lot_size,
                    min_notional,
                )
                entry_status[t] = status
                if status == FILLED:
                    side, qty, entry_price, entry_fee, entry_slip = (
                        direction,
                        q,
                        fill,
                        fee,
                        slip_cost,
                    )
                    entry_bar = t
                    extreme = fill

        # D. marking at the close
        equity_out[t] = cash + side * qty * close[t]

    if side != 0 and close_at_end and n > 0:
        n_trades, cash = close_position_nb(
            trades,
            n_trades,
            cash,
            close[n - 1],
            n - 1,
            EXIT_END_OF_DATA,
            fee_rate,
            slippage,
            side,
            qty,
            entry_price,
            entry_fee,
            entry_slip,
            entry_bar,
        )
        side = 0
        equity_out[n - 1] = cash

    open_position = np.zeros(1 if side != 0 else 0, dtype=open_position_dt)
    if side != 0:
        mark = close[n - 1]
        rec = open_position[0]
        rec["entry_bar"] = entry_bar
        rec["side"] = side
        rec["entry_price"] = entry_price
        rec["quantity"] = qty
        rec["entry_fee"] = entry_fee
        rec["entry_slippage_cost"] = entry_slip
        rec["mark_price"] = mark
        rec["unrealised_pnl"] = side * qty * (mark - entry_price) - entry_fee
    return n_trades, open_position


@njit(cache=True, nogil=True)
def position_value_nb(trades, open_position, close):
    """Signed value of the open position at each bar's close.

    A position is held at the close of bars ``entry_bar … exit_bar − 1`` (an exit fills at an
    open, inside a bar, or at the close of ``exit_bar``; an entry at an open or at the close of
    ``entry_bar``), and to the last bar when it is still open.
    """
    n = close.shape[0]
    out = np.zeros(n, dtype=np.float64)
    for k in range(trades.shape[0]):
        signed = trades[k]["side"] * trades[k]["quantity"]
        for t in range(trades[k]["entry_bar"], trades[k]["exit_bar"]):
            out[t] = signed * close[t]
    for k in range(open_position.shape[0]):
        signed = open_position[k]["side"] * open_position[k]["quantity"]
        for t in range(open_position[k]["entry_bar"], n):
            out[t] = signed * close[t]
    return out
