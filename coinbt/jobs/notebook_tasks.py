"""What a worker runs for a notebook job: papermill, with progress per cell and a kernel that
never outlives its job.

papermill starts the kernel in a session of its own (jupyter_client's launcher), so killing a
work horse (cancel, timeout, a worker's cold shutdown) does not kill the kernel with it.  The
task therefore writes the kernel's process id into the RQ job's meta as soon as it starts, and
the worker kills whatever is left of it after the job (:func:`kill_kernel`).  (ipykernel also
exits by itself about a second after its parent dies; this does not rely on it.)
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from coinbt.errors import JobError
from coinbt.jobs.notebook import INPUT, OUTPUT
from coinbt.jobs.tasks import RUNNABLE, process_registry, report_progress
from coinbt.storage import Registry
from coinbt.storage.lifecycle import complete_run, set_status

log = logging.getLogger("coinbt.jobs")

#: RQ job meta key holding the running kernel's process id
KERNEL_PID = "kernel_pid"


def _tracked_kernel_manager() -> type:
    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class TrackedKernelManager(AsyncKernelManager):  # type: ignore[misc, valid-type]
        """Publishes the kernel's pid to the running RQ job once the kernel is launched.

        On POSIX the kernel listens on Unix sockets in a private folder of its own (mode 0700)
        instead of localhost TCP ports, which any local user could reach unencrypted (and
        ipykernel warns about); a folder per kernel keeps parallel reports apart.
        """

        @default("transport")
        def _default_transport(self) -> str:
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _default_ip(self) -> str:
            if self.transport != "ipc":
                return str(super()._ip_default())
            return os.path.join(tempfile.mkdtemp(prefix="coinbt-kernel-"), "kernel")

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if self.transport == "ipc" and not restart:
                shutil.rmtree(os.path.dirname(self.ip), ignore_errors=True)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                _publish_kernel(int(pid))

    return TrackedKernelManager


def _publish_kernel(pid: int | None) -> None:
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        job.meta[KERNEL_PID] = pid
        job.save_meta()


def _engine() -> type:
    """papermill's nbclient engine, reporting progress after every code cell."""
    from papermill.engines import NBClientEngine

    class CoinbtEngine(NBClientEngine):  # type: ignore[misc, valid-type]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            total = max(1, sum(1 for c in nb_man.nb.cells if c.cell_type == "code"))
            done = [0]
            complete = nb_man.cell_complete

            def cell_complete(cell: Any, cell_index: int | None = None, **kw: Any) -> None:
                complete(cell, cell_index=cell_index, **kw)
                if cell.cell_type == "code":
                    done[0] += 1
                    report_progress(0.05 + 0.9 * done[0] / total, f"cell {done[0]}/{total}")

            nb_man.cell_complete = cell_complete
            kwargs["kernel_manager_class"] = _tracked_kernel_manager()
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return CoinbtEngine


def register_engine() -> None:
    """Make papermill's ``engine_name="coinbt"`` this module's engine (idempotent)."""
    from papermill.engines import papermill_engines

    papermill_engines.register("coinbt", _engine())


def run_notebook(
    run_id: str,
    parameters: dict[str, Any],
    kernel: str | None = None,
    cell_timeout: int | None = None,
    registry: Registry | None = None,
) -> str:
    """Execute the run's stored notebook and record it; returns the run id.

    The executed notebook is stored (``notebook.ipynb``) also when a cell fails, with the
    error in it; the failure then propagates (``PapermillExecutionError``, not retried).
    Does nothing for a run that is already finished or was cancelled.
    """
    import papermill

    reg = registry if registry is not None else process_registry()
    if not set_status(reg, run_id, "running", only_from=RUNNABLE):
        report_progress(1.0, str(reg.status(run_id)))
        return run_id
    report_progress(0.02, "starting the kernel")
    source = reg.store.get(run_id, INPUT)
    register_engine()
    with tempfile.TemporaryDirectory(prefix=f"coinbt-nb-{run_id}-") as tmp:
        src, out = Path(tmp) / INPUT, Path(tmp) / OUTPUT
        src.write_bytes(source)
        try:
            papermill.execute_notebook(
                str(src),
                str(out),
                parameters=parameters,
                engine_name="coinbt",
                kernel_name=kernel or "python3",
                execution_timeout=cell_timeout,
                progress_bar=False,
                cwd=os.getcwd(),  # relative defaults (.coinbt/registry.db) as in this process
            )
        finally:
            _publish_kernel(None)  # papermill shut it down (or it is dead): nothing to clean
            # kept also when a cell failed: the error is in it
            executed = reg.store.put(run_id, OUTPUT, out.read_bytes()) if out.is_file() else None
        report_progress(0.97, "recording")
        if reg.status(run_id) != "running":  # cancelled while it ran
            return run_id
        infos = [reg.store.put(run_id, INPUT, source), executed]
    values = {"run_id": run_id, "status": "finished", "finished": _now(), "error": None}
    complete_run(reg, values, infos)
    report_progress(1.0, "finished")
    return run_id


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def run_here(reg: Registry, args: list[Any]) -> None:
    """No Redis: execute in this process; a failure marks the run failed and raises JobError."""
    import traceback

    run_id = args[0]
    try:
        run_notebook(*args, registry=reg)
    except Exception as exc:
        set_status(reg, run_id, "failed", error=traceback.format_exc(), only_from=RUNNABLE)
        raise JobError(
            f"notebook run {run_id} failed: {str(exc).strip().splitlines()[-1] if str(exc) else exc!r}"
            f" (the executed notebook is kept: coinbt jobs show {run_id})"
        ) from exc


def kill_kernel(job: Any) -> bool:
    """Kill the kernel a notebook job left running (its process group); True if one was."""
    pid = job.meta.get(KERNEL_PID)
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except OSError:
        return False  # gone
    if b"kernel" not in cmdline:  # the pid was reused by something else
        return False
    try:
        os.killpg(os.getpgid(int(pid)), signal.SIGKILL)
    except ProcessLookupError:
        return False
    log.warning("job %s: killed its notebook kernel (pid %s) left running", job.id, pid)
    return True


__all__ = ["KERNEL_PID", "kill_kernel", "register_engine", "run_notebook"]
