"""A run's life in the registry: ``queued`` → ``running`` → ``finished`` / ``failed`` /
``cancelled``.

Background jobs create the row when work is submitted (:func:`queue_run`), move it along
(:func:`set_status`) and :meth:`Registry.record` completes it: artifacts first, then one
transaction that fills the metrics, sets ``finished`` and adds the artifact rows.  The registry,
not Redis, is the source of truth: a row that says ``queued`` or ``running`` is work that must
still happen (``coinbt jobs recover``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from coinbt.errors import ConfigError, StorageError
from coinbt.storage.models import METRIC_COLUMNS, RUN_KINDS, Artifact, Run

if TYPE_CHECKING:
    from coinbt.results import RunSpec
    from coinbt.storage.registry import Registry

PENDING = ("queued", "running")
#: statuses a run can be in; ``deleting`` is internal (see ``Registry.delete``)
STATUSES = ("queued", "running", "finished", "failed", "cancelled")


def spec_row(
    spec: RunSpec,
    artifact_uri: str,
    *,
    kind: str,
    status: str,
    tags: Iterable[str] | None = None,
    parent_run_id: str | None = None,
    notebook_uri: str | None = None,
) -> dict[str, Any]:
    """The ``runs`` columns known from a spec (metrics empty)."""
    if kind not in RUN_KINDS:
        raise ConfigError(f"unknown run kind {kind!r}; use one of {list(RUN_KINDS)}", field="kind")
    if status not in STATUSES:
        raise ConfigError(f"unknown status {status!r}; use one of {list(STATUSES)}", field="status")
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "run_id": spec.run_id,
        "kind": kind,
        "status": status,
        "created": now,
        "started": None,
        "finished": now if status == "finished" else None,
        "strategy": spec.strategy,
        "params": dict(spec.params),
        "exchange": spec.exchange,
        "symbol": spec.symbol,
        "symbols": [spec.symbol],
        "timeframe": spec.timeframe,
        "start": spec.start,
        "end": spec.end,
        "engine": dict(spec.engine),
        "data_fingerprint": spec.data_fingerprint,
        "coinbt_version": spec.coinbt_version,
        "artifact_uri": artifact_uri,
        "parent_run_id": parent_run_id,
        "notebook_uri": notebook_uri,
        "tags": list(tags or []),
        "error": None,
    }
    for column in METRIC_COLUMNS:
        row[column] = None
    return row


def queue_run(
    registry: Registry,
    spec: RunSpec,
    *,
    kind: str = "backtest",
    tags: Iterable[str] | None = None,
    parent_run_id: str | None = None,
    notebook_uri: str | None = None,
) -> str | None:
    """Create the ``queued`` row of a run about to be executed.

    Returns
    -------
    str or None
        None when the row was created; otherwise the status of the run already stored (the
        row is left as it is — the caller decides what an existing run means).
    """
    row = spec_row(
        spec,
        registry.store.run_uri(spec.run_id),
        kind=kind,
        status="queued",
        tags=tags,
        parent_run_id=parent_run_id,
        notebook_uri=notebook_uri,
    )
    if registry.insert_run(row, []):
        return None
    status = registry.status(spec.run_id)
    return status if status is not None else queue_run(registry, spec, kind=kind, tags=tags)


def set_status(
    registry: Registry,
    run_id: str,
    status: str,
    *,
    error: str | None = None,
    only_from: Iterable[str] | None = None,
) -> bool:
    """Move a run to ``status`` (``running`` stamps ``started``; ``failed``/``cancelled``
    stamp ``finished`` and keep ``error``).

    Parameters
    ----------
    only_from : iterable of str, optional
        Change the row only if its status is one of these (e.g. cancel only what is still
        pending); the check and the change are one statement, so concurrent callers agree.

    Returns
    -------
    bool
        True when the row changed.
    """
    if status not in STATUSES or status == "finished":
        raise ConfigError(
            f"set_status: {status!r} is not settable; use queued, running, failed or cancelled "
            "(a run becomes finished by Registry.record)",
            field="status",
        )
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": status, "error": error}
    if status == "running":
        values["started"] = now
    elif status in ("failed", "cancelled"):
        values["finished"] = now
    else:
        values.update(started=None, finished=None)
    stmt = update(Run).where(Run.run_id == run_id).values(**values)
    if only_from is not None:
        stmt = stmt.where(Run.status.in_(list(only_from)))
    with registry.engine.begin() as conn:
        return conn.execute(stmt).rowcount > 0


def artifact_rows(run_id: str, artifacts: Iterable[Any]) -> list[dict[str, Any]]:
    """``artifacts`` table rows for a run's stored objects (:class:`ArtifactInfo`)."""
    return [
        {
            "run_id": run_id,
            "name": a.name,
            "uri": a.uri,
            "bytes": a.bytes,
            "rows": a.rows,
            "sha256": a.sha256,
        }
        for a in artifacts
    ]


def complete_run(registry: Registry, row: Mapping[str, Any], artifacts: Iterable[Any]) -> bool:
    """Turn an existing unfinished row into the finished run ``row`` describes.

    Kind, creation time, parent, tags and start time of the stored row are kept; the metrics,
    status, finish time and artifact rows are written in one transaction.  Returns False when
    another process finished the run first (then nothing is changed).
    """
    run_id = row["run_id"]
    keep = ("kind", "created", "started", "parent_run_id", "tags", "notebook_uri")
    values = {k: v for k, v in row.items() if k not in (*keep, "run_id")}
    values["status"] = "finished"
    values["error"] = None
    rows = artifact_rows(run_id, artifacts)
    try:
        with registry.engine.begin() as conn:
            changed = conn.execute(
                update(Run)
                .where(
                    Run.run_id == run_id,
                    Run.status.in_(["queued", "running", "failed", "cancelled"]),
                )
                .values(**values)
            ).rowcount
            if not changed:
                return False
            conn.execute(delete(Artifact).where(Artifact.run_id == run_id))
            if rows:
                conn.execute(Artifact.__table__.insert(), rows)
    except SQLAlchemyError as exc:
        raise StorageError(f"run {run_id}: registry write failed: {exc}") from exc
    return True


def attach_artifacts(
    registry: Registry,
    run_id: str,
    artifacts: Iterable[Any],
    *,
    notebook_uri: str | None = None,
) -> bool:
    """Add stored objects (a report notebook, its HTML) to an existing run, replacing
    artifacts of the same names, and optionally point ``notebook_uri`` at one of them; one
    transaction.  Returns False when there is no such run."""
    rows = artifact_rows(run_id, artifacts)
    names = [r["name"] for r in rows]
    try:
        with registry.engine.begin() as conn:
            if conn.execute(select(Run.run_id).where(Run.run_id == run_id)).first() is None:
                return False
            if names:
                conn.execute(
                    delete(Artifact).where(Artifact.run_id == run_id, Artifact.name.in_(names))
                )
                conn.execute(Artifact.__table__.insert(), rows)
            if notebook_uri is not None:
                conn.execute(
                    update(Run).where(Run.run_id == run_id).values(notebook_uri=notebook_uri)
                )
    except SQLAlchemyError as exc:
        raise StorageError(f"run {run_id}: registry write failed: {exc}") from exc
    return True


def warm_statements(registry: Registry, result: Any, runnable: Iterable[str]) -> None:
    """Compile the statements a job runs (status checks, ``running``, completing the row)
    by running them for a run id no run can have, so nothing changes.

    SQLAlchemy caches compiled statements on the engine; a process that forks short-lived
    children (an RQ worker's work horses) calls this once so every child inherits them
    instead of compiling the wide ``UPDATE`` of :func:`complete_run` for each job.
    """
    ghost = "~warm-up~"  # not a run id: run ids are hex digests
    registry.status(ghost)
    set_status(registry, ghost, "running", only_from=list(runnable))
    row = dict(registry._row(result, kind="backtest", tags=None, parent_run_id=None))
    row["run_id"] = ghost
    complete_run(registry, row, [])


__all__ = [
    "PENDING",
    "STATUSES",
    "attach_artifacts",
    "complete_run",
    "discard_queued",
    "queue_run",
    "set_status",
    "spec_row",
    "warm_statements",
]


def discard_queued(registry: Registry, run_id: str) -> bool:
    """Remove a ``queued`` row that has no artifacts (a submit that could not enqueue)."""
    with registry.engine.begin() as conn:
        if conn.execute(select(Artifact.run_id).where(Artifact.run_id == run_id)).first():
            return False
        return (
            conn.execute(delete(Run).where(Run.run_id == run_id, Run.status == "queued")).rowcount
            > 0
        )
