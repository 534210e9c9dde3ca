"""Without ``$COINBT_REDIS_URL`` jobs run in the calling process: same API, same registry."""

from __future__ import annotations

import pandas as pd
import pytest

import coinbt
from coinbt.api import plan_backtest
from coinbt.jobs import submit_backtest
from coinbt.storage import Registry
from coinbt.storage.lifecycle import queue_run, set_status

END = "2021-06-30"


@pytest.fixture
def local_env(tmp_path, monkeypatch):
    monkeypatch.delenv("COINBT_REDIS_URL", raising=False)
    monkeypatch.setenv("COINBT_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    return tmp_path


def test_without_redis_submit_runs_here_and_returns_a_finished_job(local_env):
    job = submit_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 30})
    st = job.status()
    assert (st.state, st.progress) == ("finished", 1.0)
    local = coinbt.backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 30})
    result = job.result()
    assert result.run_id == local.run_id
    pd.testing.assert_frame_equal(result.trades, local.trades)
    assert result.stats == local.stats
    assert job.cancel() == "finished"  # nothing to cancel


def test_without_redis_a_failure_is_raised_here_and_kept_on_the_row(local_env):
    with pytest.raises(RuntimeError, match="exploded on purpose"):
        submit_backtest("tests.integration.jobs.slow_strategy:failing", "BTC-USDT", "1h", end=END)
    reg = Registry()
    [row] = reg.runs().to_dict("records")
    assert row["status"] == "failed"
    assert "RuntimeError: strategy exploded on purpose" in row["error"]
    reg.close()


def test_without_redis_a_cancelled_run_submitted_again_runs(local_env):
    plan = plan_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 40})
    reg = Registry()
    assert queue_run(reg, plan.spec) is None
    assert set_status(reg, plan.spec.run_id, "cancelled")
    job = submit_backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 40})
    assert job.id == plan.spec.run_id and job.status().state == "finished"
    assert len(reg.artifacts(job.id)) == 6
    reg.close()
