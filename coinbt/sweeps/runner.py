"""Run a list of trials on a thread pool and reduce each to a row of scalars.

Two paths, same numbers:

* **fast** (``sma_cross``, ``volume_zone_breakout``; :mod:`coinbt.sweeps.fast`): trials
  sharing a symbol and all but one parameter form a group whose shared part (SMAs and
  crosses; the volume-profile resistance) is computed once inside one kernel call;
* **generic** (any strategy, user functions included): the strategy's signal function runs
  per trial in Python, then one kernel call simulates and summarises the trial.

Kernels release the GIL, so ``n_jobs`` threads run trials in parallel. Each thread owns its
buffers (equity, entry status, signals, trade records) and reuses them across trials; the only
per-trial output is one row of ``N_RAW`` floats.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coinbt.engine import EngineSettings
from coinbt.engine.enums import FILL_MODES, SAME_BAR_PRIORITIES, SIZE_TYPES
from coinbt.engine.records import trade_dt
from coinbt.errors import ConfigError
from coinbt.strategies import Strategy
from coinbt.sweeps._nb import N_RAW, run_trial_nb
from coinbt.sweeps.fast import FastPath, fast_path
from coinbt.timeframes import SECONDS_PER_YEAR, periods_per_year, timeframe_seconds

_PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Market:
    """One symbol's bars as the contiguous float64 arrays the kernels read."""

    symbol: str
    bars: pd.DataFrame
    arrays: tuple[np.ndarray, ...]  # open, high, low, close, volume
    timeframe: str

    @classmethod
    def from_bars(cls, symbol: str, bars: pd.DataFrame, timeframe: str) -> Market:
        if not isinstance(bars, pd.DataFrame):
            raise ConfigError(
                f"bars for {symbol!r} must be a DataFrame from coinbt.load_bars, got "
                f"{type(bars).__name__}",
                field="bars",
            )
        missing = [c for c in _PRICE_COLUMNS if c not in bars.columns]
        if missing:
            raise ConfigError(
                f"bars for {symbol!r} lack column(s) {missing}; expected {list(_PRICE_COLUMNS)}",
                field="bars",
            )
        if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is None:
            raise ConfigError(
                f"bars for {symbol!r} need a tz-aware DatetimeIndex of bar open times (UTC)",
                field="bars",
            )
        if len(bars) < 2:
            raise ConfigError(
                f"bars for {symbol!r} have {len(bars)} row(s); a backtest needs at least 2",
                field="bars",
            )
        arrays = tuple(
            np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in _PRICE_COLUMNS
        )
        for name, arr in zip(_PRICE_COLUMNS[:4], arrays, strict=False):
            if not np.isfinite(arr).all():
                bad = bars.index[int(np.flatnonzero(~np.isfinite(arr))[0])]
                raise ConfigError(
                    f"bars for {symbol!r}: {name} is not finite at {bad}; validate the bars",
                    field="bars",
                )
        return cls(symbol, bars, arrays, timeframe)

    @property
    def n(self) -> int:
        return int(self.arrays[3].shape[0])

    @property
    def periods_per_year(self) -> float:
        return periods_per_year(self.timeframe)

    @property
    def years(self) -> float:
        return self.n * timeframe_seconds(self.timeframe) / SECONDS_PER_YEAR


def packed_settings(s: EngineSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(fs, is_)`` as :mod:`coinbt.sweeps._nb` reads them."""
    fs = np.array(
        [
            s.init_cash,
            s.fee_rate,
            s.slippage_bps / 10_000.0,
            s.size,
            s.lot_size,
            s.min_notional,
            s.stop_loss or 0.0,
            s.take_profit or 0.0,
            s.trailing_stop or 0.0,
        ],
        dtype=np.float64,
    )
    is_ = np.array(
        [
            FILL_MODES[s.fill],
            SIZE_TYPES[s.size_type],
            s.hold_bars,
            SAME_BAR_PRIORITIES[s.same_bar_priority],
            int(s.short),
            int(s.close_at_end),
        ],
        dtype=np.int64,
    )
    return fs, is_


class _Buffers(threading.local):
    """Per-thread work arrays, one set per bar count, reused across trials."""

    def __init__(self) -> None:
        self.by_n: dict[int, tuple[np.ndarray, ...]] = {}
        self.trades = np.empty(0, dtype=trade_dt)

    def get(self, n: int) -> tuple[np.ndarray, ...]:
        if n not in self.by_n:
            self.by_n[n] = (
                np.zeros(n, dtype=np.bool_),  # entries
                np.zeros(n, dtype=np.bool_),  # exits
                np.empty(n, dtype=np.float64),  # equity
                np.empty(n, dtype=np.int8),  # entry status (written, never read)
            )
        return self.by_n[n]

    def trade_buffer(self, size: int) -> np.ndarray:
        if self.trades.shape[0] < size:
            self.trades = np.empty(max(size, 2 * self.trades.shape[0]), dtype=trade_dt)
        return self.trades


@dataclass(frozen=True)
class Trial:
    row: int
    params: dict[str, Any]
    market: Market


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _fast_tasks(
    path: FastPath,
    trials: list[Trial],
    chunk: int,
    out: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    buffers: _Buffers,
) -> list[tuple[Callable[[], None], int]]:
    groups: dict[tuple[Any, ...], list[Trial]] = {}
    for t in trials:
        key = (t.market.symbol, *(t.params[name] for name in path.group_by))
        groups.setdefault(key, []).append(t)
    tasks = []
    for members in groups.values():
        for part in _chunks(members, chunk):
            market = part[0].market
            group = {name: part[0].params[name] for name in path.group_by}
            vary = np.array([float(t.params[path.vary]) for t in part], dtype=np.float64)
            rows = np.array([t.row for t in part], dtype=np.int64)

            def task(
                market: Market = market,
                group: dict[str, Any] = group,
                vary: np.ndarray = vary,
                rows: np.ndarray = rows,
            ) -> None:
                work = buffers.get(market.n)
                path.call(market.arrays, group, vary, rows, fs, is_, work, out)

            tasks.append((task, len(part)))
    return tasks


def _generic_tasks(
    strat: Strategy,
    trials: list[Trial],
    chunk: int,
    out: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    buffers: _Buffers,
) -> list[tuple[Callable[[], None], int]]:
    def run(part: Sequence[Trial]) -> None:
        for t in part:
            o, h, lo, c, _ = t.market.arrays
            sig = strat.signals(t.market.bars, t.params)
            _, _, equity, status = buffers.get(t.market.n)
            trades = buffers.trade_buffer(int(np.count_nonzero(sig.entries)))
            run_trial_nb(
                o, h, lo, c, sig.entries, sig.exits, equity, status, trades, fs, is_, out[t.row]
            )

    return [((lambda part=part: run(part)), len(part)) for part in _chunks(trials, chunk)]


def uses_fast_path(strat: Strategy) -> bool:
    """Whether trials of ``strat`` run on a shared-computation kernel (:mod:`.fast`)."""
    return fast_path(strat) is not None


def run_trials(
    strat: Strategy,
    trials: list[Trial],
    settings: EngineSettings,
    *,
    n_jobs: int,
    progress: bool,
) -> np.ndarray:
    """Run every trial; return the raw rows (``len(trials) × N_RAW`` float64)."""
    out = np.full((len(trials), N_RAW), np.nan)
    fs, is_ = packed_settings(settings)
    buffers = _Buffers()
    chunk = max(1, math.ceil(len(trials) / (n_jobs * 4)))
    path = fast_path(strat)
    if path is not None:
        tasks = _fast_tasks(path, trials, chunk, out, fs, is_, buffers)
    else:
        tasks = _generic_tasks(strat, trials, max(1, min(chunk, 16)), out, fs, is_, buffers)
    from tqdm.auto import tqdm

    with tqdm(total=len(trials), disable=not progress, unit="trial", desc=strat.name) as bar:
        if n_jobs == 1:
            for task, size in tasks:
                task()
                bar.update(size)
            return out
        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="coinbt-sweep") as pool:
            sizes: dict[Future[None], int] = {pool.submit(task): size for task, size in tasks}
            pending: set[Future[None]] = set(sizes)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    if f.exception() is not None:
                        for p in pending:
                            p.cancel()
                        raise f.exception()  # type: ignore[misc]
                    bar.update(sizes[f])
    return out
