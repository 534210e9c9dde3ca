"""Run view: price with trades, equity and drawdown, the positions table, stats and provenance.

Table builders are plain functions of a :class:`~coinbt.results.BacktestResult` (testable
without widgets); :class:`RunView` shows them, and zooms the chart to the trade picked in the
trade selector.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from coinbt.dashboards.common import fmt, html_table, open_registry, tone

#: rows of the positions table per page
PAGE_ROWS = 1000


def positions_frame(result: Any) -> pd.DataFrame:
    """Every closed trade: entry and exit time and price, quantity, fees, slippage, net PnL in
    quote currency and in percent of the entry value, bars held, exit reason."""
    t = result.trades
    return pd.DataFrame(
        {
            "trade": np.arange(1, len(t) + 1),
            "entry_time": t["entry_time"],
            "exit_time": t["exit_time"],
            "entry_price": t["entry_price"].astype(float),
            "exit_price": t["exit_price"].astype(float),
            "quantity": t["quantity"].astype(float),
            "fees": (t["entry_fee"] + t["exit_fee"]).astype(float),
            "slippage": t["slippage_cost"].astype(float),
            "net_pnl": t["net_pnl"].astype(float),
            "return": t["return"].astype(float),
            "bars_held": t["bars_held"].astype(int),
            "exit_reason": t["exit_reason"].astype(str),
        }
    )


def trade_summary(result: Any) -> dict[str, Any]:
    """Trades, winners (fraction), average and total net PnL, total fees and slippage, and the
    open position at the end (quantity, entry price, unrealised PnL) if there is one."""
    t = result.trades
    n = len(t)
    open_pos = result.positions
    summary: dict[str, Any] = {
        "trades": n,
        "winners": float((t["net_pnl"] > 0).mean()) if n else None,
        "avg_net_pnl": float(t["net_pnl"].mean()) if n else None,
        "total_net_pnl": float(t["net_pnl"].sum()) if n else 0.0,
        "total_fees": float((t["entry_fee"] + t["exit_fee"]).sum()) if n else 0.0,
        "total_slippage": float(t["slippage_cost"].sum()) if n else 0.0,
        "open_quantity": None,
        "open_entry_price": None,
        "unrealised_pnl": None,
    }
    if len(open_pos):
        row = open_pos.iloc[0]
        summary.update(
            open_quantity=float(row["quantity"]),
            open_entry_price=float(row["entry_price"]),
            unrealised_pnl=float(row["unrealised_pnl"]),
        )
    return summary


def summary_html(summary: dict[str, Any], quote: str) -> str:
    """The summary line above the positions table (gains green, losses red)."""

    def money(key: str) -> str:
        value = summary[key]
        text = "–" if value is None else f"{value:,.2f} {quote}"
        return f'<span class="{tone(key, value, {key})}">{html.escape(text)}</span>'

    winners = "–" if summary["winners"] is None else f"{100 * summary['winners']:.1f} %"
    parts = [
        f"<b>{summary['trades']:,}</b> trades",
        f"winners {winners}",
        f"average net PnL {money('avg_net_pnl')}",
        f"total net PnL {money('total_net_pnl')}",
        f"fees {summary['total_fees']:,.2f} {quote}",
        f"slippage {summary['total_slippage']:,.2f} {quote}",
    ]
    if summary["open_quantity"] is None:
        parts.append("no open position")
    else:
        parts.append(
            f"open: {summary['open_quantity']:.6g} from {summary['open_entry_price']:,.2f}, "
            f"unrealised {money('unrealised_pnl')}"
        )
    return '<div id="trade-summary">' + " · ".join(parts) + "</div>"


def stats_html(result: Any) -> str:
    """The run's statistics as a two-column table."""
    from coinbt.results.format import stats_rows

    rows = stats_rows(dict(result.stats))
    frame = pd.DataFrame({"statistic": [k for k, _ in rows], "value": [v for _, v in rows]})
    return html_table(frame, scroll=False, table_id="stats-table")


def provenance_frame(row: dict[str, Any], artifacts: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Spec and provenance of a stored run, then where each artifact is stored."""
    keys = (
        "run_id", "kind", "status", "strategy", "params", "exchange", "symbol", "timeframe",
        "start", "end", "engine", "data_fingerprint", "coinbt_version", "created", "finished",
        "parent_run_id", "tags", "notebook_uri", "artifact_uri",
    )  # fmt: skip
    items = [(k, row.get(k)) for k in keys]
    items += [(f"artifact {name}", info["uri"]) for name, info in sorted(artifacts.items())]
    return pd.DataFrame(
        {"field": [k for k, _ in items], "value": [_text(v) for _, v in items]}, dtype=object
    )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "–"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "–"
    return fmt("", value)


def trade_window(result: Any, trade: int, pad_bars: int = 24) -> tuple[Any, Any]:
    """The time range the chart zooms to for trade number ``trade`` (from 1): its entry and
    exit with ``pad_bars`` bars either side (clipped to the data)."""
    t = result.trades
    if not 1 <= trade <= len(t):
        raise IndexError(f"no trade {trade}; the run has {len(t)} trades")
    index = result.equity.index
    i0 = int(index.searchsorted(t["entry_time"].iloc[trade - 1]))
    i1 = int(index.searchsorted(t["exit_time"].iloc[trade - 1]))
    lo = index[max(0, i0 - pad_bars)]
    hi = index[min(len(index) - 1, i1 + pad_bars)]
    return lo, hi


class RunView:
    """One stored run (``run_id`` or a unique prefix) with widgets: the chart (``figure``, a
    ``go.Figure`` shown by ``chart``, a :class:`~coinbt.dashboards.chart.Chart`), a trade
    selector that zooms it, the paged positions table, summary, stats and provenance."""

    def __init__(self, run_id: str, registry: Any = None, max_candles: int = 1000) -> None:
        import ipywidgets as w

        from coinbt.dashboards.chart import Chart

        self.registry = registry if registry is not None else open_registry()
        reg = self.registry
        self.run_id = reg.resolve(run_id)
        self.row = reg.run(self.run_id)
        self.artifacts = reg.artifacts(self.run_id)
        self.result = reg.load(self.run_id)
        self.positions = positions_frame(self.result)
        quote = _quote(self.result.spec.symbol)
        spec = self.result.spec
        self.header = w.HTML(
            f"<h2>{html.escape(spec.strategy)} · {html.escape(spec.symbol)} {spec.timeframe}"
            f" · <code>{self.run_id}</code></h2>"
        )
        self.max_candles = max_candles
        self.figure = self.result.plot(max_candles=max_candles)
        self.chart = Chart(self.figure)
        self.summary = w.HTML(summary_html(trade_summary(self.result), quote))
        self.trade = w.Dropdown(description="zoom to", options=[("whole run", 0)], value=0)
        self.table = w.HTML()
        self.prev = w.Button(description="◀", layout=w.Layout(width="48px"))
        self.next = w.Button(description="▶", layout=w.Layout(width="48px"))
        self.pager = w.HTML()
        self.stats = w.HTML(stats_html(self.result))
        self.provenance = w.HTML(
            html_table(
                provenance_frame(self.row, self.artifacts),
                scroll=False,
                table_id="provenance-table",
            )  # fmt: skip
        )
        self.page = 0
        self.pages = max(1, math.ceil(len(self.positions) / PAGE_ROWS))
        self.trade.observe(self._zoom, names="value")
        self.prev.on_click(lambda _: self.show_page(self.page - 1))
        self.next.on_click(lambda _: self.show_page(self.page + 1))
        self.show_page(0)
        self.widget = w.VBox(
            [
                self.header,
                self.summary,
                self.trade,
                self.chart,
                w.HBox([self.prev, self.next, self.pager]),
                self.table,
                w.HTML("<h3>Statistics</h3>"),
                self.stats,
                w.HTML("<h3>Spec, provenance and artifacts</h3>"),
                self.provenance,
            ]
        )

    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0) of the positions table; the trade selector lists it."""
        self.page = min(max(page, 0), self.pages - 1)
        part = self.positions.iloc[self.page * PAGE_ROWS : (self.page + 1) * PAGE_ROWS]
        self.table.value = html_table(part, signed=("net_pnl", "return"), table_id="positions")
        first = self.page * PAGE_ROWS
        self.pager.value = (
            f"trades {first + 1 if len(part) else 0:,}–{first + len(part):,} of "
            f"{len(self.positions):,} · page {self.page + 1} of {self.pages}"
        )
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        options = [("whole run", 0)] + [
            (f"#{k} {when:%Y-%m-%d %H:%M} {100 * ret:+.2f} %", int(k))
            for k, when, ret in zip(part["trade"], part["entry_time"], part["return"], strict=True)
        ]
        self.trade.options = options
        self.trade.value = 0

    def zoom(self, trade: int) -> None:
        """Zoom every panel to trade ``trade`` (from 1), or back to the whole run (0).

        The traces get the data of the new range from :func:`~coinbt.results.figures.chart_data`:
        a trade's window shows every bar and one marker per trade, the whole run its
        aggregated candles and merged markers again."""
        from coinbt.results.figures import chart_data, marker_trace

        window = (None, None) if trade == 0 else trade_window(self.result, trade)
        data = chart_data(self.result, *window, max_candles=self.max_candles)
        traces = {t.name: t for t in self.figure.data}
        for name, values in data.items():
            if name not in traces:  # a run without trades has no markers
                continue
            if name in ("entry", "exit"):
                values = marker_trace(values, name)
            traces[name].update(values)
        index = self.result.equity.index
        span = (index[0], index[-1]) if trade == 0 else window
        # naive UTC text, as the traces' times (plotly.js cannot read "+00:00")
        self.figure.update_xaxes(range=[_axis_time(t) for t in span])
        if trade == 0:
            self.figure.update_yaxes(autorange=True, row=1, col=1)
        else:
            t = self.result.trades.iloc[trade - 1]
            lo = min(t["entry_price"], t["exit_price"])
            hi = max(t["entry_price"], t["exit_price"])
            bars = self.result.bars.loc[window[0] : window[1]]
            if len(bars) and bars["low"].notna().any():
                lo, hi = min(lo, bars["low"].min()), max(hi, bars["high"].max())
            pad = (hi - lo) * 0.05 or hi * 0.01
            self.figure.update_yaxes(range=[lo - pad, hi + pad], row=1, col=1)
        self.chart.show(self.figure)

    def _zoom(self, change: Any) -> None:
        self.zoom(int(change["new"] or 0))


def _axis_time(value: Any) -> str:
    stamp = pd.Timestamp(value)
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.isoformat()


def _quote(symbol: str) -> str:
    return symbol.split("-")[-1] if "-" in symbol else ""


__all__ = [
    "PAGE_ROWS",
    "RunView",
    "positions_frame",
    "provenance_frame",
    "stats_html",
    "summary_html",
    "trade_summary",
    "trade_window",
]
