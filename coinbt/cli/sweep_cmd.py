"""``coinbt sweep``: a grid or random search of one strategy over one or many symbols."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from coinbt.cli.backtest_cmd import _ENGINE_OPTIONS
from coinbt.errors import ConfigError

_DESCRIPTION = """\
Backtest every parameter set of a grid (or a random sample of it) on one or more symbols and
print the number of trials, the best trials and the deflated Sharpe ratio of the best one
(how likely its Sharpe ratio beats what the best of that many skill-less trials would show).

Grid values: --grid window=10,20,30 lists values; --grid vol_mult=1.0:2.5:10 is 10 evenly
spaced values from 1.0 to 2.5 (rounded for int parameters); --grid vol_mult=1.0:2.5 is an
interval that only a random search (--random N) can sample. Each trial fills at the next open
unless --fill close, exactly as `coinbt backtest`.
"""

_EXAMPLE = """\
example:
  coinbt sweep --strategy sma_cross --symbol BTC-USDT --timeframe 1h --exchange binance \\
      --grid window=10:100:10 --grid vol_mult=1.0:2.5:10 --fee-rate 0.0005 --top 5
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` command to a ``coinbt`` sub-command parser."""
    p = sub.add_parser(
        "sweep",
        help="grid or random search of a strategy's parameters",
        description=_DESCRIPTION,
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--strategy", required=True, help="strategy name (see `coinbt strategies`)")
    p.add_argument(
        "--symbol",
        action="append",
        required=True,
        dest="symbols",
        metavar="SYMBOL",
        help="BASE-QUOTE, e.g. BTC-USDT; repeat for several symbols (all are loaded first)",
    )
    p.add_argument("--timeframe", required=True, help="ccxt token, e.g. 1h")
    p.add_argument("--exchange", help="needed when a symbol is on several exchanges")
    p.add_argument("--start", help="first day/time, inclusive, UTC")
    p.add_argument("--end", help="last day/time, inclusive, UTC")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="parameter values: v1,v2,... or lo:hi:count (linspace) or lo:hi (random only); "
        "repeat per parameter; others keep their defaults",
    )
    p.add_argument(
        "--random",
        type=int,
        metavar="N",
        help="run N distinct parameter sets drawn at random (from --grid values, else from "
        "declared ranges) instead of the whole grid",
    )
    p.add_argument("--seed", type=int, help="random seed for --random (same seed, same trials)")
    p.add_argument(
        "--metric",
        default="sharpe",
        help="metric that picks the best trial, largest wins (default sharpe; also "
        "total_return, cagr, sortino, max_drawdown, win_rate, profit_factor, ...)",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker threads, -1 = all cores (2)")
    p.add_argument("--top", type=int, default=10, help="rows of the best-trials table (10)")
    p.add_argument("--out", metavar="PATH", help="write every trial to PATH (.parquet or .csv)")
    p.add_argument("--json", action="store_true", help="print the summary and top trials as JSON")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    engine = p.add_argument_group("engine settings (same names as the API)")
    for name, (flag, kwargs) in _ENGINE_OPTIONS.items():
        engine.add_argument(flag, dest=name, **kwargs)
    p.set_defaults(func=cmd_sweep)


def _records(frame: Any) -> list[dict[str, Any]]:
    out = []
    for trial, row in frame.iterrows():
        rec: dict[str, Any] = {"trial": int(trial)}
        for k, v in row.items():
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            rec[str(k)] = v
        out.append(rec)
    return out


def _check_out(path: str | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(f"--out must end in .parquet or .csv, got {path!r}", field="out")
    if not out.parent.exists():
        raise ConfigError(f"--out directory {str(out.parent)!r} does not exist", field="out")
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def cmd_sweep(args: argparse.Namespace) -> int:
    from coinbt.strategies import get_strategy
    from coinbt.sweeps import sweep
    from coinbt.sweeps.space import parse_grid_text

    strat = get_strategy(args.strategy)
    grid = parse_grid_text(strat, args.grid)
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}", field="top")
    out = _check_out(args.out)
    settings = {k: getattr(args, k) for k in _ENGINE_OPTIONS if getattr(args, k) is not None}
    result = sweep(
        strat,
        grid,
        symbols=args.symbols,
        timeframe=args.timeframe,
        start=args.start,
        end=args.end,
        exchange=args.exchange,
        random=args.random,
        seed=args.seed,
        metric=args.metric,
        n_jobs=args.jobs,
        progress=not (args.no_progress or args.json),
        **settings,
    )
    summary = result.summary()
    top = result.top(args.top)
    if out is not None:
        if out.suffix.lower() == ".csv":
            result.trials.to_csv(out)
        else:
            result.trials.to_parquet(out)
    if args.json:
        payload = {**summary, "top": _records(top), "out": None if out is None else str(out)}
        print(json.dumps(payload, indent=2, allow_nan=False))
        return 0
    print(
        f"{strat.name} on {', '.join(summary['symbols'])} {args.timeframe}: "
        f"{summary['n_trials']} trials ({summary['search']}"
        f"{'' if args.seed is None else f', seed {args.seed}'}) in {summary['elapsed_s']:.2f} s"
    )
    cols = [*result.swept, "symbol", args.metric, "total_return", "max_drawdown", "n_trades"]
    cols = list(dict.fromkeys(c for c in cols if c in top.columns))
    print(f"\ntop {len(top)} by {args.metric}:")
    print(top[cols].to_string(float_format=lambda v: f"{v:.4g}"))
    best, dsr = summary["best"], summary["deflated_sharpe"]
    params = ", ".join(f"{k}={_fmt(best[k])}" for k in strat.params)
    print(
        f"\nbest of {summary['n_trials']} trials: trial {best['trial']} ({params}) on "
        f"{best['symbol']}, {args.metric} {_fmt(best[args.metric])}, run {best['run_id']}"
    )
    print(
        f"deflated Sharpe ratio {_fmt(dsr['deflated_sharpe'])} (probability its Sharpe "
        f"{_fmt(dsr['sharpe'])} beats the best of {dsr['n_trials']} skill-less trials; "
        f"PSR vs 0: {_fmt(dsr['probabilistic_sharpe'])})"
    )
    if out is not None:
        print(f"trials: {out}")
    return 0
