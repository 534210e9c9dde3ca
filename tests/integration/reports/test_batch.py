"""``coinbt batch``: a plan of reports run in parallel processes, with an index page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coinbt.cli.main import main
from coinbt.errors import ConfigError
from coinbt.reports.batch import expand, read_plan
from coinbt.storage import Registry

PLAN = """\
template: backtest
parallel: 2
defaults: {timeframe: 1h, end: 2021-06-30, settings: {fee_rate: 0.001}}
matrix:
  strategy: [volume_long_candle, volume_zone_breakout]
  market:
    - {symbol: BTC-USDT, exchange: binance}
    - {symbol: ETH-USDT, exchange: binance}
"""


def test_a_batch_of_four_reports_in_parallel_with_an_index(
    report_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = report_env / "plan.yaml"
    plan.write_text(PLAN)
    assert main(["batch", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "4 report(s), 0 failed" in out
    index = report_env / "reports" / "index.html"
    assert f"index: {index}" in out
    page = index.read_text()
    ids = re.findall(r'href="([0-9a-f]{16})\.html"', page)
    assert len(set(ids)) == 4
    reg = Registry()
    for run_id in ids:
        row = reg.run(run_id)
        assert row["status"] == "finished" and row["end"] == "2021-06-30"
        assert {"report.ipynb", "report.html"} <= set(reg.artifacts(run_id))
        assert f"{row['total_return'] * 100:.2f} %" in page  # the registry's numbers
    rows = reg.runs()
    assert sorted(rows["strategy"]) == ["volume_long_candle"] * 2 + ["volume_zone_breakout"] * 2
    assert sorted(set(rows["symbol"])) == ["BTC-USDT", "ETH-USDT"]
    reg.close()


def test_plan_mistakes_name_the_report_and_write_nothing(report_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'matrx'.*Did you mean 'matrix'"):
        read_plan({"matrx": {"strategy": ["sma_cross"]}})
    with pytest.raises(ConfigError, match="give a 'matrix'"):
        read_plan({"template": "backtest"})
    with pytest.raises(ConfigError, match=r"axis 'markets' is not a parameter.*mappings"):
        expand(read_plan({"matrix": {"markets": ["BTC-USDT"]}}))
    with pytest.raises(ConfigError, match=r"report 2 of 2: .*unknown parameter 'windw'"):
        expand(read_plan({"runs": [{"strategy": "sma_cross"},
                                   {"strategy": "sma_cross", "params": {"windw": 5}}]}))  # fmt: skip
    with pytest.raises(ConfigError, match=r"matrix axis 'strategy' must be a non-empty list"):
        expand(read_plan({"matrix": {"strategy": []}}))
    assert not (report_env / "reports").exists()
    reg = Registry()
    assert reg.runs().empty
    reg.close()


def test_identical_reports_are_made_once() -> None:
    entries = expand(read_plan({"runs": [{"strategy": "sma_cross", "end": "2021-06-30"}] * 3}))
    assert len(entries) == 1


def test_a_run_may_name_its_own_template_without_the_plans_defaults() -> None:
    from coinbt.reports.plans import plan_report
    from coinbt.reports.templates import check_parameters, template_path

    sweep = {"template": "sweep", "strategy": "sma_cross", "end": "2021-06-30",
             "grid": {"window": [10, 20]}}  # fmt: skip
    plan = {"defaults": {"horizons": [1, 4]}, "runs": [{"strategy": "sma_cross"}, sweep]}
    backtest, swept = expand(read_plan(plan))
    assert Path(backtest.template).name == "backtest.ipynb"
    assert backtest.parameters["horizons"] == [1, 4]
    assert Path(swept.template).name == "sweep.ipynb" and "horizons" not in swept.parameters
    params = {k: v for k, v in sweep.items() if k != "template"}
    path = template_path("sweep")
    assert swept.run_id == plan_report(path, check_parameters(path, params)).run_id
    with pytest.raises(ConfigError, match=r"report 2 of 2: .*"):
        expand(read_plan({"runs": [{"strategy": "sma_cross"}, {**sweep, "grid": "wide"}]}))
