"""``coinbt doctor``: what is wrong with this installation, as a table (or JSON) and an exit code
(0 healthy, 1 warning, 2 critical).

Checks so far: the data root (present, readable), the catalog (every year file's Parquet footer
readable), data freshness (series fetched with ``coinbt data fetch``/``refresh`` whose last
success is older than ``stale_after``) and free disk space under the data root (warning below
20 % free, the predecessor's operations threshold; critical below 5 %).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

OK, WARNING, CRITICAL = "ok", "warning", "critical"
#: exit status of the worst finding
EXIT_CODE = {OK: 0, WARNING: 1, CRITICAL: 2}
#: free disk space (fraction) below which the disk check warns, and is critical
DISK_WARN, DISK_CRITICAL = 0.20, 0.05


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


def check_disk(path: Path, usage: Callable[[str], Any] = shutil.disk_usage) -> Check:
    where = path if path.exists() else Path.cwd()
    total, _used, free = usage(str(where))
    share = free / total if total else 0.0
    data = {"path": str(where), "free_bytes": int(free), "free_share": round(share, 4)}
    text = f"{free / 2**30:,.1f} GiB free ({100 * share:.0f} %) at {where}"
    if share < DISK_CRITICAL:
        return Check("disk", CRITICAL, text + f"; below {DISK_CRITICAL:.0%}: free space now", data)
    if share < DISK_WARN:
        return Check("disk", WARNING, text + f"; below {DISK_WARN:.0%}", data)
    return Check("disk", OK, text, data)


def run_checks(*, stale_after: timedelta = timedelta(days=2)) -> list[Check]:
    """Every check, in order."""
    from coinbt.settings import data_root

    root = data_root()
    return [check_data_root(root), check_catalog(root), check_freshness(root, stale_after),
            check_disk(root)]  # fmt: skip


def exit_code(checks: list[Check]) -> int:
    return max((EXIT_CODE[c.status] for c in checks), default=0)


__all__ = ["CRITICAL", "OK", "WARNING", "Check", "exit_code", "run_checks"]
