"""Registry backends for the storage tests: a fresh SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
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


# -- S3: a moto server over real HTTP -------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on a free port of 127.0.0.1 for the whole session; yields its URL."""
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point coinbt and boto3 at the moto server with fake credentials; yields the endpoint."""
    monkeypatch.setenv("COINBT_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/coinbt-test-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/coinbt-test-aws-credentials")
    return moto_server


@pytest.fixture
def s3_bucket(s3_env: str) -> str:
    """A fresh, empty bucket on the moto server; yields its name."""
    import boto3

    name = f"coinbt-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_env).create_bucket(Bucket=name)
    return name
