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


@pytest.mark.parametrize("jobs_env", ["sqlite"], indirect=True)
def test_sweep_and_compare_reports_on_one_worker(
    jobs_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    """A sweep report runs its trials inside the report job (``here=True``): with
    ``$COINBT_REDIS_URL`` set it must not enqueue chunks for the only worker, which is busy
    with the report itself."""
    import coinbt
    from coinbt.reports.compare import comparison_id

    worker = start_worker("--name", "w-sweep-report")
    market = {"strategy": "volume_zone_breakout", "symbol": "BTC-USDT", "timeframe": "1h",
              "exchange": "binance", "end": "2021-06-30"}  # fmt: skip
    plan = {"template": "sweep", "defaults": market,
            "runs": [{"grid": {"volume_window": [10, 20]}}]}  # fmt: skip
    outcome, _ = run_batch(plan, queue="default", reports_dir=tmp_path / "reports",
                           progress=False)  # fmt: skip
    [(sweep_id, status)] = outcome.items()
    assert status == "finished"
    reg = Registry()
    row = reg.run(sweep_id)
    assert (row["kind"], row["status"]) == ("sweep", "finished")
    assert {"report.html", "trials.parquet"} <= set(reg.artifacts(sweep_id))
    trials = reg.runs(kind="sweep_trial")
    assert len(trials) == 2 and set(trials["parent_run_id"]) == {sweep_id}
    # one job ran: the report (no chunk jobs were enqueued)
    assert [e["job_id"] for e in worker_events(worker)] == [sweep_id]

    a = coinbt.backtest(market["strategy"], "BTC-USDT", "1h", end="2021-06-30",
                        exchange="binance", params={"volume_window": 10})  # fmt: skip
    b = coinbt.backtest(market["strategy"], "BTC-USDT", "1h", end="2021-06-30",
                        exchange="binance", params={"volume_window": 20})  # fmt: skip
    compare_plan = {"template": "compare", "runs": [{"runs": [a.run_id, b.run_id]}]}
    outcome, _ = run_batch(compare_plan, queue="default", reports_dir=tmp_path / "reports",
                           progress=False)  # fmt: skip
    compare_id = comparison_id([a.run_id, b.run_id])
    assert outcome == {compare_id: "finished"}
    assert reg.run(compare_id)["kind"] == "compare"
    assert "report.html" in reg.artifacts(compare_id)
    reg.close()
