"""``coinbt runs list | show | compare | delete | prune``: find and manage recorded runs."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from typing import Any

from coinbt.errors import ConfigError

_URL_HELP = "registry URL (default $COINBT_REGISTRY_URL or sqlite:///.coinbt/registry.db)"
_ART_HELP = "artifact root (default $COINBT_ARTIFACTS_URI or .coinbt/artifacts)"
_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|==|=|<|>)\s*([^<>=!\s].*?)\s*$")
_NUMERIC = {
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "n_trades",
    "win_rate",
    "profit_factor",
    "exposure",
}
_LIST_COLUMNS = [
    "run_id",
    "created",
    "kind",
    "strategy",
    "symbol",
    "timeframe",
    "total_return",
    "sharpe",
    "max_drawdown",
    "n_trades",
]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.add_argument("--artifacts", metavar="URI", help=_ART_HELP)


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser(
        "runs",
        help="list, show, compare, delete and prune recorded runs",
        description="Recorded runs in the registry ($COINBT_REGISTRY_URL). Run ids may be "
        "abbreviated to any unique prefix.",
    )
    rsub = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    rsub.required = True

    p = rsub.add_parser(
        "list",
        help="list runs, newest first",
        description="List runs matching every filter. Example: coinbt runs list --strategy "
        "sma_cross --where 'sharpe>1' --order=-sharpe --limit 10",
    )
    p.add_argument("--strategy", help="strategy name")
    p.add_argument("--symbol", help="BASE-QUOTE, e.g. BTC-USDT")
    p.add_argument("--timeframe", help="e.g. 1h")
    p.add_argument("--kind", help="backtest, sweep, sweep_trial, notebook, legacy or compare")
    p.add_argument("--status", help="finished, failed, …")
    p.add_argument("--tag", action="append", default=[], help="only runs with this tag")
    p.add_argument("--since", help="created at or after (UTC date/time, e.g. 2026-01-31)")
    p.add_argument("--until", help="created before (UTC date/time)")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COND",
        help="column OP value, OP one of = != < <= > >=, e.g. 'sharpe>1' (repeatable; "
        "commas also separate conditions)",
    )
    p.add_argument(
        "--order",
        action="append",
        metavar="COL",
        help="sort column; descending with a minus, written with = (--order=-sharpe)",
    )
    p.add_argument("--limit", type=int, default=20, help="most rows to show (20; 0 = all)")
    p.add_argument("--offset", type=int, default=0, help="rows to skip")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)
    p.set_defaults(func=cmd_list)

    p = rsub.add_parser("show", help="one run: spec, stats and artifacts")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)
    p.set_defaults(func=cmd_show)

    p = rsub.add_parser("compare", help="stats of several runs side by side")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run ids or unique prefixes")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)
    p.set_defaults(func=cmd_compare)

    p = rsub.add_parser(
        "delete",
        help="delete a run and its artifacts",
        description="Delete a run: it is hidden first, then its artifacts are removed, then "
        "its rows, so no listed run ever points at missing files.",
    )
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _common(p)
    p.set_defaults(func=cmd_delete)

    p = rsub.add_parser(
        "prune",
        help="delete runs older than a duration",
        description="Delete every run created longer ago than --older-than, with its "
        "artifacts (artifacts first, then rows).",
    )
    p.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m, 2w")
    p.add_argument("--kind", help="only runs of this kind")
    p.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    _common(p)
    p.set_defaults(func=cmd_prune)


# -- helpers --------------------------------------------------------------------------------


def _registry(args: argparse.Namespace) -> Any:
    from coinbt.cli.db_cmd import registry_url
    from coinbt.storage import Registry

    return Registry(registry_url(args), args.artifacts)


def _value(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text.strip("'\"")
    return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else number


def parse_where(conditions: list[str]) -> dict[str, tuple[str, Any]]:
    """``["sharpe>1", "n_trades>=10,kind=backtest"]`` → ``{"sharpe": (">", 1), …}``."""
    out: dict[str, tuple[str, Any]] = {}
    for chunk in conditions:
        for part in chunk.split(","):
            if not part.strip():
                continue
            match = _WHERE.match(part)
            if not match:
                raise ConfigError(
                    f"bad --where {part.strip()!r}: use COLUMN OP VALUE with OP one of "
                    "= != < <= > >=, e.g. 'sharpe>1'",
                    field="where",
                )
            column, op, text = match.groups()
            value = _value(text)
            if column in _NUMERIC and not isinstance(value, int | float):
                raise ConfigError(
                    f"bad --where {part.strip()!r}: {column} is a number, got {text!r}",
                    field="where",
                )
            out[column] = (op, value)
    return out


def _plain(value: Any) -> Any:
    """A JSON-safe version of a cell (timestamps as ISO text, NaN as None)."""
    import pandas as pd

    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return _plain(value.item())
    return value


def _fmt(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return value[:16].replace("T", " ")
    return str(value)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2, allow_nan=False, default=str))


# -- commands -------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    if args.limit < 0 or args.offset < 0:
        raise ConfigError("--limit and --offset must be 0 or more", field="limit")
    where = parse_where(args.where)
    reg = _registry(args)
    try:
        frame = reg.runs(
            strategy=args.strategy,
            symbol=args.symbol,
            timeframe=args.timeframe,
            kind=args.kind,
            status=args.status,
            since=args.since,
            until=args.until,
            tags=args.tag or None,
            where=where,
            order_by=args.order,
            limit=args.limit or None,
            offset=args.offset,
        )
    finally:
        reg.close()
    records = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
    if args.json:
        _dump(records)
        return 0
    if not records:
        print("no runs match")
        return 0
    rows = [
        [r["run_id"][:12] if c == "run_id" else _fmt(r.get(c)) for c in _LIST_COLUMNS]
        for r in records
    ]
    print(_table(_LIST_COLUMNS, rows))
    return 0


def _documents(reg: Any, run_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from coinbt.errors import StorageError

    artifacts = reg.artifacts(run_id)

    def doc(name: str) -> Any:
        if f"{name}.json" not in artifacts:
            raise StorageError(f"run {run_id}: the registry lists no artifact {name}.json")
        return reg.store.read_document(run_id, name, artifacts[f"{name}.json"]["sha256"])

    return doc("spec"), doc("stats"), artifacts


def cmd_show(args: argparse.Namespace) -> int:
    reg = _registry(args)
    try:
        run_id = reg.resolve(args.run)
        row = reg.run(run_id)
        if row["status"] != "finished" and "spec.json" not in reg.artifacts(run_id):
            # queued, running, failed or cancelled before recording: what the row planned
            keys = ("strategy", "params", "exchange", "symbol", "symbols", "timeframe",
                    "start", "end", "engine")  # fmt: skip
            spec, stats, artifacts = {k: _plain(row[k]) for k in keys}, {}, {}
        else:
            spec, stats, artifacts = _documents(reg, run_id)
    finally:
        reg.close()
    arts = [
        {k: a[k] for k in ("name", "uri", "bytes", "rows", "sha256")}
        for a in sorted(artifacts.values(), key=lambda a: a["name"])
    ]
    run = {
        k: _plain(row[k])
        for k in ("kind", "status", "created", "parent_run_id", "tags", "artifact_uri", "error")
    }
    if args.json:
        _dump(
            {
                "run_id": run_id,
                "run": run,
                "spec": spec,
                "stats": _plain_dict(stats),
                "artifacts": arts,
            }
        )
        return 0
    print(f"run {run_id}")
    print(
        f"  {run['kind']} · {run['status']} · created {_fmt(run['created'])}"
        + (f" · tags {', '.join(run['tags'])}" if run["tags"] else "")
    )
    span = f"{spec.get('data_start')} → {spec.get('data_end')} ({spec.get('bars')} bars)"
    if "bars" not in spec:  # not recorded: the range asked for
        span = f"{spec.get('start') or 'first bar'} → {spec.get('end') or 'last bar'} (planned)"
    if run["kind"] == "legacy":  # docs/legacy.md: the predecessor's request dates, its run id
        span = f"{spec.get('start')} → {spec.get('end')} (legacy run {spec['legacy']['run_id']})"
    print(
        f"  {spec.get('strategy')} {spec.get('params')} on {spec.get('exchange')} "
        f"{','.join(spec.get('symbols') or [str(spec.get('symbol'))])} {spec.get('timeframe')}, "
        f"{span}"
    )
    if run["error"]:
        print(f"  error: {run['error']}")
    print("  engine: " + ", ".join(f"{k}={v}" for k, v in (spec.get("engine") or {}).items()))
    if not stats:
        return 0
    print("\nstats")
    print(_table(["stat", "value"], [[k, _fmt(v)] for k, v in stats.items()]))
    print("\nartifacts")
    print(
        _table(
            ["name", "bytes", "rows", "sha256"],
            [[a["name"], str(a["bytes"]), _fmt(a["rows"]), a["sha256"]] for a in arts],
        )
    )
    return 0


def _plain_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in d.items()}


def cmd_compare(args: argparse.Namespace) -> int:
    reg = _registry(args)
    try:
        ids = [reg.resolve(r) for r in args.runs]
        docs = {run_id: _documents(reg, run_id)[:2] for run_id in dict.fromkeys(ids)}
    finally:
        reg.close()
    if args.json:
        _dump(
            {
                run_id: {"spec": spec, "stats": _plain_dict(stats)}
                for run_id, (spec, stats) in docs.items()
            }
        )
        return 0
    keys: list[str] = []
    for _, stats in docs.values():
        keys += [k for k in stats if k not in keys]
    headers = ["", *(run_id[:12] for run_id in docs)]
    rows = [
        ["strategy", *(str(spec.get("strategy")) for spec, _ in docs.values())],
        ["params", *(json.dumps(spec.get("params"), sort_keys=True) for spec, _ in docs.values())],
        ["symbol", *(f"{spec.get('symbol')} {spec.get('timeframe')}" for spec, _ in docs.values())],
    ]
    rows += [[k, *(_fmt(stats.get(k)) for _, stats in docs.values())] for k in keys]
    print(_table(headers, rows))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from coinbt.storage.common import hide_password

    reg = _registry(args)
    try:
        run_id = reg.resolve(args.run)
        if not args.yes:
            if not sys.stdin.isatty():
                raise ConfigError(
                    f"refusing to delete run {run_id} without confirmation; pass --yes",
                    field="yes",
                )
            answer = input(f"delete run {run_id} and its artifacts? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        reg.delete(run_id)
        print(f"deleted run {run_id} from {hide_password(reg.url)}")
    finally:
        reg.close()
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from coinbt.storage.common import hide_password, parse_duration

    age = parse_duration(args.older_than)
    reg = _registry(args)
    try:
        ids = reg.prune(age, kind=args.kind, dry_run=args.dry_run)
        url = hide_password(reg.url)
    finally:
        reg.close()
    verb = "would delete" if args.dry_run else "deleted"
    for run_id in ids:
        print(f"{verb} {run_id}")
    print(f"{verb} {len(ids)} run(s) older than {args.older_than} from {url}")
    return 0
