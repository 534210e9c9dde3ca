"""Performance and risk statistics: pure functions of the engine's equity, trades and bars.

Definitions, units and edge cases are in ``docs/metrics.md``; annualisation always uses a
365-day, 24-hour year.
"""

from coinbt.metrics.drawdowns import drawdown
from coinbt.metrics.stats import METRICS_VERSION, STAT_KEYS, compute_stats

__all__ = [
    "METRICS_VERSION",
    "STAT_KEYS",
    "compute_stats",
    "drawdown",
]
