"""One test per rule of docs/engine.md, on bars small enough to check by hand.

Every test runs twice through the ``simulate`` fixture: on ``coinbt.engine.simulate`` and on the
independent plain-Python reference (``tests/reference_engine.py``). The expected numbers are
written out as arithmetic from the rule book, never taken from either implementation.
"""

from __future__ import annotations

import numpy as np
import pytest

from coinbt.engine.enums import (
    ENTRY_STATUS_NAMES,
    EXIT_END_OF_DATA,
    EXIT_HOLD_BARS,
    EXIT_SIGNAL,
    EXIT_STOP_LOSS,
    EXIT_TAKE_PROFIT,
    EXIT_TRAILING_STOP,
)
from coinbt.engine.records import open_position_dt, trade_dt
from coinbt.engine.settings import EngineSettings

from ._helpers import at, ohlc, status, trade


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-9, abs=1e-9)


def no_fee(**kw: object) -> EngineSettings:
    """Settings with fee_rate=0 unless given, so the arithmetic stays short."""
    kw.setdefault("fee_rate", 0.0)
    return EngineSettings(**kw)


# A calm 5-bar series used by several tests.
CALM = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 102.0, 99.0, 101.0),
    (102.0, 104.0, 101.0, 103.0),
    (103.0, 106.0, 102.0, 105.0),
    (104.0, 105.0, 100.0, 101.0),
]


# ------------------------------------------------------------------------------------------
# fill timing


def test_signal_fills_at_next_open(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 1), at(5, 3), no_fee())
    qty = 10000 / 102  # all cash at open[2]
    assert len(sim.trades) == 1
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["side"]) == (2, 4, 1)
    assert tr["entry_price"] == approx(102.0)  # open[2], not close[1] = 101
    assert tr["exit_price"] == approx(104.0)  # open[4], not close[3] = 105
    assert tr["quantity"] == approx(qty)
    assert tr["gross_pnl"] == approx(qty * (104 - 102))
    assert tr["return"] == approx(2 / 102)
    assert tr["bars_held"] == 2
    assert status(sim) == [-1, 0, -1, -1, -1]
    assert sim.cash == pytest.approx([10000, 10000, 0, 0, qty * 104], abs=1e-9)
    assert sim.position_value == pytest.approx([0, 0, qty * 103, qty * 105, 0])
    assert sim.equity == pytest.approx([10000, 10000, qty * 103, qty * 105, qty * 104])
    assert len(sim.open_position) == 0


def test_fill_close_fills_at_signal_bar_close(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 1), at(5, 3), no_fee(fill="close"))
    qty = 10000 / 101  # all cash at close[1]
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"]) == (1, 3)
    assert tr["entry_price"] == approx(101.0)
    assert tr["exit_price"] == approx(105.0)
    assert tr["quantity"] == approx(qty)
    assert tr["bars_held"] == 2
    assert status(sim) == [-1, 0, -1, -1, -1]
    assert sim.equity == pytest.approx([10000, 10000, qty * 103, qty * 105, qty * 105])
    assert sim.cash[1] == approx(0.0)


# ------------------------------------------------------------------------------------------
# costs

COST_BARS = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 103.0, 99.0, 102.0),
    (102.0, 108.0, 101.0, 107.0),
    (110.0, 111.0, 109.0, 110.0),
]


def test_fee_charged_on_entry_and_exit(simulate):
    o, h, lo, c = ohlc(COST_BARS)
    settings = EngineSettings(fee_rate=0.001, size_type="notional", size=1000.0)
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 2), settings)
    tr = trade(sim)
    qty = 1000 / 100
    assert tr["quantity"] == approx(10.0)
    assert tr["entry_fee"] == approx(qty * 100 * 0.001)  # 1.0
    assert tr["exit_fee"] == approx(qty * 110 * 0.001)  # 1.1
    assert tr["gross_pnl"] == approx(qty * (110 - 100))  # 100
    assert tr["net_pnl"] == approx(100 - 1.0 - 1.1)
    assert tr["return"] == approx(97.9 / 1000)
    assert sim.cash[1] == approx(10000 - 1000 - 1.0)
    assert sim.equity[1] == approx(10000 - 1001 + qty * 102)
    assert sim.cash[3] == approx(10000 - 1001 + 1100 - 1.1)
    assert sim.equity[3] == approx(10097.9)


def test_slippage_moves_fill_against_trader(simulate):
    o, h, lo, c = ohlc(COST_BARS)
    settings = no_fee(slippage_bps=50.0, size_type="notional", size=1000.0)
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 2), settings)
    tr = trade(sim)
    entry = 100 * (1 + 0.005)  # a long entry buys: price moves up
    exit_ = 110 * (1 - 0.005)  # a long exit sells: price moves down
    qty = 1000 / entry
    assert tr["entry_price"] == approx(100.5)
    assert tr["exit_price"] == approx(109.45)
    assert tr["quantity"] == approx(qty)
    assert tr["slippage_cost"] == approx(qty * (100.5 - 100) + qty * (110 - 109.45))
    assert tr["gross_pnl"] == approx(qty * (exit_ - entry))
    assert sim.cash[3] == approx(10000 - 1000 + qty * 109.45)


# ------------------------------------------------------------------------------------------
# sizing

SIZING_BARS = [
    (100.0, 101.0, 99.0, 100.0),
    (101.0, 103.0, 100.0, 102.0),
    (102.0, 104.0, 101.0, 103.0),
]


def test_equity_fraction_sizing_reserves_fees(simulate):
    o, h, lo, c = ohlc(SIZING_BARS)
    half = simulate(o, h, lo, c, at(3, 0), at(3), EngineSettings(fee_rate=0.001, size=0.5))
    qty = 0.5 * 10000 / (101 * 1.001)
    pos = half.open_position[0]
    assert pos["quantity"] == approx(qty)
    assert pos["entry_fee"] == approx(qty * 101 * 0.001)
    assert half.cash[1] == approx(10000 - qty * 101 * 1.001)  # = 5000: half the cash
    assert half.cash[1] == approx(5000.0)
    full = simulate(o, h, lo, c, at(3, 0), at(3), EngineSettings(fee_rate=0.001, size=1.0))
    assert status(full) == [0, -1, -1]  # size=1 spends all cash, fee included
    assert full.open_position[0]["quantity"] == approx(10000 / (101 * 1.001))
    assert full.cash[1] == pytest.approx(0.0, abs=1e-6)


def test_fixed_notional_sizing(simulate):
    rows = [(120.0, 121.0, 119.0, 120.0), (125.0, 126.0, 124.0, 125.0), (125.0, 127, 124, 126)]
    o, h, lo, c = ohlc(rows)
    settings = EngineSettings(fee_rate=0.001, size_type="notional", size=2500.0)
    sim = simulate(o, h, lo, c, at(3, 0), at(3), settings)
    pos = sim.open_position[0]
    assert pos["quantity"] == approx(2500 / 125)  # 20
    assert pos["entry_fee"] == approx(2500 * 0.001)
    assert sim.cash[1] == approx(10000 - 2500 - 2.5)
    assert sim.equity[2] == approx(7497.5 + 20 * 126)


def test_fixed_quantity_sizing(simulate):
    rows = [(120.0, 121.0, 119.0, 120.0), (125.0, 126.0, 124.0, 125.0), (125.0, 127, 124, 126)]
    o, h, lo, c = ohlc(rows)
    settings = EngineSettings(fee_rate=0.001, size_type="quantity", size=3.0)
    sim = simulate(o, h, lo, c, at(3, 0), at(3), settings)
    pos = sim.open_position[0]
    assert pos["quantity"] == approx(3.0)
    assert pos["entry_fee"] == approx(3 * 125 * 0.001)
    assert sim.cash[1] == approx(10000 - 375 - 0.375)


def test_lot_size_rounds_down(simulate):
    rows = [(300.0, 301.0, 299.0, 300.0), (300.0, 302.0, 299.0, 301.0)]
    o, h, lo, c = ohlc(rows)
    sim = simulate(o, h, lo, c, at(2, 0), at(2), no_fee(lot_size=0.5))
    # 10000 / 300 = 33.33 -> floor(66.67) = 66 lots of 0.5
    assert sim.open_position[0]["quantity"] == approx(66 * 0.5)
    assert sim.cash[1] == approx(10000 - 33 * 300)


def test_below_min_notional_is_rejected(simulate):
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 121.0, 99.0, 120.0),
        (120.0, 131.0, 119.0, 130.0),
        (130.0, 132.0, 128.0, 131.0),
        (131.0, 133.0, 129.0, 132.0),
    ]
    o, h, lo, c = ohlc(rows)
    settings = EngineSettings(fee_rate=0.001, size_type="quantity", size=40.0, min_notional=5000.0)
    sim = simulate(o, h, lo, c, at(5, 0, 2), at(5), settings)
    # signal 0 fills at open[1] = 100: 40 * 100 = 4000 < 5000, rejected on the signal bar;
    # signal 2 fills at open[3] = 130: 40 * 130 = 5200, filled
    assert status(sim) == [2, -1, 0, -1, -1]
    assert sim.status_counts["rejected_min_notional"] == 1
    assert sim.status_counts["filled"] == 1
    assert sim.equity[:3] == pytest.approx([10000, 10000, 10000])
    pos = sim.open_position[0]
    assert pos["entry_bar"] == 3
    assert pos["entry_fee"] == approx(5200 * 0.001)
    assert pos["unrealised_pnl"] == approx(40 * (132 - 130) - 5.2)


def test_not_enough_cash_is_rejected(simulate):
    rows = [
        (100.0, 100.5, 99.5, 100.0),
        (99.95, 100.2, 99.5, 100.0),
        (100.0, 100.1, 99.7, 99.8),
        (99.8, 100.0, 99.5, 99.9),
        (99.9, 100.0, 99.6, 99.7),
    ]
    o, h, lo, c = ohlc(rows)
    settings = EngineSettings(fee_rate=0.001, size_type="quantity", size=100.0)
    sim = simulate(o, h, lo, c, at(5, 0, 2), at(5), settings)
    # at 99.95: 9995 + fee 9.995 = 10004.995 > 10000 cash -> rejected (the fee counts);
    # at 99.8:  9980 + fee 9.98  =  9989.98 <= 10000      -> filled
    assert status(sim) == [3, -1, 0, -1, -1]
    assert sim.status_counts["rejected_insufficient_cash"] == 1
    assert sim.cash[3] == approx(10000 - 9980 - 9.98)


def test_entry_rejected_when_cash_is_not_positive(simulate):
    # a short squeeze leaves cash negative; the next entry cannot be paid for
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (250.0, 260.0, 240.0, 250.0),
        (250.0, 251.0, 239.0, 240.0),
        (240.0, 241.0, 239.0, 240.0),
    ]
    o, h, lo, c = ohlc(rows)
    entries, exits = at(5, 0, 3), at(5, 1)
    qty_sim = simulate(
        o, h, lo, c, entries, exits, no_fee(short=True, size_type="quantity", size=100.0)
    )
    # short 100 at open[1] = 100 -> cash 20000; buy back at open[2] = 250 -> cash -5000
    assert qty_sim.cash[2] == approx(10000 + 100 * 100 - 100 * 250)
    assert qty_sim.equity[2] == approx(-5000.0)
    assert status(qty_sim) == [0, -1, -1, 3, -1]
    frac_sim = simulate(o, h, lo, c, entries, exits, no_fee(short=True, size=1.0))
    # equity_fraction of negative cash gives a quantity <= 0: step 3 comes before step 5
    assert frac_sim.cash[2] == approx(-5000.0)
    assert status(frac_sim) == [0, -1, -1, 4, -1]


def test_qty_rounding_to_zero_is_rejected(simulate):
    rows = [(100.0, 101.0, 99.0, 100.0), (100.0, 101.0, 99.0, 100.0)]
    o, h, lo, c = ohlc(rows)
    settings = no_fee(size_type="notional", size=50.0, lot_size=1.0)
    sim = simulate(o, h, lo, c, at(2, 0), at(2), settings)
    # 50 / 100 = 0.5 -> floor(0.5 / 1) * 1 = 0
    assert status(sim) == [4, -1]
    assert sim.status_counts["rejected_zero_quantity"] == 1
    assert len(sim.open_position) == 0 and len(sim.trades) == 0
    assert sim.equity == pytest.approx([10000, 10000])


# ------------------------------------------------------------------------------------------
# one position at a time, signals and their statuses


def test_entry_ignored_while_in_position(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 1, 3), at(5), no_fee())
    assert status(sim) == [-1, 0, -1, 1, -1]
    assert sim.status_counts["ignored_in_position"] == 1
    assert len(sim.trades) == 0
    pos = sim.open_position[0]
    assert pos["entry_bar"] == 2 and pos["quantity"] == approx(10000 / 102)


def test_entry_ignored_while_exit_pending(simulate):
    rows = CALM + [(101.0, 102.0, 100.0, 101.5), (101.0, 103.0, 100.0, 102.0)]
    o, h, lo, c = ohlc(rows)
    # entry 0 -> in at open[1]; bar 2 says exit AND enter: the exit is pending, the entry
    # is ignored (not queued behind the exit); bar 3's entry (flat by then) fills at open[4]
    sim = simulate(o, h, lo, c, at(7, 0, 2, 3), at(7, 2), no_fee())
    assert status(sim) == [0, -1, 1, 0, -1, -1, -1]
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["exit_reason"]) == (1, 3, EXIT_SIGNAL)
    assert sim.open_position[0]["entry_bar"] == 4
    assert sim.open_position[0]["entry_price"] == approx(104.0)


def test_signal_on_last_bar_expires(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 4), at(5), no_fee())
    assert status(sim) == [-1, -1, -1, -1, 5]
    assert sim.status_counts["expired_end_of_data"] == 1
    assert sim.status_counts.get("filled", 0) == 0
    assert len(sim.trades) == 0 and len(sim.open_position) == 0
    assert sim.equity == pytest.approx([10000] * 5)


def test_signal_on_last_bar_fills_in_close_mode(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 4), at(5), no_fee(fill="close"))
    assert status(sim) == [-1, -1, -1, -1, 0]
    assert sim.open_position[0]["entry_price"] == approx(101.0)
    assert sim.open_position[0]["unrealised_pnl"] == approx(0.0)


def test_status_counts_count_every_signal(simulate):
    rows = [(100.0, 101.0, 99.0, 100.0)] * 6
    o, h, lo, c = ohlc(rows)
    settings = no_fee(size_type="quantity", size=10.0)
    sim = simulate(o, h, lo, c, at(6, 0, 1, 2, 5), at(6, 2), settings)
    # 0 filled (at 1), 1 ignored, 2 ignored (exit pending), 5 expired
    assert status(sim) == [0, 1, 1, -1, -1, 5]
    expected = dict.fromkeys(ENTRY_STATUS_NAMES, 0)
    expected.update(filled=1, ignored_in_position=2, expired_end_of_data=1)
    assert {name: sim.status_counts.get(name, 0) for name in ENTRY_STATUS_NAMES} == expected


def test_exit_by_signal(simulate):
    o, h, lo, c = ohlc(CALM)
    # the exit signal on the bar of the entry fill is acted on (bars_held 1)
    sim = simulate(o, h, lo, c, at(5, 0), at(5, 1), EngineSettings(fee_rate=0.001))
    tr = trade(sim)
    qty = 10000 / (100 * 1.001)
    assert (tr["entry_bar"], tr["exit_bar"], tr["bars_held"]) == (1, 2, 1)
    assert tr["exit_reason"] == EXIT_SIGNAL
    assert tr["exit_price"] == approx(102.0)
    assert tr["net_pnl"] == approx(qty * 2 - qty * 100 * 0.001 - qty * 102 * 0.001)


def test_exit_signal_while_flat_is_ignored(simulate):
    o, h, lo, c = ohlc(CALM)
    # exits on 0..2 while flat mean nothing, and an exit on the same bar as an entry while
    # flat does not stop the entry
    sim = simulate(o, h, lo, c, at(5, 2), at(5, 0, 1, 2), no_fee())
    assert status(sim) == [-1, -1, 0, -1, -1]
    assert sim.equity[:3] == pytest.approx([10000, 10000, 10000])
    assert len(sim.trades) == 0
    assert sim.open_position[0]["entry_bar"] == 3


def test_exit_and_entry_on_one_bar_close_mode(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 1, 3), at(5, 3), no_fee(fill="close"))
    # bar 3: held -> the exit fills at close[3], the entry of the same bar is ignored
    assert status(sim) == [-1, 0, -1, 1, -1]
    assert len(sim.trades) == 1 and len(sim.open_position) == 0
    assert trade(sim)["exit_price"] == approx(105.0)


# ------------------------------------------------------------------------------------------
# holding period

HOLD_BARS = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 102.0, 99.0, 101.0),
    (101.0, 103.0, 100.0, 102.0),
    (102.0, 104.0, 101.0, 103.0),
    (103.0, 105.0, 102.0, 104.0),
    (104.0, 106.0, 103.0, 105.0),
]


def test_hold_bars_exit_next_open(simulate):
    o, h, lo, c = ohlc(HOLD_BARS)
    sim = simulate(o, h, lo, c, at(6, 0), at(6), no_fee(hold_bars=2))
    # in at open[1]; bar 2: 2 + 1 - 1 >= 2 -> pending, out at open[3]
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["bars_held"]) == (1, 3, 2)
    assert tr["exit_reason"] == EXIT_HOLD_BARS
    assert tr["exit_price"] == approx(102.0)
    assert len(sim.trades) == 1 and len(sim.open_position) == 0


def test_hold_bars_exit_close_mode(simulate):
    o, h, lo, c = ohlc(HOLD_BARS)
    sim = simulate(o, h, lo, c, at(6, 1), at(6), no_fee(fill="close", hold_bars=2))
    # in at close[1]; bar 3: 3 - 1 >= 2 -> out at close[3]
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["bars_held"]) == (1, 3, 2)
    assert tr["exit_reason"] == EXIT_HOLD_BARS
    assert (tr["entry_price"], tr["exit_price"]) == (approx(101.0), approx(103.0))


def test_exit_signal_reason_wins_over_hold_bars(simulate):
    o, h, lo, c = ohlc(HOLD_BARS)
    sim = simulate(o, h, lo, c, at(6, 0), at(6, 2), no_fee(hold_bars=2))
    tr = trade(sim)
    assert tr["exit_bar"] == 3 and tr["exit_reason"] == EXIT_SIGNAL


# ------------------------------------------------------------------------------------------
# stops (long)


def stop_bars(bar2: tuple[float, float, float, float], bar1=(100.0, 102.0, 99.0, 101.0)):
    """Entry signal on bar 0 fills at open[1] = 100; ``bar2`` is where the stops act."""
    return ohlc([(100.0, 101.0, 99.0, 100.0), bar1, bar2, (96.0, 97.0, 95.5, 96.5)])


def test_stop_loss_inside_bar_fills_at_level(simulate):
    o, h, lo, c = stop_bars((99.0, 100.0, 94.0, 96.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(stop_loss=0.05))
    tr = trade(sim)
    # SL = 100 * (1 - 0.05) = 95; open 99 > 95, low 94 <= 95 -> out at 95
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_STOP_LOSS)
    assert tr["exit_price"] == approx(100 * 0.95)
    assert tr["gross_pnl"] == approx(100 * (95 - 100))  # qty = 10000 / 100
    assert sim.equity[2] == approx(9500.0)
    assert sim.equity[3] == approx(9500.0)


def test_touching_a_level_exactly_counts_as_hit(simulate):
    # E = 100, SL = 100 * (1 - 0.25) = 75 and TP = 100 * (1 + 0.25) = 125, both exact
    o, h, lo, c = stop_bars((80.0, 81.0, 75.0, 78.0))
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), no_fee(stop_loss=0.25)))
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, 75.0, EXIT_STOP_LOSS)
    o, h, lo, c = stop_bars((120.0, 125.0, 119.0, 121.0))
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), no_fee(take_profit=0.25)))
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, 125.0, EXIT_TAKE_PROFIT)
    # an open exactly at the target is a gap exit at the open (the same price here)
    o, h, lo, c = stop_bars((125.0, 126.0, 124.0, 125.0))
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), no_fee(take_profit=0.25)))
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, 125.0, EXIT_TAKE_PROFIT)


def test_gap_through_stop_fills_at_open(simulate):
    o, h, lo, c = stop_bars((93.0, 94.0, 90.0, 92.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(stop_loss=0.05))
    tr = trade(sim)
    # open 93 <= SL 95: the stop price never traded; out at the open
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_STOP_LOSS)
    assert tr["exit_price"] == approx(93.0)
    assert tr["gross_pnl"] == approx(100 * (93 - 100))


def test_gap_through_target_fills_at_open(simulate):
    o, h, lo, c = stop_bars((112.0, 115.0, 111.0, 113.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(take_profit=0.10))
    tr = trade(sim)
    # TP = 110; open 112 >= 110 -> out at 112
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_TAKE_PROFIT)
    assert tr["exit_price"] == approx(112.0)


def test_take_profit_inside_bar(simulate):
    o, h, lo, c = stop_bars((104.0, 111.0, 103.0, 108.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(take_profit=0.10))
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_TAKE_PROFIT)
    assert tr["exit_price"] == approx(100 * 1.10)
    assert sim.equity[2] == approx(100 * 110.0)


def test_stop_and_target_in_one_bar_stop_wins(simulate):
    o, h, lo, c = stop_bars((100.0, 111.0, 94.0, 105.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(stop_loss=0.05, take_profit=0.10))
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_STOP_LOSS)
    assert tr["exit_price"] == approx(95.0)


def test_same_bar_priority_take_profit_option(simulate):
    o, h, lo, c = stop_bars((100.0, 111.0, 94.0, 105.0))
    settings = no_fee(stop_loss=0.05, take_profit=0.10, same_bar_priority="take_profit")
    sim = simulate(o, h, lo, c, at(4, 0), at(4), settings)
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_TAKE_PROFIT)
    assert tr["exit_price"] == approx(110.0)


def test_trailing_stop_uses_peak_before_the_bar(simulate):
    # entry bar high 105 raises the peak; bar 2's own high (120) must not be used inside bar 2
    o, h, lo, c = stop_bars((104.0, 120.0, 94.0, 110.0), bar1=(100.0, 105.0, 99.0, 104.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(trailing_stop=0.10))
    tr = trade(sim)
    # TRAIL = 105 * 0.9 = 94.5 (with 120 it would be 108); low 94 <= 94.5
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_TRAILING_STOP)
    assert tr["exit_price"] == approx(105 * 0.9)


def test_trailing_stop_peak_keeps_rising(simulate):
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 104.0, 99.0, 103.0),
        (103.0, 112.0, 102.0, 111.0),
        (111.0, 120.0, 110.0, 118.0),
        (117.0, 118.0, 107.0, 108.0),
    ]
    o, h, lo, c = ohlc(rows)
    sim = simulate(o, h, lo, c, at(5, 0), at(5), no_fee(trailing_stop=0.10))
    # peak 104 -> 112 -> 120; bar 4: TRAIL = 120 * 0.9 = 108, low 107 -> out at 108
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_reason"]) == (4, EXIT_TRAILING_STOP)
    assert tr["exit_price"] == approx(120 * 0.9)


def test_trailing_peak_starts_at_entry_fill_price(simulate):
    # E = 100 * 1.01 = 101 (slippage); the entry bar's high 100.5 is below E, so the peak
    # stays 101 and TRAIL = 101 * 0.95 = 95.95 (from the raw 100 or the high it would be lower)
    o, h, lo, c = stop_bars((99.0, 99.5, 95.5, 96.0), bar1=(100.0, 100.5, 99.0, 100.0))
    settings = no_fee(slippage_bps=100.0, trailing_stop=0.05)
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), settings))
    assert (tr["exit_bar"], tr["exit_reason"]) == (2, EXIT_TRAILING_STOP)
    assert tr["exit_price"] == approx(101 * 0.95 * 0.99)


def test_trailing_vs_fixed_stop_reason(simulate):
    both = no_fee(stop_loss=0.05, trailing_stop=0.10)
    # peak 104: TRAIL 93.6 < SL 95 -> the stop level is 95, reason stop_loss
    o, h, lo, c = stop_bars((100.0, 101.0, 94.0, 95.0), bar1=(100.0, 104.0, 99.0, 103.0))
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), both))
    assert (tr["exit_price"], tr["exit_reason"]) == (approx(95.0), EXIT_STOP_LOSS)
    # peak 110: TRAIL 99 > SL 95 -> the stop level is 99, reason trailing_stop
    o, h, lo, c = stop_bars((105.0, 106.0, 98.0, 100.0), bar1=(100.0, 110.0, 99.0, 108.0))
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), both))
    assert (tr["exit_price"], tr["exit_reason"]) == (approx(110 * 0.9), EXIT_TRAILING_STOP)
    # TRAIL == SL (peak still 100, both 10 %): reason stop_loss
    tie = no_fee(stop_loss=0.10, trailing_stop=0.10)
    o, h, lo, c = stop_bars((98.0, 99.0, 89.0, 92.0), bar1=(100.0, 100.0, 97.0, 98.0))
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), tie))
    assert (tr["exit_price"], tr["exit_reason"]) == (approx(90.0), EXIT_STOP_LOSS)


def test_gap_through_trailing_stop_fills_at_open(simulate):
    o, h, lo, c = stop_bars((97.0, 98.0, 96.0, 97.0), bar1=(100.0, 110.0, 99.0, 108.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(trailing_stop=0.10))
    tr = trade(sim)
    # TRAIL = 110 * 0.9 = 99; open 97 <= 99
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (
        2,
        approx(97.0),
        EXIT_TRAILING_STOP,
    )


def test_stop_checked_on_entry_bar_next_open(simulate):
    o, h, lo, c = stop_bars((96.0, 97.0, 95.5, 96.5), bar1=(100.0, 101.0, 94.0, 97.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(stop_loss=0.05))
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["bars_held"]) == (1, 1, 0)
    assert (tr["exit_price"], tr["exit_reason"]) == (approx(95.0), EXIT_STOP_LOSS)
    assert sim.equity[1] == approx(9500.0)


def test_gap_rule_on_entry_bar_when_slippage_puts_stop_above_open(simulate):
    # slippage 1 % > stop 0.5 %: E = 100 * 1.01 = 101, SL = 101 * 0.995 = 100.495 lies above
    # the entry bar's own open (100). The stop is triggered at once and fills at the open
    # (100), a price that traded, not at the level 100.495 that never did (the high is 100.2).
    o, h, lo, c = stop_bars((96.0, 97.0, 95.5, 96.5), bar1=(100.0, 100.2, 99.5, 100.0))
    settings = no_fee(slippage_bps=100.0, stop_loss=0.005)
    sim = simulate(o, h, lo, c, at(4, 0), at(4), settings)
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["exit_reason"]) == (1, 1, EXIT_STOP_LOSS)
    assert tr["entry_price"] == approx(101.0)
    assert tr["exit_price"] == approx(100 * 0.99)  # raw = the open, sold with slippage


def test_lot_size_quotient_a_hair_below_whole_lots_is_not_lost(simulate):
    # 0.3 / 0.1 = 2.9999999999999996 in floating point: a plain floor buys 0.2
    o, h, lo, c = ohlc([(100.0, 100.0, 100.0, 100.0)] * 3)
    settings = no_fee(size_type="quantity", size=0.3, lot_size=0.1)
    sim = simulate(o, h, lo, c, at(3, 0), at(3), settings)
    assert sim.open_position[0]["quantity"] == approx(0.3)


def test_stop_not_checked_on_entry_bar_close_mode(simulate):
    # in close mode the entry bar is over when the position opens: its low (90) and high
    # (120) neither stop it nor raise the trailing peak
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (95.0, 120.0, 90.0, 100.0),
        (100.0, 101.0, 96.0, 99.0),
        (99.0, 100.0, 96.5, 98.0),
    ]
    o, h, lo, c = ohlc(rows)
    settings = no_fee(fill="close", stop_loss=0.05, trailing_stop=0.10)
    sim = simulate(o, h, lo, c, at(4, 1), at(4), settings)
    assert len(sim.trades) == 0
    assert sim.open_position[0]["entry_bar"] == 1
    assert sim.equity[3] == approx(100 * 98.0)


def test_stop_fill_pays_slippage_and_fee(simulate):
    o, h, lo, c = stop_bars((99.0, 100.0, 94.0, 96.0))
    settings = EngineSettings(fee_rate=0.001, slippage_bps=20.0, stop_loss=0.05)
    sim = simulate(o, h, lo, c, at(4, 0), at(4), settings)
    tr = trade(sim)
    entry = 100 * 1.002  # the stop is a percentage of the entry FILL price
    level = entry * 0.95
    qty = 10000 / (entry * 1.001)
    assert tr["exit_price"] == approx(level * 0.998)
    assert tr["exit_fee"] == approx(qty * level * 0.998 * 0.001)
    assert tr["slippage_cost"] == approx(qty * (entry - 100) + qty * (level - level * 0.998))


def test_pending_exit_fills_before_stop_check(simulate):
    o, h, lo, c = stop_bars((96.0, 97.0, 95.5, 96.5))
    o[3], h[3], lo[3], c[3] = 90.0, 91.0, 89.0, 90.5  # gaps through SL 95
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 2), no_fee(stop_loss=0.05))
    tr = trade(sim)
    # step A (pending exit at the open) comes before step B (stops)
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (3, approx(90.0), EXIT_SIGNAL)


def test_stop_wins_over_exit_signal_of_the_same_bar(simulate):
    o, h, lo, c = stop_bars((99.0, 100.0, 94.0, 96.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 2), no_fee(stop_loss=0.05))
    assert len(sim.trades) == 1
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, approx(95.0), 2)


def test_reentry_after_stop_same_bar_close_mode(simulate):
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (99.0, 100.0, 94.0, 97.0),
        (97.0, 99.0, 96.0, 98.0),
    ]
    o, h, lo, c = ohlc(rows)
    sim = simulate(o, h, lo, c, at(4, 0, 2), at(4), no_fee(fill="close", stop_loss=0.05))
    # in at close[0] = 100 (qty 100); stopped at 95 inside bar 2 -> cash 9500; flat at the
    # close of bar 2, so bar 2's entry fills at close[2] = 97
    assert status(sim) == [0, -1, 0, -1]
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["exit_price"]) == (0, 2, approx(95.0))
    pos = sim.open_position[0]
    assert pos["entry_bar"] == 2
    assert pos["quantity"] == approx(9500 / 97)
    assert sim.equity[3] == approx(9500 / 97 * 98)


def test_reentry_after_stop_next_open(simulate):
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (99.0, 100.0, 94.0, 97.0),
        (97.0, 99.0, 96.0, 98.0),
    ]
    o, h, lo, c = ohlc(rows)
    sim = simulate(o, h, lo, c, at(4, 0, 2), at(4), no_fee(stop_loss=0.05))
    assert status(sim) == [0, -1, 0, -1]
    pos = sim.open_position[0]
    assert (pos["entry_bar"], pos["entry_price"]) == (3, approx(97.0))
    assert pos["quantity"] == approx(9500 / 97)


# ------------------------------------------------------------------------------------------
# shorts

SHORT_BARS = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 101.0, 95.0, 96.0),
    (96.0, 97.0, 92.0, 93.0),
    (90.0, 91.0, 88.0, 89.0),
]


def test_short_position_pnl(simulate):
    o, h, lo, c = ohlc(SHORT_BARS)
    settings = EngineSettings(fee_rate=0.001, short=True)
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 2), settings)
    qty = 10000 / (100 * 1.001)  # the same collateral rule as a long
    entry_fee = qty * 100 * 0.001
    exit_fee = qty * 90 * 0.001
    tr = trade(sim)
    assert tr["side"] == -1
    assert (tr["entry_price"], tr["exit_price"]) == (approx(100.0), approx(90.0))
    assert tr["gross_pnl"] == approx(-qty * (90 - 100))
    assert tr["net_pnl"] == approx(qty * 10 - entry_fee - exit_fee)
    assert tr["return"] == approx((qty * 10 - entry_fee - exit_fee) / (qty * 100))
    cash1 = 10000 + qty * 100 - entry_fee
    assert sim.cash[1] == approx(cash1)
    assert sim.position_value[1] == approx(-qty * 96)
    assert sim.equity[2] == approx(cash1 - qty * 93)
    assert sim.cash[3] == approx(cash1 - qty * 90 - exit_fee)
    assert sim.position_value[3] == 0.0


def test_short_slippage_sells_lower_and_buys_higher(simulate):
    o, h, lo, c = ohlc(SHORT_BARS)
    settings = no_fee(short=True, slippage_bps=10.0, size_type="quantity", size=10.0)
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4, 2), settings))
    assert tr["entry_price"] == approx(100 * 0.999)
    assert tr["exit_price"] == approx(90 * 1.001)
    assert tr["slippage_cost"] == approx(10 * 0.1 + 10 * 0.09)
    assert tr["gross_pnl"] == approx(-10 * (90 * 1.001 - 100 * 0.999))


def test_short_stop_loss_above_entry(simulate):
    o, h, lo, c = stop_bars((101.0, 106.0, 100.0, 104.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(short=True, stop_loss=0.05))
    tr = trade(sim)
    # SL = 100 * 1.05 = 105; open 101 < 105, high 106 >= 105
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, approx(105.0), 2)
    assert tr["gross_pnl"] == approx(-100 * (105 - 100))


def test_short_gap_through_stop_fills_at_open(simulate):
    o, h, lo, c = stop_bars((107.0, 108.0, 106.0, 107.5))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(short=True, stop_loss=0.05))
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, approx(107.0), 2)


def test_short_take_profit_below_entry(simulate):
    o, h, lo, c = stop_bars((95.0, 96.0, 89.0, 91.0))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(short=True, take_profit=0.10))
    tr = trade(sim)
    # TP = 100 * 0.9 = 90; low 89 <= 90
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, approx(90.0), 3)
    assert tr["gross_pnl"] == approx(100 * 10)


def test_short_gap_through_target_fills_at_open(simulate):
    o, h, lo, c = stop_bars((88.0, 89.0, 87.0, 88.5))
    sim = simulate(o, h, lo, c, at(4, 0), at(4), no_fee(short=True, take_profit=0.10))
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (2, approx(88.0), 3)


def test_short_stop_and_target_in_one_bar(simulate):
    o, h, lo, c = stop_bars((100.0, 106.0, 89.0, 100.0))
    base = {"short": True, "stop_loss": 0.05, "take_profit": 0.10}
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), no_fee(**base)))
    assert (tr["exit_price"], tr["exit_reason"]) == (approx(105.0), EXIT_STOP_LOSS)
    settings = no_fee(**base, same_bar_priority="take_profit")
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), settings))
    assert (tr["exit_price"], tr["exit_reason"]) == (approx(90.0), EXIT_TAKE_PROFIT)


def test_short_trailing_stop_uses_trough_before_the_bar(simulate):
    o, h, lo, c = stop_bars((96.0, 106.0, 80.0, 100.0), bar1=(100.0, 101.0, 95.0, 96.0))
    both = no_fee(short=True, stop_loss=0.08, trailing_stop=0.10)
    tr = trade(simulate(o, h, lo, c, at(4, 0), at(4), both))
    # trough 95 after bar 1; TRAIL = 95 * 1.1 = 104.5 < SL 108 -> level 104.5 (bar 2's low
    # of 80 would have given 88); high 106 >= 104.5
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (
        2,
        approx(95 * 1.1),
        EXIT_TRAILING_STOP,
    )


# ------------------------------------------------------------------------------------------
# end of data

END_BARS = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 103.0, 99.0, 102.0),
    (102.0, 105.0, 101.0, 104.0),
    (104.0, 109.0, 103.0, 108.0),
]


def test_open_position_marked_to_market_at_end(simulate):
    o, h, lo, c = ohlc(END_BARS)
    settings = EngineSettings(fee_rate=0.001, slippage_bps=10.0)
    sim = simulate(o, h, lo, c, at(4, 0), at(4), settings)
    entry = 100 * 1.001
    qty = 10000 / (entry * 1.001)
    fee = qty * entry * 0.001
    assert len(sim.trades) == 0
    assert sim.open_position.dtype == open_position_dt and len(sim.open_position) == 1
    pos = sim.open_position[0]
    assert (pos["entry_bar"], pos["side"]) == (1, 1)
    assert pos["entry_price"] == approx(entry)
    assert pos["quantity"] == approx(qty)
    assert pos["entry_fee"] == approx(fee)
    assert pos["mark_price"] == approx(108.0)
    assert pos["unrealised_pnl"] == approx(qty * (108 - entry) - fee)
    assert sim.position_value[3] == approx(qty * 108)
    assert sim.equity[3] == approx(10000 + qty * (108 - entry) - fee)


def test_close_at_end_closes_with_fee(simulate):
    o, h, lo, c = ohlc(END_BARS)
    settings = EngineSettings(fee_rate=0.001, slippage_bps=10.0, close_at_end=True)
    sim = simulate(o, h, lo, c, at(4, 0), at(4), settings)
    entry = 100 * 1.001
    exit_ = 108 * 0.999
    qty = 10000 / (entry * 1.001)
    assert len(sim.open_position) == 0
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["bars_held"]) == (1, 3, 2)
    assert tr["exit_reason"] == EXIT_END_OF_DATA
    assert tr["exit_price"] == approx(exit_)
    assert tr["exit_fee"] == approx(qty * exit_ * 0.001)
    assert tr["net_pnl"] == approx(
        qty * (exit_ - entry) - qty * entry * 0.001 - qty * exit_ * 0.001
    )
    assert sim.position_value[3] == 0.0
    assert sim.cash[3] == approx(qty * exit_ * 0.999)
    assert sim.equity[3] == approx(sim.cash[3])
    assert sim.equity[2] == approx(qty * 104)  # earlier bars are marked as before


def test_close_at_end_closes_an_entry_made_at_the_last_close(simulate):
    # close mode: the last bar's entry fills at close[3] and is closed again at close[3]
    o, h, lo, c = ohlc(END_BARS)
    settings = EngineSettings(fee_rate=0.001, fill="close", close_at_end=True)
    sim = simulate(o, h, lo, c, at(4, 3), at(4), settings)
    qty = 10000 / (108 * 1.001)
    assert status(sim) == [-1, -1, -1, 0]
    tr = trade(sim)
    assert (tr["entry_bar"], tr["exit_bar"], tr["bars_held"]) == (3, 3, 0)
    assert tr["exit_reason"] == EXIT_END_OF_DATA
    assert tr["net_pnl"] == approx(-2 * qty * 108 * 0.001)
    assert sim.equity[3] == approx(10000 - 2 * qty * 108 * 0.001)


def test_pending_exit_on_last_bar_never_fills(simulate):
    o, h, lo, c = ohlc(END_BARS)
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 3), no_fee())
    assert len(sim.trades) == 0
    assert sim.open_position[0]["entry_bar"] == 1
    # with close_at_end the position is closed at close[3] for the end of data
    sim = simulate(o, h, lo, c, at(4, 0), at(4, 3), no_fee(close_at_end=True))
    tr = trade(sim)
    assert (tr["exit_bar"], tr["exit_price"], tr["exit_reason"]) == (
        3,
        approx(108.0),
        EXIT_END_OF_DATA,
    )


# ------------------------------------------------------------------------------------------
# result shape


def test_result_has_documented_arrays(simulate):
    o, h, lo, c = ohlc(CALM)
    sim = simulate(o, h, lo, c, at(5, 0, 2), at(5, 1), EngineSettings())
    assert sim.trades.dtype == trade_dt
    assert sim.open_position.dtype == open_position_dt
    assert np.asarray(sim.entry_status).dtype == np.int8
    for name in ("cash", "position_value", "equity"):
        arr = np.asarray(getattr(sim, name))
        assert arr.dtype == np.float64 and arr.shape == (5,), name
    assert set(sim.status_counts) <= set(ENTRY_STATUS_NAMES)
    assert status(sim) == [0, -1, 0, -1, -1]
