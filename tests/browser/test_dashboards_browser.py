"""The dashboards in a real browser: explorer, run, compare and sweep views, and the token.
Screenshots go to reports/screenshots/ (docs/dashboards.md shows them)."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from dashboard_browser import Dashboard, screenshot

from coinbt.dashboards.run_view import trade_window

PLOT = "document.querySelector('.js-plotly-plot')"


def table_rows(page: Any, table: str) -> int:
    return int(page.locator(f"#{table} tbody tr").count())


def test_explorer_loads_filters_and_opens_a_run(dashboard: Dashboard, page: Any) -> None:
    page.goto(dashboard.url("runs"))
    page.wait_for_selector("#runs-table")
    assert table_rows(page, "runs-table") == 9  # 4 backtests, a sweep and its 4 trials
    screenshot(page, "runs")

    strategy = page.get_by_label("strategy", exact=True)
    strategy.select_option(label="volume_long_candle")
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 2")
    assert page.locator("#runs-table", has_text="volume_zone_breakout").count() == 0

    run = dashboard.seeded["runs"]["vlc_eth"]
    page.locator(f'#runs-table a[href="run.ipynb?run={run.run_id}"]').click()
    page.wait_for_selector("#positions")
    assert f"run={run.run_id}" in page.url
    assert table_rows(page, "positions") == len(run.trades)


def test_run_view_shows_positions_chart_and_summary(dashboard: Dashboard, page: Any) -> None:
    run = dashboard.seeded["runs"]["vzb_btc"]
    page.goto(dashboard.url("run", f"run={run.run_id[:10]}"))
    page.wait_for_selector("#positions")
    page.wait_for_selector(".js-plotly-plot .boxlayer .trace", state="attached")  # candles
    assert table_rows(page, "positions") == len(run.trades)
    summary = page.locator("#trade-summary").inner_text()
    assert f"{len(run.trades):,} trades" in summary
    gains = page.locator("#positions td.cbt-gain").count()
    losses = page.locator("#positions td.cbt-loss").count()
    wins = int((run.trades["net_pnl"] > 0).sum())
    assert gains == 2 * wins and losses == 2 * int((run.trades["net_pnl"] < 0).sum())
    assert page.locator(".legendtext", has_text="drawdown").count() == 1
    assert page.evaluate(f"{PLOT}.layout.xaxis.type") == "date"
    screenshot(page, "run")


def test_compare_view_shows_every_selected_run(dashboard: Dashboard, page: Any) -> None:
    runs = [dashboard.seeded["runs"][k] for k in ("vzb_btc", "vlc_eth", "vlc_btc")]
    page.goto(dashboard.url("compare", "runs=" + ",".join(r.run_id for r in runs)))
    page.wait_for_selector(".js-plotly-plot .legendtext")
    legend = page.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")
    for r in runs:
        assert any(r.run_id[:8] in text for text in legend), (r.run_id, legend)
    assert page.locator("h2", has_text="3 runs compared").count() == 1
    screenshot(page, "compare")


def test_sweep_view_draws_the_heatmap(dashboard: Dashboard, page: Any) -> None:
    page.goto(dashboard.url("sweep", f"run={dashboard.seeded['sweep']}"))
    page.wait_for_selector(
        ".js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm", state="attached"
    )
    assert page.locator("h2", has_text="4 trials").count() == 1
    screenshot(page, "sweep")


def test_a_request_without_the_token_is_refused(dashboard: Dashboard) -> None:
    url = urlsplit(dashboard.url("runs", token=False))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", url.path)
    response = conn.getresponse()
    assert response.status in (302, 401, 403)
    if response.status == 302:
        assert "/login" in response.getheader("Location", "")
    wrong = urlsplit(dashboard.url("runs").replace("browser-test-token", "wrong-token"))
    conn.request("GET", f"{wrong.path}?{wrong.query}")
    response.read()
    again = conn.getresponse()
    assert again.status in (302, 401, 403) and b"runs-table" not in again.read()


def test_run_view_zooms_to_the_picked_trade(dashboard: Dashboard, page: Any) -> None:
    run = dashboard.seeded["runs"]["vzb_btc"]
    page.goto(dashboard.url("run", f"run={run.run_id[:10]}"))
    page.wait_for_selector(".js-plotly-plot .boxlayer .trace", state="attached")
    lo, hi = trade_window(run, 3)
    page.get_by_label("zoom to", exact=True).select_option(index=3)  # trade #3
    page.wait_for_function(
        f"Date.parse({PLOT}.layout.xaxis.range[0] + 'Z') === {int(lo.value // 10**6)}"
    )
    assert pd.Timestamp(page.evaluate(f"{PLOT}.layout.xaxis.range[1]")).tz_localize("UTC") == hi
    shown = page.evaluate(f"{PLOT}.data.find(t => t.name === 'entry').text")
    assert any(t.startswith("trade #3 entry<br>") for t in shown)
    page.wait_for_timeout(500)
    screenshot(page, "run-zoomed")


def test_sweep_view_cell_click_opens_its_trial(dashboard: Dashboard, page: Any) -> None:
    from coinbt.dashboards.sweep_view import trial_table
    from coinbt.storage import Registry

    root = dashboard.seeded["root"]
    reg = Registry(f"sqlite:///{root / 'registry.db'}", root / "artifacts")
    table, _ = trial_table(reg, dashboard.seeded["sweep"])
    reg.close()
    # x: volume_window 10 | 30, y: top_percentile 0.1 (bottom) | 0.3; the lower left cell
    trial = table[(table["volume_window"] == 10) & (table["top_percentile"] == 0.1)]
    expected = str(trial["run_id"].iloc[0])

    page.goto(dashboard.url("sweep", f"run={dashboard.seeded['sweep']}"))
    page.wait_for_selector(".js-plotly-plot .hm, .js-plotly-plot .heatmaplayer image")
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + 0.25 * box["width"], box["y"] + 0.75 * box["height"])
    link = page.locator(f'a[href="run.ipynb?run={expected}"]')
    link.wait_for()
    link.click()
    page.wait_for_selector("#positions")
    assert f"run={expected}" in page.url
