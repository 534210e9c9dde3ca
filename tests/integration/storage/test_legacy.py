"""``coinbt legacy import | rollback``: the predecessor's results into the registry and back.

Fixtures are written from the documented formats (``legacy_fixtures.py``); every registry test
runs on SQLite and on the real PostgreSQL (``registry_url``), one on S3 (moto server).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

import coinbt
from coinbt.cli.main import main
from coinbt.errors import ConfigError, StorageError
from coinbt.storage import Registry
from coinbt.storage.legacy import LegacyRun, import_legacy, rollback_legacy
from coinbt.storage.legacy_format import (
    LegacyFileError,
    convert_result,
    index_symbols,
    map_symbol,
    map_timeframe,
    parse_time,
)

from . import legacy_fixtures as fx

IMPORTED = [fx.SYNC_MULTI, fx.SYNC_V10, fx.SYNC_UNLISTED, fx.TASK_OK, fx.TASK_FAILED]


def rid(legacy_id: str) -> str:
    """The documented run id rule, computed independently of the importer."""
    return hashlib.sha256(f"coinbt-legacy-v1:{legacy_id}".encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def coinbt_run() -> coinbt.BacktestResult:
    return coinbt.backtest(
        "sma_cross", "BTC-USDT", "1h", exchange="binance", end="2021-06-30", params={"window": 9}
    )


@pytest.fixture
def env(registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """CLI pointed at the test registry (environment); cwd is tmp_path; yields a Registry."""
    monkeypatch.setenv("COINBT_REGISTRY_URL", registry_url)
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    monkeypatch.chdir(tmp_path)
    reg = Registry(registry_url, tmp_path / "artifacts")
    yield reg
    reg.close()


@pytest.fixture
def legacy(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "data"
    return root, fx.write_legacy_root(root)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def import_json(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, "legacy", "import", *args, "--json")
    return code, json.loads(out)


def legacy_ids(reg: Registry) -> set[str]:
    return set(reg.runs(kind="legacy")["run_id"])


def row(reg: Registry, run_id: str) -> dict[str, Any]:
    return reg.runs(where={"run_id": ("=", run_id)}).iloc[0].to_dict()


def one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("coinbt: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


# -- conversion rules, no registry ------------------------------------------------------------------


def test_timestamps_with_an_offset_and_a_z_are_utc() -> None:
    want = pd.Timestamp("2025-02-01 00:01", tz="UTC")
    for text in (
        "2025-02-01T00:01:00+00:00Z",
        "2025-02-01T00:01:00Z",
        "2025-02-01T00:01:00",
        "2025-02-01T09:01:00+09:00",
        "2025-02-01T00:01:00+0000Z",
    ):
        assert parse_time(text, "f.json", "t") == want, text
    with pytest.raises(LegacyFileError, match=r"f\.json: t '2025-13-01' is not a time; expected"):
        parse_time("2025-13-01", "f.json", "t")


def test_upper_case_minute_timeframes_are_minutes() -> None:
    table = {
        "1M": "1m",
        "5M": "5m",
        "1m": "1m",
        "15M": "15m",
        "1H": "1h",
        "60M": "1h",
        "4H": "4h",
        "240M": "4h",
        "1D": "1d",
        "1d": "1d",
        "1W": "1w",
        "1Mo": "1M",
    }
    for token, want in table.items():
        assert map_timeframe(token, "f.json") == (want, []), token
    assert map_timeframe("10M", "f.json") == (
        "10m",
        ["timeframe '10M' has no coinbt token; stored as '10m'"],
    )
    with pytest.raises(LegacyFileError, match=r"f\.json: timeframe '2X' is not one of"):
        map_timeframe("2X", "f.json")


def test_symbols_and_the_index_quirk() -> None:
    assert map_symbol("KRW-BTC", "f", "s") == ("BTC-KRW", [])
    assert map_symbol("BTC_KRW", "f", "s") == ("BTC-KRW", [])
    assert map_symbol("weird", "f", "s") == (
        "WEIRD",
        ["s 'weird' is not BASE-QUOTE; kept as 'WEIRD'"],
    )
    entry = {"symbols": [{"symbol": "BTC_KRW", "signals": []}, "KRW-ETH"]}
    assert index_symbols(entry) == ["BTC_KRW", "KRW-ETH"]


def test_units_are_converted_by_field() -> None:
    conv = convert_result(fx.result_multi(), "r.json", source="results", sha256="0" * 64)
    # signal return_pct is already a fraction; avg_return and max_drawdown are percent points
    assert conv.signals["return"].tolist() == [0.02, 0.03, -0.05, 0.01, 0.02, 0.01, -0.02]
    btc, eth = conv.symbol_table.to_dict("records")
    assert (btc["avg_return"], btc["max_drawdown"], btc["win_rate"]) == (0.006, -0.05, 0.8)
    assert (eth["avg_return"], eth["max_drawdown"], eth["win_rate"]) == (-0.005, -0.02, 0.5)
    s = conv.stats
    assert (s["n_trades"], s["n_open_signals"]) == (7, 0)
    assert s["win_rate"] == pytest.approx(5 / 7)  # pooled over closed signals: 4 + 1 wins
    assert s["avg_trade_return"] == pytest.approx(0.02 / 7)
    assert (s["best_trade_return"], s["worst_trade_return"], s["max_drawdown"]) == (
        0.03,
        -0.05,
        -0.05,  # the worse symbol, sign flipped to coinbt's convention
    )


def test_bad_values_name_file_field_and_expectation() -> None:
    doc = fx.result_multi()
    doc["symbols"][0]["win_rate"] = 80.0
    with pytest.raises(LegacyFileError, match=r"r\.json: symbols\[0\]\.win_rate 80\.0 is outside"):
        convert_result(doc, "r.json", source="results", sha256="")
    doc = fx.result_multi() | {"version": "2.0"}
    with pytest.raises(LegacyFileError, match="version '2.0' is not one this importer reads"):
        convert_result(doc, "r.json", source="results", sha256="")
    doc = fx.result_multi()
    doc["symbols"][1]["signals"][0]["type"] = "hold"
    with pytest.raises(LegacyFileError, match=r"symbols\[1\]\.signals\[0\]\.type 'hold' is not"):
        convert_result(doc, "r.json", source="results", sha256="")


# -- import ----------------------------------------------------------------------------------------


def test_import_converts_every_quirk(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    capsys: pytest.CaptureFixture[str],
    coinbt_run: coinbt.BacktestResult,
    tmp_path: Path,
) -> None:
    root, files = legacy
    env.record(coinbt_run)
    code, report = import_json(capsys, root, "--backup-dir", tmp_path / "bk")
    assert code == 1  # some legacy files failed
    assert {k: report[k] for k in ("total", "imported", "skipped", "failed")} == {
        "total": 8,
        "imported": 5,
        "skipped": 0,
        "failed": 3,
    }
    by_source = {e["source"]: e for e in report["entries"]}
    assert by_source["results/broken.json"]["reason"].startswith("is not valid JSON")
    missing = by_source["results/index.json"]
    assert missing["status"] == "failed" and missing["legacy_run_id"] == fx.SYNC_MISSING
    assert f"results/{fx.SYNC_MISSING}.json is missing" in missing["reason"]
    bad = by_source[f"tasks/{fx.TASK_BAD_MD5}"]
    assert bad["status"] == "failed" and bad["reason"].startswith("result.json: MD5 ")
    assert "does not match" in bad["reason"] and "manifest.json" in bad["reason"]
    assert by_source[f"results/{fx.SYNC_UNLISTED}.json"]["notes"] == [
        "not listed in results/index.json"
    ]
    assert {e["run_id"] for e in report["entries"] if e["status"] == "imported"} == {
        rid(i) for i in IMPORTED
    }
    assert legacy_ids(env) == {rid(i) for i in IMPORTED}
    assert env.exists(coinbt_run.run_id)

    # rows: headline columns only where honestly derivable, the rest NULL
    multi = row(env, rid(fx.SYNC_MULTI))
    assert (multi["kind"], multi["status"], multi["exchange"]) == ("legacy", "finished", "upbit")
    assert (multi["symbol"], multi["symbols"], multi["timeframe"]) == (
        "BTC-KRW",
        ["BTC-KRW", "ETH-KRW"],
        "1d",
    )
    assert (multi["start"], multi["end"], multi["strategy"]) == (
        "2025-01-01",
        "2025-03-31",
        "volume_long_candle",
    )
    assert multi["params"] == {"vol_ma_window": 20, "hold_period_bars": 1}
    assert multi["n_trades"] == 7 and multi["win_rate"] == pytest.approx(5 / 7)
    assert multi["max_drawdown"] == -0.05
    for column in ("total_return", "cagr", "sharpe", "sortino", "profit_factor", "exposure"):
        assert multi[column] is None or math.isnan(multi[column]), column
    assert multi["finished"] == pd.Timestamp("2025-04-01 10:00", tz="UTC")
    assert f"legacy:{fx.SYNC_MULTI}" in multi["tags"] and "legacy" in multi["tags"]
    task = row(env, rid(fx.TASK_OK))
    assert (task["timeframe"], task["symbol"], task["n_trades"]) == ("1m", "SOL-KRW", 2)
    assert (task["win_rate"], task["max_drawdown"]) == (0.5, -0.01)
    assert task["started"] == pd.Timestamp("2025-02-03 00:00:00", tz="UTC")
    assert task["finished"] == pd.Timestamp("2025-02-03 00:00:05", tz="UTC")
    v10 = row(env, rid(fx.SYNC_V10))
    assert (v10["timeframe"], v10["n_trades"], v10["win_rate"], v10["max_drawdown"]) == (
        "5m",
        2,
        0.5,
        0.0,
    )
    assert v10["finished"] == pd.Timestamp("2025-04-01 10:00:01", tz="UTC")  # index timestamp
    empty = row(env, rid(fx.SYNC_UNLISTED))
    assert (empty["timeframe"], empty["n_trades"], empty["symbol"]) == ("1h", 0, "XRP-KRW")
    assert pd.isna(empty["win_rate"]) and pd.isna(empty["max_drawdown"])
    failed = row(env, rid(fx.TASK_FAILED))
    assert (failed["status"], failed["error"]) == ("failed", fx.FAILED_MESSAGE)
    assert (failed["symbol"], failed["timeframe"]) == ("DOGE-KRW", "5m")

    # Registry.load: a LegacyRun, every artifact verified
    run = env.load(rid(fx.SYNC_MULTI))
    assert isinstance(run, LegacyRun) and run.legacy_run_id == fx.SYNC_MULTI
    assert run.document == json.loads(files[f"results/{fx.SYNC_MULTI}.json"])
    assert str(run.signals["time"].dtype) == "datetime64[ns, UTC]"
    assert run.signals["time"].iloc[0] == pd.Timestamp("2025-01-01", tz="UTC")
    assert run.signals["symbol"].tolist() == ["BTC-KRW"] * 5 + ["ETH-KRW"] * 2
    symbols = run.symbols.set_index("symbol")
    assert symbols.loc["ETH-KRW", "avg_return"] == -0.005
    assert symbols.loc["ETH-KRW", "legacy_symbol"] == "KRW-ETH"
    assert symbols["is_active"].tolist() == [True, False]
    assert run.spec["legacy"]["version"] == "1.1.0" and run.spec["legacy"]["index_entry"][
        "symbols"
    ] == ["BTC_KRW", "KRW-ETH"]  # the index's whole dicts reduced to names
    opened = env.load(rid(fx.TASK_OK))
    sig = opened.signals
    assert sig["time"].tolist() == [
        pd.Timestamp(f"2025-02-01 00:0{m}", tz="UTC") for m in (1, 7, 9)
    ]
    assert sig["closed"].tolist() == [True, False, True]
    assert math.isnan(sig["exit_price"].iloc[1]) and math.isnan(sig["return"].iloc[1])
    assert opened.manifest["task_id"] == fx.TASK_OK and opened.stats["n_open_signals"] == 1
    old = env.load(rid(fx.SYNC_V10))
    assert old.symbols["is_active"].tolist() == [True]  # 1.0 files have no is_active
    assert old.spec["legacy"]["version"] == "1.0" and old.spec["timeframe"] == "5m"
    assert math.isnan(env.load(rid(fx.SYNC_UNLISTED)).symbols["win_rate"].iloc[0])
    gone = env.load(rid(fx.TASK_FAILED))
    assert gone.status == "failed" and gone.document is None and len(gone.signals) == 0
    assert env.load(coinbt_run.run_id).stats == coinbt_run.stats

    # runs list / show work on imported runs
    code, out, _ = cli(capsys, "runs", "list", "--kind", "legacy", "--json")
    assert code == 0 and {r["run_id"] for r in json.loads(out)} == legacy_ids(env)
    code, out, _ = cli(capsys, "runs", "show", rid(fx.SYNC_MULTI)[:8])
    assert code == 0 and f"(legacy run {fx.SYNC_MULTI})" in out and "BTC-KRW,ETH-KRW 1d" in out
    code, out, _ = cli(capsys, "runs", "show", rid(fx.TASK_FAILED))
    assert code == 0 and f"error: {fx.FAILED_MESSAGE}" in out

    # the backup: every file read, checksummed, with the runs added
    sidecar = json.loads(Path(report["backup"]).read_text())
    tarball = Path(report["backup"]).with_name(sidecar["tarball"])
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == sidecar["tarball_sha256"]
    assert {f["path"]: f["sha256"] for f in sidecar["files"]} == {
        p: hashlib.sha256(b).hexdigest() for p, b in files.items()
    }
    with tarfile.open(tarball) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == files
    assert sidecar["status"] == "complete"
    assert {r["run_id"] for r in sidecar["added_runs"]} == {rid(i) for i in IMPORTED}


def test_second_import_imports_nothing_and_rollback_removes_exactly_what_was_added(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    capsys: pytest.CaptureFixture[str],
    coinbt_run: coinbt.BacktestResult,
    tmp_path: Path,
) -> None:
    root, _ = legacy
    env.record(coinbt_run)
    code, first = import_json(capsys, root)  # default backup folder, under the cwd
    assert code == 1 and first["imported"] == 5
    assert Path(first["backup"]).parent == tmp_path / ".coinbt" / "legacy-backups"
    backups = sorted((tmp_path / ".coinbt" / "legacy-backups").iterdir())

    code, again = import_json(capsys, root)
    assert code == 1 and (again["imported"], again["skipped"], again["failed"]) == (0, 5, 3)
    assert again["backup"] is None and "no backup was written" in again["notes"][-1]
    assert all(
        "already imported as run" in e["reason"]
        for e in again["entries"]
        if e["status"] == "skipped"
    )
    assert sorted((tmp_path / ".coinbt" / "legacy-backups").iterdir()) == backups
    assert legacy_ids(env) == {rid(i) for i in IMPORTED}

    fx.write_extra(root)  # a file that appeared later: only it is imported
    code, out, _ = cli(capsys, "legacy", "import", root)
    assert code == 1 and "total 9 · imported 1 · skipped 5 · failed 3" in out
    extra = row(env, rid(fx.EXTRA))
    assert extra["timeframe"] == "15m"
    second = next(line.split()[1] for line in out.splitlines() if line.startswith("backup "))

    code, out, _ = cli(capsys, "legacy", "rollback", second)
    assert code == 0 and f"removed 1 run(s): {rid(fx.EXTRA)}" in out
    assert "11 ok, 0 modified, 0 missing" in out
    assert legacy_ids(env) == {rid(i) for i in IMPORTED}  # the first import's runs stay

    code, out, _ = cli(capsys, "legacy", "rollback", first["backup"], "--json")
    report = json.loads(out)
    assert code == 0 and sorted(report["removed"]) == sorted(rid(i) for i in IMPORTED)
    assert legacy_ids(env) == set()
    assert set(env.runs()["run_id"]) == {coinbt_run.run_id}  # the coinbt run is untouched
    assert env.load(coinbt_run.run_id).stats == coinbt_run.stats
    for legacy_id in IMPORTED:
        assert not (tmp_path / "artifacts" / "runs" / rid(legacy_id)).exists()

    code, out, _ = cli(capsys, "legacy", "rollback", first["backup"])
    assert code == 0
    assert "nothing to remove: the 5 run(s) this import added are already gone" in out
    assert out.rstrip().endswith("nothing changed")
    assert set(env.runs()["run_id"]) == {coinbt_run.run_id}


def test_dry_run_writes_nothing(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    root, _ = legacy
    code, out, _ = cli(capsys, "legacy", "import", root, "--dry-run")
    assert code == 1
    assert "total 8 · would import 5 · skipped 0 · failed 3" in out
    assert "dry run: nothing was written" in out
    assert not (tmp_path / ".coinbt").exists() and not (tmp_path / "artifacts").exists()
    assert not (tmp_path / "registry.db").exists()  # SQLite: not even an empty database
    if env.url.startswith("postgresql"):  # the fresh schema got no tables
        from sqlalchemy import create_engine, inspect

        engine = create_engine(env.url)
        try:
            assert not inspect(engine).has_table("runs")
        finally:
            engine.dispose()
    # PATH may also be the tasks/ (or results/) folder itself
    code, report = import_json(capsys, root / "tasks", "--dry-run")
    assert sorted(e["source"] for e in report["entries"]) == sorted(
        f"tasks/{t}" for t in (fx.TASK_OK, fx.TASK_FAILED, fx.TASK_BAD_MD5)
    )
    # after a real import a dry run reports the skips, and still writes nothing
    import_legacy(root, env, backup_dir=tmp_path / "bk")
    before = sorted(p.name for p in (tmp_path / "bk").iterdir())
    code, report = import_json(capsys, root, "--dry-run", "--backup-dir", tmp_path / "bk")
    assert (report["would_import"], report["skipped"], report["dry_run"]) == (0, 5, True)
    assert sorted(p.name for p in (tmp_path / "bk").iterdir()) == before


def test_rollback_detects_modified_originals_and_restores_them(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    root, files = legacy
    report = import_legacy(root, env, backup_dir=tmp_path / "bk")
    edited = root / "results" / f"{fx.SYNC_MULTI}.json"
    edited.write_bytes(files[f"results/{fx.SYNC_MULTI}.json"] + b"\n")
    (root / "tasks" / fx.TASK_OK / "manifest.json").unlink()

    code, out, _ = cli(capsys, "legacy", "rollback", report.backup)
    assert code == 1
    assert "removed 5 run(s)" in out and "8 ok, 1 modified, 1 missing, 0 restored" in out
    assert f"  modified  results/{fx.SYNC_MULTI}.json" in out
    assert f"  missing   tasks/{fx.TASK_OK}/manifest.json" in out
    assert "--restore-originals" in out
    assert legacy_ids(env) == set()

    code, out, _ = cli(capsys, "legacy", "rollback", report.backup, "--restore-originals")
    assert code == 0 and "8 ok, 0 modified, 0 missing, 2 restored" in out
    assert "nothing to remove" in out
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel
    code, out, _ = cli(capsys, "legacy", "rollback", report.backup)
    assert code == 0 and "10 ok" in out and out.rstrip().endswith("nothing changed")
    sidecar = json.loads(Path(report.backup).read_text())
    assert [r["originals"] for r in sidecar["rollbacks"]] == [
        {
            f"results/{fx.SYNC_MULTI}.json": "modified",
            f"tasks/{fx.TASK_OK}/manifest.json": "missing",
        },
        {
            f"results/{fx.SYNC_MULTI}.json": "restored",
            f"tasks/{fx.TASK_OK}/manifest.json": "restored",
        },
        {},
    ]


def test_a_run_that_cannot_be_stored_fails_alone_and_leaves_nothing(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _ = legacy
    victim = rid(fx.SYNC_V10)
    real_put = env.store.put

    def put(run_id: str, name: str, data: bytes, rows: int | None = None) -> Any:
        if run_id == victim and name == "stats.json":
            raise StorageError(f"run {run_id}: could not write artifact {name}: disk full")
        return real_put(run_id, name, data, rows)

    monkeypatch.setattr(env.store, "put", put)
    report = import_legacy(root, env, backup_dir=tmp_path / "bk")
    entry = next(e for e in report.entries if e.run_id == victim)
    assert entry.status == "failed" and "disk full" in entry.reason
    assert report.counts["imported"] == 4 and not env.exists(victim)
    assert not (tmp_path / "artifacts" / "runs" / victim).exists()  # no half-imported run
    sidecar = json.loads(Path(report.backup).read_text())
    assert victim not in {r["run_id"] for r in sidecar["added_runs"]}


def test_interrupted_import_is_rolled_back_by_its_tag(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _ = legacy
    real_insert = env.insert_run
    calls = []

    def insert_run(row: dict[str, Any], artifacts: Any) -> bool:
        calls.append(row["run_id"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # artifacts of the third run are written, its row is not
        return real_insert(row, artifacts)

    monkeypatch.setattr(env, "insert_run", insert_run)
    with pytest.raises(KeyboardInterrupt):
        import_legacy(root, env, backup_dir=tmp_path / "bk")
    monkeypatch.undo()
    sidecar_path = next((tmp_path / "bk").glob("*.json"))
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["status"] == "interrupted" and len(sidecar["added_runs"]) == 2
    assert (tmp_path / "artifacts" / "runs" / calls[2]).is_dir()
    report = rollback_legacy(sidecar_path, env)
    assert sorted(report.removed) == sorted(calls[:2])
    # planned runs without a row: whatever artifacts they left are cleared
    assert set(report.orphans_removed) == set(sidecar["planned_runs"]) - set(calls[:2])
    assert calls[2] in report.orphans_removed
    assert legacy_ids(env) == set()
    assert list((tmp_path / "artifacts" / "runs").iterdir()) == []


def test_user_mistakes_are_one_line_errors(
    env: Registry,
    legacy: tuple[Path, dict[str, bytes]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    root, _ = legacy
    code, _, err = cli(capsys, "legacy", "import", tmp_path / "nope")
    assert code == 2
    one_line_error(err, "legacy path", "does not exist", "expected the predecessor's data root")
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "legacy", "import", tmp_path / "empty")
    assert code == 2
    one_line_error(err, "has no results/ or tasks/ folder")
    code, _, err = cli(capsys, "legacy", "rollback", root / "results" / "index.json")
    assert code == 2
    one_line_error(err, "is not a coinbt legacy backup", "legacy import")
    code, _, err = cli(capsys, "legacy", "rollback", tmp_path / "missing.json")
    assert code == 2
    one_line_error(err, "does not exist")

    report = import_legacy(root, env, backup_dir=tmp_path / "bk")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code, _, err = cli(capsys, "legacy", "rollback", report.backup, "--registry", other)
    assert code == 2
    one_line_error(err, "was imported into registry", "pass --registry")
    tarball = Path(report.backup).with_name(Path(report.backup).stem + ".tar.gz")
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tarball.write_bytes(bytes(data))
    code, _, err = cli(capsys, "legacy", "rollback", tarball)
    assert code == 2
    one_line_error(err, "damaged", "nothing was changed")
    assert legacy_ids(env) == {rid(i) for i in IMPORTED}  # nothing removed
    with pytest.raises(ConfigError):
        rollback_legacy(root / "results" / f"{fx.SYNC_MULTI}.json", env)


def test_import_and_rollback_with_s3_artifacts(
    tmp_path: Path, s3_bucket: str, legacy: tuple[Path, dict[str, bytes]]
) -> None:
    root, files = legacy
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}", f"s3://{s3_bucket}/team")
    try:
        report = import_legacy(root, reg, backup_dir=tmp_path / "bk")
        assert report.counts["imported"] == 5
        client = boto3.client("s3", endpoint_url=os.environ["COINBT_S3_ENDPOINT_URL"])
        run_id = rid(fx.SYNC_MULTI)
        key = f"team/runs/{run_id}/legacy.json"
        body = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert body == files[f"results/{fx.SYNC_MULTI}.json"]  # stored verbatim
        assert reg.load(run_id).stats["n_trades"] == 7
        client.put_object(Bucket=s3_bucket, Key=key, Body=body + b" ")
        with pytest.raises(StorageError, match=r"artifact legacy\.json is corrupt"):
            reg.load(run_id)
        result = rollback_legacy(report.backup, reg)
        assert len(result.removed) == 5 and not result.problems
        listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="team/runs/")
        assert listed.get("KeyCount", 0) == 0
    finally:
        reg.close()


def test_unverifiable_and_changed_files_are_noted(
    tmp_path: Path, legacy: tuple[Path, dict[str, bytes]]
) -> None:
    root, files = legacy
    (root / "tasks" / fx.TASK_OK / "manifest.json").unlink()  # result.json alone: no MD5
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "artifacts")
    try:
        report = import_legacy(root, reg, backup_dir=tmp_path / "bk")
        task = next(e for e in report.entries if e.source == f"tasks/{fx.TASK_OK}")
        assert task.status == "imported"
        assert task.notes == ["no manifest.json: the MD5 of result.json could not be checked"]
        assert reg.load(rid(fx.TASK_OK)).manifest is None
        path = root / "results" / f"{fx.SYNC_V10}.json"
        path.write_bytes(files[f"results/{fx.SYNC_V10}.json"] + b"\n")
        again = import_legacy(root, reg, backup_dir=tmp_path / "bk")
        entry = next(e for e in again.entries if e.run_id == rid(fx.SYNC_V10))
        assert entry.status == "skipped" and entry.notes == [
            "the file differs from the imported copy; to replace it, delete run "
            f"{rid(fx.SYNC_V10)} (coinbt runs delete) and import again"
        ]
    finally:
        reg.close()
