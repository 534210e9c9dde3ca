"""Resample bars to a coarser timeframe with explicit labelling.

Buckets are left-closed and labelled by their open time (``[open, open + timeframe)``), like
every bar in coinbt. Buckets are aligned to the Unix epoch for ``1m``..``1d``, to Monday
00:00 UTC for ``1w`` (ccxt/Binance convention) and to the 1st of the month 00:00 UTC for ``1M``.
Open/high/low/close/volume aggregate as first/max/min/last/sum. Missing source bars are never
invented: a bucket with fewer source bars than it should hold is reported as incomplete, and a
bucket with no source bar produces no row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coinbt.data.store import OHLCV_COLUMNS, make_bars
from coinbt.data.validate import bar_timestamps, ohlcv_arrays, validate_bars
from coinbt.errors import ConfigError, DataError
from coinbt.timeframes import TIMEFRAME_SECONDS, parse_timeframe

_NS = 1_000_000_000
_MONDAY_ORIGIN_NS = 4 * 86400 * _NS


@dataclass
class ResampleReport:
    """What :func:`resample_bars` did.

    Attributes
    ----------
    source_timeframe, timeframe : str
        From and to.
    buckets : int
        Buckets that had at least one source bar.
    incomplete : pandas.DataFrame
        Index ``timestamp`` (bucket open), columns ``bars`` (source bars found) and
        ``expected`` (source bars a full bucket holds).
    dropped : int
        Incomplete buckets removed (``complete_only=True``), else 0.
    """

    source_timeframe: str
    timeframe: str
    buckets: int = 0
    incomplete: pd.DataFrame = field(default_factory=pd.DataFrame)
    dropped: int = 0

    @property
    def complete(self) -> bool:
        """True when every bucket had all its source bars."""
        return len(self.incomplete) == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (first 20 incomplete buckets listed)."""
        listed = [
            [ts.isoformat(), int(r.bars), int(r.expected)]
            for ts, r in self.incomplete.head(20).iterrows()
        ]
        return {
            "source_timeframe": self.source_timeframe,
            "timeframe": self.timeframe,
            "buckets": self.buckets,
            "incomplete_buckets": len(self.incomplete),
            "incomplete": listed,
            "dropped": self.dropped,
        }


def infer_timeframe(df: pd.DataFrame) -> str:
    """The timeframe of ``df``: ``attrs["timeframe"]`` or the most common step between bars.

    Raises
    ------
    ConfigError
        When neither gives a known timeframe.
    """
    if "timeframe" in df.attrs:
        return parse_timeframe(df.attrs["timeframe"])
    ts = bar_timestamps(df)
    steps = np.diff(ts.asi8)
    steps = steps[steps > 0]
    if len(steps):
        values, counts = np.unique(steps // _NS, return_counts=True)
        mode = int(values[np.argmax(counts)])
        for tf, seconds in TIMEFRAME_SECONDS.items():
            if seconds == mode:
                return tf
        if 28 * 86400 <= mode <= 31 * 86400:
            return "1M"
    raise ConfigError(
        "cannot tell the source timeframe: the frame has no attrs['timeframe'] and its step "
        "between bars is not a known timeframe; pass source_timeframe=",
        field="source_timeframe",
    )


def _check_target(src: str, dst: str) -> int | None:
    """Source bars per full bucket (None for ``1M``: depends on the month)."""
    s, d = TIMEFRAME_SECONDS[src], TIMEFRAME_SECONDS[dst]
    if d <= s:
        raise ConfigError(
            f"cannot resample {src} bars to {dst}: the target must be coarser than the source "
            f"(resampling only aggregates; it never splits bars)",
            field="timeframe",
        )
    if dst == "1M":
        if 86400 % s:
            raise ConfigError(
                f"cannot resample {src} bars to 1M: months hold a whole number of days, so the "
                "source must be 1d or finer and divide a day",
                field="timeframe",
            )
        return None
    if d % s:
        raise ConfigError(
            f"cannot resample {src} bars to {dst}: {dst} is not a whole multiple of {src}; "
            f"choose a target whose length is a multiple of {src}",
            field="timeframe",
        )
    return d // s


def _bucket_keys(ts_ns: np.ndarray, dst: str) -> np.ndarray:
    """Open time (ns since epoch, UTC) of the bucket holding each timestamp."""
    if dst == "1M":
        return (
            ts_ns.astype("datetime64[ns]")
            .astype("datetime64[M]")
            .astype("datetime64[ns]")
            .view(np.int64)
        )
    size = TIMEFRAME_SECONDS[dst] * _NS
    origin = _MONDAY_ORIGIN_NS if dst == "1w" else 0
    return (ts_ns - origin) // size * size + origin


def resample_bars(
    df: pd.DataFrame,
    timeframe: str,
    *,
    complete_only: bool = False,
    source_timeframe: str | None = None,
) -> tuple[pd.DataFrame, ResampleReport]:
    """Aggregate bars into a coarser timeframe.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical bars (as from :func:`~coinbt.data.load_bars`).
    timeframe : str
        Target timeframe, coarser than the source and a whole multiple of it (``1M`` needs a
        source of ``1d`` or finer; ``1w`` buckets start Monday 00:00 UTC).
    complete_only : bool, default False
        Drop buckets with fewer source bars than a full bucket holds (first and last buckets
        of a series are often partial; so are buckets touching a gap).
    source_timeframe : str, optional
        Timeframe of ``df``; default ``df.attrs["timeframe"]``, else the most common step.

    Returns
    -------
    bars : pandas.DataFrame
        Canonical frame labelled by bucket open time; ``attrs`` keep ``symbol`` and
        ``exchange``, set ``timeframe``, ``validation`` and ``resample`` (the report dict).
    report : ResampleReport
        Buckets made, incomplete buckets (source bars found vs expected), dropped count.

    Raises
    ------
    ConfigError
        Target finer than, equal to, or not a multiple of the source.
    DataError
        The source has validation errors (duplicates, disorder, NaN, bad OHLC).

    Notes
    -----
    A resampled bar is complete at ``open + timeframe``, like any bar: the 4h bar labelled
    08:00 contains the 1h bars 08:00..11:00 and is known at 12:00.

    Examples
    --------
    >>> from coinbt.data import load_bars
    >>> bars = load_bars("BTC-USDT", "1h", "2023-01-01", "2023-01-02", exchange="binance")
    >>> daily, report = resample_bars(bars, "1d")
    >>> len(daily), report.complete
    (2, True)
    """
    dst = parse_timeframe(timeframe)
    src = parse_timeframe(source_timeframe) if source_timeframe else infer_timeframe(df)
    per_bucket = _check_target(src, dst)
    check = validate_bars(df, src)
    if not check.ok:
        raise DataError(
            f"cannot resample: the {src} source has errors:\n  " + "\n  ".join(check.errors),
            problems=list(check.errors),
        )
    ts = bar_timestamps(df).tz_convert("UTC").as_unit("ns").asi8
    values = ohlcv_arrays(df)
    keys = _bucket_keys(ts, dst)
    if len(keys):
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(keys)].astype(np.int64)
        out = {
            "open": values["open"][starts],
            "high": np.maximum.reduceat(values["high"], starts),
            "low": np.minimum.reduceat(values["low"], starts),
            "close": values["close"][ends - 1],
            "volume": np.add.reduceat(values["volume"], starts),
        }
    else:
        starts = ends = np.empty(0, dtype=np.int64)
        out = {c: np.empty(0) for c in OHLCV_COLUMNS}
    counts = ends - starts
    labels = pd.DatetimeIndex(keys[starts], tz="UTC").as_unit("ns")
    if per_bucket is None:
        expected = labels.days_in_month.to_numpy() * (86400 // TIMEFRAME_SECONDS[src])
    else:
        expected = np.full(len(starts), per_bucket)
    short = counts < expected
    incomplete = pd.DataFrame(
        {"bars": counts[short].astype(np.int64), "expected": expected[short].astype(np.int64)},
        index=pd.DatetimeIndex(labels[short], name="timestamp").as_unit("ns"),
    )
    report = ResampleReport(src, dst, buckets=len(starts), incomplete=incomplete)
    keep = ~short if complete_only else np.ones(len(starts), dtype=bool)
    if complete_only:
        report.dropped = int(short.sum())
    bars = make_bars(labels[keep], {c: out[c][keep] for c in OHLCV_COLUMNS})
    bars.attrs = {k: df.attrs[k] for k in ("symbol", "exchange") if k in df.attrs}
    bars.attrs.update(
        timeframe=dst,
        validation=validate_bars(bars, dst).to_dict(),
        resample=report.to_dict(),
    )
    return bars, report
