"""Background jobs on RQ + Redis: submit, follow, cancel (``docs/operations.md``)."""

from coinbt.jobs.api import Job, JobStatus, get_job, submit, submit_backtest

__all__ = [
    "Job",
    "JobStatus",
    "get_job",
    "submit",
    "submit_backtest",
]
