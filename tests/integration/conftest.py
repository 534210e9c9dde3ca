"""Services shared by the integration tests, run for real on this machine.

* ``redis_base`` / ``redis_url``: a ``redis-server`` private to the test session (unless
  ``$COINBT_TEST_REDIS_URL`` is set), and a flushed database of it for each test;
* ``redis_server``: a Redis of the test's own that it may stop and start again;
* ``moto_server`` / ``s3_env`` / ``s3_bucket``: S3 over real HTTP (moto's server mode), with
  coinbt and boto3 pointed at it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from local_services import RedisServer

REDIS_DB = int(os.environ.get("COINBT_TEST_REDIS_DB", "11"))


@pytest.fixture(scope="session")
def redis_base(
    tmp_path_factory: pytest.TempPathFactory, skip_or_fail: Callable[[str], None]
) -> Iterator[str]:
    """The Redis the jobs tests use: ``$COINBT_TEST_REDIS_URL`` when set; otherwise a
    ``redis-server`` of this test session's own on a free port (so two test runs on one
    machine never flush or steal each other's jobs); otherwise 127.0.0.1:6379."""
    configured = os.environ.get("COINBT_TEST_REDIS_URL")
    if configured or shutil.which("redis-server") is None:
        yield configured or "redis://127.0.0.1:6379"
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url.rsplit("/", 1)[0]
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_base: str, skip_or_fail: Callable[[str], None]) -> Iterator[str]:
    """A flushed Redis database (db ``$COINBT_TEST_REDIS_DB``, 11) for this test."""
    redis = pytest.importorskip("redis")
    url = f"{redis_base}/{REDIS_DB}"
    conn = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.exceptions.RedisError as exc:
        skip_or_fail(f"Redis unreachable at {url}: {exc}")
    conn.flushdb()
    try:
        yield url
    finally:
        conn.flushdb()
        conn.close()


@pytest.fixture
def redis_server(tmp_path: Path, skip_or_fail: Callable[[str], None]) -> Iterator[RedisServer]:
    """A stoppable Redis (``redis-server`` must be on PATH); stopped at the end."""
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not on PATH")
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


# -- S3: a moto server over real HTTP -------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on a free port of 127.0.0.1 for the whole session; yields its URL."""
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point coinbt and boto3 at the moto server with fake credentials; yields the endpoint."""
    monkeypatch.setenv("COINBT_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/coinbt-test-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/coinbt-test-aws-credentials")
    return moto_server


@pytest.fixture
def s3_bucket(s3_env: str) -> str:
    """A fresh, empty bucket on the moto server; yields its name."""
    import boto3

    name = f"coinbt-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_env).create_bucket(Bucket=name)
    return name
