"""Notebook runs as jobs (papermill in a real worker), and the researcher's whole story: a
sweep submitted from a running notebook, followed there, a worker killed mid-sweep, every
trial still recorded exactly once."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebook_outputs import outputs_text

import coinbt
from coinbt.errors import ConfigError, JobError
from coinbt.jobs import NotebookRequest, SweepRequest, get_job, submit, submit_notebook
from coinbt.jobs.notebook import executed_notebook
from coinbt.jobs.notebook_tasks import KERNEL_PID
from coinbt.storage import Registry

from .conftest import REPO, kill_worker, wait_until, worker_events

END = "2021-06-30"
SQLITE_ONLY = pytest.mark.parametrize("jobs_env", ["sqlite"], indirect=True)


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def backtest_notebook(path: Path) -> Path:
    return write_notebook(
        path,
        'window = 20\nsymbol = "BTC-USDT"\ntimeframe = "1h"',
        "import time\ntime.sleep(1.5)",
        "import coinbt\n"
        f'r = coinbt.backtest("sma_cross", symbol, timeframe, end="{END}", '
        'params={"window": window})\nprint("total_return", repr(r.stats["total_return"]))',
        "time.sleep(1.0)",
    )


def test_a_notebook_runs_on_a_worker_with_progress_and_is_recorded(
    jobs_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    path = backtest_notebook(tmp_path / "study.ipynb")
    job = submit_notebook(path, {"window": 30})
    assert job.status().state == "queued"
    reg = Registry()
    row = reg.run(job.id)
    assert (row["kind"], row["strategy"], row["symbol"], row["timeframe"]) == (
        "notebook",
        "notebook:study",
        "BTC-USDT",
        "1h",
    )
    assert row["params"] == {"window": 30, "symbol": "BTC-USDT", "timeframe": "1h"}

    worker = start_worker("--burst", "--name", "w-notebook")
    seen = []
    deadline = time.monotonic() + 120
    while (st := job.status()).state not in ("finished", "failed", "cancelled"):
        assert time.monotonic() < deadline, seen[-3:]
        seen.append(st)
        time.sleep(0.1)
    assert st.state == "finished", st
    assert any(s.state == "running" and s.message.startswith("cell ") for s in seen), set(seen)
    assert worker.wait(timeout=60) == 0

    nb = job.result()
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "window = 30" in injected[0].source
    local = coinbt.backtest("sma_cross", "BTC-USDT", "1h", end=END, params={"window": 30})
    assert f"total_return {local.stats['total_return']!r}" in outputs_text(nb)

    row = reg.run(job.id)
    assert row["status"] == "finished" and row["notebook_uri"].endswith("/notebook.ipynb")
    stored = reg.artifacts(job.id)
    assert set(stored) == {"input.ipynb", "notebook.ipynb"}
    assert nbformat.reads(reg.store.get(job.id, "input.ipynb").decode(), 4).cells[0].source == (
        path and nbformat.read(path, 4).cells[0].source
    )
    [event] = worker_events(worker)
    assert (event["kind"], event["mode"], event["status"]) == ("notebook", "horse", "finished")

    # the same notebook with the same parameters (defaults given or not) is the same run
    again = submit(NotebookRequest(path, {"window": 30, "symbol": "BTC-USDT"}))
    assert again.id == job.id and again.status().state == "finished"
    other = submit_notebook(path, {"window": 31})
    assert other.id != job.id and other.status().state == "queued"
    reg.close()


@SQLITE_ONLY
def test_a_failing_cell_fails_the_run_once_with_the_notebook_kept(
    jobs_env: dict[str, str], start_worker: Any, tmp_path: Path, cli: Any
) -> None:
    path = write_notebook(tmp_path / "broken.ipynb", "x = 1", "raise ValueError(f'boom {x}')")
    job = submit_notebook(path, {"x": 7})
    worker = start_worker("--burst")
    assert worker.wait(timeout=120) == 0
    st = job.status()
    assert st.state == "failed"
    assert "PapermillExecutionError" in st.error and "boom 7" in st.error
    [event] = worker_events(worker)
    assert (event["status"], event["attempt"]) == ("failed", 1)  # not retried
    nb = executed_notebook(Registry(), job.id)  # kept, with the error in it
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].evalue == "boom 7"
    code, out, _ = cli("jobs", "show", job.id)
    assert code == 0 and "PapermillExecutionError" in out
    assert f"notebook:        file://{jobs_env['COINBT_ARTIFACTS_URI']}" in out
    code, out, _ = cli("jobs", "failed", "--json")
    assert code == 0 and job.id in [j["run_id"] for j in json.loads(out)]
    with pytest.raises(JobError, match="boom 7"):
        job.result()


@SQLITE_ONLY
def test_cancelling_a_running_notebook_leaves_no_kernel_behind(
    jobs_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    path = write_notebook(
        tmp_path / "long.ipynb", "seconds = 60", "import time", "time.sleep(seconds)"
    )
    job = submit_notebook(path)
    worker = start_worker("--name", "w-nb-cancel")
    rq_job = job._rq_job()

    def kernel_pid() -> int | None:
        rq_job.refresh()
        return rq_job.meta.get(KERNEL_PID)

    pid = wait_until(kernel_pid, 60, "the kernel to start")
    # parameters, papermill's injected parameters, import done: the sleep is running
    wait_until(lambda: job.status().message == "cell 3/4", 60, "the sleeping cell")
    assert job.cancel() == "cancelled"
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 15, f"kernel {pid} to be gone")
    assert job.status().state == "cancelled"
    assert worker.poll() is None  # the worker itself goes on
    kill_worker(worker)


@SQLITE_ONLY
def test_notebook_mistakes_are_refused_before_anything_is_written(
    jobs_env: dict[str, str], tmp_path: Path
) -> None:
    path = backtest_notebook(tmp_path / "study.ipynb")
    with pytest.raises(ConfigError, match=r"no parameter 'windw'.*Did you mean 'window'"):
        submit_notebook(path, {"windw": 30})
    with pytest.raises(ConfigError, match=r"window=\(10, 20\).*list instead of a tuple"):
        submit_notebook(path, {"window": (10, 20)})
    with pytest.raises(ConfigError, match="not an .ipynb file"):
        submit_notebook(tmp_path / "missing.ipynb")
    bare = write_notebook(tmp_path / "bare.ipynb", "x = 1")
    nb = nbformat.read(bare, 4)
    nb.cells[0].metadata["tags"] = []
    nbformat.write(nb, bare)
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        submit_notebook(bare, {"x": 2})
    reg = Registry()
    assert reg.runs().empty
    reg.close()


def test_without_redis_submit_runs_notebooks_and_sweeps_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COINBT_REDIS_URL", raising=False)
    monkeypatch.setenv("COINBT_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    path = backtest_notebook(tmp_path / "study.ipynb")
    job = submit(NotebookRequest(path, {"window": 12}))
    assert job.status().state == "finished"
    assert "total_return" in outputs_text(job.result())

    sweep = submit(SweepRequest("sma_cross", {"window": [10, 20]}, "BTC-USDT", "1h", end=END,
                                options={"exchange": "binance"}))  # fmt: skip
    table = sweep.wait(timeout=60, progress=False)
    assert table["window"].tolist() == [10, 20]
    assert get_job(job.id).status().state == "finished"

    broken = write_notebook(tmp_path / "broken.ipynb", "x = 1", "1 / 0")
    with pytest.raises(JobError, match="ZeroDivisionError"):
        submit_notebook(broken)


# -- the researcher's story ------------------------------------------------------------------

RESEARCH_NOTEBOOK = (
    'grid_stop = 170\nmarket = ["BTC-USDT", "1h", "2023-01-01", "2023-03-31"]',
    "from coinbt.jobs import submit_sweep\n"
    'sweep = submit_sweep("tests.integration.jobs.sweep_strategies:sma_test",\n'
    '                     {"window": list(range(10, grid_stop, 10))}, *market,\n'
    '                     exchange="binance", chunk_size=8)\n'
    "print('sweep', sweep.id, flush=True)",
    "table = sweep.wait(timeout=240)  # a progress bar while the workers run",
    "print('trials', len(table), 'unique', table['run_id'].is_unique)",
)


@SQLITE_ONLY
def test_a_sweep_from_a_notebook_survives_a_killed_worker(
    jobs_env: dict[str, str],
    start_worker: Any,
    tmp_path: Path,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import papermill

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("COINBT_TEST_TRIAL_SLEEP", "0.2")
    path = write_notebook(tmp_path / "research.ipynb", *RESEARCH_NOTEBOOK)
    out = tmp_path / "research-out.ipynb"
    failure: list[BaseException] = []

    def researcher() -> None:  # the notebook runs in its own kernel, as in JupyterLab
        try:
            papermill.execute_notebook(str(path), str(out), kernel_name="python3",
                                       progress_bar=False, cwd=str(tmp_path))  # fmt: skip
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=researcher)
    thread.start()
    reg = Registry()

    def sweep_id() -> str | None:
        rows = reg.runs(kind="sweep")
        return None if rows.empty else str(rows["run_id"].iloc[0])

    sid = wait_until(sweep_id, 90, "the notebook to submit its sweep")
    from coinbt.jobs import SweepJob

    sweep = SweepJob.from_run_id(sid, registry=reg)
    worker = start_worker()
    wait_until(lambda: sweep.status().finished_trials >= 3, 60, "three recorded trials")
    kill_worker(worker)  # mid-chunk: the worker, its scheduler and its horse
    worker.wait(timeout=10)
    assert sweep.status().finished_trials < len(sweep.trial_ids)
    code, _, err = cli("jobs", "recover", "--stale-after", "0")
    assert code == 0, err
    monkeypatch.setenv("COINBT_TEST_TRIAL_SLEEP", "0")
    start_worker()
    thread.join(timeout=240)
    assert not thread.is_alive() and not failure, failure

    executed = nbformat.read(out, 4)
    text = outputs_text(executed)
    assert f"sweep {sid}" in text and "trials 16 unique True" in text
    assert "trial" in text and "%|" in text  # the progress bar the researcher watched
    rows = reg.runs(where={"parent_run_id": ("=", sid)}, limit=1000)
    assert sorted(rows["run_id"]) == sorted(sweep.trial_ids) and rows["run_id"].is_unique
    assert set(rows["status"]) == {"finished"}
    for run_id in sweep.trial_ids:
        assert reg.load(run_id).run_id == run_id  # artifacts checked against their SHA-256
    reg.close()
