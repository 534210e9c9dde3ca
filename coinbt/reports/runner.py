"""Run a report template with papermill and archive what it produced.

Order of events for ``run_report("backtest", params)`` (``sweep`` and ``compare`` alike):

1. parameters checked against the template's ``parameters`` cell (unknown names with the
   closest declared one; non-JSON values refused) and planned here
   (:func:`coinbt.reports.plans.plan_report`: types, strategy parameters, data, compared
   runs) — a mistake fails before any kernel starts;
2. the template runs in a fresh kernel (papermill); it records its run in the registry
   (``$COINBT_REGISTRY_URL``, inherited by the kernel);
3. ``reports/<run_id>.ipynb`` and ``reports/<run_id>.html`` are written (atomically) and
   stored as the run's artifacts ``report.ipynb`` and ``report.html``; the run's
   ``notebook_uri`` points at the stored notebook.

A failing cell: the executed notebook (papermill puts the error in it) is kept at the same
paths; a run that was not recorded yet is recorded as ``failed`` with the error — a run the
notebook had already recorded stays ``finished`` (its numbers are sound; only the report
failed) and gets the failed notebook attached.  :class:`ReportResult` says which.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinbt.errors import ConfigError
from coinbt.reports.plans import ReportPlan, plan_report
from coinbt.reports.templates import check_parameters, template_path
from coinbt.settings import reports_root


@dataclass(frozen=True)
class ReportResult:
    """What a report run produced.

    Attributes
    ----------
    run_id : str
        The run the report belongs to.
    status : str
        ``finished`` or ``failed`` (the report; see ``run_status`` for the run).
    notebook, html : Path
        ``reports/<run_id>.ipynb`` and its HTML rendering.
    run_status : str
        The run's status in the registry afterwards.
    error : str or None
        For a failed report: the failing cell and its error.
    """

    run_id: str
    status: str
    notebook: Path
    html: Path
    run_status: str
    error: str | None = None


def run_report(
    template: str,
    parameters: dict[str, Any] | None = None,
    *,
    reports_dir: str | Path | None = None,
    kernel: str = "python3",
    cell_timeout: int | None = 600,
    progress: bool = False,
) -> ReportResult:
    """Execute a report template and archive it (see the module documentation).

    Parameters
    ----------
    template : str
        ``backtest`` or a path to a template notebook.
    parameters : dict, optional
        Values for the template's ``parameters`` cell.
    reports_dir : str or Path, optional
        Default ``$COINBT_REPORTS_DIR`` or ``./reports``.
    kernel : str
        Kernel name (``python3``: the interpreter running this).
    cell_timeout : int, optional
        Seconds one cell may run (papermill's ``execution_timeout``).
    progress : bool
        papermill's per-cell progress bar.

    Raises
    ------
    ConfigError, DataError
        A parameter mistake, before anything runs or is written.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from coinbt.jobs.notebook_tasks import register_engine
    from coinbt.storage import Registry

    path = template_path(template)
    checked = check_parameters(path, parameters)
    plan = plan_report(path, checked)
    params = plan.parameters(checked)  # e.g. runs=None of a comparison pinned to its run ids
    run_id = plan.run_id
    out_dir = Path(reports_dir) if reports_dir is not None else reports_root()
    notebook, html = out_dir / f"{run_id}.ipynb", out_dir / f"{run_id}.html"
    error: str | None = None
    with tempfile.TemporaryDirectory(prefix=f"coinbt-report-{run_id}-") as tmp:
        executed = Path(tmp) / "report.ipynb"
        register_engine()  # per-cell progress and a tracked kernel when run as a job
        try:
            papermill.execute_notebook(
                str(path),
                str(executed),
                parameters=params,
                engine_name="coinbt",
                kernel_name=kernel,
                execution_timeout=cell_timeout,
                progress_bar=progress,
                # written once at the end (and on an error), not after every cell: a report
                # notebook is megabytes of figure JSON (27 rewrites cost ~2.5 s)
                request_save_on_cell_execute=False,
                cwd=os.getcwd(),  # relative defaults (.coinbt/registry.db) as in this process
            )
        except PapermillExecutionError as exc:
            error = _describe(exc)
        if not executed.is_file():  # pragma: no cover - papermill writes it before raising
            raise ConfigError(f"template {path.name} failed before any cell ran: {error}")
        data = executed.read_bytes()
    html_bytes = render_html(data)
    from coinbt.storage.common import write_atomic

    write_atomic(notebook, data)
    write_atomic(html, html_bytes)
    reg = Registry()
    try:
        run_status = _archive(reg, plan, data, html_bytes, error)
    finally:
        reg.close()
    return ReportResult(
        run_id=run_id,
        status="failed" if error else "finished",
        notebook=notebook,
        html=html,
        run_status=run_status,
        error=error,
    )


def _describe(exc: Any) -> str:
    """The failing cell's number and source, then the error (papermill's own fields)."""
    source = str(getattr(exc, "source", "") or "").rstrip()
    where = f"cell {getattr(exc, 'exec_count', None) or getattr(exc, 'cell_index', '?')}"
    return f"{where}:\n{source}\n{exc.ename}: {exc.evalue}"


def render_html(notebook: bytes) -> bytes:
    """The notebook as a standalone HTML page (nbconvert's lab template; plotly figures stay
    interactive)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.reads(notebook.decode(), as_version=4))
    return body.encode()


def _archive(reg: Any, plan: ReportPlan, data: bytes, html: bytes, error: str | None) -> str:
    """Store the report with its run; a failed report of an unrecorded run records it failed."""
    from coinbt.storage.lifecycle import attach_artifacts, set_status

    run_id = plan.run_id
    status = reg.status(run_id)
    if error is not None and status != "finished":
        if status is None:
            plan.queue(reg)
        set_status(reg, run_id, "failed", error=f"report failed in {error}")
    infos = [
        reg.store.put(run_id, "report.ipynb", data),
        reg.store.put(run_id, "report.html", html),
    ]
    attach_artifacts(reg, run_id, infos, notebook_uri=infos[0].uri)
    return str(reg.status(run_id))


__all__ = ["ReportResult", "render_html", "run_report"]
