"""Reading exchange files and recognising their columns and time stamps (used by the importer)."""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from coinbt.data.store import INDEX_NAME, OHLCV_COLUMNS, SOURCE_KEY
from coinbt.errors import ConfigError, DataError, did_you_mean

CANONICAL = (INDEX_NAME, *OHLCV_COLUMNS)
TIME_UNITS = ("s", "ms", "us", "ns")
#: plausible bar times; anything outside means a wrong epoch unit or a broken file
_EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
_LATEST = pd.Timestamp("2200-01-01", tz="UTC")
CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
FEATHER_SUFFIXES = (".feather", ".arrow")

#: normalised source names per role, best first
_CANDIDATES: dict[str, tuple[str, ...]] = {
    INDEX_NAME: (
        "timestamp",
        "open_time",
        "opentime",
        "time_open",
        "unix",
        "unix_timestamp",
        "time",
        "datetime",
        "date_time",
        "date",
        "candle_date_time_utc",
        "ts",
        "t",
        "unnamed_0",  # an index written by DataFrame.to_csv (pyupbit)
    ),
    "open": ("open", "o", "open_price", "opening_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "trade_price", "last"),
}
_BASE_VOLUME = (
    "volume_{base}",
    "{base}_volume",
    "vol_{base}",
    "volume_base",
    "base_volume",
    "base_asset_volume",
    "candle_acc_trade_volume",
)
_GENERIC_VOLUME = ("volume", "vol", "v")
_QUOTE_VOLUME = (
    "volume_{quote}",
    "{quote}_volume",
    "vol_{quote}",
    "quote_volume",
    "quote_asset_volume",
    "volume_quote",
    "candle_acc_trade_price",
    "value",
)


def normalise(name: object) -> str:
    """``'Volume BTC'`` -> ``'volume_btc'``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


# ---------------------------------------------------------------------------- reading
def _head_lines(path: Path, n: int = 12) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        return [line for _, line in zip(range(n), fh, strict=False)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[pd.DataFrame, bool]:
    """Read a CSV, skipping banner lines and detecting a missing header.

    Returns the frame and whether the file had a header row.
    """
    lines = [ln for ln in _head_lines(path) if ln.strip()]
    if not lines:
        raise DataError(f"{path} is empty")
    delim = max(",;\t|", key=lambda d: sum(ln.count(d) for ln in lines))
    counts = [ln.count(delim) for ln in lines]
    width = max(set(counts), key=counts.count)
    skip = 0
    while skip < len(lines) and counts[skip] < width:
        skip += 1
    first = next(csv.reader(io.StringIO(lines[skip]), delimiter=delim)) if skip < len(lines) else []
    has_header = not all(_is_number(f.strip()) for f in first if f.strip())
    try:
        frame = pd.read_csv(
            path, sep=delim, skiprows=skip, header=0 if has_header else None, skipinitialspace=True
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {path} as CSV: {exc}") from exc
    if not has_header:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    return frame, has_header


def read_source(path: Path) -> tuple[pd.DataFrame, bool, str | None]:
    """Read a CSV, Parquet or Feather file.

    Returns
    -------
    frame, has_header, ohlcv_source
        The raw frame (a named index is turned back into a column), whether the columns have
        names, and the ``ohlcv_source`` schema metadata of a Parquet file (else None).
    """
    name = path.name.lower()
    source_meta = None
    if name.endswith(CSV_SUFFIXES):
        frame, has_header = _read_csv(path)
        return frame, has_header, None
    if name.endswith(PARQUET_SUFFIXES):
        try:
            frame = pd.read_parquet(path)
            raw = (pq.read_schema(path).metadata or {}).get(SOURCE_KEY.encode())
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise DataError(f"cannot read {path} as Parquet: {exc}") from exc
        if raw is not None:  # kept verbatim
            source_meta = raw.decode(errors="replace")
    elif name.endswith(FEATHER_SUFFIXES):
        try:
            frame = pd.read_feather(path)
        except Exception as exc:
            raise DataError(f"cannot read {path} as Feather: {exc}") from exc
    else:
        kinds = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES + FEATHER_SUFFIXES)
        raise ConfigError(
            f"unsupported file type {path.name!r}; expected one of {kinds}", field="path"
        )
    if isinstance(frame.index, pd.DatetimeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    return frame, True, source_meta


# ---------------------------------------------------------------------------- columns
def resolve_columns(
    columns: list[str], mapping: Mapping[str, str] | None, base: str, quote: str, has_header: bool
) -> dict[str, str]:
    """Map each canonical column to a source column.

    Parameters
    ----------
    columns : list of str
        Source column names (``"0"``, ``"1"``... for a file without header).
    mapping : mapping, optional
        Explicit ``{source: canonical}`` pairs; the rest is auto-detected.
    base, quote : str
        Currencies of the symbol (``volume_btc`` is base volume for BTC-USD).
    has_header : bool
        Without a header the first six columns are taken as timestamp, open, high, low, close,
        volume unless ``mapping`` says otherwise.

    Returns
    -------
    dict
        ``{canonical: source}`` for all six canonical columns.

    Raises
    ------
    ConfigError
        ``mapping`` targets an unknown canonical name or maps two columns to one.
    DataError
        A mapped column is absent, a column cannot be found, or the choice is ambiguous.
    """
    columns = [str(c) for c in columns]
    chosen: dict[str, str] = {}
    for src, dst in (mapping or {}).items():
        src = str(src)
        if dst not in CANONICAL:
            raise ConfigError(
                f"mapping target {dst!r} (for source column {src!r}) is not a bar column; "
                f"expected one of {', '.join(CANONICAL)}.{did_you_mean(dst, CANONICAL)}",
                field="mapping",
            )
        if src not in columns:
            raise DataError(
                f"mapping names source column {src!r}, which the file does not have; columns: "
                f"{', '.join(columns)}.{did_you_mean(src, columns)}"
            )
        if dst in chosen:
            raise ConfigError(
                f"mapping sends both {chosen[dst]!r} and {src!r} to {dst!r}", field="mapping"
            )
        chosen[dst] = src
    if not has_header:
        for dst, src in zip(CANONICAL, columns, strict=False):
            if dst not in chosen and src not in chosen.values():
                chosen[dst] = src
    free = [c for c in columns if c not in chosen.values()]
    by_norm: dict[str, list[str]] = {}
    for c in free:
        by_norm.setdefault(normalise(c), []).append(c)

    def pick(role: str, names: tuple[str, ...]) -> str | None:
        for cand in names:
            hits = by_norm.get(cand, [])
            if len(hits) > 1:
                raise DataError(
                    f"columns {hits} all look like {role!r}; pass mapping={{{hits[0]!r}: "
                    f"{role!r}}} (CLI: --map {hits[0]}={role}) to choose"
                )
            if hits:
                return hits[0]
        return None

    for role, names in _CANDIDATES.items():
        if role not in chosen and (hit := pick(role, names)) is not None:
            chosen[role] = hit
    if "volume" not in chosen:
        fill = {"base": base.lower(), "quote": quote.lower()}
        hit = pick("volume", tuple(n.format(**fill) for n in _BASE_VOLUME))
        hit = hit or pick("volume", _GENERIC_VOLUME)
        if hit is None:
            quoted = pick("volume", tuple(n.format(**fill) for n in _QUOTE_VOLUME))
            if quoted is not None:
                raise DataError(
                    f"the only volume column, {quoted!r}, looks like {quote}-denominated volume; "
                    f"coinbt stores volume in the base asset ({base}). If {quoted!r} is base "
                    f"volume pass mapping={{{quoted!r}: 'volume'}} (CLI: --map {quoted}=volume)"
                )
        else:
            chosen["volume"] = hit
    missing = [c for c in CANONICAL if c not in chosen]
    if missing:
        hints = "".join(did_you_mean(m, free) for m in missing)
        raise DataError(
            f"cannot find column(s) {', '.join(missing)} in the file; columns: "
            f"{', '.join(columns)}.{hints} Pass mapping={{'source_name': '{missing[0]}'}} "
            f"(CLI: --map source_name={missing[0]})"
        )
    return chosen


# ---------------------------------------------------------------------------- time
def check_tz(tz: str) -> str:
    """Validate an IANA zone name (``UTC``, ``Asia/Seoul``)."""
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"unknown time zone {tz!r}; expected an IANA name such as 'UTC' or 'Asia/Seoul'",
            field="tz",
        ) from exc
    return tz


def detect_time_unit(values: np.ndarray) -> str:
    """Epoch unit from magnitude: seconds < 1e11 <= ms < 1e14 <= us < 1e17 <= ns."""
    finite = np.abs(values[np.isfinite(values)])
    if not len(finite):
        raise DataError("the timestamp column has no values")
    mid = float(np.median(finite))
    for unit, limit in (("s", 1e11), ("ms", 1e14), ("us", 1e17)):
        if mid < limit:
            return unit
    return "ns"


def _parse_strings(raw: pd.Series, time_format: str | None, **kw: Any) -> pd.Series:
    """pd.to_datetime without pandas' format-guessing chatter; mixed offsets go to UTC."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        try:
            return pd.to_datetime(raw, format=time_format, **kw)
        except ValueError as exc:
            text = str(exc).lower()
            if "utc" in kw or ("mixed" not in text and "utc=true" not in text):
                raise
            return pd.to_datetime(raw, format=time_format, utc=True, **kw)


def _bad_sample(raw: pd.Series, time_format: str | None) -> str:
    """The first value that does not parse as a date (or the first value)."""
    try:
        parsed = _parse_strings(raw, time_format, errors="coerce", utc=True)
    except (ValueError, TypeError):
        return repr(raw.iloc[0])
    bad = parsed.isna().to_numpy()
    return repr(raw.iloc[int(np.argmax(bad))] if bad.any() else raw.iloc[0])


def parse_times(
    raw: pd.Series, *, column: str, time_unit: str | None, tz: str, time_format: str | None
) -> tuple[pd.DatetimeIndex, str | None]:
    """Convert a source time column to UTC open times.

    Epoch numbers are UTC by definition (``tz`` is ignored for them); their unit is
    ``time_unit`` or detected from magnitude. Naive date strings/datetimes are read in ``tz``.

    Returns
    -------
    index, unit
        UTC nanosecond DatetimeIndex and the epoch unit used (None for date strings).
    """
    if time_unit is not None and time_unit not in TIME_UNITS:
        raise ConfigError(
            f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}",
            field="time_unit",
        )
    unit = None
    if raw.isna().any():
        raise DataError(
            f"timestamp column {column!r} has {int(raw.isna().sum())} empty value(s), first at "
            f"row {int(np.argmax(raw.isna().to_numpy()))}"
        )
    numeric = None
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        numeric = raw.astype("float64") if raw.dtype.kind == "f" else raw
    elif not pd.api.types.is_datetime64_any_dtype(raw) and time_format is None:
        as_num = pd.to_numeric(raw, errors="coerce")
        if as_num.notna().all():
            numeric = as_num
    try:
        if numeric is not None:
            unit = time_unit or detect_time_unit(numeric.to_numpy(dtype="float64"))
            parsed = pd.to_datetime(numeric, unit=unit, utc=True)
        elif pd.api.types.is_datetime64_any_dtype(raw):
            parsed = raw
        else:
            parsed = _parse_strings(raw, time_format)
    except (ValueError, TypeError, OverflowError) as exc:
        if numeric is None:
            hint = " Pass time_format= (e.g. '%Y-%m-%d %I-%p')"
        else:
            hint = " Check time_unit= (s, ms, us or ns)"
        sample = _bad_sample(raw, time_format)
        raise DataError(
            f"cannot read timestamp column {column!r}: value {sample} is not a date/time "
            f"({exc}).{hint}"
        ) from exc
    index = pd.DatetimeIndex(parsed)
    if index.tz is None:
        try:
            index = index.tz_localize(check_tz(tz), ambiguous="raise", nonexistent="raise")
        except (ValueError, TypeError) as exc:  # pytz/zoneinfo ambiguity errors are ValueErrors
            raise DataError(
                f"naive times in {column!r} cannot be read in {tz}: {exc}; give times in UTC or "
                "with an offset"
            ) from exc
    index = index.tz_convert("UTC")
    lo, hi = index.min(), index.max()
    if lo < _EARLIEST or hi > _LATEST:
        hint = f" (read as epoch {unit}; pass time_unit= if that is wrong)" if unit else ""
        raise DataError(
            f"timestamps in {column!r} run from {lo} to {hi}, outside "
            f"{_EARLIEST.year}..{_LATEST.year}{hint}"
        )
    index = index.as_unit("ns")
    index.name = INDEX_NAME
    return index, unit


def numeric_column(raw: pd.Series, column: str, role: str) -> np.ndarray:
    """A source price/volume column as float64, or DataError naming a bad value."""
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        raise DataError(
            f"column {column!r} ({role}) has non-numeric value {raw[bad].iloc[0]!r} at row "
            f"{int(np.argmax(bad.to_numpy()))}"
        )
    return values.to_numpy(dtype="float64", na_value=np.nan)
