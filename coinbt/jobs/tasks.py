"""What workers run.  Each task is idempotent: the registry row says whether the run is
already done, so a retried or duplicated job never records a run twice.

Progress goes to the RQ job's ``meta`` (``progress`` 0–1 and ``message``), which
:meth:`coinbt.jobs.Job.status` reads.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from coinbt.results import RunSpec
from coinbt.storage import Registry
from coinbt.storage.lifecycle import set_status

log = logging.getLogger("coinbt.jobs")

#: called with (fraction, message) when a task runs in-process (no Redis)
_LOCAL_PROGRESS: list[Callable[[float, str], None]] = []


def report_progress(fraction: float, message: str) -> None:
    """Publish a task's progress (0–1) and a short message."""
    for callback in _LOCAL_PROGRESS:
        callback(fraction, message)
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover
        return
    job = get_current_job()
    if job is None:
        return
    job.meta["progress"] = float(fraction)
    job.meta["message"] = message
    job.save_meta()


def run_backtest(
    spec: dict[str, Any], strategy: str | None = None, registry: Registry | None = None
) -> str:
    """Run and record one planned backtest; returns its run id.

    Does nothing when the run is already finished (a retry after a crash that came after the
    recording) or was cancelled.
    """
    from coinbt.api import run_spec

    run_spec_ = RunSpec.from_dict(spec)
    run_id = run_spec_.run_id
    reg = registry if registry is not None else Registry()
    try:
        status = reg.status(run_id)
        if status in ("finished", "cancelled"):
            report_progress(1.0, status)
            return run_id
        set_status(reg, run_id, "running")
        report_progress(0.05, "loading bars")
        result = run_spec(run_spec_, strategy)
        report_progress(0.8, "recording")
        reg.record(result)
        report_progress(1.0, "finished")
        return run_id
    finally:
        if registry is None:
            reg.close()


def on_failure(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback: on the final failure, store the error on the registry row and
    send the alert; an attempt that will be retried only goes back to ``queued``."""
    from coinbt.jobs.alerts import send_failure_alert

    final = not (job.retries_left and job.retries_left > 0)
    text = "".join(traceback.format_exception(exc_type, exc, tb)) if exc_type else repr(exc)
    reg = Registry()
    try:
        if final:
            set_status(reg, job.id, "failed", error=text, only_from=["queued", "running"])
        else:
            set_status(reg, job.id, "queued", error=text, only_from=["running"])
    finally:
        reg.close()
    log.warning("job %s failed%s: %s", job.id, "" if final else " (will retry)", exc)
    if final:
        send_failure_alert(job.id, job.description or job.func_name, text)


def on_stopped(job: Any, connection: Any) -> None:
    """RQ stopped callback: a cancelled running job is ``cancelled`` in the registry."""
    reg = Registry()
    try:
        set_status(reg, job.id, "cancelled", only_from=["queued", "running"])
    finally:
        reg.close()
