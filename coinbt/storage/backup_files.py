"""The files of a backup: its folder layout, manifest, and the artifacts it copies or references.

Layout of one backup ``<dest>/<YYYYmmddTHHMMSSZ>-<id>/``::

    manifest.json            what the backup holds (see docs/operations.md)
    manifest.json.sha256     SHA-256 of manifest.json
    registry/registry.sqlite | registry/registry.pgdump     native dump (when made)
    registry/runs.jsonl, registry/artifacts.jsonl           logical export (always)
    artifacts/<run_id>/<name>                               copied artifacts
    verified.json            result of the last ``verify`` (not part of the backup proper)

While it is written the folder is ``<dest>/.<name>.partial``; it is renamed when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from coinbt.errors import StorageError
from coinbt.storage.common import write_atomic

FORMAT = "coinbt-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SHA = "manifest.json.sha256"
VERIFIED = "verified.json"
PARTIAL = ".partial"
REMOVING = ".removing"
DEST_ENV = "COINBT_BACKUP_DIR"
DEFAULT_DEST = ".coinbt/backups"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def backup_dir(dest: str | os.PathLike[str] | None = None) -> Path:
    """``dest``, else ``$COINBT_BACKUP_DIR``, else ``.coinbt/backups``."""
    text = os.fspath(dest) if dest is not None else os.environ.get(DEST_ENV) or DEFAULT_DEST
    return Path(text).expanduser()


def utc_now() -> datetime:
    return datetime.now(UTC)


def progress_bar(total: int, desc: str, progress: bool | None) -> Any:
    """A tqdm bar on stderr; ``progress=None`` shows it only when stderr is a terminal."""
    from tqdm.auto import tqdm

    enabled = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(
        total=total, desc=desc, unit="file", file=sys.stderr, disable=not enabled, leave=False
    )


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, value: Any) -> bytes:
    """Write ``value`` as JSON through a temporary file and a rename; returns the bytes."""
    data = (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
    write_atomic(path, data)
    return data


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    data = write_json(folder / MANIFEST, manifest)
    digest = hashlib.sha256(data).hexdigest()
    (folder / MANIFEST_SHA).write_text(f"{digest}  {MANIFEST}\n")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the backup in ``folder``, checked against its SHA-256 file.

    Raises
    ------
    StorageError
        When ``folder`` is not a complete backup, or its manifest was changed or damaged.
    """
    path = folder / MANIFEST
    if folder.name.endswith(PARTIAL):
        raise StorageError(
            f"{folder} is an unfinished backup (a `backup create` was interrupted); it cannot "
            "be used. `coinbt backup prune` removes it after a day."
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StorageError(f"{folder} is not a coinbt backup: it has no {MANIFEST}") from None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    try:
        recorded = (folder / MANIFEST_SHA).read_text().split()[0]
    except (OSError, IndexError):
        raise StorageError(f"{folder}: {MANIFEST_SHA} is missing or empty") from None
    if hashlib.sha256(data).hexdigest() != recorded:
        raise StorageError(
            f"{path} was changed or damaged: its SHA-256 does not match {MANIFEST_SHA}"
        )
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise StorageError(f"{path} is not JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise StorageError(f"{path} is not a coinbt backup manifest")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise StorageError(
            f"{folder} was written by a newer coinbt (backup format "
            f"{manifest.get('format_version')}); upgrade coinbt to read it"
        )
    return manifest


# -- artifact sources -----------------------------------------------------------------------------


class Sources:
    """Where artifacts come from: local files and S3 objects (one client, cached lookups)."""

    def __init__(self) -> None:
        self._client: Any = None
        self._versioning: dict[str, str | None] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            from coinbt.storage.s3 import make_client

            self._client = make_client()
        return self._client

    def versioned(self, bucket: str) -> bool:
        if bucket not in self._versioning:
            from coinbt.storage.s3 import bucket_versioning

            self._versioning[bucket] = bucket_versioning(self.client, bucket)
        return self._versioning[bucket] == "Enabled"


def local_path(uri: str) -> Path:
    """The file of a ``file://`` URI (or a plain path)."""
    if uri.startswith("file://"):
        return Path(unquote(urlparse(uri).path))
    return Path(uri)


def artifact_path(run_id: str, name: str, sha256: str) -> str:
    """Where a copied artifact lives inside the backup (relative, POSIX)."""
    if _SAFE.match(run_id) and _SAFE.match(name):
        return f"artifacts/{run_id}/{name}"
    return f"artifacts/_other/{sha256}"  # odd names never escape the folder


def _corrupt(run_id: str, name: str, got: str, want: str, where: Any) -> StorageError:
    return StorageError(
        f"run {run_id}: artifact {name} is corrupt: SHA-256 {got} at {where} does not match "
        f"the recorded {want}"
    )


def _copy_file(src: Path, dst: Path, run_id: str, name: str, sha256: str) -> int:
    """Copy ``src`` to ``dst`` hashing on the way; raise unless the SHA-256 matches."""
    h = hashlib.sha256()
    size = 0
    try:
        with open(src, "rb") as fi, open(dst, "wb") as fo:
            for chunk in iter(lambda: fi.read(1 << 20), b""):
                h.update(chunk)
                fo.write(chunk)
                size += len(chunk)
            fo.flush()
            os.fsync(fo.fileno())
    except FileNotFoundError:
        dst.unlink(missing_ok=True)
        raise StorageError(f"run {run_id}: artifact {name} is missing (expected {src})") from None
    except OSError as exc:
        dst.unlink(missing_ok=True)
        raise StorageError(f"run {run_id}: could not copy artifact {name} ({exc})") from exc
    if h.hexdigest() != sha256:
        dst.unlink(missing_ok=True)
        raise _corrupt(run_id, name, h.hexdigest(), sha256, src)
    return size


def stash_artifact(
    row: Mapping[str, Any], folder: Path, sources: Sources, *, copy_s3: bool
) -> dict[str, Any]:
    """Put one artifact into the backup: copy it, or reference its S3 version.

    ``row`` is the registry's artifact row (run_id, name, uri, bytes, rows, sha256).  A local
    file is copied; an object in a bucket with versioning enabled is referenced by the version
    id that holds the recorded bytes (downloaded once to check them), unless ``copy_s3``; any
    other object is copied.  Raises :class:`StorageError` naming the run and the artifact when
    it is missing or its SHA-256 differs.
    """
    run_id, name, uri, sha256 = row["run_id"], row["name"], row["uri"], row["sha256"]
    entry = {k: row[k] for k in ("run_id", "name", "uri", "bytes", "rows", "sha256")}
    rel = artifact_path(run_id, name, sha256)
    target = folder / rel
    if uri.startswith("s3://"):
        from coinbt.storage.s3 import parse_s3_uri, read_object

        bucket, key = parse_s3_uri(uri)
        try:
            data, version = read_object(sources.client, bucket, key, sha256=sha256)
        except StorageError as exc:
            raise StorageError(f"run {run_id}: artifact {name}: {exc}") from None
        if version is not None and not copy_s3 and sources.versioned(bucket):
            return entry | {
                "stored": "s3-version",
                "bucket": bucket,
                "key": key,
                "version_id": version,
            }
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_file(local_path(uri), target, run_id, name, sha256)
    return entry | {"stored": "copy", "path": rel}


def fetch_artifact(entry: Mapping[str, Any], folder: Path, sources: Sources) -> bytes:
    """The bytes of one artifact of the backup, checked against its SHA-256."""
    run_id, name, sha256 = entry["run_id"], entry["name"], entry["sha256"]
    stored = entry.get("stored")
    if stored == "copy":
        path = folder / entry["path"]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StorageError(
                f"run {run_id}: artifact {name} is missing from the backup (expected {path})"
            ) from None
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise _corrupt(run_id, name, got, sha256, path)
        return data
    if stored == "s3-version":
        from coinbt.storage.s3 import read_object

        try:
            data, _ = read_object(
                sources.client,
                entry["bucket"],
                entry["key"],
                version_id=entry["version_id"],
                sha256=sha256,
            )
        except StorageError as exc:
            raise StorageError(f"run {run_id}: artifact {name}: {exc}") from None
        return data
    raise StorageError(
        f"run {run_id}: artifact {name} is not in the backup "
        f"({entry.get('problem') or 'it was missing when the backup was made'})"
    )


def check_artifact(entry: Mapping[str, Any], folder: Path, sources: Sources) -> None:
    """Raise :class:`StorageError` unless the artifact in the backup has its SHA-256."""
    if entry.get("stored") != "copy":
        fetch_artifact(entry, folder, sources)
        return
    path = folder / entry["path"]
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise StorageError(
            f"run {entry['run_id']}: artifact {entry['name']} is missing from the backup "
            f"(expected {path})"
        ) from None
    if h.hexdigest() != entry["sha256"]:
        raise _corrupt(entry["run_id"], entry["name"], h.hexdigest(), entry["sha256"], path)


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed meanwhile
                total += (Path(root) / name).stat().st_size
    return total


# -- finding backups ------------------------------------------------------------------------------


def _created(folder: Path) -> str:
    try:
        return str(json.loads((folder / MANIFEST).read_bytes()).get("created") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def complete_backups(dest: Path) -> list[Path]:
    """Folders of ``dest`` that look like finished backups (a manifest, not hidden), oldest first."""
    if not dest.is_dir():
        return []
    found = [
        p
        for p in dest.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()
    ]
    return sorted(found, key=lambda p: (_created(p), p.name))


def resolve_backup(ref: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None) -> Path:
    """The backup folder for ``ref``: a path, a name in ``dest``, or ``"latest"``.

    Raises
    ------
    StorageError
        When nothing matches (with the known names and the closest one).
    """
    from coinbt.errors import did_you_mean

    text = os.fspath(ref)
    folder = backup_dir(dest)
    found = complete_backups(folder)
    if text == "latest":
        if not found:
            raise StorageError(f"no backups in {folder}; make one with `coinbt backup create`")
        return found[-1]
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if (folder / text).is_dir():
        return folder / text
    names = [p.name for p in found]
    shown = ", ".join(names[-5:]) if names else "none"
    raise StorageError(
        f"no backup {text!r} (not a folder, not a name in {folder}); backups there: {shown}."
        f"{did_you_mean(text, names)}"
    )
