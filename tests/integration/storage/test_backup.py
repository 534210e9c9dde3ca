"""Backup and restore: restore drills on SQLite and PostgreSQL with local and S3 artifacts.

A drill records real runs, backs them up, wipes the registry and the artifacts, restores into
the empty registry and store, and compares every row (all columns), every artifact byte for
byte, and every loaded run with the result that was recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, pool, select, text, update

import coinbt
from coinbt.cli.main import main
from coinbt.errors import ConfigError, StorageError
from coinbt.storage import Registry
from coinbt.storage import backup as backup_mod
from coinbt.storage.backup import (
    create_backup,
    list_backups,
    prune_backups,
    restore_backup,
    verify_backup,
)
from coinbt.storage.backup_files import local_path
from coinbt.storage.models import Artifact, Run

from .conftest import PG_URL

TABLES = ("trades", "positions", "equity", "signals")
TIMES = ("created", "started", "finished")


# -- helpers --------------------------------------------------------------------------------------


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``runs`` and ``artifacts``, all columns, times as UTC-aware datetimes."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            runs = [
                dict(r) for r in conn.execute(select(Run.__table__).order_by(Run.run_id)).mappings()
            ]
            artifacts = [
                dict(r)
                for r in conn.execute(
                    select(Artifact.__table__).order_by(Artifact.run_id, Artifact.name)
                ).mappings()
            ]
    finally:
        engine.dispose()
    for row in runs:
        for column in TIMES:
            value = row[column]
            if value is not None:
                row[column] = (
                    value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
                )
    return {"runs": runs, "artifacts": artifacts}


def _s3() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["COINBT_S3_ENDPOINT_URL"])


def _read_uri(uri: str) -> bytes:
    if uri.startswith("s3://"):
        bucket, _, key = uri[len("s3://") :].partition("/")
        return _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return local_path(uri).read_bytes()


def _contents(snapshot: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], bytes]:
    return {(a["run_id"], a["name"]): _read_uri(a["uri"]) for a in snapshot["artifacts"]}


def _assert_same_result(loaded: coinbt.BacktestResult, result: coinbt.BacktestResult) -> None:
    assert loaded.spec == result.spec
    assert loaded.stats == result.stats
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(result, name))


def _loads(url: str, store: Any, run_ids: list[str]) -> dict[str, coinbt.BacktestResult]:
    reg = Registry(url, store)
    try:
        return {run_id: reg.load(run_id) for run_id in run_ids}
    finally:
        reg.close()


def _assert_loads(
    url: str,
    store: Any,
    results: list[coinbt.BacktestResult],
    before: dict[str, coinbt.BacktestResult] | None = None,
) -> None:
    """Every run loads and equals what was recorded (and, exactly, what loaded before)."""
    loaded = _loads(url, store, [r.run_id for r in results])
    for result in results:
        _assert_same_result(loaded[result.run_id], result)
        if before is not None:
            old = before[result.run_id]
            assert loaded[result.run_id].to_dict() == old.to_dict()
            for name in TABLES:
                pd.testing.assert_frame_equal(
                    getattr(loaded[result.run_id], name), getattr(old, name)
                )


def _schema(url: str) -> str:
    match = re.search(r"search_path%3D(\w+)", url)
    assert match, url
    return match.group(1)


def _wipe(url: str, artifacts: Path | None = None) -> None:
    """Destroy the registry (SQLite file / every object of the PostgreSQL schema) and artifacts."""
    if url.startswith("sqlite"):
        db = Path(url[len("sqlite:///") :])
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            path.unlink(missing_ok=True)
    else:
        schema = _schema(url)
        admin = create_engine(PG_URL, poolclass=pool.NullPool)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    if artifacts is not None:
        shutil.rmtree(artifacts)


def _record(url: str, store: Any, results: list[coinbt.BacktestResult]) -> None:
    reg = Registry(url, store)
    try:
        for result in results:
            reg.record(result, tags=["drill"])
    finally:
        reg.close()


def _without_uris(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        "runs": [{k: v for k, v in r.items() if k != "artifact_uri"} for r in snapshot["runs"]],
        "artifacts": [{k: v for k, v in a.items() if k != "uri"} for a in snapshot["artifacts"]],
    }


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def other_url(
    registry_url: str,
    tmp_path: Path,
    skip_or_fail: Callable[[str], None],
    pg_schema: Callable[..., Any],
) -> Iterator[str]:
    """An empty registry on the *other* backend than ``registry_url``."""
    if not registry_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other' / 'registry.db'}"
        return
    with pg_schema(skip_or_fail) as url:
        yield url


@pytest.fixture
def pg_url(skip_or_fail: Callable[[str], None], pg_schema: Callable[..., Any]) -> Iterator[str]:
    """An empty registry in a fresh PostgreSQL schema."""
    with pg_schema(skip_or_fail) as url:
        yield url


# -- restore drills -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["native", "logical"])
def test_restore_drill_local_artifacts(
    registry_url: str, method: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    artifacts = tmp_path / "artifacts"
    _record(registry_url, artifacts, results)
    before = _snapshot(registry_url)
    blobs = _contents(before)
    assert len(before["runs"]) == 20 and len(blobs) == 120
    loaded = _loads(registry_url, artifacts, [r.run_id for r in results])

    info = create_backup(registry_url, tmp_path / "backups", method=method)
    assert info["method"] == method and info["native_skipped"] is None
    assert (info["runs"], info["artifacts"], info["copied"]) == (20, 120, 120)
    assert verify_backup(info["path"])["ok"]
    manifest = json.loads((Path(info["path"]) / "manifest.json").read_text())
    assert manifest["registry"]["revision"] == info["revision"]
    assert all(e["stored"] == "copy" for e in manifest["artifacts"])

    _wipe(registry_url, artifacts)  # the disaster
    assert not artifacts.exists()

    report = restore_backup(info["path"], registry_url, artifacts, method=method)
    assert report["method"] == method
    assert (report["runs"], report["artifacts"], report["from_backup"]) == (20, 120, 120)
    assert report["loaded"] == 20 and report["unloadable"] == [] and report["missing"] == []

    after = _snapshot(registry_url)
    assert after == before  # every column of every row, URIs included (same location)
    assert _contents(after) == blobs  # byte for byte
    _assert_loads(registry_url, artifacts, results, loaded)


def test_restore_into_the_other_backend(
    registry_url: str, other_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    _record(registry_url, tmp_path / "artifacts", results[:6])
    before = _snapshot(registry_url)
    info = create_backup(registry_url, tmp_path / "backups")
    assert info["method"] == "native"

    with pytest.raises(StorageError, match="native is not possible"):
        restore_backup(info["path"], other_url, tmp_path / "elsewhere", method="native")
    report = restore_backup(info["path"], other_url, tmp_path / "elsewhere")  # auto
    assert report["method"] == "logical" and report["loaded"] == 6

    after = _snapshot(other_url)
    assert _without_uris(after) == _without_uris(before)
    elsewhere = (tmp_path / "elsewhere").resolve().as_uri()
    assert all(a["uri"].startswith(elsewhere + "/runs/") for a in after["artifacts"])
    assert all(r["artifact_uri"] == f"{elsewhere}/runs/{r['run_id']}" for r in after["runs"])
    assert list(_contents(after).values()) == list(_contents(before).values())
    _assert_loads(other_url, tmp_path / "elsewhere", results[:6])


def test_drill_with_versioned_s3_references_versions(
    registry_url: str, s3_bucket: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    client = _s3()
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    live = f"s3://{s3_bucket}/prod"
    runs = results[:6]
    _record(registry_url, live, runs)
    before = _snapshot(registry_url)
    blobs = _contents(before)

    info = create_backup(registry_url, tmp_path / "backups")
    assert (info["artifacts"], info["referenced"], info["copied"]) == (36, 36, 0)
    folder = Path(info["path"])
    assert not (folder / "artifacts").exists()  # nothing copied: versions are referenced
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["artifacts"]:
        assert entry["stored"] == "s3-version" and entry["version_id"]
        assert entry["bucket"] == s3_bucket and entry["key"].startswith("prod/runs/")

    # after the backup: one object overwritten, every object of another run deleted
    first, second = runs[0].run_id, runs[1].run_id
    client.put_object(Bucket=s3_bucket, Key=f"prod/runs/{first}/trades.parquet", Body=b"junk")
    for name in ("trades.parquet", "equity.parquet", "spec.json", "stats.json"):
        client.delete_object(Bucket=s3_bucket, Key=f"prod/runs/{second}/{name}")
    assert verify_backup(folder)["ok"]  # the referenced versions are still there

    _wipe(registry_url)
    target = f"s3://{s3_bucket}/restored"
    report = restore_backup(folder, registry_url, target)
    assert (report["from_s3_versions"], report["from_backup"], report["loaded"]) == (36, 0, 6)
    after = _snapshot(registry_url)
    assert _without_uris(after) == _without_uris(before)
    assert all(a["uri"].startswith(f"{target}/runs/") for a in after["artifacts"])
    restored = _contents(after)
    assert list(restored.values()) == list(blobs.values())  # the backed-up bytes, not "junk"
    _assert_loads(registry_url, target, runs)

    # --copy-s3 copies even from a versioned bucket
    copied = create_backup(registry_url, tmp_path / "backups", copy_s3=True)
    assert (copied["copied"], copied["referenced"]) == (36, 0)

    # a referenced version that disappears is caught by verify
    entry = manifest["artifacts"][0]
    client.delete_object(Bucket=s3_bucket, Key=entry["key"], VersionId=entry["version_id"])
    report = verify_backup(folder)
    assert not report["ok"] and len(report["problems"]) == 1
    assert entry["run_id"] in report["problems"][0] and entry["name"] in report["problems"][0]


def test_drill_with_unversioned_s3_copies_objects(
    registry_url: str, s3_bucket: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    live = f"s3://{s3_bucket}/prod"
    runs = results[:6]
    _record(registry_url, live, runs)
    before = _snapshot(registry_url)
    blobs = _contents(before)

    info = create_backup(registry_url, tmp_path / "backups")
    assert (info["copied"], info["referenced"]) == (36, 0)
    assert verify_backup(info["path"])["ok"]

    client = _s3()  # the disaster: every object and the registry are gone
    for key in [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]:
        client.delete_object(Bucket=s3_bucket, Key=key)
    _wipe(registry_url)

    report = restore_backup(info["path"], registry_url, live)
    assert (report["from_backup"], report["loaded"]) == (36, 6)
    after = _snapshot(registry_url)
    assert after == before  # same bucket and prefix: same URIs
    assert _contents(after) == blobs
    _assert_loads(registry_url, live, runs)


def test_drill_with_legacy_runs(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    """Imported legacy runs (other artifact names, other loader) come back like any run."""
    from coinbt.storage.legacy import import_legacy

    from .legacy_fixtures import write_legacy_root

    artifacts = tmp_path / "artifacts"
    root = tmp_path / "legacy"
    write_legacy_root(root)
    reg = Registry(registry_url, artifacts)
    import_legacy(root, reg, backup_dir=tmp_path / "legacy-backup")
    reg.record(results[0])
    before = _snapshot(registry_url)
    legacy_ids = [r["run_id"] for r in before["runs"] if r["kind"] == "legacy"]
    assert legacy_ids
    loaded = {run_id: reg.load(run_id) for run_id in legacy_ids}
    reg.close()
    blobs = _contents(before)

    info = create_backup(registry_url, tmp_path / "backups")
    _wipe(registry_url, artifacts)
    report = restore_backup(info["path"], registry_url, artifacts)
    assert report["loaded"] == len(before["runs"]) and report["unloadable"] == []
    after = _snapshot(registry_url)
    assert after == before and _contents(after) == blobs
    reg = Registry(registry_url, artifacts)
    try:
        for run_id, old in loaded.items():
            new = reg.load(run_id)
            assert (new.spec, new.stats, new.document, new.manifest) == (
                old.spec, old.stats, old.document, old.manifest
            )  # fmt: skip
            pd.testing.assert_frame_equal(new.signals, old.signals)
            pd.testing.assert_frame_equal(new.symbols, old.symbols)
        _assert_same_result(reg.load(results[0].run_id), results[0])
    finally:
        reg.close()


# -- consistency and damage -----------------------------------------------------------------------


def test_verify_catches_a_corrupted_artifact_and_a_tampered_dump(
    tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _record(url, tmp_path / "artifacts", results[:3])
    folder = Path(create_backup(url, tmp_path / "backups")["path"])
    run_id = results[1].run_id

    trades = folder / "artifacts" / run_id / "trades.parquet"
    trades.write_bytes(trades.read_bytes()[:-10] + b"0123456789")
    report = verify_backup(folder)
    assert not report["ok"] and len(report["problems"]) == 1
    assert f"run {run_id}: artifact trades.parquet is corrupt" in report["problems"][0]
    assert list_backups(tmp_path / "backups")[0]["verified"]["ok"] is False

    # a restore from it stops at the damaged file and leaves the target empty
    target = tmp_path / "target"
    with pytest.raises(StorageError, match="trades.parquet is corrupt"):
        restore_backup(folder, f"sqlite:///{target / 'registry.db'}", target / "artifacts")
    assert not any((target / "artifacts" / "runs").iterdir())
    assert not (target / "registry.db").exists()

    runs = folder / "registry" / "runs.jsonl"
    runs.write_text(runs.read_text().replace('"finished"', '"failed"', 1))
    problems = verify_backup(folder)["problems"]
    assert "registry dump registry/runs.jsonl is damaged: SHA-256 differs" in problems

    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"runs": 3', '"runs": 4'))
    problems = verify_backup(folder)["problems"]
    assert problems == [f"{manifest} was changed or damaged: its SHA-256 does not match "
                        "manifest.json.sha256"]  # fmt: skip


def test_backup_lists_artifacts_from_the_dump_and_skips_runs_being_deleted(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    artifacts = tmp_path / "artifacts"
    _record(registry_url, artifacts, results[:4])
    reg = Registry(registry_url, artifacts)
    with reg.engine.begin() as conn:  # a delete that crashed half-way: hidden, files gone
        conn.execute(update(Run).where(Run.run_id == results[3].run_id).values(status="deleting"))
    reg.close()
    shutil.rmtree(artifacts / "runs" / results[3].run_id)

    info = create_backup(registry_url, tmp_path / "backups", method="native")
    assert (info["runs"], info["artifacts"]) == (3, 18)
    _wipe(registry_url, artifacts)
    report = restore_backup(info["path"], registry_url, artifacts, method="native")
    assert (report["runs"], report["artifacts"], report["loaded"]) == (3, 18, 3)
    assert {r["run_id"] for r in _snapshot(registry_url)["runs"]} == {r.run_id for r in results[:3]}


def test_runs_recorded_during_a_backup_are_wholly_in_it_or_out(
    registry_url: str,
    tmp_path: Path,
    results: list[coinbt.BacktestResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The artifact list comes from the dump, never from a second live query."""
    from coinbt.storage import backup_db

    artifacts = tmp_path / "artifacts"
    _record(registry_url, artifacts, results[:3])
    recorded: list[str] = []

    def record_one() -> None:
        result = results[3 + len(recorded)]
        _record(registry_url, artifacts, [result])
        recorded.append(result.run_id)

    real_stash, real_pg_dump = backup_mod.stash_artifact, backup_db._pg_dump
    stashed: list[int] = []

    def stash(*args: Any, **kwargs: Any) -> Any:
        if not stashed:  # a writer commits a run while artifacts are being copied
            record_one()
        stashed.append(1)
        return real_stash(*args, **kwargs)

    def pg_dump(*args: Any, **kwargs: Any) -> Any:
        record_one()  # ... and, on PostgreSQL, between the row export and pg_dump
        return real_pg_dump(*args, **kwargs)

    monkeypatch.setattr(backup_mod, "stash_artifact", stash)
    monkeypatch.setattr(backup_db, "_pg_dump", pg_dump)
    info = create_backup(registry_url, tmp_path / "backups", method="native")
    monkeypatch.undo()
    assert info["method"] == "native" and (info["runs"], info["artifacts"]) == (3, 18)
    assert len(recorded) == (2 if registry_url.startswith("postgresql") else 1)
    assert len(_snapshot(registry_url)["runs"]) == 3 + len(recorded)

    _wipe(registry_url, artifacts)
    report = restore_backup(info["path"], registry_url, artifacts, method="native")
    assert (report["runs"], report["artifacts"], report["loaded"]) == (3, 18, 3)
    _assert_loads(registry_url, artifacts, results[:3])


def test_missing_artifact_fails_the_backup_unless_allowed(
    tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    artifacts = tmp_path / "artifacts"
    _record(url, artifacts, results[:3])
    run_id = results[2].run_id
    (artifacts / "runs" / run_id / "stats.json").unlink()
    dest = tmp_path / "backups"

    with pytest.raises(StorageError) as info:
        create_backup(url, dest)
    message = str(info.value)
    assert f"run {run_id}: artifact stats.json is missing" in message
    assert "--allow-missing" in message
    assert not dest.exists() or not any(dest.iterdir())  # nothing left behind

    made = create_backup(url, dest, allow_missing=True)
    assert (made["missing"], made["copied"]) == (1, 17)
    report = verify_backup(made["path"])
    assert not report["ok"] and "stats.json" in report["problems"][0]

    target = tmp_path / "target"
    report = restore_backup(made["path"], f"sqlite:///{target / 'r.db'}", target / "art")
    assert report["missing"] == [
        {
            "run_id": run_id,
            "name": "stats.json",
            "uri": (artifacts / "runs" / run_id / "stats.json").resolve().as_uri(),
        }
    ]
    assert report["loaded"] == 2 and [u["run_id"] for u in report["unloadable"]] == [run_id]


def test_restore_refuses_a_target_that_is_not_empty(
    registry_url: str, tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _record(source, tmp_path / "source-artifacts", results[:2])
    folder = create_backup(source, tmp_path / "backups")["path"]

    _record(registry_url, tmp_path / "artifacts", results[2:3])
    with pytest.raises(StorageError, match=r"is not empty \(1 runs, 6 artifact rows\)"):
        restore_backup(folder, registry_url, tmp_path / "fresh")

    # an empty registry (migrated, no rows) is fine, a store with run folders is not
    _wipe(registry_url)
    Registry(registry_url, tmp_path / "fresh").engine.dispose()  # creates the empty schema
    with pytest.raises(StorageError, match="store .* is not empty"):
        restore_backup(folder, registry_url, tmp_path / "artifacts")
    report = restore_backup(folder, registry_url, tmp_path / "fresh")
    assert report["loaded"] == 2


def test_a_crash_during_create_leaves_nothing_that_looks_like_a_backup(
    tmp_path: Path, results: list[coinbt.BacktestResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _record(url, tmp_path / "artifacts", results[:3])
    dest = tmp_path / "backups"

    # an exception in the middle: the unfinished folder is removed
    real = backup_mod.stash_artifact
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(backup_mod, "stash_artifact", failing)
    with pytest.raises(KeyboardInterrupt):
        create_backup(url, dest)
    assert list(dest.iterdir()) == [] and list_backups(dest) == []
    monkeypatch.undo()

    # the process dies outright: only a hidden ".partial" folder stays, which nothing uses
    code = (
        "import os, sys\n"
        "from coinbt.storage import backup\n"
        "real = backup.stash_artifact\n"
        "n = []\n"
        "def dying(*a, **k):\n"
        "    n.append(1)\n"
        "    if len(n) == 5:\n"
        "        os._exit(9)\n"
        "    return real(*a, **k)\n"
        "backup.stash_artifact = dying\n"
        "backup.create_backup(sys.argv[1], sys.argv[2])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, url, str(dest)], capture_output=True)
    assert done.returncode == 9, done.stderr.decode()
    (partial,) = dest.iterdir()
    assert partial.name.startswith(".") and partial.name.endswith(".partial")
    assert not (partial / "manifest.json").exists()
    assert list_backups(dest) == []
    report = verify_backup(partial)
    assert not report["ok"] and "is an unfinished backup" in report["problems"][0]
    with pytest.raises(StorageError, match="unfinished backup"):
        restore_backup(partial, f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "x")
    with pytest.raises(StorageError, match="no backups"):
        restore_backup("latest", f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "x", dest=dest)

    kept = create_backup(url, dest)["name"]
    assert prune_backups(dest, keep=1)["unfinished"] == []  # too fresh: may still be written
    old = (datetime.now() - timedelta(days=2)).timestamp()
    os.utime(partial, (old, old))
    assert prune_backups(dest, keep=1) == {
        "removed": [], "kept": [kept], "unfinished": [partial.name], "dry_run": False
    }  # fmt: skip
    assert [p.name for p in dest.iterdir()] == [kept]


def test_prune_keeps_the_newest(
    tmp_path: Path, results: list[coinbt.BacktestResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _record(url, tmp_path / "artifacts", results[:1])
    dest = tmp_path / "backups"
    names = [create_backup(url, dest)["name"] for _ in range(4)]
    assert [b["name"] for b in list_backups(dest)] == names  # oldest first

    report = prune_backups(dest, keep=2, dry_run=True)
    assert report["removed"] == names[:2] and report["kept"] == names[2:]
    assert len(list_backups(dest)) == 4  # a dry run removes nothing
    assert prune_backups(dest, keep=2)["removed"] == names[:2]
    assert [b["name"] for b in list_backups(dest)] == names[2:]

    assert prune_backups(dest, older_than="30d")["removed"] == []  # all are recent
    later = datetime.now(UTC) + timedelta(days=40)
    monkeypatch.setattr(backup_mod, "utc_now", lambda: later)
    assert prune_backups(dest, older_than="30d")["removed"] == names[2:3]  # newest stays
    assert [b["name"] for b in list_backups(dest)] == names[3:]
    with pytest.raises(ConfigError, match="--keep N and/or --older-than"):
        prune_backups(dest)
    with pytest.raises(ConfigError, match="1 or more"):
        prune_backups(dest, keep=0)


@pytest.mark.services
def test_postgresql_without_pg_dump_falls_back_to_the_logical_export(
    pg_url: str,
    tmp_path: Path,
    results: list[coinbt.BacktestResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = pg_url.replace("postgres@", "postgres:s3cret-pw@", 1)  # trust auth ignores it
    _record(url, tmp_path / "artifacts", results[:2])
    info = create_backup(url, tmp_path / "backups", method="native")
    manifest_text = (Path(info["path"]) / "manifest.json").read_text()
    assert "s3cret-pw" not in manifest_text and "***" in manifest_text
    assert json.loads(manifest_text)["registry"]["native"]["tool"].startswith("pg_dump")

    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(StorageError, match="pg_dump was not found on PATH"):
        create_backup(url, tmp_path / "backups", method="native")
    info = create_backup(url, tmp_path / "backups")  # auto
    assert info["method"] == "logical" and "pg_dump was not found" in info["native_skipped"]
    _wipe(pg_url, tmp_path / "artifacts")
    report = restore_backup(info["path"], pg_url, tmp_path / "artifacts")
    assert report["method"] == "logical" and report["loaded"] == 2


# -- command line ---------------------------------------------------------------------------------


def test_cli_create_list_verify_restore_prune(
    tmp_path: Path,
    results: list[coinbt.BacktestResult],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _record(url, tmp_path / "artifacts", results[:2])
    monkeypatch.setenv("COINBT_REGISTRY_URL", url)
    monkeypatch.setenv("COINBT_BACKUP_DIR", str(tmp_path / "backups"))

    with pytest.raises(SystemExit) as exit_info:
        main(["backup", "--help"])
    assert exit_info.value.code == 0
    assert "restore" in capsys.readouterr().out

    code, out, _ = cli(capsys, "backup", "create")
    assert code == 0 and re.match(r"backup \d{8}T\d{6}Z-\w{6} in .*: 2 runs, 12 artifacts", out)
    code, out, _ = cli(capsys, "backup", "create", "--method", "logical", "--json")
    made = json.loads(out)
    assert code == 0 and made["method"] == "logical"

    code, out, _ = cli(capsys, "backup", "list")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["name", "created", "(UTC)"]
    assert len(out.splitlines()) == 3 and "never" in out
    code, out, _ = cli(capsys, "backup", "verify", "--json")  # latest
    assert code == 0 and json.loads(out)["backup"] == made["name"]
    code, out, _ = cli(capsys, "backup", "list", "--json")
    assert [b["verified"] and b["verified"]["ok"] for b in json.loads(out)] == [None, True]

    target = tmp_path / "target"
    code, out, _ = cli(
        capsys, "backup", "restore", made["name"], "--registry",
        f"sqlite:///{target / 'r.db'}", "--artifacts", str(target / "art"),
    )  # fmt: skip
    assert code == 0 and "2 runs, 12 artifacts" in out and "2 of 2 runs load" in out

    # one-line errors, exit 2
    code, _, err = cli(
        capsys, "backup", "restore", made["name"], "--registry",
        f"sqlite:///{target / 'r.db'}", "--artifacts", str(target / "other"),
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "is not empty (2 runs" in err
    code, _, err = cli(capsys, "backup", "verify", made["name"][:-1])
    assert code == 2 and err.count("\n") == 1
    assert re.search(rf"Did you mean (one of )?'{made['name']}'", err)
    code, _, err = cli(capsys, "backup", "prune")
    assert code == 2 and "give --keep N and/or --older-than" in err
    code, _, err = cli(capsys, "backup", "create", "--registry", f"sqlite:///{tmp_path}/no.db")
    assert code == 2 and "no registry at" in err and not (tmp_path / "no.db").exists()

    # verify exits 1 on a damaged backup and names the problem
    (Path(made["path"]) / "registry" / "artifacts.jsonl").write_text("{}\n")
    code, out, _ = cli(capsys, "backup", "verify", made["name"])
    assert code == 1 and "registry/artifacts.jsonl is damaged" in out

    code, out, _ = cli(capsys, "backup", "prune", "--keep", "1", "--dry-run")
    assert code == 0 and out.startswith("would remove ") and "1 kept" in out
    code, out, _ = cli(capsys, "backup", "prune", "--keep", "1", "--json")
    assert code == 0 and json.loads(out)["kept"] == [made["name"]]


def test_checksums_in_the_manifest_match_the_registry(
    tmp_path: Path, results: list[coinbt.BacktestResult]
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _record(url, tmp_path / "artifacts", results[:2])
    folder = Path(create_backup(url, tmp_path / "backups")["path"])
    manifest = json.loads((folder / "manifest.json").read_text())
    recorded = {(a["run_id"], a["name"]): a for a in _snapshot(url)["artifacts"]}
    assert manifest["format_version"] == 1 and manifest["coinbt_version"] == coinbt.__version__
    for entry in manifest["artifacts"]:
        row = recorded[(entry["run_id"], entry["name"])]
        assert (entry["sha256"], entry["bytes"], entry["uri"]) == (
            row["sha256"], row["bytes"], row["uri"]
        )  # fmt: skip
        data = (folder / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    sidecar = (folder / "manifest.json.sha256").read_text().split()[0]
    assert sidecar == hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
