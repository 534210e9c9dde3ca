"""``coinbt.signal_study``: what happened after every signal, horizon by horizon.

A study looks at signals, not at a portfolio: every entry signal counts, overlapping or not,
with no capital, sizing or position limit. It answers "is there an edge after this signal?"
before the engine answers "what would trading it have earned?".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coinbt.api import market_bars
from coinbt.errors import ConfigError
from coinbt.strategies import Strategy, get_strategy

_FILLS = ("next_open", "close")
_INCOMPLETE = ("drop", "clamp")


@dataclass(frozen=True)
class SignalStudy:
    """Forward returns of every entry signal.

    Attributes
    ----------
    signals : DataFrame
        One row per entry signal (index: signal bar time): ``price`` (the signal bar's close),
        ``confidence``, ``entry_price`` and one ``return_<h>`` column per horizon (fractions,
        net of ``fee_rate`` on both sides; NaN where the horizon runs past the data and
        ``incomplete="drop"``).
    summary : DataFrame
        One row per horizon: ``signals`` (with a return), ``win_rate`` (share > 0), ``mean``
        (the predecessor's ``avg_return``, as a fraction), ``median``, ``std`` and the
        requested quantiles ``q05`` …
    strategy, params, fill, fee_rate, incomplete
        What was studied, for the record.
    """

    signals: pd.DataFrame
    summary: pd.DataFrame
    strategy: str
    params: dict[str, Any]
    fill: str
    fee_rate: float
    incomplete: str


def _horizons(horizons: int | Iterable[int]) -> list[int]:
    hs = [horizons] if isinstance(horizons, int) else list(horizons)
    if not hs:
        raise ConfigError("horizons must name at least one horizon in bars, e.g. (1, 5, 20)")
    for h in hs:
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
            raise ConfigError(
                f"horizons must be whole numbers of bars ≥ 1, got {h!r}", field="horizons"
            )
    return sorted({int(h) for h in hs})


def _quantiles(quantiles: Iterable[float]) -> list[float]:
    qs = list(quantiles)
    for q in qs:
        if not isinstance(q, int | float) or not 0.0 < q < 1.0:
            raise ConfigError(f"quantiles must lie in (0, 1), got {q!r}", field="quantiles")
    return qs


def forward_returns(
    open_: np.ndarray,
    close: np.ndarray,
    signal_bars: np.ndarray,
    horizon: int,
    *,
    fill: str,
    fee_rate: float,
    incomplete: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Entry price and return after ``horizon`` bars for each signal bar.

    ``fill="close"``: bought at ``close[t]``, sold at ``close[t + h]`` (the predecessor's
    timing). ``fill="next_open"``: bought at ``open[t + 1]``, sold at ``open[t + 1 + h]`` —
    the engine's timing with ``hold_bars=h``. An exit past the last bar is NaN, or with
    ``incomplete="clamp"`` the last bar's price (what the predecessor did; a signal on the last
    bar then returns 0).
    """
    n = close.shape[0]
    if fill == "close":
        entry_at, exit_at, entry_px, exit_px = signal_bars, signal_bars + horizon, close, close
    else:
        entry_at, exit_at = signal_bars + 1, signal_bars + 1 + horizon
        entry_px, exit_px = open_, open_
    entry = np.full(signal_bars.shape[0], np.nan)
    has_entry = entry_at < n
    if incomplete == "clamp":
        has_entry = np.ones_like(has_entry)
        entry_at = np.minimum(entry_at, n - 1)
        exit_at = np.minimum(exit_at, n - 1)
    entry[has_entry] = entry_px[entry_at[has_entry]]
    out = np.full(signal_bars.shape[0], np.nan)
    ok = has_entry & (exit_at < n)
    gross = exit_px[exit_at[ok]] * (1.0 - fee_rate) / (entry[ok] * (1.0 + fee_rate))
    out[ok] = gross - 1.0
    return entry, out


def signal_study(
    strategy: str | Strategy | Callable[..., Any],
    symbol: str | None = None,
    timeframe: str | None = None,
    start: Any = None,
    end: Any = None,
    *,
    exchange: str | None = None,
    bars: pd.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    horizons: int | Iterable[int] = (1, 5, 20),
    fill: str = "next_open",
    fee_rate: float = 0.0,
    quantiles: Iterable[float] = (0.05, 0.25, 0.75, 0.95),
    incomplete: str = "drop",
) -> SignalStudy:
    """Forward returns of every entry signal of a strategy, per horizon.

    Parameters
    ----------
    strategy, symbol, timeframe, start, end, exchange, bars, params
        As in :func:`coinbt.backtest`.
    horizons : int or iterable of int
        Holding periods in bars.
    fill : {"next_open", "close"}
        Entry at the next bar's open (default, tradable) or at the signal bar's close (the
        predecessor's timing).
    fee_rate : float
        Fraction of notional charged on entry and on exit (0 = gross returns, as the
        predecessor reported).
    quantiles : iterable of float
        Quantiles of the returns reported per horizon.
    incomplete : {"drop", "clamp"}
        What to do with a signal whose horizon runs past the data: leave it out (default), or
        exit at the last bar as the predecessor did.

    Returns
    -------
    SignalStudy

    Notes
    -----
    With ``fill="close"``, ``incomplete="clamp"`` and a horizon equal to the predecessor's
    ``hold_period_bars``, ``summary.win_rate`` and ``summary.mean`` are the predecessor's
    per-symbol ``win_rate`` and ``avg_return`` (as fractions, not percent points), so old
    results can be compared directly. Signals overlap freely here; the engine trades one
    position at a time.
    """
    if fill not in _FILLS:
        raise ConfigError(f"fill must be one of {_FILLS}, got {fill!r}", field="fill")
    if incomplete not in _INCOMPLETE:
        raise ConfigError(
            f"incomplete must be one of {_INCOMPLETE}, got {incomplete!r}", field="incomplete"
        )
    if isinstance(fee_rate, bool) or not isinstance(fee_rate, int | float) or not 0 <= fee_rate < 1:
        raise ConfigError(
            f"fee_rate must be a fraction in [0, 1) (0.001 = 0.1 % per side), got {fee_rate!r}",
            field="fee_rate",
        )
    hs = _horizons(horizons)
    qs = _quantiles(quantiles)
    strat = get_strategy(strategy)
    effective = strat.resolve(params)
    bars = market_bars(symbol, timeframe, start, end, exchange, bars, caller="signal_study")[0]
    sig = strat.signals(bars, effective)
    at = np.flatnonzero(sig.entries)
    open_ = bars["open"].to_numpy(dtype=np.float64)
    close = bars["close"].to_numpy(dtype=np.float64)
    cols: dict[str, Any] = {
        "price": close[at],
        "confidence": np.full(at.shape[0], np.nan)
        if sig.confidence is None
        else sig.confidence[at],
    }
    rows = []
    for h in hs:
        entry, ret = forward_returns(
            open_, close, at, h, fill=fill, fee_rate=float(fee_rate), incomplete=incomplete
        )
        cols.setdefault("entry_price", entry)
        cols[f"return_{h}"] = ret
        r = ret[~np.isnan(ret)]
        row: dict[str, Any] = {"horizon": h, "signals": int(r.shape[0])}
        if r.shape[0]:
            row.update(
                win_rate=float((r > 0).mean()),
                mean=float(r.mean()),
                median=float(np.median(r)),
                std=float(r.std(ddof=1)) if r.shape[0] > 1 else np.nan,
            )
            row.update({f"q{round(q * 100):02d}": float(np.quantile(r, q)) for q in qs})
        rows.append(row)
    signals = pd.DataFrame(cols, index=bars.index[at].rename("timestamp"))
    summary = pd.DataFrame(rows).set_index("horizon")
    return SignalStudy(signals, summary, strat.name, effective, fill, float(fee_rate), incomplete)
