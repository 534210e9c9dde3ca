"""Short, unambiguous text for timestamps and durations in messages (always UTC)."""

from __future__ import annotations

import pandas as pd


def fmt_ts(ts: pd.Timestamp | None) -> str:
    """``2024-01-31 23:00`` (UTC); seconds and fractions only when present."""
    if ts is None or ts is pd.NaT:
        return "?"
    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts.nanosecond == 999 and ts.microsecond == 999999 and ts.second == 59:
        return ts.strftime("%Y-%m-%d %H:%M:59.999999999")
    if ts.nanosecond or ts.microsecond:
        return ts.isoformat().replace("T", " ").replace("+00:00", "")
    if ts.second:
        return ts.strftime("%Y-%m-%d %H:%M:%S")
    return ts.strftime("%Y-%m-%d %H:%M")


def fmt_span(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    """``2021-04-04 20:00 -> 2023-12-30 19:00 UTC``."""
    return f"{fmt_ts(start)} -> {fmt_ts(end)} UTC"


def fmt_td(delta: pd.Timedelta) -> str:
    """``5h``, ``2d``, ``1d 4h``, ``15min``."""
    seconds = int(pd.Timedelta(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")) if v]
    return " ".join(parts) or "0s"
