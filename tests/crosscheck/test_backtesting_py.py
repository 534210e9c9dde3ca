"""coinbt against backtesting.py (kernc, 0.6.6) on real exchange candles.

Both engines run the same ``sma_cross`` rule (coinbt's built-in strategy; a backtesting.py
``Strategy`` that recomputes the rule from pandas rolling means) with fees, next-open fills,
long only, all equity in and fractional quantities. They must produce the same trades (entry
and exit times equal, prices equal to 1e-9 relative) and the same equity.

The settings that make the two engines comparable, and the differences that are by design,
are explained in ``docs/crosscheck.md``; the differences that show in results are pinned here.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pandas as pd
import pytest

import coinbt
from coinbt.strategies.sma_cross import sma_cross

bt_core = pytest.importorskip("backtesting.backtesting")
bt_lib = pytest.importorskip("backtesting.lib")

#: fee rate of both engines (fraction of notional on every fill)
FEE = 0.001
#: "All equity in". backtesting.py reads an order size >= 1 as a number of units, so the
#: fraction must stay below 1; coinbt gets the very same fraction (``equity_fraction``).
SIZE = 1.0 - 2.0**-40
#: relative tolerance on prices, quantities, fees and equity where the engines are aligned
REL = 1e-9


@dataclass(frozen=True)
class Case:
    exchange: str
    symbol: str
    timeframe: str
    start: int | None  # row slice of the file: iloc[start:stop]
    stop: int | None
    window: int
    vol_mult: float
    init_cash: float

    @property
    def id(self) -> str:
        return f"{self.exchange}-{self.symbol}-{self.timeframe}-w{self.window}-v{self.vol_mult:g}"


CASES = (
    Case("binance", "BTC-USDT", "1h", -6000, None, 20, 0.0, 10_000.0),
    Case("binance", "SOL-USDT", "1h", -6000, None, 50, 1.5, 10_000.0),
    Case("upbit", "ETH-KRW", "1h", None, None, 20, 0.0, 10_000_000.0),
    Case("upbit", "ETH-KRW", "1h", None, None, 20, 1.5, 10_000_000.0),
    Case("coinbase", "BTC-USD", "1h", 0, 6000, 50, 0.0, 10_000.0),
    Case("bittrex", "ETH-BTC", "5m", None, None, 20, 1.5, 1.0),
)
#: a case that ends with a position open (used for the end-of-data rule)
OPEN_AT_END = CASES[0]
#: a case whose closes sit exactly on their SMA on some bars (integer KRW prices)
WITH_TIES = CASES[2]


# --------------------------------------------------------------------------- data


def _data_root() -> Path:
    default = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
    return Path(os.environ.get("COINBT_SHARED_DATA", default))


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("COINBT_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@cache
def load_bars(case: Case) -> pd.DataFrame:
    """The real candles of ``case``, read directly with pandas (coinbt's bar shape)."""
    path = _data_root() / case.exchange / f"{case.symbol}_{case.timeframe}.parquet"
    if not path.is_file():
        _skip_or_fail(f"real candle file {path} not found; set COINBT_SHARED_DATA")
    raw = pd.read_parquet(path)
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp"], utc=True), name="timestamp")
    bars = (
        raw[["open", "high", "low", "close", "volume"]]
        .astype(np.float64)
        .set_axis(index)
        .sort_index()
        .iloc[case.start : case.stop]
        .copy()
    )
    bars.attrs = {"symbol": case.symbol, "exchange": case.exchange, "timeframe": case.timeframe}
    return bars


def fractional_unit(case: Case) -> float:
    """backtesting.py's ``fractional_unit``: a power of two worth about 1e-7 of the first order.

    A power of two makes ``FractionalBacktest``'s price scaling (``price × unit``) exact, so every
    SMA, comparison and fill price is the unscaled one times the unit, bit for bit. About 1e7
    units per order keeps the unit flooring small (≤ 1e-7 of the quantity) yet far from the
    2**53 limit of exact integers in a float.
    """
    bars = load_bars(case)
    return 2.0 ** math.floor(math.log2(case.init_cash / bars["close"].max() / 1e7))


# --------------------------------------------------------------------------- the two engines


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window).mean().to_numpy()


class SmaCross(bt_core.Strategy):
    """coinbt's ``sma_cross`` written as a backtesting.py strategy.

    Cross above at bar t: ``close[t] > sma[t] and close[t-1] <= sma[t-1]`` (a close on the SMA is
    neither above nor below, so a tie followed by a close above is a cross above); cross below
    mirrors it. ``backtesting.lib.crossover`` is strict on both sides and would miss those.
    """

    window = 20
    vol_mult = 0.0
    size = SIZE

    def init(self) -> None:
        self.sma = self.I(_rolling_mean, self.data.Close, self.window, name="sma")
        self.vol_sma = self.I(
            _rolling_mean, self.data.Volume, self.window, name="vol_sma", overlay=False
        )

    def next(self) -> None:
        close, sma = self.data.Close, self.sma
        if not self.position:
            cross_above = close[-1] > sma[-1] and close[-2] <= sma[-2]
            volume_ok = (
                self.vol_mult <= 0 or self.data.Volume[-1] > self.vol_mult * self.vol_sma[-1]
            )
            if cross_above and volume_ok:
                self.buy(size=self.size)
        elif close[-1] < sma[-1] and close[-2] >= sma[-2]:
            self.position.close()


def _no_progress(seq, **_):
    return seq


@cache
def run_backtesting_py(
    case: Case, *, finalize: bool, trade_on_close: bool = False
) -> SimpleNamespace:
    """backtesting.py: market orders (filled at the next open, or with ``trade_on_close`` at the
    signal bar's close), fractional units, no spread."""
    bars = load_bars(case)
    unit = fractional_unit(case)
    data = bars.rename(columns=str.capitalize)
    with warnings.catch_warnings(), mock.patch.object(bt_core, "_tqdm", _no_progress):
        warnings.simplefilter("ignore")
        bt = bt_lib.FractionalBacktest(
            data,
            SmaCross,
            cash=case.init_cash,
            commission=FEE,
            spread=0.0,
            margin=1.0,
            trade_on_close=trade_on_close,
            hedging=False,
            exclusive_orders=False,
            finalize_trades=finalize,
            fractional_unit=unit,
        )
        stats = bt.run(window=case.window, vol_mult=case.vol_mult, size=SIZE)
    trades = stats["_trades"]  # Size and prices already converted back from units
    still_open = [
        (bars.index[t.entry_bar], t.size * unit, t.entry_price / unit)
        for t in stats["_strategy"].trades
    ]
    return SimpleNamespace(
        stats=stats,
        trades=trades,
        open=still_open,
        equity=stats["_equity_curve"]["Equity"].to_numpy(),
        drawdown=stats["_equity_curve"]["DrawdownPct"].to_numpy(),
    )


@cache
def run_coinbt(
    case: Case, *, lot_aligned: bool, close_at_end: bool = False, fill: str = "next_open"
):
    """coinbt with the settings of docs/crosscheck.md (``lot_size`` = backtesting.py's unit)."""
    return coinbt.backtest(
        "sma_cross",
        bars=load_bars(case),
        params={"window": case.window, "vol_mult": case.vol_mult},
        init_cash=case.init_cash,
        fill=fill,
        fee_rate=FEE,
        slippage_bps=0.0,
        size_type="equity_fraction",
        size=SIZE,
        lot_size=fractional_unit(case) if lot_aligned else 0.0,
        close_at_end=close_at_end,
    )


# --------------------------------------------------------------------------- comparison


def _rel(a: object, b: object) -> float:
    """Largest relative difference of ``a`` from ``b`` (0.0 for empty arrays)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _times(values: object) -> np.ndarray:
    return pd.DatetimeIndex(values).tz_convert("UTC").as_unit("ns").asi8


def _first_difference(cb: pd.DataFrame, bt: pd.DataFrame) -> str:
    n = min(len(cb), len(bt))
    entry_c, exit_c = _times(cb["entry_time"]), _times(cb["exit_time"])
    entry_b, exit_b = _times(bt["EntryTime"]), _times(bt["ExitTime"])
    bad = np.flatnonzero((entry_c[:n] != entry_b[:n]) | (exit_c[:n] != exit_b[:n]))
    i = int(bad[0]) if len(bad) else n
    c_row = (
        cb.iloc[i][["entry_time", "exit_time", "entry_price", "exit_price"]].to_dict()
        if i < len(cb)
        else None
    )
    b_row = (
        bt.iloc[i][["EntryTime", "ExitTime", "EntryPrice", "ExitPrice"]].to_dict()
        if i < len(bt)
        else None
    )
    return f"{len(cb)} vs {len(bt)} trades; first difference at trade {i}: coinbt {c_row}, backtesting.py {b_row}"


def measure(case: Case, *, lot_aligned: bool) -> dict[str, float]:
    """Agreement figures of one case (also used to write docs/crosscheck.md)."""
    cb, bt = run_coinbt(case, lot_aligned=lot_aligned), run_backtesting_py(case, finalize=False)
    ct, bt_trades = cb.trades, bt.trades
    assert len(ct) == len(bt_trades), _first_difference(ct, bt_trades)
    assert np.array_equal(_times(ct["entry_time"]), _times(bt_trades["EntryTime"])), (
        _first_difference(ct, bt_trades)
    )
    assert np.array_equal(_times(ct["exit_time"]), _times(bt_trades["ExitTime"])), (
        _first_difference(ct, bt_trades)
    )
    notional = ct["quantity"] * ct["entry_price"]
    cb_dd = cb.equity["drawdown"].to_numpy()
    return {
        "n_trades": len(ct),
        "n_open": len(cb.positions),
        "entry_price": _rel(ct["entry_price"], bt_trades["EntryPrice"]),
        "exit_price": _rel(ct["exit_price"], bt_trades["ExitPrice"]),
        "quantity": _rel(ct["quantity"], bt_trades["Size"]),
        "fees": _rel(ct["entry_fee"] + ct["exit_fee"], bt_trades["Commission"]),
        "net_pnl_over_notional": float(np.max(np.abs(ct["net_pnl"] - bt_trades["PnL"]) / notional))
        if len(ct)
        else 0.0,
        "final_equity": _rel(cb.stats["final_equity"], bt.stats["Equity Final [$]"]),
        "equity_curve": _rel(cb.equity["equity"], bt.equity),
        "max_drawdown_abs": abs(cb.stats["max_drawdown"] - bt.stats["Max. Drawdown [%]"] / 100),
        "drawdown_curve_abs": float(np.max(np.abs(cb_dd + bt.drawdown))),
    }


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_trades_and_equity(case: Case) -> None:
    """Aligned settings: identical trades, quantities, fees and equity on every bar."""
    m = measure(case, lot_aligned=True)
    assert m["n_trades"] >= 30, f"slice too small for a meaningful cross-check: {m}"
    cb, bt = run_coinbt(case, lot_aligned=True), run_backtesting_py(case, finalize=False)
    assert cb.stats["n_trades"] == bt.stats["# Trades"] == m["n_trades"]
    for key in ("entry_price", "exit_price", "quantity", "fees", "net_pnl_over_notional"):
        assert m[key] <= REL, (key, m)
    assert m["final_equity"] <= REL, m
    assert m["equity_curve"] <= REL, m
    assert m["max_drawdown_abs"] <= REL, m
    assert m["drawdown_curve_abs"] <= REL, m
    assert cb.stats["win_rate"] == pytest.approx(bt.stats["Win Rate [%]"] / 100, abs=1e-12)
    assert cb.stats["total_return"] == pytest.approx(
        bt.stats["Return [%]"] / 100, rel=1e-6, abs=1e-9
    )
    # fees of closed trades; coinbt's fees_paid also counts an open position's entry fee
    closed_fees = float((cb.trades["entry_fee"] + cb.trades["exit_fee"]).sum())
    assert closed_fees == pytest.approx(bt.stats["Commissions [$]"], rel=REL)
    # the position still open after the last bar (neither engine closes it)
    assert len(cb.positions) == len(bt.open)
    for (_, pos), (entry_time, qty, price) in zip(cb.positions.iterrows(), bt.open, strict=True):
        assert pos["entry_time"] == entry_time
        assert pos["quantity"] == pytest.approx(qty, rel=REL)
        assert pos["entry_price"] == pytest.approx(price, rel=REL)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unit_flooring_is_negligible(case: Case) -> None:
    """coinbt unrounded (``lot_size=0``) vs backtesting.py's whole units: same trades, and the
    quantities and equity differ only by the flooring to ``fractional_unit`` (< 1e-6)."""
    m = measure(case, lot_aligned=False)
    assert m["entry_price"] <= REL and m["exit_price"] <= REL, m
    assert 0.0 < m["quantity"] <= 1e-6, m  # flooring shows, but stays below 1e-6
    cb, bt = run_coinbt(case, lot_aligned=False), run_backtesting_py(case, finalize=False)
    # same cash before the first entry: backtesting.py floors it, coinbt does not. (Later the
    # accounts drift apart by the flooring, so either may buy more.)
    first_bt, first_cb = bt.trades["Size"].iloc[0], cb.trades["quantity"].iloc[0]
    assert first_cb - fractional_unit(case) <= first_bt <= first_cb
    assert m["final_equity"] <= 1e-6, m
    assert m["max_drawdown_abs"] <= 1e-6, m


def test_end_of_data_close_differs_by_design() -> None:
    """``finalize_trades=True`` closes at the last bar's OPEN; coinbt's ``close_at_end`` at its
    CLOSE (docs/engine.md). Everything before that last exit is identical."""
    case = OPEN_AT_END
    bars = load_bars(case)
    open_last, close_last = bars["open"].iloc[-1], bars["close"].iloc[-1]
    cb = run_coinbt(case, lot_aligned=True, close_at_end=True)
    bt = run_backtesting_py(case, finalize=True)
    bt_open = run_backtesting_py(case, finalize=False)
    assert len(bt_open.open) == 1, "precondition: this case must end with an open position"
    ct, bt_trades = cb.trades, bt.trades
    assert len(ct) == len(bt_trades), _first_difference(ct, bt_trades)
    assert np.array_equal(_times(ct["entry_time"]), _times(bt_trades["EntryTime"]))
    assert np.array_equal(_times(ct["exit_time"]), _times(bt_trades["ExitTime"]))
    assert _rel(ct["entry_price"], bt_trades["EntryPrice"]) <= REL
    assert _rel(ct["exit_price"].iloc[:-1], bt_trades["ExitPrice"].iloc[:-1]) <= REL
    # the forced exit: both on the last bar, at different prices
    last = ct.iloc[-1]
    assert last["exit_reason"] == "end_of_data"
    assert last["exit_time"] == bars.index[-1]
    assert last["exit_price"] == close_last
    assert bt_trades["ExitPrice"].iloc[-1] == pytest.approx(open_last, rel=REL)
    qty = last["quantity"]
    # equity: backtesting.py = coinbt + qty·(open − close)·(1 − fee) on the last bar
    expected = cb.stats["final_equity"] + qty * (open_last - close_last) * (1 - FEE)
    assert bt.stats["Equity Final [$]"] == pytest.approx(expected, rel=REL)
    # and coinbt's close_at_end = backtesting.py's mark-to-market − the exit fee at the close
    expected = bt_open.stats["Equity Final [$]"] - qty * close_last * FEE
    assert cb.stats["final_equity"] == pytest.approx(expected, rel=REL)


def test_tie_then_above_is_a_cross_in_both_engines() -> None:
    """On integer-priced KRW candles the close sits exactly on its SMA on some bars; a close above
    after such a tie is a cross above in both engines (``backtesting.lib.crossover`` would not)."""
    case = WITH_TIES
    bars = load_bars(case)
    close = bars["close"].to_numpy()
    sma = _rolling_mean(close, case.window)
    ties = np.flatnonzero(close == sma)
    entry_bars = bars.index.get_indexer(run_coinbt(case, lot_aligned=True).trades["entry_time"])
    after_tie = [int(b) for b in entry_bars if (b - 2) in set(ties.tolist())]
    assert after_tie, "precondition: some entry must follow a tie (signal bar t, tie at t−1)"
    bt_entries = set(run_backtesting_py(case, finalize=False).trades["EntryBar"].tolist())
    assert set(after_tie) <= bt_entries


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fill_at_close_matches_trade_on_close(case: Case) -> None:
    """coinbt ``fill="close"`` vs backtesting.py ``trade_on_close=True``: the same trades at the
    signal bar's close. backtesting.py books such a fill one bar late (at the next bar's order
    processing), so its equity on a fill bar still lacks that fill's fee; elsewhere it is equal."""
    cb = run_coinbt(case, lot_aligned=True, fill="close")
    bt = run_backtesting_py(case, finalize=False, trade_on_close=True)
    ct, bt_trades = cb.trades, bt.trades
    assert len(ct) == len(bt_trades), _first_difference(ct, bt_trades)
    assert np.array_equal(_times(ct["entry_time"]), _times(bt_trades["EntryTime"]))
    assert np.array_equal(_times(ct["exit_time"]), _times(bt_trades["ExitTime"]))
    assert _rel(ct["entry_price"], bt_trades["EntryPrice"]) <= REL
    assert _rel(ct["exit_price"], bt_trades["ExitPrice"]) <= REL
    assert _rel(ct["quantity"], bt_trades["Size"]) <= REL
    # a decision on the last bar would fill in coinbt (at that close) but never in backtesting.py
    entries, exits = sma_cross(load_bars(case), case.window, case.vol_mult)
    assert not entries[-1] and not exits[-1], "precondition: no decision on the last bar"
    index = load_bars(case).index
    expected = np.zeros(len(index))
    np.add.at(expected, index.get_indexer(ct["entry_time"]), ct["entry_fee"].to_numpy())
    np.add.at(expected, index.get_indexer(ct["exit_time"]), ct["exit_fee"].to_numpy())
    pos = cb.positions
    np.add.at(expected, index.get_indexer(pos["entry_time"]), pos["entry_fee"].to_numpy())
    cb_equity = cb.equity["equity"].to_numpy()
    assert np.max(np.abs(bt.equity - cb_equity - expected) / cb_equity) <= REL
    assert _rel(cb.stats["final_equity"], bt.stats["Equity Final [$]"]) <= REL
