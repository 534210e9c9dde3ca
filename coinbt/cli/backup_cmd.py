"""``coinbt backup create | list | verify | restore | prune``: back up the registry and artifacts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

_URL_HELP = "registry URL (default $COINBT_REGISTRY_URL or sqlite:///.coinbt/registry.db)"
_DEST_HELP = "folder of backups (default $COINBT_BACKUP_DIR or .coinbt/backups)"
_METHODS = ("auto", "native", "logical")


def register(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser(
        "backup",
        help="back up, verify, restore and prune backups of the registry and artifacts",
        description="Backups of the run registry and every artifact, each a folder named by "
        "UTC time under --dest, with a manifest of SHA-256 checksums. See docs/operations.md.",
    )
    bsub = backup.add_subparsers(dest="backup_command", metavar="COMMAND")
    bsub.required = True

    p = bsub.add_parser(
        "create",
        help="back up the registry and every artifact",
        description="Dump the registry (SQLite online copy, or pg_dump; a logical JSON-lines "
        "export always) and put every artifact in the backup: local files are copied, objects "
        "in a versioned S3 bucket are referenced by version id, other objects are copied. "
        "Every artifact is checked against its SHA-256; a missing or corrupt one fails the "
        "backup unless --allow-missing.",
    )
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.add_argument("--dest", metavar="DIR", help=_DEST_HELP)
    p.add_argument(
        "--method",
        choices=_METHODS,
        default="auto",
        help="registry dump: native (SQLite copy / pg_dump), logical (JSON lines only), or "
        "auto: native when possible (default)",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="record missing or corrupt artifacts in the manifest instead of failing",
    )
    p.add_argument(
        "--copy-s3",
        action="store_true",
        help="copy objects of versioned buckets too, instead of referencing their version",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_create)

    p = bsub.add_parser("list", help="list backups, oldest first")
    p.add_argument("--dest", metavar="DIR", help=_DEST_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = bsub.add_parser(
        "verify",
        help="re-check every checksum of a backup (exit 1 on any problem)",
        description="Check the manifest, the registry dump files, every copied artifact, and "
        "every referenced S3 version (downloaded) against their SHA-256. Prints each problem; "
        "exit status 1 when there is any.",
    )
    p.add_argument(
        "backup", metavar="BACKUP", nargs="?", default="latest", help="path, name or latest"
    )
    p.add_argument("--dest", metavar="DIR", help=_DEST_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_verify)

    p = bsub.add_parser(
        "restore",
        help="restore a backup into an empty registry and artifact store",
        description="Restore into an EMPTY registry and artifact store (anything else is "
        "refused): artifacts are copied and checked first, then the rows are loaded in one "
        "transaction with their artifact URIs pointing at the new store, then every run is "
        "loaded to prove it. Exit status 1 when a run does not load.",
    )
    p.add_argument("backup", metavar="BACKUP", help="path, name or latest")
    p.add_argument("--registry", metavar="URL", required=True, help="registry to restore into")
    p.add_argument("--artifacts", metavar="URI", required=True, help="folder or s3://bucket/prefix")
    p.add_argument(
        "--method",
        choices=_METHODS,
        default="auto",
        help="rows from the native dump (same backend only) or the logical export (any "
        "backend); auto: native when possible (default)",
    )
    p.add_argument("--dest", metavar="DIR", help=_DEST_HELP)
    p.add_argument(
        "--skip-load-check", action="store_true", help="do not load every run afterwards"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_restore)

    p = bsub.add_parser(
        "prune",
        help="remove old backups (the newest is always kept)",
        description="Remove backups outside the newest --keep N and/or older than "
        "--older-than AGE (both given: a backup must be both). The newest backup is never "
        "removed. Leftovers of interrupted runs older than a day are removed too.",
    )
    p.add_argument("--dest", metavar="DIR", help=_DEST_HELP)
    p.add_argument("--keep", type=int, metavar="N", help="keep the newest N backups")
    p.add_argument("--older-than", metavar="AGE", help="e.g. 30d, 12h, 2w")
    p.add_argument("--dry-run", action="store_true", help="show what would go, remove nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_prune)


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2, allow_nan=False, default=str))


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def cmd_create(args: argparse.Namespace) -> int:
    from coinbt.cli.db_cmd import registry_url
    from coinbt.storage.backup import create_backup

    try:
        info = create_backup(
            registry_url(args),
            args.dest,
            method=args.method,
            allow_missing=args.allow_missing,
            copy_s3=args.copy_s3,
        )
    except Exception as exc:  # a failed backup needs a person: alert, then report as usual
        from coinbt.alerts import notify, payload
        from coinbt.logging import redact

        notify("backup-failure", payload(f"coinbt backup failed ({args.dest or 'default dest'})",
                                         redact(f"{type(exc).__name__}: {exc}"),
                                         {"kind": "backup"}))  # fmt: skip
        raise
    if info["native_skipped"]:
        print(f"coinbt: note: logical export only: {info['native_skipped']}", file=sys.stderr)
    if info["missing"]:
        print(
            f"coinbt: warning: {info['missing']} artifact(s) missing or corrupt, recorded in "
            "the manifest (--allow-missing); `coinbt backup verify` will report them",
            file=sys.stderr,
        )
    if args.json:
        _dump(info)
        return 0
    dump = f"{info['method']} {info['dialect']} dump" if info["method"] == "native" else "logical"
    print(
        f"backup {info['name']} in {info['path']}: {info['runs']} runs, {info['artifacts']} "
        f"artifacts ({info['copied']} copied, {info['referenced']} referenced by S3 version"
        f"{', ' + str(info['missing']) + ' missing' if info['missing'] else ''}), registry "
        f"{dump} at revision {info['revision']}, {_size(info['bytes'])}, {info['seconds']:.1f} s"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from coinbt.storage.backup import backup_dir, list_backups, unfinished_backups

    backups = list_backups(args.dest)
    unfinished = unfinished_backups(args.dest)
    if args.json:
        _dump(backups)
        return 0
    if not backups:
        print(f"no backups in {backup_dir(args.dest)}")
    else:
        rows = []
        for b in backups:
            verified = b.get("verified")
            state = "never" if not verified else ("ok " if verified["ok"] else "FAILED ")
            if verified:
                state += verified["time"][:16].replace("T", " ")
            rows.append(
                [
                    b["name"],
                    b["created"][:19].replace("T", " "),
                    str(b.get("runs", "?")),
                    str(b.get("artifacts", "?")),
                    _size(b["bytes"]),
                    b.get("method", "?"),
                    state if "problem" not in b else "UNREADABLE",
                ]
            )
        headers = ["name", "created (UTC)", "runs", "artifacts", "size", "method", "verified"]
        print(_table(headers, rows))
        for b in backups:
            if "problem" in b:
                print(f"{b['name']}: {b['problem']}")
    if unfinished:
        print(
            f"{len(unfinished)} unfinished folder(s) left by an interrupted create or prune "
            f"({', '.join(p.name for p in unfinished)}); `coinbt backup prune` removes them "
            "after a day"
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from coinbt.storage.backup import verify_backup

    report = verify_backup(args.backup, dest=args.dest)
    if args.json:
        _dump(report)
        return 0 if report["ok"] else 1
    c = report["checked"]
    if report["ok"]:
        print(
            f"backup {report['backup']}: OK — {c['registry_files']} registry files, "
            f"{c['copied']} copied and {c['referenced']} referenced artifacts checked "
            f"({report['seconds']:.1f} s)"
        )
        return 0
    print(f"backup {report['backup']}: {len(report['problems'])} problem(s)")
    for problem in report["problems"]:
        print(f"  - {problem}")
    return 1


def cmd_restore(args: argparse.Namespace) -> int:
    from coinbt.storage.backup import restore_backup

    report = restore_backup(
        args.backup,
        args.registry,
        args.artifacts,
        method=args.method,
        check_loads=not args.skip_load_check,
        dest=args.dest,
    )
    bad = bool(report["unloadable"] or report["missing"])
    if args.json:
        _dump(report)
        return 1 if bad else 0
    print(
        f"restored backup {report['backup']} into {report['registry']} and "
        f"{report['artifacts_uri']}: {report['runs']} runs, {report['artifacts']} artifacts "
        f"({report['from_backup']} from the backup, {report['from_s3_versions']} from S3 "
        f"versions), rows from the {report['method']} dump, {report['seconds']:.1f} s"
    )
    if report["loaded"] is not None:
        print(f"{report['loaded']} of {report['runs']} runs load")
    for m in report["missing"]:
        print(f"  - run {m['run_id']}: artifact {m['name']} was not in the backup")
    for u in report["unloadable"]:
        print(f"  - run {u['run_id']} does not load: {u['error']}")
    return 1 if bad else 0


def cmd_prune(args: argparse.Namespace) -> int:
    from coinbt.storage.backup import backup_dir, prune_backups

    report = prune_backups(
        args.dest, keep=args.keep, older_than=args.older_than, dry_run=args.dry_run
    )
    if args.json:
        _dump(report)
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for name in report["removed"]:
        print(f"{verb} {name}")
    for name in report["unfinished"]:
        print(f"{verb} unfinished {name}")
    print(
        f"{verb} {len(report['removed'])} backup(s) from {backup_dir(args.dest)}; "
        f"{len(report['kept'])} kept"
    )
    return 0
