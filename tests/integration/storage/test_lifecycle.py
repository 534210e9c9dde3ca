"""Run status life cycle in the registry: queued → running → finished / failed / cancelled."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import coinbt
from coinbt.errors import ConfigError, StorageError
from coinbt.storage import Registry
from coinbt.storage.lifecycle import queue_run, set_status


def test_queued_row_is_completed_by_record(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    result = results[0]
    assert queue_run(reg, result.spec, kind="sweep_trial", tags=["t"], parent_run_id="p1") is None
    assert reg.status(result.run_id) == "queued"
    assert reg.run(result.run_id)["status"] == "queued" and reg.run("0" * 16) is None
    row = reg.runs(status="queued").iloc[0]
    assert row["sharpe"] is None or pd.isna(row["sharpe"])
    assert reg.artifacts(result.run_id) == {}
    with pytest.raises(StorageError, match=rf"run {result.run_id} is queued, so it has no results"):
        reg.load(result.run_id)

    # submitting again does not make a second row: the existing status comes back
    assert queue_run(reg, result.spec) == "queued"
    assert set_status(reg, result.run_id, "running", only_from=["queued"])
    assert not set_status(reg, result.run_id, "running", only_from=["queued"])
    started = reg.runs().iloc[0]["started"]
    assert pd.notna(started)

    assert reg.record(result) == result.run_id
    row = reg.runs().iloc[0]
    assert len(reg.runs()) == 1
    assert row["status"] == "finished" and row["error"] is None
    assert row["kind"] == "sweep_trial" and row["tags"] == ["t"] and row["parent_run_id"] == "p1"
    assert row["started"] == started and pd.notna(row["finished"])
    assert row["sharpe"] == pytest.approx(result.stats["sharpe"], rel=1e-12)
    assert len(reg.artifacts(result.run_id)) == 6
    pd.testing.assert_frame_equal(reg.load(result.run_id).trades, result.trades)

    # finished is final: cancel and fail change nothing when limited to pending runs
    assert not set_status(reg, result.run_id, "cancelled", only_from=["queued", "running"])
    assert reg.status(result.run_id) == "finished"
    assert queue_run(reg, result.spec) == "finished"


def test_failed_run_keeps_its_error_and_can_be_completed_by_a_retry(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    result = results[1]
    queue_run(reg, result.spec)
    set_status(reg, result.run_id, "running")
    assert set_status(reg, result.run_id, "failed", error="Traceback …\nValueError: boom")
    row = reg.runs(status="failed").iloc[0]
    assert row["error"].endswith("ValueError: boom") and pd.notna(row["finished"])
    with pytest.raises(StorageError, match="is failed, so it has no results.*jobs show"):
        reg.load(result.run_id)
    reg.record(result)  # the retry succeeds
    assert reg.status(result.run_id) == "finished"
    assert reg.runs().iloc[0]["error"] is None


def test_bad_status_is_a_clear_error(registry_url: str, tmp_path: Path) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    with pytest.raises(ConfigError, match="'finished' is not settable"):
        set_status(reg, "x", "finished")
    with pytest.raises(ConfigError, match="'done' is not settable"):
        set_status(reg, "x", "done")
    assert reg.status("nope") is None
