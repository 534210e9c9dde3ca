"""The one-call entry point: ``coinbt.backtest``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from coinbt import __version__
from coinbt.data import bars_fingerprint, load_bars
from coinbt.engine import EngineSettings, simulate
from coinbt.errors import ConfigError, DataError
from coinbt.metrics import compute_stats
from coinbt.results import BacktestResult, RunSpec
from coinbt.strategies import Strategy, get_strategy
from coinbt.timeframes import parse_timeframe

_BAR_COLUMNS = ("open", "high", "low", "close", "volume")


def range_text(value: Any) -> str | None:
    """The requested range bound as recorded in a RunSpec (ISO text, or the string given)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "isoformat"):
        return pd.Timestamp(value).isoformat()
    return str(value).strip()


def _check_bars(bars: Any) -> pd.DataFrame:
    if not isinstance(bars, pd.DataFrame):
        raise ConfigError(
            f"bars must be a DataFrame from coinbt.load_bars, got {type(bars).__name__}",
            field="bars",
        )
    missing = [c for c in _BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ConfigError(
            f"bars lack column(s) {missing}; expected {list(_BAR_COLUMNS)} with a UTC "
            f"DatetimeIndex of bar open times (coinbt.load_bars returns that shape)",
            field="bars",
        )
    if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is None:
        raise ConfigError(
            "bars must have a tz-aware DatetimeIndex of bar open times (UTC)", field="bars"
        )
    if len(bars) < 2:
        raise ConfigError(f"bars has {len(bars)} row(s); a backtest needs at least 2", field="bars")
    return bars


def market_bars(
    symbol: str | None,
    timeframe: str | None,
    start: Any,
    end: Any,
    exchange: str | None,
    bars: pd.DataFrame | None,
    *,
    caller: str,
) -> tuple[pd.DataFrame, str, str | None, str]:
    """The bars a run works on — loaded from the catalog, or given and checked — with their
    symbol, exchange and canonical timeframe."""
    if bars is None:
        if symbol is None or timeframe is None:
            raise ConfigError(
                f"{caller} needs symbol and timeframe (e.g. 'BTC-USDT', '1h') or bars=...",
                field="symbol",
            )
        bars = load_bars(symbol, timeframe, start, end, exchange)
    else:
        bars = _check_bars(bars)
        if start is not None or end is not None:
            raise ConfigError(
                "start/end select data from the catalog; slice the bars you pass instead",
                field="start",
            )
    tf = bars.attrs.get("timeframe", timeframe)
    if tf is None:
        raise ConfigError("timeframe is required with bars that carry none", field="timeframe")
    return (
        bars,
        str(bars.attrs.get("symbol", symbol or "UNKNOWN")),
        bars.attrs.get("exchange", exchange),
        parse_timeframe(tf),
    )


def backtest(
    strategy: str | Strategy | Callable[..., Any],
    symbol: str | None = None,
    timeframe: str | None = None,
    start: Any = None,
    end: Any = None,
    *,
    exchange: str | None = None,
    bars: pd.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    **settings: Any,
) -> BacktestResult:
    """Backtest one strategy on one symbol.

    Parameters
    ----------
    strategy : str, Strategy or callable
        A registered name (``coinbt strategies`` lists them) or a function
        ``fn(bars, **params) -> (entries, exits)``.
    symbol, timeframe : str
        Market to load from the catalog (``BTC-USDT``, ``1h``); not needed with ``bars``.
    start, end : str or Timestamp, optional
        Inclusive UTC range; a date-only ``end`` includes that whole day.
    exchange : str, optional
        Needed only when the symbol exists on several exchanges.
    bars : DataFrame, optional
        Bars to use instead of loading from the catalog (``coinbt.load_bars`` shape).
    params : mapping, optional
        Strategy parameters; defaults fill the rest, unknown names fail.
    **settings
        Engine settings, over the strategy's own defaults (``Strategy.settings``) and then
        ``EngineSettings``' defaults (``init_cash``, ``fill``, ``fee_rate``,
        ``slippage_bps``, ``size_type``, ``size``, ``lot_size``, ``min_notional``,
        ``hold_bars``, ``stop_loss``, ``take_profit``, ``trailing_stop``,
        ``same_bar_priority``, ``short``, ``close_at_end``).

    Returns
    -------
    BacktestResult

    Raises
    ------
    DataError
        Unknown symbol, timeframe, exchange or a range the data does not cover.
    ConfigError
        Unknown or invalid parameters and settings.

    Notes
    -----
    Decisions are taken at each bar's close and fill at the next bar's open unless
    ``fill="close"``; see ``docs/engine.md``.

    Examples
    --------
    >>> import coinbt
    >>> r = coinbt.backtest("sma_cross", "BTC-USDT", "1h", "2023-01-01", "2023-03-31",
    ...                     params={"window": 50}, fee_rate=0.0005)
    >>> r.stats["n_trades"] > 0
    True
    """
    plan = plan_backtest(
        strategy, symbol, timeframe, start, end, exchange=exchange, bars=bars, params=params,
        **settings,
    )  # fmt: skip
    return execute(plan)


class BacktestPlan:
    """Everything a backtest needs, checked, before anything is simulated.

    Built by :func:`plan_backtest`; :attr:`spec` (and so the run id) is known without running.
    Background jobs plan at submit time and execute on a worker (:func:`run_spec`).
    """

    def __init__(
        self,
        strategy: Strategy,
        engine: EngineSettings,
        bars: pd.DataFrame,
        spec: RunSpec,
    ) -> None:
        self.strategy = strategy
        self.engine = engine
        self.bars = bars
        self.spec = spec


def plan_backtest(
    strategy: str | Strategy | Callable[..., Any],
    symbol: str | None = None,
    timeframe: str | None = None,
    start: Any = None,
    end: Any = None,
    *,
    exchange: str | None = None,
    bars: pd.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    **settings: Any,
) -> BacktestPlan:
    """Resolve the strategy, parameters, settings and bars of a backtest; simulate nothing.

    Same arguments and errors as :func:`backtest`; ``plan.spec.run_id`` is the run id the
    backtest will have.
    """
    strat = get_strategy(strategy)
    effective = strat.resolve(params)
    engine = EngineSettings.from_dict(
        {**strat.settings, **settings},
        what="backtest setting",
        hint=" Strategy parameters go in params={...}.",
    )
    bars, symbol, exchange, tf = market_bars(
        symbol, timeframe, start, end, exchange, bars, caller="backtest"
    )
    spec = RunSpec(
        strategy=strat.name,
        params=effective,
        strategy_code=strat.code_hash,
        exchange=exchange,
        symbol=symbol,
        timeframe=tf,
        start=range_text(start),
        end=range_text(end),
        engine=engine.to_dict(),
        data_fingerprint=bars_fingerprint(bars),
        data_start=bars.index[0].isoformat(),
        data_end=bars.index[-1].isoformat(),
        bars=len(bars),
        coinbt_version=__version__,
    )
    return BacktestPlan(strat, engine, bars, spec)


def execute(plan: BacktestPlan) -> BacktestResult:
    """Simulate a planned backtest: signals at each bar's close, fills per ``docs/engine.md``."""
    strat, engine, bars, spec = plan.strategy, plan.engine, plan.bars, plan.spec
    signals = strat.signals(bars, dict(spec.params))
    entries, exits = signals.entries, signals.exits
    o, h, lo, c = (
        np.ascontiguousarray(bars[col].to_numpy(dtype=np.float64)) for col in _BAR_COLUMNS[:4]
    )
    sim = simulate(o, h, lo, c, entries, exits, engine)
    stats = compute_stats(
        equity=sim.equity,
        close=c,
        timestamps=bars.index.asi8 if bars.index.unit == "ns" else bars.index.as_unit("ns").asi8,
        trades=sim.trades,
        open_position=sim.open_position,
        init_cash=engine.init_cash,
        timeframe=spec.timeframe,
    )
    return BacktestResult(spec, bars, sim, stats, confidence=signals.confidence)


def run_spec(
    spec: RunSpec, strategy: str | Strategy | Callable[..., Any] | None = None
) -> BacktestResult:
    """Run exactly the backtest ``spec`` describes, on the same bars (checked by fingerprint).

    Parameters
    ----------
    spec : RunSpec
        A planned or recorded run.
    strategy : str, Strategy or callable, optional
        Where to find the strategy when ``spec.strategy`` is not a registered name (e.g.
        ``"mypkg.signals:breakout"``); its source must hash to ``spec.strategy_code``.

    Raises
    ------
    DataError
        The catalog's bars for the spec's market and times differ from the ones planned.
    ConfigError
        The strategy cannot be found, or its code differs from the planned one.
    """
    return execute(prepare_spec(spec, strategy))


def prepare_spec(
    spec: RunSpec, strategy: str | Strategy | Callable[..., Any] | None = None
) -> BacktestPlan:
    """The plan of a recorded spec, checked: strategy found with the same code hash and the
    same parameters, bars loaded from the catalog with the same fingerprint (see
    :func:`run_spec`, which executes it; sweep chunks prepare once and vary the parameters)."""
    strat = get_strategy(strategy if strategy is not None else spec.strategy)
    if strat.code_hash != spec.strategy_code:
        raise ConfigError(
            f"strategy {spec.strategy!r}: its code hash here is {strat.code_hash or 'built-in'}, "
            f"the run was planned with {spec.strategy_code or 'built-in'}; install the same "
            "strategy code (or coinbt version) where the run executes",
            field="strategy",
        )
    if strat.resolve(spec.params) != dict(spec.params):
        raise ConfigError(
            f"strategy {spec.strategy!r} resolves the planned parameters {spec.params} "
            "differently here; install the same coinbt version where the run executes",
            field="params",
        )
    engine = EngineSettings.from_dict(dict(spec.engine), what="backtest setting")
    bars = load_bars(spec.symbol, spec.timeframe, spec.data_start, spec.data_end, spec.exchange)
    found = bars_fingerprint(bars)
    if found != spec.data_fingerprint:
        raise DataError(
            f"{spec.exchange} {spec.symbol} {spec.timeframe} {spec.data_start} -> {spec.data_end}: "
            f"the catalog's bars hash to {found}, the run was planned on {spec.data_fingerprint}; "
            "point COINBT_DATA_ROOT at the same data where the run executes"
        )
    return BacktestPlan(strat, engine, bars, spec)
