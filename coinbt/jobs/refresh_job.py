"""The data refresh as an RQ job, optionally periodic.

``coinbt data refresh --config refresh.yaml --queue default --every 1h`` enqueues
:func:`refresh_task`; after each run the task schedules its next run ``every`` later with
RQ's scheduler (``coinbt worker`` runs it).  The plan is read when the job runs, so edits to
the YAML take effect at the next run; its path is made absolute at submit time.  A failing
series is reported in the job's result and does not fail the job (the next run retries it);
a plan that cannot be read fails the job.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from coinbt.jobs import config


def schedule_refresh(plan: str | os.PathLike[str], *, queue: str = "default",
                     every: str | timedelta | None = None, url: str | None = None) -> Any:  # fmt: skip
    """Enqueue a refresh of ``plan`` now (checked first: a bad plan is refused here); with
    ``every``, each run enqueues the next.  Returns the RQ job."""
    from rq import Queue

    from coinbt.data.refresh import read_config
    from coinbt.storage.common import parse_duration

    path = str(Path(plan).expanduser().resolve())
    read_config(path)
    seconds = None if every is None else parse_duration(every).total_seconds()
    conn = config.connect(url)
    return Queue(queue, connection=conn).enqueue(
        refresh_task, path, seconds, queue, job_timeout=config.default_timeout(),
        description=f"coinbt data refresh {path}",
    )  # fmt: skip


def refresh_task(plan: str, every_s: float | None, queue: str) -> list[dict[str, Any]]:
    """Run the refresh, schedule the next one, return each series' report."""
    from rq import Queue, get_current_job

    from coinbt.data.refresh import refresh

    try:
        reports = [r.to_dict() for r in refresh(plan, progress=False)]
    finally:
        if every_s:
            job = get_current_job()
            conn = job.connection if job is not None else config.connect()
            Queue(queue, connection=conn).enqueue_in(
                timedelta(seconds=every_s), refresh_task, plan, every_s, queue,
                job_timeout=config.default_timeout(), description=f"coinbt data refresh {plan}",
            )  # fmt: skip
    return reports


__all__ = ["refresh_task", "schedule_refresh"]
