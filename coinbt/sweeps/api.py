"""``coinbt.sweep``: many backtests of one strategy over a parameter space and symbols."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from coinbt.api import range_text
from coinbt.data import load_many
from coinbt.engine import EngineSettings
from coinbt.errors import ConfigError, did_you_mean
from coinbt.strategies import Strategy, get_strategy
from coinbt.sweeps.result import SweepResult, _Source
from coinbt.sweeps.runner import Market, Trial, run_trials
from coinbt.sweeps.space import Range, check_space, expand_grid, sample_random
from coinbt.sweeps.table import METRIC_COLUMNS, RunIds, trial_table
from coinbt.timeframes import parse_timeframe


def _jobs(n_jobs: Any) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)):
        raise ConfigError(f"n_jobs must be a whole number, got {n_jobs!r}", field="n_jobs")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ConfigError(
            f"n_jobs must be >= 1 (or -1 for every core), got {n_jobs!r}", field="n_jobs"
        )
    return int(n_jobs)


def _markets(
    symbols: str | Iterable[str] | None,
    timeframe: str | None,
    start: Any,
    end: Any,
    exchange: str | None,
    bars: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
) -> tuple[dict[str, Market], _Source]:
    """Load (or take) every symbol's bars first: all unavailable symbols fail together."""
    if bars is None:
        if symbols is None or timeframe is None:
            raise ConfigError(
                "sweep needs symbols and timeframe (e.g. symbols=['BTC-USDT'], timeframe='1h') "
                "or bars=...",
                field="symbols",
            )
        tf = parse_timeframe(timeframe)
        frames = load_many(symbols, tf, start, end, exchange)
        source = _Source(tf, start, end, exchange, from_catalog=True)
    else:
        if start is not None or end is not None:
            raise ConfigError(
                "start/end select data from the catalog; slice the bars you pass instead",
                field="start",
            )
        if isinstance(bars, pd.DataFrame):
            name = bars.attrs.get("symbol")
            if name is None and symbols is not None:
                names = [symbols] if isinstance(symbols, str) else list(symbols)
                name = names[0] if len(names) == 1 else None
            frames = {str(name or "UNKNOWN"): bars}
        elif isinstance(bars, Mapping):
            frames = {str(k): v for k, v in bars.items()}
            if not frames:
                raise ConfigError("bars is an empty mapping; give at least one symbol's bars")
        else:
            raise ConfigError(
                f"bars must be a DataFrame or a mapping of symbol to DataFrame, got "
                f"{type(bars).__name__}",
                field="bars",
            )
        tfs = {
            f.attrs.get("timeframe", timeframe)
            for f in frames.values()
            if isinstance(f, pd.DataFrame)
        }
        tfs.discard(None)
        if timeframe is not None:
            tfs = {parse_timeframe(timeframe)} | {parse_timeframe(t) for t in tfs}
        if len(tfs) != 1:
            raise ConfigError(
                "bars need one timeframe: pass timeframe=... or bars whose attrs carry it "
                f"(found {sorted(tfs) or 'none'})",
                field="timeframe",
            )
        tf = parse_timeframe(tfs.pop())
        source = _Source(tf, None, None, exchange, from_catalog=False)
    markets = {sym: Market.from_bars(sym, frame, tf) for sym, frame in frames.items()}
    return markets, source


def sweep(
    strategy: str | Strategy | Callable[..., Any],
    grid: Mapping[str, Any] | None = None,
    *,
    symbols: str | Iterable[str] | None = None,
    timeframe: str | None = None,
    start: Any = None,
    end: Any = None,
    exchange: str | None = None,
    bars: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    random: int | None = None,
    seed: int | None = None,
    metric: str = "sharpe",
    n_jobs: int = 2,
    progress: bool = True,
    **engine_settings: Any,
) -> SweepResult:
    """Backtest every parameter set of a grid (or a random sample) on one or many symbols.

    Parameters
    ----------
    strategy : str, Strategy or callable
        As in :func:`coinbt.backtest`: a registered name or a function
        ``fn(bars, **params) -> (entries, exits)``.
    grid : mapping, optional
        Parameter name -> values: a list (``{"window": [10, 20, 30]}``) or a
        :class:`~coinbt.sweeps.Range` (``Range(1.0, 2.5, num=10)`` is a linspace of 10 values;
        without ``num`` a continuous interval for a random search). Every value is checked
        against the strategy's declared parameter (type, bounds, choices); parameters not in
        the grid keep their defaults.
    symbols : str or list of str
        Symbols to load from the catalog; each parameter set runs on every symbol.
    timeframe : str
        ccxt token (``1h``).
    start, end : str or Timestamp, optional
        Inclusive UTC range, as in :func:`coinbt.load_bars`.
    exchange : str, optional
        Needed when a symbol exists on several exchanges.
    bars : DataFrame or mapping of symbol to DataFrame, optional
        Bars to use instead of the catalog.
    random : int, optional
        Run ``random`` distinct parameter sets drawn at random instead of the whole grid:
        from the grid's lists, from its Ranges, and for parameters not in the grid from the
        declared ``[min, max]`` (both needed), choices or ``{False, True}``; others keep
        their defaults.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for ``random``: equal seeds draw equal trials.
    metric : str, default "sharpe"
        Headline metric that :meth:`SweepResult.best` maximises.
    n_jobs : int, default 2
        Worker threads (-1 = every core). The kernels release the GIL, so threads run trials
        in parallel; a user strategy's Python code runs under the GIL.
    progress : bool, default True
        Show a tqdm progress bar.
    **engine_settings
        Engine settings for every trial (``fee_rate=0.0005``...), as in ``coinbt.backtest``.

    Returns
    -------
    SweepResult
        ``.trials`` (one row per parameter set and symbol), ``.best()``, ``.summary()``,
        ``.deflated_sharpe()``, ``.heatmap()``, ``.run_trial(i)``.

    Raises
    ------
    ConfigError
        Unknown parameter (with a suggestion), a value of the wrong type or out of bounds, an
        empty grid, an unknown setting or metric.
    DataError
        Unavailable symbols: one error listing every one of them.

    Notes
    -----
    Each trial is exactly a ``coinbt.backtest`` run (decisions at a bar's close, fills at the
    next open unless ``fill="close"``); only its headline figures are kept, so memory does not
    grow with the number of trials beyond one table row each. See ``docs/sweeps.md``.

    Examples
    --------
    >>> import coinbt
    >>> res = coinbt.sweep("sma_cross", {"window": [20, 50], "vol_mult": [0.0, 1.5]},
    ...                    symbols="BTC-USDT", timeframe="1h", exchange="binance",
    ...                    fee_rate=0.0005, progress=False)
    >>> res.n_trials
    4
    """
    started = time.perf_counter()
    strat = get_strategy(strategy)
    space = check_space(strat, grid)
    jobs = _jobs(n_jobs)
    if metric not in METRIC_COLUMNS:
        raise ConfigError(
            f"unknown metric {metric!r}; choose one of {', '.join(METRIC_COLUMNS)}."
            f"{did_you_mean(str(metric), METRIC_COLUMNS)}",
            field="metric",
        )
    settings = EngineSettings.from_dict(
        {**strat.settings, **engine_settings},
        what="sweep setting",
        hint=" Strategy parameters go in grid={...}.",
    )
    if random is None:
        if seed is not None:
            raise ConfigError("seed only applies to a random search; pass random=N", field="seed")
        param_sets = expand_grid(strat, space)
        search = "grid"
    else:
        param_sets = sample_random(strat, space, random, np.random.default_rng(seed))
        search = "random"
    markets, source = _markets(symbols, timeframe, start, end, exchange, bars)

    trials = [
        Trial(i * len(markets) + j, params, market)
        for i, params in enumerate(param_sets)
        for j, market in enumerate(markets.values())
    ]
    raw = run_trials(strat, trials, settings, n_jobs=jobs, progress=progress)
    run_ids = RunIds(strat, settings, range_text(start), range_text(end), exchange)
    table = trial_table(strat, trials, raw, settings.init_cash, run_ids)
    swept = [name for name in strat.params if table[name].nunique() > 1]
    return SweepResult(
        table,
        strategy=strat,
        markets=markets,
        settings=settings,
        metric=metric,
        swept=swept,
        source=source,
        search=search,
        seed=seed,
        elapsed_s=time.perf_counter() - started,
    )


__all__ = ["Range", "sweep"]
