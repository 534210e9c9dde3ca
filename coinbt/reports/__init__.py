"""Reports: papermill templates run with checked parameters, archived with their run.

``coinbt report backtest -p strategy volume_zone_breakout -p symbol BTC-USDT …`` (or
:func:`run_report`) executes ``notebooks/templates/<name>.ipynb``, writes
``reports/<run_id>.ipynb`` and an HTML rendering, and stores both as artifacts of the run
(``docs/notebooks.md``).  Templates stay thin: their second cell calls
:func:`backtest_plans` (or the sweep and compare helpers), which turn the literal parameters
into validated plans; :mod:`coinbt.reports.plans` says which run names each report.
"""

from coinbt.reports.params import backtest_plan, backtest_plans, report_options
from coinbt.reports.runner import ReportResult, run_report
from coinbt.reports.templates import (
    check_namespace,
    check_parameters,
    template_names,
    template_path,
)

__all__ = [
    "ReportResult",
    "backtest_plan",
    "backtest_plans",
    "check_namespace",
    "check_parameters",
    "report_options",
    "run_report",
    "template_names",
    "template_path",
]
