"""One object per run: its spec, stats, trades, positions and equity."""

from coinbt.results.result import BacktestResult
from coinbt.results.spec import RunSpec

__all__ = [
    "BacktestResult",
    "RunSpec",
]
