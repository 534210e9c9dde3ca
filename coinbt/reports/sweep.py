"""The sweep report: its parameters checked, the sweep run and recorded, what it displays.

The template's parameters are JSON literals; a ``grid`` maps each swept parameter to a list
of values or to ``{"lo": …, "hi": …, "num": …}`` (a :class:`~coinbt.sweeps.Range`; without
``num`` only a random search can sample it).  The sweep runs in the kernel's own process
(:func:`coinbt.jobs.submit_sweep` with ``here=True``) and records every trial, so its run id is
that of the same sweep submitted to workers, and each trial that of ``coinbt.backtest``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from coinbt.errors import ConfigError
from coinbt.reports.params import _mapping, _text, _whole


def _grid(value: Any) -> dict[str, Any]:
    from coinbt.sweeps import Range

    example = '{"volume_window": [10, 20, 40], "top_percentile": {"lo": 0.1, "hi": 0.4, "num": 4}}'
    grid = _mapping("grid", value, example)
    if not grid:
        raise ConfigError(
            f"parameter grid={value!r}: expected at least one swept parameter, such as {example}",
            field="grid",
        )
    out: dict[str, Any] = {}
    for name, values in grid.items():
        if isinstance(values, Mapping):
            extra = set(values) - {"lo", "hi", "num"}
            if extra or not {"lo", "hi"} <= set(values):
                raise ConfigError(
                    f"parameter grid, {name}={values!r}: a range is {{lo: …, hi: …}} with an "
                    "optional num (values evenly spaced); or give a list of values",
                    field="grid",
                )
            out[name] = Range(values["lo"], values["hi"], values.get("num"))
        else:
            out[name] = values
    return out


def sweep_arguments(
    strategy: Any,
    symbol: Any,
    timeframe: Any,
    start: Any = None,
    end: Any = None,
    exchange: Any = None,
    grid: Any = None,
    random: Any = None,
    seed: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """The sweep template's parameters as checked arguments of
    :func:`coinbt.jobs.submit_sweep` (``random``: number of parameter sets drawn instead of
    the whole grid; ``seed`` for that draw)."""
    args: dict[str, Any] = {
        "strategy": _text("strategy", strategy, example="'volume_zone_breakout'"),
        "grid_or_space": _grid(grid),
        "symbol": _text("symbol", symbol, example="'BTC-USDT'"),
        "timeframe": _text("timeframe", timeframe, example="'1h'"),
        "start": _text("start", start, optional=True, example="'2023-01-01'"),
        "end": _text("end", end, optional=True, example="'2023-12-31'"),
        "exchange": _text("exchange", exchange, optional=True, example="'binance'"),
        "random": _whole("random", random, optional=True, least=1),
        "seed": _whole("seed", seed, optional=True, least=0),
    }
    return {**args, **_mapping("settings", settings, '{"fee_rate": 0.001}')}


def sweep_plan(**parameters: Any) -> Any:
    """The :class:`~coinbt.jobs.sweep.SweepPlan` of the template's parameters (nothing runs)."""
    from coinbt.jobs.sweep import plan_sweep

    args = sweep_arguments(**parameters)
    return plan_sweep(args.pop("strategy"), args.pop("grid_or_space"), **args)


def run_sweep(**parameters: Any) -> Any:
    """Run the sweep of the template's parameters here, recording it and every trial; returns
    its finished :class:`~coinbt.jobs.SweepJob` (at once when it was already recorded)."""
    from coinbt.jobs import submit_sweep

    args = sweep_arguments(**parameters)
    return submit_sweep(
        args.pop("strategy"), args.pop("grid_or_space"), here=True, progress=False, **args
    )


def sweep_options(
    metric: Any = "sharpe", top: Any = 10, equity_top: Any = 3, heatmaps: Any = None
) -> dict[str, Any]:
    """The sweep report's display parameters, checked: ``metric`` (ranks the trials),
    ``top`` (rows of the top-trials table), ``equity_top`` (equity curves drawn against
    buy-and-hold), ``heatmaps`` (list of ``[x, y]`` parameter pairs; None: every pair of
    swept parameters, at most six)."""
    from coinbt.sweeps.table import METRIC_COLUMNS

    if metric not in METRIC_COLUMNS:
        from coinbt.errors import did_you_mean

        raise ConfigError(
            f"parameter metric={metric!r}: expected one of {', '.join(METRIC_COLUMNS)}."
            f"{did_you_mean(str(metric), METRIC_COLUMNS)}",
            field="metric",
        )
    pairs = None
    if heatmaps is not None:
        if not isinstance(heatmaps, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(n, str) for n in p)
            for p in heatmaps
        ):
            raise ConfigError(
                f"parameter heatmaps={heatmaps!r}: expected a list of [x, y] parameter name "
                'pairs such as [["volume_window", "top_percentile"]], or None for every pair',
                field="heatmaps",
            )
        pairs = [tuple(p) for p in heatmaps]
    return {
        "metric": metric,
        "top": _whole("top", top, optional=False, least=1),
        "equity_top": _whole("equity_top", equity_top, optional=False, least=0),
        "heatmaps": pairs,
    }


# -- what the report shows ----------------------------------------------------------------------


def summary_frame(result: Any, metric: str) -> pd.DataFrame:
    """Trial count, search, the best trial and its deflated Sharpe ratio as a table."""
    from coinbt.results.format import format_value

    info = result.summary(metric)
    dsr = info["deflated_sharpe"]
    best = info["best"]
    rows = [
        ("trials", f"{info['n_trials']:,}"),
        (
            "search",
            info["search"] + (f" (seed {info['seed']})" if info["seed"] is not None else ""),
        ),
        ("swept parameters", ", ".join(info["swept"]) or "–"),
        (f"best trial by {metric}", str(best["trial"])),
        *((f"best {name}", str(best[name])) for name in info["swept"]),
        (f"best {metric}", format_value(metric, best.get(metric))),
        ("best run id", str(best.get("run_id", "–"))),
        ("deflated Sharpe ratio of the best", _prob(dsr["deflated_sharpe"])),
        ("probabilistic Sharpe ratio of the best", _prob(dsr["probabilistic_sharpe"])),
        ("its Sharpe ratio per bar", _num(dsr["sharpe_per_bar"])),
        (
            "expected max Sharpe per bar of skill-less trials",
            _num(dsr["expected_max_sharpe_per_bar"]),
        ),
        ("trials without a Sharpe ratio", str(dsr["n_undefined"])),
    ]
    return pd.DataFrame({"value": [v for _, v in rows]}, index=pd.Index([k for k, _ in rows]))


def _prob(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"


def heatmap_pairs(result: Any, pairs: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """The parameter pairs to draw: as given, else every pair of swept parameters (at most
    six; with one swept parameter there is none)."""
    if pairs is not None:
        return list(pairs)
    return list(itertools.combinations(result.swept, 2))[:6]


def top_equity_figure(sweep: Any, result: Any, metric: str, k: int) -> Any:
    """Equity of the ``k`` best trials (loaded from the registry) against buy-and-hold of the
    same bars, both as multiples of the starting cash."""
    import plotly.graph_objects as go

    from coinbt.results.figures import plot_times

    fig = go.Figure()
    first = None
    for trial in result.top(k, metric).index:
        run = sweep.load(int(trial))
        first = first if first is not None else run
        equity = run.equity["equity"] / float(run.spec.engine["init_cash"])
        params = ", ".join(f"{n}={run.spec.params[n]}" for n in result.swept)
        fig.add_trace(
            go.Scatter(x=plot_times(equity.index), y=equity.to_numpy(), name=f"#{trial} {params}")
        )
    if first is not None:
        close = first.bars["close"].astype(np.float64)
        hold = close / close.iloc[0]
        fig.add_trace(
            go.Scatter(
                x=plot_times(hold.index),
                y=hold.to_numpy(),
                name="buy and hold",
                line={"color": "#555", "dash": "dot"},
            )  # fmt: skip
        )
    fig.update_layout(
        title=f"Top {k} trials by {metric} against buy-and-hold",
        yaxis_title="equity / start",
        hovermode="x unified",
        height=480,
    )
    return fig


__all__ = [
    "heatmap_pairs",
    "run_sweep",
    "summary_frame",
    "sweep_arguments",
    "sweep_options",
    "sweep_plan",
    "top_equity_figure",
]
