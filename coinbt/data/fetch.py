"""Candles from exchanges through ccxt: incremental, validated, written atomically per year file.

:func:`fetch` asks ccxt (its exchange classes, pagination parameters and rate limiter) for the
OHLCV of one series and merges what comes back into the catalog, the newer download winning
over what is stored (so a candle stored from an earlier, different download is corrected).
Only **closed** candles are stored: a candle is closed when its end is not after the
exchange's own clock (the ``Date`` header of its last answer; this machine's clock when there
is none).  A rerun fetches only what is missing: from the last stored candle on (and before
the first, when ``since`` is earlier); ``repair=True`` also fetches the gaps inside the stored
range.  Network and exchange-availability errors are retried with exponential back-off; what
was fetched before a final error is written, and the error is reported with the series.

Every ``write_every`` bars (and at the end) the bars fetched so far are written, so an
interrupted fetch keeps its progress and the next run resumes after it.  Each successful fetch
is recorded in the dataset folder (``.fetch.json``: last success, bars added), shown by
``coinbt data list``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from coinbt import __version__, settings
from coinbt.data._fmt import fmt_ts
from coinbt.data.importer import ImportReport, store_bars
from coinbt.data.loader import parse_bound
from coinbt.data.store import dataset_dir, make_bars, read_year_files
from coinbt.data.symbols import canonical_exchange, canonical_symbol, split_symbol
from coinbt.data.validate import validate_bars
from coinbt.errors import ConfigError, DataError, did_you_mean
from coinbt.timeframes import TIMEFRAME_SECONDS, parse_timeframe

#: file in a dataset folder recording the last fetch (ignored by the catalog: a dot file)
STATE_NAME = ".fetch.json"
#: bars written per batch during a long fetch
WRITE_EVERY = 20_000


@dataclass
class FetchReport:
    """What :func:`fetch` did for one series."""

    exchange: str
    symbol: str
    timeframe: str
    ranges: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)
    bars_received: int = 0
    bars_added: int = 0
    bars_replaced: int = 0
    open_dropped: int = 0
    requests: int = 0
    retries: int = 0
    gaps_remaining: int = 0
    missing_bars: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        """One line: series, bars added/replaced, gaps left, time taken (and the error)."""
        head = f"{self.exchange} {self.symbol} {self.timeframe}: "
        body = (
            f"{self.bars_added:,} bars added, {self.bars_replaced:,} replaced, "
            f"{self.gaps_remaining} gap(s) ({self.missing_bars:,} bars) remaining, "
            f"{self.requests} request(s), {self.seconds:.1f} s"
        )
        return head + body + (f"; FAILED: {self.error}" if self.error else "")

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "ranges"}
        out["ranges"] = [[a.isoformat(), b.isoformat()] for a, b in self.ranges]
        return out


def client(exchange: str, *, api_host: str | None = None, rate_limit: bool = True) -> Any:
    """A ccxt exchange instance for ``exchange`` (a ccxt id such as ``upbit``, ``binance``)
    with its rate limiter on; ``api_host`` (``http://host:port``) replaces the scheme and host
    of every API URL, for a proxy or a local stand-in of the exchange."""
    try:
        import ccxt
    except ImportError:  # pragma: no cover - in the fetch extra
        raise ConfigError("fetching candles needs ccxt: pip install 'coinbt[fetch]'") from None

    ex = canonical_exchange(exchange)
    if ex not in ccxt.exchanges:
        raise ConfigError(
            f"exchange {exchange!r} is not one ccxt knows{did_you_mean(ex, ccxt.exchanges)}; "
            "see ccxt.exchanges for the ids",
            field="exchange",
        )
    options: dict[str, Any] = {"enableRateLimit": rate_limit, "timeout": 30_000}
    if ex in ("binance", "binanceus"):  # spot markets only: no futures endpoints
        options["options"] = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}}
    instance = getattr(ccxt, ex)(options)
    if not instance.has.get("fetchOHLCV"):
        raise ConfigError(f"ccxt's {ex} does not offer OHLCV candles (has['fetchOHLCV'])")
    if api_host:
        point_at(instance, api_host)
    return instance


def point_at(instance: Any, api_host: str) -> None:
    """Replace scheme and host of every URL in ``instance.urls['api']`` (paths kept)."""
    target = urlsplit(api_host)
    if not target.scheme or not target.netloc:
        raise ConfigError(f"--api-host {api_host!r}: expected scheme and host, http://host:port")

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, str) and "://" in value:
            parts = urlsplit(value)
            return parts._replace(scheme=target.scheme, netloc=target.netloc).geturl()
        return value

    instance.urls["api"] = swap(instance.urls["api"])


def fetch(
    exchange: str,
    symbol: str,
    timeframe: str,
    since: Any = None,
    until: Any = None,
    *,
    root: str | os.PathLike[str] | None = None,
    repair: bool = False,
    api_host: str | None = None,
    exchange_client: Any = None,
    retries: int = 5,
    backoff: float = 1.0,
    write_every: int = WRITE_EVERY,
    progress: bool = True,
) -> FetchReport:
    """Fetch one series' closed candles into the catalog (see the module docs).

    Parameters
    ----------
    exchange, symbol, timeframe : str
        ccxt exchange id; any accepted symbol alias (``KRW-BTC`` on Upbit, ``BTC/USDT``);
        ccxt timeframe token (``1m`` minute, ``1M`` month).
    since, until : str or timestamp, optional
        Range of bar open times, inclusive, read like every coinbt date range (UTC unless
        zoned; a date as ``until`` includes that whole day).  ``since`` is required when
        nothing is stored yet; ``until`` defaults to now.
    root : path, optional
        Catalog root written to (default ``$COINBT_DATA_ROOT`` or ``./data``).
    repair : bool
        Also refetch the gaps inside the stored range.
    api_host, exchange_client : optional
        See :func:`client`; or a ready ccxt instance.
    retries, backoff : int, float
        Attempts after a network, rate-limit or availability error, waiting ``backoff``,
        then twice as long each time (at most 60 s).

    Returns
    -------
    FetchReport
        With ``error`` set when the series failed; bars fetched before are kept.
    """
    started = time.monotonic()
    ex = canonical_exchange(exchange)
    sym = canonical_symbol(symbol, ex)
    tf = parse_timeframe(timeframe)
    dest = Path(root).expanduser() if root is not None else settings.data_root()
    report = FetchReport(ex, sym, tf)
    lo = parse_bound(since, is_end=False, name="since")
    hi = parse_bound(until, is_end=True, name="until")
    stored = _stored_bars(dest, ex, sym, tf).index
    report.ranges = _ranges(stored, lo, hi, tf, repair=repair, series=f"{ex} {sym} {tf}")
    api = exchange_client if exchange_client is not None else client(ex, api_host=api_host)
    market = "/".join(split_symbol(sym))
    if api.timeframes and tf not in api.timeframes:
        raise ConfigError(
            f"{ex} offers timeframes {', '.join(api.timeframes)} through ccxt, not {tf!r}",
            field="timeframe",
        )
    pending: list[list[float]] = []
    try:
        bar = _bar_progress(report, progress)
        try:
            for start, end in report.ranges:
                for rows in _pages(api, market, tf, start, end, report, retries, backoff):
                    pending += rows
                    bar.update(len(rows))
                    if len(pending) >= write_every:
                        _write(pending, report, dest)
                        pending = []
        finally:
            bar.close()
    except Exception as exc:  # reported with the series; what came before is written below
        report.error = _describe(exc)
    try:
        if pending:
            _write(pending, report, dest)
    except DataError as exc:
        report.error = report.error or str(exc)
    _count_gaps(report, dest)
    report.seconds = time.monotonic() - started
    if report.ok:
        _record(dest, report)
    return report


def _pages(
    api: Any, market: str, tf: str, start: pd.Timestamp, end: pd.Timestamp,
    report: FetchReport, retries: int, backoff: float,
) -> Iterable[list[list[float]]]:  # fmt: skip
    """Closed bars of ``[start, end]`` page by page, moving ``since`` past each page."""
    step = _offset(tf)
    limit = _page_limit(api)
    cursor = start
    while cursor <= end:
        rows = _call(api.fetch_ohlcv, (market, tf, int(cursor.value // 10**6), limit),
                     report, retries, backoff)  # fmt: skip
        report.requests += 1
        now = _server_now(api)
        report.bars_received += len(rows)
        opens = [pd.Timestamp(int(r[0]), unit="ms", tz="UTC") for r in rows]
        keep = [(r, t) for r, t in zip(rows, opens, strict=True) if cursor <= t <= end]
        closed = [r for r, t in keep if t + step <= now]
        report.open_dropped += len(keep) - len(closed)
        if closed:
            yield closed
        newest = max((t for t in opens if t >= cursor), default=None)
        if newest is None:  # nothing at or after the cursor in this page
            if cursor + step * limit > now:
                return  # nothing more has closed yet
            cursor = cursor + step * limit  # a quiet stretch longer than one page
            continue
        if newest + step > now:
            return  # reached the open candle
        cursor = newest + step


def _call(fn: Callable[..., Any], args: tuple[Any, ...], report: FetchReport, retries: int,
          backoff: float) -> Any:  # fmt: skip
    import ccxt

    for attempt in range(retries + 1):
        try:
            return fn(*args)
        except ccxt.NetworkError:  # timeouts, 5xx, rate limits, DDoS protection
            if attempt == retries:
                raise
            report.retries += 1
            time.sleep(min(60.0, backoff * 2**attempt))
    raise AssertionError("unreachable")


def _server_now(api: Any) -> pd.Timestamp:
    """The exchange's clock: the ``Date`` header of its last answer, else this machine's."""
    headers = getattr(api, "last_response_headers", None) or {}
    date = next((v for k, v in headers.items() if str(k).lower() == "date"), None)
    if date:
        try:
            return pd.Timestamp(email.utils.parsedate_to_datetime(str(date))).tz_convert("UTC")
        except (TypeError, ValueError):
            pass
    return pd.Timestamp.now(tz="UTC")


def _page_limit(api: Any) -> int:
    """Bars per request: ccxt's declared maximum for spot OHLCV, else 500."""
    try:
        limit = api.features["spot"]["fetchOHLCV"]["limit"]
    except (AttributeError, KeyError, TypeError):
        limit = None
    return int(limit) if isinstance(limit, int | float) and limit > 0 else 500


def _write(rows: list[list[float]], report: FetchReport, root: Path) -> None:
    """Merge fetched rows into the year files (newer wins), atomically per file."""
    arr = np.asarray([r[:6] for r in rows], dtype=np.float64)
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    arr = arr[np.r_[arr[1:, 0] != arr[:-1, 0], True]]  # a bar seen twice: the later page wins
    index = pd.DatetimeIndex(arr[:, 0].astype("int64") * 10**6, tz="UTC", name="timestamp")
    bars = make_bars(index, {c: arr[:, k + 1] for k, c in
                             enumerate(("open", "high", "low", "close", "volume"))})  # fmt: skip
    check = validate_bars(bars, report.timeframe)
    if not check.ok:
        raise DataError(
            f"{report.exchange} {report.symbol} {report.timeframe}: fetched candles failed "
            "validation; nothing of this batch was written:\n  " + "\n  ".join(check.errors),
            problems=list(check.errors),
        )
    entry = {
        "source": f"ccxt {report.exchange}",
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "coinbt_version": __version__,
        "ccxt_range": [fmt_ts(index[0]), fmt_ts(index[-1])],
    }
    written = ImportReport(source=entry["source"], exchange=report.exchange,
                           symbol=report.symbol, timeframe=report.timeframe)  # fmt: skip
    store_bars(bars, written, entry, root=root, newer_wins=True)
    report.bars_added += written.rows_added
    report.bars_replaced += written.rows_replaced
    report.files = sorted(set(report.files) | set(written.files))


def _stored_bars(root: Path, ex: str, sym: str, tf: str) -> pd.DataFrame:
    folder = dataset_dir(root, ex, sym, tf)
    return read_year_files(sorted(folder.glob("*.parquet")) if folder.is_dir() else [])


def _ranges(
    stored: pd.DatetimeIndex, lo: pd.Timestamp | None, hi: pd.Timestamp | None, tf: str,
    *, repair: bool, series: str,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:  # fmt: skip
    """Open-time ranges to ask for: before the first stored bar (when ``since`` is earlier),
    from the last stored bar on (it is fetched again: the newer download wins), and with
    ``repair`` every gap in between."""
    end = hi if hi is not None else pd.Timestamp.now(tz="UTC")
    if not len(stored):
        if lo is None:
            raise ConfigError(
                f"nothing is stored for {series} yet; give --since (e.g. --since 2024-01-01) "
                "to say where to start",
                field="since",
            )
        return [(lo, end)] if lo <= end else []
    step = _offset(tf)
    first, last = stored[0], stored[-1]
    ranges = []
    if lo is not None and lo < first:
        ranges.append((lo, min(first - step, end)))
    if repair:
        for a, b in _gaps(stored, tf):
            if (lo is None or b >= lo) and a <= end:
                ranges.append((max(a, lo) if lo is not None else a, min(b, end)))
    start = max(last, lo) if lo is not None else last
    if start <= end:
        ranges.append((start, end))
    return ranges


def _gaps(index: pd.DatetimeIndex, tf: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``(first missing open, last missing open)`` of every gap of a sorted index."""
    step = _offset(tf)
    expected = index[:-1] + step
    missing = expected < index[1:]
    return [(a, b - step) for a, b in zip(expected[missing], index[1:][missing], strict=True)]


def _count_gaps(report: FetchReport, root: Path) -> None:
    """Gaps and missing bars of the stored series, as ``validate_bars`` counts them."""
    stored = _stored_bars(root, report.exchange, report.symbol, report.timeframe)
    check = validate_bars(stored, report.timeframe)
    report.gaps_remaining, report.missing_bars = check.gaps, check.missing_bars


def _record(root: Path, report: FetchReport) -> None:
    """Write the dataset's ``.fetch.json`` (last success, what it added), atomically."""
    folder = dataset_dir(root, report.exchange, report.symbol, report.timeframe)
    if not folder.is_dir():
        return
    state = {
        "last_success": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bars_added": report.bars_added,
        "bars_replaced": report.bars_replaced,
        "gaps_remaining": report.gaps_remaining,
        "coinbt_version": __version__,
    }
    tmp = folder / f".{STATE_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, folder / STATE_NAME)


def last_fetch(root: Path, exchange: str, symbol: str, timeframe: str) -> dict[str, Any] | None:
    """The dataset's recorded last successful fetch, or None."""
    path = dataset_dir(root, exchange, symbol, timeframe) / STATE_NAME
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def stale_series(root: str | os.PathLike[str], older_than: dt.timedelta) -> list[dict[str, Any]]:
    """Series under ``root`` fetched before whose last successful fetch is older than
    ``older_than`` (a refresh that stopped): exchange, symbol, timeframe, last_success, age.
    ``coinbt data list`` warns about them (and ``coinbt doctor`` will)."""
    from coinbt.data.store import timeframe_of_dir

    now = dt.datetime.now(dt.UTC)
    out = []
    for state_file in sorted(Path(root).expanduser().glob(f"*/*/*/{STATE_NAME}")):
        tf_dir = state_file.parent
        tf = timeframe_of_dir(tf_dir.name)
        try:
            last = dt.datetime.fromisoformat(json.loads(state_file.read_text())["last_success"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if tf is not None and now - last > older_than:
            out.append({"exchange": tf_dir.parent.parent.name, "symbol": tf_dir.parent.name,
                        "timeframe": tf, "last_success": last, "age": now - last})  # fmt: skip
    return out


def _offset(tf: str) -> Any:
    return pd.DateOffset(months=1) if tf == "1M" else pd.Timedelta(TIMEFRAME_SECONDS[tf], "s")


def _bar_progress(report: FetchReport, show: bool) -> Any:
    """A bar over the bars the ranges can hold (the ranges already end by ``until`` or now)."""
    from tqdm.auto import tqdm

    step = pd.Timedelta(TIMEFRAME_SECONDS[report.timeframe], "s")
    total = sum(max(0, int((b - a) / step) + 1) for a, b in report.ranges)
    label = f"{report.exchange} {report.symbol} {report.timeframe}"
    return tqdm(total=total, desc=label, unit="bar", disable=not show, leave=False)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


__all__ = [
    "STATE_NAME",
    "FetchReport",
    "client",
    "fetch",
    "last_fetch",
    "point_at",
    "stale_series",
]
