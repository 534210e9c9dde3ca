"""Performance and risk statistics: pure functions of the engine's equity, trades and bars.

Definitions, units and edge cases are in ``docs/metrics.md``; annualisation always uses a
365-day, 24-hour year. Selection-aware Sharpe figures (for sweeps) are in ``selection``.
"""

from coinbt.metrics.drawdowns import drawdown
from coinbt.metrics.selection import (
    ReturnShape,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    return_shape,
)
from coinbt.metrics.stats import METRICS_VERSION, STAT_KEYS, compute_stats

__all__ = [
    "METRICS_VERSION",
    "STAT_KEYS",
    "ReturnShape",
    "compute_stats",
    "deflated_sharpe_ratio",
    "drawdown",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "return_shape",
]
