"""Integer codes shared by the kernel and its wrappers (see ``docs/engine.md``)."""

from __future__ import annotations

# fill timing
FILL_NEXT_OPEN = 0
FILL_CLOSE = 1
FILL_MODES = {"next_open": FILL_NEXT_OPEN, "close": FILL_CLOSE}

# sizing
SIZE_EQUITY_FRACTION = 0
SIZE_NOTIONAL = 1
SIZE_QUANTITY = 2
SIZE_TYPES = {
    "equity_fraction": SIZE_EQUITY_FRACTION,
    "notional": SIZE_NOTIONAL,
    "quantity": SIZE_QUANTITY,
}

# which exit wins when both levels are inside one bar
PRIORITY_STOP_LOSS = 0
PRIORITY_TAKE_PROFIT = 1
SAME_BAR_PRIORITIES = {"stop_loss": PRIORITY_STOP_LOSS, "take_profit": PRIORITY_TAKE_PROFIT}

# entry signal outcomes, recorded on the signal bar
NO_SIGNAL = -1
FILLED = 0
IGNORED_IN_POSITION = 1
REJECTED_MIN_NOTIONAL = 2
REJECTED_INSUFFICIENT_CASH = 3
REJECTED_ZERO_QUANTITY = 4
EXPIRED_END_OF_DATA = 5
ENTRY_STATUS_NAMES = (
    "filled",
    "ignored_in_position",
    "rejected_min_notional",
    "rejected_insufficient_cash",
    "rejected_zero_quantity",
    "expired_end_of_data",
)

# exit reasons
EXIT_SIGNAL = 0
EXIT_HOLD_BARS = 1
EXIT_STOP_LOSS = 2
EXIT_TAKE_PROFIT = 3
EXIT_TRAILING_STOP = 4
EXIT_END_OF_DATA = 5
EXIT_REASON_NAMES = (
    "signal",
    "hold_bars",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "end_of_data",
)
