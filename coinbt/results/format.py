"""Human-readable rendering of stats (percent only at display time)."""

from __future__ import annotations

from typing import Any

PERCENT_KEYS = {
    "total_return",
    "cagr",
    "volatility_ann",
    "max_drawdown",
    "avg_drawdown",
    "exposure_time",
    "win_rate",
    "avg_trade_return",
    "best_trade_return",
    "worst_trade_return",
    "buy_hold_return",
}


def format_value(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in PERCENT_KEYS and isinstance(value, (int, float)):
        return f"{100 * value:,.2f} %"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.2f}"
    return str(value)


def stats_rows(stats: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, text)`` pairs in the order of ``stats``."""
    return [(k, format_value(k, v)) for k, v in stats.items()]


def stats_table(stats: dict[str, Any]) -> str:
    rows = stats_rows(stats)
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v:>20}" for k, v in rows)
