"""Shared builders for the metrics tests: hand-written bars in, ``compute_stats`` out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from coinbt.engine.records import open_position_dt, trade_dt
from coinbt.metrics import compute_stats

#: 2024-01-01T00:00:00Z in nanoseconds since the epoch
JAN_1_2024_NS = 1_704_067_200 * 10**9


def _make_trades(**fields: list[float]) -> np.ndarray:
    k = len(next(iter(fields.values()))) if fields else 0
    trades = np.zeros(k, dtype=trade_dt)
    for name, values in fields.items():
        trades[name] = values
    return trades


def _make_open_position(entry_fee: float) -> np.ndarray:
    pos = np.zeros(1, dtype=open_position_dt)
    pos["entry_fee"] = entry_fee
    return pos


@pytest.fixture(scope="session")
def make_trades() -> Callable[..., np.ndarray]:
    """``make_trades(net_pnl=[...], ...)``: a ``trade_dt`` array, other fields zero."""
    return _make_trades


@pytest.fixture(scope="session")
def make_open_position() -> Callable[[float], np.ndarray]:
    """``make_open_position(entry_fee)``: an ``open_position_dt`` array of length 1."""
    return _make_open_position


@pytest.fixture(scope="session")
def run_stats() -> Callable[..., dict[str, Any]]:
    """``run_stats(equity, **overrides)``: compute_stats with flat defaults for the rest."""
    from coinbt.timeframes import timeframe_seconds

    def _run(
        equity: list[float],
        *,
        init_cash: float = 100.0,
        timeframe: str = "1d",
        position_value: list[float] | None = None,
        close: list[float] | None = None,
        trades: np.ndarray | None = None,
        open_position: np.ndarray | None = None,
    ) -> dict[str, Any]:
        eq = np.asarray(equity, dtype=np.float64)
        n = eq.shape[0]
        step = timeframe_seconds(timeframe) * 10**9
        return compute_stats(
            equity=eq,
            position_value=np.zeros(n) if position_value is None else np.asarray(position_value),
            close=np.ones(n) if close is None else np.asarray(close, dtype=np.float64),
            timestamps=JAN_1_2024_NS + np.arange(n, dtype=np.int64) * step,
            trades=np.zeros(0, dtype=trade_dt) if trades is None else trades,
            open_position=open_position,
            init_cash=init_cash,
            timeframe=timeframe,
        )

    return _run
