"""Submit work to background workers (RQ + Redis) and follow it.

The registry is the source of truth: :func:`submit` creates the run's row (``queued``) before
the job is enqueued, and a worker completes it.  Without ``$COINBT_REDIS_URL`` the work runs
in the calling process and a finished :class:`Job` comes back, so notebooks behave the same
on a laptop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from coinbt.errors import CoinbtError, ConfigError, JobError
from coinbt.jobs import config, tasks
from coinbt.results import RunSpec
from coinbt.storage import Registry
from coinbt.storage.artifacts import document_bytes
from coinbt.storage.lifecycle import PENDING, queue_run, set_status

#: RQ's job states mapped to ours
_RQ_STATUS = {
    "queued": "queued",
    "deferred": "queued",
    "scheduled": "queued",
    "started": "running",
    "finished": "finished",
    "failed": "failed",
    "stopped": "cancelled",
    "canceled": "cancelled",
}
#: a queued row younger than this whose job Redis does not know yet is being enqueued by
#: another client right now, not lost
_ENQUEUE_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class JobStatus:
    """Where a job is: ``state`` (queued, running, finished, failed, cancelled), ``progress``
    (0–1), a short ``message`` and, when failed, the ``error`` text."""

    state: str
    progress: float
    message: str
    error: str | None = None


class Job:
    """A handle on one submitted run (job id = run id).

    ``status()``, ``result()``, ``wait(timeout=)`` and ``cancel()``; built by :func:`submit`
    or :func:`get_job`.
    """

    def __init__(
        self, run_id: str, *, registry: Registry | None = None, redis_url: str | None = None
    ) -> None:
        self.id = run_id
        self._registry = registry
        self._redis_url = redis_url

    def __repr__(self) -> str:
        return f"<coinbt Job {self.id} {self.status().state}>"

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry()
        return self._registry

    def _rq_job(self) -> Any:
        if self._redis_url is None:
            return None
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RQJob

        try:
            return RQJob.fetch(self.id, connection=config.connect(self._redis_url, check=False))
        except NoSuchJobError:
            return None

    def _rq_state(self) -> tuple[str, dict[str, Any]] | None:
        """RQ's status and meta of the job in one round trip (not the whole job hash), or
        None when Redis does not know the job."""
        if self._redis_url is None:
            return None
        from rq.job import Job as RQJob

        job = RQJob(self.id, connection=config.connect(self._redis_url, check=False))
        with job.connection.pipeline(transaction=False) as pipe:
            pipe.hget(job.key, "status")
            pipe.hget(job.key, "meta")
            status, meta = pipe.execute()
        if status is None:
            return None
        return status.decode(), (job.serializer.loads(meta) if meta else {})

    def status(self) -> JobStatus:
        """The job's state, progress and message (registry first, Redis for live progress)."""
        stored = self.registry.status(self.id)
        if stored is None:
            raise JobError(f"job {self.id}: no such run in the registry at {self.registry.url}")
        if stored == "finished":
            return JobStatus("finished", 1.0, "finished")
        if stored in ("failed", "cancelled"):
            error = None
            if stored == "failed":
                row = self.registry.run(self.id)
                error = None if row is None else row["error"]
            return JobStatus(stored, 1.0 if stored == "failed" else 0.0, stored, error)
        live = self._rq_state()
        if live is None:
            return JobStatus(stored, 0.0, f"{stored}; not known to Redis (coinbt jobs recover)")
        rq_status, meta = live
        state = _RQ_STATUS.get(rq_status, stored)
        if state in ("finished", "failed", "cancelled"):
            state = stored  # the registry has the last word
        return JobStatus(state, float(meta.get("progress", 0.0)), str(meta.get("message", state)))

    def result(self) -> Any:
        """The finished run from the registry (:class:`~coinbt.results.BacktestResult`; for a
        notebook run, the executed notebook as an ``nbformat.NotebookNode``).

        Raises
        ------
        JobError
            When the job has not finished (its state and error say why).
        """
        st = self.status()
        if st.state != "finished":
            detail = f": {st.error.strip().splitlines()[-1]}" if st.error else ""
            raise JobError(f"job {self.id} is {st.state}{detail}")
        row = self.registry.run(self.id)
        if row is not None and row["kind"] == "notebook":
            from coinbt.jobs.notebook import executed_notebook

            return executed_notebook(self.registry, self.id)
        return self.registry.load(self.id)

    def wait(
        self, timeout: float | None = None, *, progress: bool = True, poll: float = 0.2
    ) -> Any:
        """Block until the job ends; return its result (raises :class:`JobError` if it failed
        or was cancelled, or when ``timeout`` seconds pass).  Shows a tqdm bar (notebook or
        terminal) unless ``progress=False``."""
        from tqdm.auto import tqdm

        deadline = None if timeout is None else time.monotonic() + timeout
        bar = tqdm(total=100, desc=f"job {self.id[:12]}", disable=not progress, leave=True)
        try:
            while True:
                st = self.status()
                bar.n = round(100 * st.progress)
                bar.set_postfix_str(st.message, refresh=True)
                if st.state in ("finished", "failed", "cancelled"):
                    return self.result()
                if deadline is not None and time.monotonic() > deadline:
                    raise JobError(
                        f"job {self.id} still {st.state} after {timeout} s ({st.message})"
                    )
                time.sleep(poll)
        finally:
            bar.close()

    def cancel(self, *, wait: float = 10.0) -> str:
        """Cancel the job.

        A queued job is taken off its queue; a running one is stopped (RQ's stop-job command:
        its worker kills the work horse) and nothing is recorded for it afterwards.  Both end
        ``cancelled`` in the registry.  A job that already ended is left as it is.

        Parameters
        ----------
        wait : float
            Seconds to wait for a running job's work horse to be gone (0 = do not wait).

        Returns
        -------
        str
            The registry status afterwards: ``cancelled``, or the state the job had already
            reached (``finished``, ``failed``, ``cancelled``) — also when it finished in the
            instant before the cancel arrived.

        Raises
        ------
        JobError
            No such run in the registry.
        """
        stored = self.registry.status(self.id)
        if stored is None:
            raise JobError(f"job {self.id}: no such run in the registry at {self.registry.url}")
        if stored not in PENDING:
            return stored
        job = self._rq_job()
        rq_state = str(job.get_status(refresh=True).value) if job is not None else None
        # The registry first: a worker that picks the job up from now on finds it cancelled and
        # does nothing, and a running task checks it again just before recording.
        changed = set_status(
            self.registry, self.id, "cancelled", error="cancelled on request", only_from=PENDING
        )
        if not changed:  # it ended meanwhile
            return str(self.registry.status(self.id))
        if job is not None:
            from rq.command import send_stop_job_command
            from rq.exceptions import InvalidJobOperation, NoSuchJobError

            try:
                if rq_state == "started":
                    send_stop_job_command(job.connection, self.id)
                    self._wait_stopped(job, wait)
                elif rq_state not in ("finished", "failed", "stopped", "canceled"):
                    job.cancel()
            except (InvalidJobOperation, NoSuchJobError):
                pass  # it ended or was cancelled meanwhile: the registry decides
        return str(self.registry.status(self.id))

    def _wait_stopped(self, job: Any, wait: float) -> None:
        from rq.exceptions import NoSuchJobError

        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if job.get_status(refresh=True).value != "started":
                    return
            except NoSuchJobError:
                return
            time.sleep(0.1)


def _spec_of(work: Any) -> RunSpec:
    from coinbt.api import BacktestPlan

    if isinstance(work, RunSpec):
        return work
    if isinstance(work, BacktestPlan):
        return work.spec
    if isinstance(work, Mapping):
        return RunSpec.from_dict(dict(work))
    raise JobError(
        f"cannot submit {type(work).__name__}: pass a RunSpec, a plan from "
        "coinbt.api.plan_backtest, or use coinbt.jobs.submit_backtest(...)"
    )


def _strategy_ref(spec: RunSpec, strategy: Any) -> str | None:
    """How a worker finds the strategy: a registered name needs nothing, otherwise
    ``module:function`` (a function from ``__main__`` cannot be found elsewhere)."""
    if strategy is None or isinstance(strategy, str):
        return strategy if strategy not in (None, spec.strategy) else None
    if not spec.strategy_code and getattr(strategy, "name", None) == spec.strategy:
        return None  # a registered built-in (get_strategy(name)): workers have it by name
    fn = getattr(strategy, "fn", strategy)
    module = getattr(fn, "__module__", None)
    if not module or module == "__main__":
        raise JobError(
            f"strategy {spec.strategy!r} is defined in the notebook or script itself; workers "
            "can only import it from a module: move it to a .py file on the workers' path and "
            "pass 'module:function'"
        )
    return f"{module}:{fn.__qualname__}"


def submit(
    work: Any,
    queue: str = config.DEFAULT_QUEUE,
    *,
    strategy: Any = None,
    retries: int | None = None,
    retry_intervals: Any = None,
    timeout: int | None = None,
    tags: list[str] | None = None,
    registry: Registry | None = None,
    redis_url: str | None = None,
) -> Job:
    """Run work in the background — a planned backtest, a sweep or a notebook; returns its
    :class:`Job` (id = run id; a :class:`~coinbt.jobs.SweepJob` for a sweep).

    Parameters
    ----------
    work : RunSpec, BacktestPlan, SweepRequest or NotebookRequest
        What to run: a backtest (see :func:`submit_backtest` to plan and submit in one
        call), a sweep (:class:`~coinbt.jobs.SweepRequest`, as :func:`submit_sweep`) or a
        notebook with parameters (:class:`~coinbt.jobs.NotebookRequest`, as
        :func:`~coinbt.jobs.submit_notebook`).
    queue : str
        RQ queue name; workers listen on the queues given to ``coinbt worker --queues``.
    strategy : str or callable, optional
        Where workers find a strategy that is not a registered name (``module:function``).
    retries : int, optional
        Retries after a failure (default ``$COINBT_JOB_RETRIES`` or 2).  Timeouts and
        configuration or data errors are not retried: the same run would fail the same way.
    retry_intervals : int, str or sequence of int, optional
        Seconds to wait before retry 1, 2, … (default ``$COINBT_JOB_RETRY_INTERVALS`` or
        5, 30, 120; the last one repeats).
    timeout : int, optional
        Seconds after which a running job is stopped and counts as failed
        (``$COINBT_JOB_TIMEOUT`` or 3600).
    tags : list of str, optional
        Stored on the run's registry row.

    Returns
    -------
    Job
        A finished run is returned at once (nothing is enqueued); a queued or running one
        returns its existing job (no duplicates).  Without ``$COINBT_REDIS_URL`` the run
        executes here and the job comes back finished (or failed).

    Raises
    ------
    JobError
        Redis unreachable (checked before anything is written), or the strategy cannot be
        found by workers.

    Notes
    -----
    Besides the registry row, submit stores a job document (``job.json``, see
    :func:`job_document`) next to the run's artifacts: what ``coinbt jobs recover`` needs to
    enqueue the run again when Redis has lost it.
    """
    from coinbt.jobs.notebook import NotebookRequest, submit_notebook
    from coinbt.jobs.sweep import SweepRequest

    common = dict(queue=queue, retries=retries, retry_intervals=retry_intervals,
                  timeout=timeout, tags=tags, registry=registry)  # fmt: skip
    if isinstance(work, NotebookRequest):
        return submit_notebook(work, redis_url=redis_url, **common)  # type: ignore[no-any-return]
    if isinstance(work, SweepRequest):
        return work.submit(**common)
    spec = _spec_of(work)
    ref = _strategy_ref(spec, strategy)
    url = redis_url or config.redis_url()
    reg = registry if registry is not None else Registry()
    if url is None:
        return _run_here(spec, ref, reg, tags)
    doc = job_document(
        spec.run_id,
        "backtest",
        "coinbt.jobs.tasks.run_backtest",
        [spec.to_dict(), ref],
        queue=queue,
        retries=retries,
        retry_intervals=retry_intervals,
        timeout=timeout,
        description=f"backtest {spec.strategy} {spec.symbol} {spec.timeframe} {spec.params}",
        strategy_ref=ref,
    )
    conn = config.connect(url)  # fail before writing anything
    existing = queue_run(reg, spec, tags=tags)
    job = Job(spec.run_id, registry=reg, redis_url=url)
    if existing == "finished":
        return job
    return enqueue_run(conn, job, doc, existing)


def enqueue_run(conn: Any, job: Job, doc: dict[str, Any], existing: str | None) -> Job:
    """Second half of every submit: enqueue the job of a run whose row the caller has just
    created (``existing`` None) or found unfinished (its status).

    A queued or running run whose job Redis knows (or that another client is enqueueing right
    now) is left alone; a failed or cancelled one is queued again.  When enqueueing fails, a
    row this submit created is removed again, so nothing is left half-way.
    """
    reg = job.registry
    if existing in ("queued", "running"):
        if job._rq_job() is not None or recently_queued(reg, job.id):
            return job
    elif existing in ("failed", "cancelled"):
        set_status(reg, job.id, "queued", only_from=["failed", "cancelled"])
    try:
        write_job_document(reg, doc)
        enqueue_document(conn, doc)
    except Exception as exc:
        if existing is None:  # nothing half-way: the row we made goes again
            from coinbt.storage.lifecycle import discard_queued

            discard_queued(reg, job.id)
        raise JobError(f"run {job.id}: could not enqueue on {doc['queue']!r}: {exc}") from exc
    return job


def recently_queued(reg: Registry, run_id: str) -> bool:
    """True when the run's row is younger than the enqueue grace period: a pending run whose
    job Redis does not know yet is then being enqueued by another client, not lost."""
    row = reg.run(run_id)
    return row is not None and row["created"] > datetime.now(UTC) - _ENQUEUE_GRACE


#: the job document stored next to a run's artifacts (not a registered artifact)
JOB_DOCUMENT = "job.json"
_DOCUMENT_FORMAT = "coinbt-job"


#: where job documents may point workers (a stored document never names arbitrary code)
TASK_PACKAGES = ("coinbt.jobs.", "coinbt.reports.")


def job_document(
    run_id: str,
    kind: str,
    task: str,
    args: list[Any],
    *,
    queue: str = config.DEFAULT_QUEUE,
    retries: int | None = None,
    retry_intervals: Any = None,
    timeout: int | None = None,
    description: str = "",
    strategy_ref: str | None = None,
) -> dict[str, Any]:
    """Everything needed to enqueue a run's job, again if need be (JSON-safe).

    Parameters
    ----------
    run_id : str
        The run, and the RQ job id.
    kind : str
        The registry row's kind (``backtest``, ``sweep``, ``notebook``).
    task : str
        Dotted path of the function workers call (must live in ``coinbt.jobs``).
    args : list
        Its positional arguments (JSON values only).
    queue, retries, retry_intervals, timeout
        As for :func:`submit`; defaults are resolved now and kept.
    description : str
        Shown by ``coinbt jobs`` and in alerts.
    strategy_ref : str, optional
        ``module:function`` of a user strategy (workers import it).
    """
    retries = config.default_retries() if retries is None else int(retries)
    if retries < 0:
        raise ConfigError(f"retries={retries}: use 0 or more", field="retries")
    intervals = (
        config.default_retry_intervals()
        if retry_intervals is None
        else config.retry_intervals(retry_intervals)
    )
    if not task.startswith(TASK_PACKAGES):
        raise ConfigError(
            f"job task {task!r} is not a function of {' or '.join(TASK_PACKAGES)}", field="task"
        )
    return {
        "format": _DOCUMENT_FORMAT,
        "version": 1,
        "run_id": run_id,
        "kind": kind,
        "task": task,
        "args": list(args),
        "queue": queue,
        "retries": retries,
        "retry_intervals": list(intervals),
        "timeout": int(timeout or config.default_timeout()),
        "description": description or f"{kind} {run_id}",
        "strategy_ref": strategy_ref,
        "submitted": datetime.now(UTC).isoformat(),
    }


def write_job_document(reg: Registry, doc: dict[str, Any]) -> None:
    """Store ``doc`` as the run's ``job.json`` (in the artifact store, without an artifact row)."""
    reg.store.put(doc["run_id"], JOB_DOCUMENT, document_bytes(doc))


def read_job_document(reg: Registry, run_id: str) -> dict[str, Any] | None:
    """The run's job document, or None when there is none (or it is unreadable)."""
    import json

    from coinbt.errors import StorageError

    try:
        doc = json.loads(reg.store.get(run_id, JOB_DOCUMENT))
    except (StorageError, ValueError):
        return None
    ok = isinstance(doc, dict) and doc.get("format") == _DOCUMENT_FORMAT
    return doc if ok and doc.get("run_id") == run_id else None


def enqueue_document(conn: Any, doc: Mapping[str, Any]) -> Any:
    """Put the job a document describes on its RQ queue (job id = run id); returns the RQ job.

    Failure and stop callbacks keep the registry row in step (:mod:`coinbt.jobs.tasks`).
    """
    from rq import Callback, Queue, Retry

    if not str(doc["task"]).startswith(TASK_PACKAGES):
        raise JobError(f"run {doc['run_id']}: job task {doc['task']!r} is not a coinbt task")
    retries = int(doc["retries"])
    return Queue(doc["queue"], connection=conn).enqueue(
        doc["task"],
        *doc["args"],
        job_id=doc["run_id"],
        description=doc["description"],
        job_timeout=int(doc["timeout"]),
        retry=Retry(max=retries, interval=list(doc["retry_intervals"])) if retries else None,
        result_ttl=config.RESULT_TTL_S,
        failure_ttl=config.FAILURE_TTL_S,
        on_failure=Callback(tasks.on_failure),
        on_stopped=Callback(tasks.on_stopped),
        meta={
            "progress": 0.0,
            "message": "queued",
            "kind": doc["kind"],
            "retries": retries,
            "bars": work_size(doc),
        },
    )


def work_size(doc: Mapping[str, Any]) -> int | None:
    """Bars a backtest of a built-in strategy simulates, which a worker goes by to run it in
    its own process rather than a forked work horse (see ``coinbt worker --inline-bars``).

    None for anything else: a user strategy's cost is unknown (it may loop in Python for
    minutes), so it always gets a work horse that can be stopped and killed.
    """
    if doc["kind"] != "backtest" or not doc["args"] or not isinstance(doc["args"][0], Mapping):
        return None
    spec = doc["args"][0]
    if spec.get("strategy_code") or doc.get("strategy_ref"):
        return None
    bars = spec.get("bars")
    return int(bars) if isinstance(bars, int) else None


def _run_here(spec: RunSpec, ref: str | None, reg: Registry, tags: list[str] | None) -> Job:
    """No Redis: the same steps as a worker, in this process."""
    import traceback

    existing = queue_run(reg, spec, tags=tags)
    job = Job(spec.run_id, registry=reg)
    if existing == "finished":
        return job
    if existing in ("failed", "cancelled"):  # submitted again: run it again, as with Redis
        set_status(reg, spec.run_id, "queued", only_from=["failed", "cancelled"])
    try:
        tasks.run_backtest(spec.to_dict(), ref, registry=reg)
    except CoinbtError as exc:
        set_status(reg, spec.run_id, "failed", error=traceback.format_exc())
        raise JobError(f"run {spec.run_id} failed: {exc}") from exc
    except Exception:
        set_status(reg, spec.run_id, "failed", error=traceback.format_exc())
        raise
    return job


def submit_backtest(
    strategy: Any,
    symbol: str | None = None,
    timeframe: str | None = None,
    start: Any = None,
    end: Any = None,
    *,
    exchange: str | None = None,
    params: Mapping[str, Any] | None = None,
    queue: str = config.DEFAULT_QUEUE,
    retries: int | None = None,
    retry_intervals: Any = None,
    timeout: int | None = None,
    tags: list[str] | None = None,
    registry: Registry | None = None,
    **settings: Any,
) -> Job:
    """Plan a backtest here (arguments as :func:`coinbt.backtest`) and :func:`submit` it
    (``queue``, ``retries``, ``retry_intervals``, ``timeout``, ``tags`` as there)."""
    from coinbt.api import plan_backtest

    plan = plan_backtest(
        strategy, symbol, timeframe, start, end, exchange=exchange, params=params, **settings
    )
    return submit(
        plan,
        queue,
        strategy=strategy,
        retries=retries,
        retry_intervals=retry_intervals,
        timeout=timeout,
        tags=tags,
        registry=registry,
    )


def get_job(run_id: str, *, registry: Registry | None = None) -> Job:
    """The job of a run id (or a unique prefix of one)."""
    reg = registry if registry is not None else Registry()
    return Job(reg.resolve(run_id), registry=reg, redis_url=config.redis_url())
