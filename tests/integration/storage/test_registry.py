"""Run registry on SQLite and PostgreSQL: migrations, record/load, queries, integrity, races."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect

import coinbt
from coinbt.errors import ConfigError, StorageError
from coinbt.storage import Registry, current, downgrade, upgrade
from coinbt.storage.migrate import head

TABLES = ("trades", "positions", "equity", "signals")


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(registry_url: str) -> None:
    assert current(registry_url) is None
    upgrade(registry_url)
    assert current(registry_url) == head()
    assert {"runs", "artifacts"} <= _tables(registry_url)
    downgrade(registry_url, "base")
    assert current(registry_url) is None
    assert not {"runs", "artifacts"} & _tables(registry_url)
    upgrade(registry_url)
    assert current(registry_url) == head()
    assert {"runs", "artifacts"} <= _tables(registry_url)


def test_record_then_load_gives_back_what_was_saved(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    result = results[0]
    reg = Registry(registry_url, tmp_path / "artifacts")
    run_id = reg.record(result)
    assert run_id == result.run_id

    # a new Registry (as another process would) reads it back
    loaded = Registry(registry_url, tmp_path / "artifacts").load(run_id)
    assert loaded.spec == result.spec
    assert loaded.run_id == run_id
    assert loaded.stats == result.stats
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.status_counts == result.status_counts
    assert loaded.to_dict() == result.to_dict()
    assert len(result.trades) > 0 and len(result.signals) > 0

    row = reg.runs().iloc[0]
    assert row["run_id"] == run_id
    assert row["strategy"] == "sma_cross" and row["symbol"] == "BTC-USDT"
    assert row["timeframe"] == "1h" and row["exchange"] == "binance"
    assert row["params"] == result.spec.params
    assert row["engine"] == result.spec.engine
    assert row["sharpe"] == pytest.approx(result.stats["sharpe"], rel=1e-12)
    assert row["n_trades"] == result.stats["n_trades"]
    assert row["data_fingerprint"] == result.spec.data_fingerprint
    artifacts = reg.artifacts(run_id)
    assert set(artifacts) == {f"{t}.parquet" for t in TABLES} | {"spec.json", "stats.json"}
    assert artifacts["trades.parquet"]["rows"] == len(result.trades)
    for info in artifacts.values():
        path = tmp_path / "artifacts" / "runs" / run_id / info["name"]
        assert path.stat().st_size == info["bytes"]


def test_every_run_round_trips_with_exact_dtypes_even_empty_tables(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    assert any(len(r.positions) == 0 for r in results)  # empty categoricals are covered
    assert any(len(r.positions) > 0 for r in results)
    for result in results:
        loaded = reg.load(reg.record(result))
        for name in TABLES:
            pd.testing.assert_frame_equal(getattr(loaded, name), getattr(result, name))


def test_recording_the_same_run_twice_is_a_no_op(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    first = reg.record(results[0])
    before = reg.runs()
    assert reg.record(results[0]) == first
    after = reg.runs()
    assert len(after) == 1
    pd.testing.assert_frame_equal(before, after)  # created time untouched


def test_queries_filter_sort_and_page(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    chosen = results[:6]
    for r in chosen:
        reg.record(r, tags=["smoke"])
    sharpes = sorted((r.stats["sharpe"] for r in chosen), reverse=True)
    assert len(reg.runs(strategy="sma_cross", symbol="BTC-USDT", timeframe="1h")) == 6
    assert reg.runs(strategy="nope").empty
    assert len(reg.runs(kind="backtest", status="finished")) == 6
    assert reg.runs(kind="sweep").empty

    ordered = reg.runs(order_by="-sharpe")
    assert list(ordered["sharpe"]) == pytest.approx(sharpes)
    threshold = sharpes[2]
    above = reg.runs(where={"sharpe": (">", threshold)}, order_by="sharpe")
    assert list(above["sharpe"]) == pytest.approx(sorted(sharpes[:2]))
    page = reg.runs(order_by=["-sharpe"], limit=2, offset=2)
    assert list(page["sharpe"]) == pytest.approx(sharpes[2:4])
    trades = reg.runs(where={"n_trades": (">=", 0), "max_drawdown": ("<=", 0)})
    assert len(trades) == 6

    with pytest.raises(ConfigError, match="sharpe"):
        reg.runs(order_by="sharp")
    with pytest.raises(ConfigError, match="operator"):
        reg.runs(where={"sharpe": ("~", 1)})


def test_distinct_values_skip_nulls_and_runs_being_deleted(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    from sqlalchemy import select, update

    from coinbt.storage.models import Run

    reg = Registry(registry_url, tmp_path / "artifacts")
    ids = [reg.record(r) for r in results[:6]]
    names = ["b", "a", "c", "a", "b", "only_deleting"]
    parents = ["p1", None, "p2", None, "p1", "p3"]
    with reg.engine.begin() as conn:
        for run_id, name, parent in zip(ids, names, parents, strict=True):
            conn.execute(
                update(Run).where(Run.run_id == run_id).values(strategy=name, parent_run_id=parent)
            )
        conn.execute(update(Run).where(Run.run_id == ids[-1]).values(status="deleting"))
        rows = conn.execute(select(Run.strategy, Run.parent_run_id, Run.status, Run.n_trades)).all()
    live = [r for r in rows if r.status != "deleting"]
    assert reg.distinct("strategy") == ["a", "b", "c"] == sorted({r.strategy for r in live})
    assert reg.distinct("parent_run_id") == ["p1", "p2"]  # no None, nothing only deleting has
    assert reg.distinct("n_trades") == sorted({r.n_trades for r in live})
    with pytest.raises(ConfigError, match="unknown registry column 'strategy; drop'"):
        reg.distinct("strategy; drop")


def test_corrupt_or_missing_artifact_names_run_and_object(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    run_id = reg.record(results[1])
    trades = tmp_path / "artifacts" / "runs" / run_id / "trades.parquet"
    data = bytearray(trades.read_bytes())
    data[len(data) // 2] ^= 0xFF
    trades.write_bytes(bytes(data))
    with pytest.raises(StorageError, match=rf"run {run_id}: artifact trades\.parquet is corrupt"):
        reg.load(run_id)

    (tmp_path / "artifacts" / "runs" / run_id / "equity.parquet").unlink()
    trades.unlink()
    with pytest.raises(StorageError, match=rf"run {run_id}: artifact \w+\.parquet is missing"):
        reg.load(run_id)

    with pytest.raises(StorageError, match="0000000000000000 is not in the registry"):
        reg.load("0000000000000000")


def _record_all(url: str, root: str, batch: list[coinbt.BacktestResult], barrier, errors) -> None:  # noqa: ANN001
    try:
        reg = Registry(url, root)
        barrier.wait(timeout=120)
        for result in batch:
            reg.record(result)
    except BaseException as exc:  # report to the parent, which fails the test
        errors.put(f"{type(exc).__name__}: {exc}")
        raise


def test_concurrent_recorders_store_each_run_once(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    root = str(tmp_path / "artifacts")
    Registry(registry_url, root).exists("x")  # create and migrate once, like `coinbt db upgrade`
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    errors = ctx.Queue()
    # each process records all 20 runs, in a different order, at the same time
    procs = [
        ctx.Process(
            target=_record_all,
            args=(registry_url, root, results[k:] + results[:k], barrier, errors),
        )
        for k in (0, 5, 10, 15)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, problems
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]

    reg = Registry(registry_url, root)
    stored = reg.runs()
    assert len(stored) == 20
    assert set(stored["run_id"]) == {r.run_id for r in results}
    for r in results[::7]:
        assert len(reg.artifacts(r.run_id)) == 6
        pd.testing.assert_frame_equal(reg.load(r.run_id).trades, r.trades)


def test_defaults_create_a_local_registry_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, results: list[coinbt.BacktestResult]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COINBT_REGISTRY_URL", raising=False)
    monkeypatch.delenv("COINBT_ARTIFACTS_URI", raising=False)
    reg = Registry()
    run_id = reg.record(results[2])
    assert (tmp_path / ".coinbt" / "registry.db").is_file()
    assert (tmp_path / ".coinbt" / "artifacts" / "runs" / run_id / "spec.json").is_file()
    assert current("sqlite:///.coinbt/registry.db") == head()

    monkeypatch.setenv("COINBT_REGISTRY_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "elsewhere"))
    other = Registry()
    assert other.runs().empty
    other.record(results[2])
    assert (tmp_path / "elsewhere" / "runs" / run_id / "trades.parquet").is_file()


def test_store_failing_mid_save_leaves_no_row(
    registry_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    results: list[coinbt.BacktestResult],
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    real_put = reg.store.put
    calls = []

    def failing_put(run_id: str, name: str, data: bytes, rows: int | None = None):  # noqa: ANN202
        calls.append(name)
        if len(calls) == 3:
            raise StorageError(f"run {run_id}: could not write artifact {name}: disk full")
        return real_put(run_id, name, data, rows)

    monkeypatch.setattr(reg.store, "put", failing_put)
    with pytest.raises(StorageError, match="disk full"):
        reg.record(results[3])
    assert reg.runs().empty
    assert not reg.artifacts(results[3].run_id)

    monkeypatch.setattr(reg.store, "put", real_put)
    assert reg.record(results[3]) == results[3].run_id
    pd.testing.assert_frame_equal(reg.load(results[3].run_id).equity, results[3].equity)


def test_loaded_run_plots_with_its_candles_fetched_again(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    reg = Registry(registry_url, tmp_path / "artifacts")
    original = results[4]
    loaded = reg.load(reg.record(original))
    assert loaded.bars[["open", "high", "low", "volume"]].isna().all().all()  # not stored
    fig = loaded.plot()
    pd.testing.assert_frame_equal(loaded.bars, original.bars, check_freq=False)
    candles = fig.data[0]
    assert candles.type == "candlestick" and len(candles.x) > 0
    pd.testing.assert_frame_equal(loaded.trades, original.trades)  # tables untouched


def test_loaded_run_whose_data_changed_plots_without_candles_and_says_why(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    import dataclasses

    from coinbt.errors import DataError
    from coinbt.storage.rebuild import rebuild_result

    reg = Registry(registry_url, tmp_path / "artifacts")
    run_id = reg.record(results[5])
    stored = reg.load(run_id)
    spec = dataclasses.replace(stored.spec, data_fingerprint="0" * 16).to_dict()
    changed = rebuild_result(
        spec,
        stored.stats,
        trades=stored.trades,
        equity=stored.equity,
        signals=stored.signals,
        positions=stored.positions,
    )
    with pytest.raises(DataError, match=r"fingerprint \w+ .* not the run's 0{16}"):
        changed.reload_bars()
    with pytest.warns(UserWarning, match="plotting without candles"):
        fig = changed.plot()
    assert len(fig.data) > 0
