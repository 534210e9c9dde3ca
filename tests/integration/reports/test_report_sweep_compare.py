"""``coinbt report sweep`` and ``coinbt report compare``: papermill runs of the templates on
bundled candles, archived with their run, equal to the same work through the API."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from notebook_outputs import outputs_text

import coinbt
from coinbt.cli.main import main
from coinbt.errors import ConfigError, StorageError
from coinbt.jobs.sweep import plan_sweep
from coinbt.reports import run_report, template_path
from coinbt.reports.compare import comparison_id
from coinbt.storage import Registry
from coinbt.sweeps import Range

MARKET = {"strategy": "volume_zone_breakout", "symbol": "BTC-USDT", "timeframe": "1h",
          "exchange": "binance", "end": "2021-09-30"}  # fmt: skip
METRICS = ["total_return", "cagr", "sharpe", "max_drawdown", "n_trades", "win_rate"]


def test_sweep_report_records_the_sweep_and_equals_coinbt_sweep(report_env: Path) -> None:
    grid = {"volume_window": [10, 30], "top_percentile": [0.1, 0.3]}
    report = run_report("sweep", {**MARKET, "grid": grid, "settings": {"fee_rate": 0.0005}})
    assert (report.status, report.run_status, report.error) == ("finished", "finished", None)
    planned = plan_sweep("volume_zone_breakout", grid, "BTC-USDT", "1h", end="2021-09-30",
                         exchange="binance", fee_rate=0.0005)  # fmt: skip
    assert report.run_id == planned.id

    api = coinbt.sweep("volume_zone_breakout", grid, symbols="BTC-USDT", timeframe="1h",
                       end="2021-09-30", exchange="binance", fee_rate=0.0005,
                       progress=False)  # fmt: skip
    reg = Registry()
    row = reg.run(report.run_id)
    assert (row["kind"], row["status"], row["params"]["n_trials"]) == ("sweep", "finished", 4)
    arts = reg.artifacts(report.run_id)
    assert {"report.ipynb", "report.html", "trials.parquet", "sweep.json"} <= set(arts)
    assert row["notebook_uri"] == arts["report.ipynb"]["uri"]
    table = reg.store.read_table(report.run_id, "trials", arts["trials.parquet"]["sha256"])
    mine = table.set_index(["volume_window", "top_percentile"]).sort_index()
    theirs = api.trials.set_index(["volume_window", "top_percentile"]).sort_index()
    pd.testing.assert_frame_equal(mine[METRICS], theirs[METRICS], check_exact=True)
    # every trial is the coinbt.backtest run of its parameters, recorded under the sweep
    first = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", end="2021-09-30",
                            exchange="binance", fee_rate=0.0005,
                            params={"volume_window": 30, "top_percentile": 0.1})  # fmt: skip
    trial = reg.run(first.run_id)
    assert trial["kind"] == "sweep_trial" and trial["parent_run_id"] == report.run_id
    reg.close()

    text = outputs_text(nbformat.read(report.notebook, 4))
    assert f"sweep {report.run_id}" in text and "4 trials" in text
    dsr = api.deflated_sharpe()
    assert "deflated Sharpe ratio of the best" in text and f"{dsr.deflated_sharpe:.3f}" in text
    assert f"{dsr.sharpe_per_bar:.4f}" in text and str(api.best()["run_id"]) in text
    html = report.html.read_text()
    assert '"type":"heatmap"' in html.replace(" ", "") and "buy and hold" in html


def test_a_random_sweep_report_draws_the_trials_coinbt_sweep_draws(report_env: Path) -> None:
    grid = {"volume_window": {"lo": 5, "hi": 60}, "top_percentile": [0.1, 0.2, 0.3]}
    params = {**MARKET, "grid": grid, "random": 3, "seed": 7, "heatmaps": [], "equity_top": 1}
    report = run_report("sweep", params)
    assert report.status == "finished", report.error
    api = coinbt.sweep("volume_zone_breakout",
                       {"volume_window": Range(5, 60), "top_percentile": [0.1, 0.2, 0.3]},
                       symbols="BTC-USDT", timeframe="1h", end="2021-09-30",
                       exchange="binance", random=3, seed=7, progress=False)  # fmt: skip
    reg = Registry()
    definition = reg.run(report.run_id)["params"]
    assert (definition["search"], definition["seed"], definition["n_trials"]) == ("random", 7, 3)
    arts = reg.artifacts(report.run_id)
    table = reg.store.read_table(report.run_id, "trials", arts["trials.parquet"]["sha256"])
    reg.close()
    assert sorted(table["run_id"]) == sorted(api.trials["run_id"])
    np.testing.assert_array_equal(
        table.sort_values("run_id")["sharpe"], api.trials.sort_values("run_id")["sharpe"]
    )


def _two_runs() -> tuple[coinbt.BacktestResult, coinbt.BacktestResult]:
    a = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", end="2021-09-30",
                        exchange="binance", params={"volume_window": 30})  # fmt: skip
    b = coinbt.backtest("volume_long_candle", "ETH-USDT", "1h", end="2021-12-31",
                        exchange="binance", fee_rate=0.0005)  # fmt: skip
    a.save()
    b.save()
    return a, b


def test_compare_report_records_the_comparison_of_the_stored_runs(report_env: Path) -> None:
    a, b = _two_runs()
    report = run_report("compare", {"runs": [b.run_id[:8], a.run_id]})  # prefixes resolve
    assert (report.status, report.run_status) == ("finished", "finished"), report.error
    assert report.run_id == comparison_id([a.run_id, b.run_id])
    reg = Registry()
    row = reg.run(report.run_id)
    assert row["kind"] == "compare"
    assert row["params"] == {"runs": [b.run_id, a.run_id], "template": "compare"}
    assert set(row["symbols"]) == {"BTC-USDT", "ETH-USDT"}
    assert {"report.ipynb", "report.html"} <= set(reg.artifacts(report.run_id))
    reg.close()

    text = outputs_text(nbformat.read(report.notebook, 4))
    assert f"comparison {report.run_id}: 2 runs" in text
    for run in (a, b):  # each run's own numbers, as the API computed them
        assert f"{100 * run.stats['total_return']:,.2f} %" in text
        assert f"{100 * run.stats['max_drawdown']:,.2f} %" in text
    html = report.html.read_text()
    assert "#fff3bf" in html and "drawdown %" in html  # differences shaded; the figure

    again = run_report("compare", {})  # runs=None: the two latest backtests, same comparison
    assert again.run_id == report.run_id and again.status == "finished"

    from coinbt.reports.index import write_index

    page = write_index(report_env / "reports", [report.run_id, a.run_id]).read_text()
    assert "volume_long_candle vs volume_zone_breakout (compare)" in page
    assert "ETH-USDT, BTC-USDT 1h" in page and f'href="{report.run_id}.html"' in page


def test_sweep_and_compare_parameter_mistakes_fail_before_anything_runs(
    report_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for template, params, message in (
        (
            "sweep",
            {"grid": {"volume_windw": [10]}},
            r"'volume_windw'.*Did you mean 'volume_window'",
        ),
        ("sweep", {"grid": {"volume_window": {"lo": 5}}}, r"a range is \{lo: …, hi: …\}"),
        ("sweep", {"grid": {}}, r"at least one swept parameter"),
        ("sweep", {"metric": "sharp"}, r"metric='sharp'.*Did you mean 'sharpe'"),
        ("sweep", {"random": "4"}, r"random='4': expected a whole number"),
        ("sweep", {"heatmaps": ["volume_window"]}, r"heatmaps=.*\[x, y\] parameter name pairs"),
        ("sweep", {"grdi": {}}, r"no parameter 'grdi'.*Did you mean 'grid'"),
        ("compare", {"runs": "abc"}, r"runs='abc': expected a list of two or more run ids"),
        ("compare", {}, r"holds 0 finished backtest"),
    ):
        with pytest.raises(ConfigError, match=message):
            run_report(template, params)
    with pytest.raises(StorageError, match="zzzz"):
        run_report("compare", {"runs": ["zzzz", "yyyy"]})
    assert main(["report", "compare", "-p", "runs", "[abc]"]) == 2
    assert "runs=['abc']" in capsys.readouterr().err
    assert not (report_env / "reports").exists()
    reg = Registry()
    assert reg.runs().empty
    reg.close()


def test_compare_refuses_runs_that_are_not_finished_backtests(report_env: Path) -> None:
    a, _ = _two_runs()
    sweep = run_report("sweep", {**MARKET, "grid": {"volume_window": [10, 20]}})
    with pytest.raises(ConfigError, match=rf"run {sweep.run_id} is a finished sweep run"):
        run_report("compare", {"runs": [a.run_id, sweep.run_id]})
    with pytest.raises(ConfigError, match="listed twice"):
        run_report("compare", {"runs": [a.run_id, a.run_id[:10]]})


def test_sweep_template_run_directly_with_papermill_fails_its_first_cell(
    report_env: Path,
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(template_path("sweep")), None,
                                   parameters={"metrc": "sortino"}, progress_bar=False)  # fmt: skip
    assert info.value.exec_count == 3 and "Did you mean 'metric'" in info.value.evalue
