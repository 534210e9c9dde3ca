"""The data refresh as a periodic RQ job: a real worker runs it against the local stand-in of
an exchange, and the next run is scheduled."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ccxt")

from fake_exchange import FakeExchange, read_candles  # noqa: E402

from coinbt.data.fetch import last_fetch  # noqa: E402


@pytest.mark.services
def test_periodic_refresh_runs_on_a_worker_and_schedules_its_next_run(
    redis_url: str, tmp_path: Path, real_data_dir: Path,
    start_worker: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from redis import Redis
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from coinbt.errors import ConfigError
    from coinbt.jobs.refresh_job import schedule_refresh

    candles = read_candles(real_data_dir / "upbit" / "ETH-KRW_1h.parquet").iloc[:250]
    root = tmp_path / "data"
    with FakeExchange("upbit", {"ETH-KRW": {"1h": candles}}) as fake:
        plan = tmp_path / "refresh.yaml"
        plan.write_text(
            f"root: {root}\nseries:\n  - exchange: upbit\n    symbols: [KRW-ETH]\n"
            f"    timeframes: [1h]\n    since: {candles.index[0].date()}\n"
            f"    api_host: {fake.url}\n"
        )
        monkeypatch.setenv("COINBT_REDIS_URL", redis_url)
        with pytest.raises(ConfigError, match="unknown key"):
            bad = tmp_path / "bad.yaml"
            bad.write_text("serie: []\n")
            schedule_refresh(bad, queue="refresh-test", every="1h")
        job = schedule_refresh(plan, queue="refresh-test", every="1h")
        before = datetime.now(UTC)
        worker = start_worker("--queues", "refresh-test", "--burst",
                              env={"COINBT_REDIS_URL": redis_url})  # fmt: skip
        assert worker.wait(timeout=180) == 0, Path(worker.log_path).read_text()
    conn = Redis.from_url(redis_url)
    job.refresh()
    assert job.get_status() == "finished", Path(worker.log_path).read_text()
    (report,) = job.return_value()
    assert report["error"] is None and report["bars_added"] == len(candles)
    assert last_fetch(root, "upbit", "ETH-KRW", "1h") is not None
    # the worker's own log lines are JSON (not a terminal) and those of the job carry its id
    logged = [json.loads(x) for x in Path(worker.log_path).read_text().splitlines()
              if x.startswith('{"time"')]  # fmt: skip
    assert logged and all({"time", "level", "logger", "message"} <= set(x) for x in logged)
    assert any(x.get("job_id") == job.id and x.get("run_id") == job.id for x in logged)
    scheduled = ScheduledJobRegistry(queue=Queue("refresh-test", connection=conn))
    (next_id,) = scheduled.get_job_ids()
    when = scheduled.get_scheduled_time(next_id)
    assert timedelta(minutes=59) < when - before < timedelta(minutes=61, seconds=180)
    nxt = Queue("refresh-test", connection=conn).fetch_job(next_id)
    assert nxt is not None and nxt.args == (str(plan.resolve()), 3600.0, "refresh-test")
