"""``coinbt storage``: set up an S3 (or MinIO) bucket for artifacts."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("storage", help="artifact storage set-up")
    cmds = p.add_subparsers(dest="storage_command", metavar="COMMAND")
    cmds.required = True
    q = cmds.add_parser(
        "init-bucket",
        help="create the bucket, turn on versioning, set and verify a lifecycle rule",
        description="Create the bucket if needed, enable versioning and set a lifecycle rule "
        "that expires objects under the prefix after --expire-days and non-current versions "
        "after --noncurrent-days, then read both back to verify. Choose --expire-days longer "
        "than the retention of `coinbt runs prune`: expired objects are gone even if the "
        "registry still lists their run. The endpoint comes from COINBT_S3_ENDPOINT_URL "
        "(MinIO), credentials the usual boto3 way.",
    )
    q.add_argument("uri", metavar="s3://BUCKET/PREFIX", help="where artifacts live")
    q.add_argument("--expire-days", type=int, required=True, help="expire current objects")
    q.add_argument("--noncurrent-days", type=int, required=True, help="expire old versions")
    q.set_defaults(func=cmd_init_bucket)


def cmd_init_bucket(args: argparse.Namespace) -> int:
    from coinbt.storage.s3 import init_bucket

    report = init_bucket(
        args.uri, expire_days=args.expire_days, noncurrent_days=args.noncurrent_days
    )
    print(json.dumps(report, indent=2, default=str))
    return 0
