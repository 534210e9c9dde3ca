"""One backtest in a fresh interpreter: import, load, first call (and a second one), or memory.

Run by path, not with ``-m``, so nothing but the standard library is imported before the
clock starts:

    python benchmarks/fresh_process.py --engine coinbt --data bars.npz --mode first
    python benchmarks/fresh_process.py --engine vectorbt_rust --data bars.npz --mode memory

The numba cache is whatever ``NUMBA_CACHE_DIR`` points to (the parent sets it: an empty
directory for a cold cache, the same directory again for a warm one). The result is one JSON
line on stdout prefixed with ``RESULT_JSON:``; times are ``time.time()`` wall-clock stamps so the
parent can subtract its own spawn stamp.

``--mode memory`` measures the peak resident set size of one full-size backtest: imports, data
and a warm-up run on the first ``--warm-bars`` bars (loads/compiles the JIT code) come first;
then the kernel's peak-RSS mark is reset (``/proc/self/clear_refs`` ← 5, Linux ≥ 4.0), the
current RSS (``VmRSS``) is read, one full backtest runs, and the peak (``VmHWM``) is read again.
Peak delta = ``VmHWM`` after − ``VmRSS`` before. ``ru_maxrss`` is recorded too, but in a child
of a large process it reports the parent's peak (inherited across fork+exec), so it is not
the figure used.
"""

from __future__ import annotations

import time

T_START = time.time()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _maxrss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _import_engine(engine: str) -> None:
    """The imports a user's script would do for this engine (timed by the caller)."""
    import numpy  # noqa: F401

    if engine == "coinbt":
        import coinbt.engine  # noqa: F401
        import coinbt.metrics  # noqa: F401
        import coinbt.strategies._nb  # noqa: F401
    elif engine == "coinbt_api":
        import pandas  # noqa: F401

        import coinbt

        coinbt.backtest  # noqa: B018  (loads coinbt.api and everything it needs)
    elif engine.startswith("vectorbt"):
        import vectorbt  # noqa: F401
    elif engine == "backtesting":
        import backtesting  # noqa: F401
        import backtesting.lib  # noqa: F401
        import pandas  # noqa: F401
    else:
        raise SystemExit(f"unknown engine {engine!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mode", choices=("first", "memory"), default="first")
    ap.add_argument("--warm-bars", type=int, default=5000)
    args = ap.parse_args()

    out: dict[str, object] = {
        "engine": args.engine,
        "mode": args.mode,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "t_start": T_START,
        "rss_kb_at_start": _status_kb("VmRSS"),
    }
    t0 = time.time()
    _import_engine(args.engine)
    out["t_imported"] = time.time()
    out["import_s"] = out["t_imported"] - t0
    out["rss_kb_after_imports"] = _status_kb("VmRSS")

    sys.path.insert(0, str(REPO))
    import numpy as np

    from benchmarks import peers

    t0 = time.time()
    with np.load(args.data) as z:
        arrays = {k: z[k] for k in z.files}
    out["load_s"] = time.time() - t0
    out["bars"] = int(arrays["close"].shape[0])
    out["rss_kb_after_load"] = _status_kb("VmRSS")
    make = peers.MAKERS[args.engine]

    if args.mode == "first":
        t0 = time.time()
        call = make(arrays)
        out["prepare_s"] = time.time() - t0
        t0 = time.time()
        native = call()
        out["t_result"] = time.time()
        out["first_call_s"] = out["t_result"] - t0
        t0 = time.time()
        call()
        out["second_call_s"] = time.time() - t0
        outcome = peers.NORMALISERS[args.engine](native)
        out["final_equity"] = outcome.final_equity
        out["n_trades"] = outcome.n_trades
    else:
        warm = {k: np.ascontiguousarray(v[: args.warm_bars]) for k, v in arrays.items()}
        make(warm)()
        call = make(arrays)
        del warm
        gc.collect()
        out["peak_reset"] = _reset_peak()
        out["rss_kb_before_run"] = _status_kb("VmRSS")
        out["maxrss_kb_before_run"] = _maxrss_kb()
        t0 = time.time()
        native = call()
        out["run_s"] = time.time() - t0
        out["maxrss_kb_after_run"] = _maxrss_kb()
        out["hwm_kb_after_run"] = _status_kb("VmHWM")
        out["rss_kb_after_run"] = _status_kb("VmRSS")
        # VmHWM is this process's own peak (reset above). ru_maxrss is not usable as the
        # primary figure: after fork+exec it starts at the *parent's* peak RSS (the kernel keeps
        # the pre-exec high-water mark in signal->maxrss), so a big parent masks the child.
        if out["peak_reset"] and out["hwm_kb_after_run"] is not None:
            out["peak_source"] = "VmHWM after clear_refs reset"
            out["peak_delta_kb"] = out["hwm_kb_after_run"] - out["rss_kb_before_run"]
        else:
            out["peak_source"] = "ru_maxrss (no reset possible; may be masked by earlier peaks)"
            out["peak_delta_kb"] = out["maxrss_kb_after_run"] - out["rss_kb_before_run"]
        out["retained_delta_kb"] = out["rss_kb_after_run"] - out["rss_kb_before_run"]
        if out["hwm_kb_after_run"] is not None and out["rss_kb_after_imports"] is not None:
            out["peak_over_imports_kb"] = out["hwm_kb_after_run"] - out["rss_kb_after_imports"]
        del native
    print("RESULT_JSON:" + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
