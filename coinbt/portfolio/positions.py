"""Trades, open positions and the equity frame, built from engine records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coinbt.engine.enums import ENTRY_STATUS_NAMES, EXIT_REASON_NAMES, FILLED

TRADE_COLUMNS = [
    "symbol",
    "side",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "quantity",
    "entry_fee",
    "exit_fee",
    "slippage_cost",
    "gross_pnl",
    "net_pnl",
    "return",
    "bars_held",
    "exit_reason",
]

POSITION_COLUMNS = [
    "symbol",
    "side",
    "entry_time",
    "entry_price",
    "quantity",
    "entry_fee",
    "mark_time",
    "mark_price",
    "market_value",
    "unrealised_pnl",
]


def _side_names(side: np.ndarray) -> pd.Categorical:
    return pd.Categorical(np.where(side > 0, "long", "short"), categories=["long", "short"])


def trades_frame(trades: np.ndarray, index: pd.DatetimeIndex, symbol: str) -> pd.DataFrame:
    """One row per closed position (see ``docs/engine.md`` for each field).

    ``entry_time``/``exit_time`` are the open times of the bars whose price filled the order
    (with ``fill="next_open"`` that bar's open; with ``fill="close"`` its close).
    """
    return pd.DataFrame(
        {
            "symbol": pd.Series([symbol] * len(trades), dtype="string"),
            "side": _side_names(trades["side"]),
            "entry_time": index[trades["entry_bar"]],
            "exit_time": index[trades["exit_bar"]],
            "entry_price": trades["entry_price"],
            "exit_price": trades["exit_price"],
            "quantity": trades["quantity"],
            "entry_fee": trades["entry_fee"],
            "exit_fee": trades["exit_fee"],
            "slippage_cost": trades["slippage_cost"],
            "gross_pnl": trades["gross_pnl"],
            "net_pnl": trades["net_pnl"],
            "return": trades["return"],
            "bars_held": trades["bars_held"],
            "exit_reason": pd.Categorical.from_codes(
                trades["exit_reason"], categories=list(EXIT_REASON_NAMES)
            ),
        },
        columns=TRADE_COLUMNS,
    )


def positions_frame(
    open_position: np.ndarray, index: pd.DatetimeIndex, symbol: str
) -> pd.DataFrame:
    """Positions still open after the last bar, marked at the last close."""
    k = len(open_position)
    return pd.DataFrame(
        {
            "symbol": pd.Series([symbol] * k, dtype="string"),
            "side": _side_names(open_position["side"]),
            "entry_time": index[open_position["entry_bar"]],
            "entry_price": open_position["entry_price"],
            "quantity": open_position["quantity"],
            "entry_fee": open_position["entry_fee"],
            "mark_time": index[[len(index) - 1] * k] if k else index[:0],
            "mark_price": open_position["mark_price"],
            "market_value": open_position["side"]
            * open_position["quantity"]
            * open_position["mark_price"],
            "unrealised_pnl": open_position["unrealised_pnl"],
        },
        columns=POSITION_COLUMNS,
    )


def equity_frame(
    index: pd.DatetimeIndex,
    cash: np.ndarray,
    position_value: np.ndarray,
    equity: np.ndarray,
    drawdown: np.ndarray,
) -> pd.DataFrame:
    """Account on every bar after its close: equity, cash, position value, drawdown (≤ 0)."""
    return pd.DataFrame(
        {"equity": equity, "cash": cash, "position_value": position_value, "drawdown": drawdown},
        index=index,
    )


def signals_frame(
    index: pd.DatetimeIndex,
    close: np.ndarray,
    entry_status: np.ndarray,
    confidence: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every entry signal: bar time, close price, confidence, status and whether it traded."""
    bars = np.flatnonzero(entry_status >= 0)
    codes = entry_status[bars].astype(np.int64)
    return pd.DataFrame(
        {
            "price": close[bars],
            "confidence": np.full(len(bars), np.nan) if confidence is None else confidence[bars],
            "status": pd.Categorical.from_codes(codes, categories=list(ENTRY_STATUS_NAMES)),
            "traded": codes == FILLED,
        },
        index=index[bars].rename("timestamp"),
    )
