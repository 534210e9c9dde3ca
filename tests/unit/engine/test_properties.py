"""Hypothesis properties of ``coinbt.engine.simulate`` (docs/engine.md, "Invariants")."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinbt.engine.enums import ENTRY_STATUS_NAMES, EXIT_REASON_NAMES, FILLED

from ._strategies import Case, cases, engine_settings, ohlc_bars, signal_array
from .conftest import engine_simulate

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def case_settings_and_future(draw: st.DrawFn):
    """A case, settings, a bar k in 1..n-1, and a different future for bars k..n-1."""
    case = draw(cases(min_bars=3, max_bars=50))
    st_ = draw(engine_settings(case.price_level))
    k = draw(st.integers(1, case.n - 1))
    m = case.n - k
    o, h, lo, c = draw(ohlc_bars(m, case.price_level))
    scale = draw(st.sampled_from((1.0, 0.5, 2.0)))  # also move the whole future level
    future = Case(
        np.r_[case.open_[:k], o * scale],
        np.r_[case.high[:k], h * scale],
        np.r_[case.low[:k], lo * scale],
        np.r_[case.close[:k], c * scale],
        np.r_[case.entries[:k], draw(signal_array(m))],
        np.r_[case.exits[:k], draw(signal_array(m))],
        case.price_level,
    )
    return case, future, st_, k


def entry_fills_before(sim, k: int) -> list[tuple]:
    """(entry_bar, side, entry_price, quantity, entry_fee) of every entry filled before bar k."""
    names = ("entry_bar", "side", "entry_price", "quantity", "entry_fee")
    rows = [tuple(r[n].item() for n in names) for r in sim.trades if r["entry_bar"] < k]
    rows += [tuple(r[n].item() for n in names) for r in sim.open_position if r["entry_bar"] < k]
    return sorted(rows)


@FAST
@given(case_settings_and_future())
def test_no_look_ahead(drawn) -> None:
    """Changing bars or signals from bar k on changes nothing that happened before bar k."""
    case, future, st_, k = drawn
    simulate = engine_simulate()
    a = simulate(*case.arrays(), st_)
    b = simulate(*future.arrays(), st_)
    for name in ("cash", "position_value", "equity"):
        np.testing.assert_array_equal(getattr(a, name)[:k], getattr(b, name)[:k], err_msg=name)
    closed_a = a.trades[a.trades["exit_bar"] < k]
    closed_b = b.trades[b.trades["exit_bar"] < k]
    np.testing.assert_array_equal(closed_a, closed_b, err_msg="trades closed before bar k")
    assert entry_fills_before(a, k) == entry_fills_before(b, k)
    # statuses of signals before bar k-1 are settled before bar k
    np.testing.assert_array_equal(a.entry_status[: k - 1], b.entry_status[: k - 1])
    sa, sb = int(a.entry_status[k - 1]), int(b.entry_status[k - 1])
    if st_.fill == "close":
        assert sa == sb
    else:
        # with next_open, a signal at k-1 is sized at open[k]: only "no signal" and
        # "ignored" are known at the close of k-1; filled/rejected may depend on open[k]
        if sa in (-1, 1) or sb in (-1, 1):
            assert sa == sb


@FAST
@given(cases(), st.data())
def test_equity_is_cash_plus_position_value(case: Case, data: st.DataObject) -> None:
    st_ = data.draw(engine_settings(case.price_level))
    sim = engine_simulate()(*case.arrays(), st_)
    total = sim.cash + sim.position_value
    assert np.all(np.abs(sim.equity - total) <= 1e-12 * (np.abs(total) + st_.init_cash))


@FAST
@given(cases(), st.data())
def test_final_equity_is_cash_plus_all_pnl(case: Case, data: st.DataObject) -> None:
    st_ = data.draw(engine_settings(case.price_level))
    sim = engine_simulate()(*case.arrays(), st_)
    unrealised = float(sim.open_position["unrealised_pnl"].sum())
    expected = st_.init_cash + float(sim.trades["net_pnl"].sum()) + unrealised
    turnover = float(np.sum(sim.trades["quantity"] * sim.trades["entry_price"]))
    turnover += float(np.sum(sim.trades["quantity"] * sim.trades["exit_price"]))
    turnover += float(np.sum(sim.open_position["quantity"] * sim.open_position["entry_price"]))
    assert abs(sim.equity[-1] - expected) <= 1e-9 * (st_.init_cash + turnover)


@FAST
@given(cases(), st.data())
def test_records_are_well_formed(case: Case, data: st.DataObject) -> None:
    st_ = data.draw(engine_settings(case.price_level))
    sim = engine_simulate()(*case.arrays(), st_)
    side = -1 if st_.short else 1
    tr = sim.trades
    assert np.all(tr["entry_fee"] >= 0) and np.all(tr["exit_fee"] >= 0)
    assert np.all(tr["slippage_cost"] >= 0)
    assert np.all(tr["quantity"] > 0)
    assert np.all(tr["bars_held"] >= 0)
    assert np.all(tr["exit_bar"] >= tr["entry_bar"])
    assert np.array_equal(tr["bars_held"], tr["exit_bar"] - tr["entry_bar"])
    assert np.all(tr["side"] == side)
    assert np.all((tr["exit_reason"] >= 0) & (tr["exit_reason"] < len(EXIT_REASON_NAMES)))
    assert np.all((tr["entry_bar"] >= 0) & (tr["exit_bar"] < case.n))
    # one position at a time, trades in exit order
    assert np.all(tr["entry_bar"][1:] >= tr["exit_bar"][:-1])
    pos = sim.open_position
    assert len(pos) <= 1
    if len(pos):
        assert pos["quantity"][0] > 0 and pos["entry_fee"][0] >= 0 and pos["side"][0] == side
        assert len(tr) == 0 or pos["entry_bar"][0] >= tr["exit_bar"][-1]
        assert not st_.close_at_end
    # every fill has a filled signal: next_open fills one bar after the signal
    status = np.asarray(sim.entry_status)
    assert np.all((status >= -1) & (status < len(ENTRY_STATUS_NAMES)))
    filled_bars = np.flatnonzero(status == FILLED) + (1 if st_.fill == "next_open" else 0)
    entry_bars = np.sort(np.r_[tr["entry_bar"], pos["entry_bar"]])
    assert np.array_equal(filled_bars, entry_bars)
    assert np.array_equal(status >= 0, case.entries)
    for code, name in enumerate(ENTRY_STATUS_NAMES):
        assert sim.status_counts.get(name, 0) == int(np.sum(status == code))
