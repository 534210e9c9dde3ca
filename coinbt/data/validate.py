"""Bar validation: errors that make a series unusable, warnings that a researcher should know.

Errors: duplicate timestamps, time going backwards, bars closer together than one timeframe
(overlapping candles), NaN values, timestamps without a time zone, OHLC inconsistency
(high < max(open, close), low > min(open, close), high < low), non-positive prices and negative
volume. Warnings: gaps (count, missing bars, largest gap, first spans), zero-volume bars and
timestamps off the timeframe grid. Gaps are reported, never filled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coinbt.data._fmt import fmt_td, fmt_ts
from coinbt.data.store import INDEX_NAME, OHLCV_COLUMNS
from coinbt.errors import DataError
from coinbt.timeframes import TIMEFRAME_SECONDS, parse_timeframe

#: how many gap spans a report lists
MAX_GAP_SPANS = 5
_NS = 1_000_000_000
#: 1970-01-05 was a Monday: weekly bars open on Mondays 00:00 UTC
_MONDAY_ORIGIN_NS = 4 * 86400 * _NS


@dataclass
class ValidationReport:
    """What :func:`validate_bars` found.

    Attributes
    ----------
    timeframe : str
        Timeframe the bars were checked against.
    rows : int
        Number of bars.
    start, end : pandas.Timestamp or None
        First and last open time (UTC).
    errors, warnings : list of str
        One human-readable line per finding. ``errors`` make :func:`~coinbt.data.load_bars`
        raise; ``warnings`` are information.
    gap_spans : list of tuple
        First few gaps as ``(first missing open, last missing open, missing bars)``.
    """

    timeframe: str
    rows: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duplicates: int = 0
    non_monotonic: int = 0
    short_steps: int = 0
    nan_values: int = 0
    ohlc_violations: int = 0
    non_positive_prices: int = 0
    negative_volume: int = 0
    gaps: int = 0
    missing_bars: int = 0
    largest_gap: pd.Timedelta | None = None
    gap_spans: list[tuple[pd.Timestamp, pd.Timestamp, int]] = field(default_factory=list)
    zero_volume_bars: int = 0
    misaligned: int = 0

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: timestamps as ISO strings, the largest gap in seconds."""
        out = asdict(self)
        out["ok"] = self.ok
        out["start"] = None if self.start is None else self.start.isoformat()
        out["end"] = None if self.end is None else self.end.isoformat()
        out["largest_gap"] = (
            None if self.largest_gap is None else int(self.largest_gap.total_seconds())
        )
        out["gap_spans"] = [[a.isoformat(), b.isoformat(), int(n)] for a, b, n in self.gap_spans]
        return out

    def summary(self) -> str:
        """Multi-line text: counts, then one line per error and warning."""
        lines = [
            f"{self.rows} bars ({self.timeframe}), {fmt_ts(self.start)} -> {fmt_ts(self.end)} UTC"
            f": {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        ]
        lines += [f"ERROR   {e}" for e in self.errors]
        lines += [f"WARNING {w}" for w in self.warnings]
        return "\n".join(lines)


def bar_timestamps(df: pd.DataFrame) -> pd.DatetimeIndex:
    """The open times of a bar frame: its DatetimeIndex or its ``timestamp`` column."""
    if isinstance(df.index, pd.DatetimeIndex):
        return df.index
    if INDEX_NAME in df.columns:
        return pd.DatetimeIndex(df[INDEX_NAME])
    raise DataError(
        "bars need a DatetimeIndex (candle open time, UTC) or a 'timestamp' column; got "
        f"index {type(df.index).__name__} and columns {list(map(str, df.columns))}"
    )


def ohlcv_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The five OHLCV columns as float64 arrays, or :class:`DataError` naming what is wrong."""
    missing = [c for c in OHLCV_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"bars are missing column(s) {missing}; expected {list(OHLCV_COLUMNS)}, "
            f"got {list(map(str, df.columns))}"
        )
    out = {}
    for col in OHLCV_COLUMNS:
        try:
            out[col] = np.asarray(df[col].to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError) as exc:
            raise DataError(f"column {col!r} is not numeric ({df[col].dtype}): {exc}") from exc
    return out


def _first(ts: np.ndarray, mask: np.ndarray) -> str:
    return fmt_ts(pd.Timestamp(int(ts[np.argmax(mask)]), tz="UTC"))


def _count_rule(report: ValidationReport, ts: np.ndarray, mask: np.ndarray, text: str) -> int:
    n = int(mask.sum())
    if n:
        report.errors.append(f"{n} bar(s) with {text}, first at {_first(ts, mask)} UTC")
    return n


def _check_values(report: ValidationReport, ts: np.ndarray, v: dict[str, np.ndarray]) -> None:
    o, h, lo, c, vol = (v[k] for k in OHLCV_COLUMNS)
    nan_cols = {k: int(np.isnan(a).sum()) for k, a in v.items()}
    report.nan_values = sum(nan_cols.values())
    if report.nan_values:
        mask = np.zeros(len(ts), dtype=bool)
        for a in v.values():
            mask |= np.isnan(a)
        detail = ", ".join(f"{k}: {n}" for k, n in nan_cols.items() if n)
        report.errors.append(
            f"{report.nan_values} NaN value(s) ({detail}), first at {_first(ts, mask)} UTC"
        )
    with np.errstate(invalid="ignore"):
        bad_high = h < np.fmax(o, c)
        bad_low = lo > np.fmin(o, c)
        crossed = h < lo
        non_pos = (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)
        neg_vol = vol < 0
    _count_rule(report, ts, bad_high, "high < max(open, close)")
    _count_rule(report, ts, bad_low, "low > min(open, close)")
    _count_rule(report, ts, crossed, "high < low")
    report.ohlc_violations = int((bad_high | bad_low | crossed).sum())
    report.non_positive_prices = _count_rule(report, ts, non_pos, "a price <= 0")
    report.negative_volume = _count_rule(report, ts, neg_vol, "negative volume")
    zero = vol == 0
    report.zero_volume_bars = int(zero.sum())
    if report.zero_volume_bars:
        report.warnings.append(
            f"{report.zero_volume_bars} zero-volume bar(s), first at {_first(ts, zero)} UTC"
        )


def _check_order(report: ValidationReport, ts: np.ndarray) -> None:
    dup = pd.Index(ts).duplicated()
    report.duplicates = int(dup.sum())
    if report.duplicates:
        report.errors.append(
            f"{report.duplicates} duplicate timestamp(s), first at {_first(ts, dup)} UTC"
        )
    back = np.diff(ts) < 0
    report.non_monotonic = int(back.sum())
    if report.non_monotonic:
        i = int(np.argmax(back)) + 1
        report.errors.append(
            f"time goes backwards {report.non_monotonic} time(s); first at row {i}: "
            f"{fmt_ts(pd.Timestamp(int(ts[i]), tz='UTC'))} after "
            f"{fmt_ts(pd.Timestamp(int(ts[i - 1]), tz='UTC'))} UTC"
        )


def _grid(tf: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(position on the bar grid, steps in bars, on-grid mask)`` of sorted unique times."""
    if tf == "1M":
        idx = pd.DatetimeIndex(u, tz="UTC") if len(u) else pd.DatetimeIndex([], tz="UTC")
        months = (idx.year.to_numpy() - 1970) * 12 + idx.month.to_numpy() - 1
        on_grid = (idx.day.to_numpy() == 1) & (u % (86400 * _NS) == 0)
        return months.astype(np.int64), np.diff(months), on_grid
    step = TIMEFRAME_SECONDS[tf] * _NS
    origin = _MONDAY_ORIGIN_NS if tf == "1w" else 0
    rel = u - origin
    return rel // step, np.diff(u), rel % step == 0


def _check_grid(report: ValidationReport, tf: str, u: np.ndarray) -> None:
    if len(u) < 1:
        return
    _, steps, on_grid = _grid(tf, u)
    report.misaligned = int((~on_grid).sum())
    if report.misaligned:
        report.warnings.append(
            f"{report.misaligned} timestamp(s) not on the {tf} grid, first at "
            f"{_first(u, ~on_grid)} UTC"
        )
    if len(u) < 2:
        return
    if tf == "1M":
        short = steps < 1
        missing = np.maximum(steps - 1, 0)
    else:
        size = TIMEFRAME_SECONDS[tf] * _NS
        short = steps < size
        missing = np.maximum((steps - 1) // size, 0)
    report.short_steps = int(short.sum())
    if report.short_steps:
        i = int(np.argmax(short)) + 1
        report.errors.append(
            f"{report.short_steps} bar(s) open less than one {tf} bar after the previous one "
            f"(overlapping candles, wrong timeframe?), first at "
            f"{fmt_ts(pd.Timestamp(int(u[i]), tz='UTC'))} UTC"
        )
    gap = missing > 0
    report.gaps = int(gap.sum())
    report.missing_bars = int(missing.sum())
    if not report.gaps:
        return
    deltas = np.diff(u)
    report.largest_gap = pd.Timedelta(int(deltas[gap].max()), unit="ns")
    offset = pd.DateOffset(months=1) if tf == "1M" else pd.Timedelta(TIMEFRAME_SECONDS[tf], "s")
    for i in np.flatnonzero(gap)[:MAX_GAP_SPANS]:
        before = pd.Timestamp(int(u[i]), tz="UTC")
        after = pd.Timestamp(int(u[i + 1]), tz="UTC")
        report.gap_spans.append((before + offset, after - offset, int(missing[i])))
    spans = "; ".join(
        f"{fmt_ts(a)} -> {fmt_ts(b)} ({n} bars)" if n > 1 else f"{fmt_ts(a)} (1 bar)"
        for a, b, n in report.gap_spans
    )
    more = (
        f"; ... {report.gaps - len(report.gap_spans)} more" if report.gaps > MAX_GAP_SPANS else ""
    )
    report.warnings.append(
        f"{report.gaps} gap(s), {report.missing_bars} missing bar(s), largest step between bars "
        f"{fmt_td(report.largest_gap)}; missing (UTC): {spans}{more}"
    )


def validate_bars(df: pd.DataFrame, timeframe: str) -> ValidationReport:
    """Check a bar frame and report errors and warnings; never modifies or raises on content.

    Parameters
    ----------
    df : pandas.DataFrame
        Bars with a DatetimeIndex (or ``timestamp`` column) of candle open times and the
        columns ``open high low close volume``.
    timeframe : str
        Expected bar length, ccxt token (``1h``, ``1d``, ``1M``...).

    Returns
    -------
    ValidationReport
        ``.ok`` is False when there are errors.

    Raises
    ------
    ConfigError
        Unknown timeframe.
    DataError
        The frame has no time index/column or lacks an OHLCV column (it is not a bar frame).

    Notes
    -----
    Gap, grid and spacing checks run on the sorted unique timestamps. Weekly bars are expected
    to open on Mondays 00:00 UTC, monthly bars on the 1st 00:00 UTC, others on multiples of their
    length since the Unix epoch.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC", name="timestamp")
    >>> bars = pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5,
    ...                      "volume": 10.0}, index=idx)
    >>> validate_bars(bars, "1h").ok
    True
    """
    tf = parse_timeframe(timeframe)
    index = bar_timestamps(df)
    values = ohlcv_arrays(df)
    report = ValidationReport(timeframe=tf, rows=len(df))
    if index.tz is None:
        report.errors.append(
            "timestamps have no time zone; expected tz-aware UTC open times "
            "(localize with .tz_localize('UTC') if they are UTC)"
        )
        index = index.tz_localize("UTC")
    index = index.tz_convert("UTC").as_unit("ns")
    nat = index.isna()
    if nat.any():
        report.errors.append(f"{int(nat.sum())} missing timestamp(s) (NaT)")
    ts = index.asi8[~nat]
    if len(ts):
        report.start = pd.Timestamp(int(ts.min()), tz="UTC")
        report.end = pd.Timestamp(int(ts.max()), tz="UTC")
    _check_order(report, ts)
    _check_values(report, index.asi8, values)
    _check_grid(report, tf, np.unique(ts))
    return report
