"""coinbt: honest, fast backtests of crypto strategies, from a notebook to a team.

>>> import coinbt
>>> result = coinbt.backtest("sma_cross", "BTC-USDT", "1h", params={"window": 50})

Importing coinbt has no side effects; the names below load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "backtest": "coinbt.api",
    "signal_study": "coinbt.study",
    "sweep": "coinbt.sweeps",
    "load_bars": "coinbt.data",
    "strategy": "coinbt.strategies",
    "Param": "coinbt.strategies",
    "EngineSettings": "coinbt.engine",
    "RunSpec": "coinbt.results",
    "BacktestResult": "coinbt.results",
    "CoinbtError": "coinbt.errors",
    "DataError": "coinbt.errors",
    "ConfigError": "coinbt.errors",
}

__all__ = [
    "BacktestResult",
    "CoinbtError",
    "ConfigError",
    "DataError",
    "EngineSettings",
    "Param",
    "RunSpec",
    "__version__",
    "backtest",
    "load_bars",
    "signal_study",
    "strategy",
    "sweep",
]


_SUBPACKAGES = {
    "data",
    "engine",
    "metrics",
    "portfolio",
    "results",
    "jobs",
    "storage",
    "strategies",
    "sweeps",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:  # `coinbt.sweeps.Range` works after a bare `import coinbt`
        return importlib.import_module(f"coinbt.{name}")
    raise AttributeError(f"module 'coinbt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
