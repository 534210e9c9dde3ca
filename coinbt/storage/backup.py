"""Backups of the run registry and its artifacts: create, verify, list, prune and restore.

A backup is a folder ``<dest>/<YYYYmmddTHHMMSSZ>-<id>/`` holding the registry (a native dump and
always a logical export), every artifact — copied, or referenced by S3 version id when it lives
in a bucket with versioning — and a ``manifest.json`` with the SHA-256 of everything.  It is
written as ``<dest>/.<name>.partial`` and renamed when complete, so an interrupted backup never
looks like a good one.  The layout is in :mod:`coinbt.storage.backup_files`, the registry dump
in :mod:`coinbt.storage.backup_db`, restore in :mod:`coinbt.storage.backup_restore`, and the
operator's guide in ``docs/operations.md``.

>>> from coinbt.storage.backup import create_backup, verify_backup, restore_backup
>>> info = create_backup()                       # doctest: +SKIP
>>> verify_backup(info["path"])["ok"]            # doctest: +SKIP
True
>>> restore_backup(info["path"], "sqlite:///restored.db", "restored")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coinbt import __version__
from coinbt.errors import ConfigError, StorageError, did_you_mean
from coinbt.storage.backup_db import dump_registry
from coinbt.storage.backup_files import (
    FORMAT,
    FORMAT_VERSION,
    PARTIAL,
    REMOVING,
    VERIFIED,
    Sources,
    backup_dir,
    check_artifact,
    complete_backups,
    folder_bytes,
    fsync_dir,
    progress_bar,
    read_manifest,
    resolve_backup,
    stash_artifact,
    utc_now,
    write_json,
    write_manifest,
)
from coinbt.storage.backup_restore import METHODS, restore_backup
from coinbt.storage.common import hide_password, parse_duration, sha256_file

if TYPE_CHECKING:
    from coinbt.storage.registry import Registry

__all__ = [
    "backup_dir",
    "create_backup",
    "list_backups",
    "prune_backups",
    "resolve_backup",
    "restore_backup",
    "verify_backup",
]

#: an unfinished backup folder older than this is left over from a crash; prune removes it
STALE_PARTIAL = timedelta(hours=24)


def _registry_url(registry: Registry | str | None) -> str:
    if registry is None:
        from coinbt import settings

        return settings.registry_url()
    if isinstance(registry, str):
        return registry
    url = getattr(registry, "url", None)
    if not isinstance(url, str):
        raise ConfigError(
            f"registry must be a Registry or a registry URL, got {registry!r}", field="registry"
        )
    return url


def create_backup(
    registry: Registry | str | None = None,
    dest: str | os.PathLike[str] | None = None,
    *,
    method: str = "auto",
    allow_missing: bool = False,
    copy_s3: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Back up the registry and every artifact of its runs.

    Parameters
    ----------
    registry : Registry or str, optional
        The registry (or its URL); default ``$COINBT_REGISTRY_URL`` or the local default.
        Artifacts are found through the URIs recorded in it.
    dest : str or Path, optional
        Folder of backups; default ``$COINBT_BACKUP_DIR`` or ``.coinbt/backups``.
    method : {"auto", "native", "logical"}
        Registry dump: ``native`` is a SQLite copy or ``pg_dump`` (an error when impossible),
        ``auto`` native when possible, ``logical`` only the JSON-lines export (which every
        backup has).
    allow_missing : bool
        Record missing or corrupt artifacts in the manifest instead of failing.
    copy_s3 : bool
        Copy objects of versioned buckets too, instead of referencing their version id.
    progress : bool, optional
        Progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    dict
        ``name``, ``path``, ``created``, ``registry`` (password hidden), ``dialect``,
        ``method``, ``revision``, ``runs``, ``artifacts``, ``copied``, ``referenced``,
        ``missing``, ``bytes`` (size of the folder) and ``seconds``.

    Raises
    ------
    StorageError
        When the registry cannot be read or an artifact is missing or corrupt (listing each,
        by run and object).  Nothing that looks like a backup is left behind.
    ConfigError
        For an unknown ``method``.
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise ConfigError(
            f"unknown backup method {method!r}; use one of {', '.join(METHODS)}."
            f"{did_you_mean(method, METHODS)}",
            field="method",
        )
    url = _registry_url(registry)
    folder = backup_dir(dest)
    created = utc_now()
    name = f"{created:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    work = folder / f".{name}{PARTIAL}"
    try:
        work.mkdir(parents=True)
    except OSError as exc:
        raise StorageError(f"cannot create a backup in {folder}: {exc}") from exc
    try:
        dump = dump_registry(url, work, method)
        entries, problems = [], []
        sources = Sources()
        with progress_bar(len(dump.artifacts), "backup", progress) as bar:
            for row in dump.artifacts:
                try:
                    entries.append(stash_artifact(row, work, sources, copy_s3=copy_s3))
                except StorageError as exc:
                    problems.append(str(exc))
                    entries.append(
                        {k: row[k] for k in ("run_id", "name", "uri", "bytes", "rows", "sha256")}
                        | {"stored": "missing", "problem": str(exc)}
                    )
                bar.update(1)
        if problems and not allow_missing:
            shown = "; ".join(problems[:3]) + (
                f"; … {len(problems) - 3} more" if len(problems) > 3 else ""
            )
            raise StorageError(
                f"backup failed: {len(problems)} artifact(s) missing or corrupt: {shown}. Repair "
                "or delete those runs (coinbt runs delete), or pass --allow-missing to record "
                "them in the manifest"
            )
        stored = [e["stored"] for e in entries]
        summary = {
            "artifacts": len(entries),
            "copied": stored.count("copy"),
            "referenced": stored.count("s3-version"),
            "missing": stored.count("missing"),
            "artifact_bytes": sum(int(e["bytes"]) for e in entries),
        }
        registry_info = {
            "dialect": dump.dialect,
            "url": hide_password(url),
            "schema": dump.schema,
            "revision": dump.revision,
            "method": dump.method,
            "native": dump.native,
            "native_skipped": dump.native_skipped,
            "tables": dump.tables,
            "runs": len(dump.runs),
            "excluded_deleting": dump.excluded_deleting,
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name,
            "created": created.isoformat(),
            "coinbt_version": __version__,
            "registry": registry_info,
            "summary": summary,
            "artifacts": entries,
        }
        for sub, _, _ in os.walk(work):
            fsync_dir(Path(sub))
        write_manifest(work, manifest)
        fsync_dir(work)
        final = folder / name
        os.rename(work, final)
        fsync_dir(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {
        "name": name,
        "path": str(final),
        "created": created.isoformat(),
        "registry": hide_password(url),
        "dialect": dump.dialect,
        "method": dump.method,
        "native_skipped": dump.native_skipped,
        "revision": dump.revision,
        "runs": len(dump.runs),
        **{k: summary[k] for k in ("artifacts", "copied", "referenced", "missing")},
        "bytes": folder_bytes(final),
        "seconds": round(time.perf_counter() - started, 3),
    }


def verify_backup(
    path: str | os.PathLike[str],
    *,
    dest: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Re-check every checksum of a backup.

    The manifest against ``manifest.json.sha256``, each registry dump file, each copied
    artifact, and each referenced S3 version (downloaded and hashed).  Artifacts recorded as
    missing when the backup was made count as problems too.  The outcome is also written to
    ``verified.json`` in the backup (shown by :func:`list_backups`).

    Parameters
    ----------
    path : str or Path
        The backup folder, or its name (or ``"latest"``) in ``dest``.
    dest : str or Path, optional
        Folder of backups, for a name.
    progress : bool, optional
        Progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    dict
        ``backup``, ``path``, ``ok`` (bool), ``problems`` (one line each), ``checked``
        (counts) and ``seconds``.
    """
    started = time.perf_counter()
    folder = resolve_backup(path, dest)
    problems: list[str] = []
    checked = {"registry_files": 0, "copied": 0, "referenced": 0, "missing": 0}
    try:
        manifest = read_manifest(folder)
    except StorageError as exc:
        manifest = None
        problems.append(str(exc))
    if manifest is not None:
        info = manifest["registry"]
        files = [(t, e) for t, e in info["tables"].items()]
        if info.get("native"):
            files.append(("native", info["native"]))
        for label, entry in files:
            checked["registry_files"] += 1
            file = folder / entry["file"]
            if not file.is_file():
                problems.append(f"registry dump {entry['file']} is missing")
            elif sha256_file(file) != entry["sha256"]:
                problems.append(f"registry dump {entry['file']} is damaged: SHA-256 differs")
            elif label in ("runs", "artifacts"):
                with open(file, "rb") as fh:
                    lines = sum(1 for _ in fh)
                if lines != entry["rows"]:
                    problems.append(f"{entry['file']}: {lines} rows, manifest says {entry['rows']}")
        sources = Sources()
        with progress_bar(len(manifest["artifacts"]), "verify", progress) as bar:
            for entry in manifest["artifacts"]:
                kind = {"copy": "copied", "s3-version": "referenced"}.get(
                    entry["stored"], "missing"
                )
                checked[kind] += 1
                try:
                    check_artifact(entry, folder, sources)
                except StorageError as exc:
                    problems.append(str(exc))
                bar.update(1)
    now = utc_now()
    with contextlib.suppress(OSError):  # a read-only copy of a backup can still be verified
        record = {"time": now.isoformat(), "ok": not problems, "problems": len(problems)}
        write_json(folder / VERIFIED, record)
    return {
        "backup": folder.name,
        "path": str(folder),
        "ok": not problems,
        "problems": problems,
        "checked": checked,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _created(folder: Path, manifest: dict[str, Any] | None) -> datetime:
    if manifest and manifest.get("created"):
        return datetime.fromisoformat(manifest["created"])
    try:
        return datetime.strptime(folder.name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(folder.stat().st_mtime, UTC)


def list_backups(dest: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The finished backups in ``dest``, oldest first.

    Returns
    -------
    list of dict
        Per backup: ``name``, ``path``, ``created``, ``runs``, ``artifacts``, ``copied``,
        ``referenced``, ``missing``, ``dialect``, ``method``, ``revision``, ``bytes`` and
        ``verified`` (the last ``verify``: ``{"time", "ok", "problems"}``, or None);
        ``problem`` instead of the counts when the manifest cannot be read.
    """
    import json

    out = []
    for folder in complete_backups(backup_dir(dest)):
        entry: dict[str, Any] = {"name": folder.name, "path": str(folder)}
        try:
            manifest: dict[str, Any] | None = read_manifest(folder)
        except StorageError as exc:
            manifest = None
            entry["problem"] = str(exc)
        if manifest is not None:
            info, summary = manifest["registry"], manifest["summary"]
            entry.update(
                runs=info["runs"],
                **{k: summary[k] for k in ("artifacts", "copied", "referenced", "missing")},
                dialect=info["dialect"],
                method=info["method"],
                revision=info["revision"],
            )
        entry["created"] = _created(folder, manifest).isoformat()
        entry["bytes"] = folder_bytes(folder)
        try:
            entry["verified"] = json.loads((folder / VERIFIED).read_text())
        except (OSError, ValueError):
            entry["verified"] = None
        out.append(entry)
    return sorted(out, key=lambda e: (e["created"], e["name"]))


def unfinished_backups(dest: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders left by an interrupted ``create`` or ``prune`` (hidden, never listed)."""
    folder = backup_dir(dest)
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith(".") and p.name.endswith((PARTIAL, REMOVING))
    )


def prune_backups(
    dest: str | os.PathLike[str] | None = None,
    *,
    keep: int | None = None,
    older_than: str | timedelta | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove old backups; the newest is never removed.

    Parameters
    ----------
    dest : str or Path, optional
        Folder of backups; default ``$COINBT_BACKUP_DIR`` or ``.coinbt/backups``.
    keep : int, optional
        Keep the newest ``keep`` backups (at least 1).
    older_than : str or timedelta, optional
        Remove only backups created longer ago than this (``"30d"``, ``"12h"``, …).  With
        ``keep`` too, a backup goes when it is outside the newest ``keep`` *and* older.
    dry_run : bool
        Report what would be removed and remove nothing.

    Returns
    -------
    dict
        ``removed`` and ``kept`` (backup names, oldest first), ``unfinished`` (leftover
        ``.partial`` folders older than a day and ``.removing`` folders, also removed) and
        ``dry_run``.

    Raises
    ------
    ConfigError
        When neither ``keep`` nor ``older_than`` is given, or ``keep`` < 1.
    """
    if keep is None and older_than is None:
        raise ConfigError("prune: give --keep N and/or --older-than AGE (e.g. 30d)", field="keep")
    if keep is not None and (isinstance(keep, bool) or int(keep) < 1):
        raise ConfigError(
            f"prune: --keep must be 1 or more (the newest backup is always kept), got {keep}",
            field="keep",
        )
    now = utc_now()
    cutoff = now - parse_duration(older_than) if older_than is not None else None
    backups = list_backups(dest)[::-1]  # newest first
    protected = max(int(keep or 1), 1)
    removed, kept = [], []
    for index, entry in enumerate(backups):
        old = cutoff is None or datetime.fromisoformat(entry["created"]) < cutoff
        (removed if index >= protected and old else kept).append(entry)
    leftovers = [
        p
        for p in unfinished_backups(dest)
        if p.name.endswith(REMOVING)
        or now - datetime.fromtimestamp(p.stat().st_mtime, UTC) > STALE_PARTIAL
    ]
    if not dry_run:
        for entry in removed:
            path = Path(entry["path"])
            gone = path.with_name(f".{path.name}{REMOVING}")
            try:
                os.rename(path, gone)  # from here on it no longer looks like a backup
            except FileNotFoundError:
                continue  # another prune took it
            except OSError as exc:
                raise StorageError(f"prune: cannot remove {path}: {exc}") from exc
            shutil.rmtree(gone, ignore_errors=True)
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)
    return {
        "removed": [e["name"] for e in removed][::-1],
        "kept": [e["name"] for e in kept][::-1],
        "unfinished": [p.name for p in leftovers],
        "dry_run": dry_run,
    }
