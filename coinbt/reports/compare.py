"""Reports over several runs, recorded as one run of kind ``compare``.

The compare template compares two or more stored runs; the backtest template run on several
symbols records one backtest per symbol and their group.  Either way the report's run id is a
hash of the template and the member run ids (order does not matter), so the same runs name the
same report again.  The row's ``params`` are ``{"runs": [...], "template": …}``, its
``symbols`` every member's symbol; it has no metrics of its own (the report shows theirs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from coinbt.errors import ConfigError

_FORMAT = 1


def comparison_id(run_ids: list[str], template: str = "compare") -> str:
    """16 hex digits of SHA-256 over the template and the sorted run ids."""
    text = json.dumps(
        {"kind": "compare", "format": _FORMAT, "template": template, "runs": sorted(run_ids)}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def member(source: Any) -> dict[str, Any]:
    """What a group row needs of one member: from a registry row (mapping) or a RunSpec."""
    if isinstance(source, dict):
        keys = ("run_id", "strategy", "symbol", "symbols", "timeframe", "exchange")
        return {k: source.get(k) for k in keys}
    return {
        "run_id": source.run_id,
        "strategy": source.strategy,
        "symbol": source.symbol,
        "symbols": [source.symbol],
        "timeframe": source.timeframe,
        "exchange": source.exchange,
    }


def queue_group(
    registry: Any, run_id: str, members: list[dict[str, Any]], template: str
) -> str | None:
    """Create the ``queued`` row of a group (None when created, else the stored status)."""
    if registry.insert_run(_row(registry, run_id, members, "queued", template), []):
        return None
    return registry.status(run_id)


def record_group(registry: Any, run_id: str, members: list[dict[str, Any]], template: str) -> None:
    """Record a group as ``finished`` (completing a queued or failed row of it)."""
    from coinbt.storage.lifecycle import complete_run

    row = _row(registry, run_id, members, "finished", template)
    if not registry.insert_run(row, []):
        complete_run(registry, row, [])  # queued by a report job, or failed before


def resolve_runs(reg: Any, runs: Any, *, most: int | None = None) -> list[str]:
    """Run ids (or unique prefixes; a list, or text separated by commas) resolved to at least
    two (and at most ``most``) distinct finished backtests; ``None`` means the two latest.
    The compare report, ``compare_runs`` and the compare view (``most=5``) all use it."""
    if runs is None:
        return _latest(reg)
    items = [r.strip() for r in runs.split(",")] if isinstance(runs, str) else runs
    if (
        not isinstance(items, list)
        or not 2 <= len(items) <= (most or len(items))
        or not all(isinstance(r, str) and r.strip() for r in items)
    ):
        wanted = f"2 to {most} distinct runs:" if most else "a list of two or more"
        raise ConfigError(
            f"parameter runs={runs!r}: expected {wanted} run ids (or unique prefixes) such as "
            "['3f9a2c1d', '7be01f44'] (`coinbt runs list` lists them; the runs explorer picks "
            "them), or None for the two latest backtests",
            field="runs",
        )
    ids = [reg.resolve(r) for r in items]
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
        ids = resolve_runs(reg, runs)
    finally:
        reg.close()
    run_id = comparison_id(ids)

    def queue(registry: Any) -> str | None:
        members = [member(registry.run(i)) for i in ids]
        return queue_group(registry, run_id, members, "compare")

    return ids, run_id, queue


def _row(
    reg: Any, run_id: str, rows: list[dict[str, Any]], status: str, template: str
) -> dict[str, Any]:
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
        params={"runs": [r["run_id"] for r in rows], "template": template},
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

    reg = registry if registry is not None else Registry()
    try:
        ids = resolve_runs(reg, runs)
        run_id = comparison_id(ids)
        results = [reg.load(i) for i in ids]
        record_group(reg, run_id, [member(reg.run(i)) for i in ids], "compare")
        return Comparison(run_id, ids, results)
    finally:
        if registry is None:
            reg.close()


def record_backtests(results: list[Any], registry: Any = None) -> str:
    """Save the backtest template's runs; with several symbols also their group.  Returns the
    report's run id: the run's own, or the group's."""
    from coinbt.storage import Registry

    reg = registry if registry is not None else Registry()
    try:
        for result in results:
            result.save(reg)
        if len(results) == 1:
            return str(results[0].run_id)
        run_id = comparison_id([r.run_id for r in results], "backtest")
        record_group(reg, run_id, [member(r.spec) for r in results], "backtest")
        return run_id
    finally:
        if registry is None:
            reg.close()


__all__ = [
    "Comparison",
    "compare_runs",
    "comparison_id",
    "comparison_plan",
    "member",
    "queue_group",
    "record_backtests",
    "record_group",
    "resolve_runs",
]
