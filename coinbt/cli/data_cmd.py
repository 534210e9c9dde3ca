"""``coinbt data``: list the catalog, validate a series, import an exchange file, fetch candles
from an exchange (ccxt) and refresh a list of series.

The lead's ``coinbt.cli.main`` calls :func:`register` with its sub-parsers; every handler
returns an exit code and raises :class:`~coinbt.errors.CoinbtError` for user mistakes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from coinbt.data import bars_fingerprint, import_file, list_catalog, load_bars
from coinbt.data._fmt import fmt_ts
from coinbt.errors import ConfigError


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the catalog as a table; exit 0 (also when it is empty)."""
    frame = list_catalog(exchange=args.exchange, symbol=args.symbol, timeframe=args.timeframe)
    if frame.empty:
        print("no datasets match (data root: $COINBT_DATA_ROOT or ./data, then bundled data)")
        return 0
    from pathlib import Path

    from coinbt.data.fetch import last_fetch

    def fetched(r: Any) -> str:
        state = last_fetch(Path(r.root), r.exchange, r.symbol, r.timeframe)
        return str(state["last_success"]).replace("+00:00", "Z") if state else "-"

    rows = [
        (r.exchange, r.symbol, r.timeframe, fmt_ts(r.start), fmt_ts(r.end), f"{r.rows:,}",
         fetched(r))
        for r in frame.itertuples(index=False)
    ]  # fmt: skip
    header = ("exchange", "symbol", "timeframe", "start (UTC)", "end (UTC)", "rows",
              "last fetched")  # fmt: skip
    print(_table(rows, header))
    roots = ", ".join(dict.fromkeys(frame["root"]))
    print(f"\n{len(frame)} dataset(s); roots: {roots}")
    from coinbt.data.fetch import stale_series
    from coinbt.storage.common import parse_duration

    limit = parse_duration(args.stale_after)
    listed = set(zip(frame["exchange"], frame["symbol"], frame["timeframe"], strict=True))
    for root in dict.fromkeys(frame["root"]):
        for s in stale_series(root, limit):
            if (s["exchange"], s["symbol"], s["timeframe"]) not in listed:
                continue
            print(f"warning: {s['exchange']} {s['symbol']} {s['timeframe']} was last fetched "
                  f"{s['age'].days} d {s['age'].seconds // 3600} h ago (> {args.stale_after}); "
                  "is its refresh still running?")  # fmt: skip
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Print the validation report of one series; exit 1 when it has errors."""
    bars = load_bars(args.symbol, args.timeframe, args.start, args.end, args.exchange, strict=False)
    report: dict[str, Any] = bars.attrs["validation"]
    print(
        f"{bars.attrs['exchange']} {bars.attrs['symbol']} {bars.attrs['timeframe']}: "
        f"{report['rows']} bars, {fmt_ts(bars.index[0])} -> {fmt_ts(bars.index[-1])} UTC, "
        f"fingerprint {bars_fingerprint(bars)}"
    )
    print(
        f"gaps {report['gaps']} (missing bars {report['missing_bars']}), zero-volume bars "
        f"{report['zero_volume_bars']}, misaligned {report['misaligned']}, duplicates "
        f"{report['duplicates']}, OHLC violations {report['ohlc_violations']}, NaN "
        f"{report['nan_values']}"
    )
    for line in report["errors"]:
        print(f"ERROR   {line}")
    for line in report["warnings"]:
        print(f"WARNING {line}")
    print("result: " + ("ok" if report["ok"] else f"{len(report['errors'])} error(s)"))
    return 0 if report["ok"] else 1


def _parse_map(pairs: Sequence[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        src, sep, dst = pair.partition("=")
        if not sep or not src or not dst:
            raise ConfigError(
                f"--map expects SOURCE=TARGET such as 'Open time=timestamp', got {pair!r}",
                field="mapping",
            )
        mapping[src] = dst.strip()
    return mapping


def cmd_import(args: argparse.Namespace) -> int:
    """Import a file into the catalog and print what was written."""
    report = import_file(
        args.path,
        exchange=args.exchange,
        symbol=args.symbol,
        timeframe=args.timeframe,
        mapping=_parse_map(args.map),
        time_unit=args.time_unit,
        tz=args.tz,
        root=args.root,
        legacy_tokens=args.legacy_tokens,
        time_format=args.time_format,
    )
    print(report.summary())
    return 0


def _print_reports(reports: Sequence[Any], as_json: bool) -> int:
    import json

    if as_json:
        print(json.dumps([r.to_dict() for r in reports], indent=1))
    else:
        for r in reports:
            print(r.summary())
    failed = [r for r in reports if not r.ok]
    if failed and not as_json:
        print(f"{len(failed)} of {len(reports)} series failed; what they fetched before is kept")
    return 1 if failed else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch candles of one or more symbols through ccxt into the catalog."""
    from coinbt.data.fetch import fetch

    reports = [
        fetch(
            args.exchange,
            symbol,
            args.timeframe,
            since=args.since,
            until=args.until,
            root=args.root,
            repair=args.repair,
            api_host=args.api_host,
            retries=args.retries,
            progress=not args.json,
        )  # fmt: skip
        for symbol in args.symbol
    ]
    return _print_reports(reports, args.json)


def cmd_refresh(args: argparse.Namespace) -> int:
    """Fetch every series of a refresh plan, here or as a periodic RQ job."""
    if args.queue is not None:
        from coinbt.jobs.refresh_job import schedule_refresh

        job = schedule_refresh(args.config, queue=args.queue, every=args.every)
        print(f"refresh queued on {args.queue!r} as job {job.id}"
              + (f", then every {args.every}" if args.every else ""))  # fmt: skip
        return 0
    if args.every:
        raise ConfigError("--every needs --queue (a periodic RQ job); from cron, omit both")
    from coinbt.data.refresh import refresh

    return _print_reports(refresh(args.config, progress=not args.json), args.json)


def register(subparsers: Any) -> None:
    """Add the ``data`` command and its ``list``, ``validate``, ``import``, ``fetch`` and
    ``refresh`` subcommands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned in ``coinbt.cli.main``.
    """
    data = subparsers.add_parser(
        "data",
        help="list, validate and import market data",
        description="Market data catalog: {root}/{exchange}/{BASE-QUOTE}/{timeframe}/{year}"
        ".parquet under $COINBT_DATA_ROOT (default ./data), then the bundled candles.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("list", help="table of the datasets in the catalog")
    p.add_argument("--exchange", help="only this exchange (e.g. binance)")
    p.add_argument("--symbol", help="only this symbol (BTC-USDT, BTC/USDT, KRW-BTC on upbit)")
    p.add_argument("--timeframe", help="only this timeframe (1m ... 1d, 1w, 1M = month)")
    p.add_argument("--stale-after", default="2d",
                   help="warn about fetched series not refreshed for this long (default 2d)")  # fmt: skip
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "validate",
        help="check a series for duplicates, disorder, bad OHLC, NaN, gaps, zero volume",
        description="Print the validation report of one series; exit status 1 on errors.",
    )
    p.add_argument("symbol", metavar="SYMBOL", help="BTC-USDT or an alias")
    p.add_argument("--timeframe", required=True, help="ccxt token: 1m 5m 1h 1d 1w 1M ...")
    p.add_argument("--exchange", help="needed when the symbol exists on several exchanges")
    p.add_argument("--start", help="first bar open time, inclusive (UTC unless zoned)")
    p.add_argument("--end", help="last bar open time, inclusive; a date includes the whole day")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "import",
        help="import an exchange CSV/Parquet/Feather file into the catalog",
        description="Read, validate and merge candles into yearly Parquet files (atomic writes; "
        "nothing is written when anything is wrong).",
    )
    p.add_argument("path", metavar="PATH", help="CSV, Parquet or Feather file")
    p.add_argument("--exchange", required=True, help="exchange name, stored lower case")
    p.add_argument("--symbol", required=True, help="BTC-USDT, BTC/USDT, BTC_USDT, KRW-BTC (upbit)")
    p.add_argument("--timeframe", required=True, help="ccxt token (1m minute, 1M month)")
    p.add_argument(
        "--map",
        action="append",
        metavar="SRC=DST",
        help="map a source column to timestamp/open/high/low/close/volume (repeatable)",
    )
    p.add_argument(
        "--time-unit", choices=("s", "ms", "us", "ns"), help="epoch unit (default: detected)"
    )
    p.add_argument("--tz", default="UTC", help="zone of naive date strings (default UTC)")
    p.add_argument(
        "--time-format", help="strftime format of date strings, e.g. '%%Y-%%m-%%d %%I-%%p'"
    )
    p.add_argument("--root", help="catalog root to write (default $COINBT_DATA_ROOT or ./data)")
    p.add_argument(
        "--legacy-tokens",
        action="store_true",
        help="read --timeframe with the predecessor's tokens (1M/5M = minutes, 1Mo = month)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "fetch",
        help="download closed candles from an exchange through ccxt (incremental)",
        description="Fetch closed candles into the catalog: merged with what is stored (the "
        "newer download wins), validated, written atomically per year file. A rerun fetches "
        "only what is missing; --repair also refetches gaps. Exit 1 if a symbol failed.",
    )
    p.add_argument("--exchange", required=True, help="ccxt exchange id: upbit, binance, ...")
    p.add_argument("--symbol", required=True, action="append",
                   help="KRW-BTC (upbit), BTC/USDT, BTC-USDT; repeat for several")  # fmt: skip
    p.add_argument("--timeframe", required=True, help="ccxt token (1m minute, 1h, 1d, 1M month)")
    p.add_argument("--since", help="first bar open time (UTC unless zoned); needed when "
                   "nothing is stored")  # fmt: skip
    p.add_argument("--until", help="last bar open time, inclusive; a date includes the whole "
                   "day (default now)")  # fmt: skip
    p.add_argument("--repair", action="store_true", help="also refetch gaps in the stored range")
    p.add_argument("--root", help="catalog root to write (default $COINBT_DATA_ROOT or ./data)")
    p.add_argument("--retries", type=int, default=5,
                   help="retries after network, rate-limit or 5xx errors (default 5)")  # fmt: skip
    p.add_argument("--api-host", help="http://host:port replacing the exchange's API host "
                   "(a proxy or a local stand-in)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="reports as JSON, no progress bars")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser(
        "refresh",
        help="fetch every series of a refresh.yaml (cron, or a periodic RQ job)",
        description="Fetch exchanges x symbols x timeframes listed in a YAML file (docs/data.md). "
        "One failing series does not stop the others; exit 1 if any failed.",
    )
    p.add_argument("--config", required=True, help="refresh.yaml")
    p.add_argument("--queue", help="enqueue as an RQ job on this queue instead of running here")
    p.add_argument("--every", help="with --queue: run again this long after each run (1h, 30m)")
    p.add_argument("--json", action="store_true", help="reports as JSON, no progress bars")
    p.set_defaults(func=cmd_refresh)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``coinbt data`` on its own (for tests and debugging)."""
    parser = argparse.ArgumentParser(prog="coinbt")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
