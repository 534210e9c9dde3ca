"""Year files on disk: paths, the pinned Parquet schema, reading and atomic writing.

Layout: ``{root}/{exchange}/{BASE-QUOTE}/{timeframe}/{year}.parquet`` where ``year`` is the UTC
year of the bar open time. The monthly timeframe ``1M`` is stored in a folder named ``1mo``:
``1m`` and ``1M`` would be the same folder on case-insensitive file systems (macOS, Windows).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from coinbt.errors import DataError
from coinbt.locks import file_lock
from coinbt.timeframes import TIMEFRAME_SECONDS

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
INDEX_NAME = "timestamp"
TIMESTAMP_TYPE = pa.timestamp("ns", tz="UTC")
SCHEMA = pa.schema(
    [pa.field(INDEX_NAME, TIMESTAMP_TYPE)] + [pa.field(c, pa.float64()) for c in OHLCV_COLUMNS]
)
#: schema metadata key holding coinbt's import history (JSON list)
PROVENANCE_KEY = "coinbt_provenance"
#: lock file inside a dataset folder (ignored by the catalog)
LOCK_NAME = ".import.lock"
#: schema metadata key of the shared real-data files (JSON object), preserved on import
SOURCE_KEY = "ohlcv_source"

_DIR_OF_TIMEFRAME = {tf: ("1mo" if tf == "1M" else tf) for tf in TIMEFRAME_SECONDS}
_TIMEFRAME_OF_DIR = {d: tf for tf, d in _DIR_OF_TIMEFRAME.items()}


def timeframe_dir(timeframe: str) -> str:
    """Folder name of a canonical timeframe token (``1M`` -> ``1mo``)."""
    return _DIR_OF_TIMEFRAME[timeframe]


def timeframe_of_dir(name: str) -> str | None:
    """Canonical timeframe stored in folder ``name``, or None when it is not a timeframe folder."""
    return _TIMEFRAME_OF_DIR.get(name)


def dataset_dir(root: Path, exchange: str, symbol: str, timeframe: str) -> Path:
    """Folder holding the year files of one dataset."""
    return Path(root) / exchange / symbol / timeframe_dir(timeframe)


def year_path(root: Path, exchange: str, symbol: str, timeframe: str, year: int) -> Path:
    """Path of one year file."""
    return dataset_dir(root, exchange, symbol, timeframe) / f"{int(year):04d}.parquet"


def empty_bars() -> pd.DataFrame:
    """An empty canonical bar frame."""
    index = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name=INDEX_NAME)
    return pd.DataFrame({c: np.empty(0, dtype=np.float64) for c in OHLCV_COLUMNS}, index=index)


def make_bars(
    timestamps: pd.DatetimeIndex | np.ndarray, values: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """Build a canonical frame from UTC timestamps and the five OHLCV arrays.

    The five float64 columns end up in one consolidated block, so ``df[col].to_numpy()`` is a
    C-contiguous view (no copy) ready for numba kernels.
    """
    index = pd.DatetimeIndex(timestamps)
    index = (index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")).as_unit(
        "ns"
    )
    index.name = INDEX_NAME
    block = np.empty((len(OHLCV_COLUMNS), len(index)), dtype=np.float64)
    for i, col in enumerate(OHLCV_COLUMNS):
        block[i] = np.asarray(values[col], dtype=np.float64)
    return pd.DataFrame(block.T, index=index, columns=list(OHLCV_COLUMNS), copy=False)


def _bound(ts: pd.Timestamp) -> pa.Scalar:
    return pa.scalar(int(ts.tz_convert("UTC").as_unit("ns").value), type=TIMESTAMP_TYPE)


def read_year_files(
    paths: Sequence[Path], start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Read year files (in order) into one canonical frame, keeping bars with start <= ts <= end.

    Only the given files are opened; the time filter is pushed down to pyarrow.
    """
    expr = None
    if start is not None:
        expr = pads.field(INDEX_NAME) >= _bound(start)
    if end is not None:
        cond = pads.field(INDEX_NAME) <= _bound(end)
        expr = cond if expr is None else expr & cond
    tables = []
    for path in paths:
        try:
            table = pq.read_table(path, columns=[INDEX_NAME, *OHLCV_COLUMNS], filters=expr)
            if not table.schema.equals(SCHEMA, check_metadata=False):
                table = table.cast(SCHEMA)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataError(
                f"cannot read year file {path}: {exc}; expected Parquet columns "
                f"{INDEX_NAME} (UTC timestamp) and {', '.join(OHLCV_COLUMNS)} (float)"
            ) from exc
        tables.append(table.replace_schema_metadata(None))
    if not tables:
        return empty_bars()
    table = pa.concat_tables(tables)
    return make_bars(
        pd.DatetimeIndex(table.column(INDEX_NAME).to_numpy()),
        {c: table.column(c).to_numpy() for c in OHLCV_COLUMNS},
    )


def read_metadata(path: Path) -> dict[str, object]:
    """coinbt's import history (decoded JSON list) and the verbatim ``ohlcv_source`` string
    of a year file; absent keys are left out."""
    raw = pq.read_schema(path).metadata or {}
    out: dict[str, object] = {}
    history = raw.get(PROVENANCE_KEY.encode())
    if history is not None:
        try:
            out[PROVENANCE_KEY] = json.loads(history)
        except ValueError:
            out[PROVENANCE_KEY] = []
    source = raw.get(SOURCE_KEY.encode())
    if source is not None:
        out[SOURCE_KEY] = source.decode(errors="replace")
    return out


def file_span(path: Path) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
    """``(first open time, last open time, rows)`` of a year file from its Parquet footer.

    Falls back to reading the timestamp column when the footer has no statistics. Returns None
    for an empty file.
    """
    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read year file {path}: {exc}") from exc
    rows = meta.num_rows
    if rows == 0:
        return None
    col = meta.schema.names.index(INDEX_NAME) if INDEX_NAME in meta.schema.names else None
    lows, highs = [], []
    if col is not None:
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(col).statistics
            if stats is None or not stats.has_min_max:
                lows = []
                break
            lows.append(pd.Timestamp(stats.min))
            highs.append(pd.Timestamp(stats.max))
    if not lows:
        ts = pq.read_table(path, columns=[INDEX_NAME]).column(0).to_pandas()
        lows, highs = [ts.min()], [ts.max()]
    start, end = min(lows), max(highs)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    return start, end, rows


def bars_table(df: pd.DataFrame, metadata: Mapping[str, object]) -> pa.Table:
    """Arrow table in the pinned schema with JSON-encoded schema metadata."""
    arrays = [pa.array(df.index.tz_convert("UTC").as_unit("ns"), type=TIMESTAMP_TYPE)]
    arrays += [pa.array(df[c].to_numpy(dtype=np.float64), type=pa.float64()) for c in OHLCV_COLUMNS]
    encoded = {
        k.encode(): (v if isinstance(v, str) else json.dumps(v, sort_keys=True)).encode()
        for k, v in metadata.items()
    }
    return pa.Table.from_arrays(arrays, schema=SCHEMA.with_metadata(encoded))


def write_temp(table: pa.Table, target: Path, *, compression_level: int | None = None) -> Path:
    """Write ``table`` to a hidden temporary file next to ``target`` and return its path.

    The caller moves it into place with :func:`os.replace` (atomic on one file system). The
    temporary file is removed when writing fails.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.stem}.{uuid.uuid4().hex}.tmp"
    # os.open with 0o666 honours the umask (mkstemp would make the final file 0600)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=compression_level,
            write_statistics=True,
        )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        discard(tmp)
        raise
    return tmp


@contextlib.contextmanager
def dataset_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on one dataset folder while its year files are merged.

    A :func:`coinbt.locks.file_lock` on ``{folder}/.import.lock``, so concurrent imports (threads
    or processes on one machine) into the same dataset queue instead of losing each other's rows.
    """
    with file_lock(folder / LOCK_NAME):
        yield


def discard(path: Path) -> None:
    """Remove a temporary file, ignoring a file that is already gone."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
