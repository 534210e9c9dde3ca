"""Eight processes recording 50 runs each at the same moment, on SQLite and PostgreSQL.

Every process computes its own 50 distinct backtests, waits at a barrier, then records them as
fast as it can.  The registry is new, so the processes also race to create its schema (they
queue on the migration lock).  Afterwards the registry must hold exactly the 400 runs, each with all six
artifact rows, and every artifact must be present with the bytes its SHA-256 row promises.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import coinbt
from coinbt.storage import Registry

PROCESSES = 8
RUNS_EACH = 50
ARTIFACTS = {
    "trades.parquet",
    "equity.parquet",
    "signals.parquet",
    "positions.parquet",
    "spec.json",
    "stats.json",
}


def _windows(worker: int) -> list[int]:
    first = 2 + worker * RUNS_EACH
    return list(range(first, first + RUNS_EACH))


def _record_batch(url: str, root: str, worker: int, barrier, out) -> None:  # noqa: ANN001
    try:
        results = [
            coinbt.backtest(
                "sma_cross",
                "BTC-USDT",
                "1h",
                exchange="binance",
                start="2022-01-01",
                end="2022-03-31",
                params={"window": w},
            )
            for w in _windows(worker)
        ]
        reg = Registry(url, root)
        barrier.wait(timeout=300)
        ids = [reg.record(r) for r in results]
        reg.close()
        out.put((worker, ids, None))
    except BaseException as exc:  # the parent reports it and fails the test
        out.put((worker, [], f"{type(exc).__name__}: {exc}"))
        raise


def test_eight_processes_record_fifty_runs_each_exactly_once(
    registry_url: str, tmp_path: Path
) -> None:
    root = str(tmp_path / "artifacts")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_record_batch, args=(registry_url, root, k, barrier, out))
        for k in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    reports = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [e for _, _, e in reports if e]
    assert not errors, errors
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    recorded = [run_id for _, ids, _ in reports for run_id in ids]
    assert len(recorded) == PROCESSES * RUNS_EACH
    assert len(set(recorded)) == PROCESSES * RUNS_EACH  # 400 distinct runs were recorded

    reg = Registry(registry_url, root)
    stored = reg.runs()
    assert len(stored) == PROCESSES * RUNS_EACH
    assert set(stored["run_id"]) == set(recorded)
    assert sorted(stored["params"].map(lambda p: p["window"])) == list(
        range(2, 2 + PROCESSES * RUNS_EACH)
    )
    for run_id in recorded:
        artifacts = reg.artifacts(run_id)
        assert set(artifacts) == ARTIFACTS, run_id
        for name, row in artifacts.items():
            data = reg.store.get(run_id, name, row["sha256"])  # raises unless the bytes match
            assert len(data) == row["bytes"]
    reg.close()
