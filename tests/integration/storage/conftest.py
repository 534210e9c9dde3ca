"""Registry backends for the storage tests: a fresh SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import coinbt

PG_URL = os.environ.get(
    "COINBT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
WINDOWS = list(range(5, 25))  # 20 distinct sma_cross runs


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def registry_url(
    request: pytest.FixtureRequest, tmp_path: Path, skip_or_fail: Callable[[str], None]
) -> Iterator[str]:
    """A registry URL with nothing in it, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    schema = f"coinbt_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        skip_or_fail(f"PostgreSQL unreachable at {PG_URL}: {str(exc.orig).splitlines()[0]}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
