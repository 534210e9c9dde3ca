"""Jobs against the real Redis (and PostgreSQL) of this machine, with real worker processes.

* ``redis_url``: a Redis database of its own for the test (flushed before and after).
* ``jobs_env``: registry (SQLite file or a fresh PostgreSQL schema), artifacts folder and Redis
  URL, set in this process's environment (``monkeypatch``); yields a dict of them.
* ``start_worker``: starts worker processes with that environment; stopped (SIGKILL of the
  process group) at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REDIS_BASE = os.environ.get("COINBT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("COINBT_TEST_REDIS_DB", "11"))
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def redis_url(skip_or_fail: Callable[[str], None]) -> Iterator[str]:
    """A flushed Redis database (``$COINBT_TEST_REDIS_URL`` db 11) for this test."""
    redis = pytest.importorskip("redis")
    url = f"{REDIS_BASE}/{REDIS_DB}"
    conn = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.exceptions.RedisError as exc:
        skip_or_fail(f"Redis unreachable at {url}: {exc}")
    conn.flushdb()
    try:
        yield url
    finally:
        conn.flushdb()
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def jobs_env(
    request: pytest.FixtureRequest,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    skip_or_fail: Callable[[str], None],
    pg_schema: Callable[..., Any],
) -> Iterator[dict[str, str]]:
    """Registry + artifacts + Redis for submitters and workers, set in the environment."""
    if request.param == "sqlite":
        registry = f"sqlite:///{tmp_path / 'registry.db'}"
        schema_cm = None
    else:
        schema_cm = pg_schema(skip_or_fail)
        registry = schema_cm.__enter__()
    env = {
        "COINBT_REGISTRY_URL": registry,
        "COINBT_ARTIFACTS_URI": str(tmp_path / "artifacts"),
        "COINBT_REDIS_URL": redis_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("COINBT_ALERT_WEBHOOK", raising=False)
    try:
        yield env
    finally:
        if schema_cm is not None:
            schema_cm.__exit__(None, None, None)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[Any]]]:
    """``start_worker(*args, env=None)`` → a running worker process (``coinbt worker``) with
    the current environment plus ``env``; output in ``tmp_path/worker-N.log``."""
    procs: list[subprocess.Popen[Any]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
        log = open(tmp_path / f"worker-{len(procs)}.log", "w")  # noqa: SIM115 - closed with proc
        proc = subprocess.Popen(
            [sys.executable, "-m", "coinbt.cli.main", "worker", *args],
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL takes the work horse too
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
