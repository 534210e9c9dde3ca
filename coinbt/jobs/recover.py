"""``coinbt jobs recover``: make Redis agree with the registry again.

The registry is the source of truth: a run whose row says ``queued`` or ``running`` is work
that must still happen.  Redis may have lost it (restarted without persistence, flushed) or
may hold it in a state no worker will ever move on (its worker was killed).  :func:`recover`

1. hands jobs abandoned by dead workers — started, but their heartbeat older than
   ``stale_after`` — to RQ's own clean-up (``StartedJobRegistry.cleanup``): each is retried if
   it has retries left, otherwise failed (with the registry row, the error and the alert,
   through the job's failure callback);
2. re-enqueues every pending run Redis does not know, from the job document stored when it
   was submitted (``job.json`` next to its artifacts), or marks it failed with the reason
   (``mark_failed=True``);
3. moves rows still pending whose RQ job already ended (failed, stopped) to that end.

Runs recorded a moment ago (within ``grace``) are left alone: their submitter may still be
enqueueing them.  Sweeps and their trials, carried by the sweep's chunk jobs (ids
``<sweep>-c<n>``), are left to the sweep's own tools unless a job document says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from coinbt.jobs import config
from coinbt.jobs.admin import fetch_rq_jobs, rq_error
from coinbt.jobs.api import enqueue_document, read_job_document
from coinbt.storage import Registry
from coinbt.storage.lifecycle import PENDING, set_status

#: RQ states in which a job will still run without help
_ALIVE = ("queued", "scheduled", "deferred", "started")


@dataclass
class RecoverReport:
    """What :func:`recover` found and did (run / job ids)."""

    abandoned: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    marked_failed: list[str] = field(default_factory=list)
    synced: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def changed(self) -> int:
        return len(self.abandoned) + len(self.requeued) + len(self.marked_failed) + len(self.synced)


def recover(
    registry: Registry | None = None,
    redis_url: str | None = None,
    *,
    mark_failed: bool = False,
    stale_after: float = config.STALE_AFTER_S,
    grace: float = 60.0,
    dry_run: bool = False,
) -> RecoverReport:
    """Retry abandoned jobs and re-enqueue (or fail) pending runs Redis has lost.

    Parameters
    ----------
    registry : Registry, optional
        Default from the environment.
    redis_url : str, optional
        Default ``$COINBT_REDIS_URL``.
    mark_failed : bool
        Mark lost runs failed (with the reason) instead of enqueueing them again.
    stale_after : float
        Seconds without a heartbeat after which a started job counts as abandoned; several
        times the workers' ``--heartbeat`` (10 s for ``coinbt worker``, 30 s for ``rq worker``).
    grace : float
        Runs created less than this many seconds ago are not considered lost.
    dry_run : bool
        Report what would be done; change nothing.

    Returns
    -------
    RecoverReport

    Raises
    ------
    JobError
        Redis unreachable.

    Examples
    --------
    >>> report = recover()  # doctest: +SKIP
    >>> report.requeued  # doctest: +SKIP
    ['3f9a0c1d2e4b5a69']
    """
    conn = config.connect(redis_url)
    reg = registry if registry is not None else Registry()
    report = RecoverReport(dry_run=dry_run)
    try:
        report.abandoned = _abandoned(conn, stale_after, dry_run)
        _pending_runs(reg, conn, report, mark_failed=mark_failed, grace=grace)
    finally:
        if registry is None:
            reg.close()
    return report


def _abandoned(conn: Any, stale_after: float, dry_run: bool) -> list[str]:
    """Started jobs whose worker stopped sending heartbeats, handed to RQ's clean-up."""
    from rq import Queue

    cutoff = datetime.now(UTC) - timedelta(seconds=stale_after)
    found: list[str] = []
    for queue in Queue.all(connection=conn):
        started = queue.started_job_registry
        entries = started.get_job_and_execution_ids(cleanup=False)
        jobs = fetch_rq_jobs(conn, [job_id for job_id, _ in entries])
        stale = []
        for job_id, execution_id in entries:
            job = jobs.get(job_id)
            beat = None if job is None else job.last_heartbeat
            if beat is not None and beat.tzinfo is None:
                beat = beat.replace(tzinfo=UTC)
            if job is None or beat is None or beat < cutoff:
                stale.append(f"{job_id}:{execution_id}")
                found.append(job_id)
        if dry_run:
            continue
        if stale:
            # expire their entries now; RQ's clean-up then retries or fails each one (through
            # the failure callback) exactly as a worker's maintenance would, only sooner
            conn.zadd(started.key, dict.fromkeys(stale, 0), xx=True)
        started.cleanup()
        _enqueue_retries_now(queue, [e.split(":", 1)[0] for e in stale])
    return found


def _enqueue_retries_now(queue: Any, job_ids: list[str]) -> None:
    """An abandoned job that RQ scheduled for a retry goes back on its queue at once.

    The retry back-off is for jobs that fail by themselves; this one lost its worker.  Waiting
    would also depend on a live scheduler, and the dead worker may still hold the scheduler
    lock for a minute.
    """
    from rq.job import Job as RQJob
    from rq.registry import ScheduledJobRegistry

    scheduled = ScheduledJobRegistry(queue=queue)
    for job_id in job_ids:
        if job_id not in scheduled:
            continue
        job = RQJob.fetch(job_id, connection=queue.connection)
        scheduled.remove(job)
        queue.enqueue_job(job)


def _pending_runs(
    reg: Registry, conn: Any, report: RecoverReport, *, mark_failed: bool, grace: float
) -> None:
    import pandas as pd

    frames = [reg.runs(status=s) for s in PENDING]
    rows = pd.concat([f for f in frames if not f.empty] or [frames[0]])
    young = datetime.now(UTC) - timedelta(seconds=grace)
    live = fetch_rq_jobs(conn, rows["run_id"])
    for row in rows.to_dict("records"):
        run_id = row["run_id"]
        if row["kind"] == "sweep_trial":
            continue  # carried by its sweep's jobs
        job = live.get(run_id)
        rq_status = None if job is None else str(job.get_status(refresh=False).value)
        if rq_status in _ALIVE:
            continue
        if rq_status in ("failed", "stopped", "canceled"):
            _sync(reg, job, run_id, rq_status, report)
            continue
        if row["created"] > young:
            report.skipped[run_id] = "submitted moments ago; its job may be being enqueued"
            continue
        doc = read_job_document(reg, run_id)
        if doc is None and row["kind"] == "sweep":
            report.skipped[run_id] = "a sweep: its chunk jobs carry it (their ids differ)"
            continue
        if mark_failed or doc is None:
            if doc is None and not mark_failed:
                report.skipped[run_id] = (
                    "Redis lost its job and there is no job document to enqueue it again from "
                    "(use --mark-failed, or submit it again)"
                )
                continue
            if not report.dry_run:
                set_status(reg, run_id, "failed", error=_lost_reason(rq_status), only_from=PENDING)
            report.marked_failed.append(run_id)
            continue
        if not report.dry_run:
            if job is not None:
                job.delete()  # an ended record of an earlier attempt; the new one replaces it
            set_status(reg, run_id, "queued", only_from=PENDING)
            enqueue_document(conn, doc)
        report.requeued.append(run_id)


def _sync(reg: Registry, job: Any, run_id: str, rq_status: str, report: RecoverReport) -> None:
    """A pending row whose job RQ already ended: the row follows (and a failure alerts)."""
    status = "failed" if rq_status == "failed" else "cancelled"
    if report.dry_run:
        report.synced[run_id] = status
        return
    error = (rq_error(job) or "failed (error not recorded)") if status == "failed" else None
    if set_status(reg, run_id, status, error=error, only_from=PENDING):
        report.synced[run_id] = status
        if status == "failed":
            from coinbt.jobs.alerts import send_failure_alert

            send_failure_alert(run_id, job.description or run_id, error or "")


def _lost_reason(rq_status: str | None) -> str:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    what = "no longer knew its job" if rq_status is None else f"had its job {rq_status}"
    return (
        f"JobError: lost: Redis {what} (restarted without persistence, or flushed); marked "
        f"failed by `coinbt jobs recover --mark-failed` at {when}"
    )


__all__ = ["RecoverReport", "recover"]
