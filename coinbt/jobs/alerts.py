"""Alerts on a job's final failure: a Slack-compatible JSON POST to ``$COINBT_ALERT_WEBHOOK``
(and an e-mail to ``$COINBT_ALERT_EMAIL``) through :mod:`coinbt.alerts` (kind ``job-failure``,
rate-limited: a sweep failing on every worker still sends a handful).

Sent with a short timeout; any error is logged and swallowed, so an unreachable endpoint never
fails a job.  ``coinbt worker`` sends from a background thread (:func:`send_failure_alert_async`),
so a slow endpoint never holds the worker either.
"""

from __future__ import annotations

import threading

from coinbt.alerts import TIMEOUT_S, email_recipients, notify, payload, webhook


def alert_payload(job_id: str, what: str, error: str) -> dict[str, object]:
    """:func:`coinbt.alerts.payload` for a job: its id in the title and as ``job_id``, the
    error's last lines in a code block."""
    return payload(f"coinbt job {job_id} failed: {what}", error, {"job_id": job_id})


def send_failure_alert(job_id: str, what: str, error: str, url: str | None = None) -> bool:
    """Send the alert; True when the endpoint answered 2xx or the mail server took it, False
    otherwise (never raises)."""
    return notify("job-failure", alert_payload(job_id, what, error), url)


_PENDING: list[threading.Thread] = []


def send_failure_alert_async(
    job_id: str, what: str, error: str, url: str | None = None
) -> threading.Thread | None:
    """:func:`send_failure_alert` in a daemon thread; returns it (None when neither a webhook
    nor e-mail recipients are set).

    :func:`wait_for_alerts` lets a process that is about to exit deliver what is pending.
    """
    url = url or webhook() or None
    if not (url or email_recipients()):
        return None
    thread = threading.Thread(
        target=send_failure_alert,
        args=(job_id, what, error, url),
        name=f"coinbt-alert-{job_id[:12]}",
        daemon=True,
    )
    _PENDING[:] = [t for t in _PENDING if t.is_alive()]
    _PENDING.append(thread)
    thread.start()
    return thread


def wait_for_alerts(timeout: float = 3 * TIMEOUT_S + 1) -> int:
    """Wait up to ``timeout`` seconds in all for alerts still being sent; returns how many
    are still unsent afterwards."""
    import time

    deadline = time.monotonic() + timeout
    for thread in list(_PENDING):
        thread.join(max(0.0, deadline - time.monotonic()))
    _PENDING[:] = [t for t in _PENDING if t.is_alive()]
    return len(_PENDING)
