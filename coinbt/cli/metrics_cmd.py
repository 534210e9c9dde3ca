"""``coinbt metrics``: Prometheus text exposition of runs, queues, failed jobs, backups, bytes."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``metrics`` command."""
    p = sub.add_parser(
        "metrics",
        help="print Prometheus metrics: runs by status, queues, failed jobs, backups, bytes",
        description="Metrics in the Prometheus text format, from the registry "
        "($COINBT_REGISTRY_URL), Redis ($COINBT_REDIS_URL, when set) and the backup folder "
        "($COINBT_BACKUP_DIR). Print them, or write a node-exporter textfile atomically.",
    )
    p.add_argument("--registry-url", help="default $COINBT_REGISTRY_URL or the embedded one")
    p.add_argument(
        "--backups", help="backup folder (default $COINBT_BACKUP_DIR or .coinbt/backups)"
    )
    p.add_argument("--textfile", metavar="PATH",
                   help="write here instead (e.g. /var/lib/node_exporter/coinbt.prom)")  # fmt: skip
    p.set_defaults(func=cmd_metrics)


def cmd_metrics(args: argparse.Namespace) -> int:
    from coinbt.jobs.admin import connect_optional
    from coinbt.monitoring import exposition, write_textfile
    from coinbt.storage import Registry

    reg = Registry(args.registry_url) if args.registry_url else Registry()
    try:
        text = exposition(reg, connect_optional(), args.backups)
    finally:
        reg.close()
    if args.textfile:
        print(f"wrote {write_textfile(args.textfile, text)}")
    else:
        print(text, end="")
    return 0
