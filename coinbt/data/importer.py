"""Import exchange candle files (CSV, Parquet, Feather) into the catalog.

The import reads and checks everything first and writes nothing when anything is wrong: column
recognition, time parsing, validation, duplicates inside the file and conflicts with the
year files already there. New year files are then written to temporary files next to their
targets and moved into place with :func:`os.replace`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coinbt import __version__, settings
from coinbt.data._columns import numeric_column, parse_times, read_source, resolve_columns
from coinbt.data._fmt import fmt_ts
from coinbt.data.store import (
    OHLCV_COLUMNS,
    PROVENANCE_KEY,
    SOURCE_KEY,
    bars_table,
    dataset_dir,
    dataset_lock,
    discard,
    make_bars,
    read_metadata,
    read_year_files,
    write_temp,
    year_path,
)
from coinbt.data.symbols import canonical_exchange, canonical_symbol
from coinbt.data.validate import ValidationReport, validate_bars
from coinbt.errors import ConfigError, DataError, did_you_mean
from coinbt.timeframes import parse_timeframe

#: the predecessor's timeframe tokens (upper-case M meant minutes, 1Mo a month)
LEGACY_TIMEFRAMES: dict[str, str] = {
    "1M": "1m",
    "3M": "3m",
    "5M": "5m",
    "15M": "15m",
    "30M": "30m",
    "1H": "1h",
    "2H": "2h",
    "4H": "4h",
    "6H": "6h",
    "12H": "12h",
    "1D": "1d",
    "1W": "1w",
    "1MO": "1M",
}
_MAX_LISTED = 5


def legacy_timeframe(token: str) -> str:
    """Map a predecessor timeframe token (``1M`` = one minute, ``1Mo`` = month) to ccxt.

    Raises
    ------
    ConfigError
        The token is not one the predecessor used for a timeframe coinbt supports.

    Examples
    --------
    >>> legacy_timeframe("5M")
    '5m'
    >>> legacy_timeframe("1Mo")
    '1M'
    """
    key = str(token).strip().upper()
    if key not in LEGACY_TIMEFRAMES:
        raise ConfigError(
            f"unknown legacy timeframe {token!r}; the predecessor's tokens are "
            f"{', '.join(LEGACY_TIMEFRAMES)} (upper-case M = minutes, 1Mo = month)."
            f"{did_you_mean(key, LEGACY_TIMEFRAMES)}",
            field="timeframe",
        )
    return LEGACY_TIMEFRAMES[key]


def _timeframe(token: str) -> str:
    """parse_timeframe, pointing at ``legacy_tokens`` for the predecessor's minute tokens."""
    try:
        return parse_timeframe(token)
    except ConfigError as exc:
        if isinstance(token, str) and token.strip().upper() in LEGACY_TIMEFRAMES:
            raise ConfigError(
                f"{exc} If {token!r} is the predecessor's token (upper-case M = minutes), pass "
                "legacy_tokens=True (CLI: --legacy-tokens).",
                field="timeframe",
            ) from exc
        raise


@dataclass
class ImportReport:
    """What :func:`import_file` did.

    Attributes
    ----------
    source : str
        Path of the imported file.
    exchange, symbol, timeframe : str
        Catalog keys written.
    columns : dict
        ``{canonical: source column}`` used.
    time_unit : str or None
        Epoch unit detected or given (None for date strings and datetime columns).
    rows_read : int
        Rows in the source file.
    rows_added : int
        Bars that were not in the catalog before.
    duplicates_dropped : int
        Exact duplicates skipped (same timestamp and values), inside the file or already stored.
    rows_replaced : int
        Stored bars overwritten by different values (only by :func:`store_bars` with
        ``newer_wins``, e.g. a candle stored while still open, fetched again closed).
    files : list of str
        Year files written (unchanged files are not rewritten).
    start, end : pandas.Timestamp or None
        First and last open time in the file (UTC).
    validation : ValidationReport
        Report on the imported rows (warnings such as gaps are normal).
    """

    source: str
    exchange: str
    symbol: str
    timeframe: str
    columns: dict[str, str] = field(default_factory=dict)
    time_unit: str | None = None
    rows_read: int = 0
    rows_added: int = 0
    duplicates_dropped: int = 0
    rows_replaced: int = 0
    files: list[str] = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    validation: ValidationReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "source": self.source,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "columns": dict(self.columns),
            "time_unit": self.time_unit,
            "rows_read": self.rows_read,
            "rows_added": self.rows_added,
            "duplicates_dropped": self.duplicates_dropped,
            "files": list(self.files),
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "validation": None if self.validation is None else self.validation.to_dict(),
        }

    def summary(self) -> str:
        """A few lines for the CLI."""
        lines = [
            f"imported {self.source} -> {self.exchange} {self.symbol} {self.timeframe}: "
            f"{self.rows_read} rows read, {self.rows_added} added, "
            f"{self.duplicates_dropped} exact duplicates skipped",
            f"range {fmt_ts(self.start)} -> {fmt_ts(self.end)} UTC; columns "
            + ", ".join(f"{v}->{k}" for k, v in self.columns.items())
            + (f"; epoch unit {self.time_unit}" if self.time_unit else ""),
        ]
        lines += [f"wrote {f}" for f in self.files] or ["no file changed"]
        if self.validation is not None:
            lines += [f"WARNING {w}" for w in self.validation.warnings]
        return "\n".join(lines)


def _conflict_error(
    timestamps: pd.DatetimeIndex, left: pd.DataFrame, right: pd.DataFrame, what: str
) -> DataError:
    problems = []
    for ts in timestamps[:_MAX_LISTED]:
        a = left.loc[ts, list(OHLCV_COLUMNS)].to_numpy().ravel()[:5]
        b = right.loc[ts, list(OHLCV_COLUMNS)]
        b = (b.iloc[0] if isinstance(b, pd.DataFrame) else b).to_numpy()
        problems.append(f"{fmt_ts(ts)} UTC: {what[0]} {a.tolist()} vs {what[1]} {b.tolist()}")
    more = f" (+{len(timestamps) - _MAX_LISTED} more)" if len(timestamps) > _MAX_LISTED else ""
    msg = (
        f"{len(timestamps)} conflicting duplicate timestamp(s){more}: same open time, different "
        f"OHLCV ({what[0]} vs {what[1]}); nothing was written:\n  " + "\n  ".join(problems)
    )
    return DataError(msg, problems=problems)


def _dedupe_file(bars: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop exact duplicate rows; raise on same timestamp with different values."""
    flat = bars.reset_index()
    exact = flat.duplicated(keep="first").to_numpy()
    kept = bars[~exact]
    clash = kept.index.duplicated(keep="first")
    if clash.any():
        stamps = kept.index[clash].unique()
        first = kept[~clash]
        raise _conflict_error(stamps, first, kept[clash], ("first row", "later row"))
    return kept, int(exact.sum())


def _equal_rows(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    x, y = a.to_numpy(), b.to_numpy()
    return ((x == y) | (np.isnan(x) & np.isnan(y))).all(axis=1)


def import_file(
    path: str | os.PathLike[str],
    *,
    exchange: str,
    symbol: str,
    timeframe: str,
    mapping: Mapping[str, str] | None = None,
    time_unit: str | None = None,
    tz: str = "UTC",
    root: str | os.PathLike[str] | None = None,
    legacy_tokens: bool = False,
    time_format: str | None = None,
    compression_level: int | None = None,
) -> ImportReport:
    """Import one exchange candle file into the catalog, merging with existing year files.

    Parameters
    ----------
    path : path
        CSV (``.csv``, ``.txt``, ``.tsv``, gzipped too), Parquet or Feather file.
    exchange : str
        Exchange name (stored lower case).
    symbol : str
        Market, any accepted alias (``KRW-BTC`` on Upbit, ``BTC/USDT``, ``BTC_USDT``).
    timeframe : str
        Bar length, ccxt token (``1m`` minute, ``1M`` month).
    mapping : mapping, optional
        ``{source column: canonical column}`` for names auto-detection misses, e.g.
        ``{"Zeit": "timestamp"}``. Canonical names: ``timestamp open high low close volume``.
        Detected by default: ``timestamp/time/date/open_time/unix...``, ``Open``/``o``...,
        base-asset volume (``volume_btc`` preferred over ``volume``). A file without header is
        read as timestamp, open, high, low, close, volume (then anything).
    time_unit : {"s", "ms", "us", "ns"}, optional
        Unit of epoch numbers; detected from magnitude when None.
    tz : str, default "UTC"
        Zone of naive date strings (``"Asia/Seoul"`` for pyupbit's KST index). Epoch numbers
        and strings with an offset ignore it.
    root : path, optional
        Catalog root to write to; default ``settings.data_root()``.
    legacy_tokens : bool, default False
        Read ``timeframe`` with the predecessor's tokens (``1M``/``5M`` = minutes, ``1H``,
        ``1D``, ``1Mo`` = month).
    time_format : str, optional
        ``strftime`` format of date strings that pandas cannot guess
        (CryptoDataDownload: ``"%Y-%m-%d %I-%p"``).
    compression_level : int, optional
        zstd level of the written files (default: pyarrow's).

    Returns
    -------
    ImportReport

    Raises
    ------
    ConfigError
        Bad exchange, symbol, timeframe, mapping, time unit or zone.
    DataError
        File missing or unreadable, columns not found, bad values, validation errors,
        conflicting duplicates (same open time, different values). Nothing is written then.

    Notes
    -----
    Provenance (source file *name*, import time, coinbt version, columns) is appended to the
    ``coinbt_provenance`` schema metadata of every year file written; an ``ohlcv_source`` key of
    a Parquet source is kept verbatim. Each year file is replaced atomically; all temporary
    files are written before the first one is moved into place. Imports into one dataset are
    serialised with a file lock (``{dataset}/.import.lock``), so concurrent imports lose nothing.

    Examples
    --------
    >>> report = import_file("BTCUSDT_1h.csv", exchange="binance", symbol="BTC/USDT",
    ...                      timeframe="1h")  # doctest: +SKIP
    """
    ex = canonical_exchange(exchange)
    sym = canonical_symbol(symbol, ex)
    tf = legacy_timeframe(timeframe) if legacy_tokens else _timeframe(timeframe)
    src = Path(path).expanduser()
    if not src.is_file():
        raise DataError(f"file not found: {src}")
    dest_root = Path(root).expanduser() if root is not None else settings.data_root()

    frame, has_header, source_meta = read_source(src)
    if frame.empty:
        raise DataError(f"{src} has no rows")
    base, quote = sym.split("-")
    cols = resolve_columns(list(frame.columns), mapping, base, quote, has_header)
    frame.columns = [str(c) for c in frame.columns]
    index, unit = parse_times(
        frame[cols["timestamp"]],
        column=cols["timestamp"],
        time_unit=time_unit,
        tz=tz,
        time_format=time_format,
    )
    values = {c: numeric_column(frame[cols[c]], cols[c], c) for c in OHLCV_COLUMNS}
    order = np.argsort(index.asi8, kind="stable")
    bars = make_bars(index[order], {c: v[order] for c, v in values.items()})
    report = ImportReport(
        source=str(src),
        exchange=ex,
        symbol=sym,
        timeframe=tf,
        columns=cols,
        time_unit=unit,
        rows_read=len(frame),
    )
    bars, report.duplicates_dropped = _dedupe_file(bars)
    check = validate_bars(bars, tf)
    if not check.ok:
        hint = ""
        if check.short_steps and tf == "1M" and not legacy_tokens:
            hint = (
                f"\n  (hint: {timeframe!r} is a month in coinbt; the predecessor's minute token "
                "needs legacy_tokens=True, or use '1m'/'5m')"
            )
        msg = f"{src.name} failed validation as {tf} bars; nothing was written:\n  "
        raise DataError(msg + "\n  ".join(check.errors) + hint, problems=list(check.errors))
    report.validation = check
    report.start, report.end = check.start, check.end

    entry = {
        "source": src.name,
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "coinbt_version": __version__,
        "columns": cols,
        "time_unit": unit,
        "tz": tz,
    }
    return store_bars(bars, report, entry, root=dest_root, source_meta=source_meta,
                      compression_level=compression_level)  # fmt: skip


def store_bars(
    bars: pd.DataFrame,
    report: ImportReport,
    entry: dict[str, object],
    *,
    root: Path,
    newer_wins: bool = False,
    source_meta: object = None,
    compression_level: int | None = None,
) -> ImportReport:
    """Merge validated ``bars`` of ``report``'s dataset into its year files, under the dataset
    lock; each year file is replaced atomically, and all are written before any is moved.

    With ``newer_wins`` a stored bar with other values is replaced by the new one (counted in
    ``rows_replaced``); without, such a conflict raises :class:`DataError` and nothing is
    written.  ``entry`` is appended to each written file's provenance."""
    ex, sym, tf = report.exchange, report.symbol, report.timeframe
    with dataset_lock(dataset_dir(root, ex, sym, tf)):
        staged = _merge_years(bars, root, ex, sym, tf, report, newer_wins=newer_wins)
        _write_all(staged, entry, source_meta, compression_level, report)
    return report


def _merge_years(
    bars: pd.DataFrame,
    root: Path,
    ex: str,
    sym: str,
    tf: str,
    report: ImportReport,
    *,
    newer_wins: bool = False,
) -> list[tuple[Path, pd.DataFrame, int, dict[str, object]]]:
    """Merge the import with existing year files in memory; raise before anything is written."""
    staged = []
    conflicts: list[DataError] = []
    years = bars.index.year
    for year in np.unique(years):
        part = bars[years == year]
        target = year_path(root, ex, sym, tf, int(year))
        meta: dict[str, object] = {}
        replaced = 0
        if target.exists():
            existing = read_year_files([target])
            meta = read_metadata(target)
            common = part.index.intersection(existing.index)
            if len(common):
                same = _equal_rows(part.loc[common], existing.loc[common])
                if not same.all() and not newer_wins:
                    conflicts.append(
                        _conflict_error(common[~same], existing, part, ("stored", "file"))
                    )
                    continue
                changed = common[~same]
                if len(changed):  # the newer download wins
                    existing.loc[changed, list(OHLCV_COLUMNS)] = part.loc[
                        changed, list(OHLCV_COLUMNS)
                    ]
                    replaced = len(changed)
                report.duplicates_dropped += int(same.sum())
                part = part.drop(common)
            if part.empty and not replaced:
                continue
            merged = pd.concat([existing, part]).sort_index(kind="stable")
        else:
            merged = part
        check = validate_bars(merged, tf)
        if not check.ok:
            msg = f"merging into {target} would break it; nothing was written:\n  " + "\n  ".join(
                check.errors
            )
            raise DataError(msg, problems=list(check.errors))
        report.rows_replaced += replaced
        staged.append((target, merged, len(part), meta))
    if conflicts:
        problems = [p for c in conflicts for p in c.problems]
        raise DataError("\n".join(str(c) for c in conflicts), problems=problems)
    return staged


def _write_all(
    staged: list[tuple[Path, pd.DataFrame, int, dict[str, object]]],
    entry: dict[str, object],
    source_meta: object,
    compression_level: int | None,
    report: ImportReport,
) -> None:
    """Write every year to a temp file, then move them all into place."""
    temps: list[tuple[Path, Path]] = []
    try:
        for target, merged, added, meta in staged:
            history = meta.get(PROVENANCE_KEY)
            history = list(history) if isinstance(history, list) else []
            history.append({**entry, "rows_added": added})
            metadata: dict[str, object] = {PROVENANCE_KEY: history}
            kept_source = meta.get(SOURCE_KEY, source_meta)
            if kept_source is not None:
                metadata[SOURCE_KEY] = kept_source
            table = bars_table(merged, metadata)
            temps.append((write_temp(table, target, compression_level=compression_level), target))
    except BaseException:
        for tmp, _ in temps:
            discard(tmp)
        raise
    for tmp, target in temps:
        os.replace(tmp, target)
    for _, _, added, _ in staged:
        report.rows_added += added
    report.files = [str(t) for _, t in temps]
