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


def chart_data(
    result: BacktestResult, start: Any = None, end: Any = None, *, max_candles: int = 5000
) -> dict[str, dict[str, Any]]:
    """The data of each trace of :func:`backtest_figure` over ``[start, end]`` (the whole run
    by default), keyed by trace name: ``price``, ``entry``, ``exit``, ``equity``, ``drawdown``.

    When the range has more than ``max_candles`` bars, ``k`` consecutive bars make one candle;
    equity is then shown as its last value and drawdown as its lowest per candle (the chart's
    deepest point is the run's max drawdown), and the trades entered (or exited) within one
    candle become one marker whose hover gives their count, average price, total quantity
    and total net PnL, as backtesting.py merges trades when it resamples.  Otherwise there
    is one point per bar and one marker per trade.  Zooming into a short range therefore
    shows every bar and every trade (the run view does this).
    """
    bars = result.bars
    eq = result.equity
    lo = 0 if start is None else int(bars.index.searchsorted(start, side="left"))
    hi = len(bars) if end is None else int(bars.index.searchsorted(end, side="right"))
    bars, eq = bars.iloc[lo:hi], eq.iloc[lo:hi]
    n = len(bars)
    k = max(1, int(np.ceil(n / max_candles)))
    group = np.arange(n) // k
    candles = display_candles(bars, max_candles)  # the bars themselves when k == 1
    times = plot_times(candles.index)
    if k > 1:
        curve = pd.DataFrame({"equity": eq["equity"].to_numpy(), "drawdown": eq["drawdown"]
                              .to_numpy(), "g": group}).groupby("g")  # fmt: skip
        equity = curve["equity"].last().to_numpy()
        dd = curve["drawdown"].min().to_numpy()
    else:
        equity, dd = eq["equity"].to_numpy(), eq["drawdown"].to_numpy()
    data: dict[str, dict[str, Any]] = {
        "price": {
            "x": times,
            "open": candles["open"].to_numpy(),
            "high": candles["high"].to_numpy(),
            "low": candles["low"].to_numpy(),
            "close": candles["close"].to_numpy(),
        },  # fmt: skip
        "equity": {"x": times, "y": equity},
        "drawdown": {"x": times, "y": dd},
    }
    trades = result.trades
    number = np.arange(1, len(trades) + 1)
    for side in ("entry", "exit"):
        when = pd.DatetimeIndex(trades[f"{side}_time"])
        at = bars.index.searchsorted(when, side="right") - 1  # the bar each trade falls in
        inside = (at >= 0) & (when <= bars.index[-1]) if n else np.zeros(len(trades), bool)
        part = trades.loc[inside]
        data[side] = _markers(part, side, number[inside], at[inside] // k, times, merged=k > 1)
    return data


def _markers(
    trades: pd.DataFrame,
    side: str,
    number: np.ndarray,
    candle: np.ndarray,
    times: np.ndarray,
    *,
    merged: bool,
) -> dict[str, Any]:
    """Marker data of one side (``entry``/``exit``): per trade, or per candle when merged.
    Exits are coloured by net PnL (1 = gain, green; 0 = loss, red)."""
    price = trades[f"{side}_price"].to_numpy(dtype=np.float64)
    qty = trades["quantity"].to_numpy(dtype=np.float64)
    pnl = trades["net_pnl"].to_numpy(dtype=np.float64)
    if not merged:
        x = plot_times(trades[f"{side}_time"])
        if side == "entry":
            text = [f"trade #{t} entry<br>price {p:,.6g}<br>qty {q:.6g}"
                    for t, p, q in zip(number, price, qty, strict=True)]  # fmt: skip
        else:
            reason = trades["exit_reason"].astype(str).to_numpy()
            text = [f"trade #{t} exit<br>price {p:,.6g}<br>net PnL {v:,.2f}<br>{r}"
                    for t, p, v, r in zip(number, price, pnl, reason, strict=True)]  # fmt: skip
        return {"x": x, "y": price, "text": text, "pnl": pnl}
    frame = pd.DataFrame({"c": candle, "pq": price * qty, "q": qty, "pnl": pnl, "n": 1})
    g = frame.groupby("c", sort=True).sum()
    avg = (g["pq"] / g["q"]).to_numpy()
    label = "entries" if side == "entry" else "exits"
    text = [
        f"{n:,} {label if n > 1 else side}<br>avg price {p:,.6g}<br>qty {q:.6g}"
        + (f"<br>net PnL {v:,.2f}" if side == "exit" else "")
        for n, p, q, v in zip(g["n"], avg, g["q"], g["pnl"], strict=True)
    ]
    return {"x": times[g.index.to_numpy()], "y": avg, "text": text, "pnl": g["pnl"].to_numpy()}


def backtest_figure(result: BacktestResult, *, max_candles: int = 5000) -> go.Figure:
    """Three panels: price with trades, equity, drawdown (data from :func:`chart_data`)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    spec = result.spec
    data = chart_data(result, max_candles=max_candles)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.25, 0.15],
        vertical_spacing=0.03,
        subplot_titles=(f"{spec.symbol} {spec.timeframe} · {spec.strategy}", "Equity", "Drawdown"),
    )
    fig.add_trace(go.Candlestick(**data["price"], name="price", showlegend=False), row=1, col=1)
    if len(result.trades):
        for side, symbol in (("entry", "triangle-up"), ("exit", "triangle-down")):
            fig.add_trace(
                go.Scatter(
                    **marker_trace(data[side], side),
                    mode="markers",
                    name=side,
                    marker={"symbol": symbol, "size": 9},
                    hovertemplate="%{text}<extra></extra>",
                ),  # fmt: skip
                row=1,
                col=1,
            )
    fig.add_trace(go.Scatter(**data["equity"], name="equity", line={"width": 1.5}), row=2, col=1)
    fig.add_trace(
        go.Scatter(
            **data["drawdown"],
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


def marker_trace(markers: dict[str, Any], side: str) -> dict[str, Any]:
    """Scatter properties of one side's markers: entries blue; exits green for a gain and red
    for a loss (numbers on a two-colour scale, not thousands of colour strings that plotly
    validates one by one)."""
    if side == "entry":
        color: Any = "#1f77b4"
        scale: dict[str, Any] = {}
    else:
        color = (np.asarray(markers["pnl"]) > 0).astype(np.float64)
        scale = {"colorscale": [[0.0, "#d62728"], [1.0, "#2ca02c"]], "cmin": 0.0, "cmax": 1.0}
    return {"x": markers["x"], "y": markers["y"], "text": markers["text"],
            "marker_color": color, **{f"marker_{k}": v for k, v in scale.items()}}  # fmt: skip
