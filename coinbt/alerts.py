"""One notifier for what needs a person: a job's final failure, a failed backup, a critical
``coinbt doctor`` finding.

Alerts are Slack-compatible JSON (``text`` plus ``blocks``) POSTed to ``$COINBT_ALERT_WEBHOOK``
and, optionally, a plain-text e-mail of the same content to ``$COINBT_ALERT_EMAIL`` (comma-
separated addresses) through ``$COINBT_SMTP_HOST`` (``$COINBT_SMTP_PORT``, default 587; port
465 is TLS from the start, otherwise STARTTLS whenever the server offers it;
``$COINBT_SMTP_USER``/``$COINBT_SMTP_PASSWORD`` to log in; ``$COINBT_SMTP_FROM``). Both have a
short timeout; a delivery error is logged and swallowed, so alerting never fails the work.  **Rate limit:** at most ``$COINBT_ALERT_MAX`` (default 5) alerts of one kind (``key``:
``job-failure``, ``backup-failure``, ``doctor``) per ``$COINBT_ALERT_WINDOW`` (default ``10m``),
counted in Redis when ``$COINBT_REDIS_URL`` is set (so all workers share the budget: a sweep
failing on many workers still sends five) and in this process otherwise.  The last alert
allowed in a window says that more of its kind are being held back.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("coinbt.alerts")

WEBHOOK_ENV = "COINBT_ALERT_WEBHOOK"
EMAIL_ENV = "COINBT_ALERT_EMAIL"
MAX_ENV, WINDOW_ENV = "COINBT_ALERT_MAX", "COINBT_ALERT_WINDOW"
TIMEOUT_S = 3.0
_LOCAL: dict[str, int] = {}
_LOCK = threading.Lock()


def webhook() -> str:
    return os.environ.get(WEBHOOK_ENV, "").strip()


def limits() -> tuple[int, int]:
    """``(max alerts, window seconds)`` from the environment."""
    from coinbt.storage.common import parse_duration

    most = int(os.environ.get(MAX_ENV, "5") or 5)
    window = int(parse_duration(os.environ.get(WINDOW_ENV, "10m") or "10m").total_seconds())
    return most, max(1, window)


def allow(key: str) -> tuple[bool, bool]:
    """Whether an alert of kind ``key`` may go now, and whether it is the last one allowed in
    this window."""
    most, window = limits()
    bucket = f"coinbt:alerts:{key}:{int(time.time()) // window}"
    count = _count_redis(bucket, window)
    if count is None:
        with _LOCK:
            _LOCAL[bucket] = count = _LOCAL.get(bucket, 0) + 1
    return count <= most, count == most


def _count_redis(bucket: str, window: int) -> int | None:
    url = os.environ.get("COINBT_REDIS_URL", "").strip()
    if not url:
        return None
    try:
        from redis import Redis

        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        with conn.pipeline() as pipe:
            count, _ = pipe.incr(bucket).expire(bucket, window + 60).execute()
        return int(count)
    except Exception as exc:  # no Redis: count here (alerting must not fail)
        log.warning("alert rate limit counted in this process: Redis unavailable (%s)", exc)
        return None


def payload(title: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Slack's incoming-webhook shape: ``text``, a section with the title and a code block of
    the detail's last lines; ``fields`` go in as top-level keys too (for other receivers)."""
    tail = "\n".join(detail.strip().splitlines()[-12:])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}]
    if tail:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{tail}```"}})
    return {"text": f":red_circle: {title}", "blocks": blocks, **(fields or {}),
            "host": socket.gethostname()}  # fmt: skip


def post(body: dict[str, Any], url: str | None = None) -> bool:
    """POST ``body`` as JSON; True on a 2xx answer, False otherwise (never raises)."""
    target = url or webhook()
    if not target:
        return False
    request = urllib.request.Request(
        target, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
        method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        from coinbt.logging import redact

        log.warning("alert not delivered to %s: %s", redact(target), exc)
        return False


def email_recipients() -> list[str]:
    """``$COINBT_ALERT_EMAIL`` split on commas (empty: no e-mail)."""
    return [a.strip() for a in os.environ.get(EMAIL_ENV, "").split(",") if a.strip()]


def email_text(body: dict[str, Any]) -> tuple[str, str]:
    """A payload as an e-mail: (subject, plain text) — the title, the detail block, the fields."""
    subject = re.sub(r"^:[a-z_]+:\s*", "", str(body.get("text", "coinbt alert")))
    parts = []
    for block in body.get("blocks", []):
        text = block.get("text", {}).get("text") or " ".join(
            e.get("text", "") for e in block.get("elements", [])
        )
        parts.append(text.strip("*").replace("```", "\n").strip())
    fields = {k: v for k, v in body.items() if k not in ("text", "blocks")}
    parts.append("\n".join(f"{k}: {v}" for k, v in fields.items()))
    return subject.splitlines()[0][:200], "\n\n".join(p for p in parts if p) + "\n"


def send_email(body: dict[str, Any], to: list[str] | None = None) -> bool:
    """Send the payload as a plain-text e-mail through ``$COINBT_SMTP_HOST``; True when the
    server accepted it (never raises)."""
    from email.message import EmailMessage

    recipients = to if to is not None else email_recipients()
    host = os.environ.get("COINBT_SMTP_HOST", "").strip()
    if not recipients or not host:
        if recipients:
            log.warning("alert e-mail not sent: $%s is set but $COINBT_SMTP_HOST is not", EMAIL_ENV)
        return False
    subject, text = email_text(body)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = os.environ.get("COINBT_SMTP_FROM") or f"coinbt@{socket.gethostname()}"
    message["To"] = ", ".join(recipients)
    message.set_content(text)
    try:
        port = int(os.environ.get("COINBT_SMTP_PORT") or 587)
        kind = smtplib.SMTP_SSL if port == 465 else smtplib.SMTP
        with kind(host, port, timeout=TIMEOUT_S * 3) as smtp:
            if kind is smtplib.SMTP:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
            user = os.environ.get("COINBT_SMTP_USER", "")
            if user:
                smtp.login(user, os.environ.get("COINBT_SMTP_PASSWORD", ""))
            smtp.send_message(message)
        return True
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        log.warning("alert e-mail not delivered via %s: %s", host, exc)
        return False


def notify(key: str, body: dict[str, Any], url: str | None = None) -> bool:
    """Send ``body`` (see :func:`payload`) to the webhook and the e-mail recipients unless the
    rate limit of ``key`` is spent (one budget for both); True when one of them took it."""
    if not (url or webhook() or email_recipients()):
        return False
    allowed, last = allow(key)
    if not allowed:
        log.info("alert of kind %s held back by the rate limit", key)
        return False
    if last:
        most, window = limits()
        note = (f"(alert {most} of {most} of kind `{key}` in {window // 60} min: more are "
                "held back until the window ends)")  # fmt: skip
        blocks = [*body.get("blocks", []),
                  {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]  # fmt: skip
        body = {**body, "text": f"{body.get('text', '')} {note}", "blocks": blocks}
    sent = post(body, url) if (url or webhook()) else False
    mailed = send_email(body) if email_recipients() else False
    return sent or mailed


__all__ = ["allow", "email_text", "limits", "notify", "payload", "post", "send_email", "webhook"]
