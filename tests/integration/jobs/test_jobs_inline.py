"""Small backtests of built-in strategies run inside the worker process (no work horse).

What must hold for them as for forked jobs: the same results, one registry row, failures
recorded with their traceback, heartbeats while they run, and a stop request that never
kills the worker itself.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pandas as pd
import pytest

import coinbt
from coinbt.api import plan_backtest
from coinbt.jobs import submit, submit_backtest
from coinbt.results import RunSpec
from coinbt.storage import Registry

from .conftest import worker_events

END = "2021-06-30"
SLOW = "tests.integration.jobs.slow_strategy:slow"


def test_small_builtin_backtests_run_in_the_worker_and_equal_in_process_runs(
    jobs_env: dict[str, str], start_worker: Any
) -> None:
    windows = (10, 20, 30)
    jobs = [
        submit_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": w})
        for w in windows
    ]
    user = submit_backtest(SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 0.1})
    worker = start_worker("--burst", "--name", "w-inline")
    assert worker.wait(timeout=120) == 0

    events = {e["job_id"]: e for e in worker_events(worker)}
    assert {j.id: events[j.id]["mode"] for j in jobs} == {j.id: "inline" for j in jobs}
    assert events[user.id]["mode"] == "horse"  # a user strategy's cost is unknown: forked
    assert all(e["status"] == "finished" and e["attempt"] == 1 for e in events.values())

    for job, window in zip(jobs, windows, strict=True):
        stored = job.result()
        local = coinbt.backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": window})
        assert stored.run_id == local.run_id == job.id
        pd.testing.assert_frame_equal(stored.trades, local.trades)
        pd.testing.assert_frame_equal(stored.equity, local.equity)
        assert stored.stats == local.stats
    reg = Registry()
    rows = reg.runs()
    assert sorted(rows["run_id"]) == sorted([*(j.id for j in jobs), user.id])
    assert set(rows["status"]) == {"finished"}
    reg.close()


def test_inline_bars_zero_forks_every_job(jobs_env: dict[str, str], start_worker: Any) -> None:
    job = submit_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 12})
    worker = start_worker("--burst", "--inline-bars", "0")
    assert worker.wait(timeout=120) == 0
    [event] = worker_events(worker)
    assert (event["job_id"], event["mode"], event["status"]) == (job.id, "horse", "finished")


def test_a_failing_inline_job_is_recorded_and_the_worker_goes_on(
    jobs_env: dict[str, str], start_worker: Any
) -> None:
    plan = plan_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 15})
    # a spec whose bars no longer match what it was planned on: a DataError, never retried
    broken = RunSpec.from_dict({**plan.spec.to_dict(), "data_fingerprint": "0" * 16})
    bad = submit(broken)
    good = submit(plan)
    worker = start_worker("--burst", "--name", "w-inline-fail")
    assert worker.wait(timeout=120) == 0

    events = {e["job_id"]: e for e in worker_events(worker)}
    assert (events[bad.id]["mode"], events[bad.id]["status"]) == ("inline", "failed")
    assert events[bad.id]["attempt"] == 1 and "DataError" in events[bad.id]["error"]
    assert (events[good.id]["mode"], events[good.id]["status"]) == ("inline", "finished")
    st = bad.status()
    assert st.state == "failed"
    assert "Traceback" in st.error and "DataError" in st.error
    assert good.status().state == "finished"


# -- the worker's side, in this process ------------------------------------------------------


def _sleep_job(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


@pytest.fixture
def inline_worker(redis_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from redis import Redis

    from coinbt.jobs.worker import CoinbtWorker

    monkeypatch.setenv("COINBT_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    conn = Redis.from_url(redis_url)
    worker = CoinbtWorker(["default"], connection=conn, job_monitoring_interval=1, inline_bars=100)
    worker.register_birth()
    yield worker, conn
    worker.register_death()
    conn.close()


def test_an_inline_job_keeps_its_heartbeats_and_none_follows_its_end(
    inline_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq import Queue, Worker

    worker, conn = inline_worker
    beats: list[float] = []
    original = Worker.maintain_heartbeats

    def counting(self: Any, job: Any, execution: Any) -> None:
        beats.append(time.monotonic())
        original(self, job, execution)

    monkeypatch.setattr(Worker, "maintain_heartbeats", counting)
    queue = Queue("default", connection=conn)
    job = queue.enqueue(_sleep_job, 2.6, meta={"bars": 50})
    assert worker.runs_inline(job)
    started = time.monotonic()
    worker.execute_job(job, queue)
    ended = time.monotonic()
    time.sleep(1.5)  # a beat that escaped the end would land now

    assert job.get_status(refresh=True).value == "finished" and job.return_value() == "slept"
    assert len(beats) >= 2, beats  # every second while it ran
    assert all(started < t < ended for t in beats), (started, beats, ended)
    assert job.id not in queue.started_job_registry.get_job_ids()
    assert [t.name for t in threading.enumerate() if t.name.startswith("coinbt-heartbeat")] == []


def test_a_stop_request_for_an_inline_job_never_kills_the_worker(
    inline_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq import Queue
    from rq.command import handle_stop_job_command

    worker, conn = inline_worker
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "killpg", lambda pgid, sig: killed.append((pgid, sig)))
    queue = Queue("default", connection=conn)
    job = queue.enqueue(_sleep_job, 1.0, meta={"bars": 50})
    stopper = threading.Timer(0.3, handle_stop_job_command, (worker, {"job_id": job.id}))
    stopper.start()
    worker.execute_job(job, queue)
    stopper.join()

    assert killed == []  # no signal to any process group (the worker's own included)
    assert job.get_status(refresh=True).value == "finished"
    assert worker._stopped_job_id is None  # a later job of the same id is not "stopped"


def test_jobs_above_the_inline_size_or_without_one_are_forked(inline_worker: Any) -> None:
    from rq import Queue

    worker, conn = inline_worker
    queue = Queue("default", connection=conn)
    assert worker.runs_inline(queue.enqueue(_sleep_job, 0, meta={"bars": 100}))
    assert not worker.runs_inline(queue.enqueue(_sleep_job, 0, meta={"bars": 101}))
    assert not worker.runs_inline(queue.enqueue(_sleep_job, 0))
    worker.inline_bars = 0
    assert not worker.runs_inline(queue.enqueue(_sleep_job, 0, meta={"bars": 1}))


def test_warming_up_a_worker_changes_nothing_in_the_registry(jobs_env: dict[str, str]) -> None:
    from coinbt.jobs.worker import warm_up

    reg = Registry()
    reg.record(coinbt.backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 25}))
    queued = submit_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 26})
    before = reg.runs(order_by="run_id")
    assert warm_up(reg) > 0
    after = reg.runs(order_by="run_id")
    pd.testing.assert_frame_equal(before, after)
    assert reg.status(queued.id) == "queued" and reg.status("~warm-up~") is None
    reg.close()


def test_an_inline_job_past_its_timeout_is_interrupted(inline_worker: Any) -> None:
    from rq import Queue

    worker, conn = inline_worker
    queue = Queue("default", connection=conn)
    job = queue.enqueue(_sleep_job, 30.0, job_timeout=1, meta={"bars": 50})
    started = time.monotonic()
    worker.execute_job(job, queue)
    assert time.monotonic() - started < 10
    assert job.get_status(refresh=True).value == "failed"
    assert "JobTimeoutException" in (job.latest_result().exc_string or "")
