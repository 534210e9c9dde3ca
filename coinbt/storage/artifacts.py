"""Artifact stores: ``<root>/runs/<run_id>/`` with Parquet tables and JSON documents.

The store is chosen by URI (:func:`open_store`, or ``ArtifactStore(uri)`` which dispatches the
same way): a local path or ``file://`` URI gives a :class:`LocalStore`, ``s3://bucket/prefix``
an :class:`~coinbt.storage.s3.S3Store`.  Both expose ``put``/``get``/``save_result``/
``read_table``/``read_document``/``run_uri``/``delete_run``.

Locally, every file is written to a temporary name in the same folder and renamed (``os.replace``), so
a reader never sees half a file and two writers of the same run leave identical bytes.  Each
write reports its SHA-256, which the registry stores; every read is checked against it.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coinbt.errors import StorageError
from coinbt.storage.common import sha256_bytes, write_atomic

TABLES = ("trades", "equity", "signals", "positions")
DOCUMENTS = ("spec", "stats")


@dataclass(frozen=True)
class ArtifactInfo:
    """One stored object: its name (``trades.parquet``), URI, size, row count and checksum."""

    name: str
    uri: str
    bytes: int
    rows: int | None
    sha256: str


def table_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as zstd Parquet (index and pandas dtypes kept, timestamps stay tz-aware UTC).

    Float columns use the ``BYTE_STREAM_SPLIT`` encoding and timestamps ``DELTA_BINARY_PACKED``
    (bar times are evenly spaced, so they shrink to almost nothing); other columns keep
    dictionary encoding, which is how categoricals round-trip.  On a 1e6-bar equity table this
    is 2.6x smaller than plain zstd Parquet and writes 4x faster (``benchmarks/bench_storage.py``).
    """
    table = pa.Table.from_pandas(frame, preserve_index=True)
    encodings: dict[str, str] = {}
    dictionary: list[str] = []
    for field in table.schema:
        if pa.types.is_floating(field.type):
            encodings[field.name] = "BYTE_STREAM_SPLIT"
        elif pa.types.is_timestamp(field.type) or pa.types.is_integer(field.type):
            encodings[field.name] = "DELTA_BINARY_PACKED"
        else:
            dictionary.append(field.name)
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        use_dictionary=dictionary,
        column_encoding=encodings or None,
    )
    return buf.getvalue()


def document_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2).encode()


class ArtifactStore:
    """Artifacts of runs, on a local folder or in an S3 bucket.

    ``ArtifactStore(uri)`` returns the store for that URI: a :class:`LocalStore` for a path
    or ``file://`` URI, an :class:`~coinbt.storage.s3.S3Store` for ``s3://bucket/prefix``.
    Subclasses implement :meth:`put`, :meth:`get`, :meth:`run_uri` and :meth:`delete_run`;
    writing a whole result and reading tables and documents back are shared.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> ArtifactStore:
        if cls is ArtifactStore:
            root = args[0] if args else kwargs.get("root", kwargs.get("uri"))
            cls = _store_class(os.fspath(root))
        return super().__new__(cls)

    def run_uri(self, run_id: str) -> str:
        raise NotImplementedError

    def put(self, run_id: str, name: str, data: bytes, rows: int | None = None) -> ArtifactInfo:
        raise NotImplementedError

    def get(self, run_id: str, name: str, sha256: str | None = None) -> bytes:
        raise NotImplementedError

    def delete_run(self, run_id: str) -> None:
        raise NotImplementedError

    def _check(self, run_id: str, name: str, data: bytes, sha256: str | None, where: str) -> bytes:
        if sha256 is not None and sha256_bytes(data) != sha256:
            raise StorageError(
                f"run {run_id}: artifact {name} is corrupt: SHA-256 {sha256_bytes(data)} at {where} "
                f"does not match the recorded {sha256}"
            )
        return data

    def save_result(self, result: Any) -> list[ArtifactInfo]:
        """Write every artifact of a :class:`~coinbt.results.BacktestResult`.

        Returns
        -------
        list of ArtifactInfo
            Tables (``trades``, ``equity``, ``signals``, ``positions`` as ``.parquet``), then
            ``spec.json`` and ``stats.json``.
        """
        run_id = result.run_id
        infos = [
            self.put(
                run_id, f"{t}.parquet", table_bytes(getattr(result, t)), len(getattr(result, t))
            )
            for t in TABLES
        ]
        infos.append(self.put(run_id, "spec.json", document_bytes(result.spec.to_dict())))
        infos.append(self.put(run_id, "stats.json", document_bytes(dict(result.stats))))
        return infos

    def read_table(self, run_id: str, name: str, sha256: str | None = None) -> pd.DataFrame:
        data = self.get(run_id, f"{name}.parquet", sha256)
        try:
            return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise StorageError(
                f"run {run_id}: artifact {name}.parquet is unreadable: {exc}"
            ) from exc

    def read_document(self, run_id: str, name: str, sha256: str | None = None) -> Any:
        data = self.get(run_id, f"{name}.json", sha256)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise StorageError(f"run {run_id}: artifact {name}.json is not JSON: {exc}") from exc


class LocalStore(ArtifactStore):
    """Artifacts of runs under a local folder.

    Parameters
    ----------
    root : str or Path
        Folder holding ``runs/<run_id>/``; created on first write.  A ``file://`` URI is
        accepted too.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = os.fspath(root)
        if text.startswith("s3://"):
            raise StorageError(f"artifact URI {text!r} is an S3 URI; use open_store() or S3Store")
        if text.startswith("file://"):
            text = text[len("file://") :]
        self.root = Path(text).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def run_uri(self, run_id: str) -> str:
        return self.run_dir(run_id).as_uri()

    def put(self, run_id: str, name: str, data: bytes, rows: int | None = None) -> ArtifactInfo:
        """Write one object atomically and describe it."""
        path = self.run_dir(run_id) / name
        try:
            write_atomic(path, data)
        except OSError as exc:
            raise StorageError(
                f"run {run_id}: could not write artifact {name} at {path}: {exc}"
            ) from exc
        return ArtifactInfo(name, path.as_uri(), len(data), rows, sha256_bytes(data))

    def get(self, run_id: str, name: str, sha256: str | None = None) -> bytes:
        """Read one object; with ``sha256``, raise :class:`StorageError` unless it matches."""
        path = self.run_dir(run_id) / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StorageError(
                f"run {run_id}: artifact {name} is missing (expected {path})"
            ) from None
        except OSError as exc:
            raise StorageError(
                f"run {run_id}: could not read artifact {name} at {path}: {exc}"
            ) from exc
        return self._check(run_id, name, data, sha256, str(path))

    def delete_run(self, run_id: str) -> None:
        """Remove a run's folder (no error when absent)."""
        folder = self.run_dir(run_id)
        if folder.is_dir():
            for p in folder.iterdir():
                p.unlink(missing_ok=True)
            folder.rmdir()


def _store_class(uri: str) -> type[ArtifactStore]:
    if uri.startswith("s3://"):
        from coinbt.storage.s3 import S3Store  # boto3 is imported only for S3 URIs

        return S3Store
    if "://" in uri and not uri.startswith("file://"):
        raise StorageError(
            f"artifact URI {uri!r}: unsupported scheme; use a local path, file:// or s3://"
        )
    return LocalStore


def open_store(uri: str | os.PathLike[str] | ArtifactStore, **options: Any) -> ArtifactStore:
    """The artifact store for ``uri``: a local path/``file://`` or ``s3://bucket/prefix``.

    ``options`` go to the store (for S3: ``multipart_threshold``, ``part_size``, ``client``).
    An :class:`ArtifactStore` is returned unchanged.
    """
    if isinstance(uri, ArtifactStore):
        return uri
    return _store_class(os.fspath(uri))(os.fspath(uri), **options)
