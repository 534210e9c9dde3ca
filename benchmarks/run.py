"""``make bench``: coinbt against vectorbt and backtesting.py on one SMA-cross workload.

    .venv/bin/python -m benchmarks.run            # full run (~5-10 min on 2 cores)
    .venv/bin/python -m benchmarks.run --quick    # fewer repetitions, sizes up to 1e5

What is measured and how is described in ``benchmarks/README.md``. Results go to
``benchmarks/results/sma_cross-<YYYYMMDD-HHMMSS>.json`` and ``benchmarks/results/latest.json``
(plus the printed tables in ``latest.txt``).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks import workload as W
from coinbt.data import bars_fingerprint

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
FRESH = HERE / "fresh_process.py"

TARGET_WARM_1E6_S = 0.020
TARGET_VS_VECTORBT = 10.0
TARGET_FRESH_WARM_S = 2.0
BTPY_LIMIT_S = 60.0

#: repetitions (after warm-up) per size: full run / --quick
REPS = {
    "coinbt": {10_000: 50, 100_000: 20, 1_000_000: 10},
    "coinbt_part": {10_000: 30, 100_000: 15, 1_000_000: 7},
    "coinbt_api": {10_000: 30, 100_000: 15, 1_000_000: 7},
    "vectorbt": {10_000: 15, 100_000: 10, 1_000_000: 7},
    "backtesting": {10_000: 5, 100_000: 3, 1_000_000: 2},
}
QUICK_DIV = 3

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def measure(call: Callable[[], Any], reps: int, warmup: int) -> tuple[dict[str, Any], Any]:
    """Warm-up calls, then ``reps`` timed calls (``perf_counter``; gc collected before each)."""
    last = None
    for _ in range(warmup):
        last = call()
    times = []
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        last = call()
        times.append(time.perf_counter() - t0)
    return summary(times, warmup), last


def summary(times: list[float], warmup: int) -> dict[str, Any]:
    return {
        "warmup": warmup,
        "reps": len(times),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "mean_s": statistics.fmean(times),
        "times_s": times,
    }


def reps_for(kind: str, n: int, quick: bool) -> int:
    r = REPS[kind].get(n, 3)
    return max(2, r // QUICK_DIV) if quick else r


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or None
    flags = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu in (None, "", "x86_64"):
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and flags is None:
                    fl = line.split(":", 1)[1].split()
                    flags = [x for x in ("avx", "avx2", "avx512f", "fma") if x in fl]
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu_model": cpu,
        "cpu_flags_of_interest": flags,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_total_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        freq = psutil.cpu_freq()
        info["cpu_freq_mhz"] = round(freq.current) if freq else None
    except Exception:  # psutil is optional for the machine record
        pass
    import numba

    info["numba_num_threads"] = numba.config.NUMBA_NUM_THREADS
    info["load_avg_1_5_15_at_start"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    info["versions"] = {
        d: version(d)
        for d in (
            "coinbt",
            "numpy",
            "pandas",
            "numba",
            "llvmlite",
            "vectorbt",
            "vectorbt-rust",
            "backtesting",
            "psutil",
        )
    }
    return info


def coinbt_source() -> dict[str, Any]:
    """Which coinbt code was measured: git commit, uncommitted changes, hash of the sources."""
    out: dict[str, Any] = {}

    def git(*cmd: str) -> str | None:
        try:
            r = subprocess.run(
                ["git", *cmd], cwd=REPO, capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    out["git_commit"] = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", "coinbt")
    out["coinbt_uncommitted_changes"] = None if status is None else bool(status)
    h = hashlib.sha256()
    for f in sorted((REPO / "coinbt").rglob("*.py")):
        h.update(str(f.relative_to(REPO)).encode())
        h.update(f.read_bytes())
    out["coinbt_sources_sha256"] = h.hexdigest()
    return out


def err_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# subprocess runs
# --------------------------------------------------------------------------------------------


def run_child(
    engine: str, data: Path, mode: str, cache_dir: Path | None, timeout: float
) -> dict[str, Any]:
    env = dict(os.environ)
    if cache_dir is None:
        env.pop("NUMBA_CACHE_DIR", None)
    else:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    cmd = [sys.executable, str(FRESH), "--engine", engine, "--data", str(data), "--mode", mode]
    t_spawn = time.time()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(REPO)
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    t_exit = time.time()
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT_JSON:")), None)
    if proc.returncode != 0 or line is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    res = json.loads(line[len("RESULT_JSON:") :])
    res["startup_s"] = res["t_start"] - t_spawn
    res["process_wall_s"] = t_exit - t_spawn
    if "t_result" in res:
        res["to_result_s"] = res["t_result"] - t_spawn
    return res


def fresh_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {"runs": runs}
    if not ok:
        out["error"] = runs[0].get("error") if runs else "no run"
        return out
    for key in (
        "to_result_s",
        "startup_s",
        "import_s",
        "load_s",
        "first_call_s",
        "second_call_s",
        "process_wall_s",
    ):
        vals = [r[key] for r in ok if key in r]
        if vals:
            out[key] = statistics.median(vals)
    out["n"] = len(ok)
    return out


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="coinbt-bench-"))
    try:
        return _main(argv, tmp)
    finally:
        if os.environ.get("COINBT_BENCH_KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _main(argv: list[str] | None, tmp: Path) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, sizes 1e4 and 1e5")
    ap.add_argument("--sizes", type=int, nargs="+", help="bar counts (default 1e4 1e5 1e6)")
    ap.add_argument(
        "--fresh-size", type=int, default=100_000, help="bars for the fresh-process runs"
    )
    ap.add_argument("--no-fresh", action="store_true", help="skip fresh-process runs")
    ap.add_argument("--no-memory", action="store_true", help="skip peak-memory runs")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    quick = args.quick
    sizes = tuple(args.sizes or ((10_000, 100_000) if quick else W.SIZES))
    started = datetime.now(UTC)

    log(f"coinbt benchmark: sma_cross on {', '.join(f'{n:,}' for n in sizes)} bars; temp dir {tmp}")
    result: dict[str, Any] = {
        "benchmark": "sma_cross",
        "created_utc": started.isoformat(timespec="seconds"),
        "command": " ".join(
            [Path(sys.executable).name, "-m", "benchmarks.run", *(argv or sys.argv[1:])]
        ),
        "quick": quick,
        "machine": machine_info(),
        "code": coinbt_source(),
    }

    # ---- workload ------------------------------------------------------------------------
    src = W.load_source()
    wl: dict[int, W.Workload] = {}
    arrays: dict[int, dict[str, np.ndarray]] = {}
    npz: dict[int, Path] = {}
    wl_info: dict[str, Any] = {}
    from coinbt.strategies._nb import sma_cross_signals_nb

    for n in sorted(set(sizes) | ({args.fresh_size} if not args.no_fresh else set())):
        w = W.build(n, src)
        wl[n], arrays[n] = w, w.arrays()
        npz[n] = tmp / f"bars_{n}.npz"
        w.save(npz[n])
        e_nb, x_nb = sma_cross_signals_nb(w.close, w.volume, W.WINDOW, W.VOL_MULT)
        wl_info[str(n)] = {
            "bars": n,
            "copies_of_source": w.copies,
            "first_bar_utc": str(np.datetime64(int(w.timestamps[0]), "ns")),
            "last_bar_utc": str(np.datetime64(int(w.timestamps[-1]), "ns")),
            "first_open": float(w.open[0]),
            "last_close": float(w.close[-1]),
            "entry_signals": int(w.entries.sum()),
            "exit_signals": int(w.exits.sum()),
            "coinbt_signals_equal_pandas": bool(
                np.array_equal(e_nb, w.entries) and np.array_equal(x_nb, w.exits)
            ),
        }
        log(
            f"workload {n:>9,} bars: {w.copies} copies, {w.entries.sum()} entries, "
            f"{w.exits.sum()} exits, coinbt signals == pandas: {wl_info[str(n)]['coinbt_signals_equal_pandas']}"
        )
    result["workload"] = {
        "strategy": (
            "long-only; entry decision at bar t when close crosses above SMA(close,20) "
            "(close[t] > sma[t] and close[t-1] <= sma[t-1]) and volume[t] > 1.5*SMA(volume,20)[t]; "
            "exit decision when close crosses below SMA(20) (close[t] < sma[t] and close[t-1] >= "
            "sma[t-1]); SMA includes bar t; decisions fill at the open of bar t+1; fee 0.05% of "
            "notional per side; all equity in, fractional quantity; init cash 10,000 USDT; an "
            "open position at the end stays open, marked at the last close"
        ),
        "source": W.SOURCE,
        "source_rows": len(src),
        "source_fingerprint": bars_fingerprint(src.set_index("timestamp")),
        "tiling": (
            "copy 0 = source; copy k>=1 = source with timestamps shifted to start 1 h after the "
            "previous copy's last bar (internal gaps kept) and open/high/low/close multiplied by "
            "last_close(copy k-1) / first_open(source), so each copy opens at the previous close; "
            "volume unscaled; concatenated and cut to n bars"
        ),
        "signals": (
            "computed once per size with pandas rolling means (benchmarks.workload.pandas_signals) "
            "and fed to every peer; coinbt's own sma_cross_signals_nb is checked equal to them "
            "(and coinbt's timed pipeline recomputes them with its kernel)"
        ),
        "sizes": wl_info,
    }

    timings: dict[str, dict[str, Any]] = {}
    natives: dict[str, dict[int, Any]] = {}

    def record(key: str, n: int, res: dict[str, Any], native: Any = None) -> None:
        timings.setdefault(key, {})[str(n)] = res
        if native is not None:
            natives.setdefault(key, {})[n] = native

    # ---- coinbt (low-level) ----------------------------------------------------------------
    for n in sizes:
        log(f"coinbt signals+simulate+stats, {n:,} bars")
        res, native = measure(peers.make_coinbt(arrays[n]), reps_for("coinbt", n, quick), 2)
        record("coinbt", n, res, native)
        comps = peers.make_coinbt_components(arrays[n])
        for part, call in comps.items():
            res, _ = measure(call, reps_for("coinbt_part", n, quick), 2)
            record(f"coinbt_{part}", n, res)

    # ---- coinbt public API -----------------------------------------------------------------
    api_error = None
    try:
        probe = peers.make_coinbt_api(arrays[sizes[0]])
        probe()
    except Exception as exc:  # the public path may not be finished yet
        api_error = err_text(exc)
        log(f"coinbt.backtest(..., bars=...) unavailable: {api_error}")
    if api_error is None:
        for n in sizes:
            log(f"coinbt.backtest (public API), {n:,} bars")
            try:
                call = peers.make_coinbt_api(arrays[n])
                res, native = measure(call, reps_for("coinbt_api", n, quick), 2)
                record("coinbt_api", n, res, native)
                # the same call plus materialising the result's trade and equity frames
                res, _ = measure(
                    lambda call=call: (lambda r: (r.trades, r.equity, r))(call()),
                    reps_for("coinbt_api", n, quick),
                    1,
                )
                record("coinbt_api_frames", n, res)
            except Exception as exc:
                api_error = err_text(exc)
                log(f"coinbt.backtest failed at {n:,} bars: {api_error}")
                traceback.print_exc()
                break
            try:  # one part of the public path: the data fingerprint stored in the RunSpec
                df = peers.bars_frame(arrays[n])
                res, _ = measure(
                    lambda df=df: bars_fingerprint(df), reps_for("coinbt_part", n, quick), 1
                )
                record("coinbt_api_fingerprint", n, res)
            except Exception as exc:
                log(f"bars_fingerprint not timed: {err_text(exc)}")
    result["coinbt_api_status"] = "ok" if api_error is None else api_error

    # ---- vectorbt ---------------------------------------------------------------------------
    for engine in ("numba", "rust"):
        for n in sizes:
            log(f"vectorbt {engine}: from_signals + stats(), {n:,} bars")
            try:
                call = peers.make_vectorbt(arrays[n], engine, "stats")
                res, native = measure(call, reps_for("vectorbt", n, quick), 1)
                record(f"vectorbt_{engine}", n, res, native)
                call = peers.make_vectorbt(arrays[n], engine, "total_return")
                res, _ = measure(call, reps_for("vectorbt", n, quick), 1)
                record(f"vectorbt_{engine}_total_return", n, res)
            except Exception as exc:
                log(f"vectorbt {engine} failed: {err_text(exc)}")
                record(f"vectorbt_{engine}", n, {"error": err_text(exc)})
    n_info = sizes[0]
    log(
        f"vectorbt rust with pandas inputs on a tz-aware UTC index (informational), {n_info:,} bars"
    )
    try:
        res, _ = measure(
            peers.make_vectorbt(arrays[n_info], "rust", "stats", pandas_index=True), 3, 1
        )
        record("vectorbt_rust_pandas_tz_index", n_info, res)
    except Exception as exc:
        record("vectorbt_rust_pandas_tz_index", n_info, {"error": err_text(exc)})

    # ---- backtesting.py --------------------------------------------------------------------
    btpy_skip: dict[str, str] = {}
    est = None
    for n in sizes:
        if n >= 1_000_000:
            prev = [m for m in sizes if m < n and str(m) in timings.get("backtesting", {})]
            if prev:
                m = max(prev)
                est = timings["backtesting"][str(m)]["median_s"] * n / m
            if est is None or est > BTPY_LIMIT_S:
                reason = (
                    f"skipped: estimated {est:.0f} s (linear from {max(prev):,} bars) exceeds "
                    f"{BTPY_LIMIT_S:.0f} s"
                    if est is not None
                    else "skipped: no smaller size measured to estimate the run time"
                )
                btpy_skip[str(n)] = reason
                log(f"backtesting.py {n:,} bars {reason}")
                continue
        reps = reps_for("backtesting", n, quick)
        if est is not None and n >= 1_000_000 and est * reps > 40:
            reps = 1
        log(f"backtesting.py FractionalBacktest, {n:,} bars ({reps} reps)")
        res, native = measure(peers.make_backtesting(arrays[n]), reps, 1 if n < 1_000_000 else 0)
        if n >= 1_000_000 and res["median_s"] > BTPY_LIMIT_S:
            res["over_limit"] = f"took {res['median_s']:.0f} s > {BTPY_LIMIT_S:.0f} s"
        record("backtesting", n, res, native)
    result["timings"] = timings
    result["backtesting_skipped"] = btpy_skip

    # ---- correctness ----------------------------------------------------------------------------
    log("correctness: trades and equity of every peer against coinbt")
    correctness: dict[str, Any] = {}
    for n in sizes:
        ref = peers.normalise_coinbt(natives["coinbt"][n])
        row: dict[str, Any] = {}
        for key, tol in (
            ("coinbt_api", 0.0),
            ("vectorbt_numba", 1e-9),
            ("vectorbt_rust", 1e-9),
            ("backtesting", 1e-5),
        ):
            if n not in natives.get(key, {}):
                continue
            try:
                other = peers.NORMALISERS[key](natives[key][n])
                row[key] = peers.compare(ref, other, qty_rtol=tol)
            except Exception as exc:
                row[key] = {"error": err_text(exc)}
        correctness[str(n)] = row
    result["correctness"] = correctness
    result["edge_cases"] = edge_cases(arrays[sizes[0]])
    natives.clear()
    gc.collect()

    # ---- fresh processes ------------------------------------------------------------------------
    fresh: dict[str, Any] = {}
    cache_dirs: dict[str, Path] = {}
    if not args.no_fresh:
        data = npz[args.fresh_size]
        plan = [("coinbt", 3), ("vectorbt_numba", 2), ("vectorbt_rust", 2)]
        if api_error is None:
            plan.insert(1, ("coinbt_api", 3))
        for engine, warm_runs in plan:
            cache = tmp / f"numba-cache-{engine}"
            cache.mkdir()
            cache_dirs[engine] = cache
            log(f"fresh process {engine}: cold numba cache ({args.fresh_size:,} bars)")
            cold = [run_child(engine, data, "first", cache, timeout=900)]
            log(f"fresh process {engine}: warm numba cache x{warm_runs}")
            warm = [run_child(engine, data, "first", cache, timeout=300) for _ in range(warm_runs)]
            fresh[engine] = {"cold_cache": fresh_summary(cold), "warm_cache": fresh_summary(warm)}
            for label, s in (
                ("cold", fresh[engine]["cold_cache"]),
                ("warm", fresh[engine]["warm_cache"]),
            ):
                if "error" in s:
                    log(f"  {label}: error {s['error']}")
                else:
                    log(
                        f"  {label}: start→result {s['to_result_s']:.2f} s (import {s['import_s']:.2f} s, "
                        f"first call {s['first_call_s']:.2f} s)"
                    )
        fresh["bars"] = args.fresh_size
    result["fresh_process"] = fresh

    # ---- peak memory ------------------------------------------------------------------------------
    memory: dict[str, Any] = {}
    if not args.no_memory:
        engines = ["coinbt", "vectorbt_numba", "vectorbt_rust", "backtesting"]
        if api_error is None:
            engines.insert(1, "coinbt_api")
        for engine in engines:
            for n in sizes:
                if engine == "backtesting" and str(n) not in timings.get("backtesting", {}):
                    continue
                cache = cache_dirs.get(engine)
                if cache is None and engine != "backtesting":
                    cache = tmp / f"numba-cache-mem-{engine}"
                    cache.mkdir(exist_ok=True)
                    cache_dirs[engine] = cache
                log(f"peak memory {engine}, {n:,} bars")
                r = run_child(engine, npz[n], "memory", cache, timeout=900)
                memory.setdefault(engine, {})[str(n)] = r
    result["memory"] = memory

    # ---- ratios and targets -----------------------------------------------------------------------
    result["ratios"] = ratios(timings, sizes)
    result["targets"] = targets(timings, fresh, result["ratios"], sizes, api_error is None)
    result["notes"] = notes(result)
    result["elapsed_s"] = time.perf_counter() - _T0
    if hasattr(os, "getloadavg"):
        result["machine"]["load_avg_1_5_15_at_end"] = list(os.getloadavg())

    text = render(result, sizes)
    print()
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    out = args.out_dir / f"sma_cross-{stamp}.json"
    payload = json.dumps(result, indent=2, default=_json_default, allow_nan=False)
    out.write_text(payload)
    (args.out_dir / "latest.json").write_text(payload)
    (args.out_dir / "latest.txt").write_text(text + "\n")
    log(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out} and latest.json")
    return 0


PEER_QTY_RTOL = {"vectorbt_numba": 1e-9, "vectorbt_rust": 1e-9, "backtesting": 1e-5}


def edge_cases(a: dict[str, np.ndarray]) -> dict[str, Any]:
    """End-of-data rules, which the full series may not exercise: the series is cut so that
    the last bar carries an exit decision (the position stays open, marked at the last close)
    or an entry decision (it expires: there is no next open)."""
    sim, _ = peers.make_coinbt(a)()
    tr = sim.trades
    cases = {
        "exit_decision_on_last_bar": int(tr["exit_bar"][-1]),
        "entry_decision_on_last_bar": int(tr["entry_bar"][-1]),
    }
    out: dict[str, Any] = {}
    for name, k in cases.items():
        cut = {key: np.ascontiguousarray(v[:k]) for key, v in a.items()}
        native = peers.make_coinbt(cut)()
        ref = peers.normalise_coinbt(native)
        row: dict[str, Any] = {
            "bars": k,
            "last_bar_entry": bool(cut["entries"][-1]),
            "last_bar_exit": bool(cut["exits"][-1]),
            "coinbt_entry_status_counts": native[0].status_counts,
        }
        for key, tol in PEER_QTY_RTOL.items():
            try:
                other = peers.NORMALISERS[key](peers.MAKERS[key](cut)())
                row[key] = peers.compare(ref, other, qty_rtol=tol)
            except Exception as exc:
                row[key] = {"error": err_text(exc)}
        out[name] = row
        log(f"edge case {name}: {k:,} bars checked")
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _med(timings: dict[str, Any], key: str, n: int) -> float | None:
    r = timings.get(key, {}).get(str(n))
    return r.get("median_s") if r and "median_s" in r else None


def ratios(timings: dict[str, Any], sizes: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in sizes:
        c = _med(timings, "coinbt", n)
        sim = _med(timings, "coinbt_simulate", n)
        row: dict[str, Any] = {"coinbt_median_s": c}
        vb = {e: _med(timings, f"vectorbt_{e}", n) for e in ("numba", "rust")}
        vb = {e: v for e, v in vb.items() if v is not None}
        if c and vb:
            fastest = min(vb, key=vb.get)
            row["vectorbt_fastest_engine"] = fastest
            row["vectorbt_fastest_over_coinbt"] = vb[fastest] / c
            c_min = timings["coinbt"][str(n)]["min_s"]
            vb_min = min(timings[f"vectorbt_{e}"][str(n)]["min_s"] for e in vb)
            row["vectorbt_fastest_over_coinbt_using_min"] = vb_min / c_min
            for e, v in vb.items():
                row[f"vectorbt_{e}_over_coinbt"] = v / c
        vt = {e: _med(timings, f"vectorbt_{e}_total_return", n) for e in ("numba", "rust")}
        vt = {e: v for e, v in vt.items() if v is not None}
        if sim and vt:
            fastest = min(vt, key=vt.get)
            row["engine_only_vectorbt_fastest_engine"] = fastest
            row["engine_only_vectorbt_over_coinbt_simulate"] = vt[fastest] / sim
        b = _med(timings, "backtesting", n)
        if c and b:
            row["backtesting_over_coinbt"] = b / c
        api = _med(timings, "coinbt_api", n)
        if api:
            row["coinbt_api_median_s"] = api
            if vb:
                row["vectorbt_fastest_over_coinbt_api"] = min(vb.values()) / api
            if b:
                row["backtesting_over_coinbt_api"] = b / api
        out[str(n)] = row
    out["definitions"] = {
        "vectorbt_*_over_coinbt": "median of vectorbt from_signals + pf.stats() / median of coinbt "
        "sma_cross_signals_nb + simulate + compute_stats (coinbt also computes its signals; "
        "vectorbt gets them precomputed)",
        "engine_only_vectorbt_over_coinbt_simulate": "median of vectorbt from_signals + "
        "pf.total_return() / median of coinbt simulate alone (precomputed signals)",
        "backtesting_over_coinbt": "median of FractionalBacktest(...).run() (includes its stats) / "
        "coinbt signals + simulate + compute_stats",
    }
    return out


def targets(
    timings: dict[str, Any],
    fresh: dict[str, Any],
    rat: dict[str, Any],
    sizes: tuple[int, ...],
    api_ok: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n = 1_000_000
    if str(n) in timings.get("coinbt", {}):
        med = timings["coinbt"][str(n)]["median_s"]
        t: dict[str, Any] = {
            "target": "1e6 bars < 20 ms warm (signals + simulate + stats, median)",
            "median_s": med,
            "min_s": timings["coinbt"][str(n)]["min_s"],
            "pass": med < TARGET_WARM_1E6_S,
            "pass_on_min": timings["coinbt"][str(n)]["min_s"] < TARGET_WARM_1E6_S,
        }
        api = _med(timings, "coinbt_api", n)
        if api is not None:
            t["public_api_median_s"] = api
            t["public_api_pass"] = api < TARGET_WARM_1E6_S
        out["warm_1e6_under_20ms"] = t
    per = {
        str(m): rat[str(m)].get("vectorbt_fastest_over_coinbt")
        for m in sizes
        if rat.get(str(m), {}).get("vectorbt_fastest_over_coinbt") is not None
    }
    if per:
        out["10x_faster_than_vectorbt_fastest"] = {
            "target": ">= 10x faster than vectorbt's fastest engine (from_signals + stats) at every size",
            "ratio_by_size": per,
            "pass_by_size": {k: v >= TARGET_VS_VECTORBT for k, v in per.items()},
            "pass": all(v >= TARGET_VS_VECTORBT for v in per.values()),
            "ratio_by_size_using_min": {
                str(m): rat[str(m)].get("vectorbt_fastest_over_coinbt_using_min") for m in sizes
            },
            "engine_only_ratio_by_size": {
                str(m): rat[str(m)].get("engine_only_vectorbt_over_coinbt_simulate") for m in sizes
            },
        }
    key = "coinbt_api" if api_ok and "coinbt_api" in fresh else "coinbt"
    warm = fresh.get(key, {}).get("warm_cache", {})
    if "to_result_s" in warm:
        t = {
            "target": "fresh process, first backtest < 2 s with a warm numba cache "
            "(process spawn → result, imports and data load included)",
            "path": "coinbt.backtest (public API)"
            if key == "coinbt_api"
            else "low-level coinbt "
            "(signals kernel + simulate + compute_stats; public API unavailable)",
            "to_result_s": warm["to_result_s"],
            "pass": warm["to_result_s"] < TARGET_FRESH_WARM_S,
        }
        low = fresh.get("coinbt", {}).get("warm_cache", {})
        if key != "coinbt" and "to_result_s" in low:
            t["low_level_to_result_s"] = low["to_result_s"]
        out["fresh_process_warm_under_2s"] = t
    return out


def notes(result: dict[str, Any]) -> list[str]:
    out = [
        "vectorbt: orders are placed on the bar AFTER the decision (entries/exits shifted forward "
        "one bar) with price=open, so a decision at bar t's close fills at open[t+1], exactly "
        "coinbt's fill='next_open'; a decision on the last bar falls off the end (coinbt: "
        "'expired_end_of_data' / pending exit never fills).",
        "vectorbt size=np.inf buys qty = (cash/(1+fees))/price; coinbt equity_fraction=1 buys "
        "qty = cash/(price*(1+fee_rate)); algebraically identical, they differ only in float "
        "rounding (see max_rel_diff_quantity).",
        "backtesting.py: FractionalBacktest trades whole units of 1e-8 BTC (fractional_unit) and "
        "buy(size=1-1e-12) sizes floor(cash*(1-1e-12) / (open*(1+commission))) units at the "
        "next open, so its quantity is up to one unit (1e-8 BTC) smaller than coinbt's and the "
        "unspent remainder stays in cash; finalize_trades=False leaves the last position open "
        "(marked at the last close) as coinbt does with close_at_end=False.",
        "backtesting.py's progress bar (tqdm) is replaced by a plain iterator in the timed runs.",
        "Peak memory: in a subprocess, the kernel's peak-RSS mark is reset "
        "(/proc/self/clear_refs = 5) just before the measured call; peak = VmHWM after the call "
        "minus VmRSS before it. Imports, input arrays, a warm-up run and JIT code are in the "
        "baseline; the result object is kept, so the figure includes the engine's output. "
        "ru_maxrss is recorded but not used: after fork+exec it starts at the parent's peak "
        "(~the benchmark driver's RSS), which hides the child's own peak.",
    ]
    info = result["timings"].get("vectorbt_rust_pandas_tz_index", {})
    for n, r in info.items():
        if "median_s" in r:
            fast = result["timings"].get("vectorbt_rust", {}).get(n, {}).get("median_s")
            out.append(
                f"vectorbt given pandas Series on a tz-aware UTC DatetimeIndex (coinbt's canonical "
                f"index) took {r['median_s'] * 1e3:.0f} ms at {int(n):,} bars vs "
                f"{(fast or float('nan')) * 1e3:.0f} ms with numpy arrays: it converts the index "
                f"to an object array of Timestamps; all vectorbt timings use numpy arrays + freq='1h'."
            )
    return out


# --------------------------------------------------------------------------------------------
# the printed report
# --------------------------------------------------------------------------------------------


def _ms(r: dict[str, Any] | None) -> str:
    if not r:
        return "—"
    if "error" in r:
        return "error"
    return f"{r['median_s'] * 1e3:,.2f} / {r['min_s'] * 1e3:,.2f} ({r['reps']})"


def render(result: dict[str, Any], sizes: tuple[int, ...]) -> str:
    t = result["timings"]
    m = result["machine"]
    v = m["versions"]
    lines = [
        f"coinbt benchmark sma_cross — {result['created_utc']}",
        f"machine: {m['cpu_model']}, {m['logical_cores']} logical cores, Python {m['python']}, "
        f"numpy {v['numpy']}, numba {v['numba']}, pandas {v['pandas']}, vectorbt {v['vectorbt']} "
        f"(+rust {v['vectorbt-rust']}), backtesting {v['backtesting']}",
        f"coinbt code: commit {str(result['code'].get('git_commit'))[:10]}"
        f"{' + uncommitted changes' if result['code'].get('coinbt_uncommitted_changes') else ''}, "
        f"sources sha256 {result['code']['coinbt_sources_sha256'][:12]}",
        f"load average (1 min) at start / end: {_load(m, 'start')} / {_load(m, 'end')} "
        "(other work on the machine inflates medians more than minima)",
        "",
        "Warm time per backtest, ms: median / min (repetitions) after warm-up",
    ]
    w0 = 46
    colw = 26
    head = f"{'engine':<{w0}}" + "".join(f"{n:>{colw},}" for n in sizes)
    lines += [head, "-" * len(head)]
    rows = [
        ("coinbt: signals + simulate + stats", "coinbt"),
        ("  signals (sma_cross_signals_nb)", "coinbt_signals"),
        ("  simulate", "coinbt_simulate"),
        ("  compute_stats", "coinbt_stats"),
        ("coinbt.backtest(...) public API", "coinbt_api"),
        ("  of which bars_fingerprint(bars)", "coinbt_api_fingerprint"),
        ("  + result.trades / result.equity frames", "coinbt_api_frames"),
        ("vectorbt numba: from_signals + stats()", "vectorbt_numba"),
        ("vectorbt numba: from_signals + total_return", "vectorbt_numba_total_return"),
        ("vectorbt rust: from_signals + stats()", "vectorbt_rust"),
        ("vectorbt rust: from_signals + total_return", "vectorbt_rust_total_return"),
        ("backtesting.py: FractionalBacktest.run()", "backtesting"),
    ]
    for label, key in rows:
        if key == "coinbt_api" and key not in t:
            lines.append(f"{label:<{w0}}unavailable — {result['coinbt_api_status']}"[:160])
            continue
        if key not in t:
            continue
        cells = []
        for n in sizes:
            r = t[key].get(str(n))
            if r is None and key == "backtesting" and str(n) in result["backtesting_skipped"]:
                cells.append("skipped (>60 s est.)")
            else:
                cells.append(_ms(r))
        lines.append(f"{label:<{w0}}" + "".join(f"{c:>{colw}}" for c in cells))

    lines += ["", "Ratios (peer median / coinbt median; > 1 means coinbt is faster)"]
    head = f"{'':<{w0}}" + "".join(f"{n:>{colw},}" for n in sizes)
    lines += [head, "-" * len(head)]
    rat = result["ratios"]

    def rrow(label: str, key: str) -> None:
        cells = []
        for n in sizes:
            val = rat.get(str(n), {}).get(key)
            extra = ""
            if key == "vectorbt_fastest_over_coinbt" and val is not None:
                extra = f" ({rat[str(n)]['vectorbt_fastest_engine']})"
            cells.append("—" if val is None else f"{val:,.1f}x{extra}")
        lines.append(f"{label:<{w0}}" + "".join(f"{c:>{colw}}" for c in cells))

    rrow("vectorbt fastest (+stats) / coinbt", "vectorbt_fastest_over_coinbt")
    rrow("vectorbt numba (+stats) / coinbt", "vectorbt_numba_over_coinbt")
    rrow("vectorbt rust (+stats) / coinbt", "vectorbt_rust_over_coinbt")
    rrow(
        "engine only: vbt total_return / coinbt simulate",
        "engine_only_vectorbt_over_coinbt_simulate",
    )
    rrow("backtesting.py / coinbt", "backtesting_over_coinbt")
    if "coinbt_api" in t:
        rrow("vectorbt fastest / coinbt.backtest", "vectorbt_fastest_over_coinbt_api")
        rrow("backtesting.py / coinbt.backtest", "backtesting_over_coinbt_api")

    fresh = result["fresh_process"]
    if fresh:
        lines += [
            "",
            f"First backtest in a fresh process ({fresh['bars']:,} bars), seconds: spawn→result "
            "[interpreter start + imports + data load + first call]; warm = median",
        ]
        for eng, d in fresh.items():
            if eng == "bars":
                continue
            for label in ("cold_cache", "warm_cache"):
                s = d[label]
                if "error" in s:
                    lines.append(f"  {eng:<16} {label:<11} error: {s['error']}"[:160])
                    continue
                lines.append(
                    f"  {eng:<16} {label:<11} {s['to_result_s']:6.2f}  [{s['startup_s']:.2f} + "
                    f"{s['import_s']:.2f} + {s['load_s']:.3f} + {s['first_call_s']:.2f}]   "
                    f"second call in same process {s['second_call_s'] * 1e3:,.1f} ms"
                )

    mem = result["memory"]
    if mem:
        lines += [
            "",
            "Peak RSS increase during one warm backtest, MiB (subprocess; baseline = RSS just "
            "before the call, after imports, data and a warm-up)",
        ]
        head = f"{'engine':<{w0}}" + "".join(f"{n:>{colw},}" for n in sizes)
        lines += [head, "-" * len(head)]
        for eng, by in mem.items():
            cells = []
            for n in sizes:
                r = by.get(str(n))
                if r is None:
                    cells.append("—")
                elif "error" in r:
                    cells.append("error")
                else:
                    cells.append(
                        f"{r['peak_delta_kb'] / 1024:,.1f} (base {r['rss_kb_before_run'] / 1024:,.0f})"
                    )
            lines.append(f"{eng:<{w0}}" + "".join(f"{c:>{colw}}" for c in cells))

    lines += ["", "Correctness against coinbt (closed trades matched on entry bar + exit bar)"]
    for n, row in result["correctness"].items():
        for peer, c in row.items():
            if "error" in c:
                lines.append(f"  {int(n):>9,} {peer:<15} error: {c['error']}")
                continue
            lines.append(
                f"  {int(n):>9,} {peer:<15} trades {c['peer_trades']}/{c['coinbt_trades']}, "
                f"same bars {c['same_entry_and_exit_bar']}, +prices {c['same_bars_and_fill_prices']}, "
                f"+qty(rtol {c['quantity_rtol_used']:g}) {c['same_bars_prices_and_quantity']}; "
                f"max qty rel diff {_g(c['max_rel_diff_quantity'])}; open pos same "
                f"{c['open_position_same']}; final equity {c['peer_final_equity']:.10g} vs "
                f"{c['coinbt_final_equity']:.10g} (rel diff {c['final_equity_rel_diff']:.2e})"
            )

    for name, row in result.get("edge_cases", {}).items():
        parts = []
        for peer in PEER_QTY_RTOL:
            c = row.get(peer, {})
            if "error" in c:
                parts.append(f"{peer} error")
                continue
            same = (
                c["same_bars_prices_and_quantity"] == c["coinbt_trades"] == c["peer_trades"]
                and c["open_position_same"]
            )
            parts.append(
                f"{peer} {'same' if same else 'DIFFERENT'} (eq rel diff {c['final_equity_rel_diff']:.1e})"
            )
        op = (
            "open position at end"
            if row[next(iter(PEER_QTY_RTOL))].get("coinbt_open_position")
            else "flat at end"
        )
        lines.append(f"  edge: {name} ({row['bars']:,} bars, coinbt {op}): " + ", ".join(parts))

    lines += ["", "Targets"]
    for name, tg in result["targets"].items():
        status = "PASS" if tg["pass"] else "FAIL"
        if name == "warm_1e6_under_20ms":
            detail = f"median {tg['median_s'] * 1e3:.1f} ms, min {tg['min_s'] * 1e3:.1f} ms"
            if "public_api_median_s" in tg:
                detail += f"; public API median {tg['public_api_median_s'] * 1e3:.1f} ms"
        elif name == "10x_faster_than_vectorbt_fastest":
            detail = ", ".join(f"{int(k):,}: {v:.1f}x" for k, v in tg["ratio_by_size"].items())
        else:
            detail = f"{tg['to_result_s']:.2f} s ({tg['path']})"
        lines.append(f"  [{status}] {tg['target']}: {detail}")
    return "\n".join(lines)


def _load(m: dict[str, Any], when: str) -> str:
    la = m.get(f"load_avg_1_5_15_at_{when}")
    return "—" if not la else f"{la[0]:.2f}"


def _g(x: float | None) -> str:
    return "—" if x is None else f"{x:.2e}"


if __name__ == "__main__":
    raise SystemExit(main())
