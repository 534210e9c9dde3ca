"""Position accounting views over engine records."""

from coinbt.portfolio.positions import (
    POSITION_COLUMNS,
    TRADE_COLUMNS,
    equity_frame,
    positions_frame,
    signals_frame,
    trades_frame,
)

__all__ = [
    "POSITION_COLUMNS",
    "TRADE_COLUMNS",
    "equity_frame",
    "positions_frame",
    "signals_frame",
    "trades_frame",
]
