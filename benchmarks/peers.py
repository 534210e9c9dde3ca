"""The engines under test, configured for the same workload, and their results normalised.

Every ``make_*`` function takes the workload arrays (``benchmarks.workload.Workload.arrays()``
or the same keys loaded from an ``.npz``) and returns a zero-argument ``call`` that runs one
complete backtest and returns the engine's native result. Preparation that a user does once
(building a DataFrame, shifting signals) happens in ``make_*``, outside the timed call.
``normalise_*`` turn a native result into :class:`Outcome` for the correctness comparison.

Heavy libraries are imported inside the functions so ``fresh_process.py`` can time imports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

WINDOW = 20
VOL_MULT = 1.5
FEE_RATE = 0.0005
INIT_CASH = 10_000.0
#: backtesting.py takes a fraction strictly below 1 for "all available cash"
BTPY_SIZE = 1.0 - 1e-12

ENGINES = ("coinbt", "coinbt_api", "vectorbt_numba", "vectorbt_rust", "backtesting")


def _c(a: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


# --------------------------------------------------------------------------------------------
# coinbt
# --------------------------------------------------------------------------------------------


def coinbt_settings() -> Any:
    from coinbt.engine import EngineSettings

    return EngineSettings(
        init_cash=INIT_CASH,
        fill="next_open",
        fee_rate=FEE_RATE,
        slippage_bps=0.0,
        size_type="equity_fraction",
        size=1.0,
        close_at_end=False,
    )


def make_coinbt(a: dict[str, np.ndarray]) -> Callable[[], Any]:
    """Signals kernel + ``simulate`` + ``compute_stats`` on numpy arrays (the low-level path)."""
    from coinbt.engine import simulate
    from coinbt.metrics import compute_stats
    from coinbt.strategies._nb import sma_cross_signals_nb

    o, h, lo, c, v = (_c(a[k]) for k in ("open", "high", "low", "close", "volume"))
    ts = _c(a["timestamps"], np.int64)
    settings = coinbt_settings()

    def call() -> tuple[Any, dict[str, Any]]:
        entries, exits = sma_cross_signals_nb(c, v, WINDOW, VOL_MULT)
        sim = simulate(o, h, lo, c, entries, exits, settings)
        stats = compute_stats(
            equity=sim.equity,
            position_value=sim.position_value,
            close=c,
            timestamps=ts,
            trades=sim.trades,
            open_position=sim.open_position,
            init_cash=INIT_CASH,
            timeframe="1h",
        )
        return sim, stats

    return call


def make_coinbt_components(a: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    """The three stages of :func:`make_coinbt` separately (inputs precomputed once)."""
    from coinbt.engine import simulate
    from coinbt.metrics import compute_stats
    from coinbt.strategies._nb import sma_cross_signals_nb

    o, h, lo, c, v = (_c(a[k]) for k in ("open", "high", "low", "close", "volume"))
    ts = _c(a["timestamps"], np.int64)
    settings = coinbt_settings()
    entries, exits = sma_cross_signals_nb(c, v, WINDOW, VOL_MULT)
    sim = simulate(o, h, lo, c, entries, exits, settings)

    def signals() -> Any:
        return sma_cross_signals_nb(c, v, WINDOW, VOL_MULT)

    def simulate_only() -> Any:
        return simulate(o, h, lo, c, entries, exits, settings)

    def stats() -> Any:
        return compute_stats(
            equity=sim.equity,
            position_value=sim.position_value,
            close=c,
            timestamps=ts,
            trades=sim.trades,
            open_position=sim.open_position,
            init_cash=INIT_CASH,
            timeframe="1h",
        )

    return {"signals": signals, "simulate": simulate_only, "stats": stats}


def bars_frame(a: dict[str, np.ndarray]) -> Any:
    """coinbt's canonical bars: tz-aware UTC DatetimeIndex of bar open times + OHLCV."""
    import pandas as pd

    idx = pd.DatetimeIndex(_c(a["timestamps"], np.int64).view("datetime64[ns]"), name="timestamp")
    df = pd.DataFrame(
        {k: _c(a[k]) for k in ("open", "high", "low", "close", "volume")},
        index=idx.tz_localize("UTC"),
    )
    df.attrs.update({"symbol": "BTC-USDT", "exchange": "binance", "timeframe": "1h"})
    return df


def make_coinbt_api(a: dict[str, np.ndarray]) -> Callable[[], Any]:
    """The public one-call path ``coinbt.backtest("sma_cross", bars=df, ...)``."""
    import coinbt

    backtest = coinbt.backtest  # raises ImportError while coinbt.data is incomplete
    df = bars_frame(a)

    def call() -> Any:
        return backtest(
            "sma_cross",
            bars=df,
            params={"window": WINDOW, "vol_mult": VOL_MULT},
            init_cash=INIT_CASH,
            fill="next_open",
            fee_rate=FEE_RATE,
            size_type="equity_fraction",
            size=1.0,
            close_at_end=False,
        )

    return call


# --------------------------------------------------------------------------------------------
# vectorbt
# --------------------------------------------------------------------------------------------


def shifted(signal: np.ndarray) -> np.ndarray:
    """Signal at bar t → order at bar t+1 (the last bar's signal falls off the end)."""
    out = np.zeros_like(signal, dtype=bool)
    out[1:] = signal[:-1]
    return out


def make_vectorbt(
    a: dict[str, np.ndarray], engine: str, what: str = "stats", pandas_index: bool = False
) -> Callable[[], Any]:
    """``Portfolio.from_signals`` filling at the next open, then ``stats()`` (or less).

    ``engine``: ``"numba"`` or ``"rust"``. ``what``: ``"stats"`` (full ``pf.stats()``),
    ``"total_return"`` or ``"none"``. ``pandas_index=True`` passes pandas Series with the
    tz-aware UTC DatetimeIndex instead of numpy arrays (an informational variant).
    """
    import vectorbt as vbt

    close, open_ = _c(a["close"]), _c(a["open"])
    entries, exits = shifted(a["entries"]), shifted(a["exits"])
    if pandas_index:
        import pandas as pd

        idx = bars_frame(a).index
        close, open_ = pd.Series(close, idx), pd.Series(open_, idx)
        entries, exits = pd.Series(entries, idx), pd.Series(exits, idx)
    from_signals = vbt.Portfolio.from_signals

    def call() -> tuple[Any, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pf = from_signals(
                close,
                entries,
                exits,
                price=open_,
                direction="longonly",
                size=np.inf,
                fees=FEE_RATE,
                init_cash=INIT_CASH,
                accumulate=False,
                freq="1h",
                engine=engine,
            )
            if what == "stats":
                out = pf.stats()
            elif what == "total_return":
                out = pf.total_return()
            else:
                out = None
        return pf, out

    return call


# --------------------------------------------------------------------------------------------
# backtesting.py
# --------------------------------------------------------------------------------------------


def _signal_strategy() -> type:
    from backtesting import Strategy

    class SignalStrategy(Strategy):
        """Trades precomputed decisions: buy all cash on an entry when flat, close on an exit."""

        entries = None
        exits = None

        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if self.position:
                if self.exits[i]:
                    self.position.close()
            elif self.entries[i]:
                self.buy(size=BTPY_SIZE)

    return SignalStrategy


def make_backtesting(a: dict[str, np.ndarray]) -> Callable[[], Any]:
    """``FractionalBacktest`` (1e-8 base units) with market orders at the next open."""
    import backtesting.backtesting as btmod
    import pandas as pd
    from backtesting.lib import FractionalBacktest

    # no tqdm progress bar inside the timed loop (it only costs the peer time)
    btmod._tqdm = lambda seq, **_: seq
    idx = bars_frame(a).index
    df = pd.DataFrame(
        {
            "Open": _c(a["open"]),
            "High": _c(a["high"]),
            "Low": _c(a["low"]),
            "Close": _c(a["close"]),
            "Volume": _c(a["volume"]),
        },
        index=idx,
    )
    strategy = _signal_strategy()
    entries = np.asarray(a["entries"], dtype=bool)
    exits = np.asarray(a["exits"], dtype=bool)

    def call() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = FractionalBacktest(
                df,
                strategy,
                cash=INIT_CASH,
                spread=0.0,
                commission=FEE_RATE,
                margin=1.0,
                trade_on_close=False,
                hedging=False,
                exclusive_orders=False,
                finalize_trades=False,
                fractional_unit=1e-8,
            )
            stats = bt.run(entries=entries, exits=exits)
        return bt, stats

    return call


MAKERS: dict[str, Callable[..., Callable[[], Any]]] = {
    "coinbt": make_coinbt,
    "coinbt_api": make_coinbt_api,
    "vectorbt_numba": lambda a: make_vectorbt(a, "numba"),
    "vectorbt_rust": lambda a: make_vectorbt(a, "rust"),
    "backtesting": make_backtesting,
}


# --------------------------------------------------------------------------------------------
# normalised outcomes and the comparison
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Closed trades (bar indices of the fills, fill prices, quantity) + open position."""

    entry_bar: np.ndarray
    exit_bar: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    quantity: np.ndarray
    fees: float
    open_entry_bar: int | None
    open_entry_price: float | None
    open_quantity: float | None
    final_equity: float
    equity: np.ndarray | None = None
    total_return: float | None = None
    max_drawdown: float | None = None  # fraction <= 0

    @property
    def n_trades(self) -> int:
        return int(self.entry_bar.shape[0])


def normalise_coinbt(native: Any) -> Outcome:
    sim, stats = native
    t = sim.trades
    op = sim.open_position
    return Outcome(
        entry_bar=t["entry_bar"].astype(np.int64),
        exit_bar=t["exit_bar"].astype(np.int64),
        entry_price=t["entry_price"].astype(float),
        exit_price=t["exit_price"].astype(float),
        quantity=t["quantity"].astype(float),
        fees=float(
            t["entry_fee"].sum() + t["exit_fee"].sum() + (op["entry_fee"].sum() if len(op) else 0.0)
        ),
        open_entry_bar=int(op["entry_bar"][0]) if len(op) else None,
        open_entry_price=float(op["entry_price"][0]) if len(op) else None,
        open_quantity=float(op["quantity"][0]) if len(op) else None,
        final_equity=float(sim.equity[-1]),
        equity=np.asarray(sim.equity, dtype=float),
        total_return=stats.get("total_return"),
        max_drawdown=stats.get("max_drawdown"),
    )


def normalise_coinbt_api(native: Any) -> Outcome:
    return normalise_coinbt((native.sim, native.stats))


def normalise_vectorbt(native: Any) -> Outcome:
    pf, _ = native
    r = pf.trades.values
    closed = r[r["status"] == 1]
    opened = r[r["status"] == 0]
    value = np.asarray(pf.value(), dtype=float).ravel()
    mdd = float(np.asarray(pf.max_drawdown()).ravel()[0])
    return Outcome(
        entry_bar=closed["entry_idx"].astype(np.int64),
        exit_bar=closed["exit_idx"].astype(np.int64),
        entry_price=closed["entry_price"].astype(float),
        exit_price=closed["exit_price"].astype(float),
        quantity=closed["size"].astype(float),
        fees=float(r["entry_fees"].sum() + closed["exit_fees"].sum()),
        open_entry_bar=int(opened["entry_idx"][0]) if len(opened) else None,
        open_entry_price=float(opened["entry_price"][0]) if len(opened) else None,
        open_quantity=float(opened["size"][0]) if len(opened) else None,
        final_equity=float(value[-1]),
        equity=value,
        total_return=float(np.asarray(pf.total_return()).ravel()[0]),
        max_drawdown=mdd,
    )


def normalise_backtesting(native: Any) -> Outcome:
    bt, stats = native
    tr = stats["_trades"]
    unit = float(getattr(bt, "_fractional_unit", 1.0))
    open_trades = list(stats["_strategy"]._broker.trades)  # private: the still-open trades
    ot = open_trades[0] if open_trades else None
    eq = np.asarray(stats["_equity_curve"]["Equity"], dtype=float)
    return Outcome(
        entry_bar=tr["EntryBar"].to_numpy(dtype=np.int64),
        exit_bar=tr["ExitBar"].to_numpy(dtype=np.int64),
        entry_price=tr["EntryPrice"].to_numpy(dtype=float),
        exit_price=tr["ExitPrice"].to_numpy(dtype=float),
        quantity=tr["Size"].to_numpy(dtype=float),
        # closed trades' commissions + the entry commission of a still-open trade
        fees=float(tr["Commission"].sum())
        + (abs(float(ot.size)) * float(ot.entry_price) * FEE_RATE if ot else 0.0),
        open_entry_bar=int(ot.entry_bar) if ot else None,
        open_entry_price=float(ot.entry_price) / unit if ot else None,
        open_quantity=float(ot.size) * unit if ot else None,
        final_equity=float(stats["Equity Final [$]"]),
        equity=eq,
        total_return=float(stats["Return [%]"]) / 100.0,
        max_drawdown=-abs(float(stats["Max. Drawdown [%]"])) / 100.0,
    )


NORMALISERS: dict[str, Callable[[Any], Outcome]] = {
    "coinbt": normalise_coinbt,
    "coinbt_api": normalise_coinbt_api,
    "vectorbt_numba": normalise_vectorbt,
    "vectorbt_rust": normalise_vectorbt,
    "backtesting": normalise_backtesting,
}


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    denom = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denom > 0, np.abs(a - b) / denom, 0.0)
    return r


def _max(x: np.ndarray) -> float | None:
    return float(x.max()) if x.size else None


def compare(
    ref: Outcome, other: Outcome, qty_rtol: float, price_rtol: float = 1e-12
) -> dict[str, Any]:
    """How closely ``other`` reproduces ``ref`` (coinbt): trades, open position, equity."""
    ref_keys = {
        (int(e), int(x)): i
        for i, (e, x) in enumerate(zip(ref.entry_bar, ref.exit_bar, strict=True))
    }
    oth_keys = {
        (int(e), int(x)): i
        for i, (e, x) in enumerate(zip(other.entry_bar, other.exit_bar, strict=True))
    }
    common = sorted(set(ref_keys) & set(oth_keys))
    ri = np.array([ref_keys[k] for k in common], dtype=np.int64)
    oi = np.array([oth_keys[k] for k in common], dtype=np.int64)
    ep = _rel(ref.entry_price[ri], other.entry_price[oi])
    xp = _rel(ref.exit_price[ri], other.exit_price[oi])
    q = _rel(ref.quantity[ri], other.quantity[oi])
    price_ok = (ep <= price_rtol) & (xp <= price_rtol)
    full_ok = price_ok & (q <= qty_rtol)
    only_ref = sorted(set(ref_keys) - set(oth_keys))
    only_oth = sorted(set(oth_keys) - set(ref_keys))
    open_same = (ref.open_entry_bar == other.open_entry_bar) and (
        ref.open_entry_price is None
        or abs(ref.open_entry_price - (other.open_entry_price or 0.0))
        <= price_rtol * abs(ref.open_entry_price)
    )
    open_qty_rel = None
    if ref.open_quantity is not None and other.open_quantity is not None:
        open_qty_rel = float(
            _rel(np.array([ref.open_quantity]), np.array([other.open_quantity]))[0]
        )
        open_same = open_same and open_qty_rel <= qty_rtol
    out: dict[str, Any] = {
        "coinbt_trades": ref.n_trades,
        "peer_trades": other.n_trades,
        "same_entry_and_exit_bar": len(common),
        "same_bars_and_fill_prices": int(price_ok.sum()),
        "same_bars_prices_and_quantity": int(full_ok.sum()),
        "quantity_rtol_used": qty_rtol,
        "max_rel_diff_entry_price": _max(ep),
        "max_rel_diff_exit_price": _max(xp),
        "max_rel_diff_quantity": _max(q),
        "median_rel_diff_quantity": float(np.median(q)) if q.size else None,
        "only_in_coinbt": [list(k) for k in only_ref[:5]],
        "only_in_peer": [list(k) for k in only_oth[:5]],
        "open_position_same": bool(open_same),
        "open_position_quantity_rel_diff": open_qty_rel,
        "coinbt_open_position": None
        if ref.open_entry_bar is None
        else {
            "entry_bar": ref.open_entry_bar,
            "entry_price": ref.open_entry_price,
            "quantity": ref.open_quantity,
        },
        "peer_open_position": None
        if other.open_entry_bar is None
        else {
            "entry_bar": other.open_entry_bar,
            "entry_price": other.open_entry_price,
            "quantity": other.open_quantity,
        },
        "coinbt_final_equity": ref.final_equity,
        "peer_final_equity": other.final_equity,
        "final_equity_rel_diff": float(
            _rel(np.array([ref.final_equity]), np.array([other.final_equity]))[0]
        ),
        "coinbt_fees": ref.fees,
        "peer_fees": other.fees,
        "coinbt_total_return": ref.total_return,
        "peer_total_return": other.total_return,
        "coinbt_max_drawdown": ref.max_drawdown,
        "peer_max_drawdown": other.max_drawdown,
    }
    if (
        ref.equity is not None
        and other.equity is not None
        and ref.equity.shape == other.equity.shape
    ):
        out["equity_curve_max_rel_diff"] = float(_rel(ref.equity, other.equity).max())
    if ref.total_return is not None and other.total_return is not None:
        out["total_return_abs_diff"] = abs(ref.total_return - other.total_return)
    if ref.max_drawdown is not None and other.max_drawdown is not None:
        out["max_drawdown_abs_diff"] = abs(ref.max_drawdown - other.max_drawdown)
    return out
