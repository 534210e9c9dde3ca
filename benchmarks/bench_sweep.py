"""Parameter-sweep benchmark: ``coinbt.sweep`` against vectorbt's broadcasting sweep.

    .venv/bin/python -m benchmarks.bench_sweep                 # everything (~2-4 min)
    .venv/bin/python -m benchmarks.bench_sweep --skip-backtesting --json-out /tmp/sweep.json

Workload: ``sma_cross`` with window ∈ {10, 20, …, 100} × vol_mult ∈ linspace(1.0, 2.5, 10)
(100 trials) on 1e5 tiled Binance BTC-USDT 1h bars (``benchmarks.workload``), fee 0.05 % per
side, next-open fills, all-in sizing, 10,000 USDT.

* **coinbt**: ``coinbt.sweep(..., n_jobs=2, progress=False)`` returning the trial table with
  total_return, cagr, sharpe, sortino, max_drawdown, ..., run ids. Warm = median of repeated
  calls in this process; first call = a fresh interpreter, with the on-disk numba cache warm
  and with an empty cache (compilation included).
* **vectorbt**: entries/exits of all 100 combinations as 2-D arrays (``vbt.MA.run`` for the
  SMAs, broadcasting for the volume filter), shifted one bar for next-open fills, then ONE
  ``Portfolio.from_signals(close, entries, exits, price=open, fees=0.0005, size=np.inf,
  init_cash=10000, freq="1h")`` and ``total_return()`` + ``sharpe_ratio()`` per column.
* **backtesting.py**: ``Backtest.optimize`` over the same grid in a subprocess, abandoned after
  ``--bt-timeout`` seconds (one single run is timed first to give an estimate).
* **memory**: peak RSS (``VmHWM`` of ``/proc/self/status``) of a fresh subprocess per size:
  100 trials (the grid), 1,000 and 10,000 trials (random search over window ∈ [10, 100],
  vol_mult ∈ [1.0, 2.5]); the RSS after loading data and warming up is reported next to it.
* **volume_zone_breakout**: a 1,000-trial grid (volume_window × top_percentile ×
  breakout_buffer, 10 × 10 × 10) on the same bars, on the fast path (one profile per
  volume_window/top_percentile) and on the generic per-trial path, which must give the same
  table; if the strategy is not registered (``--wait`` seconds of polling) it is reported as
  pending.

Correctness: every coinbt trial's final equity must equal a single ``coinbt.backtest`` run
(exactly); vectorbt's per-column total return is compared with coinbt's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import workload as W
from benchmarks.peers import bars_frame

REPO = Path(__file__).resolve().parents[1]
N_BARS = 100_000
WINDOWS = list(range(10, 101, 10))
VOL_MULTS = [float(v) for v in np.linspace(1.0, 2.5, 10)]
FEE_RATE = 0.0005
INIT_CASH = 10_000.0
TARGET_WARM_S = 0.100
TARGET_VS_VECTORBT = 10.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_frame(n: int = N_BARS) -> Any:
    return bars_frame(W.tile(W.load_source(), n))


def timed(call: Any, reps: int) -> tuple[list[float], Any]:
    times, last = [], None
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        last = call()
        times.append(time.perf_counter() - t0)
    return times, last


def coinbt_sweep(df: Any, **kw: Any) -> Any:
    import coinbt.sweeps

    grid = kw.pop("grid", {"window": WINDOWS, "vol_mult": VOL_MULTS})
    return coinbt.sweeps.sweep(
        kw.pop("strategy", "sma_cross"),
        grid,
        bars=df,
        fee_rate=FEE_RATE,
        init_cash=INIT_CASH,
        n_jobs=kw.pop("n_jobs", 2),
        progress=False,
        **kw,
    )


# --------------------------------------------------------------------------------------------
# children (fresh interpreters)
# --------------------------------------------------------------------------------------------


def child_first_call() -> dict[str, Any]:
    t0 = time.perf_counter()
    import coinbt.sweeps  # noqa: F401

    t_import = time.perf_counter() - t0
    df = bench_frame()
    t1 = time.perf_counter()
    coinbt_sweep(df)
    first = time.perf_counter() - t1
    t2 = time.perf_counter()
    coinbt_sweep(df)
    return {"import_s": t_import, "first_call_s": first, "second_call_s": time.perf_counter() - t2}


def _vm_hwm_bytes() -> int:
    """Peak resident set size of this process (``VmHWM``; not inherited from the parent,
    unlike ``getrusage``'s ``ru_maxrss``, which survives ``fork`` + ``exec``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_memory(n_trials: int) -> dict[str, Any]:
    from coinbt.sweeps import Range

    space = {"window": Range(10, 100), "vol_mult": Range(1.0, 2.5)}
    df = bench_frame()
    coinbt_sweep(df, grid={"window": [10, 20], "vol_mult": [1.0, 2.0]})  # JIT / cache load
    coinbt_sweep(df, grid=space, random=8, seed=0)
    gc.collect()
    base = _vm_hwm_bytes()
    t0 = time.perf_counter()
    if n_trials == 100:
        res = coinbt_sweep(df)
    else:
        res = coinbt_sweep(df, grid=space, random=n_trials, seed=1)
    elapsed = time.perf_counter() - t0
    peak = _vm_hwm_bytes()
    return {
        "n_trials": res.n_trials,
        "elapsed_s": elapsed,
        "rss_before_bytes": base,
        "peak_rss_bytes": peak,
        "table_bytes": int(res.trials.memory_usage(deep=True).sum()),
    }


def child_backtesting(timeout: float) -> dict[str, Any]:
    """backtesting.py: one run, then ``optimize`` over the grid (the parent enforces timeout)."""
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    df = bench_frame()
    data = df.rename(columns=str.capitalize)

    class SmaCrossVolume(Strategy):
        window = 20
        vol_mult = 1.5

        def init(self) -> None:
            close = pd.Series(self.data.Close)
            vol = pd.Series(self.data.Volume)
            sma = close.rolling(self.window).mean()
            vsma = vol.rolling(self.window).mean()
            up = (close > sma) & ~(close.shift(1) > sma.shift(1)) & sma.shift(1).notna()
            dn = (close < sma) & ~(close.shift(1) < sma.shift(1)) & sma.shift(1).notna()
            self.entries = (up & (vol > self.vol_mult * vsma)).to_numpy()
            self.exits = (dn & ~up).to_numpy()

        def next(self) -> None:
            i = len(self.data) - 1
            if self.position:
                if self.exits[i]:
                    self.position.close()
            elif self.entries[i]:
                self.buy(size=1.0 - 1e-12)

    globals()["SmaCrossVolume"] = SmaCrossVolume  # picklable for optimize's worker pool
    SmaCrossVolume.__module__ = __name__
    SmaCrossVolume.__qualname__ = "SmaCrossVolume"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            data,
            SmaCrossVolume,
            cash=INIT_CASH,
            commission=FEE_RATE,
            finalize_trades=False,
            fractional_unit=1e-8,
        )
        t0 = time.perf_counter()
        bt.run()
        one = time.perf_counter() - t0
        print(json.dumps({"single_run_s": one}), flush=True)
        t1 = time.perf_counter()
        bt.optimize(window=WINDOWS, vol_mult=VOL_MULTS, maximize="Sharpe Ratio")
        return {"single_run_s": one, "optimize_s": time.perf_counter() - t1}


def run_child(args: list[str], timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run ``--child ARGS`` in a fresh interpreter; on timeout kill its whole process group
    (backtesting.py's worker pool included) and return what it printed so far."""
    import signal

    cmd = [sys.executable, "-m", "benchmarks.bench_sweep", "--child", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        return {"timeout_s": timeout, **(lines[0] if lines else {})}
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"rc {proc.returncode}"}
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# vectorbt
# --------------------------------------------------------------------------------------------


def vectorbt_sweep(df: Any, engine: str) -> tuple[dict[str, float], Any, Any]:
    import pandas as pd
    import vectorbt as vbt

    t0 = time.perf_counter()
    close = df["close"]
    vol = df["volume"]
    ma = vbt.MA.run(close, window=WINDOWS).ma.to_numpy()
    vma = vbt.MA.run(vol, window=WINDOWS).ma.to_numpy()
    c = close.to_numpy()[:, None]
    c_prev = np.vstack([np.full((1, 1), np.nan), c[:-1]])
    ma_prev = np.vstack([np.full((1, ma.shape[1]), np.nan), ma[:-1]])
    with np.errstate(invalid="ignore"):
        up = (c > ma) & ~(c_prev > ma_prev) & ~np.isnan(ma_prev)
        down = (c < ma) & ~(c_prev < ma_prev) & ~np.isnan(ma_prev)
        vm = np.asarray(VOL_MULTS)[None, None, :]
        entries = up[:, :, None] & (vol.to_numpy()[:, None, None] > vm * vma[:, :, None])
    n = len(df)
    entries = entries.reshape(n, -1)  # window-major columns, like coinbt's trial order
    exits = np.repeat(down, len(VOL_MULTS), axis=1)
    entries_2d = _shift2d(entries)  # decision at t -> order at t+1's open
    exits_2d = _shift2d(exits)
    columns = pd.MultiIndex.from_product([WINDOWS, VOL_MULTS], names=["window", "vol_mult"])
    entries_df = pd.DataFrame(entries_2d, index=df.index, columns=columns)
    exits_df = pd.DataFrame(exits_2d, index=df.index, columns=columns)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_signals(
            close,
            entries_df,
            exits_df,
            price=df["open"],
            fees=FEE_RATE,
            size=np.inf,
            init_cash=INIT_CASH,
            freq="1h",
            direction="longonly",
            accumulate=False,
            engine=engine,
        )
        t2 = time.perf_counter()
        total_return = pf.total_return()
        sharpe = pf.sharpe_ratio()
    t3 = time.perf_counter()
    parts = {"signals_s": t1 - t0, "portfolio_s": t2 - t1, "stats_s": t3 - t2, "total_s": t3 - t0}
    return parts, total_return, sharpe


def _shift2d(a: np.ndarray) -> np.ndarray:
    out = np.zeros_like(a)
    out[1:] = a[:-1]
    return out


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def vzb_grid(strat: Any) -> dict[str, list[Any]]:
    """10 × 10 × 10 over the three breakout parameters, inside their declared bounds."""
    wanted = {
        "volume_window": np.linspace(5, 50, 10),
        "top_percentile": np.linspace(0.05, 0.5, 10),
        "breakout_buffer": np.linspace(0.0, 0.009, 10),
    }
    grid: dict[str, list[Any]] = {}
    for name, values in wanted.items():
        p = strat.params.get(name)
        if p is None:
            continue
        lo = -np.inf if p.min is None else p.min
        hi = np.inf if p.max is None else p.max
        vals = np.clip(values, lo, hi)
        grid[name] = list(
            dict.fromkeys(int(round(v)) if p.type is int else round(float(v), 10) for v in vals)
        )
    return grid


def vzb_generic(strat: Any) -> Any:
    """The same strategy behind another function object: no fast path, one call per trial."""
    from coinbt.strategies import Strategy
    from coinbt.strategies.volume_zone_breakout import volume_zone_breakout

    def wrapped(bars: Any, **params: Any) -> Any:
        return volume_zone_breakout(bars, **params)

    return Strategy(
        name=strat.name, fn=wrapped, params=strat.params, builtin=True, settings=strat.settings
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=15, help="warm repetitions for coinbt (15)")
    ap.add_argument("--vbt-reps", type=int, default=3, help="warm repetitions for vectorbt (3)")
    ap.add_argument("--bt-timeout", type=float, default=90.0, help="backtesting.py limit, s")
    ap.add_argument("--skip-backtesting", action="store_true", help="do not run backtesting.py")
    ap.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to poll for volume_zone_breakout to be registered (0)",
    )
    ap.add_argument(
        "--json-out",
        help="also write the results as JSON to this path (they always go to benchmarks/results/sweep-*.json)",
    )
    args = ap.parse_args(argv)

    if args.child:
        kind = args.child[0]
        if kind == "first":
            out = child_first_call()
        elif kind == "memory":
            out = child_memory(int(args.child[1]))
        else:
            out = child_backtesting(float(args.child[1]))
        print(json.dumps(out), flush=True)
        return 0

    import coinbt

    results: dict[str, Any] = {
        "n_bars": N_BARS,
        "grid": {"window": WINDOWS, "vol_mult": VOL_MULTS},
        "load_avg_start": list(os.getloadavg()),
        "cores": os.cpu_count(),
    }
    df = bench_frame()

    log("coinbt: first call in this process, then warm repetitions")
    first, res = timed(lambda: coinbt_sweep(df), 1)
    warm, res = timed(lambda: coinbt_sweep(df), args.reps)
    serial, _ = timed(lambda: coinbt_sweep(df, n_jobs=1), max(3, args.reps // 3))
    t0 = time.perf_counter()
    report = res.deflated_sharpe()  # the first coinbt.backtest of the process: loads kernels
    dsr_first_s = time.perf_counter() - t0
    results["coinbt"] = {
        "first_call_in_process_s": first[0],
        "warm_median_s": statistics.median(warm),
        "warm_min_s": min(warm),
        "warm_reps": len(warm),
        "warm_1_thread_median_s": statistics.median(serial),
        "deflated_sharpe_first_s": dsr_first_s,
        "n_trials": res.n_trials,
        "best": {k: (v.item() if hasattr(v, "item") else v) for k, v in res.best().items()},
        "deflated_sharpe": report._asdict(),
    }

    log("correctness: every trial vs a single coinbt.backtest")
    mismatched = []
    for trial, row in res.trials.iterrows():
        single = coinbt.backtest(
            "sma_cross",
            bars=df,
            params=res.params_of(trial),
            fee_rate=FEE_RATE,
            init_cash=INIT_CASH,
        )
        if single.stats["final_equity"] != row["final_equity"] or single.run_id != row["run_id"]:
            mismatched.append(int(trial))
    results["coinbt"]["trials_equal_single_backtests"] = f"{100 - len(mismatched)}/100"
    again = coinbt_sweep(df)
    t0 = time.perf_counter()
    again.deflated_sharpe()
    results["coinbt"]["deflated_sharpe_s"] = time.perf_counter() - t0

    log("coinbt: first call in fresh interpreters (numba cache warm / empty)")
    results["coinbt"]["fresh_warm_cache"] = run_child(["first"], 600)
    with tempfile.TemporaryDirectory() as cache:
        results["coinbt"]["fresh_cold_cache"] = run_child(
            ["first"], 600, {"NUMBA_CACHE_DIR": cache}
        )

    vbt_out: dict[str, Any] = {}
    for engine in ("numba", "rust"):
        log(f"vectorbt ({engine}): first call, then warm repetitions")
        t0 = time.perf_counter()
        vectorbt_sweep(df, engine)
        first_s = time.perf_counter() - t0
        runs = [vectorbt_sweep(df, engine) for _ in range(args.vbt_reps)]
        totals = [r[0]["total_s"] for r in runs]
        parts = {k: statistics.median(r[0][k] for r in runs) for k in runs[0][0]}
        vbt_tr = runs[-1][1].to_numpy()
        ours = res.trials["total_return"].to_numpy()
        close = np.isclose(vbt_tr, ours, rtol=1e-9, atol=1e-12)
        vbt_out[engine] = {
            "first_call_s": first_s,
            "warm_median_s": statistics.median(totals),
            "warm_min_s": min(totals),
            "parts_median_s": parts,
            "total_return_equal_to_coinbt": f"{int(close.sum())}/{close.size}",
            "max_abs_total_return_diff": float(np.max(np.abs(vbt_tr - ours))),
        }
    results["vectorbt"] = vbt_out
    best_vbt = min(v["warm_median_s"] for v in vbt_out.values())
    results["ratio_vectorbt_over_coinbt"] = best_vbt / results["coinbt"]["warm_median_s"]

    if args.skip_backtesting:
        results["backtesting"] = {"skipped": "--skip-backtesting"}
    else:
        log(f"backtesting.py optimize (limit {args.bt_timeout:.0f} s)")
        results["backtesting"] = run_child(["bt", str(args.bt_timeout)], args.bt_timeout)

    log("memory: peak RSS in fresh subprocesses")
    results["memory"] = {str(n): run_child(["memory", str(n)], 900) for n in (100, 1_000, 10_000)}

    log("volume_zone_breakout: 1,000-trial grid")
    from coinbt.strategies import get_strategy

    deadline = time.monotonic() + args.wait
    vzb: dict[str, Any] = {"status": "pending: volume_zone_breakout is not registered yet"}
    while True:
        try:
            strat = get_strategy("volume_zone_breakout")
        except coinbt.ConfigError:
            if time.monotonic() >= deadline:
                break
            time.sleep(min(30.0, max(deadline - time.monotonic(), 0.1)))
            continue
        grid = vzb_grid(strat)
        coinbt_sweep(df, strategy=strat, grid={k: v[:1] for k, v in grid.items()})  # JIT
        t_vzb, r_vzb = timed(
            lambda strat=strat, grid=grid: coinbt_sweep(df, strategy=strat, grid=grid), 1
        )
        vzb = {
            "status": "measured",
            "grid": grid,
            "n_trials": r_vzb.n_trials,
            "elapsed_s": t_vzb[0],
            "trials_per_s": r_vzb.n_trials / t_vzb[0],
            "bar_trials_per_s": r_vzb.n_trials * N_BARS / t_vzb[0],
        }
        log("volume_zone_breakout: the same grid on the generic per-trial path")
        generic = vzb_generic(strat)
        t_gen, r_gen = timed(
            lambda generic=generic, grid=grid: coinbt_sweep(df, strategy=generic, grid=grid), 1
        )
        vzb["generic_elapsed_s"] = t_gen[0]
        vzb["generic_trials_per_s"] = r_gen.n_trials / t_gen[0]
        vzb["fast_equals_generic"] = bool(r_vzb.trials.equals(r_gen.trials))
        break
    results["volume_zone_breakout"] = vzb

    results["load_avg_end"] = list(os.getloadavg())
    print_report(results)
    text = json.dumps(results, indent=2, default=str)
    out_dir = Path(__file__).resolve().parent / "results"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for path in (out_dir / f"sweep-{stamp}.json", out_dir / "sweep-latest.json"):
        path.write_text(text)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(f"wrote benchmarks/results/sweep-{stamp}.json and sweep-latest.json")
    return 0


def print_report(r: dict[str, Any]) -> None:
    c = r["coinbt"]
    ms = 1e3
    print(
        f"\nsma_cross sweep, 100 trials on {r['n_bars']:,} bars (fee 0.05 %, next open); "
        f"{r['cores']} cores, load average (1 min) {r['load_avg_start'][0]:.2f} at start, "
        f"{r['load_avg_end'][0]:.2f} at end"
    )
    print(f"{'engine':<44}{'warm median':>14}{'warm min':>12}{'first call':>14}")
    print(
        f"{'coinbt.sweep (2 threads)':<44}{c['warm_median_s'] * ms:>11.1f} ms"
        f"{c['warm_min_s'] * ms:>9.1f} ms{c['first_call_in_process_s']:>12.2f} s"
    )
    print(f"{'coinbt.sweep (1 thread)':<44}{c['warm_1_thread_median_s'] * ms:>11.1f} ms")
    for engine, v in r["vectorbt"].items():
        print(
            f"{'vectorbt ' + engine + ': signals+from_signals+stats':<44}"
            f"{v['warm_median_s'] * ms:>11.1f} ms{v['warm_min_s'] * ms:>9.1f} ms"
            f"{v['first_call_s']:>12.2f} s"
        )
        p = v["parts_median_s"]
        print(
            f"    signals {p['signals_s'] * ms:.0f} ms, from_signals {p['portfolio_s'] * ms:.0f} "
            f"ms, total_return+sharpe_ratio {p['stats_s'] * ms:.0f} ms; total_return equal "
            f"to coinbt: {v['total_return_equal_to_coinbt']} (max diff "
            f"{v['max_abs_total_return_diff']:.2e})"
        )
    bt = r["backtesting"]
    if "optimize_s" in bt:
        print(f"{'backtesting.py optimize':<44}{bt['optimize_s']:>12.1f} s")
    else:
        est = bt.get("single_run_s")
        more = f" (one run {est:.1f} s → ~{est * 100:.0f} s serial for 100)" if est else ""
        print(
            f"backtesting.py optimize: skipped — {bt.get('skipped') or bt.get('error') or ''}"
            f"{'> ' + str(int(bt['timeout_s'])) + ' s' if 'timeout_s' in bt else ''}{more}"
        )
    print(
        f"\nvectorbt (fastest) / coinbt: {r['ratio_vectorbt_over_coinbt']:.1f}x "
        f"(target >= {TARGET_VS_VECTORBT:.0f}x); coinbt warm "
        f"{c['warm_median_s'] * ms:.1f} ms (target < {TARGET_WARM_S * ms:.0f} ms)"
    )
    print(
        f"trials equal to single coinbt.backtest runs (final equity, run id): "
        f"{c['trials_equal_single_backtests']}"
    )
    for label in ("fresh_warm_cache", "fresh_cold_cache"):
        f = c[label]
        if "first_call_s" in f:
            print(
                f"fresh interpreter, numba cache {label.split('_')[1]}: import {f['import_s']:.2f}"
                f" s, first sweep {f['first_call_s']:.2f} s, second {f['second_call_s'] * ms:.0f} ms"
            )
    d = c["deflated_sharpe"]
    print(
        f"best: trial {c['best']['window']}/{c['best']['vol_mult']:.3f} sharpe "
        f"{d['sharpe']:.3f}, DSR {d['deflated_sharpe']:.3f} over {d['n_trials']} trials "
        f"(re-run for skew/kurtosis: {c['deflated_sharpe_s'] * ms:.1f} ms warm, "
        f"{c['deflated_sharpe_first_s'] * ms:.0f} ms as the process's first backtest)"
    )
    print("\npeak RSS, fresh subprocess per size (VmHWM):")
    for n, m in r["memory"].items():
        if "peak_rss_bytes" in m:
            print(
                f"  {int(n):>6,} trials: peak {m['peak_rss_bytes'] / 2**20:7.1f} MiB "
                f"(after load + warm-up {m['rss_before_bytes'] / 2**20:7.1f} MiB), "
                f"{m['elapsed_s']:.2f} s, trial table {m['table_bytes'] / 2**20:.2f} MiB"
            )
        else:
            print(f"  {n} trials: {m}")
    v = r["volume_zone_breakout"]
    if v["status"] == "measured":
        print(
            f"\nvolume_zone_breakout grid: {v['n_trials']:,} trials on {r['n_bars']:,} bars in "
            f"{v['elapsed_s']:.2f} s = {v['trials_per_s']:.0f} trials/s "
            f"({v['bar_trials_per_s'] / 1e6:.1f} M bar-trials/s); generic per-trial path "
            f"{v['generic_elapsed_s']:.2f} s = {v['generic_trials_per_s']:.0f} trials/s; "
            f"identical tables: {v['fast_equals_generic']}"
        )
    else:
        print(f"\nvolume_zone_breakout: {v['status']}")


if __name__ == "__main__":
    sys.exit(main())
