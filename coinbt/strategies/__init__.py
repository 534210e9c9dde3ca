"""Strategies: bars in, entry/exit decisions out."""

from coinbt.strategies.base import Param, Signals, Strategy
from coinbt.strategies.registry import get_strategy, list_strategies, strategy

__all__ = [
    "Param",
    "Signals",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "strategy",
]
