"""From raw trial rows to the tidy trial table: headline metrics and run ids.

Each figure follows :func:`coinbt.metrics.compute_stats` step for step (same formulas, same
``None`` rules, shown here as NaN), from the sums the kernel kept instead of the equity curve.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from coinbt import __version__
from coinbt.data import bars_fingerprint
from coinbt.engine import EngineSettings
from coinbt.metrics.returns import ZERO_DEVIATION, cagr
from coinbt.results import RunSpec
from coinbt.strategies import Strategy
from coinbt.sweeps import _nb as raw_cols
from coinbt.sweeps.runner import Market, Trial

#: headline metric columns of :attr:`SweepResult.trials`, in order
METRIC_COLUMNS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "n_trades",
    "win_rate",
    "profit_factor",
    "exposure_time",
    "final_equity",
)


def headline_metrics(raw: np.ndarray, markets: list[Market], init_cash: float) -> dict[str, Any]:
    """Headline metric columns from the raw rows (``markets[i]`` is trial i's market)."""
    n = np.array([m.n for m in markets], dtype=np.float64)
    root_ppy = np.array([math.sqrt(m.periods_per_year) for m in markets])
    final = raw[:, raw_cols.RAW_FINAL]
    mean = raw[:, raw_cols.RAW_MEAN]
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.sqrt(raw[:, raw_cols.RAW_SSD] / (n - 1.0))
        sharpe = np.where((n >= 2) & (std > ZERO_DEVIATION), mean / std * root_ppy, np.nan)
        downside = np.sqrt(raw[:, raw_cols.RAW_SSDOWN] / n)
        sortino = np.where(downside > ZERO_DEVIATION, mean / downside * root_ppy, np.nan)
        n_trades = raw[:, raw_cols.RAW_N_TRADES]
        win_rate = np.where(n_trades > 0, raw[:, raw_cols.RAW_N_WINS] / n_trades, np.nan)
        losses = raw[:, raw_cols.RAW_LOSSES]
        profit_factor = np.where(
            (n_trades > 0) & (losses < 0.0), raw[:, raw_cols.RAW_GAINS] / -losses, np.nan
        )
    growth = [cagr(float(f), init_cash, m.years) for f, m in zip(final, markets, strict=True)]
    out = {
        "total_return": final / init_cash - 1.0,
        "cagr": np.array([np.nan if g is None else g for g in growth], dtype=np.float64),
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": raw[:, raw_cols.RAW_MAX_DD],
        "n_trades": n_trades.astype(np.int64),
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "exposure_time": raw[:, raw_cols.RAW_HELD] / n,
        "final_equity": final,
    }
    for key in ("sharpe", "sortino", "profit_factor", "total_return"):
        col = out[key]
        col[~np.isfinite(col)] = np.nan
    return out


class RunIds:
    """``RunSpec.run_id`` of each trial, from one spec template per market.

    The id of a trial equals that of ``coinbt.backtest`` called with the same strategy,
    parameters, settings and data (catalog arguments, or ``bars=``).
    """

    def __init__(
        self,
        strat: Strategy,
        settings: EngineSettings,
        start: str | None,
        end: str | None,
        exchange: str | None,
    ) -> None:
        self.strat = strat
        self.settings = settings
        self.start, self.end, self.exchange = start, end, exchange
        self._templates: dict[str, dict[str, Any]] = {}

    def template(self, market: Market) -> dict[str, Any]:
        if market.symbol not in self._templates:
            bars = market.bars
            spec = RunSpec(
                strategy=self.strat.name,
                params=self.strat.resolve({}),
                strategy_code=self.strat.code_hash,
                exchange=bars.attrs.get("exchange", self.exchange),
                symbol=str(bars.attrs.get("symbol", market.symbol)),
                timeframe=market.timeframe,
                start=self.start,
                end=self.end,
                engine=self.settings.to_dict(),
                data_fingerprint=bars_fingerprint(bars),
                data_start=bars.index[0].isoformat(),
                data_end=bars.index[-1].isoformat(),
                bars=len(bars),
                coinbt_version=__version__,
            )
            self._templates[market.symbol] = spec.to_dict()
        return self._templates[market.symbol]

    def __call__(self, params: dict[str, Any], market: Market) -> str:
        spec = {**self.template(market), "params": params}
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def trial_table(
    strat: Strategy, trials: list[Trial], raw: np.ndarray, init_cash: float, run_ids: RunIds
) -> pd.DataFrame:
    """One row per trial: parameters, symbol, headline metrics, run id."""
    markets = [t.market for t in trials]
    columns: dict[str, Any] = {name: [t.params[name] for t in trials] for name in strat.params}
    columns["symbol"] = [m.symbol for m in markets]
    columns.update(headline_metrics(raw, markets, init_cash))
    columns["run_id"] = [run_ids(t.params, t.market) for t in trials]
    frame = pd.DataFrame(columns)
    frame.index.name = "trial"
    return frame
