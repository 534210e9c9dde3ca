"""A worker SIGKILLed mid-job, and cancelling queued, running and finished jobs."""

from __future__ import annotations

import json
import time

from rq import Queue
from rq.job import Job as RQJob

from coinbt.jobs import config, submit_backtest
from coinbt.storage import Registry

from .conftest import kill_worker, wait_until, worker_events, worker_log

SLOW = "tests.integration.jobs.slow_strategy:slow"
END = "2021-06-30"
ARTIFACTS = {
    "trades.parquet",
    "equity.parquet",
    "signals.parquet",
    "positions.parquet",
    "spec.json",
    "stats.json",
}


def _running_with_progress(job):
    st = job.status()
    return st.state == "running" and st.progress > 0.1


def test_worker_killed_mid_job_is_retried_by_recover_and_recorded_exactly_once(
    jobs_env, start_worker, cli
):
    job = submit_backtest(
        SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 30.0, "chunks": 60}, retry_intervals=0
    )
    first = start_worker("--heartbeat", "1", "--name", "w-doomed")
    wait_until(lambda: _running_with_progress(job), 30, "the job to be running")

    kill_worker(first)  # SIGKILL the worker and its work horse: no goodbye
    reg = Registry()
    assert reg.status(job.id) == "running"  # nobody told the registry

    # a job whose heartbeat is still fresh is left alone …
    code, out, _ = cli("jobs", "recover", "--stale-after", "4", "--json")
    assert code == 0 and json.loads(out)["abandoned"] == []
    # … once it is stale, RQ's clean-up retries it (retries left) and the row is queued again
    time.sleep(4.5)
    code, out, _ = cli("jobs", "recover", "--stale-after", "4", "--json")
    assert code == 0 and json.loads(out)["abandoned"] == [job.id]
    assert reg.status(job.id) == "queued"
    conn = config.connect()
    assert RQJob.fetch(job.id, connection=conn).get_status().value == "queued"

    second = start_worker("--burst", "--name", "w-heir", env={"SLOW_STRATEGY_NO_SLEEP": "1"})
    assert second.wait(timeout=60) == 0, worker_log(second)

    rows = reg.runs()
    assert list(rows["run_id"]) == [job.id]
    assert rows.iloc[0]["status"] == "finished"
    recorded = reg.artifacts(job.id)
    assert set(recorded) == ARTIFACTS
    for name, info in recorded.items():
        assert reg.store.get(job.id, name, info["sha256"])  # checked against its SHA-256
    assert job.result().run_id == job.id
    [event] = worker_events(second)
    assert (event["status"], event["attempt"], event["worker"]) == ("finished", 2, "w-heir")
    reg.close()


def test_cancel_a_queued_job_removes_it_from_the_queue(jobs_env, cli):
    job = submit_backtest(SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 0.0})
    conn = config.connect()
    assert Queue("default", connection=conn).job_ids == [job.id]

    code, out, _ = cli("jobs", "cancel", job.id[:10])
    assert (code, out.strip()) == (0, f"job {job.id} cancelled (removed from its queue)")
    assert Queue("default", connection=conn).job_ids == []
    assert RQJob.fetch(job.id, connection=conn).get_status().value == "canceled"
    assert job.status().state == "cancelled"
    reg = Registry()
    assert reg.artifacts(job.id) == {}
    reg.close()


def test_cancel_a_running_job_stops_its_work_horse_and_nothing_is_recorded(
    jobs_env, start_worker, cli
):
    job = submit_backtest(SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 4.0, "chunks": 40})
    worker = start_worker("--heartbeat", "1", "--name", "w-cancel")
    wait_until(lambda: _running_with_progress(job), 30, "the job to be running")

    code, out, _ = cli("jobs", "cancel", job.id)
    assert (code, out.strip()) == (0, f"job {job.id} cancelled (stopped)")
    conn = config.connect()
    assert RQJob.fetch(job.id, connection=conn).get_status().value == "stopped"
    [event] = wait_until(lambda: worker_events(worker), 10, "the worker's log line")
    assert (event["status"], event["job_id"]) == ("cancelled", job.id)
    assert event["duration_s"] < 4.0  # stopped, not run to its end

    time.sleep(4.5)  # past the moment the job would have recorded its run
    reg = Registry()
    assert reg.status(job.id) == "cancelled"
    assert reg.artifacts(job.id) == {}
    assert not (reg.store.root / "runs" / job.id / "trades.parquet").exists()
    reg.close()
    assert worker.poll() is None  # the worker itself goes on
    assert "killed horse" in worker_log(worker)


def test_cancel_a_finished_job_says_so_and_changes_nothing(jobs_env, start_worker, cli):
    job = submit_backtest(SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 0.0})
    assert start_worker("--burst").wait(timeout=60) == 0
    reg = Registry()
    before = reg.runs()
    code, out, _ = cli("jobs", "cancel", job.id, "--json")
    assert code == 1
    answer = json.loads(out)
    assert (answer["before"], answer["after"]) == ("finished", "finished")
    assert answer["message"] == f"job {job.id} had already finished; nothing changed"
    assert reg.runs().equals(before)
    assert set(reg.artifacts(job.id)) == ARTIFACTS
    reg.close()
