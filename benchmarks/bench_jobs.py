"""Jobs benchmark: submit and status latency under 50 concurrent clients, and how many small
backtests (1e4 bars) a worker runs per second — one worker, then two.

    .venv/bin/python -m benchmarks.bench_jobs                      # everything (~4-5 min here)
    .venv/bin/python -m benchmarks.bench_jobs --clients 20 --calls 10 --backtests 100

* **Services.** A scratch Redis database (``$COINBT_BENCH_REDIS_URL``, default
  ``redis://127.0.0.1:6379/12``; flushed before and after) and a scratch registry: a fresh
  PostgreSQL schema (``$COINBT_BENCH_POSTGRES_URL``, default the local ``test`` database;
  dropped afterwards), or a SQLite file when PostgreSQL is not reachable (the JSON says
  which).  Artifacts go to a temporary folder.  The work is ``sma_cross`` on the bundled
  Binance BTC-USDT 1h candles, first 10,000 bars (``benchmarks/workload.py``'s 1e4 series,
  which workers load from the bundled catalog); each backtest differs by ``window``,
  ``vol_mult`` or ``fee_rate``, so every run id is new.
* **Latency.** ``--clients`` client *processes* (forked from this one after coinbt is
  imported; each a notebook's kernel would be its own process, and threads would measure this
  benchmark's GIL instead of the service) each open their registry and Redis connections,
  wait at a barrier, then alternate ``coinbt.jobs.submit(spec)`` (spec planned beforehand;
  planning reads local data and is not part of the call) and ``Job.status()`` of one of their
  own jobs, ``--calls`` of each.  Loads: **paced** — an exponential pause of mean
  ``--think-ms`` (1000 ms, then 250 ms) before each call, people at their notebooks — then a
  **closed loop** (no pause: 50 processes on this machine's 2 cores, together with Redis and
  PostgreSQL — a stress test).  No worker runs meanwhile, so status takes its longest path
  (registry row, then the RQ job and its live meta).  p50 and p99 over every call of every
  client.
* **Throughput.** ``--backtests`` jobs are enqueued first, then 1 (then 2) ``coinbt worker
  --burst`` processes drain the queue (RQ's CLI worker if ``coinbt worker`` is not
  installed).  Rate = jobs / (first job started → last job ended, RQ's own timestamps); the
  workers' start-up (imports, warm-up ~1-2 s) is outside that span and reported apart.
  Inside it: RQ's dequeue and bookkeeping, the task (status update, bars loaded — from the
  worker's bars cache after the first job — and fingerprinted, signals, simulation, stats, six
  artifacts written with SHA-256 and fsynced, the registry row), and the worker's per-job log
  line.  These small built-in backtests run inside the worker (``--inline-bars``, the
  default); one more run with ``--inline-bars 0`` forks a work horse per job, for comparison.
* **Where the time goes** (first, on an idle machine). The task's steps timed alone in this
  process, a fork of this process, and cProfile of submit and status.  The sweep path
  (``coinbt.jobs.submit_sweep``, chunks of 50 trials) runs the same number of backtests for
  comparison.  Each phase waits (up to 45 s) for the load average to fall under 1.5.

Targets (issue 5): p99 < 20 ms for submit, < 10 ms for status, >= 20 small backtests per second
per worker.  The predecessor's: 99 % of submit/status/cancel calls under 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results_io import report_header, save_report

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("COINBT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PG_URL = os.environ.get(
    "COINBT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
N_BARS = 10_000
TARGET_SUBMIT_P99_S = 0.020
TARGET_STATUS_P99_S = 0.010
TARGET_PER_WORKER = 20.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "n": int(arr.size),
        "p50_s": float(np.percentile(arr, 50)),
        "p99_s": float(np.percentile(arr, 99)),
        "max_s": float(arr.max()),
        "mean_s": float(arr.mean()),
    }


# -- scratch services -----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_registry(tmp: Path) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema (or a SQLite file when PostgreSQL is not reachable)."""
    from sqlalchemy import create_engine, pool, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3}, poolclass=pool.NullPool)
    schema = f"coinbt_bench_jobs_{uuid.uuid4().hex[:8]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        log(f"PostgreSQL unreachable ({str(exc.orig).splitlines()[0]}); using SQLite")
        yield f"sqlite:///{tmp / 'registry.db'}", "sqlite"
        return
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}", "postgresql"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def flush_redis() -> None:
    import redis

    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    conn.close()


# -- the work ---------------------------------------------------------------------------------------


def base_spec() -> dict[str, Any]:
    """sma_cross on the bundled BTC-USDT 1h candles, first 10,000 bars."""
    import coinbt
    from coinbt.api import plan_backtest

    bars = coinbt.load_bars("BTC-USDT", "1h", exchange="binance")
    start, end = bars.index[0].isoformat(), bars.index[N_BARS - 1].isoformat()
    plan = plan_backtest("sma_cross", "BTC-USDT", "1h", start, end, exchange="binance",
                         params={"window": 20, "vol_mult": 1.5}, fee_rate=0.0005)  # fmt: skip
    assert plan.spec.bars == N_BARS, plan.spec.bars
    return plan.spec.to_dict()


def specs(base: dict[str, Any], first: int, n: int) -> list[Any]:
    """``n`` distinct specs (numbers ``first`` … ``first + n - 1``)."""
    from coinbt.results import RunSpec

    out = []
    for i in range(first, first + n):
        window, rest = 5 + i % 100, i // 100
        vol_mult, fee_step = (0.0, 1.0, 1.5, 2.0)[rest % 4], rest // 4
        engine = {**base["engine"], "fee_rate": 0.0005 + fee_step * 1e-6}
        params = {"window": window, "vol_mult": vol_mult}
        out.append(RunSpec.from_dict({**base, "params": params, "engine": engine}))
    return out


# -- latency ----------------------------------------------------------------------------------------


def _client(idx: int, work: list[Any], calls: int, think_s: float, barrier: Any, out: Any) -> None:
    from coinbt.jobs import submit
    from coinbt.storage import Registry

    reg = Registry()
    rng = random.Random(idx)
    try:
        submit(work[0], registry=reg).status()  # connections opened, outside the timing
        barrier.wait(timeout=120)
        submit_s, status_s, jobs = [], [], []
        for spec in work[1 : calls + 1]:
            if think_s:
                time.sleep(rng.expovariate(1.0 / think_s))
            t0 = time.perf_counter()
            jobs.append(submit(spec, registry=reg))
            submit_s.append(time.perf_counter() - t0)
            if think_s:
                time.sleep(rng.expovariate(1.0 / think_s))
            job = rng.choice(jobs)
            t0 = time.perf_counter()
            job.status()
            status_s.append(time.perf_counter() - t0)
        out.put((idx, submit_s, status_s, None))
    except Exception as exc:  # reported by the driver
        out.put((idx, [], [], repr(exc)))
    finally:
        reg.close()


def latency(base: dict[str, Any], clients: int, calls: int, think_s: float, first: int) -> Any:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    out = ctx.Queue()
    procs = []
    for c in range(clients):
        work = specs(base, first + c * (calls + 1), calls + 1)
        procs.append(ctx.Process(target=_client, args=(c, work, calls, think_s, barrier, out)))
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    t0 = time.perf_counter()
    results = [out.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=60)
    errors = [r[3] for r in results if r[3]]
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed, first: {errors[0]}")
    submit_s = [t for r in results for t in r[1]]
    status_s = [t for r in results for t in r[2]]
    return {
        "clients": clients,
        "calls_per_client": calls,
        "think_ms_mean": think_s * 1e3,
        "wall_s": wall,
        "calls_per_s": (len(submit_s) + len(status_s)) / wall,
        "submit": pct(submit_s),
        "status": pct(status_s),
        "share_under_2s": sum(t < 2.0 for t in submit_s + status_s) / len(submit_s + status_s),
    }


# -- throughput -------------------------------------------------------------------------------------


def worker_command() -> tuple[list[str], str]:
    import importlib.util

    if importlib.util.find_spec("coinbt.cli.worker_cmd") is not None:
        return [sys.executable, "-m", "coinbt.cli.main", "worker", "--burst"], "coinbt worker"
    cmd = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", REDIS_URL, "default"]
    return cmd, "rq worker (coinbt worker not installed)"


def throughput(
    base: dict[str, Any], workers: int, n: int, first: int, tmp: Path, *worker_args: str
) -> Any:
    import redis
    from rq.job import Job as RQJob

    from coinbt.jobs import submit
    from coinbt.jobs.sweep_tasks import finished_ids
    from coinbt.storage import Registry

    flush_redis()
    reg = Registry()
    work = specs(base, first, n)
    t0 = time.perf_counter()
    ids = [submit(spec, registry=reg).id for spec in work]
    submit_s = time.perf_counter() - t0
    cmd, kind = worker_command()
    cmd = [*cmd, *worker_args]
    logs = [tmp / f"worker-{workers}-{'-'.join(worker_args)}-{k}.log" for k in range(workers)]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)},
                         stdout=open(path, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        for path in logs
    ]  # fmt: skip
    for p in procs:
        p.wait(timeout=900)
    wall = time.perf_counter() - t0
    conn = redis.Redis.from_url(REDIS_URL)
    jobs = [j for j in RQJob.fetch_many(ids, connection=conn) if j is not None]
    started = [j.started_at for j in jobs if j.started_at]
    ended = [j.ended_at for j in jobs if j.ended_at]
    span = (max(ended) - min(started)).total_seconds()
    done = len(finished_ids(reg, ids))
    rows = reg.runs(kind="backtest", limit=10 * n)
    rows = rows[rows["run_id"].isin(ids)]
    in_task = (rows["finished"] - rows["started"]).dt.total_seconds()
    reg.close()
    ordered = sorted((j for j in jobs if j.started_at and j.ended_at), key=lambda j: j.started_at)
    horse = [(j.ended_at - j.started_at).total_seconds() for j in ordered]
    gaps = [
        (b.started_at - a.ended_at).total_seconds()
        for a, b in zip(ordered, ordered[1:], strict=False)
    ]
    conn.close()
    durations, modes = [], {}
    for path in logs:
        for line in path.read_text().splitlines():
            if line.startswith('{"event": "job"'):
                event = json.loads(line)
                durations.append(event["duration_s"])
                modes[event.get("mode")] = modes.get(event.get("mode"), 0) + 1
    return {
        "workers": workers,
        "worker": " ".join([kind, *worker_args]),
        "modes": modes,
        "backtests": n,
        "finished_in_registry": done,
        "enqueue_s": submit_s,
        "first_start_to_last_end_s": span,
        "per_s": n / span,
        "per_s_per_worker": n / span / workers,
        "wall_with_worker_startup_s": wall,
        "job_duration_s_median": statistics.median(durations) if durations else None,
        "rq_started_to_ended_s_median": statistics.median(horse),
        "rq_gap_between_jobs_s_median": statistics.median(gaps) if workers == 1 else None,
        "registry_started_to_finished_s_median": float(in_task.median()),
    }


def sweep_throughput(base: dict[str, Any], workers: int, n: int, fee_rate: float, tmp: Path) -> Any:
    """A sweep of ``n`` sma_cross trials (chunks of 50) drained by ``workers`` workers."""
    import redis
    from rq.job import Job as RQJob

    from coinbt.jobs import submit_sweep
    from coinbt.results import RunSpec

    flush_redis()
    spec = RunSpec.from_dict(base)
    windows = list(range(5, 5 + n // 4))
    grid = {"window": windows, "vol_mult": [0.0, 1.0, 1.5, 2.0]}
    sweep = submit_sweep("sma_cross", grid, "BTC-USDT", "1h", spec.start, spec.end,
                         exchange="binance", chunk_size=50, fee_rate=fee_rate)  # fmt: skip
    cmd, kind = worker_command()
    logs = [tmp / f"sweep-worker-{workers}-{k}.log" for k in range(workers)]
    procs = [
        subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)},
                         stdout=open(path, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        for path in logs
    ]  # fmt: skip
    for p in procs:
        p.wait(timeout=900)
    table = sweep.wait(timeout=60, progress=False)
    conn = redis.Redis.from_url(REDIS_URL)
    ids = [*sweep.chunk_ids, f"{sweep.id}-final"]
    jobs = [j for j in RQJob.fetch_many(ids, connection=conn) if j is not None]
    conn.close()
    span = (max(j.ended_at for j in jobs) - min(j.started_at for j in jobs)).total_seconds()
    return {
        "workers": workers,
        "worker": kind,
        "trials": len(table),
        "chunks": len(sweep.chunk_ids),
        "first_start_to_finalizer_end_s": span,
        "trials_per_s": len(table) / span,
        "trials_per_s_per_worker": len(table) / span / workers,
    }


# -- where the time goes ----------------------------------------------------------------------------


def _median_time(call: Any, reps: int) -> float:
    times = []
    for i in range(reps):
        t0 = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def task_breakdown(base: dict[str, Any], first: int) -> dict[str, Any]:
    """The steps of one small-backtest job, timed alone in this process (median of 15)."""
    from coinbt.api import BacktestPlan, execute
    from coinbt.data import bars_fingerprint, load_bars
    from coinbt.data import cache as bars_cache
    from coinbt.engine import EngineSettings
    from coinbt.jobs import tasks
    from coinbt.results import RunSpec
    from coinbt.storage import Registry
    from coinbt.storage.lifecycle import queue_run
    from coinbt.strategies import get_strategy

    reps = 15
    reg = Registry()
    work = specs(base, first, 4 * reps + 2)
    for spec in work:
        queue_run(reg, spec)
    spec0 = RunSpec.from_dict(base)
    bars = load_bars("BTC-USDT", "1h", spec0.data_start, spec0.data_end, "binance")
    plan = BacktestPlan(get_strategy("sma_cross"), EngineSettings.from_dict(base["engine"]),
                        bars, spec0)  # fmt: skip
    result = execute(plan)
    tasks.run_backtest(work[0].to_dict(), None)  # warm-up
    url = os.environ["COINBT_REGISTRY_URL"]

    def open_registry(_: int) -> None:
        r = Registry(url)
        r.status("x")
        r.close()

    def record(i: int) -> None:
        res = execute(BacktestPlan(plan.strategy, plan.engine, bars, work[1 + reps + i]))
        reg.record(res)

    out = {
        "registry_open_s": _median_time(open_registry, reps),
        "load_bars_s": _median_time(
            lambda _: load_bars("BTC-USDT", "1h", spec0.data_start, spec0.data_end, "binance"),
            reps,
        ),
        "load_bars_uncached_s": _median_time(
            lambda _: (
                bars_cache.clear(),
                load_bars("BTC-USDT", "1h", spec0.data_start, spec0.data_end, "binance"),
            ),
            reps,
        ),
        "bars_fingerprint_s": _median_time(lambda _: bars_fingerprint(bars), reps),
        "signals_simulate_stats_s": _median_time(lambda _: execute(plan), reps),
        "artifacts_write_s": _median_time(lambda _: reg.store.save_result(result), reps),
        "execute_and_record_s": _median_time(record, reps),
        "task_own_registry_s": _median_time(
            lambda i: tasks.run_backtest(work[1 + 2 * reps + i].to_dict(), None), reps
        ),
        "task_shared_registry_s": _median_time(
            lambda i: tasks.run_backtest(work[1 + 3 * reps + i].to_dict(), None, registry=reg),
            reps,
        ),
    }
    out["record_row_s"] = (
        out["execute_and_record_s"] - out["signals_simulate_stats_s"] - out["artifacts_write_s"]
    )
    reg.close()

    def fork(_: int) -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    out["fork_and_reap_s"] = _median_time(fork, 20)
    with open("/proc/self/status") as fh:
        rss = next(line for line in fh if line.startswith("VmRSS"))
    out["process_rss_kb_at_fork"] = int(rss.split()[1])
    return out


#: steps of submit and status shown on their own (cumulative time per call, when present)
FOCUS = {
    "new Redis client + PING (config.connect)": ("coinbt/jobs/config.py", "connect"),
    "  of which redis-py driver info (importlib.metadata)": (
        "redis/driver_info.py",
        "resolve_driver_info",
    ),
    "registry row insert (queue_run)": ("coinbt/storage/lifecycle.py", "queue_run"),
    "job document written, fsynced (write_atomic)": ("coinbt/storage/common.py", "write_atomic"),
    "RQ enqueue": ("rq/queue.py", "enqueue"),
    "registry status query": ("coinbt/storage/registry.py", "status"),
    "RQ job fetch (Job.fetch)": ("rq/job.py", "fetch"),
    "RQ status + meta, one round trip (Job._rq_state)": ("coinbt/jobs/api.py", "_rq_state"),
    "new Redis connection (make_connection)": ("redis/connection.py", "make_connection"),
}


def call_profile(base: dict[str, Any], first: int, n: int = 100) -> dict[str, Any]:
    """cProfile of ``n`` submits and ``n`` status calls, one client: per-call time of the
    functions that take the most of it (cumulative)."""
    from coinbt.jobs import submit
    from coinbt.storage import Registry

    reg = Registry()
    work = specs(base, first, n + 1)
    submit(work[0], registry=reg).status()
    out: dict[str, Any] = {}
    jobs: list[Any] = []
    for name, call in (
        ("submit", lambda: jobs.extend(submit(s, registry=reg) for s in work[1:])),
        ("status", lambda: [j.status() for j in jobs]),
    ):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        call()
        prof.disable()
        total = (time.perf_counter() - t0) / n
        stats = pstats.Stats(prof, stream=io.StringIO())
        rows = []
        for (path, line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            short = path.split("site-packages/")[-1].replace(str(REPO) + "/", "")
            if ct / n < 0.1e-3 or "benchmarks/" in short or short.startswith("~"):
                continue
            rows.append((ct / n, f"{short}:{line}({func})"))
        rows.sort(reverse=True)
        focus = {}
        for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            for label, (tail, want) in FOCUS.items():
                if path.endswith(tail) and func == want:
                    focus[label] = focus.get(label, 0.0) + ct / n
        out[name] = {
            "per_call_s_profiled": total,
            "focus_per_call_s": focus,
            "top_cumulative_per_call": [{"s": s, "where": w} for s, w in rows[:14]],
        }
    reg.close()
    return out


# -- driver -----------------------------------------------------------------------------------------


def ms(s: float | None) -> str:
    return "    n/a" if s is None else f"{s * 1e3:7.2f}"


def settle(max_wait_s: float = 45.0) -> float:
    """Wait (up to ``max_wait_s``) for the 1-minute load average to fall under 1.5; return it."""
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] > 1.5 and time.monotonic() < deadline:
        time.sleep(3)
    return os.getloadavg()[0]


def load_label(think_ms: float) -> str:
    return "closed loop (no pause)" if not think_ms else f"paced, mean pause {think_ms:.0f} ms"


def targets(report: dict[str, Any]) -> dict[str, Any]:
    one = report["throughput"][0]
    out: dict[str, Any] = {"latency": {}}
    for label, row in report["latency"].items():
        out["latency"][label] = {
            "submit_p99_s": row["submit"]["p99_s"],
            "submit_p99_under_20ms": row["submit"]["p99_s"] < TARGET_SUBMIT_P99_S,
            "status_p99_s": row["status"]["p99_s"],
            "status_p99_under_10ms": row["status"]["p99_s"] < TARGET_STATUS_P99_S,
            "predecessor_share_under_2s": row["share_under_2s"],
        }
    sweep_rate = report["sweep_throughput"][0]["trials_per_s"]
    out["20_backtests_per_s_per_worker"] = {
        "one_worker": one["per_s"],
        "two_workers_per_worker": report["throughput"][1]["per_s_per_worker"],
        "met": one["per_s"] >= TARGET_PER_WORKER,
        "as_sweep_trials_one_worker": sweep_rate,
        "met_as_sweep": sweep_rate >= TARGET_PER_WORKER,
    }
    return out


def render(report: dict[str, Any], args: argparse.Namespace) -> str:
    yes = {True: "met", False: "NOT met"}
    m = report["machine"]
    lines = [
        f"coinbt jobs benchmark — {report['when']}  (registry: {report['registry']}, "
        f"Redis {REDIS_URL}, {m['cpus']} cores; load at the start of each phase in the JSON)",
        "",
        "one job's steps timed alone in this process, ms (median of 15; 1-min load "
        f"{report['phase_load']['task_breakdown']:.2f})",
    ]
    tb = report["task_breakdown"]
    for label, key in (
        ("registry open (engine, schema check, first query)", "registry_open_s"),
        ("load_bars, a repeated request (bars cache)", "load_bars_s"),
        ("load_bars, cache cleared (read, validate)", "load_bars_uncached_s"),
        ("bars_fingerprint", "bars_fingerprint_s"),
        ("signals + simulate + stats", "signals_simulate_stats_s"),
        ("six artifacts written (Parquet, JSON, SHA-256)", "artifacts_write_s"),
        ("registry row (record minus the above)", "record_row_s"),
        ("whole task, its own Registry (as in a worker)", "task_own_registry_s"),
        ("whole task, registry already open", "task_shared_registry_s"),
        (f"fork + reap of this {tb['process_rss_kb_at_fork'] / 1024:.0f} MiB process", "fork_and_reap_s"),
    ):  # fmt: skip
        lines.append(f"  {label:<52}{ms(tb[key])}")
    for name in ("submit", "status"):
        prof = report["call_profile"][name]
        lines.append(
            f"cProfile, one client, {name}: {prof['per_call_s_profiled'] * 1e3:.2f} ms per call "
            "(profiled); cumulative ms per call of its steps:"
        )
        for label in FOCUS:
            if label in prof["focus_per_call_s"]:
                lines.append(f"  {prof['focus_per_call_s'][label] * 1e3:6.2f}  {label}")
    one, two = report["throughput"]
    sw1, sw2 = report["sweep_throughput"]
    lines += [
        "",
        f"throughput, {args.backtests} sma_cross backtests of {N_BARS:,} bars ({one['worker']}, "
        "burst; first job started -> last job ended)",
        "                               workers   backtests/s   per worker   span s   job median ms",
    ]
    forked = report["throughput_forked"]
    for label, row in (("one job per backtest", one), ("", two), ("  every job forked", forked)):
        lines.append(
            f"  {label:<28} {row['workers']:>7}   {row['per_s']:11.1f}   "
            f"{row['per_s_per_worker']:10.1f}   {row['first_start_to_last_end_s']:6.1f}   "
            f"{ms(row['job_duration_s_median'])}"
        )
    for label, row in (("as one sweep, chunks of 50", sw1), ("", sw2)):
        lines.append(
            f"  {label:<28} {row['workers']:>7}   {row['trials_per_s']:11.1f}   "
            f"{row['trials_per_s_per_worker']:10.1f}   "
            f"{row['first_start_to_finalizer_end_s']:6.1f}"
        )
    for label, row in (("inline (default)", one), ("forked", forked)):
        lines.append(
            f"  one worker, {label}, per job {1e3 / row['per_s']:.1f} ms: job "
            f"{row['rq_started_to_ended_s_median'] * 1e3:.1f} ms (of which the task, running -> "
            f"recorded in the registry: {row['registry_started_to_finished_s_median'] * 1e3:.1f}"
            f" ms), between jobs {row['rq_gap_between_jobs_s_median'] * 1e3:.1f} ms; modes "
            f"{row['modes']}"
        )
    lines += [
        "",
        f"latency, {args.clients} client processes x {args.calls} submits + {args.calls} status "
        "calls each, ms",
        "  load                          submit p50     p99     max   status p50     p99     max"
        "   calls/s",
    ]
    for label, row in report["latency"].items():
        s, t = row["submit"], row["status"]
        lines.append(
            f"  {label:<29} {ms(s['p50_s'])} {ms(s['p99_s'])} {ms(s['max_s'])}  "
            f"{ms(t['p50_s'])} {ms(t['p99_s'])} {ms(t['max_s'])}  {row['calls_per_s']:8.0f}"
        )
    tg = report["targets"]
    lines += ["", "targets"]
    for label, row in tg["latency"].items():
        lines.append(
            f"  {label:<29} submit p99 < 20 ms {yes[row['submit_p99_under_20ms']]:<8} "
            f"status p99 < 10 ms {yes[row['status_p99_under_10ms']]:<8} "
            f"(predecessor's 99 % < 2 s: {row['predecessor_share_under_2s']:.1%})"
        )
    t = tg["20_backtests_per_s_per_worker"]
    lines.append(
        f"  >= 20 small backtests/s per worker: {t['one_worker']:.1f}/s as single jobs "
        f"{yes[t['met']]}; {t['as_sweep_trials_one_worker']:.1f}/s as sweep trials "
        f"{yes[t['met_as_sweep']]}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50, help="concurrent client processes")
    ap.add_argument("--calls", type=int, default=20, help="submits (and status calls) each")
    ap.add_argument(
        "--think-ms",
        default="1000,250",
        help="mean pauses of the paced loads, comma-separated (a closed loop always runs)",
    )
    ap.add_argument("--backtests", type=int, default=300, help="jobs per throughput run")
    ap.add_argument("--json-out", help="also write the JSON here")
    args = ap.parse_args(argv)
    thinks = [float(x) for x in str(args.think_ms).split(",") if x.strip()] + [0.0]

    tmp = Path(tempfile.mkdtemp(prefix="coinbt-bench-jobs-"))
    report: dict[str, Any] = {
        **report_header("jobs"),
        "redis": REDIS_URL,
        "phase_load": {},
    }
    try:
        flush_redis()
        with scratch_registry(tmp) as (url, backend):
            os.environ.update(
                COINBT_REGISTRY_URL=url,
                COINBT_ARTIFACTS_URI=str(tmp / "artifacts"),
                COINBT_REDIS_URL=REDIS_URL,
            )
            os.environ.pop("COINBT_ALERT_WEBHOOK", None)
            report["registry"] = backend
            report["work"] = {"strategy": "sma_cross", "bars": N_BARS, "symbol": "BTC-USDT 1h"}
            base = base_spec()
            from coinbt.storage import Registry

            Registry().close()  # create and migrate the schema once, before any client
            first = 0
            log("where the time goes …")
            report["phase_load"]["task_breakdown"] = settle()
            report["task_breakdown"] = task_breakdown(base, first)
            first += 100
            report["call_profile"] = call_profile(base, first)
            first += 101
            report["throughput"] = []
            for workers in (1, 2):
                log(f"throughput: {args.backtests} backtests, {workers} worker(s) …")
                report["phase_load"][f"throughput_{workers}"] = settle()
                report["throughput"].append(throughput(base, workers, args.backtests, first, tmp))
                first += args.backtests
            log(f"throughput: {args.backtests} backtests, 1 worker, every job forked …")
            report["phase_load"]["throughput_forked"] = settle()
            report["throughput_forked"] = throughput(
                base, 1, args.backtests, first, tmp, "--inline-bars", "0"
            )
            first += args.backtests
            report["sweep_throughput"] = []
            for workers, fee in ((1, 0.0006), (2, 0.0007)):
                log(f"sweep throughput: {args.backtests} trials, {workers} worker(s) …")
                report["phase_load"][f"sweep_{workers}"] = settle()
                report["sweep_throughput"].append(
                    sweep_throughput(base, workers, args.backtests, fee, tmp)
                )
            report["latency"] = {}
            for think in thinks:
                label = load_label(think)
                log(f"latency, {label}: {args.clients} clients x {args.calls} calls …")
                flush_redis()
                report["phase_load"][label] = settle()
                report["latency"][label] = latency(
                    base, args.clients, args.calls, think / 1e3, first
                )
                first += args.clients * (args.calls + 1)
    finally:
        flush_redis()
        shutil.rmtree(tmp, ignore_errors=True)
    report["machine"]["load_avg_1min_end"] = os.getloadavg()[0]
    report["targets"] = targets(report)
    text = render(report, args)
    print(text)

    print(save_report("jobs", report, args.json_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
