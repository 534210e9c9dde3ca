"""Parameter sweeps: many backtests of one strategy, a tidy trial table, honest best picks.

>>> import coinbt
>>> res = coinbt.sweep("sma_cross", {"window": [20, 50]}, symbols="BTC-USDT",
...                    timeframe="1h", exchange="binance", progress=False)
>>> res.n_trials
2

See ``docs/sweeps.md``.
"""

from __future__ import annotations

from coinbt.sweeps.api import sweep
from coinbt.sweeps.result import SelectionReport, SweepResult
from coinbt.sweeps.space import Range

__all__ = [
    "Range",
    "SelectionReport",
    "SweepResult",
    "sweep",
]
