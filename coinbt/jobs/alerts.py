"""Alerts on a job's final failure: a Slack-compatible JSON POST to ``$COINBT_ALERT_WEBHOOK``.

Sent with a short timeout; any error is logged and swallowed, so an unreachable endpoint never
fails or stalls a job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.error
import urllib.request

log = logging.getLogger("coinbt.jobs")

WEBHOOK_ENV = "COINBT_ALERT_WEBHOOK"
TIMEOUT_S = 3.0


def alert_payload(job_id: str, what: str, error: str) -> dict[str, object]:
    """Slack's incoming-webhook shape: ``text`` plus a code block with the error's last lines."""
    tail = "\n".join(error.strip().splitlines()[-12:])
    return {
        "text": f":red_circle: coinbt job {job_id} failed: {what}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*coinbt job `{job_id}` failed*\n{what}"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{tail}```"}},
        ],
        "job_id": job_id,
        "host": socket.gethostname(),
    }


def send_failure_alert(job_id: str, what: str, error: str, url: str | None = None) -> bool:
    """POST the alert; True when the endpoint answered 2xx, False otherwise (never raises)."""
    url = url or os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return False
    body = json.dumps(alert_payload(job_id, what, error)).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("alert for job %s not delivered to %s: %s", job_id, url, exc)
        return False
