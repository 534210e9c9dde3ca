"""``coinbt legacy import | rollback``: bring the predecessor's results into the registry.

Exit codes: 0 when nothing failed, 1 when some legacy files failed (import) or some original
files are modified or missing (rollback), 2 for a user mistake (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

_URL_HELP = "registry URL (default $COINBT_REGISTRY_URL or sqlite:///.coinbt/registry.db)"
_ART_HELP = "artifact root (default $COINBT_ARTIFACTS_URI or .coinbt/artifacts)"
_FIX = (
    "fix or move away the failed files and run the import again; runs already imported are skipped"
)


def register(sub: argparse._SubParsersAction) -> None:
    legacy = sub.add_parser(
        "legacy",
        help="import the predecessor's results, or roll an import back",
        description="Import the predecessor's backtest results (results/*.json with "
        "results/index.json, tasks/*/result.json with manifest.json) as runs of kind 'legacy', "
        "and undo an import. See docs/legacy.md.",
    )
    lsub = legacy.add_subparsers(dest="legacy_command", metavar="COMMAND")
    lsub.required = True

    p = lsub.add_parser(
        "import",
        help="import legacy results (a backup of every file is written first)",
        description="Read the predecessor's data root, back up every file read (tar.gz + "
        "SHA-256 sidecar), then record each run as kind 'legacy' in coinbt units. Runs "
        "already imported are skipped. Example: coinbt legacy import /data --dry-run",
    )
    p.add_argument(
        "path", metavar="PATH", help="the predecessor's DATA_ROOT (holds results/, tasks/)"
    )
    p.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    p.add_argument(
        "--backup-dir",
        metavar="DIR",
        default=None,
        help="where the backup tarball and sidecar go (default .coinbt/legacy-backups)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.add_argument("--artifacts", metavar="URI", help=_ART_HELP)
    p.set_defaults(func=cmd_import)

    p = lsub.add_parser(
        "rollback",
        help="remove the runs an import added and verify the original files",
        description="Check the backup's tarball against its SHA-256, delete exactly the runs "
        "that import added (artifacts first, then rows), then check every original file "
        "against the SHA-256 recorded at import time. Safe to run twice.",
    )
    p.add_argument("backup", metavar="BACKUP", help="the backup's .json sidecar (or .tar.gz)")
    p.add_argument(
        "--restore-originals",
        action="store_true",
        help="put back original files that are missing or modified, from the tarball",
    )
    p.add_argument(
        "--source", metavar="DIR", help="where the legacy files are now, if they moved since"
    )
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.add_argument("--artifacts", metavar="URI", help=_ART_HELP)
    p.set_defaults(func=cmd_rollback)


def _registry(args: argparse.Namespace) -> Any:
    from coinbt.cli.db_cmd import registry_url
    from coinbt.storage import Registry

    return Registry(registry_url(args), args.artifacts)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell; the last column is left ragged."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    widths[-1] = 0
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def cmd_import(args: argparse.Namespace) -> int:
    from coinbt.storage.legacy import DEFAULT_BACKUP_DIR, import_legacy

    reg = _registry(args)
    try:
        report = import_legacy(
            args.path,
            reg,
            backup_dir=args.backup_dir or DEFAULT_BACKUP_DIR,
            dry_run=args.dry_run,
            progress=sys.stderr.isatty(),
        )
    finally:
        reg.close()
    code = 1 if report.count("failed") else 0
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        return code
    verb = "would import" if report.dry_run else "import"
    print(f"legacy {verb} from {report.source} into {report.registry}")
    rows = [
        [
            e.status.replace("_", " "),
            e.source,
            e.run_id or "-",
            e.legacy_run_id or "-",
            e.reason or "",
        ]
        for e in report.entries
    ]
    print(_table(["status", "source", "run_id", "legacy run id", "reason"], rows))
    notes = [f"  {e.source}: {n}" for e in report.entries for n in e.notes]
    notes += [f"  {n}" for n in report.notes]
    if notes:
        print("notes")
        print("\n".join(notes))
    c = report.counts
    done = f"would import {c['would_import']}" if report.dry_run else f"imported {c['imported']}"
    print(f"total {c['total']} · {done} · skipped {c['skipped']} · failed {c['failed']}")
    if report.dry_run:
        print("dry run: nothing was written (no backup, no artifacts, no rows)")
    elif report.backup:
        print(f"backup {report.backup} (undo: coinbt legacy rollback {report.backup})")
    if code:
        print(f"{c['failed']} failed: {_FIX}")
    return code


def cmd_rollback(args: argparse.Namespace) -> int:
    from coinbt.storage.common import hide_password
    from coinbt.storage.legacy import rollback_legacy

    reg = _registry(args)
    try:
        report = rollback_legacy(
            args.backup, reg, restore_originals=args.restore_originals, source=args.source
        )
        url = hide_password(reg.url)
    finally:
        reg.close()
    code = 1 if report.problems else 0
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        return code
    print(f"rollback of legacy import {report.backup_id} in {url}")
    if report.removed:
        print(f"removed {len(report.removed)} run(s): {', '.join(report.removed)}")
    elif report.already_gone:
        print(
            f"nothing to remove: the {len(report.already_gone)} run(s) this import added are "
            "already gone"
        )
    else:
        print("nothing to remove: this import added no runs")
    if report.removed and report.already_gone:
        print(f"already gone: {', '.join(report.already_gone)}")
    if report.orphans_removed:
        print(
            "the import was interrupted: cleared any artifacts left by planned runs that never "
            f"got a row ({', '.join(report.orphans_removed)})"
        )
    states = [o["state"] for o in report.originals]
    summary = ", ".join(f"{states.count(s)} {s}" for s in ("ok", "modified", "missing", "restored"))
    print(f"original files in {report.source}: {summary}")
    for o in report.originals:
        if o["state"] != "ok":
            print(f"  {o['state']:<9} {o['path']}")
    if report.problems:
        print(
            f"{len(report.problems)} original file(s) differ from the backup; put them back "
            "with --restore-originals"
        )
    if not report.changed:
        print("nothing changed")
    return code
