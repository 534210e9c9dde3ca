"""Sweeps fan out to workers: chunk jobs under one parent run, every trial recorded exactly
once — through a failed chunk retried alone and a worker killed mid-sweep (issue 5).

Real Redis, real ``coinbt worker`` processes, the registry on SQLite and PostgreSQL
(``jobs_env``; retry waits of 1 s).
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import coinbt
from coinbt.api import plan_backtest
from coinbt.errors import JobError
from coinbt.jobs import SweepJob, submit_sweep
from coinbt.jobs.sweep_tasks import final_job_id, trial_specs
from coinbt.storage import Registry
from coinbt.sweeps.table import METRIC_COLUMNS

from .conftest import kill_worker

pytestmark = pytest.mark.services

MARKET = ("BTC-USDT", "1h", "2023-01-01", "2023-03-31")
SMA_TEST = "tests.integration.jobs.sweep_strategies:sma_test"
#: summed in a different order by the sweep kernel (docs/sweeps.md)
ROUNDING_ONLY = {"profit_factor"}


@pytest.fixture
def registry(jobs_env: dict[str, str]) -> Iterator[Registry]:
    reg = Registry()
    yield reg
    reg.close()


def drain(proc: subprocess.Popen[Any], timeout: float = 90) -> None:
    assert proc.wait(timeout=timeout) == 0, "the burst worker did not exit cleanly"


def trial_rows(reg: Registry, sweep: SweepJob) -> pd.DataFrame:
    return reg.runs(where={"parent_run_id": ("=", sweep.id)}, limit=100_000)


def assert_every_trial_once(reg: Registry, sweep: SweepJob) -> pd.DataFrame:
    """One finished ``sweep_trial`` row per trial, no other row; artifacts verified on load."""
    rows = trial_rows(reg, sweep)
    assert sorted(rows["run_id"]) == sorted(sweep.trial_ids)
    assert rows["run_id"].is_unique
    assert set(rows["kind"]) == {"sweep_trial"} and set(rows["status"]) == {"finished"}
    for run_id in sweep.trial_ids:
        assert reg.load(run_id).run_id == run_id  # every artifact checked against its SHA-256
    parent = reg.runs(where={"run_id": ("=", sweep.id)}, limit=1).iloc[0]
    assert (parent["kind"], parent["status"]) == ("sweep", "finished")
    assert set(reg.artifacts(sweep.id)) == {"sweep.json", "trials.parquet"}
    return rows


def assert_table_equals_sweep(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(table.columns) == list(expected.columns)
    assert list(table["run_id"]) == list(expected["run_id"])
    for key in METRIC_COLUMNS:
        for trial, (got, want) in enumerate(zip(table[key], expected[key], strict=True)):
            where = f"trial {trial} {key}"
            if pd.isna(want):
                assert pd.isna(got), where
            elif key in ROUNDING_ONLY:
                assert math.isclose(got, want, rel_tol=1e-12), where
            else:
                assert got == want, f"{where}: job {got!r} != sweep {want!r}"
    exact = [c for c in expected.columns if c not in ROUNDING_ONLY]
    pd.testing.assert_frame_equal(table[exact], expected[exact])


def test_sweep_fans_out_to_workers_and_equals_the_in_process_sweep(registry, start_worker):
    grid = {"window": [10, 20, 30, 50, 80, 120], "vol_mult": [0.0, 1.5]}
    sweep = submit_sweep("sma_cross", grid, *MARKET, exchange="binance", chunk_size=4,
                         fee_rate=0.0005, registry=registry)  # fmt: skip
    assert sweep.n_trials == 12 and len(sweep.chunk_ids) == 3
    assert sweep.status().state == "queued"
    # each trial's spec is the base spec with its parameters: exactly what plan_backtest plans
    specs = trial_specs(sweep.definition)
    for i in (0, 5, 11):
        plan = plan_backtest("sma_cross", *MARKET, exchange="binance",
                             params=sweep.definition["trials"][i], fee_rate=0.0005)  # fmt: skip
        assert plan.spec == specs[i]
    assert registry.status(sweep.id) == "queued"
    assert registry.runs(kind="sweep").shape[0] == 1

    worker = start_worker("--burst")
    seen = []
    while worker.poll() is None:
        seen.append(sweep.status().progress)
        time.sleep(0.05)
    drain(worker)
    assert any(0 < p < 1 for p in seen), f"no progress between 0 and 1 observed: {seen}"
    assert seen == sorted(seen), "progress went backwards"

    table = sweep.wait(timeout=10, progress=False)
    expected = coinbt.sweep("sma_cross", grid, symbols=MARKET[0], timeframe=MARKET[1],
                            start=MARKET[2], end=MARKET[3], exchange="binance",
                            fee_rate=0.0005, progress=False).trials  # fmt: skip
    assert_table_equals_sweep(table, expected)
    assert_every_trial_once(registry, sweep)
    best = sweep.sweep_result().best()
    assert best["run_id"] == expected.loc[expected["sharpe"].idxmax(), "run_id"]
    trial = sweep.load(7)
    assert trial.run_id == table.at[7, "run_id"]
    assert trial.stats["final_equity"] == table.at[7, "final_equity"]

    again = submit_sweep("sma_cross", grid, *MARKET, exchange="binance", chunk_size=4,
                         fee_rate=0.0005, registry=registry)  # fmt: skip
    assert again.id == sweep.id and again.status().state == "finished"  # nothing enqueued
    assert SweepJob.from_run_id(sweep.id[:10], registry=registry).result().equals(table)


def test_failed_chunk_is_retried_alone_then_the_sweep_finishes(
    registry, start_worker, cli, tmp_path, monkeypatch
):
    monkeypatch.setenv("COINBT_TEST_FAIL_WINDOWS", "40,70")  # trials of chunks 1 and 2
    monkeypatch.setenv("COINBT_TEST_FAIL_DIR", str(tmp_path))
    grid = {"window": [10, 20, 30, 40, 50, 60, 70, 80, 90]}
    sweep = submit_sweep(SMA_TEST, grid, *MARKET, exchange="binance", chunk_size=3, retries=0,
                         registry=registry)  # fmt: skip
    c0, c1, c2 = sweep.chunk_ids
    final = final_job_id(sweep.id)
    drain(start_worker("--burst"))

    st = sweep.status()
    assert st.state == "failed"
    assert (st.finished_trials, st.total_trials) == (7, 9)  # the rest of chunks 1, 2 recorded
    assert {k: st.chunks[k]["state"] for k in (c0, c1, c2, final)} == {
        c0: "finished", c1: "failed", c2: "failed", final: "deferred"
    }  # fmt: skip
    assert registry.status(sweep.id) == "failed"
    assert "injected failure for window=" in st.error and "coinbt jobs requeue" in st.error
    with pytest.raises(JobError, match="failed"):
        sweep.result()
    before = trial_rows(registry, sweep).set_index("run_id")["finished"]

    # one chunk alone, from the command line: the other failed chunk stays failed
    code, out, err = cli("jobs", "requeue", c1)
    assert code == 0, err
    assert c1 in out
    drain(start_worker("--burst"))
    st = sweep.status()
    assert st.finished_trials == 8 and st.state == "failed"
    assert (st.chunks[c1]["state"], st.chunks[c2]["state"]) == ("finished", "failed")
    assert st.chunks[final]["state"] == "deferred" and registry.status(sweep.id) != "finished"

    # the rest from the notebook
    assert sweep.retry_failed() == [c2, final]
    drain(start_worker("--burst"))
    table = sweep.wait(timeout=10, progress=False)
    rows = assert_every_trial_once(registry, sweep).set_index("run_id")["finished"]
    assert (rows[before.index] == before).all(), "a recorded trial was recorded again"
    assert table["window"].tolist() == grid["window"]
    expected = coinbt.sweep(SMA_TEST, grid, symbols=MARKET[0], timeframe=MARKET[1],
                            start=MARKET[2], end=MARKET[3], exchange="binance",
                            progress=False).trials  # fmt: skip
    assert_table_equals_sweep(table, expected)


def test_worker_killed_mid_sweep_then_every_trial_exactly_once(
    registry, start_worker, cli, monkeypatch
):
    monkeypatch.setenv("COINBT_TEST_TRIAL_SLEEP", "0.2")
    grid = {"window": list(range(10, 170, 10))}
    # default retries (2), 1 s apart in these tests
    sweep = submit_sweep(SMA_TEST, grid, *MARKET, exchange="binance", chunk_size=8,
                         registry=registry)  # fmt: skip
    worker = start_worker()
    deadline = time.monotonic() + 60
    while sweep.status().finished_trials < 3:
        assert time.monotonic() < deadline, "the worker recorded nothing"
        time.sleep(0.05)
    kill_worker(worker)  # the worker, its scheduler and its work horse, mid-chunk
    worker.wait(timeout=10)
    st = sweep.status()
    assert 3 <= st.finished_trials < 8 and st.state == "running"
    assert st.chunks[sweep.chunk_ids[0]]["state"] == "started"  # and nobody will finish it
    before = trial_rows(registry, sweep).set_index("run_id")["finished"]

    # the dead worker's chunk goes back to RQ's retry (a worker's own clean-up does the same
    # once the heartbeat is old enough; --stale-after 0 makes that now)
    code, out, err = cli("jobs", "recover", "--stale-after", "0")
    assert code == 0, err
    assert sweep.chunk_ids[0][:16] in out
    monkeypatch.setenv("COINBT_TEST_TRIAL_SLEEP", "0")
    start_worker()
    table = sweep.wait(timeout=60, progress=False)
    rows = assert_every_trial_once(registry, sweep).set_index("run_id")["finished"]
    assert (rows[before.index] == before).all(), "a recorded trial was recorded again"
    assert table["window"].tolist() == grid["window"]
    assert table["run_id"].tolist() == sweep.trial_ids


def test_cancel_mid_sweep_then_submit_again_resumes(registry, start_worker, monkeypatch):
    monkeypatch.setenv("COINBT_TEST_TRIAL_SLEEP", "0.2")
    grid = {"window": [10, 20, 30, 40, 50, 60, 70, 80]}
    sweep = submit_sweep(SMA_TEST, grid, *MARKET, exchange="binance", chunk_size=4,
                         registry=registry)  # fmt: skip
    start_worker()
    deadline = time.monotonic() + 60
    while sweep.status().finished_trials < 1:
        assert time.monotonic() < deadline, "the worker recorded nothing"
        time.sleep(0.05)
    assert sweep.cancel() == "cancelled"  # chunk 0 is stopped, chunk 1 never starts
    time.sleep(1.5)
    st = sweep.status()
    assert st.state == "cancelled" and st.finished_trials < 4
    assert {c["state"] for c in st.chunks.values()} == {"stopped", "canceled"}
    recorded = st.finished_trials
    time.sleep(1.0)
    assert sweep.status().finished_trials == recorded, "trials recorded after the cancel"
    with pytest.raises(JobError, match="cancelled"):
        sweep.wait(timeout=5, progress=False)

    monkeypatch.setenv("COINBT_TEST_TRIAL_SLEEP", "0")
    again = submit_sweep(SMA_TEST, grid, *MARKET, exchange="binance", chunk_size=4,
                         registry=registry)  # fmt: skip
    assert again.id == sweep.id
    assert len(again.wait(timeout=60, progress=False)) == 8
    assert_every_trial_once(registry, again)


def test_without_redis_the_sweep_runs_here(tmp_path, monkeypatch):
    monkeypatch.delenv("COINBT_REDIS_URL", raising=False)
    reg = Registry(f"sqlite:///{tmp_path / 'reg.db'}", tmp_path / "artifacts")
    grid = {"window": [10, 20, 30]}
    sweep = submit_sweep("sma_cross", grid, *MARKET, exchange="binance", chunk_size=2,
                         registry=reg, progress=False)  # fmt: skip
    assert sweep.status().state == "finished"
    expected = coinbt.sweep("sma_cross", grid, symbols=MARKET[0], timeframe=MARKET[1],
                            start=MARKET[2], end=MARKET[3], exchange="binance",
                            progress=False).trials  # fmt: skip
    assert_table_equals_sweep(sweep.result(), expected)
    assert_every_trial_once(reg, sweep)
    reg.close()
