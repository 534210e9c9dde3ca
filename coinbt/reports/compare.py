"""The compare report's run: two or more stored runs, recorded as one run of kind ``compare``.

Its run id is a hash of the compared run ids (order does not matter), so comparing the same
runs again names the same report.  The row's ``params`` are ``{"runs": [...]}``, its
``symbols`` every compared symbol; it has no metrics of its own (the report shows theirs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from coinbt.errors import ConfigError

_FORMAT = 1


def comparison_id(run_ids: list[str]) -> str:
    """16 hex digits of SHA-256 over the sorted run ids."""
    text = json.dumps({"kind": "compare", "format": _FORMAT, "runs": sorted(run_ids)})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolve(reg: Any, runs: Any) -> list[str]:
    if runs is None:
        return _latest(reg)
    if (
        not isinstance(runs, list)
        or len(runs) < 2
        or not all(isinstance(r, str) and r.strip() for r in runs)
    ):
        raise ConfigError(
            f"parameter runs={runs!r}: expected a list of two or more run ids (or unique "
            "prefixes) such as ['3f9a2c1d', '7be01f44'] (`coinbt runs list` lists them), or "
            "None for the two latest backtests",
            field="runs",
        )
    ids = [reg.resolve(r) for r in runs]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ConfigError(f"parameter runs: run {twice[0]} is listed twice", field="runs")
    for run_id in ids:
        row = reg.run(run_id)
        if row["status"] != "finished" or row["kind"] not in ("backtest", "sweep_trial", "legacy"):
            raise ConfigError(
                f"parameter runs: run {run_id} is a {row['status']} {row['kind']} run; a "
                "comparison takes finished backtests (kinds backtest, sweep_trial, legacy)",
                field="runs",
            )
    return ids


def _latest(reg: Any) -> list[str]:
    """The two most recently finished backtests (oldest first)."""
    frame = reg.runs(kind="backtest", status="finished", order_by="-finished", limit=2)
    if len(frame) < 2:
        raise ConfigError(
            f"parameter runs=None compares the two latest backtests, but the registry at "
            f"{reg.url} holds {len(frame)} finished backtest(s); record some, or pass run ids",
            field="runs",
        )
    return list(frame["run_id"])[::-1]


def comparison_plan(runs: Any) -> tuple[list[str], str, Callable[[Any], str | None]]:
    """The compared run ids (resolved in ``$COINBT_REGISTRY_URL``), the comparison's run id
    and a function creating its ``queued`` row."""
    from coinbt.storage import Registry

    reg = Registry()
    try:
        ids = _resolve(reg, runs)
    finally:
        reg.close()
    run_id = comparison_id(ids)

    def queue(registry: Any) -> str | None:
        rows = [registry.run(i) for i in ids]
        if registry.insert_run(_row(registry, run_id, rows, "queued"), []):
            return None
        return registry.status(run_id)

    return ids, run_id, queue


def _row(reg: Any, run_id: str, rows: list[dict[str, Any]], status: str) -> dict[str, Any]:
    from coinbt import __version__
    from coinbt.storage.models import Run

    row: dict[str, Any] = {column.name: None for column in Run.__table__.columns}
    symbols = list(dict.fromkeys(s for r in rows for s in (r["symbols"] or [r["symbol"]])))
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    timeframes = list(dict.fromkeys(r["timeframe"] for r in rows))
    exchanges = list(dict.fromkeys(r["exchange"] for r in rows))
    now = datetime.now(UTC)
    row.update(
        run_id=run_id,
        kind="compare",
        status=status,
        created=now,
        finished=now if status == "finished" else None,
        strategy=" vs ".join(strategies)[:128],
        params={"runs": [r["run_id"] for r in rows]},
        exchange=exchanges[0] if len(exchanges) == 1 else None,
        symbol=symbols[0][:64],
        symbols=symbols,
        timeframe=" ".join(timeframes)[:16],
        engine={},
        coinbt_version=__version__,
        artifact_uri=reg.store.run_uri(run_id),
        tags=[],
    )
    return row


class Comparison:
    """Compared runs loaded back: ``run_id`` (of the comparison), ``run_ids`` and
    ``results`` (:class:`~coinbt.results.BacktestResult`, in the order given)."""

    def __init__(self, run_id: str, run_ids: list[str], results: list[Any]) -> None:
        self.run_id = run_id
        self.run_ids = run_ids
        self.results = results

    def __repr__(self) -> str:
        return f"Comparison({self.run_id}, {len(self.run_ids)} runs)"


def compare_runs(runs: Any, registry: Any = None) -> Comparison:
    """Load two or more stored runs and record their comparison (kind ``compare``,
    ``finished``); what the compare template's first cell calls.

    Raises
    ------
    ConfigError, StorageError
        Fewer than two runs, an unknown or ambiguous id (with the closest ones), a run listed
        twice, or a run that is not a finished backtest.
    """
    from coinbt.storage import Registry
    from coinbt.storage.lifecycle import complete_run

    reg = registry if registry is not None else Registry()
    try:
        ids = _resolve(reg, runs)
        run_id = comparison_id(ids)
        results = [reg.load(i) for i in ids]
        rows = [reg.run(i) for i in ids]
        row = _row(reg, run_id, rows, "finished")
        if not reg.insert_run(row, []):
            complete_run(reg, row, [])  # queued by a report job, or failed before
        return Comparison(run_id, ids, results)
    finally:
        if registry is None:
            reg.close()


__all__ = ["Comparison", "compare_runs", "comparison_id", "comparison_plan"]
