"""The ``coinbt`` command line.

User mistakes (any :class:`CoinbtError`) print one line on stderr and exit 2 — no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from coinbt import __version__
from coinbt.cli import (
    backtest_cmd,
    backup_cmd,
    dashboard_cmd,
    data_cmd,
    db_cmd,
    doctor_cmd,
    jobs_cmd,
    legacy_cmd,
    metrics_cmd,
    report_cmd,
    runs_cmd,
    storage_cmd,
    sweep_cmd,
    worker_cmd,
)
from coinbt.errors import CoinbtError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coinbt",
        description="Backtest crypto trading strategies on real exchange candles.",
    )
    parser.add_argument("--version", action="version", version=f"coinbt {__version__}")
    parser.add_argument("--log-level", metavar="LEVEL",
                        help="log lines on stderr from this level (default $COINBT_LOG_LEVEL or "
                        "WARNING; workers: INFO)")  # fmt: skip
    parser.add_argument("--log-json", action=argparse.BooleanOptionalAction, default=None,
                        help="log lines as JSON (default: JSON unless stderr is a terminal, or "
                        "$COINBT_LOG_JSON)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    data_cmd.register(sub)
    backtest_cmd.register(sub)
    sweep_cmd.register(sub)
    runs_cmd.register(sub)
    db_cmd.register(sub)
    storage_cmd.register(sub)
    backup_cmd.register(sub)
    legacy_cmd.register(sub)
    jobs_cmd.register(sub)
    worker_cmd.register(sub)
    report_cmd.register(sub)
    dashboard_cmd.register(sub)
    doctor_cmd.register(sub)
    metrics_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from coinbt.logging import configure

        level = args.log_level or os.environ.get("COINBT_LOG_LEVEL") or "WARNING"
        configure(json=args.log_json, level=level)
        return int(args.func(args) or 0)
    except CoinbtError as exc:
        print(f"coinbt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coinbt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=False, allow_nan=False))


if __name__ == "__main__":
    sys.exit(main())
