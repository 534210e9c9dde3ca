"""Backups taken by ``coinbt legacy import`` and the rollback that undoes an import.

A backup is two files in the backup folder (default ``.coinbt/legacy-backups/``):

* ``<id>.tar.gz`` — every legacy file the import read, under its path relative to the legacy
  data root (``results/index.json``, ``tasks/<uuid>/result.json``, …), with its modification time;
* ``<id>.json`` — the sidecar: the tarball's SHA-256, each original file's SHA-256 and size, the
  registry and artifact store imported into, the run ids the import planned and added, and a
  record of every rollback.  It is rewritten atomically (temporary file + rename).

Every run an import adds carries the tag ``legacy-import:<id>``, so a rollback removes exactly
those runs — even after an import that was interrupted before it could list them.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from coinbt import __version__
from coinbt.errors import ConfigError, StorageError
from coinbt.storage.common import hide_password, sha256_bytes, sha256_file, write_atomic
from coinbt.storage.models import Run

FORMAT = "coinbt-legacy-backup"
FORMAT_VERSION = 1
DEFAULT_BACKUP_DIR = ".coinbt/legacy-backups"
IMPORT_TAG = "legacy-import:"
_NOT_A_BACKUP = (
    "expected the .json (or .tar.gz) that `coinbt legacy import` wrote, e.g. "
    f"{DEFAULT_BACKUP_DIR}/legacy-20260131T120000Z-1a2b3c4d.json"
)


def store_location(store: Any) -> str:
    """The artifact store as text (``LocalStore('/abs/path')``, ``S3Store('s3://b/p')``)."""
    return repr(store)


@dataclass
class Backup:
    """A backup on disk: its id, tarball, sidecar and the sidecar's content."""

    backup_id: str
    tarball: Path
    sidecar: Path
    data: dict[str, Any]

    def save(self) -> None:
        """Rewrite the sidecar atomically."""
        text = json.dumps(self.data, indent=2, sort_keys=False, allow_nan=False) + "\n"
        try:
            write_atomic(self.sidecar, text.encode())
        except OSError as exc:
            raise StorageError(f"cannot write the backup sidecar {self.sidecar}: {exc}") from exc


def write_backup(
    root: Path,
    files: dict[str, str],
    backup_dir: str | os.PathLike[str],
    *,
    registry_url: str,
    store: Any,
    planned: list[str],
) -> Backup:
    """Tar every file (relative to ``root``) and write the sidecar with status ``importing``.

    Each file is read again and must still have the SHA-256 the import computed while
    planning; otherwise nothing is written and :class:`StorageError` says which file changed.
    """
    folder = Path(backup_dir).expanduser().resolve()
    now = datetime.now(UTC)
    backup_id = f"legacy-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    tarball = folder / f"{backup_id}.tar.gz"
    records = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{backup_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                    for rel in sorted(files):
                        path = root / rel
                        data = path.read_bytes()
                        if sha256_bytes(data) != files[rel]:
                            raise StorageError(
                                f"{path} changed while the import was reading it; nothing was "
                                "imported and no backup kept: run the import again"
                            )
                        info = tarfile.TarInfo(rel)
                        info.size = len(data)
                        info.mtime = int(path.stat().st_mtime)
                        info.mode = 0o644
                        tar.addfile(info, io.BytesIO(data))
                        records.append({"path": rel, "sha256": files[rel], "bytes": len(data)})
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, tarball)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StorageError(f"cannot write the legacy backup in {folder}: {exc}") from exc
    backup = Backup(
        backup_id,
        tarball,
        folder / f"{backup_id}.json",
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "backup_id": backup_id,
            "created": now.isoformat(),
            "coinbt_version": __version__,
            "source": str(root.resolve()),
            "tarball": tarball.name,
            "tarball_sha256": sha256_file(tarball),
            "tarball_bytes": tarball.stat().st_size,
            "registry": hide_password(registry_url),
            "artifacts": store_location(store),
            "files": records,
            "status": "importing",
            "planned_runs": list(planned),
            "added_runs": [],
            "report": None,
            "rollbacks": [],
        },
    )
    try:
        backup.save()
    except StorageError:
        tarball.unlink(missing_ok=True)
        raise
    return backup


def open_backup(path: str | os.PathLike[str]) -> Backup:
    """The backup named by its sidecar ``.json`` or its ``.tar.gz`` (user errors: ConfigError)."""
    given = Path(path).expanduser()
    if given.name.endswith(".tar.gz"):
        sidecar = given.with_name(given.name[: -len(".tar.gz")] + ".json")
    elif given.suffix == ".json":
        sidecar = given
    else:
        raise ConfigError(f"{given} is not a coinbt legacy backup; {_NOT_A_BACKUP}", field="backup")
    if not given.is_file():
        raise ConfigError(f"backup {given} does not exist; {_NOT_A_BACKUP}", field="backup")
    if not sidecar.is_file():
        raise ConfigError(
            f"backup {given}: its sidecar {sidecar.name} is missing; {_NOT_A_BACKUP}",
            field="backup",
        )
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{sidecar} is not a coinbt legacy backup ({exc}); {_NOT_A_BACKUP}", field="backup"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(
            f"{sidecar} is not a coinbt legacy backup; {_NOT_A_BACKUP}", field="backup"
        )
    missing = [k for k in ("backup_id", "tarball", "tarball_sha256", "files") if k not in data]
    if missing:
        raise ConfigError(
            f"{sidecar} is a damaged coinbt legacy backup: it lacks {', '.join(missing)}",
            field="backup",
        )
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"{sidecar}: backup format {data.get('format_version')!r} is not {FORMAT_VERSION}; "
            "use the coinbt version that wrote it",
            field="backup",
        )
    return Backup(data["backup_id"], sidecar.parent / data["tarball"], sidecar, data)


def verified_members(backup: Backup) -> dict[str, tuple[bytes, float]]:
    """Original files from the tarball (bytes, mtime), after checking every SHA-256."""
    tarball, data = backup.tarball, backup.data
    if not tarball.is_file():
        raise StorageError(f"backup {backup.backup_id}: tarball {tarball} is missing")
    actual = sha256_file(tarball)
    if actual != data["tarball_sha256"]:
        raise StorageError(
            f"backup {backup.backup_id}: tarball {tarball} has SHA-256 {actual}, not the "
            f"{data['tarball_sha256']} recorded in {backup.sidecar.name}; it is damaged, so "
            "nothing was changed. Use an intact copy of the tarball"
        )
    members: dict[str, tuple[bytes, float]] = {}
    try:
        with tarfile.open(tarball, mode="r:gz") as tar:
            for info in tar.getmembers():
                name = PurePosixPath(info.name)
                if not info.isfile() or name.is_absolute() or ".." in name.parts:
                    raise StorageError(f"backup {tarball}: unexpected member {info.name!r}")
                fh = tar.extractfile(info)
                members[info.name] = (fh.read() if fh is not None else b"", float(info.mtime))
    except (OSError, tarfile.TarError) as exc:
        raise StorageError(f"backup {tarball} cannot be read: {exc}") from exc
    for record in data["files"]:
        body = members.get(record["path"], (None, 0.0))[0]
        if body is None or sha256_bytes(body) != record["sha256"]:
            raise StorageError(
                f"backup {tarball}: {record['path']} is missing or differs from its recorded "
                "SHA-256; nothing was changed"
            )
    return members


@dataclass
class RollbackReport:
    """What ``rollback_legacy`` did: runs removed, runs already gone, originals checked."""

    backup_id: str
    source: str
    removed: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    originals: list[dict[str, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[dict[str, str]]:
        """Originals still modified or missing after the rollback."""
        return [o for o in self.originals if o["state"] in ("modified", "missing")]

    @property
    def changed(self) -> bool:
        restored = any(o["state"] == "restored" for o in self.originals)
        return bool(self.removed or self.orphans_removed or restored)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "source": self.source,
            "removed": self.removed,
            "already_gone": self.already_gone,
            "orphans_removed": self.orphans_removed,
            "originals": self.originals,
            "changed": self.changed,
        }


def _tagged_runs(registry: Any, backup_id: str) -> list[str]:
    """Run ids (including half-deleted ones) carrying ``legacy-import:<backup_id>``."""
    tag = IMPORT_TAG + backup_id
    with registry.engine.connect() as conn:
        rows = conn.execute(select(Run.run_id, Run.tags).where(Run.kind == "legacy")).all()
    return sorted(run_id for run_id, tags in rows if tag in (tags or []))


def rollback_legacy(
    backup: str | os.PathLike[str],
    registry: Any,
    *,
    restore_originals: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> RollbackReport:
    """Undo a legacy import: remove the runs it added, then check the original files.

    Parameters
    ----------
    backup : str or Path
        The backup's sidecar ``.json`` (or its ``.tar.gz``) written by the import.
    registry : Registry
        The registry (and artifact store) the import wrote to; checked against the backup.
    restore_originals : bool
        Put back every original file that is missing or differs from its recorded SHA-256,
        from the tarball (written atomically, modification time restored).
    source : str or Path, optional
        Where the legacy files are now, when the folder moved since the import.

    Returns
    -------
    RollbackReport
        Safe to call again: a second rollback removes nothing and says so.

    Raises
    ------
    ConfigError
        ``backup`` is not a coinbt legacy backup, or belongs to another registry/store.
    StorageError
        The tarball is missing or damaged (nothing is changed), or a run cannot be deleted.
    """
    found = open_backup(backup)
    data = found.data
    members = verified_members(found)
    url, where = hide_password(registry.url), store_location(registry.store)
    if data["registry"] != url or data["artifacts"] != where:
        raise ConfigError(
            f"backup {found.backup_id} was imported into registry {data['registry']} with "
            f"artifacts {data['artifacts']}, not {url} with {where}; pass --registry and "
            "--artifacts (or COINBT_REGISTRY_URL / COINBT_ARTIFACTS_URI) for that registry",
            field="registry",
        )
    report = RollbackReport(found.backup_id, str(source or data["source"]))
    tagged = _tagged_runs(registry, found.backup_id)
    for run_id in tagged:
        registry.delete(run_id)  # hides the row, removes artifacts, then the rows
        report.removed.append(run_id)
    listed = [r["run_id"] for r in data["added_runs"]]
    report.already_gone = sorted(set(listed) - set(tagged))
    if data["status"] != "complete":  # interrupted: artifacts may have no row
        for run_id in data["planned_runs"]:
            if run_id not in tagged and not registry.exists(run_id):
                registry.store.delete_run(run_id)
                report.orphans_removed.append(run_id)
    root = Path(report.source)
    for record in data["files"]:
        path = root / record["path"]
        state = "ok"
        if not path.is_file():
            state = "missing"
        elif sha256_file(path) != record["sha256"]:
            state = "modified"
        if state != "ok" and restore_originals:
            body, mtime = members[record["path"]]
            try:
                write_atomic(path, body, mtime)
            except OSError as exc:
                raise StorageError(
                    f"cannot restore {path} from backup {found.backup_id}: {exc}; the runs were "
                    "already removed, fix the folder's permissions and roll back again"
                ) from exc
            state = "restored"
        report.originals.append({"path": record["path"], "state": state})
    data["rollbacks"].append(
        {
            "time": datetime.now(UTC).isoformat(),
            "removed": report.removed,
            "already_gone": report.already_gone,
            "originals": {o["path"]: o["state"] for o in report.originals if o["state"] != "ok"},
        }
    )
    found.save()
    return report
