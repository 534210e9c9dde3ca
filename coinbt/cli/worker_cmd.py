"""``coinbt worker``: take background jobs from Redis queues."""

from __future__ import annotations

import argparse

_DESCRIPTION = """\
Start an RQ worker for coinbt jobs. It loads coinbt and warms the numba kernels once, then
runs each job in a work horse forked from itself (a crash or kill of a job never takes the
worker down); small backtests of built-in strategies (--inline-bars) run in the worker
itself, which is twice as fast for them (a cancel then takes effect at the job's next
check instead of killing it). One JSON line per job goes to stdout (job_id, kind, queue, worker, status,
attempt, duration_s, error); the worker's log goes to stderr. Settings come from the
environment: $COINBT_REDIS_URL, $COINBT_REGISTRY_URL, $COINBT_ARTIFACTS_URI, $COINBT_DATA_ROOT,
$COINBT_ALERT_WEBHOOK. Stop it with Ctrl-C or SIGTERM: it finishes the current job first
(a second Ctrl-C stops at once; the job is then retried — see `coinbt jobs recover`).
"""

_EXAMPLE = """\
examples:
  coinbt worker                              # queue 'default', until stopped
  coinbt worker --queues high,default        # 'high' first
  coinbt worker --burst                      # work until the queues are empty, then quit
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``worker`` command to a ``coinbt`` sub-command parser."""
    from coinbt.jobs.config import WORKER_HEARTBEAT_S as HEARTBEAT_S
    from coinbt.jobs.config import WORKER_INLINE_BARS as INLINE_BARS
    from coinbt.jobs.config import WORKER_KILL_GRACE_S as KILL_GRACE_S

    p = sub.add_parser(
        "worker",
        help="run background jobs from Redis queues",
        description=_DESCRIPTION,
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--queues",
        nargs="+",
        default=["default"],
        metavar="QUEUE",
        help="queues to take work from, highest priority first (space- or comma-separated; "
        "default: default)",
    )
    p.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    p.add_argument("--name", help="worker name, unique among live workers (default HOST-PID)")
    p.add_argument("--redis", metavar="URL", help="Redis URL (default $COINBT_REDIS_URL)")
    p.add_argument("--max-jobs", type=int, metavar="N", help="quit after N jobs")
    p.add_argument(
        "--heartbeat",
        type=int,
        default=HEARTBEAT_S,
        metavar="SECONDS",
        help=f"heartbeat while a job runs (default {HEARTBEAT_S}); `coinbt jobs recover "
        "--stale-after` must be several of these",
    )
    p.add_argument(
        "--kill-grace",
        type=float,
        default=KILL_GRACE_S,
        metavar="SECONDS",
        help=f"kill a job's work horse this long after its timeout if it has not stopped "
        f"(default {KILL_GRACE_S})",
    )
    p.add_argument(
        "--inline-bars",
        type=int,
        metavar="N",
        help=f"run backtests of built-in strategies with at most N bars inside the worker, "
        f"without forking (default $COINBT_WORKER_INLINE_BARS or {INLINE_BARS:,}; 0 = never)",
    )
    p.add_argument("--no-warm", action="store_true", help="skip warming the numba kernels")
    p.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )
    p.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from coinbt.errors import ConfigError
    from coinbt.jobs.worker import run_worker

    queues = [q.strip() for item in args.queues for q in item.split(",") if q.strip()]
    if not queues:
        raise ConfigError("--queues needs at least one queue name", field="queues")
    if args.heartbeat < 1:
        raise ConfigError("--heartbeat must be 1 second or more", field="heartbeat")
    if args.kill_grace < 0:
        raise ConfigError("--kill-grace must be 0 or more", field="kill_grace")
    if args.max_jobs is not None and args.max_jobs < 1:
        raise ConfigError("--max-jobs must be 1 or more", field="max_jobs")
    if args.inline_bars is not None and args.inline_bars < 0:
        raise ConfigError("--inline-bars must be 0 (never) or more", field="inline_bars")
    run_worker(
        queues,
        burst=args.burst,
        name=args.name,
        redis_url=args.redis,
        warm=not args.no_warm,
        heartbeat=args.heartbeat,
        kill_grace=args.kill_grace,
        inline_bars=args.inline_bars,
        max_jobs=args.max_jobs,
        logging_level=args.log_level,
    )
    return 0
