"""Several runs side by side: headline statistics, what differs in their specs, equity curves.

Used by the ``compare`` report template and by dashboards; every function takes
:class:`~coinbt.results.BacktestResult` objects (``Registry.load`` gives them back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coinbt.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from coinbt.results.result import BacktestResult

#: statistics listed first by :func:`stats_table` (the rest follow alphabetically)
HEADLINE = (
    "total_return", "buy_hold_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown",
    "volatility_ann", "n_trades", "win_rate", "profit_factor", "avg_trade_return",
    "exposure_time", "fees_paid", "final_equity",
)  # fmt: skip

#: spec fields shown in :func:`spec_table` (parameters and engine settings are added per key)
_SPEC_FIELDS = ("strategy", "exchange", "symbol", "timeframe", "data_start", "data_end", "bars")


def _checked(results: Sequence[BacktestResult]) -> list[BacktestResult]:
    runs = list(results)
    if len(runs) < 2:
        raise ConfigError(
            f"a comparison needs two or more runs, got {len(runs)}; pass their run ids",
            field="runs",
        )
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"run {twice[0]} is listed twice; compare distinct runs", field="runs")
    return runs


def run_labels(results: Sequence[BacktestResult]) -> list[str]:
    """A short column label per run: strategy, symbol, timeframe and the run id's first 8
    characters (unique because run ids are)."""
    return [f"{r.spec.strategy} {r.spec.symbol} {r.spec.timeframe} {r.run_id[:8]}" for r in results]


def stats_table(results: Sequence[BacktestResult], *, formatted: bool = True) -> pd.DataFrame:
    """One column per run, one row per statistic (:data:`HEADLINE` first, then the rest
    alphabetically).

    ``formatted=False`` keeps the raw numbers (fractions, not percent) for computing with.
    """
    from coinbt.results.format import format_value

    runs = _checked(results)
    known = {k for r in runs for k in r.stats}
    keys = [k for k in HEADLINE if k in known] + sorted(known - set(HEADLINE))
    columns = {}
    for label, r in zip(run_labels(runs), runs, strict=True):
        stats = dict(r.stats)
        columns[label] = [
            (format_value(k, stats.get(k)) if formatted else stats.get(k)) for k in keys
        ]
    return pd.DataFrame(columns, index=pd.Index(keys, name="statistic"))


def spec_table(results: Sequence[BacktestResult]) -> pd.DataFrame:
    """Market, data range, strategy parameters (``param.<name>``) and engine settings
    (``engine.<name>``) of every run, one column per run, with a ``differs`` column that is
    True where the runs disagree (a value a run does not have counts as different)."""
    runs = _checked(results)
    rows: dict[str, list[Any]] = {}
    for name in _SPEC_FIELDS:
        rows[name] = [getattr(r.spec, name, None) for r in runs]
    for prefix, attr in (("param", "params"), ("engine", "engine")):
        keys: list[str] = []
        for r in runs:
            keys.extend(k for k in getattr(r.spec, attr) if k not in keys)
        for key in keys:
            rows[f"{prefix}.{key}"] = [getattr(r.spec, attr).get(key) for r in runs]
    labels = run_labels(runs)
    table = pd.DataFrame(
        {label: [rows[k][i] for k in rows] for i, label in enumerate(labels)},
        index=pd.Index(list(rows), name="field"),
        dtype=object,
    )
    table["differs"] = [len({repr(v) for v in values}) > 1 for values in rows.values()]
    return table


def highlight_differences(table: pd.DataFrame) -> Any:
    """:func:`spec_table` as a pandas Styler with the differing rows highlighted (needs
    jinja2, which Jupyter brings)."""

    def shade(row: pd.Series) -> list[str]:
        style = "background-color: #fff3bf; font-weight: 600" if row["differs"] else ""
        return [style] * len(row)

    return table.style.apply(shade, axis=1)


def equity_curves(results: Sequence[BacktestResult], *, normalise: bool = True) -> pd.DataFrame:
    """Every run's equity on the union of their bar times (a run's curve is NaN outside its
    own range); ``normalise`` divides each by its starting cash, so 1.0 = break-even."""
    runs = _checked(results)
    curves = {}
    for label, r in zip(run_labels(runs), runs, strict=True):
        equity = r.equity["equity"].astype(np.float64)
        if normalise:
            equity = equity / float(r.spec.engine.get("init_cash", equity.iloc[0]))
        curves[label] = equity
    return pd.DataFrame(curves).sort_index()


def compare_figure(results: Sequence[BacktestResult], *, normalise: bool = True) -> go.Figure:
    """Equity curves overlaid (normalised to starting cash unless ``normalise=False``) above
    each run's drawdown, on one shared time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from coinbt.results.figures import plot_times

    runs = _checked(results)
    curves = equity_curves(runs, normalise=normalise)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.04
    )
    for k, (label, r) in enumerate(zip(curves.columns, runs, strict=True)):
        colour = _COLOURS[k % len(_COLOURS)]
        curve = curves[label].dropna()
        fig.add_trace(
            go.Scatter(
                x=plot_times(curve.index),
                y=curve.to_numpy(),
                name=label,
                legendgroup=label,
                line={"color": colour, "width": 1.4},
            ),  # fmt: skip
            row=1,
            col=1,
        )
        dd = r.equity["drawdown"]
        fig.add_trace(
            go.Scatter(
                x=plot_times(dd.index),
                y=dd.to_numpy() * 100.0,
                name=label,
                legendgroup=label,
                showlegend=False,
                line={"color": colour, "width": 1.0},
                hovertemplate="%{y:.2f} %<extra>" + label + "</extra>",
            ),  # fmt: skip
            row=2,
            col=1,
        )
    fig.update_yaxes(title_text="equity / start" if normalise else "equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    fig.update_layout(
        title=f"{len(runs)} runs compared", height=620, hovermode="x unified",
        legend={"orientation": "h", "y": -0.12},
    )  # fmt: skip
    return fig


#: plotly's default qualitative colours
_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")

__all__ = [
    "HEADLINE",
    "compare_figure",
    "equity_curves",
    "highlight_differences",
    "run_labels",
    "spec_table",
    "stats_table",
]
