"""``SweepResult``: the trial table of a sweep, its best trial and how much to trust it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from coinbt.engine import EngineSettings
from coinbt.errors import ConfigError, did_you_mean
from coinbt.metrics.returns import bar_returns
from coinbt.metrics.selection import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    return_shape,
)
from coinbt.strategies import Strategy
from coinbt.sweeps.runner import Market
from coinbt.sweeps.table import METRIC_COLUMNS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from coinbt.results import BacktestResult

_AGGS = ("mean", "median", "max", "min", "count")


class SelectionReport(NamedTuple):
    """The deflated Sharpe ratio of the picked trial and what went into it.

    Sharpe ratios ending in ``_per_bar`` are not annualised (``mean / std`` of per-bar
    returns); ``sharpe`` is the annualised figure of the trial table.
    """

    trial: int
    sharpe: float | None
    sharpe_per_bar: float | None
    deflated_sharpe: float | None
    probabilistic_sharpe: float | None
    expected_max_sharpe_per_bar: float | None
    sharpe_variance_per_bar: float | None
    n_trials: int
    n_undefined: int
    n_returns: int
    skew: float | None
    kurtosis: float | None


def _clean(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass(frozen=True)
class _Source:
    """How the bars were chosen, to re-run a trial with ``coinbt.backtest``."""

    timeframe: str
    start: Any
    end: Any
    exchange: str | None
    from_catalog: bool


class SweepResult:
    """The outcome of :func:`coinbt.sweep`.

    Attributes
    ----------
    trials : DataFrame
        One row per trial (index ``trial``): every strategy parameter, ``symbol``, the headline
        metrics (``total_return cagr sharpe sortino max_drawdown n_trades win_rate
        profit_factor exposure_time final_equity``; NaN where ``compute_stats`` gives None)
        and ``run_id`` (the id ``coinbt.backtest`` gives the same run).
    metric : str
        The column "best" refers to unless told otherwise (largest value wins).
    swept : list of str
        Parameters that vary between trials.
    n_trials : int
        Number of trials (parameter sets × symbols).
    """

    def __init__(
        self,
        trials: pd.DataFrame,
        *,
        strategy: Strategy,
        markets: Mapping[str, Market],
        settings: EngineSettings,
        metric: str,
        swept: list[str],
        source: _Source,
        search: str,
        seed: int | None,
        elapsed_s: float,
    ) -> None:
        self.trials = trials
        self.strategy = strategy
        self.markets = dict(markets)
        self.settings = settings
        self.metric = metric
        self.swept = list(swept)
        self.source = source
        self.search = search
        self.seed = seed
        self.elapsed_s = elapsed_s
        self._reports: dict[int, SelectionReport] = {}

    @property
    def n_trials(self) -> int:
        return int(len(self.trials))

    def _metric(self, metric: str | None) -> str:
        metric = self.metric if metric is None else metric
        if metric not in METRIC_COLUMNS:
            raise ConfigError(
                f"unknown metric {metric!r}; choose one of {', '.join(METRIC_COLUMNS)}."
                f"{did_you_mean(str(metric), METRIC_COLUMNS)}",
                field="metric",
            )
        return metric

    def _rows(self, symbol: str | None) -> pd.DataFrame:
        if symbol is None:
            return self.trials
        if symbol not in self.markets:
            raise ConfigError(
                f"symbol {symbol!r} is not in this sweep; it has {', '.join(self.markets)}."
                f"{did_you_mean(symbol, self.markets)}",
                field="symbol",
            )
        return self.trials[self.trials["symbol"] == symbol]

    def top(
        self, n: int = 10, metric: str | None = None, symbol: str | None = None
    ) -> pd.DataFrame:
        """The ``n`` trials with the largest ``metric`` (undefined values last)."""
        metric = self._metric(metric)
        rows = self._rows(symbol)
        return rows.sort_values(metric, ascending=False, na_position="last", kind="stable").head(n)

    def best(self, metric: str | None = None, symbol: str | None = None) -> pd.Series:
        """The trial with the largest ``metric`` (ties: the first trial), as a row.

        The row's ``attrs`` carry ``metric`` and ``n_trials``: the best of many trials looks
        better than it is, so read it with the trial count and :meth:`deflated_sharpe`.
        """
        metric = self._metric(metric)
        rows = self._rows(symbol)
        if rows[metric].isna().all():
            raise ConfigError(
                f"no trial has a defined {metric} (e.g. no trade, so no return variance); "
                f"pick another metric",
                field="metric",
            )
        row = rows.loc[rows[metric].idxmax()].copy()
        row.attrs.update({"metric": metric, "n_trials": self.n_trials})
        return row

    def params_of(self, trial: int) -> dict[str, Any]:
        """The effective strategy parameters of one trial."""
        row = self.trials.loc[trial]
        return {name: _clean(row[name]) for name in self.strategy.params}

    def run_trial(self, trial: int) -> BacktestResult:
        """Re-run one trial as a full ``coinbt.backtest`` (trades, equity, plot).

        The sweep keeps no equity curve; this rebuilds one trial's. Its ``run_id`` equals the
        trial's ``run_id``.
        """
        from coinbt.api import backtest

        if trial not in self.trials.index:
            raise ConfigError(f"no trial {trial!r}; trials are 0..{self.n_trials - 1}")
        symbol = self.trials.at[trial, "symbol"]
        src = self.source
        settings = self.settings.to_dict()
        params = self.params_of(trial)
        if src.from_catalog:
            return backtest(
                self.strategy,
                symbol,
                src.timeframe,
                src.start,
                src.end,
                exchange=src.exchange,
                params=params,
                **settings,
            )
        return backtest(
            self.strategy,
            symbol,
            src.timeframe,
            bars=self.markets[symbol].bars,
            params=params,
            **settings,
        )

    def deflated_sharpe(self, metric: str | None = None) -> SelectionReport:
        """Deflated Sharpe ratio (Bailey & López de Prado 2014) of the best trial.

        The picked trial is the best by ``metric``. Its per-bar Sharpe ratio is tested against
        the Sharpe ratio the best of N skill-less trials would be expected to reach, with N
        and the dispersion taken from **every** trial with a defined Sharpe ratio (trials
        without one, e.g. no trade, are counted in ``n_undefined``). Skewness and kurtosis
        come from the picked trial's per-bar returns, rebuilt by re-running it once (the sweep
        keeps no equity curve). See :func:`coinbt.metrics.deflated_sharpe_ratio`.
        """
        trial = int(self.best(metric).name)
        if trial in self._reports:
            return self._reports[trial]
        ppy = np.array([self.markets[s].periods_per_year for s in self.trials["symbol"]])
        per_bar = self.trials["sharpe"].to_numpy(dtype=np.float64) / np.sqrt(ppy)
        defined = per_bar[np.isfinite(per_bar)]
        n_undefined = int(per_bar.size - defined.size)
        run = self.run_trial(trial)
        returns = bar_returns(run.sim.equity, self.settings.init_cash)
        sr = per_bar[trial]
        if not np.isfinite(sr) or not np.isfinite(returns).all():
            report = SelectionReport(
                trial,
                None,
                None,
                None,
                None,
                None,
                None,
                int(defined.size),
                n_undefined,
                int(returns.size),
                None,
                None,
            )
        else:
            shape = return_shape(returns)
            variance = float(np.var(defined, ddof=1)) if defined.size > 1 else 0.0
            sr0 = expected_max_sharpe(int(defined.size), variance)
            dsr = deflated_sharpe_ratio(sr, defined, returns.size, shape.skew, shape.kurtosis)
            psr = probabilistic_sharpe_ratio(sr, returns.size, shape.skew, shape.kurtosis)
            report = SelectionReport(
                trial,
                _clean(self.trials.at[trial, "sharpe"]),
                float(sr),
                _clean(dsr),
                _clean(psr),
                sr0,
                variance,
                int(defined.size),
                n_undefined,
                int(returns.size),
                _clean(shape.skew),
                _clean(shape.kurtosis),
            )
        self._reports[trial] = report
        return report

    def summary(self, metric: str | None = None) -> dict[str, Any]:
        """Trial count, the best trial and its deflated Sharpe ratio, as plain JSON values."""
        metric = self._metric(metric)
        best = self.best(metric)
        return {
            "strategy": self.strategy.name,
            "search": self.search,
            "seed": self.seed,
            "n_trials": self.n_trials,
            "n_param_sets": self.n_trials // max(len(self.markets), 1),
            "symbols": list(self.markets),
            "swept": self.swept,
            "metric": metric,
            "best": {"trial": int(best.name), **{k: _clean(v) for k, v in best.items()}},
            "deflated_sharpe": self.deflated_sharpe(metric)._asdict(),
            "elapsed_s": self.elapsed_s,
        }

    def heatmap(
        self,
        x: str,
        y: str,
        metric: str = "sharpe",
        symbol: str | None = None,
        agg: str = "mean",
    ) -> go.Figure:
        """A plotly heatmap of ``metric`` over two parameters.

        Trials sharing an ``(x, y)`` cell (other parameters, other symbols unless ``symbol``
        is given) are combined with ``agg`` (``mean``, ``median``, ``max``, ``min``,
        ``count``). Axes list the parameter values in increasing order.
        """
        import plotly.graph_objects as go

        metric = self._metric(metric)
        for name in (x, y):
            if name not in self.strategy.params:
                raise ConfigError(
                    f"heatmap axis {name!r} is not a parameter of {self.strategy.name!r}; "
                    f"parameters: {', '.join(self.strategy.params)}."
                    f"{did_you_mean(name, self.strategy.params)}",
                    field=name,
                )
        if x == y:
            raise ConfigError(f"heatmap needs two different parameters, got {x!r} twice")
        if agg not in _AGGS:
            raise ConfigError(
                f"agg must be one of {', '.join(_AGGS)}, got {agg!r}.{did_you_mean(agg, _AGGS)}",
                field="agg",
            )
        rows = self._rows(symbol)
        table = rows.pivot_table(index=y, columns=x, values=metric, aggfunc=agg, dropna=False)
        table = table.sort_index().sort_index(axis=1)
        where = symbol or ", ".join(self.markets)
        fig = go.Figure(
            go.Heatmap(
                z=table.to_numpy(dtype=np.float64),
                x=[_clean(v) for v in table.columns],
                y=[_clean(v) for v in table.index],
                colorscale="RdYlGn",
                colorbar={"title": {"text": metric}},
                hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{z}}<extra></extra>",
            )
        )
        fig.update_layout(
            title=f"{self.strategy.name}: {agg} {metric} ({where}, {self.n_trials} trials)",
            xaxis_title=x,
            yaxis_title=y,
        )
        fig.update_xaxes(type="category")
        fig.update_yaxes(type="category")
        return fig

    def __repr__(self) -> str:
        best = ""
        if self.trials[self.metric].notna().any():
            row = self.best()
            best = f" best {self.metric}={row[self.metric]:.4g} (trial {row.name})"
        return (
            f"<SweepResult {self.strategy.name} {self.search} trials={self.n_trials} "
            f"symbols={list(self.markets)}{best}>"
        )
