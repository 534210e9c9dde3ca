"""What workers run for a sweep (:func:`coinbt.jobs.submit_sweep`): chunks of trials, then
one finalizer.

* :func:`run_chunk` loads the bars once, runs each trial of its chunk as a full backtest and
  records it (kind ``sweep_trial``, ``parent_run_id`` = the sweep).  A trial whose run is
  already finished is skipped, so a chunk retried after a crash (or a worker killed mid-way)
  records every trial exactly once.  A failing trial does not stop the others of its chunk;
  the chunk fails at the end, naming it.
* :func:`finalize` (an RQ job depending on every chunk) writes the sweep's trial table
  (``trials.parquet``) and completes the sweep's registry row.

The sweep definition (``sweep.json``: base spec, every trial's parameters, chunk size) is in
the artifact store from submit time; its registry artifact row is added when the sweep
finishes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from coinbt.errors import ConfigError, JobError
from coinbt.jobs.tasks import process_registry
from coinbt.results import RunSpec
from coinbt.storage import Registry
from coinbt.storage.artifacts import ArtifactInfo, table_bytes
from coinbt.storage.lifecycle import complete_run, set_status, spec_row
from coinbt.storage.models import Artifact, Run

log = logging.getLogger("coinbt.jobs")

DEFINITION = "sweep.json"
TABLE = "trials.parquet"
FORMAT = 1
#: the registry is asked whether a sweep was cancelled at most this often during a chunk
_CANCEL_CHECK_S = 2.0
#: job meta is written at most this often (and at the end of a chunk)
_META_EVERY_S = 0.5
#: ids per ``IN (...)`` query (SQLite allows 999 bound parameters in old builds)
_BATCH = 500


# -- the definition ---------------------------------------------------------------------------


def sweep_id(base_spec: Mapping[str, Any], trials: Sequence[Mapping[str, Any]]) -> str:
    """The sweep's run id: a stable hash of what it computes.

    Strategy and its code hash, market and data (requested range, bars fingerprint, first and
    last bar), engine settings and coinbt version — everything of the base spec except the
    parameters — plus the sorted list of every trial's parameters.  Trial order and chunk size
    do not count: the same set of trials is the same sweep.
    """
    common = {k: v for k, v in base_spec.items() if k != "params"}
    params = sorted(_canonical(p) for p in trials)
    text = _canonical({"kind": "sweep", "format": FORMAT, "spec": common, "trials": params})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def chunk_bounds(n_trials: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` trial ranges of each chunk."""
    return [(i, min(i + chunk_size, n_trials)) for i in range(0, n_trials, chunk_size)]


def chunk_job_id(parent_id: str, chunk: int) -> str:
    return f"{parent_id}-c{chunk}"


def final_job_id(parent_id: str) -> str:
    return f"{parent_id}-final"


def trial_specs(definition: Mapping[str, Any]) -> list[RunSpec]:
    """Every trial's RunSpec: the base spec with that trial's parameters."""
    base = dict(definition["base_spec"])
    return [RunSpec.from_dict({**base, "params": dict(p)}) for p in definition["trials"]]


def read_definition(
    registry: Registry, parent_id: str, sha256: str | None = None
) -> dict[str, Any]:
    """The stored ``sweep.json`` of a sweep (checked against ``sha256`` when given)."""
    data = registry.store.get(parent_id, DEFINITION, sha256)
    definition = json.loads(data)
    if definition.get("format") != FORMAT:
        raise JobError(
            f"sweep {parent_id}: {DEFINITION} has format {definition.get('format')!r}; this "
            f"coinbt reads format {FORMAT} (run the same coinbt version everywhere)"
        )
    return definition


def parent_row(
    registry: Registry, parent_id: str, definition: Mapping[str, Any], *, status: str, tags: Any
) -> dict[str, Any]:
    """The sweep's ``runs`` row: market and settings of its trials, ``params`` = the space."""
    base = RunSpec.from_dict(dict(definition["base_spec"]))
    row = spec_row(base, registry.store.run_uri(parent_id), kind="sweep", status=status, tags=tags)
    row["run_id"] = parent_id
    row["params"] = {
        "search": definition["search"],
        "space": definition["space"],
        "seed": definition["seed"],
        "n_trials": len(definition["trials"]),
        "chunk_size": definition["chunk_size"],
    }
    return row


# -- registry helpers -------------------------------------------------------------------------


def finished_ids(registry: Registry, run_ids: Iterable[str]) -> set[str]:
    """Which of ``run_ids`` are finished runs (batched queries)."""
    ids = list(dict.fromkeys(run_ids))
    done: set[str] = set()
    with registry.engine.connect() as conn:
        for i in range(0, len(ids), _BATCH):
            batch = ids[i : i + _BATCH]
            query = select(Run.run_id).where(Run.run_id.in_(batch), Run.status == "finished")
            done.update(conn.execute(query).scalars())
    return done


def _stats_of(registry: Registry, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``stats.json`` of each finished run, verified against its recorded checksum."""
    shas: dict[str, str] = {}
    with registry.engine.connect() as conn:
        for i in range(0, len(run_ids), _BATCH):
            batch = list(run_ids[i : i + _BATCH])
            query = select(Artifact.run_id, Artifact.sha256).where(
                Artifact.run_id.in_(batch), Artifact.name == "stats.json"
            )
            shas.update({r: s for r, s in conn.execute(query)})
    return {r: registry.store.read_document(r, "stats", s) for r, s in shas.items()}


# -- progress ---------------------------------------------------------------------------------


class _Meta:
    """The chunk's RQ job meta (``progress``, ``message``, ``done``, ``total``), throttled."""

    def __init__(self, total: int, callback: Callable[[int, str], None] | None) -> None:
        try:
            from rq import get_current_job
        except ImportError:  # in-process without the jobs extra
            self.job = None
        else:
            self.job = get_current_job()
        self.total = total
        self.callback = callback
        self.last = 0.0

    def __call__(self, done: int, message: str, *, force: bool = False) -> None:
        if self.callback is not None:
            self.callback(done, message)
        now = time.monotonic()
        if self.job is None or (not force and now - self.last < _META_EVERY_S):
            return
        self.last = now
        self.job.meta.update(
            progress=done / self.total if self.total else 1.0,
            message=message,
            done=done,
            total=self.total,
        )
        self.job.save_meta()


# -- the tasks --------------------------------------------------------------------------------


def run_chunk(
    parent_id: str,
    chunk: int,
    base_spec: dict[str, Any],
    trials: list[dict[str, Any]],
    strategy: str | None = None,
    registry: Registry | None = None,
    on_trial: Callable[[int, str], None] | None = None,
) -> dict[str, int]:
    """Run and record the trials of one chunk; returns ``{"trials", "ran", "skipped"}``.

    Trials already finished (an earlier attempt, or the same backtest run before) are
    skipped; nothing runs when the sweep was cancelled.

    Raises
    ------
    JobError
        When one or more trials failed (the others are recorded); the message names them.
    """
    reg = registry if registry is not None else process_registry()
    meta = _Meta(len(trials), on_trial)
    if reg.status(parent_id) == "cancelled":
        meta(0, "sweep cancelled", force=True)
        return {"trials": len(trials), "ran": 0, "skipped": 0}
    set_status(reg, parent_id, "running", only_from=["queued"])
    specs = [RunSpec.from_dict({**base_spec, "params": dict(p)}) for p in trials]
    done = finished_ids(reg, [s.run_id for s in specs])
    todo = [s for s in specs if s.run_id not in done]
    meta(len(done), f"{len(done)} of {len(specs)} trials already recorded", force=True)
    if not todo:
        return {"trials": len(specs), "ran": 0, "skipped": len(done)}
    failures = _run_trials(reg, parent_id, todo, strategy, meta, skipped=len(done))
    if failures == -1:
        return {"trials": len(specs), "ran": 0, "skipped": len(done)}
    if failures:
        first_params, first_error = failures[0]
        raise JobError(
            f"sweep {parent_id} chunk {chunk}: {len(failures)} of {len(specs)} trials "
            f"failed (the others are recorded); first: params {first_params}: "
            f"{first_error.strip().splitlines()[-1]}\n\n{first_error}"
        )
    meta(len(specs), "finished", force=True)
    return {"trials": len(specs), "ran": len(todo), "skipped": len(done)}


def _run_trials(
    reg: Registry,
    parent_id: str,
    todo: list[RunSpec],
    strategy: str | None,
    meta: _Meta,
    *,
    skipped: int,
) -> list[tuple[dict[str, Any], str]] | int:
    """Run ``todo`` on bars loaded once; returns the failures, or -1 when cancelled."""
    from coinbt.api import BacktestPlan, execute

    strat, engine, bars = _prepare(todo[0], strategy)
    failures: list[tuple[dict[str, Any], str]] = []
    checked = time.monotonic()
    for i, spec in enumerate(todo):
        if time.monotonic() - checked > _CANCEL_CHECK_S:
            checked = time.monotonic()
            if reg.status(parent_id) == "cancelled":
                meta(skipped + i, "sweep cancelled", force=True)
                return -1
        try:
            if strat.resolve(spec.params) != dict(spec.params):
                raise ConfigError(
                    f"strategy {spec.strategy!r} resolves the planned parameters {spec.params} "
                    "differently here; install the same coinbt version where the sweep runs",
                    field="params",
                )
            result = execute(BacktestPlan(strat, engine, bars, spec))
            reg.record(result, kind="sweep_trial", parent_run_id=parent_id)
        except Exception:  # one trial's failure must not stop the rest of the chunk
            text = traceback.format_exc()
            last = text.strip().splitlines()[-1]
            log.warning("sweep %s: trial %s failed: %s", parent_id, spec.params, last)
            failures.append((dict(spec.params), text))
        meta(skipped + i + 1, f"trial {skipped + i + 1} of {meta.total}")
    return failures


def _prepare(spec: RunSpec, strategy: str | None) -> tuple[Any, Any, pd.DataFrame]:
    """Strategy, engine settings and bars, checked as :func:`coinbt.api.run_spec` does —
    once per chunk."""
    from coinbt.api import prepare_spec

    plan = prepare_spec(spec, strategy)
    return plan.strategy, plan.engine, plan.bars


def finalize(parent_id: str, definition_sha256: str, registry: Registry | None = None) -> str:
    """Write the sweep's trial table and complete its registry row; returns the run id.

    Does nothing when the sweep is already finished.

    Raises
    ------
    JobError
        When a trial is not recorded (a chunk was cancelled, or its rows were deleted).
    """
    reg = registry if registry is not None else process_registry()
    status = reg.status(parent_id)
    if status == "finished":
        return parent_id
    if status is None:
        raise JobError(f"sweep {parent_id}: no such run in the registry at {reg.url}")
    data = reg.store.get(parent_id, DEFINITION, definition_sha256)
    definition = json.loads(data)
    table = trial_table(reg, definition)
    infos: list[ArtifactInfo] = [
        reg.store.put(parent_id, DEFINITION, data),
        reg.store.put(parent_id, TABLE, table_bytes(table), len(table)),
    ]
    row = parent_row(reg, parent_id, definition, status="finished", tags=None)
    complete_run(reg, row, infos)
    return parent_id


def trial_table(registry: Registry, definition: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trial, in trial order: every strategy parameter, ``symbol``, the headline
    metrics of :attr:`coinbt.sweeps.SweepResult.trials` (NaN where ``stats`` has None) and
    ``run_id`` — read from each trial's recorded ``stats.json``.
    """
    from coinbt.sweeps.table import METRIC_COLUMNS

    specs = trial_specs(definition)
    ids = [s.run_id for s in specs]
    stats = _stats_of(registry, ids)
    missing = [(s.run_id, s.params) for s in specs if s.run_id not in stats]
    if missing:
        shown = ", ".join(f"{r} {p}" for r, p in missing[:5])
        raise JobError(
            f"{len(missing)} of {len(specs)} trials are not recorded ({shown}"
            f"{', …' if len(missing) > 5 else ''}); retry the failed or cancelled chunks "
            "(SweepJob.retry_failed())"
        )
    names = list(definition["param_names"])
    columns: dict[str, Any] = {n: [s.params[n] for s in specs] for n in names}
    columns["symbol"] = [s.symbol for s in specs]
    for key in METRIC_COLUMNS:
        values = [stats[r].get(key) for r in ids]
        if key == "n_trades":
            columns[key] = np.array(values, dtype=np.int64)
        else:
            columns[key] = np.array([np.nan if v is None else v for v in values], np.float64)
    columns["run_id"] = ids
    frame = pd.DataFrame(columns)
    frame.index.name = "trial"
    return frame


# -- callbacks --------------------------------------------------------------------------------


def on_failure(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of chunks and the finalizer (exceptions, timeouts, jobs abandoned by
    a dead worker).

    On the final failure the sweep's row becomes ``failed``, naming the job (the other chunks
    keep running), and one alert goes out — as :func:`coinbt.jobs.tasks.on_failure` does for a
    single run, including its rule that timeouts and configuration or data errors are not
    retried.
    """
    from coinbt.jobs.tasks import _alert, _permanent, error_summary

    if exc_type is not None and _permanent(exc_type) and job.retries_left:
        job.retries_left = 0
    final = not (job.retries_left and job.retries_left > 0)
    text = "".join(traceback.format_exception(exc_type, exc, tb)) if exc_type else repr(exc)
    job.meta["message"] = ("failed: " if final else "retrying after: ") + error_summary(text)
    changed = False
    if final:
        error = (
            f"job {job.id} failed; retry it with SweepJob.retry_failed() or "
            f"`coinbt jobs requeue {job.id}`\n{text}"
        )
        reg = Registry()
        try:
            changed = set_status(
                reg, str(job.args[0]), "failed", error=error, only_from=["queued", "running"]
            )
        finally:
            reg.close()
    log.warning("sweep job %s failed%s: %s", job.id, "" if final else " (will retry)", exc)
    if changed:  # one alert per sweep failure, not one per failed chunk
        _alert(job, text)
    else:
        job.save_meta()


def on_stopped(job: Any, connection: Any) -> None:
    """RQ stopped callback: a stopped chunk means the sweep was cancelled."""
    reg = Registry()
    try:
        set_status(
            reg,
            str(job.args[0]),
            "cancelled",
            error="cancelled on request",
            only_from=["queued", "running", "failed"],
        )
    finally:
        reg.close()


__all__ = [
    "DEFINITION",
    "TABLE",
    "chunk_bounds",
    "chunk_job_id",
    "final_job_id",
    "finalize",
    "finished_ids",
    "on_failure",
    "on_stopped",
    "read_definition",
    "run_chunk",
    "sweep_id",
    "trial_specs",
    "trial_table",
]
