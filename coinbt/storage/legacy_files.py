"""Finding and reading the predecessor's files: ``results/`` with ``index.json``, ``tasks/``.

``discover(path)`` lists what a legacy data root holds as :class:`Item` s (a sync result file, a
task folder, or an ``index.json`` entry whose file is missing); ``convert_item`` reads one item's
files — checking each against an expected SHA-256 when given, and a task's ``result.json``
against the MD5 in its ``manifest.json`` — and converts it with ``legacy_format``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coinbt.errors import ConfigError
from coinbt.storage.common import sha256_bytes
from coinbt.storage.legacy_format import (
    Converted,
    LegacyFileError,
    canonical_legacy_id,
    convert_failed_task,
    convert_result,
    index_symbols,
    parse_json,
)

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")

# -- finding the files ---------------------------------------------------------------------------


@dataclass
class Item:
    """A legacy run to read: a sync result file, a task folder, or an index-only entry."""

    kind: str  # results, tasks or missing
    source: str
    index_entry: dict[str, Any] | None = None
    reason: str | None = None
    shas: dict[str, str] = field(default_factory=dict)


def legacy_root(path: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """The data root and which of ``results``/``tasks`` to read (PATH may be either folder)."""
    given = Path(path).expanduser()
    expected = (
        "expected the predecessor's data root (its DATA_ROOT, e.g. /data) holding results/ "
        "and/or tasks/"
    )
    if not given.exists():
        raise ConfigError(f"legacy path {given} does not exist; {expected}", field="path")
    if not given.is_dir():
        raise ConfigError(f"legacy path {given} is a file, not a folder; {expected}", field="path")
    given = given.resolve()
    parts = [p for p in ("results", "tasks") if (given / p).is_dir()]
    if not parts and given.name in ("results", "tasks"):
        return given.parent, [given.name]
    if not parts:
        raise ConfigError(
            f"legacy path {given} has no results/ or tasks/ folder; {expected}", field="path"
        )
    return given, parts


def discover(root: Path, parts: list[str], notes: list[str]) -> tuple[list[Item], dict]:
    """Every legacy run under ``root`` and the SHA-256 of the files read so far (the index)."""
    items: list[Item] = []
    shas: dict[str, str] = {}  # every file read: relative path → SHA-256
    if "results" in parts:
        files = sorted(
            p for p in (root / "results").glob("*.json") if p.name != "index.json" and p.is_file()
        )
        index, index_ok = _read_index(root, shas, notes, items)
        listed = set()
        for p in files:
            rel = f"results/{p.name}"
            entry = index.get(p.stem) or index.get(safe_id(p.stem))
            if entry is not None:
                listed.add(entry["run_id"])
            item = Item("results", rel, index_entry=entry)
            if entry is None and index_ok:
                item.reason = "not listed in results/index.json"
            items.append(item)
        for run_id, entry in index.items():
            if run_id not in listed and run_id == entry["run_id"]:
                items.append(
                    Item(
                        "missing",
                        "results/index.json",
                        index_entry=entry,
                        reason=f"listed in results/index.json but results/{run_id}.json is missing",
                    )
                )
    if "tasks" in parts:
        for folder in sorted(p for p in (root / "tasks").iterdir() if p.is_dir()):
            if (folder / "manifest.json").is_file() or (folder / "result.json").is_file():
                items.append(Item("tasks", f"tasks/{folder.name}"))
    if not items:
        raise ConfigError(
            f"legacy path {root} holds no legacy results: expected results/*.json (with "
            "results/index.json) or tasks/<id>/result.json with manifest.json",
            field="path",
        )
    return items, shas


def safe_id(text: str) -> str:
    """``text`` as a canonical legacy id when it is one, else unchanged."""
    try:
        return canonical_legacy_id(text, "")
    except LegacyFileError:
        return text


def _read_index(
    root: Path, shas: dict[str, str], notes: list[str], items: list[Item]
) -> tuple[dict[str, dict[str, Any]], bool]:
    """``run_id → index entry`` of ``results/index.json`` (keyed by written and canonical id)."""
    rel = "results/index.json"
    path = root / rel
    if not path.is_file():
        notes.append(f"{rel} not found: result files are imported without it")
        return {}, False
    try:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LegacyFileError(rel, f"cannot be read ({exc})") from None
        shas[rel] = sha256_bytes(data)
        doc = parse_json(data, rel)
        entries = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise LegacyFileError(rel, "has no 'items' list; expected {\"items\": [...]}")
    except LegacyFileError as exc:
        items.append(Item("missing", rel, reason=exc.reason))
        return {}, False
    index: dict[str, dict[str, Any]] = {}
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("run_id"), str):
            notes.append(f"{rel}: items[{k}] has no run_id; ignored")
            continue
        entry = {**entry, "symbols": index_symbols(entry)}  # whole result dicts → names
        index.setdefault(entry["run_id"], entry)
        index.setdefault(safe_id(entry["run_id"]), entry)
    return index, True


# -- reading and converting one item -------------------------------------------------------------


def _reader(root: Path, item: Item, expected: dict[str, str] | None) -> Callable[[str], bytes]:
    def read(rel: str) -> bytes:
        try:
            data = (root / rel).read_bytes()
        except OSError as exc:
            raise LegacyFileError(rel, f"cannot be read ({exc})") from None
        sha = sha256_bytes(data)
        if expected is not None and expected.get(rel) != sha:
            raise LegacyFileError(
                rel, "changed after the backup was written; not imported, run the import again"
            )
        item.shas[rel] = sha
        return data

    return read


def convert_item(root: Path, item: Item, expected: dict[str, str] | None) -> tuple[Converted, dict]:
    """The converted run and its verbatim documents (artifact name → bytes)."""
    read = _reader(root, item, expected)
    if item.kind == "results":
        data = read(item.source)
        doc = parse_json(data, item.source)
        conv = convert_result(
            doc,
            item.source,
            source="results",
            sha256=item.shas[item.source],
            index_entry=item.index_entry,
        )
        stem = Path(item.source).stem
        if safe_id(stem) != conv.legacy_id:
            conv.notes.append(f"file name {stem!r} differs from its run_id {conv.legacy_id!r}")
        if item.reason:
            conv.notes.append(item.reason)
        return conv, {"legacy.json": data}
    return _convert_task(root, item, read)


def _convert_task(root: Path, item: Item, read: Callable[[str], bytes]) -> tuple[Converted, dict]:
    folder = item.source
    task_id = safe_id(Path(folder).name)
    m_rel, r_rel = f"{folder}/manifest.json", f"{folder}/result.json"
    raw: dict[str, bytes] = {}
    manifest = None
    notes: list[str] = []
    if (root / m_rel).is_file():
        raw["legacy_manifest.json"] = read(m_rel)
        manifest = parse_json(raw["legacy_manifest.json"], m_rel)
        if not isinstance(manifest, dict):
            raise LegacyFileError(m_rel, "is not a JSON object; expected a task manifest")
        task_id = canonical_legacy_id(manifest.get("task_id", task_id), m_rel, "task_id")
        if task_id != safe_id(Path(folder).name):
            raise LegacyFileError(m_rel, f"task_id {task_id!r} differs from its folder name")
        status = manifest.get("status")
        if status == "failed":
            conv = convert_failed_task(manifest, m_rel, task_id=task_id)
            if (root / r_rel).is_file():
                raw["legacy.json"] = read(r_rel)
                conv.notes.append("result.json of a failed task stored verbatim, not converted")
            return conv, raw
        if status != "completed":
            raise LegacyFileError(
                m_rel,
                f"status {status!r}: the task never finished; expected 'completed' or 'failed'",
            )
    else:
        notes.append("no manifest.json: the MD5 of result.json could not be checked")
    if not (root / r_rel).is_file():
        raise LegacyFileError(r_rel, "is missing although manifest.json says the task completed")
    raw["legacy.json"] = read(r_rel)
    if manifest is not None:
        notes += _check_md5(manifest, raw["legacy.json"], m_rel, r_rel)
    doc = parse_json(raw["legacy.json"], r_rel)
    conv = convert_result(doc, r_rel, source="tasks", sha256=item.shas[r_rel], manifest=manifest)
    if conv.legacy_id != task_id:
        raise LegacyFileError(r_rel, f"run_id {conv.legacy_id!r} differs from task {task_id!r}")
    conv.notes[:0] = notes
    return conv, raw


def _check_md5(manifest: dict[str, Any], data: bytes, m_rel: str, r_rel: str) -> list[str]:
    files = manifest.get("result_files")
    entry = None
    if isinstance(files, list):
        entry = next(
            (
                f
                for f in files
                if isinstance(f, dict) and "result.json" in (f.get("path"), f.get("name"))
            ),
            None,
        )
    if entry is None:
        raise LegacyFileError(
            m_rel, "result_files lists no result.json, so its MD5 checksum cannot be verified"
        )
    checksum = entry.get("checksum")
    if not isinstance(checksum, str) or not _MD5.match(checksum):
        raise LegacyFileError(
            m_rel, f"result_files checksum {checksum!r} is not an MD5 hex digest (32 hex digits)"
        )
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual != checksum.lower():
        raise LegacyFileError(
            r_rel,
            f"MD5 {actual} does not match {checksum.lower()} in manifest.json: the file changed "
            "or was truncated after the task finished; restore it from a copy, or move the task "
            "folder away to leave it out",
        )
    size = entry.get("size_bytes")
    if isinstance(size, int) and size != len(data):
        return [f"manifest size_bytes {size} but result.json has {len(data)} bytes (MD5 matches)"]
    return []
