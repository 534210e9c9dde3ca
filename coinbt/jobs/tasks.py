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
from coinbt.storage.lifecycle import PENDING, set_status

log = logging.getLogger("coinbt.jobs")

#: the registry of this process, by (pid, registry URL, artifacts URI); see process_registry
_REGISTRIES: dict[tuple[int, str, str], Registry] = {}

#: called with (fraction, message) when a task runs in-process (no Redis)
_LOCAL_PROGRESS: list[Callable[[float, str], None]] = []


def process_registry() -> Registry:
    """The default :class:`Registry` of this process, opened (and its schema checked) once.

    A worker opens it before it forks work horses (:func:`coinbt.jobs.worker.run_worker`);
    in a horse the inherited connection pool is dropped without closing the parent's
    connections (SQLAlchemy's ``dispose(close=False)``), so each horse connects afresh but
    skips creating the engine and checking the schema (~20 ms a job).
    """
    import os

    url = os.environ.get("COINBT_REGISTRY_URL") or ""
    artifacts = os.environ.get("COINBT_ARTIFACTS_URI") or ""
    pid = os.getpid()
    key = (pid, url, artifacts)
    reg = _REGISTRIES.get(key)
    if reg is not None:
        return reg
    inherited = next(
        (r for (p, u, a), r in _REGISTRIES.items() if (u, a) == (url, artifacts)), None
    )
    if inherited is not None and inherited._engine is not None:
        inherited._engine.dispose(close=False)  # forked: never touch the parent's connections
        reg = inherited
    else:
        reg = Registry()
        reg.engine  # noqa: B018 - connect and check the schema now
    _REGISTRIES[key] = reg
    return reg


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
    recording) or was cancelled — also when the cancel arrives while it runs: the row is
    checked again just before recording.
    """
    from coinbt.api import run_spec

    run_spec_ = RunSpec.from_dict(spec)
    run_id = run_spec_.run_id
    reg = registry if registry is not None else process_registry()
    # one statement decides, so a cancel that lands now is never overwritten
    if not set_status(reg, run_id, "running", only_from=RUNNABLE):
        status = reg.status(run_id)
        report_progress(1.0, str(status))
        return run_id
    report_progress(0.05, "loading bars")
    result = run_spec(run_spec_, strategy)
    if reg.status(run_id) != "running":  # cancelled while it ran: record nothing
        report_progress(1.0, "cancelled")
        return run_id
    report_progress(0.8, "recording")
    reg.record(result)
    report_progress(1.0, "finished")
    return run_id


#: registry states a worker may start a run from (``failed``: requeued by plain ``rq requeue``)
RUNNABLE = ("queued", "running", "failed")
#: errors that the same run would raise again: retrying them only delays the failure
_PERMANENT = ("JobTimeoutException", "ConfigError", "DataError", "PapermillExecutionError")


def error_summary(text: str | None) -> str:
    """The line of an error or traceback that says what went wrong (its last line)."""
    lines = [line.strip() for line in str(text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _permanent(exc_type: Any) -> bool:
    names = {c.__name__ for c in getattr(exc_type, "__mro__", ())}
    return bool(names & set(_PERMANENT))


def on_failure(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback (exceptions, timeouts, and jobs abandoned by a dead worker).

    On the final failure the error and traceback go on the registry row and one alert is
    sent; an attempt that will be retried only puts the row back to ``queued``.  Timeouts and
    configuration or data errors are final at once (RQ reads ``retries_left`` right after
    this callback).
    """
    if exc_type is not None and _permanent(exc_type) and job.retries_left:
        job.retries_left = 0
    final = not (job.retries_left and job.retries_left > 0)
    text = "".join(traceback.format_exception(exc_type, exc, tb)) if exc_type else repr(exc)
    if exc_type is not None and exc_type.__name__ == "JobTimeoutException":
        text += f"job timed out: it ran longer than its timeout of {job.timeout} s\n"
    reg = Registry()
    try:
        if final:
            changed = set_status(reg, job.id, "failed", error=text, only_from=["queued", "running"])
        else:
            changed = False
            set_status(reg, job.id, "queued", error=text, only_from=["running"])
    finally:
        reg.close()
    job.meta["progress"] = 0.0
    job.meta["message"] = ("failed: " if final else "retrying after: ") + error_summary(text)
    log.warning("job %s failed%s: %s", job.id, "" if final else " (will retry)", exc)
    if changed:
        _alert(job, text)
    else:
        job.save_meta()


def _alert(job: Any, text: str) -> None:
    """One alert per final failure.  Inside a ``coinbt worker``'s work horse the alert is left
    to the worker process (sent from a thread there, so a slow webhook never holds a job);
    elsewhere it is sent here, with a short timeout."""
    import os

    from coinbt.jobs import alerts, config

    owner = os.environ.get(config.WORKER_PID_ENV, "")
    what = job.description or job.func_name
    if owner and owner != str(os.getpid()):
        job.meta["alert"] = "deferred"
        job.save_meta()
        return
    job.save_meta()
    if owner:
        alerts.send_failure_alert_async(job.id, what, text)
    else:
        alerts.send_failure_alert(job.id, what, text)


def on_stopped(job: Any, connection: Any) -> None:
    """RQ stopped callback: a cancelled running job is ``cancelled`` in the registry."""
    reg = Registry()
    try:
        set_status(reg, job.id, "cancelled", error="cancelled on request", only_from=PENDING)
    finally:
        reg.close()
