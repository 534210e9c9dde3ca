"""``coinbt report``: run a report template with papermill and archive it with its run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

from coinbt.reports.params import dates_as_text

_DESCRIPTION = """\
Execute a report template (notebooks/templates/TEMPLATE.ipynb, or a path to a notebook) with
papermill in a fresh kernel. Parameters are checked against the template's parameters cell and
planned before any kernel starts (a misspelt name gets the closest one). Writes
REPORTS/<run_id>.ipynb and REPORTS/<run_id>.html and stores both as artifacts of the run in the
registry. A failing cell: the notebook with the error is kept, the run is marked failed if the
notebook had not recorded it, and the cell and error are printed (exit 1).
"""

_EXAMPLE = """\
examples:
  coinbt report backtest -p strategy volume_zone_breakout -p symbol BTC-USDT -p timeframe 1h
  coinbt report backtest -p symbol ETH-USDT -p params '{volume_window: 30}' -p end 2023-06-30
  coinbt report backtest -p symbol '[BTC-USDT, ETH-USDT]' -p exchange binance
  coinbt report backtest --params-file plan.yaml
  coinbt report sweep -p grid '{volume_window: [10, 20, 40], top_percentile: [0.1, 0.2]}'
  coinbt report sweep -p grid '{volume_window: {lo: 5, hi: 80}}' -p random 20 -p seed 7
  coinbt report compare -p runs '[3f9a2c1d, 7be01f44]'   # run ids or unique prefixes
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` command."""
    p = sub.add_parser(
        "report",
        help="run a report template (papermill) and archive it with its run",
        description=_DESCRIPTION,
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "template", help="template name (backtest, sweep, compare) or path to a notebook"
    )
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter; VALUE is read as YAML (numbers, true/false, [lists], {maps}); "
        "dates stay text",
    )
    p.add_argument("--params-file", metavar="YAML", help="parameters from a YAML mapping")
    _add_places(p)
    p.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    p.add_argument(
        "--cell-timeout", type=int, default=600, metavar="S", help="seconds per cell (600)"
    )
    p.set_defaults(func=cmd_report)

    b = sub.add_parser(
        "batch",
        help="many reports from a YAML plan (matrix of strategies x markets x parameters)",
        description=_BATCH_DESCRIPTION,
        epilog=_BATCH_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("plan", help="YAML plan (docs/notebooks.md)")
    b.add_argument("--parallel", type=int, metavar="N", help="reports at once here (default 2)")
    b.add_argument("--queue", metavar="Q", help="make them on RQ workers ($COINBT_REDIS_URL)")
    _add_places(b)
    b.set_defaults(func=cmd_batch)


_BATCH_DESCRIPTION = """\
Make every report of a YAML plan: 'template', 'defaults', a 'matrix' whose every combination
is one report, and/or a list of 'runs'. Every report is checked and planned before the first
one starts. Reports run in parallel processes here (--parallel), or as RQ jobs (--queue).
Writes REPORTS/index.html linking every report with its headline metrics, and prints its path.
Exit 1 when a report failed (it is in the index as failed).
"""

_BATCH_EXAMPLE = """\
example plan:
  template: backtest
  defaults: {timeframe: 1h, settings: {fee_rate: 0.001}}
  matrix:
    strategy: [volume_long_candle, volume_zone_breakout]
    market: [{symbol: BTC-USDT, exchange: binance}, {symbol: ETH-USDT, exchange: binance}]
"""


def parse_value(text: str) -> Any:
    """A ``-p`` value: YAML scalars, lists and maps (``None``/``null`` = None); dates and
    anything unparsable stay text."""
    import yaml

    if text.strip() in ("None", "null", "~"):
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None or isinstance(value, dt.date | dt.datetime):
        return text
    return dates_as_text(value)


def read_params(args: argparse.Namespace) -> dict[str, Any]:
    from coinbt.errors import ConfigError

    params: dict[str, Any] = {}
    if args.params_file:
        import yaml

        path = Path(args.params_file)
        try:
            loaded = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"--params-file {path}: cannot read it: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"--params-file {path}: expected a YAML mapping of name: value")
        params.update({str(k): dates_as_text(v) for k, v in loaded.items()})
    for name, value in args.param:
        params[name] = parse_value(value)
    return params


def cmd_report(args: argparse.Namespace) -> int:
    from coinbt.reports import run_report

    params = read_params(args)
    _environment(args)
    report = run_report(
        args.template,
        params,
        reports_dir=args.reports_dir,
        kernel=args.kernel,
        cell_timeout=args.cell_timeout,
        progress=False,
    )
    if report.status == "failed":
        print(f"report of run {report.run_id} FAILED in {report.error}")
        print(f"notebook kept: {report.notebook}  (run status: {report.run_status})")
        return 1
    print(f"run {report.run_id}: {report.run_status}")
    print(f"notebook: {report.notebook}")
    print(f"report:   {report.html}")
    return 0


def _add_places(p: argparse.ArgumentParser) -> None:
    """Where reports, runs and artifacts go (``_environment`` hands them to the kernels)."""
    p.add_argument("--reports-dir", metavar="DIR", help="default $COINBT_REPORTS_DIR or ./reports")
    p.add_argument("--registry", metavar="URL", help="default $COINBT_REGISTRY_URL")
    p.add_argument("--artifacts", metavar="URI", help="default $COINBT_ARTIFACTS_URI")


def _environment(args: argparse.Namespace) -> None:
    if args.registry:
        os.environ["COINBT_REGISTRY_URL"] = args.registry  # kernels inherit it
    if args.artifacts:
        os.environ["COINBT_ARTIFACTS_URI"] = args.artifacts


def cmd_batch(args: argparse.Namespace) -> int:
    from coinbt.reports.batch import run_batch

    _environment(args)
    outcome, index = run_batch(
        args.plan, reports_dir=args.reports_dir, parallel=args.parallel, queue=args.queue
    )
    failed = [run_id for run_id, status in outcome.items() if status != "finished"]
    print(
        f"{len(outcome)} report(s), {len(failed)} failed"
        + (": " + ", ".join(failed) if failed else "")
    )
    print(f"index: {Path(index).resolve()}")
    return 1 if failed else 0
