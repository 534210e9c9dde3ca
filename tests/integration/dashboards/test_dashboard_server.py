"""``coinbt dashboard``: the Voila command it builds and the mistakes it refuses (the server
itself is exercised in tests/browser/)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from coinbt.cli.main import main
from coinbt.dashboards.common import readonly_url
from coinbt.dashboards.server import plan_server
from coinbt.errors import ConfigError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_server_is_planned_with_safe_settings(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'r.db'}"
    server = plan_server(port=port, registry_url=url)
    assert len(server.token) >= 24 and f"token={server.token}" in server.url
    assert server.url.startswith(f"http://127.0.0.1:{port}/voila/render/runs.ipynb")
    argv = " ".join(server.argv)
    for flag in (
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--token={server.token}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--preheat_kernel=True",
        "--VoilaConfiguration.extension_denylist=jupyterlab-plotly",  # charts are Chart widgets
    ):
        assert flag in argv
    assert "notebooks/dashboards" in argv
    assert server.env["COINBT_DASHBOARD_REGISTRY_URL"] == readonly_url(url)
    assert "mode=ro" in server.env["COINBT_DASHBOARD_REGISTRY_URL"]
    assert plan_server(port=port, token="s3cret-token").token == "s3cret-token"


def test_relative_places_are_made_absolute_for_kernels_started_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Voila starts kernels in notebooks/dashboards: the embedded relative defaults
    (.coinbt/artifacts, ./data) must still point where they point for the command."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COINBT_ARTIFACTS_URI", raising=False)
    monkeypatch.setenv("COINBT_DATA_ROOT", "mydata")
    env = plan_server(port=free_port()).env
    assert env["COINBT_ARTIFACTS_URI"] == str(tmp_path / ".coinbt" / "artifacts")
    assert env["COINBT_DATA_ROOT"] == str(tmp_path / "mydata")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", "s3://bucket/prefix")
    assert plan_server(port=free_port()).env["COINBT_ARTIFACTS_URI"] == "s3://bucket/prefix"
    assert "--preheat_kernel" not in " ".join(plan_server(port=free_port(), pool_size=0).argv)


def test_busy_ports_short_tokens_and_missing_dashboards_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is not free"):
            plan_server(port=port)
        assert main(["dashboard", "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"port {port}" in err and "--port" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="at least 8 characters"):
        plan_server(port=free_port(), token="abc")
    with pytest.raises(ConfigError, match="expected 1-65535"):
        plan_server(port=70000)
    monkeypatch.setenv("COINBT_DASHBOARDS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="has no runs.ipynb"):
        plan_server(port=free_port())


def test_readonly_urls() -> None:
    assert readonly_url("sqlite:////x/r.db") == "sqlite:///file:/x/r.db?mode=ro&uri=true"
    pg = readonly_url("postgresql+psycopg://ro:pw@db:5432/coinbt")
    assert pg.startswith("postgresql+psycopg://ro:pw@db:5432/coinbt?options=")
    assert "default_transaction_read_only" in pg
    assert readonly_url(pg) == pg  # idempotent
