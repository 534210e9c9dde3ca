"""``coinbt doctor``: what is wrong with this installation, as a table (or JSON) and an exit code
(0 healthy, 1 warning, 2 critical).

Checks, in order:

* **data root** present and readable; **catalog**: every year file's Parquet footer readable;
  **data freshness**: series fetched with ``coinbt data fetch``/``refresh`` whose last success
  is older than ``stale_after``;
* **registry** reachable, its schema at this coinbt's newest migration (never migrated here:
  the doctor only reads), rows by status, and the share of runs that failed in the last 24 h;
* **Redis** (when ``$COINBT_REDIS_URL`` is set) reachable, jobs waiting per queue, failed jobs
  (the dead-letter registries), live workers and memory;
* **artifact store**: a local folder writable, or an S3 bucket reachable with versioning and a
  lifecycle rule over the prefix (what ``coinbt storage init-bucket`` sets);
* **disk**: free space of every file system holding the data root, artifacts or registry.

Thresholds come from the predecessor's operations table (``legacy_system.md`` §9.4) where they
fit: queue length warning above 10 and critical above 50; dead letters warning from 5 and
critical above 20; failure rate warning from 5 % and critical above 10 %; workers critical at 0
and a warning below ``min_workers`` (the table wants 2 for a team); Redis memory warning from
50 % and critical above 80 %; disk warning below 20 % free (critical below 5 %).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OK, WARNING, CRITICAL = "ok", "warning", "critical"
#: exit status of the worst finding
EXIT_CODE = {OK: 0, WARNING: 1, CRITICAL: 2}
#: free disk space (fraction) below which the disk check warns, and is critical
DISK_WARN, DISK_CRITICAL = 0.20, 0.05
#: (warning, critical) levels: a value at or above the first warns, above the second is critical
QUEUE_LEVELS = (11, 50)
FAILED_LEVELS = (5, 20)
FAILURE_RATE_LEVELS = (0.05, 0.10)
MEMORY_LEVELS = (0.50, 0.80)
#: the failure rate is judged once at least this many runs ended in the window
FAILURE_RATE_MIN_RUNS = 20


@dataclass
class Check:
    """One finding: its name, ``ok``/``warning``/``critical``, a line for people, and numbers."""

    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def check_data_root(root: Path) -> Check:
    if not root.exists():
        return Check("data root", OK, f"{root} does not exist yet: the bundled candles are used "
                     "(coinbt data fetch or import creates it; or set $COINBT_DATA_ROOT)",
                     {"path": str(root)})  # fmt: skip
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        return Check("data root", CRITICAL, f"{root} is not a readable folder; fix its "
                     "permissions or $COINBT_DATA_ROOT", {"path": str(root)})  # fmt: skip
    writable = os.access(root, os.W_OK)
    return Check("data root", OK if writable else WARNING,
                 f"{root}" + ("" if writable else " is read-only: fetch and import will fail"),
                 {"path": str(root), "writable": writable})  # fmt: skip


def check_catalog(root: Path) -> Check:
    """Every year file of every dataset under ``root`` has a readable Parquet footer."""
    from coinbt.data.catalog import Catalog
    from coinbt.data.store import file_span

    if not root.is_dir():
        return Check("catalog", OK, "no data root: nothing to check", {"datasets": 0})
    datasets = Catalog([root]).datasets()
    broken, rows = [], 0
    for ds in datasets:
        for path in ds.files.values():
            try:
                span = file_span(path)
            except Exception as exc:  # any unreadable file is the finding
                broken.append(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                continue
            rows += span[2] if span else 0
    data = {"datasets": len(datasets), "rows": rows, "broken": broken}
    if broken:
        return Check("catalog", CRITICAL, f"{len(broken)} unreadable year file(s): "
                     + "; ".join(broken[:3]) + " — restore them from a backup or fetch again",
                     data)  # fmt: skip
    return Check("catalog", OK, f"{len(datasets)} dataset(s), {rows:,} bars", data)


def _span(td: timedelta) -> str:
    hours = td.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 24 and hours % 24 == 0 else f"{hours:g} h"


def check_freshness(root: Path, stale_after: timedelta) -> Check:
    from coinbt.data.fetch import stale_series

    stale = stale_series(root, stale_after) if root.is_dir() else []
    data = {"stale": [{"exchange": s["exchange"], "symbol": s["symbol"],
                       "timeframe": s["timeframe"], "last_success": s["last_success"].isoformat(),
                       "age_hours": round(s["age"].total_seconds() / 3600, 1)} for s in stale]}  # fmt: skip
    if stale:
        names = ", ".join(f"{s['exchange']} {s['symbol']} {s['timeframe']}" for s in stale[:5])
        return Check("data freshness", WARNING, f"{len(stale)} series not fetched for more than "
                     f"{_span(stale_after)}: {names} — is `coinbt data refresh` still scheduled?", data)  # fmt: skip
    return Check("data freshness", OK, f"no fetched series older than {_span(stale_after)}", data)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest folder that exists (the file system it will be on)."""
    return next((p for p in [path, *path.resolve().parents] if p.exists()), Path.cwd())


def check_disk(path: Path, usage: Callable[[str], Any] = shutil.disk_usage) -> Check:
    where = _nearest_existing(path)
    total, _used, free = usage(str(where))
    share = free / total if total else 0.0
    data = {"path": str(where), "free_bytes": int(free), "free_share": round(share, 4)}
    text = f"{free / 2**30:,.1f} GiB free ({100 * share:.0f} %) at {where}"
    if share < DISK_CRITICAL:
        return Check("disk", CRITICAL, text + f"; below {DISK_CRITICAL:.0%}: free space now", data)
    if share < DISK_WARN:
        return Check("disk", WARNING, text + f"; below {DISK_WARN:.0%}", data)
    return Check("disk", OK, text, data)


def _level(value: float, levels: tuple[float, float]) -> str:
    warn, critical = levels
    return CRITICAL if value > critical else WARNING if value >= warn else OK


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=EXIT_CODE.__getitem__, default=OK)


def check_registry(url: str) -> Check:
    """Reachable, at this coinbt's newest migration (read only: nothing is migrated), rows by
    status, artifacts, and the share of runs that failed among those ended in the last 24 h."""
    try:
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy import create_engine, func, pool, select
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import SQLAlchemyError

        from coinbt.storage import migrate
        from coinbt.storage.common import first_line, hide_password
        from coinbt.storage.models import Run
        from coinbt.storage.queries import totals
    except ImportError:
        return Check("registry", WARNING, "the registry needs SQLAlchemy and Alembic: "
                     "pip install 'coinbt[storage]'")  # fmt: skip
    shown = hide_password(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError, ValueError …
        return Check("registry", CRITICAL, f"{url!r} is not a database URL ({exc}); fix "
                     "$COINBT_REGISTRY_URL", {"url": shown})  # fmt: skip
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).expanduser().exists():
        return Check("registry", OK, f"{shown}: not created yet (made on first use)",
                     {"url": shown, "runs": {}})  # fmt: skip
    data: dict[str, Any] = {"url": shown, "head": migrate.head()}
    timeout = {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}
    since = datetime.now(UTC) - timedelta(hours=24)
    engine = None
    try:
        engine = create_engine(url, poolclass=pool.NullPool, connect_args=timeout)
        with engine.connect() as conn:
            revision = data["revision"] = MigrationContext.configure(conn).get_current_revision()
            if revision == data["head"]:
                data.update(totals(conn))
                ended = dict(conn.execute(select(Run.status, func.count())
                                          .where(Run.finished >= since,
                                                 Run.status.in_(("finished", "failed")))
                                          .group_by(Run.status)).all())  # fmt: skip
    except SQLAlchemyError as exc:
        return Check("registry", CRITICAL, f"{shown} is not reachable: {first_line(exc)} — is "
                     "the database running? check $COINBT_REGISTRY_URL", data)  # fmt: skip
    finally:
        if engine is not None:
            engine.dispose()
    if revision != data["head"]:
        if revision is not None and revision not in migrate.known_revisions():
            return Check("registry", CRITICAL, f"{shown} is at migration {revision}, which this "
                         "coinbt does not know: a newer coinbt upgraded it; upgrade coinbt here",
                         data)  # fmt: skip
        if revision is None:
            return Check("registry", WARNING, f"{shown} has no coinbt tables yet: run `coinbt db "
                         "upgrade` (or is the URL's database the wrong one?)", data)  # fmt: skip
        return Check("registry", WARNING, f"{shown} is at migration {revision}, not "
                     f"{data['head']}: back it up (coinbt backup create), then run `coinbt db "
                     "upgrade`", data)  # fmt: skip
    n_ended = sum(ended.values())
    rate = ended.get("failed", 0) / n_ended if n_ended else 0.0
    data.update(ended_24h=n_ended, failure_rate_24h=round(rate, 4))
    runs = data["runs"]
    text = (f"{shown}: {sum(runs.values()):,} runs ("
            + ", ".join(f"{n:,} {status}" for status, n in sorted(runs.items()))
            + f"), {data['artifacts']:,} artifacts, {data['artifact_bytes'] / 2**20:,.1f} MiB")  # fmt: skip
    status = _level(rate, FAILURE_RATE_LEVELS) if n_ended >= FAILURE_RATE_MIN_RUNS else OK
    if status != OK:
        text += (f"; {rate:.0%} of the {n_ended} runs ended in the last 24 h failed — "
                 "`coinbt jobs failed` shows why")  # fmt: skip
    return Check("registry", status, text, data)


def check_redis(url: str | None, *, min_workers: int = 1) -> Check:
    """Queues, dead letters, live workers and memory of the jobs' Redis."""
    if url is None:
        return Check("redis", OK, "not configured ($COINBT_REDIS_URL): jobs run in the calling "
                     "process")  # fmt: skip
    from coinbt.errors import JobError
    from coinbt.jobs import config
    from coinbt.storage.common import hide_password

    shown = hide_password(url)
    try:
        from coinbt.jobs.admin import queue_counts

        conn = config.connect(url)
        queues, workers = queue_counts(conn)
        memory = conn.info("memory")
    except JobError as exc:
        return Check("redis", CRITICAL, str(exc), {"url": shown})
    except Exception as exc:  # redis errors while reading the queues
        return Check("redis", CRITICAL, f"Redis at {shown}: {type(exc).__name__}: {exc}",
                     {"url": shown})  # fmt: skip
    used = int(memory.get("used_memory", 0))
    limit = int(memory.get("maxmemory", 0)) or int(memory.get("total_system_memory", 0))
    share = used / limit if limit else 0.0
    waiting = sum(n for n, _ in queues.values())
    failed = sum(f for _, f in queues.values())
    data = {"url": shown, "queues": {k: {"waiting": n, "failed": f} for k, (n, f) in
                                     queues.items()},
            "workers": workers, "memory_used_bytes": used, "memory_share": round(share, 4)}  # fmt: skip
    problems: list[tuple[str, str]] = []
    for name, (n, f) in sorted(queues.items()):
        if (level := _level(n, QUEUE_LEVELS)) != OK:
            problems.append((level, f"{n} jobs waiting in {name!r} — add workers "
                             "(coinbt worker; --scale worker=N)"))  # fmt: skip
        if (level := _level(f, FAILED_LEVELS)) != OK:
            problems.append((level, f"{f} failed jobs in {name!r} — `coinbt jobs failed`, then "
                             "requeue or clear them"))  # fmt: skip
    if not workers:
        problems.append((CRITICAL, "no live worker: queued jobs will not run — start "
                         "`coinbt worker`"))  # fmt: skip
    elif workers < min_workers:
        problems.append((WARNING, f"{workers} live worker(s), fewer than {min_workers}"))
    if (level := _level(share, MEMORY_LEVELS)) != OK:
        problems.append((level, f"memory {share:.0%} used"))
    text = (f"{shown}: {waiting} waiting, {failed} failed in {len(queues)} queue(s), "
            f"{workers} worker(s), {used / 2**20:,.1f} MiB used")  # fmt: skip
    if problems:
        text += "; " + "; ".join(p for _, p in problems)
    return Check("redis", _worst([s for s, _ in problems]), text, data)


def check_artifacts(uri: str) -> Check:
    """A local artifact folder writable, or the S3 bucket reachable, versioned and with a
    lifecycle rule over the prefix."""
    if not uri.startswith("s3://"):
        path = Path(uri).expanduser()
        if not path.exists():
            return Check("artifacts", OK, f"{path}: not created yet (made on first use)",
                         {"uri": uri})  # fmt: skip
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            return Check("artifacts", CRITICAL, f"{path} is not a writable folder; fix its "
                         "permissions or $COINBT_ARTIFACTS_URI", {"uri": uri})  # fmt: skip
        return Check("artifacts", OK, f"{path}", {"uri": uri})
    from coinbt.errors import StorageError
    from coinbt.storage.s3 import bucket_state

    fix = f"run `coinbt storage init-bucket {uri}`"
    try:
        state = bucket_state(uri)
    except StorageError as exc:
        return Check("artifacts", CRITICAL, f"{exc} — check $COINBT_S3_ENDPOINT_URL and the "
                     "AWS credentials", {"uri": uri})  # fmt: skip
    data = {"uri": uri, **state}
    if not state["exists"]:
        return Check("artifacts", CRITICAL, f"{uri}: the bucket does not exist; {fix}", data)
    problems = []
    if state["versioning"] != "Enabled":
        problems.append(f"versioning is {state['versioning'] or 'off'} (an overwritten or "
                        "deleted artifact cannot be recovered)")  # fmt: skip
    if not state["rules"]:
        problems.append("no lifecycle rule covers it (old artifacts are never removed)")
    if problems:
        return Check("artifacts", WARNING, f"{uri}: " + "; ".join(problems) + f"; {fix}", data)
    rule = state["rules"][0]
    return Check("artifacts", OK, f"{uri}: versioning on, lifecycle rule {rule.get('ID')!r}",
                 data)  # fmt: skip


def _disk_checks(paths: list[Path]) -> list[Check]:
    """One disk check per file system among ``paths`` (the nearest existing folder of each)."""
    seen: set[int] = set()
    out = []
    for path in paths:
        device = _nearest_existing(path).stat().st_dev
        if device not in seen:
            seen.add(device)
            out.append(check_disk(path))
    return out


def run_checks(
    *,
    stale_after: timedelta = timedelta(days=2),
    registry_url: str | None = None,
    min_workers: int = 1,
) -> list[Check]:
    """Every check, in order, with the settings from the environment."""
    from coinbt import settings
    from coinbt.jobs.config import redis_url

    root = settings.data_root()
    url = registry_url or settings.registry_url()
    artifacts = settings.artifacts_uri()
    places = [root] + ([] if artifacts.startswith("s3://") else [Path(artifacts)])
    if url.startswith("sqlite:///"):
        places.append(Path(url[len("sqlite:///") :]))
    return [check_data_root(root), check_catalog(root), check_freshness(root, stale_after),
            check_registry(url), check_redis(redis_url(), min_workers=min_workers),
            check_artifacts(artifacts), *_disk_checks(places)]  # fmt: skip


def exit_code(checks: list[Check]) -> int:
    return max((EXIT_CODE[c.status] for c in checks), default=0)


__all__ = ["CRITICAL", "OK", "WARNING", "Check", "exit_code", "run_checks"]
