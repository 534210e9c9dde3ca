"""Batches of reports from a YAML plan: in parallel processes here, or as RQ jobs.

A plan::

    template: backtest            # default backtest
    parallel: 2                   # reports at once in this process's pool (default 2)
    defaults:                     # parameters every report gets
      timeframe: 1h
      settings: {fee_rate: 0.001}
    matrix:                       # every combination of these axes
      strategy: [volume_long_candle, volume_zone_breakout]
      market:                     # an axis that is not a parameter: mappings merged in
        - {symbol: BTC-USDT, exchange: binance}
        - {symbol: ETH-USDT, exchange: binance}
    runs:                         # and/or single reports, on top of the defaults
      - {strategy: volume_zone_breakout, symbol: BTC-KRW, exchange: upbit, timeframe: 1d}
      - {template: sweep, strategy: sma_cross, symbol: BTC-USDT, timeframe: 1h,
         grid: {window: [10, 20, 40]}}   # another template: its own parameters, no defaults

Every report is checked and planned before the first one starts; identical reports (same run
id) are made once.  :func:`run_batch` ends by writing ``reports/index.html``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinbt.errors import ConfigError, did_you_mean
from coinbt.reports.index import write_index
from coinbt.reports.params import dates_as_text
from coinbt.reports.plans import plan_report
from coinbt.reports.runner import ReportResult, run_report
from coinbt.reports.templates import template_path
from coinbt.settings import reports_root

_KEYS = ("template", "parallel", "defaults", "matrix", "runs")

_DEMO_SETTINGS = {"fee_rate": 0.001, "slippage_bps": 2.0}

#: ``coinbt demo``: both inherited strategies on the bundled candles of four markets, and a
#: 3 x 3 sweep of volume_zone_breakout (so the dashboards' sweep view has one to show)
DEMO_PLAN: dict[str, Any] = {
    "template": "backtest",
    "parallel": 2,
    "defaults": {"timeframe": "1h", "settings": _DEMO_SETTINGS},
    "matrix": {
        "strategy": ["volume_long_candle", "volume_zone_breakout"],
        "market": [
            {"symbol": "BTC-USDT", "exchange": "binance"},
            {"symbol": "ETH-USDT", "exchange": "binance"},
            {"symbol": "BTC-USD", "exchange": "coinbase"},
            {"symbol": "ETH-KRW", "exchange": "upbit"},
        ],
    },
    "runs": [
        {
            "template": "sweep",
            "strategy": "volume_zone_breakout",
            "symbol": "BTC-USDT",
            "exchange": "binance",
            "timeframe": "1h",
            "settings": _DEMO_SETTINGS,
            "grid": {"volume_window": [10, 20, 40], "top_percentile": [0.1, 0.2, 0.3]},
        }
    ],
}


@dataclass(frozen=True)
class BatchEntry:
    """One report of a batch: its template, checked parameters and run id."""

    template: str
    parameters: dict[str, Any]
    run_id: str


def read_plan(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A plan from a YAML file (or a mapping), its keys checked."""
    if isinstance(source, Mapping):
        plan = dict(source)
    else:
        import yaml

        path = Path(source)
        try:
            plan = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"batch plan {path}: cannot read it: {exc}") from exc
        if not isinstance(plan, dict):
            raise ConfigError(f"batch plan {path}: expected a YAML mapping with {_KEYS}")
    plan = dates_as_text(plan)
    for key in plan:
        if key not in _KEYS:
            raise ConfigError(
                f"batch plan: unknown key {key!r}; known: {', '.join(_KEYS)}."
                f"{did_you_mean(str(key), _KEYS)}",
                field=str(key),
            )
    if not plan.get("matrix") and not plan.get("runs"):
        raise ConfigError("batch plan: give a 'matrix' of parameters and/or a list of 'runs'")
    return plan


def expand(plan: Mapping[str, Any]) -> list[BatchEntry]:
    """Every report of the plan, checked and planned (a mistake names the report)."""
    from coinbt.reports.templates import check_parameters

    template = str(plan.get("template") or "backtest")
    path = template_path(template)
    declared = set(check_parameters(path, {}))
    defaults = _mapping(plan.get("defaults"), "defaults")
    combos: list[tuple[Path, dict[str, Any]]] = []
    matrix = _mapping(plan.get("matrix"), "matrix")
    for name, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"batch plan: matrix axis {name!r} must be a non-empty list")
        if name not in declared and not all(isinstance(v, Mapping) for v in values):
            raise ConfigError(
                f"batch plan: matrix axis {name!r} is not a parameter of {path.name} "
                f"({', '.join(sorted(declared))}); an axis of another name must list "
                "mappings of parameters, such as market: [{symbol: BTC-USDT, exchange: binance}]"
                f".{did_you_mean(name, declared)}"
            )
    for values in itertools.product(*matrix.values()) if matrix else ():
        combo = dict(defaults)
        for name, value in zip(matrix, values, strict=True):
            if name in declared:
                combo[name] = value
            else:
                combo.update(value)
        combos.append((path, combo))
    for k, run in enumerate(plan.get("runs") or []):
        params = _mapping(run, f"runs[{k}]")
        own = params.pop("template", None)
        if own is None or own == template:
            combos.append((path, {**defaults, **params}))
        else:  # the plan's defaults are parameters of the plan's template
            combos.append((template_path(str(own)), params))
    entries: dict[str, BatchEntry] = {}
    for k, (where, params) in enumerate(combos):
        try:
            checked = check_parameters(where, params)
            planned = plan_report(where, checked)
        except ConfigError as exc:
            raise ConfigError(f"batch plan, report {k + 1} of {len(combos)}: {exc}") from exc
        entry = BatchEntry(str(where), planned.parameters(checked), planned.run_id)
        entries.setdefault(planned.run_id, entry)
    return list(entries.values())


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"batch plan: {what} must be a mapping of name: value, got {value!r}")
    return dict(value)


def _one(entry: BatchEntry, reports_dir: str) -> ReportResult:
    return run_report(entry.template, entry.parameters, reports_dir=reports_dir)


def run_batch(
    plan: str | os.PathLike[str] | Mapping[str, Any],
    *,
    reports_dir: str | os.PathLike[str] | None = None,
    parallel: int | None = None,
    queue: str | None = None,
    progress: bool = True,
) -> tuple[dict[str, str], Path]:
    """Make every report of a plan; returns ``{run_id: "finished" | "failed"}`` (plan order)
    and the path of ``index.html``.

    Parameters
    ----------
    plan : path or mapping
        See the module documentation.
    reports_dir : path, optional
        Default ``$COINBT_REPORTS_DIR`` or ``./reports``.
    parallel : int, optional
        Reports at once here (default: the plan's ``parallel``, else 2); each is its own
        process with its own kernel.
    queue : str, optional
        Submit the reports as RQ jobs on this queue instead (``$COINBT_REDIS_URL``), wait for
        them with a progress bar, then write the index.
    """
    from tqdm.auto import tqdm

    spec = read_plan(plan)
    entries = expand(spec)
    out_dir = Path(reports_dir) if reports_dir is not None else reports_root()
    width = int(parallel or spec.get("parallel") or 2)
    if width < 1:
        raise ConfigError(f"parallel={width}: use 1 or more", field="parallel")
    outcome: dict[str, str] = {}
    bar = tqdm(total=len(entries), desc="reports", unit="report", disable=not progress)
    try:
        if queue is not None:
            from coinbt.reports.tasks import submit_report, wait_for_report

            jobs = [submit_report(e.template, e.parameters, queue=queue, reports_dir=out_dir)
                    for e in entries]  # fmt: skip
            for job in jobs:
                outcome[job.id] = wait_for_report(job, out_dir)
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=width) as pool:
                futures = [pool.submit(_one, e, str(out_dir)) for e in entries]
                for future in as_completed(futures):
                    report = future.result()
                    outcome[report.run_id] = report.status
                    bar.update(1)
    finally:
        bar.close()
    index = write_index(out_dir, [e.run_id for e in entries])
    return {e.run_id: outcome.get(e.run_id, "failed") for e in entries}, index


__all__ = ["DEMO_PLAN", "BatchEntry", "expand", "read_plan", "run_batch"]
