"""Import the predecessor's backtest results into the registry, and load them back.

``import_legacy(path, registry)`` reads the predecessor's data root — sync ``results/*.json``
with ``results/index.json`` and async ``tasks/<id>/result.json`` with ``manifest.json`` — checks
and converts every run (``legacy_format``), writes a checksummed backup of every file it read
(``legacy_backup``), then records each run as kind ``legacy``: artifacts first, then its row in
one transaction.  Run ids derive from the legacy run id, so a second import skips what the first
stored.  ``rollback_legacy(backup, registry)`` undoes an import.  See ``docs/legacy.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import make_url

from coinbt.errors import StorageError
from coinbt.storage.artifacts import document_bytes, table_bytes
from coinbt.storage.common import hide_password, metric_value, sha256_bytes
from coinbt.storage.legacy_backup import (
    DEFAULT_BACKUP_DIR,
    IMPORT_TAG,
    Backup,
    RollbackReport,
    rollback_legacy,
    write_backup,
)
from coinbt.storage.legacy_files import Item, convert_item, discover, legacy_root, safe_id
from coinbt.storage.legacy_format import (
    LEGACY_ENGINE,
    Converted,
    LegacyFileError,
    legacy_run_id,
)
from coinbt.storage.models import METRIC_COLUMNS, Run

__all__ = [
    "DEFAULT_BACKUP_DIR",
    "ImportReport",
    "LegacyRun",
    "RollbackReport",
    "import_legacy",
    "legacy_run_id",
    "load_legacy_run",
    "rollback_legacy",
]

_PROGRESS_FROM = 20  # show a progress bar from this many runs on


# -- report ------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One line of the import report: a legacy run (or a file that could not be read)."""

    source: str
    status: str  # imported, would_import, skipped or failed
    legacy_run_id: str | None = None
    run_id: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What ``import_legacy`` found and did; ``failed`` entries carry the reason."""

    source: str
    registry: str
    dry_run: bool
    entries: list[Entry] = field(default_factory=list)
    backup: str | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "total": len(self.entries),
            "imported": self.count("imported"),
            "would_import": self.count("would_import"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "registry": self.registry,
            "dry_run": self.dry_run,
            "backup": self.backup,
            **self.counts,
            "notes": self.notes,
            "entries": [e.__dict__ for e in self.entries],
        }


# -- the registry side ---------------------------------------------------------------------------


def _existing(registry: Any, dry_run: bool) -> dict[str, str]:
    """``run_id → status`` of legacy runs already stored; a dry run never creates or migrates."""
    if not dry_run:
        with registry.engine.connect() as conn:
            return dict(
                conn.execute(select(Run.run_id, Run.status).where(Run.kind == "legacy")).all()
            )
    url = make_url(registry.url)
    if url.get_backend_name() == "sqlite":
        db = url.database
        if not db or db == ":memory:" or not Path(db).expanduser().is_file():
            return {}
    engine = create_engine(registry.url)
    try:
        if not inspect(engine).has_table("runs"):
            return {}
        with engine.connect() as conn:
            return dict(
                conn.execute(select(Run.run_id, Run.status).where(Run.kind == "legacy")).all()
            )
    finally:
        engine.dispose()


def _row(conv: Converted, registry: Any, backup_id: str) -> dict[str, Any]:
    spec = conv.spec

    def when(ts: pd.Timestamp | None) -> datetime | None:
        return None if ts is None else ts.to_pydatetime()

    row: dict[str, Any] = {
        "run_id": conv.run_id,
        "kind": "legacy",
        "status": conv.status,
        "created": datetime.now(UTC),
        "started": when(conv.started),
        "finished": when(conv.finished),
        "strategy": str(spec["strategy"])[:128],
        "params": spec["params"],
        "exchange": spec["exchange"],
        "symbol": conv.symbols[0],
        "symbols": conv.symbols,
        "timeframe": conv.timeframe,
        "start": None if spec["start"] is None else str(spec["start"])[:40],
        "end": None if spec["end"] is None else str(spec["end"])[:40],
        "engine": dict(LEGACY_ENGINE),
        "data_fingerprint": None,
        "coinbt_version": None,
        "artifact_uri": registry.store.run_uri(conv.run_id),
        "parent_run_id": None,
        "notebook_uri": None,
        "tags": ["legacy", f"legacy:{conv.legacy_id}", IMPORT_TAG + backup_id],
        "error": conv.error,
    }
    for column, key in METRIC_COLUMNS.items():
        value = metric_value(conv.stats, key)
        row[column] = int(value) if column == "n_trades" and value is not None else value
    return row


def _store(registry: Any, conv: Converted, raw: dict[str, bytes], backup_id: str) -> bool:
    """Artifacts first, then the row (one transaction); False when the run appeared meanwhile."""
    put = registry.store.put
    run_id = conv.run_id
    try:
        infos = [
            put(run_id, "signals.parquet", table_bytes(conv.signals), len(conv.signals)),
            put(run_id, "symbols.parquet", table_bytes(conv.symbol_table), len(conv.symbol_table)),
            put(run_id, "spec.json", document_bytes(conv.spec)),
            put(run_id, "stats.json", document_bytes(conv.stats)),
            *(put(run_id, name, data) for name, data in sorted(raw.items())),
        ]
        return registry.insert_run(_row(conv, registry, backup_id), infos)
    except Exception:
        if not registry.exists(run_id):
            with contextlib.suppress(OSError, StorageError):  # no artifacts without a row
                registry.store.delete_run(run_id)
        raise


# -- import ----------------------------------------------------------------------------------------


def import_legacy(
    path: str | os.PathLike[str],
    registry: Any,
    *,
    backup_dir: str | os.PathLike[str] = DEFAULT_BACKUP_DIR,
    dry_run: bool = False,
    progress: bool = False,
) -> ImportReport:
    """Import the predecessor's results into ``registry`` as ``legacy`` runs.

    Parameters
    ----------
    path : str or Path
        The predecessor's data root holding ``results/`` and/or ``tasks/`` (or one of those
        two folders).
    registry : Registry
        Where to record the runs (its artifact store receives the artifacts).
    backup_dir : str or Path
        Folder for the backup tarball and its sidecar (``.coinbt/legacy-backups``).
    dry_run : bool
        Read and check everything, write nothing (no backup, no artifact, no row, not even an
        empty registry database).
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    ImportReport
        One entry per legacy run (``imported``/``would_import``, ``skipped`` or ``failed``
        with its reason) and the backup's sidecar path (None when nothing was written).

    Raises
    ------
    ConfigError
        ``path`` does not exist or holds no legacy results.
    StorageError
        The backup cannot be written (then nothing is imported).

    Examples
    --------
    >>> report = import_legacy("/data", Registry())  # doctest: +SKIP
    >>> report.counts  # doctest: +SKIP
    {'total': 12, 'imported': 11, 'would_import': 0, 'skipped': 0, 'failed': 1}
    """
    root, parts = legacy_root(path)
    report = ImportReport(str(root), hide_password(registry.url), dry_run)
    items, shas = discover(root, parts, report.notes)
    existing = _existing(registry, dry_run)
    planned: list[tuple[Item, Entry]] = []
    seen: dict[str, str] = {}
    for item in _progress(items, progress, "checking"):
        entry = _plan(root, item, existing, seen, registry, dry_run)
        shas.update(item.shas)
        report.entries.append(entry)
        if entry.status == "would_import":
            planned.append((item, entry))
    if dry_run or not planned:
        if not dry_run:
            report.notes.append("nothing to import, so no backup was written")
        return report
    backup = write_backup(
        root,
        shas,
        backup_dir,
        registry_url=registry.url,
        store=registry.store,
        planned=[e.run_id for _, e in planned],
    )
    report.backup = str(backup.sidecar)
    finished = False
    try:
        for item, entry in _progress(planned, progress, "importing"):
            _import_one(root, item, entry, registry, backup, existing)
        finished = True
    finally:  # the sidecar lists what was added even when the import is interrupted
        backup.data["added_runs"] = [
            {"run_id": e.run_id, "legacy_run_id": e.legacy_run_id, "source": e.source}
            for e in report.entries
            if e.status == "imported"
        ]
        backup.data["status"] = "complete" if finished else "interrupted"
        backup.data["report"] = report.counts
        backup.save()
    return report


def _progress(items: list, enabled: bool, desc: str) -> Any:
    if not enabled or len(items) < _PROGRESS_FROM:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="run", leave=False)


def _plan(
    root: Path,
    item: Item,
    existing: dict[str, str],
    seen: dict[str, str],
    registry: Any,
    dry_run: bool,
) -> Entry:
    entry = Entry(item.source, "failed")
    if item.kind == "missing":
        entry.reason = item.reason
        if item.index_entry is not None:
            entry.legacy_run_id = safe_id(item.index_entry["run_id"])
            entry.run_id = legacy_run_id(entry.legacy_run_id)
        return entry
    try:
        conv, raw = convert_item(root, item, None)
    except LegacyFileError as exc:
        entry.reason = _relative(exc, item)
        return entry
    entry.legacy_run_id, entry.run_id, entry.notes = conv.legacy_id, conv.run_id, conv.notes
    if conv.status == "failed":
        entry.notes.append(f"the legacy task failed: {conv.error}")
    if conv.run_id in seen:
        entry.status = "skipped"
        entry.reason = f"same legacy run {conv.legacy_id} as {seen[conv.run_id]}"
        return entry
    seen[conv.run_id] = item.source
    status = existing.get(conv.run_id)
    if status is not None and status != "deleting":
        entry.status = "skipped"
        entry.reason = f"already imported as run {conv.run_id}"
        if not dry_run and "legacy.json" in raw:
            stored = registry.artifacts(conv.run_id).get("legacy.json", {}).get("sha256")
            if stored is not None and stored != sha256_bytes(raw["legacy.json"]):
                entry.notes.append(
                    "the file differs from the imported copy; to replace it, delete run "
                    f"{conv.run_id} (coinbt runs delete) and import again"
                )
        return entry
    entry.status = "would_import"
    return entry


def _relative(exc: LegacyFileError, item: Item) -> str:
    """The reason, naming the file relative to the report's source column."""
    if exc.path == item.source:
        return exc.reason
    if exc.path.startswith(item.source + "/"):
        return f"{exc.path[len(item.source) + 1 :]}: {exc.reason}"
    return str(exc)


def _import_one(
    root: Path, item: Item, entry: Entry, registry: Any, backup: Backup, existing: dict
) -> None:
    expected = {f["path"]: f["sha256"] for f in backup.data["files"]}
    try:
        conv, raw = convert_item(root, item, expected)
        if existing.get(conv.run_id) == "deleting":
            registry.delete(conv.run_id)  # finish a crashed delete, then import afresh
        if _store(registry, conv, raw, backup.backup_id):
            entry.status = "imported"
        else:
            entry.status = "skipped"
            entry.reason = f"imported meanwhile by another process as run {conv.run_id}"
    except LegacyFileError as exc:
        entry.status, entry.reason = "failed", _relative(exc, item)
    except StorageError as exc:
        entry.status, entry.reason = "failed", f"could not store run {entry.run_id}: {exc}"


# -- loading -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegacyRun:
    """An imported legacy run as :meth:`Registry.load` returns it.

    Attributes
    ----------
    run_id : str
        The coinbt run id (``legacy_run_id(legacy id)``).
    spec : dict
        The legacy request in coinbt's shape; ``spec["legacy"]`` holds the original ids,
        paths, version, dates, metadata and status.
    stats : dict
        Run-level figures in coinbt units (``docs/legacy.md``); None where undefined.
    signals : DataFrame
        One row per legacy signal: ``time`` (UTC), ``symbol``, ``side``, ``entry_price``,
        ``exit_price`` (NaN when the predecessor left it null), ``return`` (fraction, NaN when
        open) and ``closed``.
    symbols : DataFrame
        One row per symbol: ``win_rate``, ``avg_return`` (fraction), ``max_drawdown``
        (fraction ≤ 0, the predecessor's additive definition), ``avg_hold_bars``,
        ``is_active``, signal counts.
    document : dict or None
        The predecessor's result document exactly as stored (None for a failed task).
    manifest : dict or None
        The task's ``manifest.json`` (async runs only).
    """

    run_id: str
    spec: dict[str, Any]
    stats: dict[str, Any]
    signals: pd.DataFrame
    symbols: pd.DataFrame
    document: dict[str, Any] | None
    manifest: dict[str, Any] | None

    @property
    def legacy_run_id(self) -> str:
        return self.spec["legacy"]["run_id"]

    @property
    def status(self) -> str:
        """``completed`` or ``failed``, as the predecessor recorded it."""
        return self.spec["legacy"]["status"]

    def __repr__(self) -> str:
        return (
            f"<LegacyRun {self.run_id} legacy {self.legacy_run_id} {self.spec['strategy']} "
            f"{','.join(self.spec['symbols'])} {self.spec['timeframe']} {self.status} "
            f"{len(self.signals)} signals>"
        )


def load_legacy_run(registry: Any, run_id: str) -> LegacyRun:
    """A stored legacy run, every artifact checked against its recorded SHA-256."""
    recorded = registry.artifacts(run_id)
    store = registry.store

    def sha(name: str) -> str:
        if name not in recorded:
            raise StorageError(f"run {run_id}: the registry lists no artifact {name}")
        return recorded[name]["sha256"]

    def original(name: str) -> Any:
        if name not in recorded:
            return None
        data = store.get(run_id, name, sha(name))
        try:
            return json.loads(data)
        except ValueError as exc:
            raise StorageError(f"run {run_id}: artifact {name} is not JSON: {exc}") from exc

    return LegacyRun(
        run_id=run_id,
        spec=store.read_document(run_id, "spec", sha("spec.json")),
        stats=store.read_document(run_id, "stats", sha("stats.json")),
        signals=store.read_table(run_id, "signals", sha("signals.parquet")),
        symbols=store.read_table(run_id, "symbols", sha("symbols.parquet")),
        document=original("legacy.json"),
        manifest=original("legacy_manifest.json"),
    )
