"""Notebook runs as jobs: a notebook executed with papermill, kept as a run of kind ``notebook``.

``submit_notebook(path, parameters)`` checks the parameters against the notebook's
``parameters`` cell (papermill itself only warns about a misspelt name), stores the notebook
in the artifact store (``input.ipynb``, so a worker on another machine runs exactly what was
submitted) and creates the run's registry row (``queued``); a worker then executes it
(:func:`coinbt.jobs.notebook_tasks.run_notebook`) and stores the executed notebook as
``notebook.ipynb`` (``runs.notebook_uri``).  The run id is a hash of the notebook's bytes, its
parameters, the kernel and the coinbt version: submitting the same notebook with the same
parameters again is the same run.

A notebook run records what the notebook does, not what it computes: backtests it runs are
runs of their own (``coinbt.backtest(..., registry=...)`` or ``Registry.record``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coinbt.errors import ConfigError, JobError, did_you_mean
from coinbt.jobs import config
from coinbt.storage import Registry
from coinbt.storage.models import Run

#: what ``submit`` accepts for a notebook run
INPUT = "input.ipynb"
OUTPUT = "notebook.ipynb"
_FORMAT = 1
_TASK = "coinbt.jobs.notebook_tasks.run_notebook"


@dataclass(frozen=True)
class NotebookRequest:
    """A notebook to execute with parameters (what :func:`coinbt.jobs.submit` takes).

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file.
    parameters : mapping
        Values for names of its ``parameters`` cell (JSON values: str, number, bool, None,
        lists and dicts of them).
    kernel : str, optional
        Kernel name on the workers (default ``python3``, the worker's own interpreter).
    cell_timeout : int, optional
        Seconds one cell may run (papermill's ``execution_timeout``; default no limit — the
        job's ``timeout`` still applies).
    """

    path: str | os.PathLike[str]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    cell_timeout: int | None = None


def _require_papermill() -> Any:
    try:
        import papermill
    except ImportError:  # pragma: no cover - the notebooks extra is part of dev
        raise JobError(
            "notebook runs need papermill and ipykernel: pip install 'coinbt[notebooks]'"
        ) from None
    return papermill


def read_request(request: NotebookRequest) -> tuple[bytes, dict[str, Any]]:
    """The notebook's bytes and its checked parameters (the parameters cell's literal
    defaults filled in, so leaving a default out and giving it are the same run).

    Raises
    ------
    ConfigError
        Not a readable notebook; a parameter the ``parameters`` cell does not declare (with
        the closest declared name); a value that is not plain JSON (papermill would silently
        turn a tuple or a date into a string).
    """
    papermill = _require_papermill()
    path = Path(request.path).expanduser()
    if path.suffix != ".ipynb" or not path.is_file():
        raise ConfigError(
            f"notebook {str(path)!r} is not an .ipynb file; give the path of a Jupyter notebook",
            field="path",
        )
    data = path.read_bytes()
    try:
        declared = papermill.inspect_notebook(str(path))
    except Exception as exc:
        raise ConfigError(f"notebook {path} cannot be read: {exc}", field="path") from exc
    params = dict(request.parameters or {})
    if params and not declared:
        raise ConfigError(
            f"notebook {path.name} has no cell tagged 'parameters', so it takes no parameters "
            f"(got {sorted(params)}); tag the cell that sets its defaults",
            field="parameters",
        )
    for name, value in params.items():
        if name not in declared:
            raise ConfigError(
                f"notebook {path.name} has no parameter {name!r}; its parameters are "
                f"{', '.join(sorted(declared))}.{did_you_mean(name, list(declared))}",
                field=name,
            )
        if not _plain_json(value):
            raise ConfigError(
                f"parameter {name}={value!r} of notebook {path.name}: use str, int, float, "
                "bool, None, or lists and dicts of them (papermill would pass a tuple, a date "
                "or an array as its text); write a list instead of a tuple",
                field=name,
            )
    request_defaults = _defaults(declared)
    params = {**{k: v for k, v in request_defaults.items() if k not in params}, **params}
    if request.kernel is not None and not str(request.kernel).strip():
        raise ConfigError("kernel must be a kernel name such as 'python3'", field="kernel")
    if request.cell_timeout is not None and int(request.cell_timeout) < 1:
        raise ConfigError("cell_timeout must be 1 second or more", field="cell_timeout")
    return data, params


def _defaults(declared: Mapping[str, Any]) -> dict[str, Any]:
    """The ``parameters`` cell's literal defaults (a default that is an expression is left to
    the notebook)."""
    import ast

    out = {}
    for name, info in declared.items():
        try:
            value = ast.literal_eval(str(info.get("default", "")))
        except (ValueError, SyntaxError, TypeError):
            continue
        if _plain_json(value):
            out[name] = value
    return out


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False


def notebook_run_id(data: bytes, parameters: Mapping[str, Any], kernel: str | None) -> str:
    """16 hex digits of SHA-256 over the notebook's bytes, parameters, kernel and version."""
    from coinbt import __version__

    text = json.dumps(
        {
            "kind": "notebook",
            "format": _FORMAT,
            "notebook": hashlib.sha256(data).hexdigest(),
            "parameters": dict(parameters),
            "kernel": kernel or "python3",
            "coinbt_version": __version__,
        },
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def notebook_row(
    reg: Registry, run_id: str, name: str, parameters: Mapping[str, Any], tags: list[str] | None
) -> dict[str, Any]:
    """The ``queued`` registry row of a notebook run (market columns from its parameters)."""
    from coinbt import __version__

    row: dict[str, Any] = {column.name: None for column in Run.__table__.columns}
    symbol = parameters.get("symbol")
    symbols = parameters.get("symbols")
    row.update(
        run_id=run_id,
        kind="notebook",
        status="queued",
        created=datetime.now(UTC),
        strategy=str(parameters.get("strategy") or f"notebook:{name}")[:128],
        params=dict(parameters),
        exchange=parameters.get("exchange")
        if isinstance(parameters.get("exchange"), str)
        else None,
        symbol=str(symbol if symbol is not None else "")[:64],
        symbols=[str(s) for s in symbols] if isinstance(symbols, list) else [],
        timeframe=str(parameters.get("timeframe") or "")[:16],
        start=str(parameters["start"]) if parameters.get("start") is not None else None,
        end=str(parameters["end"]) if parameters.get("end") is not None else None,
        engine={},
        coinbt_version=__version__,
        artifact_uri=reg.store.run_uri(run_id),
        notebook_uri=reg.store.run_uri(run_id).rstrip("/") + "/" + OUTPUT,
        tags=list(tags or []),
    )
    if not row["symbols"] and row["symbol"]:
        row["symbols"] = [row["symbol"]]
    return row


def submit_notebook(
    path: str | os.PathLike[str] | NotebookRequest,
    parameters: Mapping[str, Any] | None = None,
    queue: str = config.DEFAULT_QUEUE,
    *,
    kernel: str | None = None,
    cell_timeout: int | None = None,
    retries: int | None = None,
    retry_intervals: Any = None,
    timeout: int | None = None,
    tags: list[str] | None = None,
    registry: Registry | None = None,
    redis_url: str | None = None,
) -> Any:
    """Execute a notebook with parameters in the background; returns its :class:`Job`.

    Parameters
    ----------
    path : str, Path or NotebookRequest
        The notebook (or a request carrying it and the options below).
    parameters : mapping, optional
        Values for its ``parameters`` cell, checked here (see :func:`read_request`).
    queue, retries, retry_intervals, timeout, tags, registry, redis_url
        As for :func:`coinbt.jobs.submit`.  A cell that raises is not retried (the same
        notebook would fail the same way); a lost worker is.
    kernel, cell_timeout
        See :class:`NotebookRequest`.

    Returns
    -------
    Job
        ``job.result()`` is the executed notebook (``nbformat.NotebookNode``); without
        ``$COINBT_REDIS_URL`` it runs here and the job comes back finished.  Submitting the
        same notebook and parameters again returns the same job.

    Raises
    ------
    ConfigError
        Not a notebook, an undeclared parameter, a value that is not plain JSON.
    JobError
        Redis unreachable (nothing written); without Redis, when the notebook failed (its
        executed copy, with the error, is kept: ``coinbt jobs show``).
    """
    from coinbt.jobs import api
    from coinbt.storage.lifecycle import set_status

    request = (
        path
        if isinstance(path, NotebookRequest)
        else NotebookRequest(path, parameters or {}, kernel, cell_timeout)
    )
    data, params = read_request(request)
    run_id = notebook_run_id(data, params, request.kernel)
    name = Path(request.path).stem
    url = redis_url or config.redis_url()
    reg = registry if registry is not None else Registry()
    args = [run_id, params, request.kernel, request.cell_timeout]
    doc = api.job_document(
        run_id,
        "notebook",
        _TASK,
        args,
        queue=queue,
        retries=retries,
        retry_intervals=retry_intervals,
        timeout=timeout,
        description=f"notebook {name} {params}",
    )
    conn = config.connect(url) if url is not None else None  # fail before writing anything
    reg.store.put(run_id, INPUT, data)
    created = reg.insert_run(notebook_row(reg, run_id, name, params, tags), [])
    existing = None if created else reg.status(run_id)
    job = api.Job(run_id, registry=reg, redis_url=url)
    if existing == "finished":
        return job
    if conn is None:
        from coinbt.jobs.notebook_tasks import run_here

        if existing in ("failed", "cancelled"):  # submitted again: run it again
            set_status(reg, run_id, "queued", only_from=["failed", "cancelled"])
        run_here(reg, args)
        return job
    return api.enqueue_run(conn, job, doc, existing)


def executed_notebook(reg: Registry, run_id: str) -> Any:
    """The executed notebook of a notebook run (finished, or failed with its error cell).

    Raises
    ------
    JobError
        The run never got as far as executing.
    """
    import nbformat

    from coinbt.errors import StorageError

    try:
        data = reg.store.get(run_id, OUTPUT)
    except StorageError as exc:
        raise JobError(f"notebook run {run_id} has no executed notebook yet: {exc}") from exc
    return nbformat.reads(data.decode(), as_version=4)


__all__ = [
    "INPUT",
    "OUTPUT",
    "NotebookRequest",
    "executed_notebook",
    "notebook_run_id",
    "read_request",
    "submit_notebook",
]
