"""Registry backends for the storage tests: a fresh SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import coinbt

PG_URL = os.environ.get(
    "COINBT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)  # the same default as the pg_schema fixture in tests/conftest.py
WINDOWS = list(range(5, 25))  # 20 distinct sma_cross runs


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def registry_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    skip_or_fail: Callable[[str], None],
    pg_schema: Callable[..., Any],
) -> Iterator[str]:
    """A registry URL with nothing in it, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    with pg_schema(skip_or_fail) as url:
        yield url


@pytest.fixture(scope="session")
def results() -> list[coinbt.BacktestResult]:
    """20 real backtests of bundled BTC-USDT 1h candles (sma_cross, one per window)."""
    return [
        coinbt.backtest(
            "sma_cross",
            "BTC-USDT",
            "1h",
            exchange="binance",
            end="2021-06-30",
            params={"window": w},
        )
        for w in WINDOWS
    ]
