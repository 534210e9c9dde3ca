"""Reports benchmark: wall time of one backtest report end to end, and of a 20-report batch in
parallel processes here versus on two RQ workers.

    .venv/bin/python -m benchmarks.bench_reports              # ~2 min here
    .venv/bin/python -m benchmarks.bench_reports --repeat 1 --batch 8

* **One report** (median of ``--repeat``): ``coinbt.reports.run_report("backtest", …)`` —
  parameters checked and planned, a fresh kernel, the template (volume_zone_breakout on the
  bundled Binance BTC-USDT 1h candles to 2022-12-31, statistics, chart, trades, signal study),
  the HTML rendering and archiving.  Beside it, what the kernel alone costs (papermill running
  an empty notebook) and the kernel plus coinbt's imports (a notebook that imports what the
  template imports), so the report's own share is visible.
* **Other templates** (once each): a sweep report (3 x 3 grid on the same market, every
  trial recorded) and a compare report of two of the backtests above.
* **Batch**: ``--batch`` reports (2 strategies x 2 markets x parameter sets) with
  ``coinbt.reports.batch.run_batch``: ``parallel=2`` processes here, then ``queue=`` with two
  ``coinbt worker`` processes (a scratch Redis database, ``$COINBT_BENCH_REDIS_URL``; skipped
  when Redis is unreachable).  Registry: a SQLite file in a temporary folder.

Target (issue 6): one backtest report under 6 s end to end, dominated by kernel start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.results_io import report_header, save_report

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("COINBT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TARGET_S = 6.0
PARAMS = {"strategy": "volume_zone_breakout", "symbol": "BTC-USDT", "exchange": "binance",
          "timeframe": "1h", "end": "2022-12-31"}  # fmt: skip


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _notebook(tmp: Path, name: str, source: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    path = tmp / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _papermill_s(path: Path) -> float:
    import papermill

    t0 = time.perf_counter()
    papermill.execute_notebook(str(path), None, progress_bar=False, kernel_name="python3")
    return time.perf_counter() - t0


def one_report(tmp: Path, repeat: int) -> dict[str, Any]:
    from coinbt.reports import run_report

    empty = _notebook(tmp, "empty", "pass")
    imports = _notebook(
        tmp, "imports", "from coinbt.api import execute\nfrom coinbt.reports import display"
    )
    kernel = [_papermill_s(empty) for _ in range(repeat)]
    with_imports = [_papermill_s(imports) for _ in range(repeat)]
    whole = []
    for k in range(repeat):
        t0 = time.perf_counter()
        report = run_report("backtest", {**PARAMS, "params": {"volume_window": 10 + k}},
                            reports_dir=tmp / "one")  # fmt: skip
        whole.append(time.perf_counter() - t0)
        assert report.status == "finished", report.error
    return {
        "kernel_only_s": statistics.median(kernel),
        "kernel_and_imports_s": statistics.median(with_imports),
        "report_s": statistics.median(whole),
        "report_runs_s": whole,
        "html_bytes": report.html.stat().st_size,
        "notebook_bytes": report.notebook.stat().st_size,
    }


def other_templates(tmp: Path) -> dict[str, Any]:
    """One sweep report (3 x 3 grid, every trial recorded) and one comparison of two of the
    backtests ``one_report`` recorded."""
    from coinbt.reports import run_report

    grid = {"volume_window": [10, 20, 40], "top_percentile": [0.1, 0.2, 0.3]}
    t0 = time.perf_counter()
    sweep = run_report("sweep", {**PARAMS, "grid": grid}, reports_dir=tmp / "one")
    sweep_s = time.perf_counter() - t0
    assert sweep.status == "finished", sweep.error
    t0 = time.perf_counter()
    compare = run_report("compare", {"runs": None}, reports_dir=tmp / "one")
    compare_s = time.perf_counter() - t0
    assert compare.status == "finished", compare.error
    return {"sweep_report_s": sweep_s, "sweep_trials": 9, "compare_report_s": compare_s,
            "compared_runs": 2}  # fmt: skip


def plan(n: int, fee: float) -> dict[str, Any]:
    windows = list(range(10, 10 + max(1, n // 4)))
    return {
        "defaults": {"timeframe": "1h", "end": "2022-12-31", "settings": {"fee_rate": fee}},
        "matrix": {
            "strategy": ["volume_long_candle", "volume_zone_breakout"],
            "market": [
                {"symbol": "BTC-USDT", "exchange": "binance"},
                {"symbol": "ETH-USDT", "exchange": "binance"},
            ],  # fmt: skip
            "settings": [{"fee_rate": fee + i * 1e-5} for i in range(len(windows))],
        },
    }


def batch_here(tmp: Path, n: int) -> dict[str, Any]:
    from coinbt.reports.batch import run_batch

    t0 = time.perf_counter()
    outcome, _ = run_batch(plan(n, 0.001), reports_dir=tmp / "here", parallel=2, progress=False)
    wall = time.perf_counter() - t0
    return {"reports": len(outcome), "failed": sum(s != "finished" for s in outcome.values()),
            "wall_s": wall, "per_report_s": wall / len(outcome)}  # fmt: skip


def batch_workers(tmp: Path, n: int) -> dict[str, Any] | None:
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.exceptions.RedisError as exc:
        log(f"Redis unreachable at {REDIS_URL} ({exc}); skipping the worker batch")
        return None
    conn.flushdb()
    from coinbt.reports.batch import run_batch

    os.environ["COINBT_REDIS_URL"] = REDIS_URL
    cmd = [sys.executable, "-m", "coinbt.cli.main", "worker", "--queues", "bench-reports"]
    logs = [open(tmp / f"worker-{k}.log", "w") for k in range(2)]  # noqa: SIM115
    procs = [subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=f,
                              stderr=subprocess.STDOUT) for f in logs]  # fmt: skip
    try:
        time.sleep(3)  # workers up (imports, warm-up) before the clock starts
        t0 = time.perf_counter()
        outcome, _ = run_batch(plan(n, 0.002), reports_dir=tmp / "workers",
                               queue="bench-reports", progress=False)  # fmt: skip
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        for f in logs:
            f.close()
        os.environ.pop("COINBT_REDIS_URL", None)
        conn.flushdb()
    return {"reports": len(outcome), "failed": sum(s != "finished" for s in outcome.values()),
            "wall_s": wall, "per_report_s": wall / len(outcome), "workers": 2}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="single reports timed (median)")
    ap.add_argument("--batch", type=int, default=20, help="reports per batch")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="coinbt-bench-reports-"))
    os.environ.update(COINBT_REGISTRY_URL=f"sqlite:///{tmp / 'registry.db'}",
                      COINBT_ARTIFACTS_URI=str(tmp / "artifacts"))  # fmt: skip
    os.environ.pop("COINBT_REDIS_URL", None)
    report: dict[str, Any] = {
        **report_header("reports"),
    }
    try:
        log("one report …")
        report["one_report"] = one_report(tmp, args.repeat)
        log("one sweep report and one comparison …")
        report["other_templates"] = other_templates(tmp)
        log(f"batch of {args.batch} here (2 processes) …")
        report["batch_here"] = batch_here(tmp, args.batch)
        log(f"batch of {args.batch} on two RQ workers …")
        report["batch_workers"] = batch_workers(tmp, args.batch)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    one = report["one_report"]
    report["targets"] = {"one_report_under_6s": one["report_s"] < TARGET_S,
                         "kernel_share": one["kernel_only_s"] / one["report_s"]}  # fmt: skip
    lines = [
        f"coinbt reports benchmark — {report['when']} ({os.cpu_count()} cores)",
        f"one backtest report, median of {args.repeat}: {one['report_s']:.2f} s "
        f"(kernel alone {one['kernel_only_s']:.2f} s, kernel + coinbt imports "
        f"{one['kernel_and_imports_s']:.2f} s); html {one['html_bytes'] / 1e6:.1f} MB, "
        f"notebook {one['notebook_bytes'] / 1e6:.1f} MB",
    ]
    other = report["other_templates"]
    lines.append(f"sweep report ({other['sweep_trials']} trials recorded): "
                 f"{other['sweep_report_s']:.2f} s; compare report of "
                 f"{other['compared_runs']} runs: {other['compare_report_s']:.2f} s")  # fmt: skip
    for key, label in (("batch_here", "here, 2 processes"), ("batch_workers", "2 RQ workers")):
        row = report[key]
        if row:
            lines.append(f"batch of {row['reports']} reports, {label}: {row['wall_s']:.1f} s "
                         f"({row['per_report_s']:.2f} s a report), {row['failed']} failed")  # fmt: skip
    met = "met" if report["targets"]["one_report_under_6s"] else "NOT met"
    lines.append(f"target: one report under {TARGET_S:.0f} s — {met}; the kernel alone is "
                 f"{report['targets']['kernel_share']:.0%} of it")  # fmt: skip
    print("\n".join(lines))
    print(save_report("reports", report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
