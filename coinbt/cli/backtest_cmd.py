"""``coinbt strategies``, ``coinbt backtest`` and ``coinbt demo``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from coinbt.engine.enums import FILL_MODES, SAME_BAR_PRIORITIES, SIZE_TYPES

# engine setting -> (flag, argparse keywords); names match the API
_ENGINE_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "init_cash": ("--cash", {"type": float, "help": "starting cash, quote currency (10000)"}),
    "fill": ("--fill", {"choices": list(FILL_MODES), "help": "fill timing (next_open)"}),
    "fee_rate": ("--fee-rate", {"type": float, "help": "fee per side, fraction (0.001)"}),
    "slippage_bps": ("--slippage-bps", {"type": float, "help": "adverse fill move, bps (0)"}),
    "size_type": ("--size-type", {"choices": list(SIZE_TYPES), "help": "how --size is read"}),
    "size": ("--size", {"type": float, "help": "equity fraction, notional or quantity (1.0)"}),
    "lot_size": ("--lot-size", {"type": float, "help": "quantity step (0 = any)"}),
    "min_notional": ("--min-notional", {"type": float, "help": "smallest order value (0)"}),
    "hold_bars": ("--hold-bars", {"type": int, "help": "exit after N bars (0 = off)"}),
    "stop_loss": ("--stop-loss", {"type": float, "help": "stop distance, fraction"}),
    "take_profit": ("--take-profit", {"type": float, "help": "target distance, fraction"}),
    "trailing_stop": ("--trailing-stop", {"type": float, "help": "trailing distance, fraction"}),
    "same_bar_priority": (
        "--same-bar-priority",
        {"choices": list(SAME_BAR_PRIORITIES), "help": "exit that wins a bar hitting both"},
    ),
    "short": ("--short", {"action": "store_true", "default": None, "help": "trade short"}),
    "close_at_end": (
        "--close-at-end",
        {"action": "store_true", "default": None, "help": "close an open position at the end"},
    ),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("strategies", help="list strategies and their parameters")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_strategies)

    p = sub.add_parser(
        "backtest",
        help="backtest a strategy on catalog data",
        description="Backtest one strategy on one symbol. Decisions at each bar's close fill "
        "at the next open unless --fill close.",
    )
    p.add_argument("--strategy", required=True, help="strategy name (see `coinbt strategies`)")
    p.add_argument("--symbol", required=True, help="BASE-QUOTE, e.g. BTC-USDT")
    p.add_argument("--timeframe", required=True, help="ccxt token, e.g. 1h")
    p.add_argument("--exchange", help="needed when the symbol is on several exchanges")
    p.add_argument("--start", help="first day/time, inclusive, UTC")
    p.add_argument("--end", help="last day/time, inclusive, UTC")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter")
    engine = p.add_argument_group("engine settings (same names as the API)")
    for name, (flag, kwargs) in _ENGINE_OPTIONS.items():
        engine.add_argument(flag, dest=name, **kwargs)
    p.add_argument("--json", action="store_true", help="print spec, run id and stats as JSON")
    p.add_argument("--report", action="store_true", help="also write an HTML report")
    p.add_argument(
        "--save",
        action="store_true",
        help="record the run in the registry ($COINBT_REGISTRY_URL, default "
        "sqlite:///.coinbt/registry.db; artifacts in $COINBT_ARTIFACTS_URI)",
    )
    p.add_argument(
        "--queue",
        metavar="Q",
        help="run it on an RQ worker instead ($COINBT_REDIS_URL): the run is recorded as "
        "queued, its job id printed, and `coinbt jobs watch JOB` follows it",
    )
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "demo",
        help="report both inherited strategies on bundled real candles (a batch of reports)",
        description="Runs the backtest report template for volume_long_candle and "
        "volume_zone_breakout on the bundled 1h candles of four markets (Binance BTC-USDT and "
        "ETH-USDT, Coinbase BTC-USD, Upbit ETH-KRW) with fees and slippage, records every run "
        "in the registry ($COINBT_REGISTRY_URL, default .coinbt/registry.db), prints their "
        "headline numbers and the path of reports/index.html. Needs no server and no downloads.",
    )
    p.set_defaults(func=cmd_demo)


def cmd_strategies(args: argparse.Namespace) -> int:
    from coinbt.strategies import list_strategies
    from coinbt.strategies.presets import PRESETS

    items = list_strategies()
    presets = [
        {"name": p.name, "strategy": p.strategy, "params": p.params, "description": p.description}
        for p in PRESETS.values()
    ]
    if args.json:
        out = [
            {
                "name": s.name,
                "description": s.description,
                "params": {
                    k: {
                        "type": p.type.__name__,
                        "default": p.default,
                        "min": p.min,
                        "max": p.max,
                        "above": p.above,
                        "below": p.below,
                    }
                    for k, p in s.params.items()
                },
            }
            for s in items
        ]
        print(json.dumps({"strategies": out, "presets": presets}, indent=2))
        return 0
    for s in items:
        print(f"{s.name} — {s.description}")
        for k, p in s.params.items():
            print(f"    {k}: {p.describe()}  {p.doc}")
    print("\npresets (use as --strategy NAME; parameters can still be overridden):")
    for p in presets:
        values = ", ".join(f"{k}={v}" for k, v in p["params"].items())
        print(f"    {p['name']}: {p['strategy']} ({values}) — {p['description']}")
    return 0


def _print_result(result: Any, as_json: bool) -> None:
    from coinbt.results.format import stats_table

    if as_json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
        return
    spec = result.spec
    print(
        f"{spec.strategy} {spec.params} on {spec.exchange} {spec.symbol} {spec.timeframe}, "
        f"{spec.data_start} → {spec.data_end} ({spec.bars} bars)"
    )
    print(f"run {result.run_id} · fill {spec.engine['fill']} · fee_rate {spec.engine['fee_rate']}")
    print(stats_table(result.stats))
    counts = {k: v for k, v in result.status_counts.items() if v}
    print("entry signals: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))


def cmd_backtest(args: argparse.Namespace) -> int:
    from coinbt.api import backtest
    from coinbt.strategies import get_strategy

    strat = get_strategy(args.strategy)
    params = strat.parse(args.param)
    settings = {k: getattr(args, k) for k in _ENGINE_OPTIONS if getattr(args, k) is not None}
    if args.queue is not None:
        return _submit(args, strat, params, settings)
    result = backtest(
        strat,
        args.symbol,
        args.timeframe,
        args.start,
        args.end,
        exchange=args.exchange,
        params=params,
        **settings,
    )
    _print_result(result, args.json)
    if args.report:
        from coinbt.results.report import write_report
        from coinbt.settings import reports_root

        print(f"report: {write_report(result, reports_root())}")
    if args.save:
        from coinbt.storage import Registry
        from coinbt.storage.common import hide_password

        registry = Registry()
        try:
            run_id = result.save(registry)
        finally:
            registry.close()
        # stdout stays pure JSON with --json
        print(
            f"saved run {run_id} to {hide_password(registry.url)}",
            file=sys.stderr if args.json else sys.stdout,
        )
    return 0


def _submit(args: argparse.Namespace, strat: Any, params: Any, settings: dict[str, Any]) -> int:
    """``--queue``: submit the backtest as a background job and say how to follow it."""
    from coinbt.errors import ConfigError
    from coinbt.jobs import config, submit_backtest

    if args.report or args.save:
        raise ConfigError("--queue records the run itself and makes no report: drop --report "
                          "and --save (then `coinbt report backtest …` for a report)")  # fmt: skip
    job = submit_backtest(strat, args.symbol, args.timeframe, args.start, args.end,
                          exchange=args.exchange, params=params, queue=args.queue, **settings)  # fmt: skip
    state = job.status().state
    if args.json:
        print(json.dumps({"job_id": job.id, "run_id": job.id, "queue": args.queue,
                          "state": state}))  # fmt: skip
    elif config.redis_url() is None:
        print(f"run {job.id} {state} here: no $COINBT_REDIS_URL, so no worker was involved")
    else:
        print(f"queued job {job.id} on {args.queue!r} ({state}); follow it with "
              f"`coinbt jobs watch {job.id}`, then `coinbt runs show {job.id}`")  # fmt: skip
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from coinbt.reports.batch import DEMO_PLAN, run_batch
    from coinbt.storage import Registry

    outcome, index = run_batch(DEMO_PLAN)
    reg = Registry()
    try:
        rows = [reg.run(run_id) for run_id in outcome]
    finally:
        reg.close()
    print(f"{'strategy':<22}{'market':<26}{'return':>10}{'sharpe':>9}{'max dd':>10}{'trades':>8}")
    for row in rows:
        if row is None or row["status"] != "finished" or row["kind"] != "backtest":
            continue
        market = f"{row['symbol']} {row['timeframe']} {row['exchange']}"
        print(
            f"{row['strategy']:<22}{market:<26}{row['total_return']:>10.2%}"
            f"{row['sharpe']:>9.2f}{row['max_drawdown']:>10.2%}{row['n_trades']:>8}"
        )
    for row in rows:
        if row is not None and row["status"] == "finished" and row["kind"] == "sweep":
            print(f"sweep {row['run_id']}: {row['strategy']} {row['symbol']} {row['timeframe']}"
                  f" {row['exchange']}, its heatmaps in the report and in `coinbt dashboard`")  # fmt: skip
    failed = [run_id for run_id, status in outcome.items() if status != "finished"]
    if failed:
        print(f"{len(failed)} report(s) failed: {', '.join(failed)}")
    print(f"\nreport: {index.resolve()}")
    return 1 if failed else 0
