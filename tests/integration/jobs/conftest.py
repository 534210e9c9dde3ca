"""Jobs against the real Redis (and PostgreSQL) of this machine, with real worker processes.

* ``redis_url``: a Redis database of its own for the test (flushed before and after), on a
  ``redis-server`` private to the test session unless ``$COINBT_TEST_REDIS_URL`` is set.
* ``jobs_env``: registry (SQLite file or a fresh PostgreSQL schema), artifacts folder and Redis
  URL, set in this process's environment (``monkeypatch``); yields a dict of them.
* ``start_worker``: starts worker processes with that environment; killed at the end with
  ``kill_worker`` (SIGKILL of the worker's and its work horse's process groups).  ``worker_events(proc)`` reads its per-job JSON lines.
* ``alert_server``: a local HTTP endpoint recording every alert POSTed to it.
* ``redis_server``: a Redis server of the test's own (``redis-server`` on a free port, no
  persistence) that the test can stop and start again.
* ``cli``: runs ``coinbt …`` in this process and returns (exit code, stdout, stderr).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REDIS_DB = int(os.environ.get("COINBT_TEST_REDIS_DB", "11"))
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def redis_base(
    tmp_path_factory: pytest.TempPathFactory, skip_or_fail: Callable[[str], None]
) -> Iterator[str]:
    """The Redis the jobs tests use: ``$COINBT_TEST_REDIS_URL`` when set; otherwise a
    ``redis-server`` of this test session's own on a free port (so two test runs on one
    machine never flush or steal each other's jobs); otherwise 127.0.0.1:6379."""
    configured = os.environ.get("COINBT_TEST_REDIS_URL")
    if configured or shutil.which("redis-server") is None:
        yield configured or "redis://127.0.0.1:6379"
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url.rsplit("/", 1)[0]
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_base: str, skip_or_fail: Callable[[str], None]) -> Iterator[str]:
    """A flushed Redis database (db ``$COINBT_TEST_REDIS_DB``, 11) for this test."""
    redis = pytest.importorskip("redis")
    url = f"{redis_base}/{REDIS_DB}"
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


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [int(child), *_descendants(int(child))]
    return out


def kill_worker(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a worker, its scheduler and its work horse — RQ puts each horse in a process
    group of its own, so killing the worker's group alone would leave the horse running."""
    if proc.poll() is None:
        for pid in [proc.pid, *_descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    proc.wait(timeout=30)


def worker_events(proc: subprocess.Popen[Any]) -> list[dict[str, Any]]:
    """The per-job JSON lines a ``start_worker`` process has logged so far."""
    lines = Path(proc.log_path).read_text().splitlines()  # type: ignore[attr-defined]
    return [json.loads(line) for line in lines if line.startswith('{"event": "job"')]


def worker_log(proc: subprocess.Popen[Any]) -> str:
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` of the test's own, without persistence: a restart forgets all."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        conn = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def up() -> bool:
            try:
                return bool(conn.ping())
            except redis.exceptions.RedisError:
                return False

        wait_until(up, 10, f"redis-server on port {self.port}")
        conn.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path, skip_or_fail: Callable[[str], None]) -> Iterator[RedisServer]:
    """A stoppable Redis (``redis-server`` must be on PATH); stopped at the end."""
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not on PATH")
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


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
