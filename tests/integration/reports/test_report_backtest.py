"""``coinbt report backtest``: papermill runs of the backtest template on bundled candles,
archived with their run; failures and parameter mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from notebook_outputs import outputs_text

import coinbt
from coinbt.cli.main import main
from coinbt.cli.report_cmd import parse_value
from coinbt.errors import ConfigError
from coinbt.reports import run_report, template_path
from coinbt.storage import Registry

PARAMS = {
    "strategy": "volume_zone_breakout",
    "symbol": "BTC-USDT",
    "timeframe": "1h",
    "exchange": "binance",
    "end": "2021-12-31",
    "params": {"volume_window": 30},
    "settings": {"fee_rate": 0.0005},
}


def test_backtest_report_is_archived_and_equals_the_api_run(report_env: Path) -> None:
    report = run_report("backtest", PARAMS)
    assert (report.status, report.run_status, report.error) == ("finished", "finished", None)
    local = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", end="2021-12-31",
                            exchange="binance", params={"volume_window": 30},
                            fee_rate=0.0005)  # fmt: skip
    assert report.run_id == local.run_id
    assert report.notebook == report_env / "reports" / f"{local.run_id}.ipynb"

    reg = Registry()
    stored = reg.load(report.run_id)  # every artifact checked against its SHA-256
    assert stored.stats == local.stats
    assert len(stored.trades) == len(local.trades) > 0
    arts = reg.artifacts(report.run_id)
    assert {"report.ipynb", "report.html", "trades.parquet"} <= set(arts)
    row = reg.run(report.run_id)
    assert row["notebook_uri"] == arts["report.ipynb"]["uri"]
    assert reg.store.get(report.run_id, "report.ipynb", arts["report.ipynb"]["sha256"]) == (
        report.notebook.read_bytes()
    )
    reg.close()

    nb = nbformat.read(report.notebook, 4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and '"volume_window": 30' in injected[0].source
    text = outputs_text(nb)
    assert f"run {local.run_id}" in text
    assert "win_rate" in text and "total_return" in text  # signal study and statistics
    html = report.html.read_text()
    assert "plotly" in html and local.run_id in html and "candlestick" in html


def test_a_backtest_report_on_several_symbols_records_each_run_and_their_group(
    report_env: Path,
) -> None:
    from coinbt.reports.compare import comparison_id

    params = {**PARAMS, "symbol": ["BTC-USDT", "ETH-USDT"], "end": "2021-09-30"}
    report = run_report("backtest", params)
    assert report.status == "finished", report.error
    runs = [coinbt.backtest("volume_zone_breakout", sym, "1h", end="2021-09-30",
                            exchange="binance", params={"volume_window": 30},
                            fee_rate=0.0005) for sym in ("BTC-USDT", "ETH-USDT")]  # fmt: skip
    assert report.run_id == comparison_id([r.run_id for r in runs], "backtest")
    reg = Registry()
    group = reg.run(report.run_id)
    assert (group["kind"], group["status"]) == ("compare", "finished")
    assert group["params"] == {"runs": [r.run_id for r in runs], "template": "backtest"}
    assert group["symbols"] == ["BTC-USDT", "ETH-USDT"]
    assert {"report.ipynb", "report.html"} <= set(reg.artifacts(report.run_id))
    for run in runs:
        assert reg.load(run.run_id).stats == run.stats
    reg.close()
    text = outputs_text(nbformat.read(report.notebook, 4))
    for run in runs:
        assert f"run {run.run_id}: volume_zone_breakout {run.spec.symbol} 1h" in text
        assert f"{100 * run.stats['total_return']:,.2f} %" in text
    assert text.count("ETH-USDT") > 3  # trades and the signal study carry the symbol too
    with pytest.raises(ConfigError, match="BTC-USDT is listed twice"):
        run_report("backtest", {**PARAMS, "symbol": ["BTC-USDT", "BTC-USDT"]})
    with pytest.raises(ConfigError, match=r"symbol=\[\]: expected"):
        run_report("backtest", {**PARAMS, "symbol": []})


def test_a_failing_report_keeps_its_notebook_and_fails_its_run(
    report_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = nbformat.read(template_path("backtest"), 4)
    for cell in nb.cells:
        if "backtest_plans(" in cell.source:  # break it after planning, before recording
            cell.source = cell.source.replace(
                "results = [execute(plan) for plan in plans]",
                "raise RuntimeError('template broke')",
            )
    broken = report_env / "broken" / "backtest.ipynb"
    broken.parent.mkdir()
    nbformat.write(nb, broken)

    code = main(["report", str(broken), "-p", "end", "2021-06-30", "-p", "exchange", "binance"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED in cell" in out and "RuntimeError: template broke" in out
    assert "raise RuntimeError('template broke')" in out
    run_id = out.split("report of run ", 1)[1].split()[0]
    kept = nbformat.read(report_env / "reports" / f"{run_id}.ipynb", 4)  # kept and readable
    assert any(o.get("ename") == "RuntimeError" for c in kept.cells for o in c.get("outputs", []))
    reg = Registry()
    row = reg.run(run_id)
    assert row["status"] == "failed" and "template broke" in row["error"]
    assert set(reg.artifacts(run_id)) == {"report.ipynb", "report.html"}
    reg.close()


def test_misspelt_and_mistyped_parameters_fail_before_anything_runs(
    report_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=r"no parameter 'symbl'.*Did you mean 'symbol'"):
        run_report("backtest", {"symbl": "ETH-USDT"})
    with pytest.raises(ConfigError, match=r"unknown parameter 'volume_windw'.*'volume_window'"):
        run_report("backtest", {"params": {"volume_windw": 30}})
    with pytest.raises(ConfigError, match=r"parameter params=.*expected a mapping"):
        run_report("backtest", {"params": [30]})
    with pytest.raises(ConfigError, match=r"horizons=\[0\].*whole numbers of bars"):
        run_report("backtest", {"horizons": [0]})
    with pytest.raises(ConfigError, match=r"unknown report template 'backtst'.*'backtest'"):
        run_report("backtst", {})
    assert main(["report", "backtest", "-p", "timeframe", "1hour"]) == 2
    assert "1hour" in capsys.readouterr().err
    assert not (report_env / "reports").exists()
    reg = Registry()
    assert reg.runs().empty
    reg.close()


def test_cli_values_are_yaml_and_dates_stay_text(report_env: Path) -> None:
    assert parse_value("2023-06-30") == "2023-06-30"
    assert parse_value("30") == 30 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("[1, 4, 24]") == [1, 4, 24]
    assert parse_value("{volume_window: 30, top_percentile: 0.1}") == {
        "volume_window": 30,
        "top_percentile": 0.1,
    }
    assert parse_value("None") is None and parse_value("BTC-USDT") == "BTC-USDT"
    plan = report_env / "plan.yaml"
    plan.write_text("symbol: ETH-USDT\nend: 2021-03-31\nparams: {volume_window: 12}\n")
    from coinbt.cli.report_cmd import read_params

    class Args:
        params_file = str(plan)
        param = [["exchange", "binance"]]

    assert read_params(Args()) == {  # type: ignore[arg-type]
        "symbol": "ETH-USDT",
        "end": "2021-03-31",
        "params": {"volume_window": 12},
        "exchange": "binance",
    }
    assert json.dumps(read_params(Args()))  # type: ignore[arg-type]


def test_run_directly_with_papermill_a_mistake_fails_the_first_executed_cell(
    report_env: Path,
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    template = str(template_path("backtest"))
    for params, message in (
        ({"symbl": "ETH-USDT"}, "no parameter 'symbl'"),  # papermill alone only warns
        ({"max_candles": "many"}, "max_candles='many'"),
        ({"params": {"volume_windw": 3}}, "Did you mean 'volume_window'"),
    ):
        with pytest.raises(PapermillExecutionError) as info:
            papermill.execute_notebook(template, None, parameters=params, progress_bar=False)
        # parameters (1), papermill's injected cell (2), then the first cell of the template
        assert info.value.exec_count == 3, params
        assert info.value.ename == "ConfigError" and message in info.value.evalue, params
    reg = Registry()
    assert reg.runs().empty  # nothing recorded
    reg.close()
