"""A backtest job's whole life with a real worker process, on both registry backends."""

from __future__ import annotations

import json
import time

import pandas as pd

import coinbt
from coinbt.jobs import submit_backtest
from coinbt.storage import Registry

from .conftest import worker_events

SLOW = "tests.integration.jobs.slow_strategy:slow"
END = "2021-06-30"


def test_submit_run_with_progress_finish_and_equal_the_in_process_backtest(
    jobs_env, start_worker, cli
):
    params = {"seconds": 3.0, "chunks": 15}
    job = submit_backtest(SLOW, "BTC-USDT", "1h", end=END, params=params)
    assert job.status().state == "queued"
    code, out, _ = cli("jobs", "list", "--json")
    assert code == 0
    [listed] = json.loads(out)
    assert (listed["run_id"], listed["state"], listed["queue"]) == (job.id, "queued", "default")

    worker = start_worker("--burst", "--name", "w-life")
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = job.status()
        seen.append(st)
        if st.state in ("finished", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert seen[-1].state == "finished", seen[-1]
    midway = [s for s in seen if s.state == "running" and 0 < s.progress < 1]
    assert midway, f"never saw a running job with partial progress: {set(seen)}"
    assert any(s.message.startswith("signals ") for s in midway)
    assert worker.wait(timeout=60) == 0

    # the worker's result equals the same backtest run here
    result = job.result()
    local = coinbt.backtest(SLOW, "BTC-USDT", "1h", end=END, params=params)
    assert result.run_id == local.run_id == job.id
    assert len(local.equity) > 1500
    pd.testing.assert_frame_equal(result.trades, local.trades)
    pd.testing.assert_frame_equal(result.equity, local.equity)
    assert result.stats == local.stats

    # one registry row, finished, started by the worker
    reg = Registry()
    rows = reg.runs()
    assert list(rows["run_id"]) == [job.id]
    assert rows.iloc[0]["status"] == "finished" and pd.notna(rows.iloc[0]["started"])
    reg.close()

    # exactly one JSON log line for the job, with the fields operators grep for
    [event] = worker_events(worker)
    assert event["job_id"] == job.id
    assert (event["kind"], event["queue"], event["worker"]) == ("backtest", "default", "w-life")
    assert (event["status"], event["attempt"], event["error"]) == ("finished", 1, None)
    assert 2.5 < event["duration_s"] < 60

    # follow it from the command line
    code, out, _ = cli("jobs", "show", job.id[:8])
    assert code == 0
    assert "state:           finished" in out and "worker:          w-life" in out
    assert "attempt:         1 of 3" in out
    code, out, _ = cli("jobs", "watch", job.id)
    assert (code, out.strip()) == (0, f"job {job.id} finished")
    code, out, _ = cli("jobs", "list")
    assert code == 0 and job.id in out and "finished" in out

    # submitting the same backtest again is the same job, and nothing is enqueued
    again = submit_backtest(SLOW, "BTC-USDT", "1h", end=END, params=params)
    assert again.id == job.id and again.status().state == "finished"
