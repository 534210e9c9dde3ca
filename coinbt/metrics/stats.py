"""``compute_stats``: every headline figure of one backtest as a JSON-ready dict."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from coinbt.errors import ConfigError, DataError
from coinbt.metrics.drawdowns import as_float_array, drawdown_summary
from coinbt.metrics.returns import cagr, finite_or_none, return_figures
from coinbt.metrics.trades import (
    OPEN_POSITION_FIELDS,
    TRADE_FIELDS,
    check_records,
    trade_figures,
)
from coinbt.timeframes import SECONDS_PER_YEAR, periods_per_year, timeframe_seconds

#: bumped whenever a definition below changes, so stored figures can be told apart
METRICS_VERSION = 1

#: the keys of :func:`compute_stats`, in order
STAT_KEYS = (
    "start",
    "end",
    "bars",
    "duration_days",
    "initial_equity",
    "final_equity",
    "total_return",
    "cagr",
    "volatility_ann",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_bars",
    "max_drawdown_duration_days",
    "avg_drawdown",
    "exposure_time",
    "n_trades",
    "n_open_positions",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_trade_return",
    "best_trade_return",
    "worst_trade_return",
    "avg_bars_held",
    "fees_paid",
    "buy_hold_return",
    "periods_per_year",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS_PER_DAY = 86400


def _bars_held(
    position_value: np.ndarray | None,
    trades: np.ndarray,
    open_position: np.ndarray | None,
    n: int,
) -> int:
    """Bars at whose close a position is open."""
    if position_value is not None:
        return int(np.count_nonzero(position_value))
    held = int((trades["exit_bar"] - trades["entry_bar"]).sum())
    if open_position is not None and open_position.shape[0]:
        held += n - int(open_position["entry_bar"][0])
    return held


def compute_stats(
    *,
    equity: np.ndarray,
    position_value: np.ndarray | None = None,
    close: np.ndarray,
    timestamps: np.ndarray,
    trades: np.ndarray,
    open_position: np.ndarray | None,
    init_cash: float,
    timeframe: str,
) -> dict[str, Any]:
    """Performance, risk and trade statistics of one backtest.

    Parameters
    ----------
    equity : numpy.ndarray
        float64 account equity after each bar's close (cash + position value), quote currency.
    position_value : numpy.ndarray, optional
        float64 signed value of the open position at each bar's close, quote currency
        (0 when flat, negative when short). Only used for ``exposure_time``; when omitted the
        bars held are counted from the records instead (a position is held at the close of
        bars ``entry_bar … exit_bar − 1``, and to the last bar when still open), which gives
        the same figure for engine output without building a per-bar array.
    close : numpy.ndarray
        float64 close price per bar, quote currency per unit of base.
    timestamps : numpy.ndarray
        int64 bar open times, nanoseconds since the epoch, UTC (``datetime64[ns]`` accepted).
    trades : numpy.ndarray
        Closed trades as ``coinbt.engine.records.trade_dt`` records.
    open_position : numpy.ndarray or None
        ``open_position_dt`` records of length 0 or 1 (a position still open after the last
        bar), or None.
    init_cash : float
        Starting cash, quote currency (> 0): the equity before bar 0.
    timeframe : str
        Bar length as a ccxt token (``"1h"``, ``"1d"``, ...); sets the annualisation.

    Returns
    -------
    dict
        The keys of :data:`STAT_KEYS`, in that order. Values are plain ``float``, ``int``,
        ``str`` or None; fractions, not percent; money in quote currency. None marks a figure
        that is undefined for these inputs (see Notes); no value is ever NaN or infinite, so
        ``json.dumps(stats, allow_nan=False)`` always succeeds.

    Raises
    ------
    DataError
        Arrays of different lengths, no bars, non-finite equity, or records without the
        engine's fields.
    ConfigError
        ``init_cash`` not a finite number > 0, or an unknown ``timeframe``.

    Notes
    -----
    ``docs/metrics.md`` gives every formula. In short, with ``r`` the per-bar simple returns
    (``init_cash`` as the value before bar 0) and ``ppy`` the bars per 365-day 24-hour year:

    - time: ``duration_days = bars · bar length`` (gaps in the data are not counted), and
      ``cagr = (final / init_cash) ** (1 / years) - 1`` with ``years = duration_days / 365``;
    - ``volatility_ann = std(r, ddof=1)·√ppy``, ``sharpe = mean(r) / std(r, ddof=1)·√ppy``,
      ``sortino = mean(r) / sqrt(mean(min(r, 0)²))·√ppy``, risk-free rate 0;
      ``calmar = cagr / |max_drawdown|``;
    - drawdown = equity / running peak − 1 (:func:`coinbt.metrics.drawdown`).

    None when a figure is undefined: ``volatility_ann`` with fewer than 2 bars; ``sharpe``
    with fewer than 2 bars or zero variance; ``sortino`` with no losing bar; all three when any
    of ``init_cash, equity[0..n-2]`` is <= 0 (a return on a non-positive base is undefined);
    ``cagr`` when final equity <= 0 or it overflows; ``calmar`` without ``cagr`` or without a
    drawdown; ``avg_drawdown`` without a drawdown episode; every per-trade figure without a
    closed trade; ``profit_factor`` without a losing trade; ``buy_hold_return`` when
    ``close[0] <= 0``.

    Examples
    --------
    >>> from coinbt.engine.records import trade_dt
    >>> s = compute_stats(
    ...     equity=np.array([100.0, 110.0]), position_value=np.zeros(2),
    ...     close=np.array([1.0, 1.1]), timestamps=np.array([0, 86_400 * 10**9]),
    ...     trades=np.zeros(0, dtype=trade_dt), open_position=None,
    ...     init_cash=100.0, timeframe="1d")
    >>> s["total_return"], s["periods_per_year"], s["win_rate"]
    (0.10000000000000009, 365.0, None)
    """
    eq = as_float_array(equity, "equity")
    px = as_float_array(close, "close")
    ts = _as_ns(timestamps)
    n = eq.shape[0]
    if n == 0:
        raise DataError("compute_stats needs at least one bar; equity is empty")
    arrays = [("close", px), ("timestamps", ts)]
    if position_value is not None:
        arrays.append(("position_value", as_float_array(position_value, "position_value")))
    for name, arr in arrays:
        if arr.shape[0] != n:
            raise DataError(
                f"{name} has {arr.shape[0]} values but equity has {n}; every input array "
                f"must have one value per bar"
            )
    cash0 = _init_cash(init_cash)
    bar_seconds = timeframe_seconds(timeframe)
    ppy = periods_per_year(timeframe)
    trades = check_records(trades, TRADE_FIELDS, "trades")
    if open_position is not None:
        open_position = check_records(open_position, OPEN_POSITION_FIELDS, "open_position")
        if open_position.shape[0] > 1:
            raise DataError(
                f"open_position holds {open_position.shape[0]} records; the engine keeps at "
                f"most one position per symbol (length 0 or 1)"
            )

    lo = float(eq.min())
    hi = float(eq.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = int(np.argmin(np.isfinite(eq)))
        raise DataError(f"equity must be finite on every bar; bar {bad} holds {eq[bad]!r}")
    # the bases of the per-bar returns: init_cash (checked > 0) and equity[0..n-2]
    bases_positive = lo > 0.0 or n == 1 or float(eq[:-1].min()) > 0.0

    final = float(eq[-1])
    duration_days = n * bar_seconds / _SECONDS_PER_DAY
    years = n * bar_seconds / SECONDS_PER_YEAR
    growth = cagr(final, cash0, years)
    vol, sharpe, sortino = return_figures(eq, cash0, ppy, bases_positive)
    dd = drawdown_summary(eq)
    calmar = None
    if growth is not None and dd.max_drawdown is not None and dd.max_drawdown < 0.0:
        calmar = growth / -dd.max_drawdown
    dd_days = None
    if dd.max_duration_bars is not None:
        dd_days = dd.max_duration_bars * bar_seconds / _SECONDS_PER_DAY
    c0, c1 = float(px[0]), float(px[-1])
    buy_hold = c1 / c0 - 1.0 if c0 > 0.0 else None

    stats: dict[str, Any] = {
        "start": _iso_utc(int(ts[0])),
        "end": _iso_utc(int(ts[-1])),
        "bars": int(n),
        "duration_days": float(duration_days),
        "initial_equity": cash0,
        "final_equity": final,
        "total_return": final / cash0 - 1.0,
        "cagr": growth,
        "volatility_ann": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "max_drawdown": dd.max_drawdown,
        "max_drawdown_duration_bars": dd.max_duration_bars,
        "max_drawdown_duration_days": dd_days,
        "avg_drawdown": dd.avg_drawdown,
        "exposure_time": _bars_held(position_value, trades, open_position, n) / n,
        **trade_figures(trades, open_position),
        "buy_hold_return": buy_hold,
        "periods_per_year": float(ppy),
    }
    return {k: finite_or_none(v) if isinstance(v, float) else v for k, v in stats.items()}


def _init_cash(init_cash: Any) -> float:
    if isinstance(init_cash, bool) or not isinstance(init_cash, (int, float, np.number)):
        raise ConfigError(
            f"init_cash must be a number, got {init_cash!r} ({type(init_cash).__name__})",
            field="init_cash",
        )
    value = float(init_cash)
    if not (math.isfinite(value) and value > 0.0):
        raise ConfigError(
            f"init_cash must be a finite amount > 0 in the quote currency, got {init_cash!r}",
            field="init_cash",
        )
    return value


def _as_ns(timestamps: Any) -> np.ndarray:
    arr = np.asarray(timestamps)
    if arr.ndim != 1:
        raise DataError(f"timestamps must be 1-D, got an array of shape {arr.shape}")
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]", copy=False).view(np.int64)
    if arr.dtype.kind not in "iu":
        raise DataError(
            f"timestamps must be int64 nanoseconds since the epoch (UTC) or datetime64, "
            f"got dtype {arr.dtype}"
        )
    return arr


def _iso_utc(ns: int) -> str:
    """ISO-8601 UTC string of a nanosecond epoch time (microsecond precision)."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat()
