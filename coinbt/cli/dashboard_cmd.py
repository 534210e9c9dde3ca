"""``coinbt dashboard``: serve the Voila dashboards (runs explorer, run, compare, sweep)."""

from __future__ import annotations

import argparse

_DESCRIPTION = """\
Serve the dashboards in notebooks/dashboards with Voila: the runs explorer, and the run,
compare and sweep views it links to. Every request needs the token (generated and printed when
--token is not given); sources are stripped and tracebacks never reach the browser; a busy port
is refused rather than silently changed; the registry is opened read-only. Stop with Ctrl-C.
"""

_EXAMPLE = """\
examples:
  coinbt dashboard                                    # the embedded registry, port 8866
  coinbt dashboard --port 9000 --token "$DASH_TOKEN"
  coinbt dashboard --registry-url postgresql+psycopg://coinbt_ro@db/coinbt
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dashboard`` command."""
    p = sub.add_parser(
        "dashboard",
        help="serve the Voila dashboards over the run registry",
        description=_DESCRIPTION,
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=8866, help="port (default 8866; refused if busy)")
    p.add_argument("--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--token", help="access token (default: a random one, printed)")
    p.add_argument(
        "--registry-url",
        help="registry to show (default $COINBT_REGISTRY_URL or the embedded one); read-only",
    )
    p.add_argument(
        "--cull-idle", type=int, default=600, metavar="S",
        help="shut down a visitor's kernel after S idle seconds (600)",
    )  # fmt: skip
    p.add_argument(
        "--pool-size", type=int, default=1, metavar="N",
        help="preheated kernels per dashboard, ready before a visitor asks (1; 0 = none)",
    )  # fmt: skip
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    import subprocess

    from coinbt.dashboards.server import plan_server

    server = plan_server(
        port=args.port,
        ip=args.ip,
        token=args.token,
        registry_url=args.registry_url,
        cull_idle_s=args.cull_idle,
        pool_size=args.pool_size,
    )
    print(f"coinbt dashboard: {server.url}", flush=True)
    process = subprocess.Popen(server.argv, env=server.env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=20)
        return 0
