"""Timeframe tokens (ccxt spelling) and the 24/7 calendar.

Crypto markets trade every day, all day: annualisation uses a 365-day, 24-hour year and never
252 trading days.  ``1M`` is one calendar month (ccxt); minutes are ``1m``.
"""

from __future__ import annotations

import pandas as pd

from coinbt.errors import ConfigError, did_you_mean

SECONDS_PER_YEAR = 365 * 24 * 3600

#: token -> nominal length in seconds (a month is 365/12 days for annualisation only)
TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "12h": 43200,
    "1d": 86400,
    "1w": 604800,
    "1M": SECONDS_PER_YEAR // 12,
}

#: tokens other tools use for the same timeframe (unambiguous ones only)
_ALIASES: dict[str, str] = {
    "1min": "1m",
    "3min": "3m",
    "5min": "5m",
    "15min": "15m",
    "30min": "30m",
    "60m": "1h",
    "1H": "1h",
    "2H": "2h",
    "4H": "4h",
    "6H": "6h",
    "12H": "12h",
    "1D": "1d",
    "24h": "1d",
    "1W": "1w",
    "7d": "1w",
    "1mo": "1M",
    "1mon": "1M",
    "1month": "1M",
}


def parse_timeframe(token: str) -> str:
    """Return the canonical ccxt token for ``token`` or raise :class:`ConfigError`.

    Examples
    --------
    >>> parse_timeframe("1mo")
    '1M'
    >>> parse_timeframe("15min")
    '15m'
    """
    if not isinstance(token, str):
        raise ConfigError(
            f"timeframe must be a string such as '1h', got {token!r} ({type(token).__name__})",
            field="timeframe",
        )
    if token in TIMEFRAME_SECONDS:
        return token
    if token in _ALIASES:
        return _ALIASES[token]
    known = list(TIMEFRAME_SECONDS)
    raise ConfigError(
        f"unknown timeframe {token!r}; expected one of {', '.join(known)} "
        f"(ccxt tokens: '1m' is a minute, '1M' a month).{did_you_mean(token, known)}",
        field="timeframe",
    )


def timeframe_seconds(token: str) -> int:
    """Nominal bar length in seconds."""
    return TIMEFRAME_SECONDS[parse_timeframe(token)]


def timeframe_offset(token: str) -> pd.DateOffset | pd.Timedelta:
    """Exact bar length as a pandas offset (calendar month for ``1M``)."""
    tf = parse_timeframe(token)
    if tf == "1M":
        return pd.DateOffset(months=1)
    return pd.Timedelta(seconds=TIMEFRAME_SECONDS[tf])


def pandas_freq(token: str) -> str:
    """A pandas frequency string for resampling (``1M`` -> month start ``MS``)."""
    tf = parse_timeframe(token)
    if tf == "1M":
        return "MS"
    if tf == "1w":
        return "W-MON"
    return f"{TIMEFRAME_SECONDS[tf]}s"


def periods_per_year(token: str) -> float:
    """Bars per 365-day year for ``token`` (8760 for ``1h``, 365 for ``1d``, 12 for ``1M``)."""
    return SECONDS_PER_YEAR / timeframe_seconds(token)
