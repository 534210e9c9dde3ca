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


def test_user_mistakes_in_submitting_are_clear_errors(local_env, monkeypatch):
    from coinbt.errors import ConfigError, JobError
    from coinbt.jobs import config, submit

    monkeypatch.setenv("COINBT_JOB_RETRIES", "two")
    with pytest.raises(ConfigError, match=r"\$COINBT_JOB_RETRIES='two' is not a whole number"):
        config.default_retries()
    monkeypatch.setenv("COINBT_JOB_TIMEOUT", "-5")
    with pytest.raises(ConfigError, match=r"\$COINBT_JOB_TIMEOUT='-5' must be 0 or more"):
        config.default_timeout()
    monkeypatch.delenv("COINBT_JOB_RETRIES")
    monkeypatch.delenv("COINBT_JOB_TIMEOUT")

    with pytest.raises(JobError, match="cannot submit str: pass a RunSpec, a plan"):
        submit("sma_cross")

    def in_the_notebook(bars, window: int = 5):  # noqa: ANN001, ANN202
        return bars["close"] > 0, bars["close"] < 0

    in_the_notebook.__module__ = "__main__"  # as if defined in a notebook cell
    plan = plan_backtest(in_the_notebook, "BTC-USDT", "1h", end=END)
    with pytest.raises(JobError, match="defined in the notebook or script itself; workers"):
        submit(plan, strategy=in_the_notebook)
    assert Registry().runs().empty  # nothing was written

    monkeypatch.setenv("COINBT_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    with pytest.raises(JobError, match=r"Redis at redis://127.0.0.1:1/0 is not reachable"):
        submit_backtest("sma_cross", "BTC-USDT", "1h", end=END)
    assert Registry().runs().empty
