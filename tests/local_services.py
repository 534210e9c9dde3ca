"""Local stand-ins for the services tests need, as plain helpers (fixtures that use them are
in ``tests/integration/conftest.py``): a ``redis-server`` of the test's own, a free port, and
``wait_until``. ``tests/`` is on ``sys.path`` (``tests/conftest.py`` has no package)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` of the test's own, without persistence: a restart forgets all."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
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


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children …), from /proc."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [int(child), *descendants(int(child))]
    return out


def coinbt_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``coinbt ARGS`` in a new process, with none of this process's ``COINBT_*`` settings
    but ``env``, in ``cwd`` (where the embedded registry and artifacts would go)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("COINBT_")}
    return subprocess.run([sys.executable, "-m", "coinbt.cli.main", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)  # fmt: skip
