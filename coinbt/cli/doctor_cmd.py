"""``coinbt doctor``: check the installation; a table (or JSON) and exit 0 / 1 / 2."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` command."""
    p = sub.add_parser(
        "doctor",
        help="check data, registry, Redis, artifact store and disk; exit 0/1/2",
        description="Check this installation and say what is wrong: the data root and catalog, "
        "data freshness, the registry ($COINBT_REGISTRY_URL: reachable, migrations, runs), "
        "Redis ($COINBT_REDIS_URL: queues, failed jobs, workers, memory), the artifact store "
        "($COINBT_ARTIFACTS_URI: writable, or S3 versioning and lifecycle) and disk space. "
        "Nothing is changed. Exit status: 0 healthy, 1 a warning, 2 something critical.",
    )
    p.add_argument("--registry-url", help="default $COINBT_REGISTRY_URL or the embedded one")
    p.add_argument("--min-workers", type=int, default=1, metavar="N",
                   help="warn when fewer RQ workers are alive (default 1; a team wants 2)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.add_argument("--alert", action="store_true",
                   help="send critical findings as an alert ($COINBT_ALERT_WEBHOOK, $COINBT_ALERT_EMAIL; rate-limited)")  # fmt: skip
    p.add_argument("--stale-after", default="2d",
                   help="warn about fetched series not refreshed for this long (default 2d)")  # fmt: skip
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from coinbt.cli.main import print_json
    from coinbt.doctor import EXIT_CODE, exit_code, run_checks
    from coinbt.storage.common import parse_duration

    checks = run_checks(stale_after=parse_duration(args.stale_after),
                        registry_url=args.registry_url, min_workers=args.min_workers)  # fmt: skip
    if args.json:
        worst = max(checks, key=lambda c: EXIT_CODE[c.status])
        print_json({"status": worst.status, "checks": [c.__dict__ for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.name:<{width}}  {c.status.upper():<8}  {c.detail}")
    critical = [c for c in checks if c.status == "critical"]
    if args.alert and critical:
        from coinbt.alerts import notify, payload

        lines = "\n".join(f"{c.name}: {c.detail}" for c in critical)
        notify("doctor", payload(f"coinbt doctor: {len(critical)} critical finding(s)", lines,
                                 {"kind": "doctor"}))  # fmt: skip
    return exit_code(checks)
