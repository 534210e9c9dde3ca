"""``coinbt jobs list | show | watch | cancel | failed | requeue | recover``: follow and look
after background jobs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from coinbt.errors import ConfigError, JobError

_URL_HELP = "registry URL (default $COINBT_REGISTRY_URL or sqlite:///.coinbt/registry.db)"
_ART_HELP = "artifact root (default $COINBT_ARTIFACTS_URI or .coinbt/artifacts)"
_REDIS_HELP = "Redis URL (default $COINBT_REDIS_URL)"
_ENDED = ("finished", "failed", "cancelled")
_LIST_COLUMNS = ["run_id", "state", "progress", "kind", "strategy", "symbol", "timeframe", "queue"]


def _common(p: argparse.ArgumentParser, *, json_flag: bool = False) -> None:
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.add_argument("--artifacts", metavar="URI", help=_ART_HELP)
    p.add_argument("--redis", metavar="URL", help=_REDIS_HELP)
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``jobs`` command to a ``coinbt`` sub-command parser."""
    jobs = sub.add_parser(
        "jobs",
        help="follow, cancel, requeue and recover background jobs",
        description="Background jobs (RQ + Redis, see `coinbt worker`). A job's id is its run "
        "id; any unique prefix will do. The registry is the record of every job; Redis adds "
        "live progress, queue, worker and attempts.",
    )
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND")
    jsub.required = True

    p = jsub.add_parser(
        "list",
        help="pending jobs and those that ended recently, with live progress",
        description="Every queued or running job, plus the jobs that ended within --since.",
    )
    p.add_argument(
        "--status", choices=["queued", "running", "finished", "failed", "cancelled"], help="only"
    )
    p.add_argument("--kind", help="backtest, sweep, notebook, …")
    p.add_argument("--since", default="24h", help="how far back ended jobs go (24h; 7d, 90m…)")
    p.add_argument("--limit", type=int, default=50, help="most rows (50; 0 = all)")
    _common(p, json_flag=True)
    p.set_defaults(func=cmd_list)

    p = jsub.add_parser(
        "show",
        help="one job: state, attempts, queue, worker, error and traceback",
    )
    p.add_argument("job", metavar="JOB", help="job (run) id or unique prefix")
    _common(p, json_flag=True)
    p.set_defaults(func=cmd_show)

    p = jsub.add_parser(
        "watch",
        help="live progress until the jobs end (Ctrl-C stops watching, not the jobs)",
        description="With job ids: a progress bar per job until each has ended. Without: a "
        "table of pending jobs, redrawn until none is left. Exit 0 when every watched job "
        "finished, 1 when one failed or was cancelled, 130 on Ctrl-C (the jobs go on).",
    )
    p.add_argument("jobs", metavar="JOB", nargs="*", help="job ids or prefixes (default: all)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (1)")
    p.add_argument("--timeout", type=float, help="give up after this many seconds (exit 1)")
    _common(p)
    p.set_defaults(func=cmd_watch)

    p = jsub.add_parser(
        "cancel",
        help="cancel a job: a queued one is removed, a running one stopped",
        description="Cancel a job. A queued job is taken off its queue; a running job's work "
        "horse is stopped and nothing is recorded for it. Both end 'cancelled'. A job that "
        "already ended is left as it is (and said so, exit 1).",
    )
    p.add_argument("job", metavar="JOB", help="job (run) id or unique prefix")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the stop (10)")
    _common(p, json_flag=True)
    p.set_defaults(func=cmd_cancel)

    p = jsub.add_parser(
        "failed",
        help="the dead-letter list: jobs that failed after every retry",
        description="Jobs RQ gave up on (its failed-job registry, every queue), oldest first. "
        "`coinbt jobs requeue` puts them back.",
    )
    _common(p, json_flag=True)
    p.set_defaults(func=cmd_failed)

    p = jsub.add_parser(
        "requeue",
        help="put failed jobs back on their queue (registry row back to queued)",
        description="Requeue a failed job with its retries restored; its run goes back to "
        "'queued'. A job Redis no longer has is enqueued again from its job document.",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("job", metavar="JOB", nargs="?", help="job id or run id (prefix)")
    target.add_argument("--all", action="store_true", help="every job of `coinbt jobs failed`")
    _common(p, json_flag=True)
    p.set_defaults(func=cmd_requeue)

    p = jsub.add_parser(
        "recover",
        help="retry abandoned jobs; re-enqueue runs Redis has lost",
        description="Make Redis agree with the registry: jobs whose worker died (no heartbeat "
        "for --stale-after seconds) are retried or failed by RQ's clean-up; queued or running "
        "runs that Redis does not know (it restarted without persistence, say) are enqueued "
        "again from their job document, or marked failed with --mark-failed. Safe to run at "
        "any time, e.g. from cron every few minutes.",
    )
    p.add_argument("--mark-failed", action="store_true", help="fail lost runs, do not requeue")
    p.add_argument(
        "--stale-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a started job without a heartbeat for this long is abandoned (default 120)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="leave runs submitted less than this long ago alone (default 60)",
    )
    p.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    _common(p, json_flag=True)
    p.set_defaults(func=cmd_recover)


# -- helpers --------------------------------------------------------------------------------


def _registry(args: argparse.Namespace) -> Any:
    from coinbt.cli.db_cmd import registry_url
    from coinbt.storage import Registry

    return Registry(registry_url(args), args.artifacts)


def _redis(args: argparse.Namespace, *, required: bool) -> Any:
    from coinbt.jobs import config

    url = args.redis or config.redis_url()
    if url is None:
        if required:
            raise JobError(f"no Redis configured: pass --redis or set ${config.REDIS_ENV}")
        return None
    return config.connect(url)


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2, allow_nan=False, default=str))


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _cell(job: dict[str, Any], column: str) -> str:
    value = job.get(column)
    if column == "run_id":
        return str(value)[:16]
    if column == "progress":
        return _pct(value)
    return "-" if value is None else str(value)


def _jobs_table(jobs: list[dict[str, Any]]) -> str:
    rows = []
    for job in jobs:
        note = job.get("message") if job["state"] not in _ENDED else job.get("error")
        rows.append([*(_cell(job, c) for c in _LIST_COLUMNS), str(note or "")[:60]])
    return _table([*_LIST_COLUMNS, "message"], rows)


# -- commands -------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from coinbt.jobs.admin import list_jobs

    if args.limit < 0:
        raise ConfigError("--limit must be 0 or more", field="limit")
    reg = _registry(args)
    try:
        jobs = list_jobs(
            reg,
            _redis(args, required=False),
            status=args.status,
            since=args.since,
            kind=args.kind,
            limit=args.limit,
        )
    finally:
        reg.close()
    if args.json:
        _dump(jobs)
    elif not jobs:
        print("no jobs")
    else:
        print(_jobs_table(jobs))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from coinbt.jobs.admin import job_details

    reg = _registry(args)
    try:
        job = job_details(reg, _redis(args, required=False), args.job)
    finally:
        reg.close()
    if args.json:
        _dump(job)
        return 0
    fields = [
        ("job", job["run_id"]),
        ("state", job["state"]),
        ("registry status", job["status"]),
        ("redis status", job["rq_status"] or "not known to Redis"),
        ("progress", f"{_pct(job.get('progress'))}  {job.get('message') or ''}".rstrip()),
        ("kind", job["kind"]),
        ("what", f"{job['strategy']} {job['symbol']} {job['timeframe']} {job.get('params')}"),
        ("notebook", job.get("notebook_uri")),
        ("queue", job.get("queue")),
        ("worker", job.get("worker")),
        ("attempt", _attempts(job)),
        ("timeout", f"{job['timeout_s']} s" if job.get("timeout_s") else None),
        ("created", job["created"]),
        ("started", job["started"]),
        ("ended", job["finished"]),
    ]
    for name, value in fields:
        if value not in (None, ""):
            print(f"{name + ':':<17}{value}")
    if job.get("error"):
        print("error:")
        print("  " + str(job["error"]).rstrip().replace("\n", "\n  "))
    return 0


def _attempts(job: dict[str, Any]) -> str | None:
    if job.get("attempt") is None:
        return None
    return f"{job['attempt']} of {job['retries'] + 1} ({job['retries_left']} retries left)"


def cmd_cancel(args: argparse.Namespace) -> int:
    from coinbt.jobs.api import Job

    reg = _registry(args)
    try:
        run_id = reg.resolve(args.job)
        before = reg.status(run_id)
        conn = _redis(args, required=False)
        url = None if conn is None else (args.redis or _env_redis())
        after = Job(run_id, registry=reg, redis_url=url).cancel(wait=args.wait)
    finally:
        reg.close()
    if before in _ENDED:
        message = f"job {run_id} had already {_verb(before)}; nothing changed"
    elif after == "cancelled":
        how = "stopped" if before == "running" else "removed from its queue"
        message = f"job {run_id} cancelled ({how})"
    else:
        message = f"job {run_id} {_verb(after)} before the cancel took effect"
    if args.json:
        _dump({"run_id": run_id, "before": before, "after": after, "message": message})
    else:
        print(message)
    return 0 if after == "cancelled" and before not in _ENDED else 1


def _verb(status: str | None) -> str:
    return {"finished": "finished", "failed": "failed", "cancelled": "been cancelled"}.get(
        str(status), f"become {status}"
    )


def _env_redis() -> str | None:
    from coinbt.jobs import config

    return config.redis_url()


def cmd_failed(args: argparse.Namespace) -> int:
    from coinbt.jobs.admin import failed_jobs

    reg = _registry(args)
    try:
        jobs = failed_jobs(reg, _redis(args, required=True))
    finally:
        reg.close()
    if args.json:
        _dump(jobs)
        return 0
    if not jobs:
        print("no failed jobs")
        return 0
    rows = [
        [
            j["job_id"][:20],
            str(j.get("queue")),
            (j.get("ended_at") or "-")[:19].replace("T", " "),
            str(j.get("attempt")),
            (j.get("error") or "")[:70],
        ]
        for j in jobs
    ]
    print(_table(["job", "queue", "failed at (UTC)", "attempts", "error"], rows))
    return 0


def cmd_requeue(args: argparse.Namespace) -> int:
    from coinbt.jobs.admin import requeue, requeue_all

    reg = _registry(args)
    try:
        conn = _redis(args, required=True)
        if args.all:
            done = requeue_all(reg, conn)
        else:
            job_id = args.job
            if job_id and "-" not in job_id:  # a run id prefix; chunk ids are given in full
                job_id = reg.resolve(job_id)
            done = [requeue(reg, conn, job_id)]
    finally:
        reg.close()
    if args.json:
        _dump(done)
    elif not done:
        print("no failed jobs to requeue")
    for item in [] if args.json else done:
        if "error" in item:
            print(f"job {item['job_id']}: not requeued: {item['error']}")
        else:
            print(f"job {item['job_id']} {item['how']} on queue {item['queue']!r}")
    return 1 if any("error" in item for item in done) else 0


def cmd_recover(args: argparse.Namespace) -> int:
    from coinbt.jobs import config
    from coinbt.jobs.recover import recover

    stale = config.STALE_AFTER_S if args.stale_after is None else args.stale_after
    if stale < 0 or args.grace < 0:
        raise ConfigError("--stale-after and --grace must be 0 or more", field="stale_after")
    reg = _registry(args)
    try:
        report = recover(
            reg,
            args.redis,
            mark_failed=args.mark_failed,
            stale_after=stale,
            grace=args.grace,
            dry_run=args.dry_run,
        )
    finally:
        reg.close()
    if args.json:
        _dump(report.to_dict())
        return 0
    would = "would be " if args.dry_run else ""
    lines = [
        (report.abandoned, f"abandoned by a dead worker, {would}retried or failed by RQ"),
        (report.requeued, f"lost by Redis, {would}enqueued again"),
        (report.marked_failed, f"lost by Redis, {would}marked failed"),
        (list(report.synced), f"ended in Redis, registry {would}updated"),
    ]
    for ids, what in lines:
        if ids:
            print(f"{len(ids)} job(s) {what}: {', '.join(i[:16] for i in ids)}")
    for run_id, reason in report.skipped.items():
        print(f"skipped {run_id[:16]}: {reason}")
    if not report.changed and not report.skipped:
        print("nothing to recover: Redis and the registry agree")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise ConfigError("--interval must be more than 0", field="interval")
    reg = _registry(args)
    try:
        conn = _redis(args, required=False)
        ids = [reg.resolve(j) for j in args.jobs]
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        try:
            if ids:
                return _watch_bars(reg, conn, ids, args.interval, deadline)
            return _watch_table(reg, conn, args.interval, deadline)
        except KeyboardInterrupt:
            print("\nstopped watching; the jobs go on (coinbt jobs list)", file=sys.stderr)
            return 130
    finally:
        reg.close()


def _states(reg: Any, conn: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    from coinbt.jobs.admin import fetch_rq_jobs, rq_info

    live = fetch_rq_jobs(conn, ids)
    out = {}
    for run_id in ids:
        stored = reg.status(run_id)
        info = rq_info(live.get(run_id))
        if stored in _ENDED:
            state, progress = stored, 1.0 if stored == "finished" else info["progress"]
        else:
            state = {"started": "running", "scheduled": "retrying"}.get(
                str(info["rq_status"]), str(stored)
            )
            progress = info["progress"]
        out[run_id] = {"state": state, "progress": progress, "message": info.get("message")}
    return out


def _watch_bars(
    reg: Any, conn: Any, ids: list[str], interval: float, deadline: float | None
) -> int:
    from tqdm import tqdm

    bars = {
        run_id: tqdm(total=100, desc=run_id[:12], position=i, leave=True, file=sys.stderr)
        for i, run_id in enumerate(ids)
    }
    reported: set[str] = set()
    try:
        while True:
            states = _states(reg, conn, ids)
            for run_id, st in states.items():
                bar = bars[run_id]
                bar.n = round(100 * float(st["progress"] or 0))
                bar.set_postfix_str(f"{st['state']} {st['message'] or ''}".strip(), refresh=True)
                if st["state"] in _ENDED and run_id not in reported:
                    reported.add(run_id)
                    tqdm.write(f"job {run_id} {st['state']}", file=sys.stdout)
            if len(reported) == len(ids):
                ok = all(states[i]["state"] == "finished" for i in ids)
                return 0 if ok else 1
            if deadline is not None and time.monotonic() > deadline:
                tqdm.write("watch: timed out; the jobs go on", file=sys.stderr)
                return 1
            time.sleep(interval)
    finally:
        for bar in bars.values():
            bar.close()


def _watch_table(reg: Any, conn: Any, interval: float, deadline: float | None) -> int:
    from coinbt.jobs.admin import list_jobs

    tty = sys.stdout.isatty()
    last = None
    while True:
        jobs = [
            j
            for j in list_jobs(reg, conn, since="0s", limit=0)
            if j["status"] in ("queued", "running")
        ]
        text = _jobs_table(jobs) if jobs else "no pending jobs"
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J" + time.strftime("%H:%M:%S  ") + text + "\n")
            sys.stdout.flush()
        elif text != last:
            print(text, flush=True)
        last = text
        if not jobs:
            return 0
        if deadline is not None and time.monotonic() > deadline:
            return 1
        time.sleep(interval)
