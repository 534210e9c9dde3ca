"""Plotly figures of a backtest (plotly is imported when a figure is asked for)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from coinbt.results.result import BacktestResult


def plot_times(times: Any) -> np.ndarray:
    """Times for plotly: ISO text in UTC without an offset, as a numpy string array.

    Plotly deep-copies an array of tz-aware Timestamps object by object (1.6 s for 20,000
    points in a FigureWidget), and a FigureWidget sends ``datetime64`` as plain numbers (a
    linear axis of nanoseconds); text costs neither and reads as dates everywhere.
    """
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.datetime_as_string(index.to_numpy(dtype="datetime64[s]"), unit="s").astype(object)


def display_candles(bars: pd.DataFrame, max_candles: int) -> pd.DataFrame:
    """Aggregate consecutive bars so that at most ``max_candles`` remain (first/max/min/last)."""
    n = len(bars)
    if n <= max_candles:
        return bars
    k = int(np.ceil(n / max_candles))
    group = np.arange(n) // k
    agg = bars.groupby(group).agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last")
    )
    agg.index = bars.index[::k][: len(agg)]
    return agg


def backtest_figure(result: BacktestResult, *, max_candles: int = 5000) -> go.Figure:
    """Three panels: price with trades, equity, drawdown."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    spec = result.spec
    candles = display_candles(result.bars, max_candles)
    eq = result.equity
    step = max(1, len(eq) // (4 * max_candles))
    eq_view = eq.iloc[::step]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.25, 0.15],
        vertical_spacing=0.03,
        subplot_titles=(f"{spec.symbol} {spec.timeframe} · {spec.strategy}", "Equity", "Drawdown"),
    )
    fig.add_trace(
        go.Candlestick(
            x=plot_times(candles.index),
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=candles["close"],
            name="price",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    trades = result.trades
    if len(trades):
        fig.add_trace(
            go.Scatter(
                x=plot_times(trades["entry_time"]),
                y=trades["entry_price"],
                mode="markers",
                marker={"symbol": "triangle-up", "size": 9, "color": "#1f77b4"},
                name="entry",
                customdata=np.c_[trades["quantity"]],
                hovertemplate="entry %{x}<br>price %{y}<br>qty %{customdata[0]:.6g}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=plot_times(trades["exit_time"]),
                y=trades["exit_price"],
                mode="markers",
                marker={
                    "symbol": "triangle-down",
                    "size": 9,
                    # 1 = gain (green), 0 = loss (red): numbers, not 10,000 colour strings
                    # that plotly validates one by one
                    "color": (trades["net_pnl"] > 0).to_numpy(dtype=np.float64),
                    "colorscale": [[0.0, "#d62728"], [1.0, "#2ca02c"]],
                    "cmin": 0.0,
                    "cmax": 1.0,
                },
                name="exit",
                customdata=np.c_[trades["net_pnl"], trades["exit_reason"].astype(str)],
                hovertemplate=(
                    "exit %{x}<br>price %{y}<br>net PnL %{customdata[0]:.2f}"
                    "<br>%{customdata[1]}<extra></extra>"
                ),
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=plot_times(eq_view.index), y=eq_view["equity"], name="equity", line={"width": 1.5}
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=plot_times(eq_view.index),
            y=eq_view["drawdown"],
            name="drawdown",
            fill="tozeroy",
            line={"width": 1, "color": "#d62728"},
        ),
        row=3,
        col=1,
    )
    fig.update_layout(
        height=800,
        xaxis_rangeslider_visible=False,
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 50, "b": 30},
        legend={"orientation": "h", "y": 1.04, "x": 1, "xanchor": "right"},
    )
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    return fig
