"""``coinbt report``: run a report template with papermill and archive it with its run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

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
  coinbt report backtest --params-file plan.yaml
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
    p.add_argument("template", help="template name (backtest) or path to a notebook")
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
    p.add_argument("--reports-dir", metavar="DIR", help="default $COINBT_REPORTS_DIR or ./reports")
    p.add_argument("--registry", metavar="URL", help="default $COINBT_REGISTRY_URL")
    p.add_argument("--artifacts", metavar="URI", help="default $COINBT_ARTIFACTS_URI")
    p.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    p.add_argument(
        "--cell-timeout", type=int, default=600, metavar="S", help="seconds per cell (600)"
    )
    p.set_defaults(func=cmd_report)


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
    return _dates_as_text(value)


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
        params.update({str(k): _dates_as_text(v) for k, v in loaded.items()})
    for name, value in args.param:
        params[name] = parse_value(value)
    return params


def _dates_as_text(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value


def cmd_report(args: argparse.Namespace) -> int:
    from coinbt.reports import run_report

    params = read_params(args)
    if args.registry:
        os.environ["COINBT_REGISTRY_URL"] = args.registry  # the kernel inherits it
    if args.artifacts:
        os.environ["COINBT_ARTIFACTS_URI"] = args.artifacts
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
