"""Alerts: Slack-shaped JSON to a real local HTTP endpoint, rate-limited per kind, from a
failed backup and from `coinbt doctor --alert`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from coinbt import alerts


class Receiver:
    """A webhook endpoint on a free port that keeps every JSON body it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                size = int(self.headers.get("Content-Length", 0))
                outer.received.append(json.loads(self.rfile.read(size)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = Receiver()
    monkeypatch.setenv(alerts.WEBHOOK_ENV, server.url)
    monkeypatch.delenv("COINBT_REDIS_URL", raising=False)  # count in this process
    monkeypatch.setattr(alerts, "_LOCAL", {})
    yield server
    server.server.shutdown()


def test_alerts_are_slack_shaped_and_rate_limited_per_kind(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(alerts.MAX_ENV, "3")
    monkeypatch.setenv(alerts.WINDOW_ENV, "1h")
    sent = [alerts.notify("job-failure", alerts.payload(f"job {n} failed", "Traceback\nboom",
                                                        {"job_id": str(n)}))
            for n in range(8)]  # fmt: skip
    assert sent == [True, True, True] + [False] * 5  # a failing sweep: three, not eight
    assert [a["job_id"] for a in receiver.received] == ["0", "1", "2"]
    first, _, last = receiver.received
    assert (
        first["text"] == ":red_circle: job 0 failed"
        and "```Traceback\nboom```" in (first["blocks"][1]["text"]["text"])
    )
    assert "more are held back" in last["text"] and last["blocks"][-1]["type"] == "context"
    assert alerts.notify("backup-failure", alerts.payload("backup failed", "disk full"))
    assert len(receiver.received) == 4  # another kind has its own budget


def test_no_webhook_sends_nothing_and_a_dead_endpoint_never_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    assert alerts.notify("doctor", alerts.payload("x", "y")) is False
    assert alerts.post({"text": "x"}, url="http://127.0.0.1:9/hook") is False


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("COINBT_")}
    return subprocess.run([sys.executable, "-m", "coinbt.cli.main", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=120, cwd=cwd)  # fmt: skip


def test_a_failed_backup_and_a_critical_doctor_finding_alert(
    receiver: Receiver, tmp_path: Path
) -> None:
    env = {alerts.WEBHOOK_ENV: receiver.url}
    (tmp_path / "blocked").write_text("a file where the backup folder should go")
    proc = run_cli(["backup", "create", "--registry", f"sqlite:///{tmp_path / 'r.db'}",
                    "--dest", str(tmp_path / "blocked")], env, tmp_path)  # fmt: skip
    assert proc.returncode != 0
    (backup,) = receiver.received
    assert backup["kind"] == "backup" and "coinbt backup failed" in backup["text"]

    (tmp_path / "data").write_text("not a folder")
    env["COINBT_DATA_ROOT"] = str(tmp_path / "data")
    assert run_cli(["doctor"], env, tmp_path).returncode == 2
    assert len(receiver.received) == 1  # no --alert: nothing sent
    assert run_cli(["doctor", "--alert"], env, tmp_path).returncode == 2
    doctor = receiver.received[-1]
    assert doctor["kind"] == "doctor" and "1 critical finding" in doctor["text"]
    assert "data root: " in doctor["blocks"][1]["text"]["text"]
