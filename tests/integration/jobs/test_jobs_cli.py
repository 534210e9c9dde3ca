"""``coinbt jobs …`` and ``coinbt worker``: help, outputs, one-line errors, Ctrl-C in watch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from coinbt.jobs import submit_backtest

from .conftest import REPO, wait_until

SLOW = "tests.integration.jobs.slow_strategy:slow"
COMMANDS = ["list", "show", "watch", "cancel", "failed", "requeue", "recover"]


@pytest.mark.parametrize("command", [["jobs"], *(["jobs", c] for c in COMMANDS), ["worker"]])
def test_every_command_has_help(command, cli):
    with pytest.raises(SystemExit) as exit_:
        cli(*command, "--help")
    assert exit_.value.code == 0


def test_help_texts_name_what_matters(capsys):
    from coinbt.cli.main import main

    for args, words in [
        (["jobs", "recover"], ["--mark-failed", "--stale-after", "--grace", "--json"]),
        (["jobs", "requeue"], ["--all", "JOB"]),
        (["jobs", "list"], ["--status", "--since", "--json"]),
        (["worker"], ["--queues", "--burst", "--name", "--heartbeat", "--kill-grace"]),
    ]:
        with pytest.raises(SystemExit):
            main([*args, "--help"])
        out = capsys.readouterr().out
        for word in words:
            assert word in out, (args, word)


def _one_line_error(result, *needles):
    code, out, err = result
    assert code == 2, (out, err)
    assert err.startswith("coinbt: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_mistakes_are_one_line_errors(jobs_env, cli, monkeypatch):
    _one_line_error(cli("jobs", "show", "nope"), "unknown run 'nope'")
    _one_line_error(cli("jobs", "cancel", "nope"), "unknown run 'nope'")
    _one_line_error(cli("jobs", "list", "--limit", "-1"), "--limit")
    _one_line_error(cli("jobs", "recover", "--stale-after", "-5"), "--stale-after")
    monkeypatch.setenv("COINBT_REDIS_URL", "redis://127.0.0.1:1/0")
    _one_line_error(cli("jobs", "failed"), "Redis at redis://127.0.0.1:1/0 is not reachable")
    _one_line_error(
        cli("worker", "--no-warm", "--burst"), "Redis at redis://127.0.0.1:1/0 is not reachable"
    )
    _one_line_error(cli("worker", "--queues", ",", "--burst"), "--queues")
    monkeypatch.delenv("COINBT_REDIS_URL")
    _one_line_error(cli("jobs", "requeue", "--all"), "no Redis configured")
    code, out, _ = cli("jobs", "list")
    assert (code, out.strip()) == (0, "no jobs")  # the registry alone is enough to list
    code, out, _ = cli("jobs", "watch")
    assert (code, out.strip()) == (0, "no pending jobs")


def test_list_shows_live_state_and_json(jobs_env, cli):
    job = submit_backtest(SLOW, "BTC-USDT", "1h", end="2021-06-30", params={"seconds": 0.0})
    code, out, _ = cli("jobs", "list")
    assert code == 0
    header, line = out.strip().splitlines()
    assert header.split()[:4] == ["run_id", "state", "progress", "kind"]
    assert line.split()[:8] == [
        job.id,
        "queued",
        "0%",
        "backtest",
        "slow",
        "BTC-USDT",
        "1h",
        "default",
    ]
    code, out, _ = cli("jobs", "list", "--status", "finished", "--json")
    assert json.loads(out) == []
    code, out, _ = cli("jobs", "show", job.id, "--json")
    shown = json.loads(out)
    assert (shown["state"], shown["rq_status"], shown["attempt"]) == ("queued", "queued", 1)
    assert shown["job_document"]["strategy_ref"] == SLOW
    assert shown["job_document"]["retry_intervals"] == [1]  # from $COINBT_JOB_RETRY_INTERVALS


def test_backtest_queue_runs_a_built_in_on_a_worker_and_show_outlives_redis(
    jobs_env, start_worker, cli
):
    from redis import Redis

    code, out, _ = cli("backtest", "--strategy", "volume_long_candle", "--symbol", "BTC-USDT",
                       "--timeframe", "1h", "--end", "2021-06-30", "--queue", "default", "--json")  # fmt: skip
    assert code == 0
    queued = json.loads(out)
    assert (queued["queue"], queued["state"]) == ("default", "queued")
    code, out, _ = cli("runs", "show", queued["run_id"])  # not recorded yet: the planned spec
    assert code == 0 and "backtest · queued" in out and "(planned)" in out, out
    worker = start_worker("--burst")
    assert worker.wait(timeout=120) == 0
    code, out, _ = cli("jobs", "show", queued["job_id"], "--json")
    assert json.loads(out)["state"] == "finished", out
    code, out, _ = cli("runs", "show", queued["run_id"], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["spec"]["strategy"] == "volume_long_candle"
    assert shown["run"]["status"] == "finished" and shown["stats"]["n_trades"] > 0
    _one_line_error(cli("backtest", "--strategy", "volume_long_candle", "--symbol", "BTC-USDT",
                        "--timeframe", "1h", "--queue", "default", "--report"), "--queue")  # fmt: skip

    Redis.from_url(jobs_env["COINBT_REDIS_URL"]).flushdb()  # Redis forgets; the registry stays
    code, out, _ = cli("jobs", "show", queued["job_id"], "--json")
    shown = json.loads(out)
    assert code == 0 and (shown["state"], shown["rq_status"]) == ("finished", None)


def test_ctrl_c_leaves_watch_cleanly_and_the_job_goes_on(jobs_env):
    job = submit_backtest(SLOW, "BTC-USDT", "1h", end="2021-06-30", params={"seconds": 0.0})
    proc = subprocess.Popen(
        [sys.executable, "-m", "coinbt.cli.main", "jobs", "watch", job.id, "--interval", "0.2"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: job.status().state == "queued" and proc.poll() is None, 5, "watch")
        time.sleep(2.0)  # let it import and draw
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "stopped watching; the jobs go on" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert job.status().state == "queued"
