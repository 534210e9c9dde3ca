"""Redis down, and Redis restarted without persistence: the registry brings the work back."""

from __future__ import annotations

import json

import pytest

from coinbt.errors import JobError
from coinbt.jobs import submit_backtest
from coinbt.storage import Registry

from .conftest import worker_events

SLOW = "tests.integration.jobs.slow_strategy:slow"
END = "2021-06-30"


def _submit(window: int):
    return submit_backtest(
        SLOW, "BTC-USDT", "1h", end=END, params={"seconds": 0.0, "window": window}
    )


def test_redis_down_then_restarted_empty_and_recover_requeues_from_the_registry(
    jobs_env, redis_server, start_worker, cli, monkeypatch, tmp_path
):
    monkeypatch.setenv("COINBT_REDIS_URL", redis_server.url)
    reg = Registry()

    # Redis down: submit says where it looked, and writes nothing anywhere
    with pytest.raises(JobError) as err:
        _submit(10)
    assert f"Redis at {redis_server.url} is not reachable" in str(err.value)
    assert reg.runs().empty
    assert not (tmp_path / "artifacts" / "runs").exists()

    # Redis up (empty): submitting works
    redis_server.start()
    first, second = _submit(10), _submit(20)
    assert first.status().state == second.status().state == "queued"

    # Redis restarts without persistence: it forgets both jobs, the registry does not
    redis_server.stop()
    redis_server.start()
    st = first.status()
    assert (st.state, st.message) == ("queued", "queued; not known to Redis (coinbt jobs recover)")

    code, out, _ = cli("jobs", "recover", "--grace", "0", "--mark-failed", "--dry-run", "--json")
    assert code == 0
    report = json.loads(out)
    assert sorted(report["marked_failed"]) == sorted([first.id, second.id])
    assert reg.status(first.id) == "queued"  # a dry run changes nothing
    code, out, _ = cli("jobs", "recover", "--json")  # within the grace period: left alone
    assert json.loads(out)["requeued"] == []

    code, out, _ = cli("jobs", "recover", "--grace", "0")
    assert code == 0
    assert out.startswith("2 job(s) lost by Redis, enqueued again:")
    assert first.id in out and second.id in out
    worker = start_worker("--burst")
    assert worker.wait(timeout=60) == 0
    assert reg.status(first.id) == reg.status(second.id) == "finished"
    assert sorted(e["job_id"] for e in worker_events(worker)) == sorted([first.id, second.id])
    assert first.result().spec.params["window"] == 10
    code, out, _ = cli("jobs", "recover", "--grace", "0")
    assert out.strip() == "nothing to recover: Redis and the registry agree"

    # or, if the work is no longer wanted: mark it failed, with the reason
    third = _submit(30)
    redis_server.stop()
    redis_server.start()
    code, out, _ = cli("jobs", "recover", "--grace", "0", "--mark-failed")
    assert code == 0 and out.startswith(f"1 job(s) lost by Redis, marked failed: {third.id}")
    row = reg.runs(where={"run_id": ("=", third.id)}).iloc[0]
    assert row["status"] == "failed"
    assert "lost: Redis no longer knew its job" in row["error"]
    reg.close()
