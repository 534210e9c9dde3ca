"""Load canonical bar frames from the catalog: ``load_bars`` and ``load_many``.

Every request is checked before any file is read: timeframe and symbol spelling, the date
range, the exchange, the symbol, the timeframe's availability and the covered span.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from coinbt.data import cache as bars_cache
from coinbt.data._fmt import fmt_span, fmt_ts
from coinbt.data.catalog import Catalog, Dataset
from coinbt.data.store import read_year_files
from coinbt.data.symbols import canonical_symbol
from coinbt.data.validate import validate_bars
from coinbt.errors import CoinbtError, ConfigError, DataError
from coinbt.timeframes import parse_timeframe, timeframe_offset

TimeLike = str | dt.date | dt.datetime | pd.Timestamp | None

_PERIOD_RE = {
    "year": re.compile(r"^\d{4}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
}
_PERIOD_LENGTH = {
    "year": pd.DateOffset(years=1),
    "month": pd.DateOffset(months=1),
    "day": pd.DateOffset(days=1),
}
_ONE_NS = pd.Timedelta(1, unit="ns")


def parse_bound(value: TimeLike, *, is_end: bool, name: str | None = None) -> pd.Timestamp | None:
    """Turn a ``start``/``end`` argument into a UTC nanosecond timestamp (inclusive bound).

    Parameters
    ----------
    value : str, datetime.date, datetime.datetime, pandas.Timestamp or None
        ``"2023-01-31"``, ``"2023-01"`` or ``"2023"`` name a whole day, month or year (and a
        ``datetime.date`` a whole day): as an end they include every bar opening in that
        period. Anything else is an instant. Naive values are UTC; zoned ones are converted.
    is_end : bool
        Whether this is the end bound (a period then means its last nanosecond).
    name : str, optional
        Argument name for messages (default ``"end"`` or ``"start"``).

    Returns
    -------
    pandas.Timestamp or None
        tz-aware UTC, nanosecond unit.

    Raises
    ------
    ConfigError
        The value cannot be read as a date or time.

    Examples
    --------
    >>> parse_bound("2023-01-31", is_end=True)
    Timestamp('2023-01-31 23:59:59.999999999+0000', tz='UTC')
    >>> parse_bound("2023-01-31 09:00+09:00", is_end=False)
    Timestamp('2023-01-31 00:00:00+0000', tz='UTC')
    """
    if value is None:
        return None
    name = name or ("end" if is_end else "start")
    period = None
    if isinstance(value, str):
        text = value.strip()
        period = next((p for p, rx in _PERIOD_RE.items() if rx.match(text)), None)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        text, period = value.isoformat(), "day"
    elif isinstance(value, (dt.datetime, pd.Timestamp)):
        text = value
    else:
        raise ConfigError(
            f"{name} must be a date string like '2024-01-31', a datetime or a pandas.Timestamp; "
            f"got {value!r} ({type(value).__name__})",
            field=name,
        )
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"cannot read {name}={value!r} as a date or time; expected 'YYYY-MM-DD', "
            "'YYYY-MM-DD HH:MM' or ISO 8601 with an optional offset such as '+09:00'",
            field=name,
        ) from exc
    if ts is pd.NaT:
        raise ConfigError(f"{name}={value!r} is not a time (NaT)", field=name)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    ts = ts.as_unit("ns")
    if period is not None and is_end:
        ts = ts + _PERIOD_LENGTH[period] - _ONE_NS
    return ts


@dataclass
class _Plan:
    """A checked request: which dataset, which bounds, which warning to give."""

    dataset: Dataset
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    partial: str | None


def _bounds(start: TimeLike, end: TimeLike) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    lo = parse_bound(start, is_end=False)
    hi = parse_bound(end, is_end=True)
    if lo is not None and hi is not None and lo > hi:
        msg = (
            f"start {start!r} ({fmt_ts(lo)} UTC) is after end {end!r} ({fmt_ts(hi)} UTC); "
            "swap them or fix the range"
        )
        raise DataError(msg, problems=[msg])
    return lo, hi


def _plan(
    catalog: Catalog,
    symbol: str,
    timeframe: str,
    exchange: str | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> _Plan:
    """Check one request against the catalog; raise DataError when it cannot be served."""
    ds = catalog.resolve(symbol, timeframe, exchange)
    span = ds.span
    if span is None:
        msg = f"{ds.label()} has only empty files under {ds.root}"
        raise DataError(msg, problems=[msg])
    first, last, _ = span
    bar = timeframe_offset(timeframe)
    requested = fmt_span(start if start is not None else first, end if end is not None else last)
    if (end is not None and end < first) or (start is not None and start > last):
        msg = (
            f"no data for {ds.label()} in the requested range {requested}; "
            f"the data covers {fmt_span(first, last)} (bar open times)"
        )
        raise DataError(msg, problems=[msg])
    partial = None
    if (start is not None and start <= first - bar) or (end is not None and end >= last + bar):
        partial = (
            f"{ds.label()} covers only {fmt_span(first, last)} (bar open times); requested "
            f"{requested}. Loading the overlap."
        )
    return _Plan(ds, start, end, partial)


def _read(plan: _Plan, *, strict: bool) -> pd.DataFrame:
    ds = plan.dataset
    lo_year = plan.start.year if plan.start is not None else min(ds.files)
    hi_year = plan.end.year if plan.end is not None else max(ds.files)
    paths = [p for y, p in ds.files.items() if lo_year <= y <= hi_year]
    cache_key = bars_cache.key(paths, plan.start, plan.end, ds.timeframe, ds.symbol, ds.exchange)
    hit = bars_cache.get(cache_key)
    if hit is not None:
        bars, report = hit
    else:
        bars = read_year_files(paths, plan.start, plan.end)
        if bars.empty:
            msg = (
                f"no {ds.label()} bars between {fmt_span(plan.start, plan.end)}: the range "
                f"falls in a gap of the data (see `coinbt data validate {ds.symbol} "
                f"--timeframe {ds.timeframe} --exchange {ds.exchange}`)"
            )
            raise DataError(msg, problems=[msg])
        report = validate_bars(bars, ds.timeframe)
        bars.attrs = {
            "symbol": ds.symbol,
            "exchange": ds.exchange,
            "timeframe": ds.timeframe,
            "validation": report.to_dict(),
        }
        bars_cache.put(cache_key, bars, report)
    if strict and not report.ok:
        files = ", ".join(str(p) for p in paths)
        msg = f"{ds.label()} failed validation ({files}):\n  " + "\n  ".join(report.errors)
        raise DataError(msg, problems=list(report.errors))
    return bars


def load_bars(
    symbol: str,
    timeframe: str,
    start: TimeLike = None,
    end: TimeLike = None,
    exchange: str | None = None,
    *,
    catalog: Catalog | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Load one symbol's candles from the catalog.

    Parameters
    ----------
    symbol : str
        ``BTC-USDT`` or an alias (``BTC/USDT``, ``BTC_USDT``, Upbit ``KRW-BTC``).
    timeframe : str
        ccxt token: ``1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M`` (``1M`` = month).
    start, end : str, date, datetime or pandas.Timestamp, optional
        Inclusive bounds on the bar **open** time, UTC unless the value carries a zone.
        A date-only ``end`` such as ``"2023-01-31"`` includes the whole day (up to
        23:59:59.999999999); a datetime ``end`` includes bars opening at or before it.
        ``"2023-01"`` and ``"2023"`` are a whole month and year. None = from the first bar /
        to the last bar.
    exchange : str, optional
        Exchange (lower case in the catalog). When None, the symbol/timeframe must exist on
        exactly one exchange.
    catalog : Catalog, optional
        Catalog to read from; default ``Catalog()`` (data root, then bundled data).
    strict : bool, default True
        Raise :class:`DataError` when validation finds errors. With False the errors are only
        recorded in ``attrs["validation"]`` (``coinbt data validate`` uses this).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (datetime64[ns, UTC], candle open time), float64 columns
        ``open high low close volume`` (volume in the base asset). ``attrs`` holds ``symbol``,
        ``exchange``, ``timeframe`` and ``validation`` (``ValidationReport.to_dict()``).

    Raises
    ------
    ConfigError
        Misspelt symbol, unknown timeframe token, unreadable date.
    DataError
        start after end; unknown exchange or symbol; timeframe not available; symbol on several
        exchanges and no ``exchange``; range outside the data; validation errors.

    Warns
    -----
    UserWarning
        The range only partly overlaps the data (the covered span is named).

    Notes
    -----
    A bar's information is complete at ``timestamp + timeframe``; strategies must not use a
    bar's close before then. Only the year files that intersect the range are opened.

    Examples
    --------
    >>> bars = load_bars("BTC/USDT", "1h", "2023-01-01", "2023-01-31", exchange="binance")
    >>> bars.index[-1]
    Timestamp('2023-01-31 23:00:00+0000', tz='UTC')
    """
    tf = parse_timeframe(timeframe)
    sym = canonical_symbol(symbol, exchange)
    lo, hi = _bounds(start, end)
    plan = _plan(catalog or Catalog(), sym, tf, exchange, lo, hi)
    if plan.partial:
        warnings.warn(plan.partial, stacklevel=2)
    return _read(plan, strict=strict)


def load_many(
    symbols: Iterable[str],
    timeframe: str,
    start: TimeLike = None,
    end: TimeLike = None,
    exchange: str | None = None,
    *,
    catalog: Catalog | None = None,
) -> dict[str, pd.DataFrame]:
    """Load several symbols at one timeframe; check every one before reading any.

    Parameters
    ----------
    symbols : iterable of str
        Symbols or aliases. Aliases of the same market collapse into one entry.
    timeframe, start, end, exchange, catalog
        As in :func:`load_bars`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Canonical symbol -> bars, in request order.

    Raises
    ------
    DataError
        One error for all unavailable symbols: ``.problems`` has one line per symbol.
    ConfigError
        Unknown timeframe or unreadable date.

    Examples
    --------
    >>> frames = load_many(["BTC-USDT", "ETH-USDT"], "1h", "2023-01-01", "2023-01-02")
    >>> sorted(frames)
    ['BTC-USDT', 'ETH-USDT']
    """
    tf = parse_timeframe(timeframe)
    lo, hi = _bounds(start, end)
    if isinstance(symbols, str):
        symbols = [symbols]
    symbols = list(symbols)
    if not symbols:
        raise ConfigError("load_many needs at least one symbol", field="symbols")
    catalog = catalog or Catalog()
    if exchange is not None:
        catalog.check_exchange(exchange)
    plans: dict[str, _Plan] = {}
    problems: list[str] = []
    for raw in symbols:
        try:
            sym = canonical_symbol(raw, exchange)
            if sym not in plans:
                plans[sym] = _plan(catalog, sym, tf, exchange, lo, hi)
        except DataError as exc:
            problems.extend(f"{raw}: {p}" for p in (exc.problems or [str(exc)]))
        except CoinbtError as exc:
            problems.append(f"{raw}: {exc}")
    if problems:
        msg = f"{len(problems)} of {len(symbols)} requested symbol(s) unavailable at {tf}:\n  "
        raise DataError(msg + "\n  ".join(problems), problems=problems)
    for plan in plans.values():
        if plan.partial:
            warnings.warn(plan.partial, stacklevel=2)
    return {sym: _read(plan, strict=True) for sym, plan in plans.items()}
