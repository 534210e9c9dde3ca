"""``coinbt doctor``: check the installation; a table (or JSON) and exit 0 / 1 / 2."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` command."""
    p = sub.add_parser(
        "doctor",
        help="check data root, catalog, data freshness and disk space",
        description="Check this installation and say what is wrong. Exit status: 0 healthy, "
        "1 a warning, 2 something critical.",
    )
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.add_argument("--alert", action="store_true",
                   help="send critical findings to $COINBT_ALERT_WEBHOOK (rate-limited)")  # fmt: skip
    p.add_argument("--stale-after", default="2d",
                   help="warn about fetched series not refreshed for this long (default 2d)")  # fmt: skip
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from coinbt.cli.main import print_json
    from coinbt.doctor import EXIT_CODE, exit_code, run_checks
    from coinbt.storage.common import parse_duration

    checks = run_checks(stale_after=parse_duration(args.stale_after))
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
