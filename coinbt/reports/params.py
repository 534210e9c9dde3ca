"""Template parameters → validated plans.

A template's parameters cell holds literals only (papermill passes JSON values); the cell after
it calls :func:`backtest_plan`, so a wrong type or value fails in the first executed cell with
a message that names the parameter, and :func:`coinbt.reports.run_report` makes the same call
before it starts a kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coinbt.errors import ConfigError

#: the parameters of the backtest template that make up its plan (the rest only shape the report)
BACKTEST_FIELDS = (
    "strategy",
    "symbol",
    "timeframe",
    "start",
    "end",
    "exchange",
    "params",
    "settings",
)


def _text(name: str, value: Any, *, optional: bool = False, example: str) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"parameter {name}={value!r}: expected text such as {example}"
            + (" or None" if optional else ""),
            field=name,
        )
    return value.strip()


def _whole(name: str, value: Any, *, optional: bool, least: int) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(
            f"parameter {name}={value!r}: expected a whole number of at least {least}"
            + (" or None" if optional else ""),
            field=name,
        )
    return value


def _mapping(name: str, value: Any, example: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(
            f"parameter {name}={value!r}: expected a mapping of names to values such as "
            f"{example} (YAML or -p {name} '{example}' on the command line)",
            field=name,
        )
    return dict(value)


def backtest_plan(
    strategy: Any,
    symbol: Any,
    timeframe: Any,
    start: Any = None,
    end: Any = None,
    exchange: Any = None,
    params: Any = None,
    settings: Any = None,
) -> Any:
    """The :class:`~coinbt.api.BacktestPlan` a backtest report runs.

    Parameters
    ----------
    strategy, symbol, timeframe : str
        As :func:`coinbt.backtest` (a strategy name, preset or ``module:function``).
    start, end : str, optional
        ISO dates or times (papermill passes dates as text).
    exchange : str, optional
    params : dict, optional
        Strategy parameters; unknown names fail with the closest declared one.
    settings : dict, optional
        Engine settings (``fee_rate``, ``slippage``, ``stop_loss`` …).

    Raises
    ------
    ConfigError, DataError
        Named parameter, what was expected, and how to fix it.
    """
    from coinbt.api import plan_backtest

    name = _text("strategy", strategy, example="'volume_zone_breakout'")
    sym = _text("symbol", symbol, example="'BTC-USDT'")
    tf = _text("timeframe", timeframe, example="'1h'")
    lo = _text("start", start, optional=True, example="'2023-01-01'")
    hi = _text("end", end, optional=True, example="'2023-12-31'")
    ex = _text("exchange", exchange, optional=True, example="'binance'")
    strategy_params = _mapping("params", params, '{"volume_window": 20}')
    engine = _mapping("settings", settings, '{"fee_rate": 0.001}')
    return plan_backtest(name, sym, tf, lo, hi, exchange=ex, params=strategy_params, **engine)


def symbols_of(symbol: Any) -> list[str]:
    """The backtest template's ``symbol``: one symbol, or a list of distinct symbols (one
    backtest each)."""
    example = "'BTC-USDT' or ['BTC-USDT', 'ETH-USDT']"
    if isinstance(symbol, list):
        if not symbol:
            raise ConfigError(f"parameter symbol=[]: expected {example}", field="symbol")
        names = [_text("symbol", s, example=example) for s in symbol]
        twice = sorted({s for s in names if names.count(s) > 1})
        if twice:
            raise ConfigError(
                f"parameter symbol={symbol!r}: {twice[0]} is listed twice", field="symbol"
            )
        return [str(s) for s in names]
    return [str(_text("symbol", symbol, example=example))]


def backtest_plans(
    strategy: Any,
    symbol: Any,
    timeframe: Any,
    start: Any = None,
    end: Any = None,
    exchange: Any = None,
    params: Any = None,
    settings: Any = None,
) -> list[Any]:
    """:func:`backtest_plan` for each symbol of ``symbol`` (text or a list of text)."""
    return [
        backtest_plan(strategy, sym, timeframe, start, end, exchange, params, settings)
        for sym in symbols_of(symbol)
    ]


def report_options(horizons: Any = (1, 4, 24), max_candles: Any = 3000) -> dict[str, Any]:
    """The backtest report's display parameters, checked: ``horizons`` (bars after each
    signal for the signal study) and ``max_candles`` (candles drawn; longer runs are
    resampled for the chart only)."""
    if (
        not isinstance(horizons, list | tuple)
        or not horizons
        or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in horizons)
    ):
        raise ConfigError(
            f"parameter horizons={horizons!r}: expected a list of whole numbers of bars such "
            "as [1, 4, 24]",
            field="horizons",
        )
    candles = _whole("max_candles", max_candles, optional=False, least=100)
    return {"horizons": list(horizons), "max_candles": candles}


def dates_as_text(value: Any) -> Any:
    """YAML reads ``2023-06-30`` as a date; templates take ISO text (papermill would pass a
    date object as its repr).  Applied through lists and mappings."""
    import datetime as dt

    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [dates_as_text(v) for v in value]
    if isinstance(value, Mapping):
        return {k: dates_as_text(v) for k, v in value.items()}
    return value


def plan_fields(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a backtest report that :func:`backtest_plan` takes."""
    return {k: parameters[k] for k in BACKTEST_FIELDS if k in parameters}


__all__ = [
    "BACKTEST_FIELDS",
    "backtest_plan",
    "backtest_plans",
    "dates_as_text",
    "plan_fields",
    "report_options",
    "symbols_of",
]
