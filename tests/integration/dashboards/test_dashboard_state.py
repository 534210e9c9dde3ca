"""Dashboard state without a browser: set widget values, check the tables and figures against
the registry and the runs themselves."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy

from coinbt.dashboards import view
from coinbt.dashboards.compare_view import CompareView
from coinbt.dashboards.explorer import RunFilter, RunsExplorer, fetch_page
from coinbt.dashboards.run_view import RunView, positions_frame, trade_summary, trade_window
from coinbt.dashboards.sweep_view import SweepView, heatmap_grid, trial_table
from coinbt.errors import ConfigError, StorageError
from coinbt.reports.compare import resolve_runs


def values(array: Any) -> np.ndarray:
    """An array as the chart widget sends it: plotly's typed-array form (``dtype``, base64
    ``bdata``, ``shape``) or a plain list."""
    if isinstance(array, dict):
        flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
        shape = [int(n) for n in str(array.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).astype(float)
    return np.asarray(array, dtype=float)


def rows_of(html: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>", 1)[1])


def test_explorer_filters_sorts_and_pages_in_the_database(dash_registry: Any) -> None:
    reg = dash_registry
    ex = RunsExplorer(registry=reg, page_size=3)
    total = reg.count()
    assert total == 4 + 1 + 4  # backtests, the sweep, its trials
    assert ex.page.total == total and ex.page.pages == 3 and len(ex.page.rows) == 3
    assert f"<b>{total}</b> runs" in ex.status.value and ex.prev.disabled
    assert len(rows_of(ex.table.value)) == 3

    ex.next.click()
    ex.next.click()
    assert ex.page.page == 2 and len(ex.page.rows) == total - 6 and ex.next.disabled
    ex.controls["kind"].value = "backtest"  # any change goes back to the first page
    assert ex.page.page == 0 and ex.page.total == 4
    ex.controls["strategy"].value = "volume_long_candle"
    assert set(ex.page.rows["strategy"]) == {"volume_long_candle"} and ex.page.total == 2

    ex.controls["strategy"].value = ""
    ex.controls["order_by"].value = "sharpe"
    ex.page_size = 10
    ex.refresh()
    sharpe = ex.page.rows["sharpe"].to_numpy()
    assert list(sharpe) == sorted(sharpe, reverse=True)
    ex.controls["descending"].value = False
    assert list(ex.page.rows["sharpe"]) == sorted(sharpe)

    threshold = float(np.median(sharpe))
    ex.controls["min_sharpe"].value = str(threshold)
    assert (ex.page.rows["sharpe"] >= threshold).all()
    assert ex.page.total == int((sharpe >= threshold).sum())
    ex.controls["min_sharpe"].value = "lots"  # not a number: said, table kept
    assert "&#x27;lots&#x27; is not a number" in ex.status.value
    ex.controls["min_sharpe"].value = ""
    ex.controls["min_drawdown"].value = "-30"  # percent: drawdown no worse than -30 %
    assert (ex.page.rows["max_drawdown"] >= -0.30).all()
    ex.controls["min_drawdown"].value = ""

    ex.controls["tags"].value = "seed, vlc_eth"
    assert list(ex.page.rows["strategy"]) == ["volume_long_candle"]
    assert list(ex.page.rows["symbol"]) == ["ETH-USDT"]
    ex.controls["tags"].value = ""
    ex.controls["until"].value = dt.date(2000, 1, 1)
    assert ex.page.total == 0 and "0</b> runs" in ex.status.value
    ex.controls["until"].value = None
    ex.controls["since"].value = dt.date.today()
    assert ex.page.total == 4


def test_explorer_table_links_each_run_to_its_view_and_colours_signs(dash_registry: Any) -> None:
    ex = RunsExplorer(registry=dash_registry, page_size=50)
    html = ex.table.value
    for row in ex.page.rows.to_dict("records"):
        page = {"sweep": "sweep", "sweep_trial": "run", "backtest": "run"}[row["kind"]]
        assert f'href="{page}.ipynb?run={row["run_id"]}"' in html
    for line in rows_of(html):
        cells = re.findall(r'<td class="([^"]*)">([^<]*)</td>', line)
        for classes, text in cells:
            if text.endswith("%") and text.startswith("-"):
                assert "cbt-loss" in classes  # negative returns and drawdowns are red
            if "cbt-gain" in classes:
                assert not text.startswith("-")
    # compare picker: backtests of the page; two picked give a link with both
    options = [v for _, v in ex.pick.options]
    assert len(options) == 8
    ex.pick.value = tuple(options[:2])
    assert f"compare.ipynb?runs={options[0]}%2C{options[1]}" in ex.compare_link.value
    ex.pick.value = tuple(options[:1])
    assert "pick 2 to 5" in ex.compare_link.value


def test_fetch_page_past_the_end_gives_the_last_page(dash_registry: Any) -> None:
    page = fetch_page(dash_registry, RunFilter(page=99, page_size=4))
    assert page.page == page.pages - 1 == 2 and len(page.rows) == 1


def test_positions_table_and_summary_equal_the_runs_trades(
    seeded: dict[str, Any], dash_registry: Any
) -> None:
    run = seeded["runs"]["vlc_eth"]
    table = positions_frame(run)
    t = run.trades
    assert len(table) == len(t) > 0 and list(table["trade"]) == list(range(1, len(t) + 1))
    np.testing.assert_allclose(table["fees"], t["entry_fee"] + t["exit_fee"])
    np.testing.assert_allclose(table["net_pnl"], t["net_pnl"])
    summary = trade_summary(run)
    assert summary["trades"] == len(t)
    assert summary["winners"] == pytest.approx((t["net_pnl"] > 0).mean())
    assert summary["total_fees"] == pytest.approx(run.stats["fees_paid"])
    assert summary["total_net_pnl"] == pytest.approx(
        run.stats["final_equity"] - run.stats["initial_equity"]
    )
    assert summary["open_quantity"] is None

    opened = trade_summary(seeded["runs"]["sma_open"])
    position = seeded["runs"]["sma_open"].positions.iloc[0]
    assert opened["unrealised_pnl"] == pytest.approx(position["unrealised_pnl"])
    lo, hi = trade_window(run, 1, pad_bars=5)
    assert lo < t["entry_time"].iloc[0] and hi > t["exit_time"].iloc[0]
    with pytest.raises(IndexError, match="no trade 0"):
        trade_window(run, 0)


def test_run_view_shows_every_trade_and_zooms_to_the_picked_one(
    seeded: dict[str, Any], dash_registry: Any
) -> None:
    run = seeded["runs"]["vzb_btc"]
    rv = RunView(run.run_id[:10], registry=dash_registry)
    assert rv.run_id == run.run_id
    assert len(rows_of(rv.table.value)) == len(run.trades)
    assert f"{len(run.trades):,}</b> trades" in rv.summary.value
    assert len(rv.trade.options) == len(run.trades) + 1
    rv.trade.value = 5
    lo, hi = trade_window(run, 5)
    sent = rv.chart.figure["layout"]["xaxis"]["range"]  # what the browser draws
    shown = tuple(pd.Timestamp(x).tz_localize("UTC") for x in sent)
    assert shown == (lo, hi) and "+" not in sent[0]  # naive UTC text
    t = run.trades.iloc[4]
    y0, y1 = rv.chart.figure["layout"]["yaxis"]["range"]
    assert y0 < min(t["entry_price"], t["exit_price"]) and y1 > max(
        t["entry_price"], t["exit_price"]
    )
    rv.trade.value = 0
    last = rv.chart.figure["layout"]["xaxis"]["range"][1]
    assert pd.Timestamp(last).tz_localize("UTC") == run.equity.index[-1]

    # a long run is drawn aggregated; its trade's window gets every bar and trade back
    small = RunView(run.run_id, registry=dash_registry, max_candles=50)

    def traces() -> tuple[dict[str, Any], dict[str, Any]]:
        data = small.chart.figure["data"]
        return data[0], data[1]

    price, entries = traces()
    assert len(price["x"]) <= 50 < len(run.bars)
    small.trade.value = 5
    price, entries = traces()
    window = run.bars.loc[lo:hi]
    assert len(price["x"]) == len(window)
    assert list(values(price["close"])) == list(window["close"])
    assert any(t.startswith("trade #5 entry<br>") for t in entries["text"])
    small.trade.value = 0
    price, entries = traces()
    assert len(price["x"]) <= 50 and not any(t.startswith("trade #") for t in entries["text"])
    for name in ("trades.parquet", "equity.parquet", "stats.json"):
        assert name in rv.provenance.value
    assert "sharpe" in rv.stats.value and rv.figure.data[0].type == "candlestick"

    opened = RunView(seeded["runs"]["sma_open"].run_id, registry=dash_registry)
    assert "unrealised" in opened.summary.value and "no open position" not in opened.summary.value


def test_compare_view_holds_every_run_and_highlights_differences(
    seeded: dict[str, Any], dash_registry: Any
) -> None:
    a, b, c = (seeded["runs"][k] for k in ("vzb_btc", "vlc_eth", "vlc_btc"))
    cv = CompareView(f"{a.run_id[:8]},{b.run_id},{c.run_id}", registry=dash_registry)
    assert cv.run_ids == [a.run_id, b.run_id, c.run_id]
    assert len(cv.chart.figure["data"]) == 6  # equity and drawdown per run
    assert list(cv.stats.loc["total_return"]) == [
        f"{100 * r.stats['total_return']:,.2f} %" for r in (a, b, c)
    ]
    assert {"strategy", "symbol", "engine.fee_rate"} <= set(cv.specs.index[cv.specs["differs"]])
    for bad in (a.run_id, ",".join([a.run_id, b.run_id, c.run_id] * 2)):
        with pytest.raises(ConfigError, match="expected 2 to 5 distinct runs"):
            resolve_runs(dash_registry, bad, most=5)
    with pytest.raises(ConfigError, match=f"run {a.run_id} is listed twice"):
        resolve_runs(dash_registry, f"{a.run_id},{a.run_id[:8]}", most=5)
    with pytest.raises(ConfigError, match="a comparison takes finished backtests"):
        resolve_runs(dash_registry, f"{a.run_id},{seeded['sweep']}", most=5)
    with pytest.raises(StorageError, match="zzzz"):
        resolve_runs(dash_registry, "zzzz,yyyy")


def test_sweep_view_heatmap_is_the_trial_table_and_a_cell_opens_its_trial(
    seeded: dict[str, Any], dash_registry: Any
) -> None:
    sv = SweepView(seeded["sweep"][:8], registry=dash_registry)
    table, params = trial_table(dash_registry, seeded["sweep"])
    assert params == ["volume_window", "top_percentile"] and len(table) == 4
    trace = sv.chart.figure["data"][0]  # what the browser draws
    z = values(trace["z"])
    for i, y in enumerate(trace["y"]):
        for j, x in enumerate(trace["x"]):
            row = table[(table["volume_window"] == int(x)) & (table["top_percentile"] == float(y))]
            assert z[i, j] == pytest.approx(row["sharpe"].iloc[0])
            assert sv.open_cell(j, i) == row["run_id"].iloc[0]
            sv.picked.value = ""
            sv.chart.clicked = {"curve": 0, "point": [i, j], "x": x, "y": y, "n": 1 + i * 9 + j}
            assert f'href="run.ipynb?run={row["run_id"].iloc[0]}"' in sv.picked.value
    sv.metric.value = "total_return"
    assert np.nanmax(values(sv.chart.figure["data"][0]["z"])) == pytest.approx(
        table["total_return"].max()
    )
    sv.x.value, sv.y.value = "top_percentile", "volume_window"  # axes swapped
    assert sv.chart.figure["data"][0]["x"] == ["0.1", "0.3"]
    z, ids = heatmap_grid(table, "volume_window", "top_percentile", "sharpe", {})
    assert (ids != "").all().all()
    with pytest.raises(ConfigError, match="two different parameters"):
        heatmap_grid(table, "volume_window", "volume_window", "sharpe", {})
    with pytest.raises(ConfigError, match="not a sweep"):
        trial_table(dash_registry, seeded["runs"]["vzb_btc"].run_id)


def test_views_turn_user_mistakes_into_a_message(dash_registry: Any) -> None:
    assert "needs a run id" in view("run", query="").value
    shown = view("run", query="run=zzzzzz").value
    assert "unknown run &#x27;zzzzzz&#x27;" in shown and "Traceback" not in shown
    assert "2 to 5 run ids" in view("compare", query="").value
    assert "not a sweep" in view("sweep", query="run=" + dash_registry.runs(kind="backtest")
                                 ["run_id"].iloc[0]).value  # fmt: skip


def test_dashboards_open_the_registry_read_only(dash_registry: Any) -> None:
    assert "mode=ro" in dash_registry.url
    with (
        pytest.raises(sqlalchemy.exc.OperationalError, match="readonly"),
        dash_registry.engine.begin() as conn,
    ):
        conn.execute(sqlalchemy.text("DELETE FROM runs"))
    assert dash_registry.count() == 9


def test_chart_sends_the_figure_and_refuses_traces_its_plotly_build_lacks() -> None:
    import plotly.graph_objects as go

    from coinbt.dashboards.chart import Chart, figure_json

    fig = go.Figure(go.Candlestick(x=["2024-01-01"], open=[1], high=[2], low=[0.5], close=[1.5]))
    chart = Chart(fig)
    assert chart.figure == figure_json(fig) and chart.figure["data"][0]["type"] == "candlestick"
    fig.update_layout(title="again")
    chart.show(fig)
    assert chart.figure["layout"]["title"]["text"] == "again"
    seen: list[dict[str, Any]] = []
    chart.on_click(seen.append)
    chart.clicked = {"curve": 0, "point": 0, "x": "2024-01-01", "y": 1.5, "n": 1}
    assert seen == [chart.clicked]
    with pytest.raises(ValueError, match=r"trace type\(s\) \['bar'\] are not in"):
        Chart(go.Figure(go.Bar(x=[1], y=[2])))
