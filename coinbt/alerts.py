"""One webhook notifier for what needs a person: a job's final failure, a failed backup, a
critical ``coinbt doctor`` finding.

Alerts are Slack-compatible JSON (``text`` plus ``blocks``) POSTed to ``$COINBT_ALERT_WEBHOOK``
with a short timeout; a delivery error is logged and swallowed, so alerting never fails the
work.  **Rate limit:** at most ``$COINBT_ALERT_MAX`` (default 5) alerts of one kind (``key``:
``job-failure``, ``backup-failure``, ``doctor``) per ``$COINBT_ALERT_WINDOW`` (default ``10m``),
counted in Redis when ``$COINBT_REDIS_URL`` is set (so all workers share the budget: a sweep
failing on many workers still sends five) and in this process otherwise.  The last alert
allowed in a window says that more of its kind are being held back.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("coinbt.alerts")

WEBHOOK_ENV = "COINBT_ALERT_WEBHOOK"
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


def notify(key: str, body: dict[str, Any], url: str | None = None) -> bool:
    """Send ``body`` (see :func:`payload`) unless the rate limit of ``key`` is spent; True
    when delivered."""
    if not (url or webhook()):
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
    return post(body, url)


__all__ = ["allow", "limits", "notify", "payload", "post", "webhook"]
