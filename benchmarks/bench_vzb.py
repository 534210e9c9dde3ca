"""Speed of the inherited strategies' signal kernels (``volume_zone_breakout``, ``volume_long_candle``).

    .venv/bin/python -m benchmarks.bench_vzb            # ~1 min on 2 cores
    .venv/bin/python -m benchmarks.bench_vzb --quick    # fewer repetitions

Workload: the bundled Binance BTC-USDT 1h candles tiled to 1e3, 1e5 and 1e6 bars
(``benchmarks/workload.py``: ``load_source`` + ``tile``; the same series as ``make bench``).

Measured, warm (one untimed call first, numba compiled or loaded from cache), ``perf_counter``
per call, the garbage collector collected once and then off during a series (as ``timeit``
does), median and min over the repetitions:

* ``volume_zone_breakout`` with its defaults (10, 0.2, 0.0, 20 bins, wicks) and with
  ``volume_window=200``, called as the public function on a DataFrame (what a backtest pays) and
  as the bare kernel on prepared arrays;
* ``volume_long_candle`` with its defaults, the same two ways;
* the plain-Python reference of ``tests/strategy_reference.py`` at 1e3 bars (defaults, and the
  predecessor's parameters 20/0.2/0.0), checked to give the same signals as the kernel;
* the kernel on the predecessor's own 1000-candle performance data with its parameters
  (20, 0.2, 0.0), next to the times it reported for that call (legacy fact sheet §1.5):
  5.1652 s for its original per-window code and 0.2688 s for its "incremental" code (which
  gave different signals).

Results: ``benchmarks/results/vzb-<YYYYMMDD-HHMMSS>.json`` and ``benchmarks/results/vzb-latest.json``;
the table is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import workload as W
from benchmarks.run import coinbt_source, machine_info, summary
from coinbt.strategies._nb import volume_long_candle_nb, volume_zone_breakout_nb
from coinbt.strategies.volume_long_candle import volume_long_candle
from coinbt.strategies.volume_zone_breakout import volume_zone_breakout

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TESTS = HERE.parent / "tests"

SIZES = (1_000, 100_000, 1_000_000)
TARGET_VZB_1E6_S = 0.100  # defaults, warm, public function
#: what the predecessor reported for VZB (20, 0.2, 0.0) on its 1000 synthetic daily candles
LEGACY_1000_S = {"per_window_original": 5.1652, "incremental_official_sla": 0.2688}

VZB_DEFAULTS = {
    "volume_window": 10,
    "top_percentile": 0.2,
    "breakout_buffer": 0.0,
    "num_bins": 20,
    "include_wicks": True,
}
VZB_W200 = {**VZB_DEFAULTS, "volume_window": 200}
VZB_LEGACY = {**VZB_DEFAULTS, "volume_window": 20}
VLC_DEFAULTS = {"vol_ma_window": 20, "vol_multiplier": 1.5, "body_pct": 0.02}

#: repetitions after the warm-up call, by size (full run / --quick)
REPS = {1_000: 100, 100_000: 30, 1_000_000: 15}
REPS_W200 = {1_000: 50, 100_000: 7, 1_000_000: 3}
QUICK_DIV = 3

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f}s] {msg}", flush=True)


def reps(table: dict[int, int], n: int, quick: bool) -> int:
    return max(2, table[n] // QUICK_DIV) if quick else table[n]


def vzb_kernel(a: dict[str, np.ndarray], p: dict[str, Any]) -> Callable[[], Any]:
    args = (
        a["open"],
        a["high"],
        a["low"],
        a["close"],
        a["volume"],
        p["volume_window"],
        p["top_percentile"],
        p["breakout_buffer"],
        p["num_bins"],
        p["include_wicks"],
    )
    return lambda: volume_zone_breakout_nb(*args)


def vlc_kernel(a: dict[str, np.ndarray], p: dict[str, Any]) -> Callable[[], Any]:
    args = (
        a["open"],
        a["high"],
        a["low"],
        a["close"],
        a["volume"],
        p["vol_ma_window"],
        p["vol_multiplier"],
        p["body_pct"],
    )
    return lambda: volume_long_candle_nb(*args)


def measure(call: Callable[[], Any], n_reps: int) -> tuple[dict[str, Any], Any]:
    """One untimed call, then ``n_reps`` timed calls with the garbage collector off (it is
    collected once before the series, as ``timeit`` does)."""
    out = call()
    gc.collect()
    gc.disable()
    try:
        times = []
        for _ in range(n_reps):
            t0 = time.perf_counter()
            out = call()
            times.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return summary(times, 1), out


def timed(label: str, call: Callable[[], Any], n_reps: int, n_bars: int) -> dict[str, Any]:
    stats, out = measure(call, n_reps)
    stats.pop("times_s", None)
    stats["bars_per_s"] = n_bars / stats["median_s"]
    stats["signals"] = int(np.asarray(out[0]).sum())
    log(
        f"  {label:<34} median {stats['median_s'] * 1e3:9.3f} ms   min "
        f"{stats['min_s'] * 1e3:9.3f} ms   ({stats['reps']} reps)"
    )
    return stats


def reference_module() -> Any:
    """``tests/strategy_reference.py`` (the plain-Python reference the tests compare with)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import strategy_reference

    return strategy_reference


def measure_size(source: Any, n: int, ref: Any, quick: bool) -> dict[str, Any]:
    """Every timing at one size."""
    t = W.tile(source, n)
    frame = W.Workload(
        n,
        t["timestamps"],
        t["open"],
        t["high"],
        t["low"],
        t["close"],
        t["volume"],
        np.zeros(n, bool),
        np.zeros(n, bool),
        int(t["copies"]),
    ).frame()
    arrays = {c: np.ascontiguousarray(t[c]) for c in ("open", "high", "low", "close", "volume")}
    r, r200 = reps(REPS, n, quick), reps(REPS_W200, n, quick)
    log(f"{n:,} bars")
    row = {
        "vzb_defaults": timed(
            "vzb defaults (function)", lambda: volume_zone_breakout(frame, **VZB_DEFAULTS), r, n
        ),
        "vzb_defaults_kernel": timed(
            "vzb defaults (kernel)", vzb_kernel(arrays, VZB_DEFAULTS), r, n
        ),
        "vzb_window_200": timed(
            "vzb volume_window=200 (function)",
            lambda: volume_zone_breakout(frame, **VZB_W200),
            r200,
            n,
        ),
        "vlc_defaults": timed(
            "vlc defaults (function)", lambda: volume_long_candle(frame, **VLC_DEFAULTS), r, n
        ),
        "vlc_defaults_kernel": timed(
            "vlc defaults (kernel)", vlc_kernel(arrays, VLC_DEFAULTS), r, n
        ),
    }
    if n == 1_000:
        for key, params in (
            ("reference_vzb_defaults", VZB_DEFAULTS),
            ("reference_vzb_window_20", VZB_LEGACY),
        ):
            stats = timed(
                f"reference {key[14:]} (pure Python)",
                lambda p=params: ref.volume_zone_breakout_reference(frame, **p),
                2 if quick else 5,
                n,
            )
            fast = volume_zone_breakout(frame, **params)[0]
            slow = ref.volume_zone_breakout_reference(frame, **params).entries
            stats["equal_to_kernel"] = bool(np.array_equal(fast, np.array(slow)))
            row[key] = stats
        row["vzb_window_20"] = timed(
            "vzb volume_window=20 (function)",
            lambda: volume_zone_breakout(frame, **VZB_LEGACY),
            r,
            n,
        )
        row["reference_vlc_defaults"] = timed(
            "reference vlc (pure Python)",
            lambda: ref.volume_long_candle_reference(frame, **VLC_DEFAULTS),
            2 if quick else 5,
            n,
        )
    return row


def run(quick: bool) -> dict[str, Any]:
    ref = reference_module()
    log("loading and tiling the bundled Binance BTC-USDT 1h candles")
    source = W.load_source()
    out: dict[str, Any] = {
        "benchmark": "vzb",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.bench_vzb" + (" --quick" if quick else ""),
        "workload": {
            "source": W.SOURCE,
            "source_bars": len(source),
            "sizes": list(SIZES),
            "timing": "warm: 1 untimed call, then perf_counter per call, gc off during a series",
        },
        "params": {
            "vzb_defaults": VZB_DEFAULTS,
            "vzb_window_200": VZB_W200,
            "vlc_defaults": VLC_DEFAULTS,
        },
        "machine": machine_info(),
        "source": coinbt_source(),
        "sizes": {},
    }
    for n in SIZES:
        out["sizes"][str(n)] = measure_size(source, n, ref, quick)

    log("the predecessor's 1000-candle performance data, VZB (20, 0.2, 0.0)")
    legacy = ref.legacy_performance_bars(1000)
    ours = timed(
        "vzb on the predecessor's data",
        lambda: volume_zone_breakout(legacy, **VZB_LEGACY),
        reps(REPS, 1_000, quick),
        1000,
    )
    refl = timed(
        "reference on the predecessor's data",
        lambda: ref.volume_zone_breakout_reference(legacy, **VZB_LEGACY),
        2 if quick else 5,
        1000,
    )
    out["legacy_comparison"] = {
        "data": "legacy §1.5 generator, seed 42, 1000 daily candles",
        "params": VZB_LEGACY,
        "coinbt": ours,
        "reference": refl,
        "predecessor_reported_s": LEGACY_1000_S,
        "speedup_vs_predecessor_per_window": LEGACY_1000_S["per_window_original"]
        / ours["median_s"],
        "speedup_vs_predecessor_incremental": (
            LEGACY_1000_S["incremental_official_sla"] / ours["median_s"]
        ),
        "note": "the predecessor's numbers are single cold runs on a developer laptop (WSL2); "
        "its incremental code gave 885 signals here instead of the per-window 412",
    }
    big = out["sizes"][str(SIZES[-1])]["vzb_defaults"]
    small = out["sizes"]["1000"]
    out["targets"] = {
        "vzb_1e6_defaults_under_s": TARGET_VZB_1E6_S,
        "vzb_1e6_defaults_median_s": big["median_s"],
        "met": big["median_s"] < TARGET_VZB_1E6_S,
    }
    out["throughput_gain_1e3"] = {
        "kernel_vs_reference_defaults": (
            small["reference_vzb_defaults"]["median_s"] / small["vzb_defaults"]["median_s"]
        ),
        "kernel_vs_reference_window_20": (
            small["reference_vzb_window_20"]["median_s"] / small["vzb_window_20"]["median_s"]
        ),
    }
    return out


def table(r: dict[str, Any]) -> str:
    rows = [
        ("volume_zone_breakout defaults", "vzb_defaults"),
        ("  kernel only", "vzb_defaults_kernel"),
        ("volume_zone_breakout volume_window=200", "vzb_window_200"),
        ("volume_long_candle defaults", "vlc_defaults"),
        ("  kernel only", "vlc_defaults_kernel"),
    ]
    sizes = list(r["sizes"])
    head = f"{'warm time, median (min)':<40}" + "".join(f"{int(s):>24,}" for s in sizes)
    lines = [head, "-" * len(head)]
    for label, key in rows:
        cells = []
        for s in sizes:
            m = r["sizes"][s][key]
            cells.append(f"{m['median_s'] * 1e3:10.3f} ({m['min_s'] * 1e3:8.3f}) ms")
        lines.append(f"{label:<40}" + "".join(f"{c:>24}" for c in cells))
    s1 = r["sizes"]["1000"]
    lc = r["legacy_comparison"]
    lines += [
        "",
        "1,000 bars, plain-Python reference vs numba (same signals: "
        f"{s1['reference_vzb_defaults']['equal_to_kernel']}, "
        f"{s1['reference_vzb_window_20']['equal_to_kernel']}):",
        f"  defaults        reference {s1['reference_vzb_defaults']['median_s'] * 1e3:9.2f} ms"
        f"   coinbt {s1['vzb_defaults']['median_s'] * 1e3:7.3f} ms"
        f"   × {r['throughput_gain_1e3']['kernel_vs_reference_defaults']:,.0f}",
        f"  volume_window=20 reference {s1['reference_vzb_window_20']['median_s'] * 1e3:8.2f} ms"
        f"   coinbt {s1['vzb_window_20']['median_s'] * 1e3:7.3f} ms"
        f"   × {r['throughput_gain_1e3']['kernel_vs_reference_window_20']:,.0f}",
        f"  volume_long_candle reference {s1['reference_vlc_defaults']['median_s'] * 1e3:6.2f} ms"
        f"   coinbt {s1['vlc_defaults']['median_s'] * 1e3:7.3f} ms",
        "",
        f"predecessor's 1000-candle data, VZB (20, 0.2, 0.0), {lc['coinbt']['signals']} signals:",
        f"  coinbt {lc['coinbt']['median_s'] * 1e3:.3f} ms (median)  ·  reference "
        f"{lc['reference']['median_s'] * 1e3:.1f} ms  ·  predecessor reported "
        f"{LEGACY_1000_S['per_window_original']} s per-window, "
        f"{LEGACY_1000_S['incremental_official_sla']} s incremental",
        f"  gain: × {lc['speedup_vs_predecessor_per_window']:,.0f} vs its per-window code, "
        f"× {lc['speedup_vs_predecessor_incremental']:,.0f} vs its incremental code",
        "",
        f"target: volume_zone_breakout defaults on 1e6 bars < "
        f"{r['targets']['vzb_1e6_defaults_under_s'] * 1e3:.0f} ms warm: "
        f"{r['targets']['vzb_1e6_defaults_median_s'] * 1e3:.1f} ms → "
        f"{'met' if r['targets']['met'] else 'NOT met'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_vzb",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args(argv)
    result = run(args.quick)
    text = table(result)
    result["table"] = text
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    payload = json.dumps(result, indent=2, default=float)
    (RESULTS / f"vzb-{stamp}.json").write_text(payload)
    (RESULTS / "vzb-latest.json").write_text(payload)
    print()
    print(text)
    print(f"\nwrote benchmarks/results/vzb-{stamp}.json and benchmarks/results/vzb-latest.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
