"""Alerts: Slack-shaped JSON to a real local HTTP endpoint, rate-limited per kind, from a
failed backup and from `coinbt doctor --alert`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from local_services import coinbt_cli, free_port

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


def test_a_failed_backup_and_a_critical_doctor_finding_alert(
    receiver: Receiver, tmp_path: Path
) -> None:
    env = {alerts.WEBHOOK_ENV: receiver.url}
    (tmp_path / "blocked").write_text("a file where the backup folder should go")
    proc = coinbt_cli(["backup", "create", "--registry", f"sqlite:///{tmp_path / 'r.db'}",
                    "--dest", str(tmp_path / "blocked")], env, tmp_path)  # fmt: skip
    assert proc.returncode != 0
    (backup,) = receiver.received
    assert backup["kind"] == "backup" and "coinbt backup failed" in backup["text"]

    (tmp_path / "data").write_text("not a folder")
    env["COINBT_DATA_ROOT"] = str(tmp_path / "data")
    assert coinbt_cli(["doctor"], env, tmp_path).returncode == 2
    assert len(receiver.received) == 1  # no --alert: nothing sent
    assert coinbt_cli(["doctor", "--alert"], env, tmp_path).returncode == 2
    doctor = receiver.received[-1]
    assert doctor["kind"] == "doctor" and "1 critical finding" in doctor["text"]
    assert "data root: " in doctor["blocks"][1]["text"]["text"]


# -- e-mail, through a real SMTP server on this machine (aiosmtpd) ------------------------------


class Mailbox:
    """An SMTP server on a free port that requires a login and keeps every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[Any] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
                from email import message_from_bytes
                from email.policy import default

                message = message_from_bytes(envelope.original_content, policy=default)
                outer.messages.append((envelope.rcpt_tos, message))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                          data: Any) -> Any:  # fmt: skip
            ok = (data.login, data.password) == (b"alerts", b"s3cret")
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_require_tls=False)  # fmt: skip
        self.controller.start()


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    pytest.importorskip("aiosmtpd")
    box = Mailbox()
    for name, value in {"COINBT_SMTP_HOST": "127.0.0.1", "COINBT_SMTP_PORT": str(box.port),
                        "COINBT_SMTP_USER": "alerts", "COINBT_SMTP_PASSWORD": "s3cret",
                        "COINBT_SMTP_FROM": "coinbt@example.org",
                        alerts.EMAIL_ENV: "ops@example.org, quant@example.org"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("COINBT_REDIS_URL", raising=False)
    monkeypatch.setattr(alerts, "_LOCAL", {})
    yield box
    box.controller.stop()


def test_alerts_by_email_share_the_webhook_budget(
    mailbox: Mailbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(alerts.MAX_ENV, "2")
    body = alerts.payload("coinbt job abc failed: backtest", "Traceback\nValueError: boom",
                          {"job_id": "abc"})  # fmt: skip
    assert [alerts.notify("job-failure", body) for _ in range(4)] == [True, True, False, False]
    assert len(receiver.received) == 2 and len(mailbox.messages) == 2
    recipients, message = mailbox.messages[0]
    assert recipients == ["ops@example.org", "quant@example.org"]
    assert message["Subject"] == "coinbt job abc failed: backtest"
    assert message["From"] == "coinbt@example.org"
    text = message.get_content()
    assert "ValueError: boom" in text and "job_id: abc" in text and "```" not in text
    assert "more are held back" in mailbox.messages[1][1].get_content()


def test_email_alone_is_enough_and_a_refused_login_never_raises(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    assert alerts.notify("doctor", alerts.payload("coinbt doctor: 1 critical finding", "disk"))
    assert len(mailbox.messages) == 1
    monkeypatch.setenv("COINBT_SMTP_PASSWORD", "wrong")
    assert alerts.notify("doctor", alerts.payload("again", "disk")) is False
    monkeypatch.setenv("COINBT_SMTP_PORT", "9")  # nothing listens
    assert alerts.send_email(alerts.payload("x", "y")) is False
    assert len(mailbox.messages) == 1
