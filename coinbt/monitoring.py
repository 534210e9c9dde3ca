"""``coinbt metrics``: numbers for monitoring in the Prometheus text format (prometheus-client),
for a node-exporter textfile or a scrape.

=====================================  ===========================================================
``coinbt_runs{status}``                runs in the registry by status
``coinbt_artifact_bytes``              bytes of every stored artifact (from the registry)
``coinbt_queue_jobs{queue}``           jobs waiting per RQ queue (when Redis is configured)
``coinbt_failed_jobs{queue}``          jobs in each queue's failed registry (dead letters)
``coinbt_workers``                     live RQ workers
``coinbt_last_backup_age_seconds``     age of the newest finished backup (absent: none yet)
``coinbt_backups``                     finished backups in the backup folder
=====================================  ===========================================================
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def collect(registry: Any, redis: Any = None, backups: str | os.PathLike[str] | None = None) -> Any:
    """A prometheus-client ``CollectorRegistry`` holding the gauges above."""
    try:
        from prometheus_client import CollectorRegistry, Gauge
    except ImportError:  # pragma: no cover - in the ops extra
        from coinbt.errors import ConfigError

        raise ConfigError(
            "coinbt metrics needs prometheus-client: pip install 'coinbt[ops]'"
        ) from None
    from coinbt.storage.backup import list_backups
    from coinbt.storage.queries import totals

    out = CollectorRegistry()
    runs = Gauge("coinbt_runs", "Runs in the registry by status", ["status"], registry=out)
    with registry.engine.connect() as conn:
        found = totals(conn)
    for status, count in found["runs"].items():
        runs.labels(status=status).set(count)
    Gauge("coinbt_artifact_bytes", "Bytes of every stored artifact", registry=out).set(
        found["artifact_bytes"]
    )
    if redis is not None:
        from coinbt.jobs.admin import queue_counts

        depth = Gauge("coinbt_queue_jobs", "Jobs waiting per RQ queue", ["queue"], registry=out)
        failed = Gauge("coinbt_failed_jobs", "Failed (dead-letter) jobs per RQ queue", ["queue"],
                       registry=out)  # fmt: skip
        queues, workers = queue_counts(redis)
        for name, (waiting, dead) in queues.items():
            depth.labels(queue=name).set(waiting)
            failed.labels(queue=name).set(dead)
        Gauge("coinbt_workers", "Live RQ workers", registry=out).set(workers)
    done = [b for b in list_backups(backups) if "problem" not in b]
    Gauge("coinbt_backups", "Finished backups in the backup folder", registry=out).set(len(done))
    if done:
        newest = max(datetime.fromisoformat(str(b["created"])) for b in done)
        age = Gauge("coinbt_last_backup_age_seconds", "Age of the newest finished backup",
                    registry=out)  # fmt: skip
        age.set((datetime.now(UTC) - newest).total_seconds())
    return out


def exposition(
    registry: Any, redis: Any = None, backups: str | os.PathLike[str] | None = None
) -> str:
    """The metrics as Prometheus text exposition."""
    gauges = collect(registry, redis, backups)  # says so when prometheus-client is missing
    from prometheus_client import generate_latest

    return generate_latest(gauges).decode()


def write_textfile(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` for node-exporter's textfile collector atomically (it must never read a
    half-written file)."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
    return target


__all__ = ["collect", "exposition", "write_textfile"]
