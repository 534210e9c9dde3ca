"""Dashboards benchmark: the runs explorer's first page with 10,000 and 100,000 runs in
PostgreSQL, and a run view with 10,000+ trades, measured in Chromium against a real
``coinbt dashboard``.

    .venv/bin/python -m benchmarks.bench_dashboards          # ~3 min here
    .venv/bin/python -m benchmarks.bench_dashboards --sizes 10000 --repeat 2

* **Registry**: a scratch PostgreSQL database (``$COINBT_BENCH_PG`` server, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432``; database ``coinbt_bench_dash``, dropped and
  created), migrated by coinbt, filled with synthetic run rows in bulk (strategies, symbols,
  timeframes, metrics drawn at random: the explorer reads rows, not artifacts) up to each size.
* **Run view**: ``sma_cross`` (window 2) on Kraken BTC-USDC 1m candles (56,717 bars, Q1 2023)
  from ``../shared/data/real`` (imported into a scratch catalog), recorded for real: 13,735
  trades.
* **Timing**: from ``page.goto`` to the first page's table rows (explorer) and to the positions
  table plus the candlestick chart (run view), in a fresh browser context each time (nothing
  cached), median of ``--repeat`` page views; between page views the server gets ``--settle``
  seconds to refill its preheated kernel pool (as it would between visitors).  The first view
  after a server start, while the pool is still starting, is reported apart
  (``cold_start_s``).  The registry is vacuumed and analysed after the bulk fill, as
  autovacuum would have done.

Targets (issue 7): first page under 2 s, run view under 3 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results_io import report_header, save_report

REPO = Path(__file__).resolve().parents[1]
PG = os.environ.get("COINBT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
DB = "coinbt_bench_dash"
SHARED = Path(os.environ.get("COINBT_SHARED_DATA", REPO.parent / "shared" / "data" / "real"))
TOKEN = "bench-dashboards-token"
TARGETS = {"first_page_s": 2.0, "run_view_s": 3.0}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def scratch_database() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    return f"{PG}/{DB}"


def fill(registry: Any, count: int, rng: np.random.Generator) -> None:
    """Add ``count`` synthetic finished backtest rows (bulk inserts of 5,000)."""
    from datetime import UTC, datetime, timedelta

    from coinbt.storage.models import Run

    strategies = ["volume_zone_breakout", "volume_long_candle", "sma_cross", "my_breakout"]
    symbols = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "BTC-KRW", "ETH-KRW"]
    now = datetime.now(UTC)
    for start in range(0, count, 5000):
        n = min(5000, count - start)
        rows = []
        for k in range(n):
            ret = float(rng.normal(0.02, 0.3))
            rows.append({
                "run_id": uuid.uuid4().hex[:16], "kind": "backtest", "status": "finished",
                "created": now - timedelta(minutes=int(rng.integers(0, 500_000))),
                "finished": now, "strategy": strategies[k % 4],
                "params": {"window": int(rng.integers(5, 100))}, "exchange": "binance",
                "symbol": symbols[k % 6], "symbols": [symbols[k % 6]],
                "timeframe": ("1h", "4h", "1d")[k % 3], "engine": {"fee_rate": 0.001},
                "total_return": ret, "cagr": ret / 2, "sharpe": float(rng.normal(0.3, 1.0)),
                "sortino": float(rng.normal(0.4, 1.2)),
                "max_drawdown": -float(abs(rng.normal(0.2, 0.1))),
                "n_trades": int(rng.integers(0, 2000)), "win_rate": float(rng.uniform(0.3, 0.6)),
                "profit_factor": float(rng.uniform(0.6, 1.6)), "exposure": float(rng.uniform()),
                "coinbt_version": "bench", "artifact_uri": "", "tags": ["bench"],
            })  # fmt: skip
        with registry.engine.begin() as conn:
            conn.execute(Run.__table__.insert(), rows)
    with registry.engine.connect() as conn:  # what autovacuum does after a bulk load
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE runs")


def big_run(registry: Any, root: Path) -> tuple[str, int]:
    """A real run with 10,000+ trades: sma_cross(2) on Kraken 1m BTC-USDC candles."""
    import coinbt
    from coinbt.data.importer import import_file

    source = SHARED / "kraken" / "BTC-USDC_1m.parquet"
    import_file(source, exchange="kraken", symbol="BTC-USDC", timeframe="1m", root=root)
    result = coinbt.backtest("sma_cross", "BTC-USDC", "1m", exchange="kraken",
                             params={"window": 2}, fee_rate=0.0005)  # fmt: skip
    registry.record(result)
    return result.run_id, len(result.trades)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dashboard(url: str, artifacts: Path, data_root: Path, logfile: Path) -> tuple[Any, str]:
    port = free_port()
    env = dict(os.environ, COINBT_REGISTRY_URL=url, COINBT_ARTIFACTS_URI=str(artifacts),
               COINBT_DATA_ROOT=str(data_root))  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "coinbt.cli.main", "dashboard", "--port", str(port),
         "--token", TOKEN, "--registry-url", url],
        env=env, stdout=logfile.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/?token={TOKEN}", timeout=5):
                return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dashboard did not start:\n{logfile.read_text()}") from None
            time.sleep(0.5)


def stop(proc: Any) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def page_views(browser: Any, url: str, ready: list[str], repeat: int, settle: float) -> list[float]:
    """Seconds to ``ready`` for ``repeat`` page views, each in a new browser context."""
    times = []
    for _ in range(repeat):
        time.sleep(settle)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=120_000)
        for selector in ready:
            page.wait_for_selector(selector, state="attached", timeout=120_000)
        times.append(time.perf_counter() - t0)
        context.close()
    return times


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    from coinbt.storage import Registry

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3, help="page views timed (median)")
    ap.add_argument("--settle", type=float, default=8.0, help="seconds between page views")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="coinbt-bench-dash-"))
    url = scratch_database()
    reg = Registry(url, tmp / "artifacts")
    rng = np.random.default_rng(7)
    report: dict[str, Any] = {**report_header("dashboards"), "explorer": [], "targets": TARGETS}
    os.environ["COINBT_DATA_ROOT"] = str(tmp / "data")
    log("recording a run with 10,000+ trades …")
    run_id, n_trades = big_run(reg, tmp / "data")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        filled = 1
        for size in sorted(args.sizes):
            log(f"filling the registry to {size:,} runs …")
            fill(reg, size - filled, rng)
            filled = size
            proc, base = start_dashboard(url, tmp / "artifacts", tmp / "data", tmp / "dash.log")
            try:
                explorer = f"{base}/voila/render/runs.ipynb?token={TOKEN}"
                cold = page_views(browser, explorer, ["#runs-table tbody tr"], 1, 0.0)[0]
                times = page_views(browser, explorer, ["#runs-table tbody tr"], args.repeat,
                                   args.settle)  # fmt: skip
                row = {"runs": reg.count(), "first_page_s": statistics.median(times),
                       "page_views_s": times, "cold_start_s": cold}  # fmt: skip
                report["explorer"].append(row)
                log(f"{row['runs']:,} runs: first page {row['first_page_s']:.2f} s {times}")
                if size == max(args.sizes):
                    run_url = f"{base}/voila/render/run.ipynb?token={TOKEN}&run={run_id}"
                    times = page_views(browser, run_url,
                                       ["#positions tbody tr", ".js-plotly-plot .boxlayer .trace"],
                                       args.repeat, args.settle)  # fmt: skip
                    report["run_view"] = {"run_id": run_id, "trades": n_trades,
                                          "run_view_s": statistics.median(times),
                                          "page_views_s": times}  # fmt: skip
                    log(f"run view, {n_trades:,} trades: {statistics.median(times):.2f} s {times}")
            finally:
                stop(proc)
        browser.close()
    reg.close()
    worst_page = max(r["first_page_s"] for r in report["explorer"])
    report["met"] = {
        "first_page_under_2s": worst_page < TARGETS["first_page_s"],
        "run_view_under_3s": report["run_view"]["run_view_s"] < TARGETS["run_view_s"],
    }
    lines = [f"coinbt dashboards benchmark — {report['when']} ({os.cpu_count()} cores)"]
    for row in report["explorer"]:
        lines.append(f"explorer first page, {row['runs']:,} runs in PostgreSQL: "
                     f"{row['first_page_s']:.2f} s (target < {TARGETS['first_page_s']:.0f} s)")  # fmt: skip
    rv = report["run_view"]
    lines.append(f"run view, {rv['trades']:,} trades: {rv['run_view_s']:.2f} s "
                 f"(target < {TARGETS['run_view_s']:.0f} s)")  # fmt: skip
    print("\n".join(lines))
    print(save_report("dashboards", report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
