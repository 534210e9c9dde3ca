"""Sweeps on background workers: one parent run, chunked child jobs, one finalizer.

:func:`submit_sweep` plans the sweep here (bars loaded once, every trial's spec known), stores
its definition, creates the parent row (kind ``sweep``, ``queued``) and enqueues one RQ job
per chunk of trials (job id ``<parent>-c<k>``) plus a finalizer (``<parent>-final``) that
depends on all of them.  Workers record each trial (kind ``sweep_trial``,
:mod:`coinbt.jobs.sweep_tasks`); the finalizer writes the trial table and finishes the
parent.  Without ``$COINBT_REDIS_URL`` the chunks run here and a finished
:class:`~coinbt.jobs.SweepJob` comes back.  See ``docs/sweeps.md`` ("Sweeps on workers").
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coinbt.errors import ConfigError, JobError, StorageError
from coinbt.jobs import config, sweep_tasks
from coinbt.jobs.api import recently_queued
from coinbt.jobs.sweep_job import SweepJob, enqueue_chunks
from coinbt.storage import Registry
from coinbt.storage.artifacts import document_bytes
from coinbt.storage.common import sha256_bytes
from coinbt.storage.lifecycle import discard_queued, set_status

DEFAULT_CHUNK_SIZE = 50


def _space_json(space: Mapping[str, Any]) -> dict[str, Any]:
    from coinbt.sweeps.space import Range

    return {
        name: {"lo": v.lo, "hi": v.hi, "num": v.num} if isinstance(v, Range) else list(v)
        for name, v in space.items()
    }


@dataclass(frozen=True)
class SweepRequest:
    """A sweep to run on workers (what :func:`coinbt.jobs.submit` takes): the arguments of
    :func:`submit_sweep`, with ``options`` for its keyword arguments (``exchange``, ``random``,
    ``seed``, ``chunk_size``, engine settings, …)."""

    strategy: Any
    space: Mapping[str, Any]
    symbol: str
    timeframe: str
    start: Any = None
    end: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def submit(self, **kwargs: Any) -> SweepJob:
        """:func:`submit_sweep` with this request (``kwargs``: queue, retries, tags, …)."""
        given = {k: v for k, v in kwargs.items() if v is not None}
        return submit_sweep(self.strategy, self.space, self.symbol, self.timeframe,
                            self.start, self.end, **{**dict(self.options), **given})  # fmt: skip


def submit_sweep(
    strategy: Any,
    grid_or_space: Mapping[str, Any] | None,
    symbol: str,
    timeframe: str,
    start: Any = None,
    end: Any = None,
    *,
    exchange: str | None = None,
    random: int | None = None,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    queue: str = config.DEFAULT_QUEUE,
    retries: int | None = None,
    retry_intervals: Any = None,
    timeout: int | None = None,
    tags: list[str] | None = None,
    registry: Registry | None = None,
    progress: bool = True,
    here: bool = False,
    **settings: Any,
) -> SweepJob:
    """Run a parameter sweep on background workers, in chunks; returns its :class:`SweepJob`.

    Parameters
    ----------
    strategy : str, Strategy or callable
        As in :func:`coinbt.sweep`; workers must be able to import a user strategy
        (``module:function``; not one defined in the notebook itself).
    grid_or_space : mapping
        Parameter name → list of values or :class:`~coinbt.sweeps.Range`, as in
        :func:`coinbt.sweep` (the whole grid, or the space ``random`` samples from).
    symbol, timeframe : str
        Market from the catalog (``BTC-USDT``, ``1h``); one symbol per sweep.
    start, end : str or Timestamp, optional
        Inclusive UTC range, as in :func:`coinbt.load_bars`.
    exchange : str, optional
        Needed when the symbol exists on several exchanges.
    random, seed : int, optional
        Draw ``random`` distinct parameter sets (``numpy.random.default_rng(seed)``)
        instead of the whole grid — the same trials :func:`coinbt.sweep` draws.
    chunk_size : int, default 50
        Trials per job.  A chunk loads the bars once; a retried chunk re-runs only its
        unrecorded trials.
    queue, retries, retry_intervals, timeout
        RQ queue; retries of a failed chunk (default ``$COINBT_JOB_RETRIES`` or 2) and the
        seconds before each (``$COINBT_JOB_RETRY_INTERVALS`` or 5, 30, 120); seconds after
        which a running chunk is stopped (``$COINBT_JOB_TIMEOUT`` or 3600).  As for
        :func:`coinbt.jobs.submit`.
    tags : list of str, optional
        Stored on the sweep's registry row.
    progress : bool, default True
        Show a tqdm bar when the sweep runs in this process (no Redis).
    here : bool, default False
        Run the chunks in this process even when ``$COINBT_REDIS_URL`` is set (a report
        template does, so that a report job never waits for the workers it occupies).
    **settings
        Engine settings for every trial, as in :func:`coinbt.backtest`.

    Returns
    -------
    SweepJob
        Its ``id`` is the sweep's run id, a hash of the definition (strategy and code, every
        trial's parameters, market, data fingerprint, engine settings, coinbt version).
        Submitting the same sweep again returns the same handle: a finished sweep at once,
        a running one as it is, a failed or cancelled one resumed (recorded trials are kept).

    Raises
    ------
    ConfigError, DataError
        As :func:`coinbt.sweep` (checked here, before anything is written).
    JobError
        Redis unreachable, or a strategy workers cannot import; without Redis, when a chunk
        failed (the recorded trials are kept).

    Notes
    -----
    Every trial is a full ``coinbt.backtest`` run recorded in the registry (kind
    ``sweep_trial``, ``parent_run_id`` = the sweep): its run id equals that of
    ``coinbt.backtest`` with the same arguments and of the same trial in ``coinbt.sweep``.
    A trial already recorded (by an earlier attempt or another run) is not run again, so a
    worker killed mid-chunk costs only the trial it was running.

    Examples
    --------
    >>> from coinbt.jobs import submit_sweep                               # doctest: +SKIP
    >>> sw = submit_sweep("sma_cross", {"window": [10, 20, 50]}, "BTC-USDT", "1h",
    ...                   "2023-01-01", "2023-06-30", fee_rate=0.0005)     # doctest: +SKIP
    >>> table = sw.wait()                                                  # doctest: +SKIP
    >>> sw.load(int(table["sharpe"].idxmax()))                             # doctest: +SKIP
    """
    url = None if here else config.redis_url()
    planned = plan_sweep(
        strategy,
        grid_or_space,
        symbol,
        timeframe,
        start,
        end,
        exchange=exchange,
        random=random,
        seed=seed,
        chunk_size=chunk_size,
        importable=url is not None,
        **settings,
    )
    parent_id, definition, strat = planned.id, planned.definition, planned.strategy
    reg = registry if registry is not None else Registry()
    conn = config.connect(url) if url is not None else None  # fail before writing anything
    sweep = SweepJob(
        parent_id, definition, registry=reg, redis_url=url, queue=queue, strategy=strat
    )
    existing = _create_parent(reg, sweep, tags)
    if existing is not None:
        sweep = _resume(sweep, existing, reg, url, queue)
        if existing == "finished" or url is not None:
            return sweep
    if url is None:
        sweep._run_local(progress=progress)
        return sweep
    try:
        data = reg.store.get(parent_id, sweep_tasks.DEFINITION)
        chunks = list(range(len(sweep.bounds)))
        enqueue_chunks(
            conn,
            queue,
            sweep,
            sha256_bytes(data),
            chunks,
            retries=retries,
            retry_intervals=retry_intervals,
            timeout=timeout,
        )
    except Exception as exc:
        discard_queued(reg, parent_id)  # nothing half-way: the row we made goes again
        raise JobError(f"sweep {parent_id}: could not enqueue on {queue!r}: {exc}") from exc
    return sweep


@dataclass(frozen=True)
class SweepPlan:
    """A sweep checked and planned, nothing written: its run ``id``, the ``definition`` stored
    as ``sweep.json`` and the resolved ``strategy``."""

    id: str
    definition: dict[str, Any]
    strategy: Any

    def queue(self, registry: Registry, tags: list[str] | None = None) -> str | None:
        """Create the sweep's ``queued`` row (and store its definition); None when created,
        else the status of the sweep already stored."""
        return _create_parent(registry, SweepJob(self.id, self.definition, registry=registry,
                                                 strategy=self.strategy), tags)  # fmt: skip


def plan_sweep(
    strategy: Any,
    grid_or_space: Mapping[str, Any] | None,
    symbol: str,
    timeframe: str,
    start: Any = None,
    end: Any = None,
    *,
    exchange: str | None = None,
    random: int | None = None,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    importable: bool = False,
    **settings: Any,
) -> SweepPlan:
    """Check and plan a sweep as :func:`submit_sweep` does, without writing or running
    anything; ``importable=True`` requires a strategy workers can import."""
    from coinbt.api import plan_backtest
    from coinbt.jobs.api import _strategy_ref
    from coinbt.strategies import get_strategy
    from coinbt.sweeps.space import check_space, expand_grid, sample_random

    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ConfigError(
            f"chunk_size must be a whole number >= 1, got {chunk_size!r}", field="chunk_size"
        )
    strat = get_strategy(strategy)
    space = check_space(strat, grid_or_space)
    if random is None:
        if seed is not None:
            raise ConfigError("seed only applies to a random search; pass random=N", field="seed")
        trials = expand_grid(strat, space)
    else:
        trials = sample_random(strat, space, random, np.random.default_rng(seed))
    plan = plan_backtest(
        strat, symbol, timeframe, start, end, exchange=exchange, params=trials[0], **settings
    )
    ref = _strategy_ref(plan.spec, strategy) if importable else _local_ref(plan.spec, strategy)
    base = plan.spec.to_dict()
    definition = {
        "format": sweep_tasks.FORMAT,
        "kind": "sweep",
        "base_spec": base,
        "strategy_ref": ref,
        "param_names": list(strat.params),
        "trials": trials,
        "search": "grid" if random is None else "random",
        "space": _space_json(space),
        "seed": seed,
        "chunk_size": int(chunk_size),
    }
    return SweepPlan(sweep_tasks.sweep_id(base, trials), definition, strat)


def _local_ref(spec: Any, strategy: Any) -> str | None:
    """The ``module:function`` of a strategy when there is one (None for a notebook's own
    function: it runs here, from the object)."""
    from coinbt.jobs.api import _strategy_ref

    try:
        return _strategy_ref(spec, strategy)
    except JobError:
        return None


def _create_parent(reg: Registry, sweep: SweepJob, tags: list[str] | None) -> str | None:
    """Create the ``queued`` parent row and store the definition; None when created, else
    the status of the sweep already stored (its definition is left as it is)."""
    row = sweep_tasks.parent_row(reg, sweep.id, sweep.definition, status="queued", tags=tags)
    if reg.insert_run(row, []):
        reg.store.put(sweep.id, sweep_tasks.DEFINITION, document_bytes(sweep.definition))
        return None
    return reg.status(sweep.id) or "queued"


def _resume(sweep: SweepJob, existing: str, reg: Registry, url: str | None, queue: str) -> SweepJob:
    """The same sweep submitted again: keep the stored definition (its chunking) and go on."""
    try:
        stored = sweep_tasks.read_definition(reg, sweep.id)
    except StorageError:  # a submit that died between the row and the definition
        reg.store.put(sweep.id, sweep_tasks.DEFINITION, document_bytes(sweep.definition))
        stored = sweep.definition
    if stored["chunk_size"] != sweep.definition["chunk_size"]:
        warnings.warn(
            f"sweep {sweep.id} exists with chunk_size={stored['chunk_size']}; keeping it",
            stacklevel=3,
        )
    again = SweepJob(
        sweep.id, stored, registry=reg, redis_url=url, queue=queue, strategy=sweep._strategy
    )
    if existing == "finished":
        return again
    if url is None:
        set_status(reg, sweep.id, "queued", only_from=["failed", "cancelled"])
        return again  # the caller runs what is left here
    if existing in ("queued", "running"):
        known = any(j is not None for j in again._jobs().values())
        if known or recently_queued(reg, sweep.id):
            return again  # no duplicates: it is on its way
    again.retry_failed()  # failed, cancelled, or lost by Redis: run what is missing
    return again


__all__ = ["DEFAULT_CHUNK_SIZE", "SweepPlan", "plan_sweep", "submit_sweep"]
