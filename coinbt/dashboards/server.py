"""``coinbt dashboard``: Voila over ``notebooks/dashboards`` with safe settings.

* a token on every request (generated and printed when not given);
* sources stripped and no tracebacks sent to the browser;
* the port refused when busy instead of Voila's silent move to the next one;
* the registry opened read-only (``readonly_url``; use a read-only role too);
* idle kernels culled (each visitor owns one);
* a pool of preheated kernels per dashboard (``--pool-size``): the kernel is started and
  coinbt imported before a visitor asks, so a page costs its query, not a kernel start.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from coinbt.dashboards.common import REGISTRY_ENV, readonly_url
from coinbt.errors import ConfigError

DASHBOARDS_ENV = "COINBT_DASHBOARDS_DIR"
DEFAULT_PORT = 8866


def dashboards_dir() -> Path:
    """``$COINBT_DASHBOARDS_DIR``, else ``notebooks/dashboards`` of the source tree."""
    configured = os.environ.get(DASHBOARDS_ENV, "").strip()
    folder = (
        Path(configured).expanduser()
        if configured
        else Path(__file__).resolve().parents[2] / "notebooks" / "dashboards"
    )
    if not (folder / "runs.ipynb").is_file():
        raise ConfigError(
            f"dashboards folder {folder} has no runs.ipynb; set ${DASHBOARDS_ENV} to the folder "
            "holding the dashboards (notebooks/dashboards in the coinbt repository)",
            field=DASHBOARDS_ENV,
        )
    return folder


def check_port(ip: str, port: int) -> None:
    """Refuse a port that is out of range or already taken (Voila would move on silently)."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected 1-65535", field="port")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as exc:
            raise ConfigError(
                f"port {port} on {ip} is not free ({exc.strerror}); stop what uses it or pick "
                "another with --port",
                field="port",
            ) from None


@dataclass(frozen=True)
class Server:
    """What ``coinbt dashboard`` starts: the command, its environment and the URL to open."""

    argv: list[str]
    env: dict[str, str]
    url: str
    token: str


def plan_server(
    *,
    port: int = DEFAULT_PORT,
    ip: str = "127.0.0.1",
    token: str | None = None,
    registry_url: str | None = None,
    cull_idle_s: int = 600,
    pool_size: int = 1,
) -> Server:
    """Check the settings and build the Voila command (nothing starts)."""
    from coinbt import settings

    folder = dashboards_dir()
    check_port(ip, port)
    if token is not None and len(token) < 8:
        raise ConfigError("--token: use at least 8 characters (or omit it to get a random one)")
    secret = token or secrets.token_urlsafe(24)
    url = registry_url or settings.registry_url()
    env = dict(os.environ)
    env[REGISTRY_ENV] = readonly_url(url)
    # Voila starts each kernel in the dashboards folder: relative places (the embedded
    # defaults .coinbt/artifacts and ./data among them) must mean what they mean here
    env.update(_absolute_places())
    argv = [
        sys.executable, "-m", "voila", str(folder),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",
        f"--token={secret}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        # plotly's mime renderer (another full plotly.js on every page): charts are Chart
        "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext",
        "--VoilaConfiguration.extension_denylist=jupyterlab-plotly",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        "--MappingKernelManager.cull_interval=60",
        f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_s)}",
    ]  # fmt: skip
    if pool_size > 0:  # kernels started and coinbt imported before a visitor asks
        argv += ["--preheat_kernel=True", f"--pool_size={int(pool_size)}"]
    return Server(argv, env, f"http://{ip}:{port}/voila/render/runs.ipynb?token={secret}", secret)


def _absolute_places() -> dict[str, str]:
    from coinbt import settings
    from coinbt.settings import data_root

    artifacts = settings.artifacts_uri()
    if "://" not in artifacts:
        artifacts = str(Path(artifacts).expanduser().resolve())
    return {"COINBT_ARTIFACTS_URI": artifacts, "COINBT_DATA_ROOT": str(data_root().resolve())}


__all__ = [
    "DASHBOARDS_ENV",
    "DEFAULT_PORT",
    "Server",
    "check_port",
    "dashboards_dir",
    "plan_server",
]
