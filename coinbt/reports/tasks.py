"""Reports as RQ jobs (``coinbt batch --queue``): job id = the report's run id.

The run's registry row is created ``queued`` at submit (kind ``backtest``, ``sweep`` or
``compare``, after the template); the worker runs the
template (:func:`coinbt.reports.run_report`), whose notebook completes the row, and the report
is archived with it.  A report whose cell fails is a failed job (not retried: the same template
fails the same way), with the cell and error on the row unless the run itself was recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coinbt.errors import JobError
from coinbt.jobs import config
from coinbt.jobs.api import Job, enqueue_run, job_document
from coinbt.reports.plans import plan_report
from coinbt.reports.runner import run_report
from coinbt.reports.templates import check_parameters, template_path
from coinbt.storage import Registry
from coinbt.storage.lifecycle import set_status

_TASK = "coinbt.reports.tasks.run_report_job"


def submit_report(
    template: str,
    parameters: dict[str, Any] | None = None,
    *,
    queue: str = config.DEFAULT_QUEUE,
    reports_dir: str | Path | None = None,
    timeout: int | None = None,
    registry: Registry | None = None,
    redis_url: str | None = None,
) -> Job:
    """Make a report on a worker; returns the :class:`~coinbt.jobs.Job` of its run.

    Parameters are checked and planned here (mistakes raise before anything is written).
    Without ``$COINBT_REDIS_URL`` the report is made in this process.  A report that already
    exists for a finished run is not made again.  Follow it with :func:`wait_for_report`:
    the run's row (what ``Job.wait`` follows) is finished before the report is archived.
    """
    path = template_path(template)
    checked = check_parameters(path, parameters)
    plan = plan_report(path, checked)
    params = plan.parameters(checked)  # what the job runs: a later plan must agree
    run_id = plan.run_id
    url = redis_url or config.redis_url()
    reg = registry if registry is not None else Registry()
    out_dir = None if reports_dir is None else str(Path(reports_dir).resolve())
    if url is None:
        report = run_report(str(path), params, reports_dir=out_dir)
        if report.status != "finished":
            raise JobError(f"report of run {run_id} failed in {report.error}")
        return Job(run_id, registry=reg)
    conn = config.connect(url)  # fail before writing anything
    existing = plan.queue(reg)
    job = Job(run_id, registry=reg, redis_url=url)
    if existing == "finished" and "report.html" in reg.artifacts(run_id):
        return job
    doc = job_document(
        run_id,
        plan.kind,
        _TASK,
        [str(path.resolve()), params, out_dir],
        queue=queue,
        retries=0,
        timeout=timeout,
        description=f"report {path.stem}: {plan.description}",
    )
    return enqueue_run(conn, job, doc, existing)  # finished without a report: made again


def run_report_job(template: str, parameters: dict[str, Any], reports_dir: str | None) -> str:
    """The worker's side of :func:`submit_report`; returns the run id."""
    from coinbt.jobs.tasks import RUNNABLE, process_registry, report_progress

    reg = process_registry()
    path = Path(template)
    run_id = plan_report(path, parameters).run_id
    set_status(reg, run_id, "running", only_from=RUNNABLE)
    report_progress(0.02, "starting the kernel")
    report = run_report(str(path), parameters, reports_dir=reports_dir)
    if report.status != "finished":
        raise JobError(f"report of run {run_id} failed in {report.error}")
    report_progress(1.0, "finished")
    return run_id


def wait_for_report(
    job: Job, reports_dir: str | Path, *, poll: float = 0.2, timeout: float | None = None
) -> str:
    """Wait until a report job has ended; ``finished`` when its report exists.

    The run's row turns ``finished`` as soon as the notebook records the run, before the
    report is rendered and archived, so this follows the RQ job, not the row.
    """
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    rq_status: str | None = None
    while True:
        live = job._rq_state()
        rq_status = None if live is None else live[0]
        if rq_status in (None, "finished", "failed", "stopped", "canceled"):
            break
        if job.status().state in ("failed", "cancelled"):
            break
        if deadline is not None and time.monotonic() > deadline:
            raise JobError(f"report of run {job.id} still {rq_status} after {timeout} s")
        time.sleep(poll)
    made = (Path(reports_dir) / f"{job.id}.html").is_file()
    archived = made and "report.html" in job.registry.artifacts(job.id)
    ok = rq_status in (None, "finished") and archived and job.status().state == "finished"
    return "finished" if ok else "failed"


__all__ = ["run_report_job", "submit_report", "wait_for_report"]
