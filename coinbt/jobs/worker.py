"""``coinbt worker``: an RQ worker that warms numba first and logs one JSON line per job.

Why RQ's fork-based :class:`rq.Worker`: the worker process imports coinbt and loads the
compiled numba kernels once (:func:`warm_up`); a job runs in a work horse forked from it
(small built-in backtests excepted, see below), which inherits all of that for free, and a
crash, a leak or a kill of the horse never takes the worker down.  ``SpawnWorker`` would
start a fresh interpreter per job and pay the imports and the numba cache load (about a
second) every time; ``SimpleWorker`` runs jobs in
the worker process itself, so a long job could not be stopped or killed without killing
the worker.  Forking is sound here: the worker's only threads (RQ's pub/sub listener, alert
senders) hold nothing a horse needs, and horses open their own database connections.

On top of RQ, :class:`CoinbtWorker`

* logs ONE JSON line per job on stdout (``event``, ``job_id``, ``kind``, ``queue``,
  ``worker``, ``status``, ``attempt``, ``mode``, ``duration_s``, ``error``); RQ's own log goes
  to stderr;
* runs small backtests of built-in strategies (``inline_bars``) in its own process, the way
  RQ's ``SimpleWorker`` does: forking a horse, connecting it to the registry and faulting in
  its memory cost more than such a backtest (~35 ms against ~25 ms), and a long-lived process
  keeps its caches (bars, compiled statements, connections).  The price: such a job cannot be
  killed — a cancel takes effect at its next check (it records nothing) and a crash takes the
  worker with it (the job is then retried like any abandoned job).  User strategies, sweeps
  and anything larger always get a horse;
* enforces the job timeout from the outside too: a horse still alive ``kill_grace`` seconds
  after its timeout (stuck in compiled code, where RQ's in-process alarm cannot interrupt it)
  is killed, and the run is failed with a timeout reason — not retried;
* keeps the registry in step when a horse dies without running RQ's callbacks (killed,
  out of memory), and sends the failure alert from a thread, never from the horse.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from rq import Queue, Worker
from rq.exceptions import NoSuchJobError

from coinbt.jobs import alerts, config
from coinbt.jobs.admin import rq_error
from coinbt.jobs.tasks import RUNNABLE, error_summary, process_registry
from coinbt.storage import Registry
from coinbt.storage.lifecycle import PENDING, set_status

log = logging.getLogger("coinbt.jobs.worker")
events = logging.getLogger("coinbt.jobs.events")

HEARTBEAT_S = config.WORKER_HEARTBEAT_S
KILL_GRACE_S = config.WORKER_KILL_GRACE_S
#: how often registries are cleaned and a lost scheduler lock is taken over (RQ: 600)
MAINTENANCE_S = 60

_STATUS = {
    "started": "interrupted",  # cold shutdown: the horse was killed with the worker
    "finished": "finished",
    "failed": "failed",
    "stopped": "cancelled",
    "canceled": "cancelled",
    "scheduled": "retrying",
    "queued": "retrying",
}


class CoinbtWorker(Worker):
    """RQ's fork-based worker plus coinbt's per-job log line, hard timeout and registry upkeep.

    Parameters
    ----------
    queues : sequence of str
        Queue names, highest priority first.
    kill_grace : float
        Seconds after a job's timeout before its horse is killed from outside.
    inline_bars : int, optional
        Backtests of at most this many bars run inside the worker process instead of a
        forked work horse (default ``$COINBT_WORKER_INLINE_BARS`` or 100,000; 0 = never).
    registry : Registry, optional
        Where runs are kept (default from the environment).
    **kwargs
        Passed to :class:`rq.Worker` (``name``, ``connection``, ``job_monitoring_interval``,
        ``maintenance_interval``, …).
    """

    def __init__(
        self,
        queues: Sequence[str],
        *,
        kill_grace: float = KILL_GRACE_S,
        inline_bars: int | None = None,
        registry: Registry | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(list(queues), **kwargs)
        self.kill_grace = float(kill_grace)
        self.inline_bars = config.inline_bars() if inline_bars is None else int(inline_bars)
        self._registry = registry
        self._timed_out: str | None = None
        self._inline: str | None = None  # id of the job running inside this process
        self._beat: _Heartbeats | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = process_registry()  # shared with the tasks, inherited by horses
        return self._registry

    # -- RQ hooks (all in the worker process, never in the horse) ------------------------------

    def execute_job(self, job: Any, queue: Queue) -> None:
        from coinbt.logging import context

        started = time.monotonic()
        attempt = _attempt(job)
        self._timed_out = None
        inline = self.runs_inline(job)
        # a job's id is its run's id: every log line of the job carries both (the forked
        # work horse inherits the context)
        with context(job_id=job.id, run_id=job.meta.get("run_id") or job.id):
            try:
                if inline:
                    self._execute_inline(job, queue)
                else:
                    super().execute_job(job, queue)
            finally:
                try:
                    self._after_job(job, queue, attempt, time.monotonic() - started, inline)
                except Exception:  # the bookkeeping must never take the worker down
                    log.exception("job %s: after-job bookkeeping failed", job.id)

    def runs_inline(self, job: Any) -> bool:
        """Whether ``job`` runs inside this process (a backtest of at most ``inline_bars``)."""
        bars = job.meta.get("bars")
        return bool(self.inline_bars) and isinstance(bars, int) and 0 < bars <= self.inline_bars

    def _execute_inline(self, job: Any, queue: Queue) -> None:
        """RQ's ``SimpleWorker`` way: perform the job in this process, no fork.

        The job keeps RQ's timeout (an alarm in this thread), callbacks, retries and result
        handling, and a thread keeps its heartbeats going as the worker does for a horse (so
        a worker that dies mid-job is noticed as quickly).  A stop request cannot kill it
        here: the registry row is already ``cancelled`` by then, and the task records
        nothing at its next check.
        """
        from rq.worker import WorkerStatus

        self._inline = job.id
        execution = self.prepare_execution(job)
        self._beat = _Heartbeats(self, job, execution)
        self._beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._beat.stop()
            self._beat = None
            self._inline = None
            if self._stopped_job_id == job.id:
                self._stopped_job_id = None
        self.set_state(WorkerStatus.IDLE)

    def handle_execution_ended(self, job: Any, queue: Queue, heartbeat_ttl: int) -> None:
        # RQ's first step once a job has returned or raised: no heartbeat may follow it (one
        # would put the ended execution back among the started ones)
        if self._beat is not None:
            self._beat.stop()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def kill_horse(self, sig: Any = None) -> None:
        if self._inline is not None:
            log.info("job %s runs inside the worker: it stops at its next check", self._inline)
            return
        if sig is None:
            super().kill_horse()
        else:
            super().kill_horse(sig)

    def maintain_heartbeats(self, job: Any, execution: Any) -> None:
        super().maintain_heartbeats(job, execution)
        timeout = job.timeout
        if not timeout or timeout < 0 or job.started_at is None or self._timed_out == job.id:
            return
        from rq.utils import now

        running = (now() - job.started_at).total_seconds()
        if running > timeout + self.kill_grace:
            log.warning(
                "job %s: still running %.0f s after its %s s timeout; killing its work horse",
                job.id,
                running - timeout,
                timeout,
            )
            self._timed_out = job.id
            job.retries_left = 0  # a timeout is not retried (RQ reads this when failing it)
            self.kill_horse()

    def teardown(self) -> None:
        left = alerts.wait_for_alerts()
        if left:
            log.warning("%d failure alert(s) still unsent at exit", left)
        super().teardown()
        if self._registry is not None:
            self._registry.close()

    # -- after each job ------------------------------------------------------------------------

    def _after_job(
        self, job: Any, queue: Queue, attempt: int, duration: float, inline: bool = False
    ) -> None:
        try:
            job.refresh()
            rq_status = str(job.get_status(refresh=False).value)
        except NoSuchJobError:
            rq_status = "deleted"
        from coinbt.jobs.notebook_tasks import kill_kernel

        kill_kernel(job)  # notebook and report jobs: a horse killed mid-run leaves its kernel
        status = _STATUS.get(rq_status, rq_status)
        error: str | None = None
        owns_row = self.registry.status(job.id) is not None  # sweeps keep their own rows
        if rq_status == "finished" and owns_row:
            status = str(self.registry.status(job.id))  # finished, or cancelled while it ran
        elif rq_status == "failed":
            error = self._failed(job, owns_row)
        elif status == "retrying":  # the failure callback put the error on the row, if it ran
            error = (self._row_error(job.id, "queued") if owns_row else None) or rq_error(job)
            if owns_row:
                error = error or "work horse ended unexpectedly"
                set_status(self.registry, job.id, "queued", error=error, only_from=["running"])
        elif status == "cancelled" and owns_row:
            set_status(
                self.registry, job.id, "cancelled", error="cancelled on request", only_from=PENDING
            )
        events.info(
            json.dumps(
                {
                    "event": "job",
                    "job_id": job.id,
                    "kind": job.meta.get("kind") or job.func_name,
                    "queue": queue.name,
                    "worker": self.name,
                    "status": status,
                    "attempt": attempt,
                    "mode": "inline" if inline else "horse",
                    "duration_s": round(duration, 3),
                    "error": error_summary(error) or None,
                }
            )
        )

    def _failed(self, job: Any, owns_row: bool) -> str:
        """A job RQ failed for good: make sure its row says so and alert once."""
        if self._timed_out == job.id:
            error = (
                f"JobTimeoutException: job ran past its timeout of {job.timeout} s and did not "
                f"stop by itself; coinbt worker {self.name} killed its work horse"
            )
        else:
            row_error = self._row_error(job.id, "failed") if owns_row else None
            error = row_error or rq_error(job) or "failed"
        changed = owns_row and set_status(
            self.registry, job.id, "failed", error=error, only_from=PENDING
        )
        if changed or job.meta.get("alert") == "deferred":
            job.meta["alert"] = "sent"
            job.save_meta()
            alerts.send_failure_alert_async(job.id, job.description or job.func_name, error)
        return error

    def _row_error(self, run_id: str, status: str) -> str | None:
        """The error on the run's row, if the row is in ``status``."""
        row = self.registry.run(run_id)
        if row is None or row["status"] != status:
            return None
        return str(row["error"]) if row["error"] else None


class _Heartbeats(threading.Thread):
    """Heartbeats of a job running inside the worker, every ``job_monitoring_interval``
    seconds (what the worker does for a horse while it waits on it)."""

    def __init__(self, worker: CoinbtWorker, job: Any, execution: Any) -> None:
        super().__init__(name=f"coinbt-heartbeat-{job.id}", daemon=True)
        self.worker, self.job, self.execution = worker, job, execution
        self._done = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._done.wait(self.worker.job_monitoring_interval):
            with self._lock:
                if self._done.is_set():
                    return
                try:
                    Worker.maintain_heartbeats(self.worker, self.job, self.execution)
                except Exception:  # a missed beat is not worth a failed job
                    log.warning("job %s: heartbeat failed", self.job.id, exc_info=True)

    def stop(self) -> None:
        """No beat after this returns (one in flight is waited for)."""
        with self._lock:
            self._done.set()


def _attempt(job: Any) -> int:
    """1 for the first run of a job, 2 for its first retry, …"""
    retries = int(job.meta.get("retries") or 0)
    left = job.retries_left if job.retries_left is not None else retries
    return max(1, retries - int(left) + 1)


def warm_up(registry: Registry | None = None) -> float:
    """Get everything a job uses ready in this process, so forked work horses inherit it.

    Runs one tiny backtest on synthetic bars (imports, the numba kernels — compiled or loaded
    from the on-disk cache), serializes its artifact tables without storing them (the kernels
    and pyarrow paths recording uses), and, given a registry, compiles the statements a job
    runs against it (:func:`coinbt.storage.lifecycle.warm_statements`; nothing changes).
    Returns the seconds taken.  Without this every horse paid ~10 ms loading a numba kernel
    and ~5 ms compiling SQL.
    """
    import numpy as np
    import pandas as pd

    import coinbt
    from coinbt.storage.artifacts import TABLES, document_bytes, table_bytes
    from coinbt.storage.lifecycle import warm_statements

    started = time.monotonic()
    rng = np.random.default_rng(0)
    n = 300
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.uniform(1, 10, n),
        },
        index=pd.date_range("2020-01-01", periods=n, freq="1h", tz="UTC"),
    )
    result = coinbt.backtest("sma_cross", bars=bars, timeframe="1h")
    for name in TABLES:
        table_bytes(getattr(result, name))
    document_bytes(result.spec.to_dict())
    document_bytes(dict(result.stats))
    if registry is not None:
        warm_statements(registry, result, RUNNABLE)
    return time.monotonic() - started


def _configure_logging(level: str) -> None:
    """RQ's and coinbt's log lines on stderr (:func:`coinbt.logging.configure`: JSON lines with
    job and run ids unless stderr is a terminal, secrets redacted); the per-job JSON lines
    alone on stdout."""
    from coinbt.logging import configure

    configure(level=level, loggers=("rq", "coinbt"))
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(logging.Formatter("%(message)s"))
    events.handlers[:] = [out]
    events.setLevel(logging.INFO)
    events.propagate = False


def run_worker(
    queues: Sequence[str] = (config.DEFAULT_QUEUE,),
    *,
    burst: bool = False,
    name: str | None = None,
    redis_url: str | None = None,
    warm: bool = True,
    heartbeat: int = HEARTBEAT_S,
    kill_grace: float = KILL_GRACE_S,
    inline_bars: int | None = None,
    max_jobs: int | None = None,
    logging_level: str = "INFO",
) -> bool:
    """Start a worker on ``queues`` and work until stopped (or, with ``burst``, until empty).

    Parameters
    ----------
    queues : sequence of str
        Queue names, highest priority first.
    burst : bool
        Quit when the queues are empty instead of waiting for work.
    name : str, optional
        Worker name (unique among live workers); default ``<host>-<pid>``.
    redis_url : str, optional
        Default ``$COINBT_REDIS_URL``.
    warm : bool
        Run :func:`warm_up` before taking work.
    heartbeat : int
        Seconds between heartbeats while a job runs (RQ's ``job_monitoring_interval``);
        ``coinbt jobs recover --stale-after`` must be several of these.
    kill_grace : float
        Seconds after a job's timeout before its horse is killed from outside.
    inline_bars : int, optional
        Backtests of at most this many bars run in the worker process, without forking
        (default ``$COINBT_WORKER_INLINE_BARS`` or 100,000; 0 = every job in a work horse).
    max_jobs : int, optional
        Quit after this many jobs.
    logging_level : str
        Level of the stderr log.

    Returns
    -------
    bool
        True when at least one job was processed.

    Raises
    ------
    JobError
        Redis unreachable.

    Notes
    -----
    The worker runs RQ's scheduler (needed for retry back-off; one worker per queue holds
    its lock) and cleans RQ's registries every minute — which is how a job abandoned by a
    worker that died is retried without anyone running ``coinbt jobs recover``.
    """
    _configure_logging(logging_level)
    conn = config.connect(redis_url)
    names = [q.strip() for q in queues if q.strip()] or [config.DEFAULT_QUEUE]
    worker = CoinbtWorker(
        names,
        name=name or f"{socket.gethostname()}-{os.getpid()}",
        connection=conn,
        job_monitoring_interval=int(heartbeat),
        maintenance_interval=MAINTENANCE_S,
        kill_grace=kill_grace,
        inline_bars=inline_bars,
    )
    registry = process_registry()  # open the registry once, before any horse is forked
    if warm:
        seconds = warm_up(registry)
        log.info("worker %s: numba kernels and registry statements warm in %.2f s",
                 worker.name, seconds)  # fmt: skip
    # objects alive now live as long as the worker: keep the garbage collector of every
    # horse away from them, or its first collection writes to (and so copies) every page
    gc.freeze()
    os.environ[config.WORKER_PID_ENV] = str(os.getpid())  # horses leave alerts to us
    return worker.work(
        burst=burst, with_scheduler=True, max_jobs=max_jobs, logging_level=logging_level.upper()
    )


__all__ = ["CoinbtWorker", "run_worker", "warm_up"]
