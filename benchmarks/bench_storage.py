"""Storage benchmark: record and load a big run, query a big registry, Parquet against legacy JSON.

    .venv/bin/python -m benchmarks.bench_storage              # everything (~1-2 min here)
    .venv/bin/python -m benchmarks.bench_storage --rows 20000 --json-out /tmp/storage.json

* **record / load**: one ``coinbt.backtest("sma_cross", bars=…)`` on 1e6 tiled Binance BTC-USDT
  1h bars (``benchmarks.workload``), its window chosen so it makes close to 10,000 trades.
  ``Registry.record`` (six artifacts written with their SHA-256, then the rows) into a fresh
  registry each repetition, and ``Registry.load`` (every artifact read and verified, result
  rebuilt).  Local: a SQLite registry and a local artifact folder on this disk.  S3: the same
  through boto3 against a moto server over HTTP on 127.0.0.1 — moto keeps objects in memory,
  so this measures coinbt's and boto3's side plus loopback HTTP, not a real bucket's latency.
* **query**: ``--rows`` (default 100,000) synthetic registry rows (5 strategies, 10 symbols, 4
  timeframes, random metrics, creation times over a year) bulk-inserted into a fresh SQLite
  file and a fresh PostgreSQL schema; then ``Registry.runs(...)`` for a page of 100 with a
  filter and a sort — the DataFrame included.  Median of 20 after 3 warm-ups.  Target: the
  filtered, sorted page under **50 ms on PostgreSQL**.
* **size**: the same result's artifacts (zstd Parquet + JSON) against the predecessor's JSON
  (``legacy_system.md`` §5.4: one object per signal with symbol, type, timestamp, entry and
  exit price, return; a performance-curve point per bar; pretty-printed with indent 2).  Its
  goal was a 95 % reduction; it measured 79-85 % (§6.5).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import workload as W
from benchmarks.results_io import report_header, save_report

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get(
    "COINBT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_TRADES = 10_000
TARGET_PG_PAGE_S = 0.050
N_BARS = 1_000_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(call: Any, reps: int, setup: Any = None) -> list[float]:
    times = []
    for _ in range(reps):
        arg = setup() if setup is not None else None
        gc.collect()
        t0 = time.perf_counter()
        call(arg)
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


# -- the big run ----------------------------------------------------------------------------------


def big_result() -> Any:
    """A 1e6-bar sma_cross backtest whose trade count is the closest to 10,000 over windows."""
    import coinbt

    bars = W.build(N_BARS).frame()
    best = None
    for window in range(30, 61, 2):
        res = coinbt.backtest(
            "sma_cross", bars=bars, params={"window": window, "vol_mult": 1.5}, fee_rate=0.0005
        )
        if best is None or abs(len(res.trades) - TARGET_TRADES) < abs(
            len(best.trades) - TARGET_TRADES
        ):
            best = res
    return best


def record_and_load(result: Any, artifacts: str, reps: int) -> dict[str, Any]:
    from coinbt.storage import Registry

    tmp = Path(tempfile.mkdtemp(prefix="coinbt-bench-storage-"))
    made: list[Any] = []

    def fresh(_: Any = None) -> Any:
        tag = uuid.uuid4().hex[:8]
        root = f"{artifacts}/{tag}" if artifacts.startswith("s3://") else str(tmp / tag)
        reg = Registry(f"sqlite:///{tmp / (tag + '.db')}", root)
        reg.exists("warm-up")  # create + migrate outside the timing
        made.append(reg)
        return reg

    record_times = timed(lambda reg: reg.record(result), reps, setup=fresh)
    reg = made[-1]
    loaded = reg.load(result.run_id)
    assert loaded.trades.equals(result.trades) and loaded.equity.equals(result.equity)
    load_times = timed(lambda _: reg.load(result.run_id), reps)
    sizes = {name: row["bytes"] for name, row in reg.artifacts(result.run_id).items()}
    for r in made:
        r.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "record": summary(record_times),
        "load": summary(load_times),
        "artifact_bytes": sizes,
        "total_bytes": sum(sizes.values()),
    }


def s3_record_and_load(result: Any, reps: int) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "COINBT_S3_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        boto3.client("s3", endpoint_url=env["COINBT_S3_ENDPOINT_URL"]).create_bucket(
            Bucket="coinbt-bench"
        )
        out = record_and_load(result, "s3://coinbt-bench/runs", reps)
        out["endpoint"] = "moto server (in-memory) over HTTP on 127.0.0.1"
        return out
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


# -- a big registry ---------------------------------------------------------------------------------

STRATEGIES = ["sma_cross", "volume_long_candle", "volume_zone_breakout", "rsi", "breakout"]
SYMBOLS = [f"{b}-USDT" for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "AVAX")] + [
    "BTC-KRW",
    "ETH-KRW",
]
TIMEFRAMES = ["15m", "1h", "4h", "1d"]
QUERIES: dict[str, dict[str, Any]] = {
    "strategy + sharpe > 1, by -sharpe": {
        "strategy": "sma_cross",
        "where": {"sharpe": (">", 1.0)},
        "order_by": "-sharpe",
        "limit": 100,
    },
    "symbol + timeframe, newest first": {
        "symbol": "BTC-USDT",
        "timeframe": "1h",
        "order_by": "-created",
        "limit": 100,
    },
    "drawdown > -20% and trades >= 20, by -total_return": {
        "where": {"max_drawdown": (">", -0.2), "n_trades": (">=", 20)},
        "order_by": "-total_return",
        "limit": 100,
    },
    "tag, by -sharpe": {"tags": "grid-7", "order_by": "-sharpe", "limit": 100},
    "everything, page at offset 50,000, by -cagr": {
        "order_by": "-cagr",
        "limit": 100,
        "offset": 50_000,
    },
}
TARGET_QUERY = "strategy + sharpe > 1, by -sharpe"


def synthetic_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    created = rng.uniform(0, 365 * 86_400, n)
    sharpe = rng.normal(0.3, 1.0, n)
    rows = []
    for i in range(n):
        strategy = STRATEGIES[i % len(STRATEGIES)]
        when = now - timedelta(seconds=float(created[i]))
        rows.append(
            {
                "run_id": f"{i:016x}",
                "kind": "backtest",
                "status": "finished",
                "created": when,
                "started": when,
                "finished": when,
                "strategy": strategy,
                "params": {"window": int(10 + i % 90), "vol_mult": float(i % 7) / 2},
                "exchange": "binance",
                "symbol": SYMBOLS[int(rng.integers(len(SYMBOLS)))],
                "symbols": [],
                "timeframe": TIMEFRAMES[int(rng.integers(len(TIMEFRAMES)))],
                "start": "2022-01-01",
                "end": "2023-12-31",
                "engine": {"fee_rate": 0.0005},
                "total_return": float(rng.normal(0.1, 0.5)),
                "cagr": float(rng.normal(0.05, 0.3)),
                "sharpe": float(sharpe[i]),
                "sortino": float(sharpe[i] * 1.3),
                "max_drawdown": float(-rng.uniform(0, 0.8)),
                "n_trades": int(rng.integers(0, 400)),
                "win_rate": float(rng.uniform(0.2, 0.7)),
                "profit_factor": float(rng.uniform(0.5, 2.5)),
                "exposure": float(rng.uniform(0, 1)),
                "data_fingerprint": "0" * 16,
                "coinbt_version": "bench",
                "artifact_uri": None,
                "tags": [f"grid-{i % 50}"],
            }
        )
        rows[-1]["symbols"] = [rows[-1]["symbol"]]
    return rows


def query_registry(url: str, rows: list[dict[str, Any]], reps: int = 20) -> dict[str, Any]:
    from sqlalchemy import text

    from coinbt.storage import Registry
    from coinbt.storage.models import Run

    reg = Registry(url, tempfile.mkdtemp(prefix="coinbt-bench-unused-"))
    t0 = time.perf_counter()
    with reg.engine.begin() as conn:
        for i in range(0, len(rows), 10_000):
            conn.execute(Run.__table__.insert(), rows[i : i + 10_000])
    insert_s = time.perf_counter() - t0
    with reg.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    out: dict[str, Any] = {"rows": len(rows), "bulk_insert_s": insert_s, "queries": {}}
    for name, kwargs in QUERIES.items():
        for _ in range(3):
            page = reg.runs(**kwargs)
        times = timed(lambda _, kw=kwargs: reg.runs(**kw), reps)
        out["queries"][name] = {**summary(times), "rows_returned": len(page)}
    reg.close()
    return out


def postgres_queries(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    schema = f"coinbt_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        return {"skipped": f"PostgreSQL unreachable at {PG_URL}: {str(exc.orig).splitlines()[0]}"}
    try:
        sep = "&" if "?" in PG_URL else "?"
        out = query_registry(f"{PG_URL}{sep}options=-csearch_path%3D{schema}", rows)
        with admin.connect() as conn:
            out["server_version"] = conn.execute(text("SHOW server_version")).scalar()
        return out
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- size against the predecessor's JSON -----------------------------------------------------------


def legacy_json(result: Any, with_curve: bool) -> bytes:
    """The result in the predecessor's result-file shape (§5.4), pretty-printed like its files."""
    trades = result.trades
    symbol = result.spec.symbol
    signals = [
        {
            "symbol": symbol,
            "type": "buy",
            "timestamp": t.isoformat().replace("+00:00", "Z"),
            "entry_price": float(e),
            "exit_price": float(x),
            "return_pct": float(r),
        }
        for t, e, x, r in zip(
            trades["entry_time"],
            trades["entry_price"],
            trades["exit_price"],
            trades["return"],
            strict=True,
        )
    ]
    curve = None
    if with_curve:
        eq = result.equity["equity"]
        norm = (eq / eq.iloc[0]).to_numpy()
        stamps = eq.index.strftime("%Y-%m-%dT%H:%M:%SZ")
        curve = [
            {"timestamp": s, "equity": float(v), "drawdown": None}
            for s, v in zip(stamps, norm, strict=True)
        ]
    doc = {
        "version": "1.1.0",
        "run_id": str(uuid.UUID(int=0)),
        "strategy": result.spec.strategy,
        "params": dict(result.spec.params),
        "start_date": "2021-04-04",
        "end_date": "2135-06-30",
        "timeframe": result.spec.timeframe,
        "total_signals": len(signals),
        "execution_time": 1.0,
        "metadata": {
            "execution_date": "2026-11-26T00:00:00Z",
            "environment": "development",
            "execution_host": "local",
        },
        "description": None,
        "symbols": [
            {
                "symbol": symbol,
                "is_active": True,
                "win_rate": float(result.stats.get("win_rate") or 0.0),
                "avg_return": float(trades["return"].mean() * 100),
                "max_drawdown": float(-(result.stats.get("max_drawdown") or 0.0) * 100),
                "avg_hold_bars": 1.0,
                "signals": signals,
                "performance_curve": curve,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def legacy_fields_parquet(result: Any) -> int:
    """The predecessor's six signal fields, and nothing more, as a coinbt Parquet table."""
    import pandas as pd

    from coinbt.storage.artifacts import table_bytes

    t = result.trades
    frame = pd.DataFrame(
        {
            "symbol": t["symbol"],
            "type": pd.Categorical(["buy"] * len(t)),
            "timestamp": t["entry_time"],
            "entry_price": t["entry_price"],
            "exit_price": t["exit_price"],
            "return_pct": t["return"],
        }
    )
    return len(table_bytes(frame))


def sizes(result: Any, artifact_bytes: dict[str, int]) -> dict[str, Any]:
    signals_json = len(legacy_json(result, with_curve=False))
    same_fields = legacy_fields_parquet(result)
    full_json = len(legacy_json(result, with_curve=True))
    trades_pq = artifact_bytes["trades.parquet"]
    total_pq = sum(artifact_bytes.values())
    return {
        "trades": len(result.trades),
        "bars": len(result.equity),
        "same_fields": {
            "legacy_json_bytes": signals_json,
            "parquet_bytes": same_fields,
            "reduction": 1 - same_fields / signals_json,
        },
        "trades_only": {
            "legacy_json_bytes": signals_json,
            "trades_parquet_bytes": trades_pq,
            "reduction": 1 - trades_pq / signals_json,
        },
        "whole_result": {
            "legacy_json_bytes": full_json,
            "coinbt_artifacts_bytes": total_pq,
            "reduction": 1 - total_pq / full_json,
        },
        "legacy_measured_reduction": "78.8-85.2 % (1e3-1e5 signals, legacy_system.md §6.5)",
        "legacy_goal_reduction": 0.95,
    }


# -- driver ---------------------------------------------------------------------------------------


def fmt_s(s: float) -> str:
    return f"{s * 1e3:8.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000, help="registry rows for the query test")
    ap.add_argument("--reps", type=int, default=5, help="record/load repetitions")
    ap.add_argument("--no-s3", action="store_true", help="skip the moto S3 record/load")
    ap.add_argument("--json-out", help="also write the JSON here")
    args = ap.parse_args(argv)

    log("building a 1e6-bar result with ~10,000 trades …")
    result = big_result()
    log(f"  {len(result.trades):,} trades, {len(result.equity):,} equity points")
    report: dict[str, Any] = {
        **report_header("storage"),
        "run": {"trades": len(result.trades), "equity_points": len(result.equity)},
    }
    log("record/load, local …")
    report["local"] = record_and_load(result, "", args.reps)
    if not args.no_s3:
        log("record/load, S3 (moto) …")
        report["s3"] = s3_record_and_load(result, args.reps)
    report["size"] = sizes(result, report["local"]["artifact_bytes"])

    log(f"query: {args.rows:,} rows …")
    rows = synthetic_rows(args.rows)
    with tempfile.TemporaryDirectory(prefix="coinbt-bench-sqlite-") as tmp:
        report["query_sqlite"] = query_registry(f"sqlite:///{tmp}/registry.db", rows)
    report["query_postgresql"] = postgres_queries(rows)
    pg = report["query_postgresql"]
    pg_target = pg.get("queries", {}).get(TARGET_QUERY, {}).get("median_s")
    report["targets"] = {
        "postgresql_filtered_sorted_page_under_50ms": {
            "target_s": TARGET_PG_PAGE_S,
            "measured_s": pg_target,
            "met": None if pg_target is None else pg_target < TARGET_PG_PAGE_S,
        },
        "parquet_reduction_95pct_whole_result": {
            "measured": report["size"]["whole_result"]["reduction"],
            "met": report["size"]["whole_result"]["reduction"] >= 0.95,
        },
    }

    lines = [
        f"record/load: {len(result.trades):,} trades, {len(result.equity):,} equity points",
        f"  local  record {fmt_s(report['local']['record']['median_s'])}   "
        f"load {fmt_s(report['local']['load']['median_s'])}   "
        f"({report['local']['total_bytes'] / 1e6:.1f} MB)",
    ]
    if "s3" in report:
        lines.append(
            f"  S3     record {fmt_s(report['s3']['record']['median_s'])}   "
            f"load {fmt_s(report['s3']['load']['median_s'])}   (moto over HTTP)"
        )
    sz = report["size"]
    lines += [
        "size against the predecessor's JSON (indent 2):",
        f"  its 6 signal fields  {sz['same_fields']['legacy_json_bytes'] / 1e6:7.2f} MB -> "
        f"{sz['same_fields']['parquet_bytes'] / 1e6:6.2f} MB  "
        f"({sz['same_fields']['reduction']:.1%} smaller)",
        f"  coinbt trades (15 columns) {sz['trades_only']['legacy_json_bytes'] / 1e6:7.2f} MB -> "
        f"{sz['trades_only']['trades_parquet_bytes'] / 1e6:6.2f} MB  "
        f"({sz['trades_only']['reduction']:.1%} smaller)",
        f"  whole result + curve {sz['whole_result']['legacy_json_bytes'] / 1e6:7.2f} MB -> "
        f"{sz['whole_result']['coinbt_artifacts_bytes'] / 1e6:6.2f} MB  "
        f"({sz['whole_result']['reduction']:.1%} smaller)",
    ]
    for label, key in (("SQLite", "query_sqlite"), ("PostgreSQL", "query_postgresql")):
        q = report[key]
        if "skipped" in q:
            lines.append(f"query {label}: skipped — {q['skipped']}")
            continue
        lines.append(f"query {label}: {q['rows']:,} rows (bulk insert {q['bulk_insert_s']:.1f} s)")
        for name, t in q["queries"].items():
            lines.append(f"  {fmt_s(t['median_s'])}  {name}  [{t['rows_returned']} rows]")
    met = report["targets"]["postgresql_filtered_sorted_page_under_50ms"]["met"]
    lines.append(
        f"target PostgreSQL page < 50 ms: {'met' if met else 'NOT met' if met is False else 'not measured'}"
    )
    text = "\n".join(lines)
    print(text)

    print(save_report("storage", report, args.json_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
