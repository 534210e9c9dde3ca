"""Background jobs on RQ + Redis: submit, follow, cancel (``docs/operations.md``)."""

from coinbt.jobs.api import Job, JobStatus, get_job, submit, submit_backtest
from coinbt.jobs.notebook import NotebookRequest, submit_notebook
from coinbt.jobs.sweep import SweepPlan, SweepRequest, plan_sweep, submit_sweep
from coinbt.jobs.sweep_job import SweepJob, SweepStatus

__all__ = [
    "Job",
    "JobStatus",
    "NotebookRequest",
    "SweepJob",
    "SweepPlan",
    "SweepRequest",
    "SweepStatus",
    "get_job",
    "plan_sweep",
    "submit",
    "submit_backtest",
    "submit_notebook",
    "submit_sweep",
]
