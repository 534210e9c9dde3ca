"""Looking after jobs: list them with live progress, show one, the dead-letter list, requeue.

The registry says what a job is (its run row); Redis adds where it is right now (queue,
worker, progress, attempts).  A job id is its run id — except the jobs of a sweep, whose
chunks carry ``<sweep run id>-c<n>``; :func:`run_of` maps either to the registry run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from coinbt.errors import JobError
from coinbt.jobs import config
from coinbt.jobs.api import enqueue_document, read_job_document
from coinbt.jobs.tasks import error_summary
from coinbt.storage import Registry
from coinbt.storage.common import parse_duration
from coinbt.storage.lifecycle import PENDING, set_status

ENDED = ("finished", "failed", "cancelled")


def fetch_rq_jobs(conn: Any, job_ids: Iterable[str]) -> dict[str, Any]:
    """RQ jobs by id (ids Redis does not know are left out)."""
    from rq.job import Job as RQJob

    ids = list(job_ids)
    if conn is None or not ids:
        return {}
    return {i: j for i, j in zip(ids, RQJob.fetch_many(ids, connection=conn), strict=True) if j}


def rq_info(job: Any) -> dict[str, Any]:
    """What Redis knows of a job right now (JSON-safe)."""
    if job is None:
        return {"rq_status": None}
    meta = job.meta or {}
    retries = int(meta.get("retries") or 0)
    left = job.retries_left if job.retries_left is not None else retries
    return {
        "rq_status": str(job.get_status(refresh=False).value),
        "queue": job.origin,
        "worker": job.worker_name,
        "progress": float(meta.get("progress", 0.0)),
        "message": meta.get("message"),
        "attempt": max(1, retries - int(left) + 1),
        "retries": retries,
        "retries_left": int(left),
        "timeout_s": job.timeout,
        "enqueued_at": _iso(job.enqueued_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        "last_heartbeat": _iso(job.last_heartbeat),
        "description": job.description,
    }


def rq_error(job: Any) -> str | None:
    """The error (traceback) RQ stored for a job's last failed execution, if any."""
    try:
        result = job.latest_result()
    except Exception:  # an older or foreign job without results
        return None
    return getattr(result, "exc_string", None) or None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _job_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that went through a queue: pending or ended ones that were started (runs recorded
    directly, e.g. ``coinbt backtest --save``, never were)."""
    if frame.empty:
        return frame
    keep = (frame["status"] != "finished") | frame["started"].notna()
    return frame[keep]


def list_jobs(
    registry: Registry,
    conn: Any = None,
    *,
    status: str | None = None,
    since: str = "24h",
    kind: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Jobs, newest first: every pending one, plus those that ended within ``since``.

    Parameters
    ----------
    registry : Registry
        Where runs are kept.
    conn : redis.Redis, optional
        For live state and progress; without it only the registry's view is given.
    status : str, optional
        Only this status (``queued``, ``running``, ``finished``, ``failed``, ``cancelled``).
    since : str
        How far back ended jobs are listed (``24h``, ``7d``, …).
    kind : str, optional
        Only this kind of run (``backtest``, ``sweep``, …).
    limit : int
        Most rows returned (0 = all).

    Returns
    -------
    list of dict
        Registry columns of each job plus :func:`rq_info`.
    """
    cutoff = datetime.now(UTC) - parse_duration(since)
    wanted = [status] if status else [*PENDING, *ENDED]
    frames = []
    for state in wanted:
        frame = registry.runs(
            status=state,
            kind=kind,
            since=None if state in PENDING else cutoff,
            limit=limit or None,
        )
        frames.append(_job_rows(frame))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return []
    rows = pd.concat(frames).sort_values("created", ascending=False)
    if limit:
        rows = rows.head(limit)
    live = fetch_rq_jobs(conn, rows["run_id"])
    out = []
    for record in rows.to_dict("records"):
        info = rq_info(live.get(record["run_id"]))
        out.append(_summary(record) | info | _live_state(record["status"], info))
    return out


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "run_id",
        "status",
        "kind",
        "strategy",
        "symbol",
        "timeframe",
        "created",
        "started",
        "finished",
        "parent_run_id",
    )
    out = {k: _plain(record.get(k)) for k in keep}
    out["error"] = error_summary(record.get("error")) or None
    return out


def _live_state(stored: str, info: dict[str, Any]) -> dict[str, Any]:
    """The state to show: the registry's, refined by Redis while the job is pending."""
    if stored not in PENDING:
        # Redis may have forgotten an ended job (its result TTL, a restart): the row says it all
        progress = 1.0 if stored == "finished" else info.get("progress", 0.0)
        return {"state": stored, "progress": progress}
    rq_status = info["rq_status"]
    if rq_status is None:
        return {"state": stored, "progress": 0.0, "message": "not known to Redis (jobs recover)"}
    state = {"started": "running", "scheduled": "retrying"}.get(rq_status, stored)
    return {"state": state, "progress": info["progress"]}


def job_details(registry: Registry, conn: Any, job_id: str) -> dict[str, Any]:
    """One job: its registry row (with the full error and traceback), its RQ state, and the
    job document it was submitted with.

    Raises
    ------
    StorageError
        Unknown run id (prefixes are accepted).
    """
    run_id = registry.resolve(job_id)
    record = registry.run(run_id)
    live = fetch_rq_jobs(conn, [run_id]).get(run_id)
    info = rq_info(live)
    out = _summary(record) | info | _live_state(record["status"], info)
    out["error"] = record.get("error") or None
    if out["error"] is None and live is not None and info["rq_status"] == "failed":
        out["error"] = rq_error(live)
    out["params"] = _plain(record.get("params"))
    out["tags"] = _plain(record.get("tags"))
    out["notebook_uri"] = record.get("notebook_uri")
    doc = read_job_document(registry, run_id)
    out["job_document"] = (
        {k: doc[k] for k in ("queue", "task", "retries", "retry_intervals", "timeout", "submitted")}
        | {"strategy_ref": doc.get("strategy_ref")}
        if doc
        else None
    )
    return out


def run_of(registry: Registry, job: Any) -> str | None:
    """The registry run an RQ job works for: ``meta['run_id']``, the job id itself, or (for a
    sweep's chunk) its first argument."""
    for candidate in (job.meta.get("run_id"), job.id, *(job.args[:1] if job.args else [])):
        if isinstance(candidate, str) and registry.status(candidate) is not None:
            return candidate
    return None


def failed_jobs(registry: Registry, conn: Any) -> list[dict[str, Any]]:
    """The dead-letter list: jobs RQ gave up on (its failed-job registry, every queue), oldest
    failure first; stopped (cancelled) jobs are not listed."""
    from rq import Queue

    out = []
    for queue in Queue.all(connection=conn):
        ids = queue.failed_job_registry.get_job_ids(cleanup=False)
        for job_id, job in fetch_rq_jobs(conn, ids).items():
            info = rq_info(job)
            if info["rq_status"] != "failed":
                continue
            run_id = run_of(registry, job)
            error = None
            if run_id == job_id:
                row = registry.run(run_id)
                error = None if row is None else row["error"]
            error = error or rq_error(job)
            out.append(
                {
                    "job_id": job_id,
                    "run_id": run_id,
                    "status": registry.status(run_id) if run_id else None,
                    "kind": job.meta.get("kind"),
                    "error": error_summary(error) or None,
                }
                | info
            )
    return sorted(out, key=lambda r: r["ended_at"] or "")


def requeue(registry: Registry, conn: Any, job_id: str) -> dict[str, Any]:
    """Put a failed job back on its queue, with its retries restored, and its registry row back
    to ``queued``.

    A job RQ no longer has (expired, or Redis restarted) is enqueued again from its job
    document.

    Returns
    -------
    dict
        ``job_id``, ``run_id``, ``queue`` and ``how`` (``requeued`` or ``re-enqueued``).

    Raises
    ------
    JobError
        The job is not failed, or cannot be found in Redis nor re-created from its document.
    """
    from rq.exceptions import InvalidJobOperation

    job = fetch_rq_jobs(conn, [job_id]).get(job_id)
    if job is None:
        run_id = registry.resolve(job_id)
        job = fetch_rq_jobs(conn, [run_id]).get(run_id)
        job_id = run_id
    run_id = run_of(registry, job) if job is not None else registry.resolve(job_id)
    rq_status = str(job.get_status(refresh=False).value) if job is not None else None
    stored = registry.status(run_id) if run_id else None
    if rq_status != "failed" and stored != "failed":
        raise JobError(
            f"job {job_id} is {stored or rq_status}, not failed: only failed jobs are requeued "
            "(`coinbt jobs failed` lists them)"
        )
    previous = _row_error(registry, run_id)
    if run_id:
        set_status(registry, run_id, "queued", only_from=["failed"])
    try:
        if rq_status == "failed":
            job.retries_left = int(job.meta.get("retries") or 0) or None
            job.meta.update(progress=0.0, message="requeued")
            job.save()
            try:
                job.requeue()
                return {"job_id": job_id, "run_id": run_id, "queue": job.origin, "how": "requeued"}
            except InvalidJobOperation:
                pass  # no longer in the failed-job registry: enqueue it afresh below
        doc = read_job_document(registry, job_id)
        if doc is None:
            raise JobError(
                f"job {job_id}: Redis no longer has it and there is no job document to enqueue "
                "it again from; submit the run again"
            )
        enqueue_document(conn, doc)
        return {"job_id": job_id, "run_id": run_id, "queue": doc["queue"], "how": "re-enqueued"}
    except Exception:
        if run_id:
            set_status(registry, run_id, "failed", error=previous, only_from=["queued"])
        raise


def _row_error(registry: Registry, run_id: str | None) -> str | None:
    if not run_id:
        return None
    row = registry.run(run_id)
    return None if row is None or not row["error"] else str(row["error"])


def requeue_all(registry: Registry, conn: Any) -> list[dict[str, Any]]:
    """:func:`requeue` every job of the dead-letter list; returns what was done for each
    (``error`` set where it could not be)."""
    done = []
    for item in failed_jobs(registry, conn):
        try:
            done.append(requeue(registry, conn, item["job_id"]))
        except JobError as exc:
            done.append({"job_id": item["job_id"], "run_id": item["run_id"], "error": str(exc)})
    return done


def queue_counts(conn: Any) -> tuple[dict[str, tuple[int, int]], int]:
    """Per RQ queue (jobs waiting, jobs in its failed registry), and the live workers
    (``coinbt doctor``, ``coinbt metrics``)."""
    from rq import Queue, Worker

    queues = {q.name: (len(q), q.failed_job_registry.count) for q in Queue.all(connection=conn)}
    return queues, len(Worker.all(connection=conn))


def connect_optional(url: str | None = None) -> Any:
    """A Redis connection when one is configured (None otherwise); unreachable → JobError."""
    url = url or config.redis_url()
    return None if url is None else config.connect(url)


__all__ = [
    "connect_optional",
    "failed_jobs",
    "fetch_rq_jobs",
    "job_details",
    "list_jobs",
    "queue_counts",
    "requeue",
    "requeue_all",
    "rq_error",
    "rq_info",
    "run_of",
]
