"""The predecessor's result, index and manifest JSON, read and converted to coinbt units.

Formats: ``legacy_system.md`` §5.4 (result document, versions 1.0 and 1.1.0), §5.5 (sync
``results/index.json``) and §5.6 (async ``tasks/<id>/manifest.json``); units: §2. Everything
here is pure: bytes or parsed JSON in, a :class:`Converted` run out, or a
:class:`LegacyFileError` that names the file, the field, the value and what was expected.

Units after conversion: returns, win rates and drawdowns are fractions; drawdowns are ≤ 0;
times are tz-aware UTC; symbols are ``BASE-QUOTE``; timeframes are coinbt (ccxt) tokens.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coinbt import __version__
from coinbt.data.importer import LEGACY_TIMEFRAMES, legacy_timeframe
from coinbt.data.symbols import canonical_symbol
from coinbt.errors import ConfigError, DataError

#: prefix hashed with the legacy run id; changing it would re-import every legacy run
RUN_ID_PREFIX = "coinbt-legacy-v1:"
#: the predecessor only ever read Upbit candles
EXCHANGE = "upbit"
FORMAT_VERSIONS = {None: "1.0", "1.0": "1.0", "1.0.0": "1.0", "1.1": "1.1.0", "1.1.0": "1.1.0"}
#: the predecessor's trade model (§1.1), recorded as the run's engine settings
LEGACY_ENGINE: dict[str, Any] = {
    "model": "legacy",
    "fill": "close",
    "exit": "close hold_period_bars later",
    "fee_rate": 0.0,
    "slippage_bps": 0.0,
    "sizing": "none",
    "overlapping_trades": True,
}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_OFFSET_Z = re.compile(r"([+-]\d{2}:?\d{2})Z$")
_MINUTES = re.compile(r"^(\d+)M$")
SIGNAL_COLUMNS = ["time", "symbol", "side", "entry_price", "exit_price", "return", "closed"]
SYMBOL_COLUMNS = [
    "symbol",
    "legacy_symbol",
    "is_active",
    "n_signals",
    "n_closed",
    "win_rate",
    "avg_return",
    "max_drawdown",
    "avg_hold_bars",
]


class LegacyFileError(DataError):
    """A legacy file cannot be imported; the message says where, what and what was expected.

    Attributes
    ----------
    path : str
        The file, relative to the legacy data root (``results/<id>.json``).
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


@dataclass
class Converted:
    """One legacy run in coinbt's shape, ready to be stored."""

    legacy_id: str
    run_id: str
    status: str  # "finished" or "failed" (coinbt run statuses)
    error: str | None
    symbols: list[str]
    timeframe: str
    started: pd.Timestamp | None
    finished: pd.Timestamp | None
    spec: dict[str, Any]
    stats: dict[str, Any]
    signals: pd.DataFrame
    symbol_table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


# -- small parsers -----------------------------------------------------------------------------


def legacy_run_id(legacy_id: str) -> str:
    """The coinbt run id of a legacy run: 16 hex digits of SHA-256 of a fixed prefix + its id.

    Examples
    --------
    >>> legacy_run_id("0b5d7c3e-1f0a-4c1e-9a51-3c8d2f1e4b6a")
    '6c7b168b5608977c'
    """
    return hashlib.sha256((RUN_ID_PREFIX + legacy_id).encode()).hexdigest()[:16]


def canonical_legacy_id(value: Any, path: str, where: str = "run_id") -> str:
    """A legacy run id: a UUID in lower-case canonical form, or a plain safe name as written."""
    if not isinstance(value, str) or not value.strip():
        raise LegacyFileError(path, f"{where} {value!r} is missing or empty; expected a UUID")
    text = value.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if not _ID_RE.match(text):
        raise LegacyFileError(
            path, f"{where} {value!r} is not a UUID nor a plain name of letters, digits, _.-"
        )
    return text


def parse_json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LegacyFileError(path, f"is not UTF-8 text ({exc})") from None
    except ValueError as exc:
        raise LegacyFileError(path, f"is not valid JSON ({exc})") from None


def parse_time(value: Any, path: str, where: str) -> pd.Timestamp:
    """An ISO-8601 time as tz-aware UTC; ``…+00:00Z`` (the async quirk) and naive times (UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise LegacyFileError(
            path,
            f"{where} {value!r} is not a time; expected ISO-8601 such as '2025-11-03T00:00:00Z'",
        )
    text = _OFFSET_Z.sub(r"\1", value.strip())  # "+00:00Z": an offset with a Z appended
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise LegacyFileError(
            path,
            f"{where} {value!r} is not a time; expected ISO-8601 such as '2025-11-03T00:00:00Z'",
        )
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.as_unit("ns")


def _optional_time(value: Any, path: str, where: str) -> pd.Timestamp | None:
    return None if value is None else parse_time(value, path, where)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def map_timeframe(token: Any, path: str) -> tuple[str, list[str]]:
    """The coinbt token for a predecessor timeframe (``1M``/``5M`` are minutes, ``1Mo`` a month).

    The predecessor's loader upper-cased the token, so ``1m`` and ``1M`` both meant one minute.
    Minute counts coinbt has no token for (``10M``) are kept as ``10m`` with a note.
    """
    if not isinstance(token, str) or not token.strip():
        raise LegacyFileError(path, f"timeframe {token!r} is missing; expected e.g. '1H' or '5M'")
    try:
        return legacy_timeframe(token), []
    except ConfigError:
        pass
    match = _MINUTES.match(token.strip().upper())
    if match and int(match.group(1)) > 0:
        minutes = int(match.group(1))
        if minutes % 60 == 0 and f"{minutes // 60}H" in LEGACY_TIMEFRAMES:
            return f"{minutes // 60}h", []
        return f"{minutes}m", [f"timeframe {token!r} has no coinbt token; stored as '{minutes}m'"]
    raise LegacyFileError(
        path,
        f"timeframe {token!r} is not one of the predecessor's tokens "
        f"({', '.join(LEGACY_TIMEFRAMES)}; upper-case M = minutes, 1Mo = month)",
    )


def map_symbol(value: Any, path: str, where: str) -> tuple[str, list[str]]:
    """``BASE-QUOTE`` for ``BTC_KRW`` or the Upbit code ``KRW-BTC``; odd spellings kept with a note."""
    if not isinstance(value, str) or not value.strip():
        raise LegacyFileError(path, f"{where} {value!r} is not a symbol; expected e.g. 'KRW-BTC'")
    try:
        return canonical_symbol(value, exchange=EXCHANGE), []
    except ConfigError:
        kept = value.strip().upper()[:64]
        return kept, [f"{where} {value!r} is not BASE-QUOTE; kept as {kept!r}"]


def index_symbols(entry: dict[str, Any]) -> list[str]:
    """Symbol names of an ``index.json`` item; its ``symbols`` may hold whole result dicts (§5.5)."""
    out = []
    for item in entry.get("symbols") or []:
        name = item.get("symbol") if isinstance(item, dict) else item
        if isinstance(name, str):
            out.append(name)
    return out


def _number(value: Any, path: str, where: str, *, required: bool = False) -> float:
    if value is None and not required:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LegacyFileError(path, f"{where} {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise LegacyFileError(path, f"{where} {value!r} is not a finite number")
    return number


def _plain(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value) + 0.0


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        shown = "missing" if key not in doc else f"{value!r}"
        raise LegacyFileError(path, f"field {key!r} is {shown}; expected a {names}")
    return value


# -- conversion --------------------------------------------------------------------------------


def _signals(raw: Any, symbol: str, path: str, where: str, notes: list[str]) -> list[dict]:
    if not isinstance(raw, list):
        raise LegacyFileError(path, f"{where}.signals is {raw!r}; expected a list")
    rows = []
    for k, sig in enumerate(raw):
        at = f"{where}.signals[{k}]"
        if not isinstance(sig, dict):
            raise LegacyFileError(path, f"{at} is {sig!r}; expected an object")
        side = sig.get("type", sig.get("side"))
        if not isinstance(side, str) or side.strip().lower() not in ("buy", "sell"):
            raise LegacyFileError(path, f"{at}.type {side!r} is not 'buy' or 'sell'")
        ret = _number(sig.get("return_pct"), path, f"{at}.return_pct")
        rows.append(
            {
                "time": parse_time(sig.get("timestamp"), path, f"{at}.timestamp"),
                "symbol": symbol,
                "side": side.strip().lower(),
                "entry_price": _number(sig.get("entry_price"), path, f"{at}.entry_price"),
                "exit_price": _number(sig.get("exit_price"), path, f"{at}.exit_price"),
                "return": ret,  # already a fraction in the predecessor's payload
                "closed": not math.isnan(ret),
            }
        )
        own = sig.get("symbol")
        if isinstance(own, str) and map_symbol(own, path, at)[0] != symbol:
            notes.append(f"{at}.symbol {own!r} differs from its parent; filed under {symbol}")
    return rows


def signals_frame(rows: list[dict]) -> pd.DataFrame:
    """The per-signal table: one row per legacy signal, in file order."""
    frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("datetime64[ns, UTC]")
    for col in ("entry_price", "exit_price", "return"):
        frame[col] = frame[col].astype("float64")
    frame["closed"] = frame["closed"].astype(bool)
    for col in ("symbol", "side"):
        frame[col] = frame[col].astype("string")
    return frame


def symbols_frame(rows: list[dict]) -> pd.DataFrame:
    """The per-symbol table (converted units: fractions, drawdown ≤ 0)."""
    frame = pd.DataFrame(rows, columns=SYMBOL_COLUMNS)
    for col in ("symbol", "legacy_symbol"):
        frame[col] = frame[col].astype("string")
    frame["is_active"] = frame["is_active"].astype(bool)
    for col in ("n_signals", "n_closed"):
        frame[col] = frame[col].astype("int64")
    for col in ("win_rate", "avg_return", "max_drawdown", "avg_hold_bars"):
        frame[col] = frame[col].astype("float64")
    return frame


def _symbol_row(entry: Any, k: int, path: str, notes: list[str]) -> tuple[dict, list[dict]]:
    where = f"symbols[{k}]"
    if not isinstance(entry, dict):
        raise LegacyFileError(path, f"{where} is {entry!r}; expected a per-symbol result object")
    name, more = map_symbol(entry.get("symbol"), path, f"{where}.symbol")
    notes += more
    signals = _signals(entry.get("signals", []), name, path, where, notes)
    win_rate = _number(entry.get("win_rate"), path, f"{where}.win_rate")
    if not math.isnan(win_rate) and not 0.0 <= win_rate <= 1.0:
        raise LegacyFileError(
            path, f"{where}.win_rate {win_rate!r} is outside 0..1; expected a fraction (§2)"
        )
    avg_return = _number(entry.get("avg_return"), path, f"{where}.avg_return")
    mdd = _number(entry.get("max_drawdown"), path, f"{where}.max_drawdown")
    if mdd < 0:
        notes.append(f"{where}.max_drawdown {mdd!r} is negative; read as {-mdd!r} percent points")
    is_active = entry.get("is_active", True)
    if not isinstance(is_active, bool):
        raise LegacyFileError(path, f"{where}.is_active {is_active!r} is not true or false")
    n_closed = sum(1 for s in signals if s["closed"])
    if not signals:  # the predecessor wrote 0.0 placeholders for symbols without signals
        win_rate = avg_return = mdd = math.nan
    row = {
        "symbol": name,
        "legacy_symbol": entry.get("symbol"),
        "is_active": is_active,
        "n_signals": len(signals),
        "n_closed": n_closed,
        "win_rate": win_rate,
        "avg_return": avg_return / 100.0,  # percent points → fraction
        "max_drawdown": -abs(mdd) / 100.0 + 0.0,  # positive %pt → fraction ≤ 0
        "avg_hold_bars": _number(entry.get("avg_hold_bars"), path, f"{where}.avg_hold_bars"),
    }
    return row, signals


def run_stats(signals: pd.DataFrame, table: pd.DataFrame, doc: dict[str, Any]) -> dict[str, Any]:
    """Run-level figures in coinbt units; only what the legacy data honestly gives."""
    returns = signals.loc[signals["closed"], "return"].to_numpy(dtype=np.float64)
    n = len(returns)
    mdd = table["max_drawdown"].dropna()
    return {
        "n_signals": len(signals),
        "n_trades": n,
        "n_open_signals": int(len(signals) - n),
        "win_rate": _plain(float((returns > 0).sum() / n)) if n else None,
        "avg_trade_return": _plain(float(returns.mean())) if n else None,
        "best_trade_return": _plain(float(returns.max())) if n else None,
        "worst_trade_return": _plain(float(returns.min())) if n else None,
        "max_drawdown": _plain(float(mdd.min())) if len(mdd) else None,
        "legacy_total_signals": doc.get("total_signals"),
        "legacy_execution_time_s": doc.get("execution_time"),
    }


def _spec(
    *,
    legacy_id: str,
    strategy: str,
    params: dict[str, Any],
    symbols: list[str],
    timeframe: str,
    start: Any,
    end: Any,
    legacy: dict[str, Any],
) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "params": params,
        "strategy_code": "",
        "exchange": EXCHANGE,
        "symbol": symbols[0],
        "symbols": symbols,
        "timeframe": timeframe,
        "start": start,
        "end": end,
        "engine": dict(LEGACY_ENGINE),
        "data_fingerprint": None,
        "data_start": None,
        "data_end": None,
        "bars": None,
        "coinbt_version": None,
        "legacy": {"run_id": legacy_id, "imported_by": f"coinbt {__version__}", **legacy},
    }


def _request(doc: dict[str, Any], path: str, notes: list[str]) -> dict[str, Any]:
    """Strategy, params, timeframe and dates shared by result documents and manifests."""
    strategy = _require(doc, "strategy", str, path)
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise LegacyFileError(path, f"field 'params' is {params!r}; expected an object")
    timeframe, more = map_timeframe(doc.get("timeframe"), path)
    notes += more
    dates = {}
    for key in ("start_date", "end_date"):
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            raise LegacyFileError(path, f"field {key!r} is {value!r}; expected 'YYYY-MM-DD'")
        dates[key] = value
    return {"strategy": strategy, "params": params, "timeframe": timeframe, **dates}


def convert_result(
    doc: Any,
    path: str,
    *,
    source: str,
    sha256: str,
    index_entry: dict[str, Any] | None = None,
    manifest: dict[str, Any] | None = None,
) -> Converted:
    """A result document (§5.4, 1.0 or 1.1.0) as a finished coinbt ``legacy`` run."""
    if not isinstance(doc, dict):
        raise LegacyFileError(path, "is not a JSON object; expected a predecessor result document")
    notes: list[str] = []
    version = doc.get("version")
    if version not in FORMAT_VERSIONS:
        raise LegacyFileError(
            path, f"version {version!r} is not one this importer reads (1.0 or 1.1.0)"
        )
    legacy_id = canonical_legacy_id(doc.get("run_id"), path)
    request = _request(doc, path, notes)
    raw_symbols = _require(doc, "symbols", list, path)
    if not raw_symbols:
        raise LegacyFileError(path, "field 'symbols' is empty; expected one result per symbol")
    rows, signal_rows = [], []
    for k, entry in enumerate(raw_symbols):
        row, sigs = _symbol_row(entry, k, path, notes)
        rows.append(row)
        signal_rows += sigs
    table = symbols_frame(rows)
    signals = signals_frame(signal_rows)
    total = doc.get("total_signals")
    if isinstance(total, int) and total != len(signals):
        notes.append(f"total_signals {total} but {len(signals)} signals in the file")
    symbols = list(dict.fromkeys(table["symbol"].tolist()))
    metadata = _mapping(doc.get("metadata"))
    task_meta = _mapping(_mapping(manifest).get("metadata"))
    finished = None
    for value, where in (
        (task_meta.get("finished_at"), "manifest.json metadata.finished_at"),
        (metadata.get("execution_date"), "metadata.execution_date"),
        (_mapping(index_entry).get("timestamp"), "results/index.json timestamp"),
    ):
        if value is not None:
            finished = parse_time(value, path, where)
            break
    started = _optional_time(task_meta.get("started_at"), path, "manifest.json metadata.started_at")
    legacy = {
        "source": source,
        "path": path,
        "sha256": sha256,
        "version": FORMAT_VERSIONS[version],
        "status": "completed",
        "error": None,
        "timeframe": doc.get("timeframe"),
        "symbols": [r["legacy_symbol"] for r in rows],
        "start_date": request["start_date"],
        "end_date": request["end_date"],
        "total_signals": total,
        "execution_time_s": doc.get("execution_time"),
        "metadata": metadata or None,
        "description": doc.get("description"),
        "index_entry": _index_summary(index_entry),
        "manifest": _manifest_summary(manifest),
    }
    return Converted(
        legacy_id=legacy_id,
        run_id=legacy_run_id(legacy_id),
        status="finished",
        error=None,
        symbols=symbols,
        timeframe=request["timeframe"],
        started=started,
        finished=finished,
        spec=_spec(
            legacy_id=legacy_id,
            strategy=request["strategy"],
            params=request["params"],
            symbols=symbols,
            timeframe=request["timeframe"],
            start=request["start_date"],
            end=request["end_date"],
            legacy=legacy,
        ),
        stats=run_stats(signals, table, doc),
        signals=signals,
        symbol_table=table,
        notes=notes,
    )


def convert_failed_task(manifest: dict[str, Any], path: str, *, task_id: str) -> Converted:
    """A manifest with ``status: "failed"`` as a ``failed`` coinbt run carrying its error."""
    notes: list[str] = []
    request = _request(manifest, path, notes)
    raw_symbols = _require(manifest, "symbols", list, path)
    symbols = []
    for k, name in enumerate(raw_symbols):
        canonical, more = map_symbol(name, path, f"symbols[{k}]")
        notes += more
        symbols.append(canonical)
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        raise LegacyFileError(path, "field 'symbols' is empty; expected the requested symbols")
    error = manifest.get("error") if isinstance(manifest.get("error"), dict) else {}
    message = error.get("message") or "the legacy task failed (no message recorded)"
    meta = _mapping(manifest.get("metadata"))
    started = _optional_time(meta.get("started_at"), path, "metadata.started_at")
    finished = _optional_time(meta.get("finished_at"), path, "metadata.finished_at")
    legacy = {
        "source": "tasks",
        "path": None,
        "sha256": None,
        "version": None,
        "status": "failed",
        "error": str(message),
        "timeframe": manifest.get("timeframe"),
        "symbols": raw_symbols,
        "start_date": request["start_date"],
        "end_date": request["end_date"],
        "total_signals": 0,
        "execution_time_s": None,
        "metadata": meta or None,
        "description": None,
        "index_entry": None,
        "manifest": _manifest_summary(manifest) | {"path": path},
    }
    empty = {"n_signals": 0, "n_trades": 0, "n_open_signals": 0}
    return Converted(
        legacy_id=task_id,
        run_id=legacy_run_id(task_id),
        status="failed",
        error=str(message),
        symbols=symbols,
        timeframe=request["timeframe"],
        started=started,
        finished=finished,
        spec=_spec(
            legacy_id=task_id,
            strategy=request["strategy"],
            params=request["params"],
            symbols=symbols,
            timeframe=request["timeframe"],
            start=request["start_date"],
            end=request["end_date"],
            legacy=legacy,
        ),
        stats=empty,
        signals=signals_frame([]),
        symbol_table=symbols_frame([]),
        notes=notes,
    )


def _index_summary(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {k: v for k, v in entry.items() if k != "symbols"} | {"symbols": index_symbols(entry)}


def _manifest_summary(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    keys = ("task_id", "status", "result_files", "metadata", "summary", "error")
    return {k: manifest.get(k) for k in keys if k in manifest}
