"""Restore a backup into an empty registry and artifact store.

Order, so that no registry row ever points at a missing artifact and a failure leaves the target
as empty as it was:

1. check the manifest and the dump files against their SHA-256, and that the target registry
   and the target store hold nothing;
2. copy every artifact into the target store (from the backup's copy or the referenced S3
   version), checking each SHA-256;
3. migrate the registry to the backup's revision and load every row in one transaction that
   also points ``artifacts.uri`` and ``runs.artifact_uri`` at the new store — from the native
   dump (SQLite ``ATTACH``; PostgreSQL ``COPY`` data from ``pg_restore --data-only``) or from the
   logical export;
4. migrate to this coinbt's newest revision and load every run (``Registry.load``).

If step 2 or 3 fails, the artifacts written in step 2 are removed again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from coinbt.errors import ConfigError, StorageError, did_you_mean
from coinbt.storage import migrate
from coinbt.storage.artifacts import ArtifactStore, LocalStore, open_store
from coinbt.storage.backup_db import (
    DELETING,
    TABLES,
    engine_for,
    native_usable,
    read_jsonl,
    reflect_tables,
    registry_contents,
    sqlite_path,
)
from coinbt.storage.backup_files import (
    Sources,
    fetch_artifact,
    progress_bar,
    read_manifest,
    resolve_backup,
)
from coinbt.storage.common import first_line, hide_password, sha256_file

if TYPE_CHECKING:
    from coinbt.storage.registry import Registry

METHODS = ("auto", "native", "logical")


def restore_backup(
    path: str | os.PathLike[str],
    registry: Registry | str,
    artifacts: str | os.PathLike[str] | ArtifactStore | None = None,
    *,
    method: str = "auto",
    check_loads: bool = True,
    dest: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Restore a backup into an empty registry and artifact store.

    Parameters
    ----------
    path : str or Path
        The backup folder, or its name (or ``"latest"``) in ``dest``.
    registry : Registry or str
        Where the runs go: a :class:`~coinbt.storage.Registry` (its store is the artifact
        target unless ``artifacts`` is given) or a registry URL.
    artifacts : str, Path or ArtifactStore, optional
        Where the artifacts go (a folder or ``s3://bucket/prefix``); required with a URL.
    method : {"auto", "native", "logical"}
        ``native`` loads the native dump (same backend only; PostgreSQL needs ``pg_restore``),
        ``logical`` the JSON-lines export (any backend), ``auto`` native when it can.
    check_loads : bool
        Load every restored run with ``Registry.load`` afterwards (default True).
    dest : str or Path, optional
        Backup folder for a name (default ``$COINBT_BACKUP_DIR`` or ``.coinbt/backups``).
    progress : bool, optional
        Progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    dict
        ``backup``, ``registry`` (password hidden), ``artifacts_uri``, ``method``,
        ``revision``, ``runs``, ``artifacts``, ``from_backup``, ``from_s3_versions``,
        ``missing`` (artifacts the backup lacked), ``loaded``, ``unloadable`` (run id and
        error per run that does not load) and ``seconds``.

    Raises
    ------
    StorageError
        When the backup is damaged, the target registry or store is not empty, the backup
        comes from a newer coinbt, or a copy or load fails (the target is left empty).
    ConfigError
        For an unknown ``method`` or a missing ``artifacts`` target.

    Examples
    --------
    >>> restore_backup("latest", "sqlite:///restored.db", "restored-artifacts")  # doctest: +SKIP
    """
    started = time.perf_counter()
    folder = resolve_backup(path, dest)
    manifest = read_manifest(folder)
    info = manifest["registry"]
    url, store = _target(registry, artifacts)
    chosen = _choose(method, info, url)
    _check_files(folder, info, chosen)
    _check_empty(url, store)
    revision = info["revision"]
    _check_revision(revision)

    entries = manifest["artifacts"]
    runs_file = info["tables"]["runs"]
    run_ids = [r["run_id"] for r in read_jsonl(folder / runs_file["file"], runs_file["columns"])]
    run_uris = {run_id: store.run_uri(run_id) for run_id in run_ids}
    artifact_uris: dict[tuple[str, str], str] = {}
    counts = {"copy": 0, "s3-version": 0}
    missing: list[dict[str, str]] = []
    sources = Sources()
    try:
        with progress_bar(len(entries), "restore", progress) as bar:
            for entry in entries:
                key = (entry["run_id"], entry["name"])
                if entry["stored"] == "missing":
                    artifact_uris[key] = _uri_in(store, *key)
                    missing.append({"run_id": key[0], "name": key[1], "uri": entry["uri"]})
                else:
                    data = fetch_artifact(entry, folder, sources)
                    put = store.put(key[0], key[1], data, entry.get("rows"))
                    artifact_uris[key] = put.uri
                    counts[entry["stored"]] += 1
                bar.update(1)
        _prepare(url, revision)
        n_runs, n_artifacts = load_rows(url, folder, info, chosen, run_uris, artifact_uris)
    except BaseException:
        for run_id in {k[0] for k in artifact_uris}:
            with contextlib.suppress(OSError, StorageError):  # the original error matters more
                store.delete_run(run_id)
        raise
    if revision != migrate.head():
        _migrate(url, "upgrade", "head")
    loaded, unloadable = _check_loads(url, store, run_ids) if check_loads else (None, [])
    return {
        "backup": folder.name,
        "path": str(folder),
        "registry": hide_password(url),
        "artifacts_uri": _store_uri(store),
        "method": chosen,
        "revision": migrate.head(),
        "backup_revision": revision,
        "runs": n_runs,
        "artifacts": n_artifacts,
        "from_backup": counts["copy"],
        "from_s3_versions": counts["s3-version"],
        "missing": missing,
        "loaded": loaded,
        "unloadable": unloadable,
        "seconds": round(time.perf_counter() - started, 3),
    }


# -- checks ---------------------------------------------------------------------------------------


def _target(registry: Registry | str, artifacts: Any) -> tuple[str, ArtifactStore]:
    from coinbt.storage.registry import Registry

    if isinstance(registry, Registry):
        return registry.url, open_store(artifacts) if artifacts is not None else registry.store
    if not isinstance(registry, str) or not registry:
        raise ConfigError(
            f"restore: registry must be a Registry or a registry URL, got {registry!r}",
            field="registry",
        )
    if artifacts is None:
        raise ConfigError(
            "restore: give the artifact store to restore into (a folder or s3://bucket/prefix)",
            field="artifacts",
        )
    return registry, open_store(artifacts)


def _choose(method: str, info: Mapping[str, Any], url: str) -> str:
    if method not in METHODS:
        raise ConfigError(
            f"unknown restore method {method!r}; use one of {', '.join(METHODS)}."
            f"{did_you_mean(method, METHODS)}",
            field="method",
        )
    if method == "logical":
        return "logical"
    why_not = native_usable(info, url)
    if why_not is None:
        return "native"
    if method == "native":
        raise StorageError(f"restore --method native is not possible: {why_not}; use logical")
    return "logical"


def _check_files(folder: Path, info: Mapping[str, Any], method: str) -> None:
    files = list(info["tables"].values())
    if method == "native":
        files.append(info["native"])
    for entry in files:
        path = folder / entry["file"]
        if not path.is_file():
            raise StorageError(f"backup {folder.name}: {entry['file']} is missing")
        if sha256_file(path) != entry["sha256"]:
            raise StorageError(
                f"backup {folder.name}: {entry['file']} is damaged (SHA-256 differs from the "
                "manifest); restore from another backup"
            )


def _check_empty(url: str, store: ArtifactStore) -> None:
    contents = registry_contents(url)
    if contents["runs"] or contents["artifacts"]:
        raise StorageError(
            f"restore target {hide_password(url)} is not empty ({contents['runs']} runs, "
            f"{contents['artifacts']} artifact rows): restore only into an empty registry — "
            "give a new --registry, or empty this one (coinbt db downgrade base)"
        )
    found = _store_content(store)
    if found:
        raise StorageError(
            f"restore target store {_store_uri(store)} is not empty ({found}): restore only "
            "into an empty artifact store — give a new --artifacts location"
        )


def _store_uri(store: ArtifactStore) -> str:
    return getattr(store, "uri", None) or str(getattr(store, "root", store))


def _store_content(store: ArtifactStore) -> str | None:
    if isinstance(store, LocalStore):
        runs = store.root / "runs"
        if runs.is_dir() and any(runs.iterdir()):
            return f"{runs} has run folders"
        return None
    from coinbt.storage.s3 import S3Store, _client_errors, _error_code

    if not isinstance(store, S3Store):
        raise StorageError(f"cannot restore into {store!r}: only local and S3 stores")
    prefix = f"{store.prefix}/runs/" if store.prefix else "runs/"
    try:
        reply = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix, MaxKeys=1)
    except _client_errors() as exc:
        if _error_code(exc) == "NoSuchBucket":
            raise StorageError(
                f"bucket s3://{store.bucket} does not exist; create it first "
                "(coinbt storage init-bucket)"
            ) from None
        raise StorageError(f"cannot list s3://{store.bucket}/{prefix}: {exc}") from exc
    if reply.get("KeyCount", len(reply.get("Contents", []))):
        return f"objects under s3://{store.bucket}/{prefix}"
    return None


def _uri_in(store: ArtifactStore, run_id: str, name: str) -> str:
    if isinstance(store, LocalStore):
        return (store.run_dir(run_id) / name).as_uri()
    return f"s3://{store.bucket}/{store.key(run_id, name)}"  # type: ignore[attr-defined]


def _check_revision(revision: str) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    try:
        known = script.get_revision(revision) is not None
    except Exception:  # alembic raises several types for unknown revisions
        known = False
    if not known:
        raise StorageError(
            f"the backup's registry is at revision {revision!r}, which this coinbt does not "
            "know: it was made by a newer coinbt; upgrade coinbt to restore it"
        )


def _migrate(url: str, action: str, revision: str) -> None:
    try:
        getattr(migrate, action)(url, revision)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"{action} of {hide_password(url)} to {revision} failed: {first_line(exc)}"
        ) from exc


def _prepare(url: str, revision: str) -> None:
    """Bring the (empty) target registry to the backup's revision."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    current = registry_contents(url)["revision"]
    if current == revision:
        return
    if current is not None:
        _migrate(url, "downgrade", "base")  # its tables are empty (checked)
    _migrate(url, "upgrade", revision)


def _check_loads(
    url: str, store: ArtifactStore, run_ids: list[str]
) -> tuple[int, list[dict[str, str]]]:
    from coinbt.storage.registry import Registry

    reg = Registry(url, store)
    loaded, failed = 0, []
    try:
        for run_id in run_ids:
            try:
                reg.load(run_id)
                loaded += 1
            except StorageError as exc:
                failed.append({"run_id": run_id, "error": str(exc)})
    finally:
        reg.close()
    return loaded, failed


# -- loading into an empty registry ---------------------------------------------------------------


@contextmanager
def _sqlite_raw(path: Path, dump: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path.resolve().as_uri(), uri=True, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("ATTACH DATABASE ? AS coinbt_backup", (dump.resolve().as_uri() + "?mode=ro",))
        yield conn
    finally:
        conn.close()


def _finish_sql(
    run_uris: Mapping[str, str], artifact_uris: Mapping[tuple[str, str], str]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Statements (named parameters) that drop hidden runs and point rows at the new store."""
    return [
        (
            "DELETE FROM artifacts WHERE run_id IN "
            "(SELECT run_id FROM runs WHERE status = :status)",
            [{"status": DELETING}],
        ),
        ("DELETE FROM runs WHERE status = :status", [{"status": DELETING}]),
        (
            "UPDATE artifacts SET uri = :uri WHERE run_id = :run_id AND name = :name",
            [{"uri": u, "run_id": r, "name": n} for (r, n), u in artifact_uris.items()],
        ),
        (
            "UPDATE runs SET artifact_uri = :uri WHERE run_id = :run_id "
            "AND artifact_uri IS NOT NULL",
            [{"uri": u, "run_id": r} for r, u in run_uris.items()],
        ),
    ]


def _load_sqlite_native(
    path: Path, dump: Path, run_uris: Any, artifact_uris: Any
) -> tuple[int, int]:
    with _sqlite_raw(path, dump) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in TABLES:
                mine = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
                theirs = {r[1] for r in conn.execute(f"PRAGMA coinbt_backup.table_info({table})")}
                if set(mine) != theirs:
                    raise StorageError(
                        f"the native dump's {table} columns {sorted(theirs)} differ from the "
                        f"target's {sorted(mine)}; restore with --method logical"
                    )
                cols = ", ".join(f'"{c}"' for c in mine)
                conn.execute(
                    f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM coinbt_backup.{table}"
                )
            for sql, params in _finish_sql(run_uris, artifact_uris):
                if params:
                    conn.executemany(sql, params)
            counts = _check_loaded(
                conn.execute("SELECT run_id FROM runs").fetchall(),
                conn.execute("SELECT run_id, name FROM artifacts").fetchall(),
                run_uris,
                artifact_uris,
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("DETACH DATABASE coinbt_backup")
    return counts


def _check_loaded(runs: Any, artifacts: Any, run_uris: Any, artifact_uris: Any) -> tuple[int, int]:
    got_runs = {r[0] for r in runs}
    got_artifacts = {(r[0], r[1]) for r in artifacts}
    if got_runs != set(run_uris) or got_artifacts != set(artifact_uris):
        raise StorageError(
            f"the registry dump holds {len(got_runs)} runs and {len(got_artifacts)} artifacts but "
            f"the manifest lists {len(run_uris)} and {len(artifact_uris)}; the backup is "
            "inconsistent (try --method logical)"
        )
    return len(got_runs), len(got_artifacts)


def copy_blocks(sql: str) -> dict[str, tuple[str, str]]:
    """``COPY … FROM stdin`` blocks of a plain-SQL dump: table → (column list, data)."""
    blocks: dict[str, tuple[str, str]] = {}
    lines = iter(sql.split("\n"))
    for line in lines:
        if not (line.startswith("COPY ") and line.endswith(" FROM stdin;")):
            continue
        target, _, columns = line[len("COPY ") : -len(" FROM stdin;")].partition(" (")
        table = target.rsplit(".", 1)[-1].strip('"')
        data = []
        for row in lines:
            if row == "\\.":
                break
            data.append(row + "\n")
        else:
            raise StorageError(f"the PostgreSQL dump's data for {table} is truncated")
        blocks[table] = (columns[:-1], "".join(data))
    return blocks


def _load_pg_native(url: str, dump: Path, run_uris: Any, artifact_uris: Any) -> tuple[int, int]:
    pg_restore = shutil.which("pg_restore")
    assert pg_restore is not None  # checked by native_usable
    reply = subprocess.run([pg_restore, "--data-only", "--file=-", str(dump)], capture_output=True)
    if reply.returncode != 0:
        detail = reply.stderr.decode(errors="replace").strip().splitlines()
        raise StorageError(
            f"pg_restore could not read {dump} (exit {reply.returncode}): "
            f"{detail[0] if detail else 'no message'}"
        )
    blocks = copy_blocks(reply.stdout.decode("utf-8"))
    missing = [t for t in TABLES if t not in blocks]
    if missing:
        raise StorageError(f"the PostgreSQL dump {dump} has no data for {', '.join(missing)}")
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                for table in TABLES:  # runs first: artifacts refer to them
                    columns, data = blocks[table]
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(data)
            _finish_sqlalchemy(conn, run_uris, artifact_uris)
            return _check_loaded(
                conn.execute(text("SELECT run_id FROM runs")).all(),
                conn.execute(text("SELECT run_id, name FROM artifacts")).all(),
                run_uris,
                artifact_uris,
            )
    except SQLAlchemyError as exc:
        raise StorageError(
            f"loading the rows into {hide_password(url)} failed: {first_line(exc)}"
        ) from exc
    finally:
        engine.dispose()


def _finish_sqlalchemy(conn: Connection, run_uris: Any, artifact_uris: Any) -> None:
    for sql, params in _finish_sql(run_uris, artifact_uris):
        if params:
            conn.execute(text(sql), params)


def _load_logical(
    url: str,
    rows: Mapping[str, list[dict[str, Any]]],
    run_uris: Mapping[str, str],
    artifact_uris: Mapping[tuple[str, str], str],
) -> tuple[int, int]:
    runs = []
    for row in rows["runs"]:
        row = dict(row)
        if row.get("artifact_uri") is not None:
            row["artifact_uri"] = run_uris[row["run_id"]]
        runs.append(row)
    artifacts = [
        dict(row, uri=artifact_uris[(row["run_id"], row["name"])]) for row in rows["artifacts"]
    ]
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            tables = reflect_tables(conn)
            for name, values in (("runs", runs), ("artifacts", artifacts)):
                known = {c.name for c in tables[name].columns}
                extra = set(values[0]) - known if values else set()
                if extra:
                    raise StorageError(
                        f"the target's {name} table has no column(s) {sorted(extra)}"
                    )
                for start in range(0, len(values), 1000):
                    conn.execute(tables[name].insert(), values[start : start + 1000])
            return _check_loaded(
                conn.execute(text("SELECT run_id FROM runs")).all(),
                conn.execute(text("SELECT run_id, name FROM artifacts")).all(),
                run_uris,
                artifact_uris,
            )
    except SQLAlchemyError as exc:
        raise StorageError(
            f"loading the rows into {hide_password(url)} failed: {first_line(exc)}"
        ) from exc
    finally:
        engine.dispose()


def load_rows(
    url: str,
    folder: Path,
    manifest_registry: Mapping[str, Any],
    method: str,
    run_uris: Mapping[str, str],
    artifact_uris: Mapping[tuple[str, str], str],
) -> tuple[int, int]:
    """Load the backup's rows into the (empty, migrated) registry at ``url`` in one transaction.

    ``run_uris`` (run id → artifact folder URI) and ``artifact_uris`` ((run id, name) → URI)
    give the new locations; they must name exactly the runs and artifacts of the dump.

    Returns
    -------
    tuple of int
        Runs and artifact rows loaded.
    """
    if method == "native":
        dump = folder / manifest_registry["native"]["file"]
        if manifest_registry["dialect"] == "sqlite":
            path = sqlite_path(url)
            assert path is not None
            return _load_sqlite_native(path, dump, run_uris, artifact_uris)
        return _load_pg_native(url, dump, run_uris, artifact_uris)
    tables = manifest_registry["tables"]
    rows = {t: read_jsonl(folder / tables[t]["file"], tables[t]["columns"]) for t in TABLES}
    return _load_logical(url, rows, run_uris, artifact_uris)
