"""Reports as RQ jobs: ``coinbt batch --queue`` through a real worker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from coinbt.reports.batch import run_batch
from coinbt.storage import Registry

from .conftest import worker_events

PLAN = {
    "defaults": {"timeframe": "1h", "end": "2021-06-30", "settings": {"fee_rate": 0.001}},
    "matrix": {
        "strategy": ["volume_long_candle", "volume_zone_breakout"],
        "market": [
            {"symbol": "BTC-USDT", "exchange": "binance"},
            {"symbol": "ETH-USDT", "exchange": "binance"},
        ],
    },
}


@pytest.mark.parametrize("jobs_env", ["sqlite"], indirect=True)
def test_a_batch_of_reports_on_a_worker(
    jobs_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    worker = start_worker("--name", "w-reports")
    outcome, index = run_batch(PLAN, queue="default", reports_dir=tmp_path / "reports",
                               progress=False)  # fmt: skip
    assert list(outcome.values()) == ["finished"] * 4
    ids = re.findall(r'href="([0-9a-f]{16})\.html"', index.read_text())
    assert sorted(set(ids)) == sorted(outcome)
    reg = Registry()
    for run_id in outcome:
        row = reg.run(run_id)
        assert (row["kind"], row["status"]) == ("backtest", "finished")
        assert {"report.ipynb", "report.html", "trades.parquet"} <= set(reg.artifacts(run_id))
        assert (tmp_path / "reports" / f"{run_id}.ipynb").is_file()
    reg.close()
    events = worker_events(worker)
    assert sorted(e["job_id"] for e in events) == sorted(outcome)
    assert {(e["mode"], e["status"]) for e in events} == {("horse", "finished")}

    # the same batch again: every report exists, nothing is enqueued or run again
    again, _ = run_batch(PLAN, queue="default", reports_dir=tmp_path / "reports", progress=False)
    assert again == outcome
    assert len(worker_events(worker)) == 4
