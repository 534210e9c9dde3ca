"""Jobs against the real Redis (and PostgreSQL) of this machine, with real worker processes.

Redis itself (``redis_url``, ``redis_server``) comes from ``tests/integration/conftest.py``.

* ``jobs_env``: registry (SQLite file or a fresh PostgreSQL schema), artifacts folder and Redis
  URL, set in this process's environment (``monkeypatch``); yields a dict of them.
* ``start_worker``: starts worker processes with that environment; killed at the end with
  ``kill_worker`` (SIGKILL of the worker's and its work horse's process groups).  ``worker_events(proc)`` reads its per-job JSON lines.
* ``alert_server``: a local HTTP endpoint recording every alert POSTed to it.
* ``cli``: runs ``coinbt …`` in this process and returns (exit code, stdout, stderr).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from local_services import descendants, wait_until

__all__ = ["REPO", "kill_worker", "wait_until", "worker_events", "worker_log"]

REPO = Path(__file__).resolve().parents[3]


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
    monkeypatch.setenv("COINBT_JOB_RETRY_INTERVALS", "1")  # no test waits RQ's 5 s, 30 s …
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
        path = tmp_path / f"worker-{len(procs)}.log"
        log = open(path, "w")  # noqa: SIM115 - closed with proc
        proc = subprocess.Popen(
            [sys.executable, "-m", "coinbt.cli.main", "worker", *args],
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group (RQ gives each work horse another)
        )
        proc.log_path = path  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        kill_worker(proc)


def kill_worker(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a worker, its scheduler and its work horse — RQ puts each horse in a process
    group of its own, so killing the worker's group alone would leave the horse running."""
    if proc.poll() is None:
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    proc.wait(timeout=30)


def worker_events(proc: subprocess.Popen[Any]) -> list[dict[str, Any]]:
    """The per-job JSON lines a ``start_worker`` process has logged so far."""
    lines = Path(proc.log_path).read_text().splitlines()  # type: ignore[attr-defined]
    return [json.loads(line) for line in lines if line.startswith('{"event": "job"')]


def worker_log(proc: subprocess.Popen[Any]) -> str:
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


class AlertServer:
    """Records the JSON bodies POSTed to ``url``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alert_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertServer]:
    """A local webhook endpoint, set as ``$COINBT_ALERT_WEBHOOK``."""
    server = AlertServer()
    monkeypatch.setenv("COINBT_ALERT_WEBHOOK", server.url)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli("jobs", "list")`` → (exit code, stdout, stderr) of ``coinbt …`` run here."""
    from coinbt.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
