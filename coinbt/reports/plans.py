"""What each report template makes, known before its kernel starts.

:func:`plan_report` checks a template's parameters the way its first cell will and returns a
:class:`ReportPlan`: the run id that names the report (``reports/<run_id>.ipynb``) and how to
create that run's ``queued`` row (for a report job, or to record a failed report).

- ``backtest``: the backtest (kind ``backtest``), recorded by ``record_backtests(results)``;
  on several symbols one backtest each and their group (kind ``compare``), which names the
  report;
- ``sweep``: the sweep (kind ``sweep``; each trial a ``sweep_trial`` run), recorded by
  ``run_sweep(...)`` (``submit_sweep(..., here=True)``);
- ``compare``: the comparison (kind ``compare``; its ``params`` list the compared runs),
  recorded by ``compare_runs(runs)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coinbt.errors import ConfigError
from coinbt.reports.params import plan_fields, report_options

#: templates coinbt knows how to plan (a notebook of your own must carry one of these names)
PLANNED = ("backtest", "sweep", "compare")


@dataclass(frozen=True)
class ReportPlan:
    """A report, planned: its ``template`` (name), ``run_id`` and the run's ``kind``, a
    one-line ``description``, ``queue(registry)``, which creates the run's ``queued`` row
    (None when created, else the status of the run already stored — left as it is), and
    ``resolved``: parameters pinned at planning (``runs=None`` of a comparison becomes the
    run ids it meant then), to pass to the template instead of the ones given."""

    template: str
    run_id: str
    kind: str
    description: str
    queue: Callable[[Any], str | None]
    resolved: Mapping[str, Any] = field(default_factory=dict)

    def parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters to run the template with: ``given``, with ``resolved`` on top."""
        return {**given, **self.resolved}


def plan_report(path: Path, params: dict[str, Any]) -> ReportPlan:
    """Plan the report of template ``path`` with checked ``params`` (nothing runs or is
    written).

    Raises
    ------
    ConfigError, DataError, StorageError
        The parameter at fault, what was expected, and how to fix it.
    """
    name = path.stem
    if name == "backtest":
        from coinbt.reports.compare import comparison_id, member, queue_group
        from coinbt.reports.params import backtest_plans
        from coinbt.storage.lifecycle import queue_run

        report_options(**{k: params[k] for k in ("horizons", "max_candles") if k in params})
        specs = [plan.spec for plan in backtest_plans(**plan_fields(params))]
        first = specs[0]
        if len(specs) == 1:
            return ReportPlan(
                name,
                first.run_id,
                "backtest",
                f"{first.strategy} {first.symbol} {first.timeframe}",
                lambda reg: queue_run(reg, first),
            )
        group = comparison_id([s.run_id for s in specs], "backtest")
        members = [member(s) for s in specs]
        return ReportPlan(
            name,
            group,
            "compare",
            f"{first.strategy} on {len(specs)} symbols {first.timeframe}",
            lambda reg: queue_group(reg, group, members, "backtest"),
        )
    if name == "sweep":
        from coinbt.reports.sweep import sweep_options, sweep_plan

        sweep_options(**{k: params[k] for k in _SWEEP_OPTIONS if k in params})
        planned = sweep_plan(**{k: params[k] for k in _SWEEP_FIELDS if k in params})
        base = planned.definition["base_spec"]
        n = len(planned.definition["trials"])
        return ReportPlan(
            name,
            planned.id,
            "sweep",
            f"sweep of {base['strategy']} {base['symbol']} {base['timeframe']}, {n} trials",
            planned.queue,
        )
    if name == "compare":
        from coinbt.reports.compare import comparison_plan

        ids, run_id, queue = comparison_plan(params.get("runs"))
        return ReportPlan(
            name, run_id, "compare", f"comparison of {len(ids)} runs", queue, {"runs": ids}
        )
    raise ConfigError(
        f"template {path.name}: coinbt plans reports of the templates {', '.join(PLANNED)}; "
        "name your notebook after the one whose parameters it takes",
        field="template",
    )


_SWEEP_FIELDS = (
    "strategy", "symbol", "timeframe", "start", "end", "exchange", "grid", "random", "seed",
    "settings",
)  # fmt: skip
_SWEEP_OPTIONS = ("metric", "top", "equity_top", "heatmaps")

__all__ = ["PLANNED", "ReportPlan", "plan_report"]
