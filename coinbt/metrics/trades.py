"""Figures computed from the engine's trade records (``coinbt.engine.records``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from coinbt.errors import DataError
from coinbt.metrics.returns import finite_or_none

#: fields of ``trade_dt`` the trade figures read
TRADE_FIELDS = ("net_pnl", "return", "bars_held", "entry_fee", "exit_fee", "entry_bar", "exit_bar")
#: fields of ``open_position_dt`` the trade figures read
OPEN_POSITION_FIELDS = ("entry_fee", "entry_bar")


def check_records(records: Any, fields: tuple[str, ...], name: str) -> np.ndarray:
    """``records`` as a 1-D structured array that has ``fields``, or raise :class:`DataError`."""
    if not isinstance(records, np.ndarray) or records.dtype.names is None:
        raise DataError(
            f"{name} must be a structured numpy array of engine records "
            f"(coinbt.engine.records), got {type(records).__name__}"
        )
    missing = [f for f in fields if f not in records.dtype.names]
    if missing:
        raise DataError(
            f"{name} lacks the field(s) {', '.join(missing)}; expected the engine's record "
            f"dtype with {', '.join(fields)}"
        )
    if records.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {records.shape}")
    return records


def trade_figures(trades: np.ndarray, open_position: np.ndarray | None) -> dict[str, Any]:
    """Win rate, profit factor, expectancy, trade returns, holding time and fees.

    Parameters
    ----------
    trades : numpy.ndarray
        Closed trades, ``trade_dt`` records: ``net_pnl`` in quote currency (after both fees),
        ``return`` a fraction of the entry notional, ``bars_held`` in bars, fees in quote
        currency.
    open_position : numpy.ndarray or None
        ``open_position_dt`` records, length 0 or 1 (None = none).

    Returns
    -------
    dict
        ``n_trades``, ``n_open_positions``, ``win_rate`` (share of closed trades with
        ``net_pnl > 0``), ``profit_factor`` (Σ positive net_pnl / |Σ negative net_pnl|),
        ``expectancy`` (mean net_pnl, quote currency), ``avg_trade_return``,
        ``best_trade_return``, ``worst_trade_return`` (of the ``return`` field),
        ``avg_bars_held``, ``fees_paid`` (entry and exit fees of closed trades plus the entry
        fee of an open position, quote currency).

    Notes
    -----
    With no closed trade every per-trade figure is None. ``profit_factor`` is None when no
    closed trade lost money (the ratio has no finite value); it is 0.0 when none made money
    but some lost. A trade with ``net_pnl == 0`` is neither a win nor a loss, but it counts in
    the denominator of ``win_rate``.
    """
    n = int(trades.shape[0])
    n_open = 0 if open_position is None else int(open_position.shape[0])
    fees = 0.0
    if n_open:
        fees += float(np.sum(open_position["entry_fee"]))
    out: dict[str, Any] = {
        "n_trades": n,
        "n_open_positions": n_open,
        "win_rate": None,
        "profit_factor": None,
        "expectancy": None,
        "avg_trade_return": None,
        "best_trade_return": None,
        "worst_trade_return": None,
        "avg_bars_held": None,
        "fees_paid": None,
    }
    if n:
        pnl = trades["net_pnl"]
        ret = trades["return"]
        fees += float(np.sum(trades["entry_fee"]) + np.sum(trades["exit_fee"]))
        gains = float(np.sum(pnl, where=pnl > 0.0))
        losses = float(np.sum(pnl, where=pnl < 0.0))
        out["win_rate"] = int(np.count_nonzero(pnl > 0.0)) / n
        out["profit_factor"] = gains / -losses if losses < 0.0 else None
        out["expectancy"] = float(np.mean(pnl))
        out["avg_trade_return"] = float(np.mean(ret))
        out["best_trade_return"] = float(np.max(ret))
        out["worst_trade_return"] = float(np.min(ret))
        out["avg_bars_held"] = float(np.mean(trades["bars_held"]))
    out["fees_paid"] = fees
    return {k: finite_or_none(v) if isinstance(v, float) else v for k, v in out.items()}
