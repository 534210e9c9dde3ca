"""Failing jobs: retries with back-off, the dead-letter list, requeue, one alert, timeouts."""

from __future__ import annotations

import json
import time

from rq.job import Job as RQJob

from coinbt.jobs import config, submit_backtest
from coinbt.storage import Registry

from .conftest import kill_worker, wait_until, worker_events

FAILING = "tests.integration.jobs.slow_strategy:failing"
SLOW = "tests.integration.jobs.slow_strategy:slow"
STUBBORN = "tests.integration.jobs.slow_strategy:stubborn"
END = "2021-06-30"


def _row(run_id: str) -> dict:
    reg = Registry()
    try:
        return reg.runs(where={"run_id": ("=", run_id)}, limit=1).iloc[0].to_dict()
    finally:
        reg.close()


def test_a_raising_job_is_retried_then_failed_listed_requeued_and_alerted_once(
    jobs_env, start_worker, alert_server, cli, tmp_path
):
    marker = tmp_path / "attempts.txt"
    job = submit_backtest(
        FAILING,
        "BTC-USDT",
        "1h",
        end=END,
        params={"marker": str(marker)},
        retries=2,
        retry_intervals=[1, 1],
    )
    worker = start_worker("--heartbeat", "1", "--name", "w-fail")  # its scheduler retries
    wait_until(lambda: job.status().state == "failed", 60, "the job to fail for good")

    # tried 1 + 2 times, a second apart (RQ's scheduler), then failed with its traceback
    assert len(marker.read_text().splitlines()) == 3
    row = _row(job.id)
    assert row["status"] == "failed"
    assert row["error"].startswith("Traceback (most recent call last)")
    assert "RuntimeError: strategy exploded on purpose (window=24)" in row["error"]
    assert "slow_strategy.py" in row["error"]
    events = wait_until(lambda: len(worker_events(worker)) == 3 and worker_events(worker), 10, "3")
    assert [(e["status"], e["attempt"]) for e in events] == [
        ("retrying", 1),
        ("retrying", 2),
        ("failed", 3),
    ]
    assert {e["error"] for e in events} == {
        "RuntimeError: strategy exploded on purpose (window=24)"
    }

    # one alert, for the final failure only, Slack-shaped
    wait_until(lambda: alert_server.received, 10, "the alert")
    time.sleep(1.5)
    [alert] = alert_server.received
    assert alert["job_id"] == job.id
    assert job.id in alert["text"] and "failed" in alert["text"]
    assert "strategy exploded on purpose" in alert["blocks"][1]["text"]["text"]

    # the dead-letter list
    code, out, _ = cli("jobs", "failed", "--json")
    assert code == 0
    [dead] = json.loads(out)
    assert (dead["job_id"], dead["run_id"], dead["attempt"]) == (job.id, job.id, 3)
    assert dead["error"] == "RuntimeError: strategy exploded on purpose (window=24)"
    code, out, _ = cli("jobs", "failed")
    assert code == 0 and job.id[:20] in out and "exploded" in out
    code, out, _ = cli("jobs", "show", job.id)
    assert "state:           failed" in out and "RuntimeError: strategy exploded" in out

    # requeue: back on the queue with its retries, and the registry row queued again
    kill_worker(worker)
    code, out, _ = cli("jobs", "requeue", job.id[:8])
    assert (code, out.strip()) == (0, f"job {job.id} requeued on queue 'default'")
    assert _row(job.id)["status"] == "queued"
    rq_job = RQJob.fetch(job.id, connection=config.connect())
    assert rq_job.get_status().value == "queued" and rq_job.retries_left == 2
    code, out, _ = cli("jobs", "failed", "--json")
    assert json.loads(out) == []
    code, out, err = cli("jobs", "requeue", job.id)
    assert code == 2 and "is queued, not failed" in err


def test_a_job_past_its_timeout_is_stopped_and_failed_without_retries(jobs_env, start_worker):
    job = submit_backtest(
        SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 60.0, "chunks": 60}, timeout=2
    )
    started = time.monotonic()
    worker = start_worker("--burst", "--heartbeat", "1")
    assert worker.wait(timeout=60) == 0
    assert time.monotonic() - started < 30
    row = _row(job.id)
    assert row["status"] == "failed"
    assert "JobTimeoutException" in row["error"]
    assert "job timed out: it ran longer than its timeout of 2 s" in row["error"]
    [event] = worker_events(worker)  # one attempt: a timeout is not retried
    assert (event["status"], event["attempt"]) == ("failed", 1)
    assert event["duration_s"] < 10


def test_a_job_that_ignores_its_timeout_is_killed_from_outside(
    jobs_env, start_worker, alert_server
):
    job = submit_backtest(STUBBORN, "BTC-USDT", "1h", end=END, params={"seconds": 60.0}, timeout=2)
    worker = start_worker("--burst", "--heartbeat", "1", "--kill-grace", "1")
    assert worker.wait(timeout=60) == 0
    row = _row(job.id)
    assert row["status"] == "failed"
    assert "JobTimeoutException: job ran past its timeout of 2 s and did not stop" in row["error"]
    [event] = worker_events(worker)
    assert (event["status"], event["attempt"]) == ("failed", 1)
    assert 3 <= event["duration_s"] < 15
    [alert] = wait_until(lambda: alert_server.received, 10, "the alert")
    assert alert["job_id"] == job.id
