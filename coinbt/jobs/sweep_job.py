"""The handle of a sweep on workers: :class:`SweepJob` (status, wait, result, cancel, retry)
and the one place its jobs are enqueued (:func:`enqueue_chunks`).

Progress comes from the registry (recorded trials, the source of truth) and, for each chunk,
from its RQ job's state and meta.  Built by :func:`coinbt.jobs.submit_sweep`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coinbt.errors import ConfigError, JobError
from coinbt.jobs import config, sweep_tasks
from coinbt.storage import Registry
from coinbt.storage.common import sha256_bytes
from coinbt.storage.lifecycle import set_status

#: RQ job states of a chunk that still will (or may) run
_ACTIVE = ("queued", "started", "deferred", "scheduled", "ready_to_enqueue", "created")


@dataclass(frozen=True)
class SweepStatus:
    """Where a sweep is.

    ``state`` (queued, running, finished, failed, cancelled), ``progress`` (0–1: recorded
    trials / trials), ``finished_trials`` and ``total_trials`` (from the registry), a short
    ``message``, the ``error`` of a failed sweep, and ``chunks``: the id of each chunk job
    and of the finalizer → ``{"state", "progress", "message"}`` (RQ state and live meta;
    empty without Redis or once the sweep has finished).
    """

    state: str
    progress: float
    finished_trials: int
    total_trials: int
    message: str
    error: str | None = None
    chunks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class SweepJob:
    """A handle on a sweep running on workers (id = the sweep's run id).

    ``status()``, ``wait(timeout=)``, ``result()`` (the trial table), ``sweep_result()`` (a
    :class:`~coinbt.sweeps.SweepResult`), ``load(trial)`` (one trial's full result),
    ``cancel()`` and ``retry_failed()``.  Built by :func:`~coinbt.jobs.submit_sweep`, or by
    :meth:`from_run_id` in another session.
    """

    def __init__(
        self,
        run_id: str,
        definition: Mapping[str, Any],
        *,
        registry: Registry | None = None,
        redis_url: str | None = None,
        queue: str = config.DEFAULT_QUEUE,
        strategy: Any = None,
    ) -> None:
        self.id = run_id
        self.definition = dict(definition)
        self.queue = queue
        self._registry = registry
        self._redis_url = redis_url
        self._conn: Any = None
        self._strategy = strategy
        self._trial_ids: list[str] | None = None
        self._finished: set[str] = set()

    @classmethod
    def from_run_id(cls, run_id: str, *, registry: Registry | None = None) -> SweepJob:
        """The handle of a submitted sweep (a run id or a unique prefix of one)."""
        reg = registry if registry is not None else Registry()
        full = reg.resolve(run_id)
        kind = reg.run(full)["kind"]
        if kind != "sweep":
            raise JobError(f"run {full} is a {kind}, not a sweep; use get_job")
        sha = reg.artifacts(full).get(sweep_tasks.DEFINITION, {}).get("sha256")
        definition = sweep_tasks.read_definition(reg, full, sha)
        return cls(full, definition, registry=reg, redis_url=config.redis_url())

    def __repr__(self) -> str:
        st = self.status()
        return f"<coinbt SweepJob {self.id} {st.state} {st.finished_trials}/{st.total_trials}>"

    # -- what it is -------------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry()
        return self._registry

    @property
    def n_trials(self) -> int:
        return len(self.definition["trials"])

    @property
    def bounds(self) -> list[tuple[int, int]]:
        """``[start, stop)`` trial range of each chunk."""
        return sweep_tasks.chunk_bounds(self.n_trials, int(self.definition["chunk_size"]))

    @property
    def chunk_ids(self) -> list[str]:
        return [sweep_tasks.chunk_job_id(self.id, k) for k in range(len(self.bounds))]

    @property
    def trial_ids(self) -> list[str]:
        """Run id of every trial, in trial order (each equals a single backtest's)."""
        if self._trial_ids is None:
            self._trial_ids = [s.run_id for s in sweep_tasks.trial_specs(self.definition)]
        return self._trial_ids

    def _redis(self) -> Any:
        if self._conn is None:
            self._conn = config.connect(self._redis_url, check=False)
        return self._conn

    def _jobs(self) -> dict[str, Any]:
        """Chunk and finalizer job ids → RQ job (None when Redis does not know it)."""
        from rq.job import Job as RQJob

        ids = [*self.chunk_ids, sweep_tasks.final_job_id(self.id)]
        return dict(zip(ids, RQJob.fetch_many(ids, connection=self._redis()), strict=True))

    def _finished_trials(self) -> int:
        pending = [r for r in self.trial_ids if r not in self._finished]
        if pending:  # a finished run stays finished: only ask about the others
            self._finished |= sweep_tasks.finished_ids(self.registry, pending)
        return len(self._finished)

    # -- following it -----------------------------------------------------------------------

    def status(self) -> SweepStatus:
        """Recorded trials from the registry (the source of truth), chunk states and live
        progress from Redis."""
        stored = self.registry.status(self.id)
        total = self.n_trials
        if stored is None:
            raise JobError(f"sweep {self.id}: no such run in the registry at {self.registry.url}")
        if stored == "finished":
            return SweepStatus("finished", 1.0, total, total, f"{total} trials, finished")
        done = self._finished_trials()
        error = self._error() if stored == "failed" else None
        chunks: dict[str, dict[str, Any]] = {}
        if self._redis_url is not None:
            for job_id, job in self._jobs().items():
                if job is None:
                    chunks[job_id] = {"state": "missing", "progress": 0.0, "message": ""}
                    continue
                state = str(job.get_status(refresh=False).value)
                chunks[job_id] = {
                    "state": state,
                    "progress": float(job.meta.get("progress", 1.0 if state == "finished" else 0)),
                    "message": str(job.meta.get("message", state)),
                }
        states = [c["state"] for c in chunks.values()]
        if stored == "cancelled":
            state = "cancelled"
        elif any(s in ("failed", "stopped") for s in states) or (
            stored == "failed" and not any(s in _ACTIVE for s in states)
        ):
            state = "failed"
        elif "started" in states or stored == "running" or done:
            state = "running"
        else:
            state = "queued"
        counts: dict[str, int] = {}
        for s in states:
            counts[s] = counts.get(s, 0) + 1
        jobs = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        message = f"{done}/{total} trials" + (f"; jobs: {jobs}" if jobs else "")
        return SweepStatus(
            state, done / total if total else 1.0, done, total, message, error, chunks
        )

    def _error(self) -> str | None:
        row = self.registry.run(self.id)
        return None if row is None else row["error"]

    def result(self) -> pd.DataFrame:
        """The trial table of the finished sweep (one row per trial: parameters, ``symbol``,
        headline metrics, ``run_id``), as :attr:`coinbt.sweeps.SweepResult.trials`.

        Raises
        ------
        JobError
            When the sweep has not finished (its state and error say why).
        """
        st = self.status()
        if st.state != "finished":
            detail = f": {st.error.strip().splitlines()[0]}" if st.error else ""
            raise JobError(f"sweep {self.id} is {st.state} ({st.message}){detail}")
        sha = self.registry.artifacts(self.id)[sweep_tasks.TABLE]["sha256"]
        return self.registry.store.read_table(self.id, "trials", sha)

    def sweep_result(self, metric: str = "sharpe") -> Any:
        """The finished sweep as a :class:`~coinbt.sweeps.SweepResult` (``best()``,
        ``top()``, ``deflated_sharpe()``, ``heatmap()``, ``run_trial(i)``), as if
        :func:`coinbt.sweep` had run it here; loads the bars once."""
        from coinbt.data import load_bars
        from coinbt.engine import EngineSettings
        from coinbt.strategies import get_strategy
        from coinbt.sweeps import SweepResult
        from coinbt.sweeps.result import _Source
        from coinbt.sweeps.runner import Market

        table = self.result()
        base = self.definition["base_spec"]
        strat = self._strategy or get_strategy(_ref(self.definition) or base["strategy"])
        bars = load_bars(
            base["symbol"],
            base["timeframe"],
            base["data_start"],
            base["data_end"],
            base["exchange"],
        )
        params = [n for n in self.definition["param_names"] if table[n].nunique() > 1]
        return SweepResult(
            table,
            strategy=strat,
            markets={base["symbol"]: Market.from_bars(base["symbol"], bars, base["timeframe"])},
            settings=EngineSettings.from_dict(base["engine"]),
            metric=metric,
            swept=params,
            source=_Source(base["timeframe"], base["start"], base["end"], base["exchange"], True),
            search=self.definition["search"],
            seed=self.definition["seed"],
            elapsed_s=float("nan"),
        )

    def load(self, trial: int | str) -> Any:
        """One trial's full :class:`~coinbt.results.BacktestResult` from the registry, by
        trial number (row of :meth:`result`) or run id."""
        if isinstance(trial, (int, np.integer)):
            if not 0 <= int(trial) < self.n_trials:
                raise ConfigError(f"no trial {trial}; trials are 0..{self.n_trials - 1}")
            trial = self.trial_ids[int(trial)]
        return self.registry.load(str(trial))

    def wait(
        self, timeout: float | None = None, *, progress: bool = True, poll: float = 0.5
    ) -> pd.DataFrame:
        """Block until the sweep finishes; return its trial table.  A tqdm bar counts recorded
        trials unless ``progress=False``.

        Raises
        ------
        JobError
            As soon as a chunk has failed for good (the other chunks keep running; see
            :meth:`retry_failed`), when the sweep is cancelled, or after ``timeout`` seconds.
        """
        from tqdm.auto import tqdm

        deadline = None if timeout is None else time.monotonic() + timeout
        bar = tqdm(
            total=self.n_trials,
            desc=f"sweep {self.id[:12]}",
            unit="trial",
            disable=not progress,
            leave=True,  # the final state stays in the notebook or terminal
        )
        try:
            while True:
                st = self.status()
                bar.n = st.finished_trials
                bar.set_postfix_str(st.message.partition("; ")[2], refresh=True)
                if st.state == "finished":
                    return self.result()
                if st.state in ("failed", "cancelled"):
                    detail = f": {st.error.strip().splitlines()[0]}" if st.error else ""
                    raise JobError(f"sweep {self.id} {st.state} ({st.message}){detail}")
                if deadline is not None and time.monotonic() > deadline:
                    raise JobError(
                        f"sweep {self.id} still {st.state} after {timeout} s ({st.message})"
                    )
                time.sleep(poll)
        finally:
            bar.close()

    # -- acting on it -----------------------------------------------------------------------

    def cancel(self) -> str:
        """Cancel the sweep: queued chunks (and the finalizer) are cancelled, running ones
        stopped; trials already recorded stay.  Returns the sweep's final state."""
        stored = self.registry.status(self.id)
        if stored not in ("queued", "running", "failed"):
            return str(stored)
        set_status(self.registry, self.id, "cancelled", only_from=["queued", "running", "failed"])
        if self._redis_url is not None:
            from rq.command import send_stop_job_command
            from rq.exceptions import InvalidJobOperation, NoSuchJobError

            for job_id, job in self._jobs().items():
                if job is None:
                    continue
                try:
                    state = job.get_status(refresh=True).value
                    if state == "started":
                        send_stop_job_command(self._redis(), job_id)
                    elif state in _ACTIVE:
                        job.cancel()
                except (InvalidJobOperation, NoSuchJobError):
                    pass  # it ended meanwhile
        return str(self.registry.status(self.id))

    def retry_failed(self) -> list[str]:
        """Run again every chunk that failed, was stopped or cancelled, or was lost, and has
        trials not yet recorded; the finalizer follows.  Returns the job ids enqueued.

        Finished trials are never run again.  ``coinbt jobs requeue <chunk id>`` does the
        same for one failed chunk (the finalizer still waits for it).
        """
        reg = self.registry
        if reg.status(self.id) == "finished":
            return []
        self._finished_trials()
        todo = [
            k
            for k, (a, b) in enumerate(self.bounds)
            if any(r not in self._finished for r in self.trial_ids[a:b])
        ]
        if self._redis_url is None:
            set_status(reg, self.id, "queued", only_from=["failed", "cancelled"])
            self._run_local(progress=False, chunks=todo)
            return [self.chunk_ids[k] for k in todo]
        jobs = self._jobs()
        final_id = sweep_tasks.final_job_id(self.id)
        todo = [k for k in todo if _state(jobs[self.chunk_ids[k]]) not in _ACTIVE]
        final_state = _state(jobs[final_id])
        if not todo and final_state in _ACTIVE:
            return []
        if final_state == "started":
            return []  # the finalizer is running: it decides
        old = next((j for j in jobs.values() if j is not None), None)
        settings: dict[str, Any] = {}
        if old is not None:  # run again as submitted: same queue, retries and timeout
            settings = {
                "retries": int(old.meta.get("retries") or 0),
                "retry_intervals": old.retry_intervals or None,
                "timeout": old.timeout,
            }
        for job_id in [*(self.chunk_ids[k] for k in todo), final_id]:
            if jobs[job_id] is not None:
                jobs[job_id].delete(remove_from_queue=True)  # the id is reused below
        set_status(reg, self.id, "queued", only_from=["failed", "cancelled"])
        data = reg.store.get(self.id, sweep_tasks.DEFINITION)
        queue = old.origin if old is not None else self.queue
        return enqueue_chunks(self._redis(), queue, self, sha256_bytes(data), todo, **settings)

    def _run_local(self, *, progress: bool, chunks: list[int] | None = None) -> None:
        """Run chunks here (no Redis), then the finalizer."""
        from tqdm.auto import tqdm

        reg = self.registry
        data = reg.store.get(self.id, sweep_tasks.DEFINITION)
        strategy = self._strategy if self._strategy is not None else _ref(self.definition)
        base = self.definition["base_spec"]
        trials = self.definition["trials"]
        before = self._finished_trials()
        failures: list[tuple[str, BaseException]] = []
        with tqdm(
            total=self.n_trials,
            initial=before,
            desc=f"sweep {self.id[:12]}",
            unit="trial",
            disable=not progress,
        ) as bar:
            for k in range(len(self.bounds)) if chunks is None else chunks:
                a, b = self.bounds[k]
                if all(r in self._finished for r in self.trial_ids[a:b]):
                    continue
                start = bar.n

                def tick(done: int, _msg: str, start: int = start) -> None:
                    bar.n = min(start + done, self.n_trials)
                    bar.refresh()

                try:
                    sweep_tasks.run_chunk(
                        self.id, k, base, trials[a:b], strategy, registry=reg, on_trial=tick
                    )
                except Exception as exc:  # the other chunks still run, as on workers
                    failures.append((self.chunk_ids[k], exc))
        if failures:
            job_id, exc = failures[0]
            error = f"{len(failures)} chunk(s) failed; first {job_id}: {exc}"
            set_status(reg, self.id, "failed", error=error, only_from=["queued", "running"])
            raise JobError(
                f"sweep {self.id}: {error.splitlines()[0]}\nRecorded trials are kept; run the "
                f"rest with coinbt.jobs.SweepJob.from_run_id({self.id!r}).retry_failed()"
            ) from exc
        sweep_tasks.finalize(self.id, sha256_bytes(data), registry=reg)


def _state(job: Any) -> str:
    return "missing" if job is None else str(job.get_status(refresh=False).value)


def _ref(definition: Mapping[str, Any]) -> str | None:
    ref = definition.get("strategy_ref")
    return str(ref) if ref else None


def enqueue_chunks(
    conn: Any,
    queue: str,
    sweep: SweepJob,
    definition_sha256: str,
    chunks: list[int],
    *,
    retries: int | None = None,
    retry_intervals: Any = None,
    timeout: int | None = None,
) -> list[str]:
    """Enqueue ``chunks`` and the finalizer (depending on every chunk) in one call; returns
    the job ids.  Defaults: ``$COINBT_JOB_RETRIES``, ``$COINBT_JOB_RETRY_INTERVALS``,
    ``$COINBT_JOB_TIMEOUT`` (:mod:`coinbt.jobs.config`)."""
    from rq import Callback, Queue, Retry
    from rq.job import Dependency

    retries = config.default_retries() if retries is None else int(retries)
    intervals = (
        config.default_retry_intervals()
        if retry_intervals is None
        else config.retry_intervals(retry_intervals)
    )
    definition = sweep.definition
    base, trials, ref = definition["base_spec"], definition["trials"], _ref(definition)
    common: dict[str, Any] = {
        "timeout": timeout or config.default_timeout(),
        "retry": Retry(max=retries, interval=list(intervals)) if retries else None,
        "result_ttl": config.RESULT_TTL_S,
        "failure_ttl": config.FAILURE_TTL_S,
        "on_failure": Callback(sweep_tasks.on_failure),
        "on_stopped": Callback(sweep_tasks.on_stopped),
    }
    label = f"{base['strategy']} {base['symbol']} {base['timeframe']}"
    datas = []
    for k in chunks:
        a, b = sweep.bounds[k]
        datas.append(
            Queue.prepare_data(
                sweep_tasks.run_chunk,
                args=(sweep.id, k, base, trials[a:b], ref),
                job_id=sweep.chunk_ids[k],
                description=f"sweep {sweep.id} chunk {k}: {label} trials {a}-{b - 1}",
                meta={
                    "progress": 0.0,
                    "message": "queued",
                    "kind": "sweep_chunk",
                    "sweep": sweep.id,
                    "done": 0,
                    "total": b - a,
                    "retries": retries,
                },
                **common,
            )
        )
    final_id = sweep_tasks.final_job_id(sweep.id)
    datas.append(
        Queue.prepare_data(
            sweep_tasks.finalize,
            args=(sweep.id, definition_sha256),
            job_id=final_id,
            description=f"sweep {sweep.id} trial table: {label} {sweep.n_trials} trials",
            depends_on=Dependency(jobs=sweep.chunk_ids),
            meta={
                "progress": 0.0,
                "message": "waiting for chunks",
                "kind": "sweep_final",
                "sweep": sweep.id,
                "retries": retries,
            },
            **common,
        )
    )
    Queue(queue, connection=conn).enqueue_many(datas)
    return [*(sweep.chunk_ids[k] for k in chunks), final_id]


__all__ = ["SweepJob", "SweepStatus", "enqueue_chunks"]
