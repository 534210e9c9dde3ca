"""The registry half of a backup: a native dump and a typed logical export.

* **SQLite** — ``sqlite3.Connection.backup`` copies the whole database in one step, a
  consistent snapshot even while other processes write (WAL mode).
* **PostgreSQL** — one ``REPEATABLE READ`` read-only transaction exports its snapshot
  (``pg_export_snapshot()``); ``pg_dump --snapshot`` dumps the registry's schema from that same
  snapshot while the transaction reads the rows for the logical export.
* **Logical export** (always written) — ``runs.jsonl`` and ``artifacts.jsonl``, one JSON object
  per row, with each column's kind (string, int, float, datetime, json) in the manifest:
  timestamps as ISO 8601 in UTC, JSON columns as JSON, NULL as ``null``.  It restores into
  either backend and is what the backup's artifact list is built from, so the two always agree.

Runs being deleted (``status='deleting'``) are left out of the logical export and the artifact
list; a native dump still holds their rows and restore drops them.  Loading rows back is in
:mod:`coinbt.storage.backup_restore`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, pool, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from coinbt.errors import StorageError
from coinbt.storage.common import first_line, hide_password, sha256_file

TABLES = ("runs", "artifacts")
DELETING = "deleting"  # same as coinbt.storage.queries.DELETING (not imported: no pandas here)
_PG_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
    "application_name": "PGAPPNAME",
}


@dataclass
class Dump:
    """A registry dump: what was written and the rows it holds (decoded Python values)."""

    dialect: str
    schema: str | None
    revision: str
    method: str
    native: dict[str, Any] | None
    native_skipped: str | None
    tables: dict[str, dict[str, Any]]
    runs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    excluded_deleting: int = 0


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"registry URL {hide_password(url)!r} is not usable: {exc}") from None


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for any other dialect or for ``:memory:``)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def engine_for(url: str, **options: Any) -> Engine:
    try:
        return create_engine(url, poolclass=pool.NullPool, **options)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StorageError(f"registry URL {hide_password(url)!r} is not usable: {exc}") from exc


# -- rows: reading, encoding, decoding ------------------------------------------------------------


def _kind(type_: Any) -> str:
    if isinstance(type_, sa.JSON):
        return "json"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.Float):
        return "float"
    if isinstance(type_, sa.Integer):
        return "int"
    return "string"


def _utc(value: datetime) -> datetime:
    # SQLite keeps no zone: the registry writes UTC there, so a naive time is UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def encode_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        if isinstance(value, str):  # SQLite can hand back text it could not parse
            value = datetime.fromisoformat(value)
        return _utc(value).isoformat()
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    return value


def decode_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return _utc(datetime.fromisoformat(value))
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    return value


def reflect_tables(conn: Connection) -> dict[str, sa.Table]:
    meta = MetaData()
    meta.reflect(conn, only=list(TABLES))
    return {name: meta.tables[name] for name in TABLES}


def _read_tables(conn: Connection, where: str) -> tuple[str, dict[str, Any]]:
    """The Alembic revision and, per table, its columns (name, kind) and rows (decoded)."""
    names = set(inspect(conn).get_table_names())
    if not set(TABLES) <= names:
        raise StorageError(
            f"{where} has no coinbt registry tables (runs, artifacts): nothing to back up. "
            "Check --registry / $COINBT_REGISTRY_URL."
        )
    revision = None
    if "alembic_version" in names:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if not revision:
        raise StorageError(
            f"{where} has registry tables but no Alembic revision; run `coinbt db upgrade` first"
        )
    out: dict[str, Any] = {}
    for name, table in reflect_tables(conn).items():
        columns = [(c.name, _kind(c.type)) for c in table.columns]
        order = [table.c[c.name] for c in table.primary_key.columns] or list(table.columns)
        rows = [dict(r) for r in conn.execute(sa.select(table).order_by(*order)).mappings()]
        out[name] = {"columns": columns, "rows": rows}
    return str(revision), out


def _write_jsonl(path: Path, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            record = {name: encode_value(row[name], kind) for name, kind in columns}
            fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: Path, columns: list[list[str]]) -> list[dict[str, Any]]:
    """Rows of a logical export, decoded by column kind."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise StorageError(f"{path}: line {number} is not JSON: {exc}") from None
            rows.append({name: decode_value(record.get(name), kind) for name, kind in columns})
    return rows


def _file_entry(folder: Path, path: Path) -> dict[str, Any]:
    return {
        "file": path.relative_to(folder).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _logical(folder: Path, tables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Write the logical export of ``tables`` (without runs being deleted)."""
    runs = tables["runs"]["rows"]
    hidden = {r["run_id"] for r in runs if r.get("status") == DELETING}
    keep = {
        "runs": [r for r in runs if r["run_id"] not in hidden],
        "artifacts": [r for r in tables["artifacts"]["rows"] if r["run_id"] not in hidden],
    }
    entries = {}
    for name in TABLES:
        path = folder / "registry" / f"{name}.jsonl"
        _write_jsonl(path, tables[name]["columns"], keep[name])
        entry = _file_entry(folder, path)
        entry.update(rows=len(keep[name]), columns=[list(c) for c in tables[name]["columns"]])
        entries[name] = entry
    return entries


# -- dumping --------------------------------------------------------------------------------------


def dump_registry(url: str, folder: Path, method: str) -> Dump:
    """Dump the registry at ``url`` into ``folder/registry/`` (see the module notes).

    Parameters
    ----------
    url : str
        Registry URL.
    folder : Path
        The backup being written.
    method : {"auto", "native", "logical"}
        ``native``: SQLite copy or ``pg_dump`` (an error when impossible); ``auto``: native
        when possible; ``logical``: the JSON-lines export only (always written anyway).
    """
    (folder / "registry").mkdir(parents=True, exist_ok=True)
    dialect = parse_url(url).get_backend_name()
    if dialect == "sqlite":
        return _dump_sqlite(url, folder, method)
    if dialect == "postgresql":
        return _dump_postgresql(url, folder, method)
    raise StorageError(f"registry {hide_password(url)}: cannot back up a {dialect} database")


def _dump(
    dialect: str, schema: str | None, revision: str, method: str, folder: Path, tables: Any
) -> Dump:
    logical = _logical(folder, tables)
    hidden = {r["run_id"] for r in tables["runs"]["rows"] if r.get("status") == DELETING}
    return Dump(
        dialect=dialect,
        schema=schema,
        revision=revision,
        method=method,
        native=None,
        native_skipped=None,
        tables=logical,
        runs=[r for r in tables["runs"]["rows"] if r["run_id"] not in hidden],
        artifacts=[r for r in tables["artifacts"]["rows"] if r["run_id"] not in hidden],
        excluded_deleting=len(hidden),
    )


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (one backup step, then a plain journal)."""
    src = sqlite3.connect(source, timeout=60)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise StorageError(f"could not copy the SQLite registry {source}: {exc}") from exc
    finally:
        src.close()


def _dump_sqlite(url: str, folder: Path, method: str) -> Dump:
    path = sqlite_path(url)
    if path is None or not path.is_file():
        raise StorageError(
            f"no registry at {hide_password(url)}: the database file does not exist. "
            "Check --registry / $COINBT_REGISTRY_URL."
        )
    native = method in ("auto", "native")
    # the logical-only snapshot sits in the backup folder: same disk, removed when read
    with tempfile.TemporaryDirectory(prefix=".snapshot-", dir=folder) as tmp:
        copy = folder / "registry" / "registry.sqlite" if native else Path(tmp) / "snapshot.db"
        _sqlite_copy(path, copy)
        engine = engine_for(f"sqlite:///{copy}")
        try:
            with engine.connect() as conn:
                revision, tables = _read_tables(conn, f"registry {hide_password(url)}")
        finally:
            engine.dispose()
        dump = _dump("sqlite", None, revision, "native" if native else "logical", folder, tables)
        if native:
            dump.native = _file_entry(folder, copy) | {"format": "sqlite"}
    return dump


def pg_environment(url: str) -> dict[str, str]:
    """Environment for the PostgreSQL client tools: the connection as ``PG*`` variables.

    The password goes through ``PGPASSWORD``, never the command line.
    """
    parsed = parse_url(url)
    env = dict(os.environ)
    for attr, var in (
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("username", "PGUSER"),
        ("password", "PGPASSWORD"),
        ("database", "PGDATABASE"),
    ):
        value = getattr(parsed, attr)
        if value not in (None, ""):
            env[var] = str(value)
    for key, var in _PG_ENV.items():
        value = parsed.query.get(key)
        if value:
            env[var] = value if isinstance(value, str) else value[0]
    return env


def _tool(name: str) -> str | None:
    return shutil.which(name)


def _tool_version(path: str) -> str:
    try:
        reply = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return Path(path).name
    return reply.stdout.strip() or Path(path).name


def _pg_dump(url: str, schema: str, snapshot: str, out: Path) -> str:
    """Run ``pg_dump`` of ``schema`` from ``snapshot``; returns the tool's version line."""
    pg_dump = _tool("pg_dump")
    if pg_dump is None:
        raise StorageError(
            "pg_dump was not found on PATH (install the PostgreSQL client tools, e.g. "
            "apt install postgresql-client)"
        )
    quoted = '"' + schema.replace('"', '""') + '"'
    cmd = [
        pg_dump,
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--schema={quoted}",
        f"--snapshot={snapshot}",
        f"--file={out}",
    ]
    reply = subprocess.run(cmd, env=pg_environment(url), capture_output=True, text=True)
    if reply.returncode != 0:
        out.unlink(missing_ok=True)
        detail = reply.stderr.strip().splitlines()
        raise StorageError(
            f"pg_dump failed (exit {reply.returncode}): {detail[0] if detail else 'no message'}"
        )
    return _tool_version(pg_dump)


def _dump_postgresql(url: str, folder: Path, method: str) -> Dump:
    engine = engine_for(url)
    where = f"registry {hide_password(url)}"
    try:
        with engine.connect() as base:
            conn = base.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with conn.begin():
                # the first statement fixes the snapshot that pg_dump shares
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                if schema is None:
                    raise StorageError(
                        f"{where}: no schema on the search path exists; check the URL's options"
                    )
                revision, tables = _read_tables(conn, where)
                dump = _dump("postgresql", schema, revision, "logical", folder, tables)
                if method == "logical":
                    return dump
                out = folder / "registry" / "registry.pgdump"
                try:
                    tool = _pg_dump(url, schema, snapshot, out)
                except StorageError as exc:
                    if method == "native":
                        raise StorageError(
                            f"{where}: --method native: {exc}; or use --method logical"
                        ) from None
                    dump.native_skipped = str(exc)
                    return dump
                dump.method = "native"
                dump.native = _file_entry(folder, out) | {"format": "pg_dump-custom", "tool": tool}
                return dump
    except SQLAlchemyError as exc:
        raise StorageError(f"{where}: cannot read it: {first_line(exc)}") from exc
    finally:
        engine.dispose()


# -- the target of a restore ----------------------------------------------------------------------


def registry_contents(url: str) -> dict[str, Any]:
    """What the registry at ``url`` holds: ``revision``, ``runs``, ``artifacts`` (row counts)."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return {"revision": None, "runs": 0, "artifacts": 0}
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            counts = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() if t in names else 0
                for t in TABLES
            }
            revision = None
            if "alembic_version" in names:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"cannot read the target registry {hide_password(url)}: {first_line(exc)}"
        ) from exc
    finally:
        engine.dispose()
    return {"revision": revision, **counts}


def native_usable(manifest_registry: Mapping[str, Any], url: str) -> str | None:
    """None when the backup's native dump can be loaded into ``url``, else why not."""
    native = manifest_registry.get("native")
    if not native:
        reason = manifest_registry.get("native_skipped")
        return "the backup has no native dump" + (f" ({reason})" if reason else "")
    target = parse_url(url).get_backend_name()
    if target != manifest_registry["dialect"]:
        return f"the native dump is {manifest_registry['dialect']} and the target is {target}"
    if target == "postgresql" and _tool("pg_restore") is None:
        return "pg_restore was not found on PATH (install the PostgreSQL client tools)"
    if target == "sqlite" and sqlite_path(url) is None:
        return "the target SQLite registry is in memory"
    return None
