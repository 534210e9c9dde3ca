"""``coinbt doctor`` against the real services: the registry (SQLite and PostgreSQL), Redis with
real RQ queues, failed registries and workers, and S3 over HTTP (moto) — healthy, then broken
in each way it checks. Counts are compared with what the test put there, never with the
doctor's own numbers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from local_services import coinbt_cli

from coinbt.doctor import (
    CRITICAL,
    OK,
    WARNING,
    check_artifacts,
    check_redis,
    check_registry,
)
from coinbt.storage import migrate

REPO = Path(__file__).resolve().parents[3]


def add_runs(url: str, statuses: dict[str, int], *, ended: timedelta = timedelta(hours=1)) -> None:
    """Insert runs with the given statuses straight into the registry's table (ended ``ended``
    ago), through SQLAlchemy Core rather than coinbt's own recording."""
    from sqlalchemy import create_engine, insert, pool

    from coinbt.storage.models import Run

    migrate.upgrade(url)
    when = datetime.now(UTC) - ended
    rows = [
        {"run_id": uuid.uuid4().hex, "kind": "backtest", "status": status, "created": when,
         "finished": when, "strategy": "sma_cross", "params": {}, "symbol": "BTC-USDT",
         "symbols": ["BTC-USDT"], "timeframe": "1h", "engine": {}, "tags": []}
        for status, n in statuses.items() for _ in range(n)
    ]  # fmt: skip
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(insert(Run), rows)
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


# -- registry -------------------------------------------------------------------------------------


def test_registry_counts_runs_by_status(sqlite_url: str) -> None:
    add_runs(sqlite_url, {"finished": 7, "failed": 1, "queued": 2})
    check = check_registry(sqlite_url)
    assert check.status == OK, check.detail
    assert check.data["runs"] == {"finished": 7, "failed": 1, "queued": 2}
    assert "10 runs" in check.detail and check.data["revision"] == migrate.head()


def test_a_registry_file_not_yet_made_is_fine_and_stays_unmade(tmp_path: Path) -> None:
    check = check_registry(f"sqlite:///{tmp_path / 'none.db'}")
    assert check.status == OK and "not created yet" in check.detail
    assert not (tmp_path / "none.db").exists()  # the doctor never creates or migrates


def test_failure_rate_of_the_last_day_uses_the_operations_table(sqlite_url: str) -> None:
    add_runs(sqlite_url, {"finished": 15, "failed": 4})  # 19 ended: too few to judge
    assert check_registry(sqlite_url).status == OK
    add_runs(sqlite_url, {"finished": 21})  # 4 of 40 failed = 10 %: a warning
    check = check_registry(sqlite_url)
    assert check.status == WARNING and "10% of the 40 runs" in check.detail
    add_runs(sqlite_url, {"failed": 1})  # 5 of 41 = 12 %: critical
    assert check_registry(sqlite_url).status == CRITICAL
    add_runs(sqlite_url, {"failed": 30}, ended=timedelta(days=2))  # older ones do not count
    assert check_registry(sqlite_url).data["ended_24h"] == 41


def test_a_registry_migrated_by_a_newer_coinbt_is_critical(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    check = check_registry(sqlite_url)
    assert check.status == CRITICAL and "f00dfeed" in check.detail
    assert "newer coinbt" in check.detail


def test_an_empty_database_is_a_warning_naming_db_upgrade(
    pg_schema: Callable[..., Any], skip_or_fail: Callable[[str], None]
) -> None:
    with pg_schema(skip_or_fail) as url:
        check = check_registry(url)
        assert check.status == WARNING and "coinbt db upgrade" in check.detail
        add_runs(url, {"finished": 3, "running": 1})
        check = check_registry(url)
        assert check.status == OK and check.data["runs"] == {"finished": 3, "running": 1}


def test_an_unreachable_or_malformed_registry_is_critical_without_its_password() -> None:
    check = check_registry("postgresql+psycopg://coinbt:hunter2@127.0.0.1:1/coinbt")
    assert check.status == CRITICAL and "not reachable" in check.detail
    assert "hunter2" not in json.dumps(check.__dict__)
    assert check_registry("nonsense://").status == CRITICAL


# -- Redis ----------------------------------------------------------------------------------------


@pytest.fixture
def rq(redis_url: str) -> Iterator[Any]:
    """A connection to a flushed Redis database, and RQ's classes."""
    from redis import Redis

    conn = Redis.from_url(redis_url)
    yield conn
    conn.close()


def live_worker(conn: Any, name: str) -> Any:
    from rq import Queue, Worker

    worker = Worker([Queue("default", connection=conn)], connection=conn, name=name)
    worker.register_birth()
    return worker


def test_redis_not_configured_is_fine() -> None:
    assert check_redis(None).status == OK


def test_redis_workers_queue_depth_and_dead_letters(rq: Any, redis_url: str) -> None:
    from rq import Queue

    check = check_redis(redis_url)
    assert check.status == CRITICAL and "no live worker" in check.detail
    live_worker(rq, f"w1-{uuid.uuid4().hex[:6]}")
    check = check_redis(redis_url)
    assert check.status == OK and check.data["workers"] == 1, check.detail
    assert check_redis(redis_url, min_workers=2).status == WARNING

    queue = Queue("sweeps", connection=rq)
    jobs = [queue.enqueue("math.sqrt", 4) for _ in range(10)]
    assert check_redis(redis_url).status == OK  # 10 waiting is normal
    jobs.append(queue.enqueue("math.sqrt", 9))
    check = check_redis(redis_url)
    assert check.status == WARNING and "11 jobs waiting in 'sweeps'" in check.detail
    assert check.data["queues"]["sweeps"] == {"waiting": 11, "failed": 0}
    jobs += [queue.enqueue("math.sqrt", 1) for _ in range(40)]
    assert check_redis(redis_url).status == CRITICAL  # 51 waiting

    for job in jobs[:51]:
        queue.remove(job)
    for job in jobs[:5]:
        queue.failed_job_registry.add(job, ttl=600, exc_string="ValueError: boom")
    check = check_redis(redis_url)
    assert check.status == WARNING and "5 failed jobs in 'sweeps'" in check.detail
    for job in jobs[5:21]:
        queue.failed_job_registry.add(job, ttl=600, exc_string="ValueError: boom")
    check = check_redis(redis_url)
    assert check.status == CRITICAL and check.data["queues"]["sweeps"]["failed"] == 21


def test_redis_unreachable_is_critical_and_hides_the_password() -> None:
    check = check_redis("redis://:hunter2@127.0.0.1:1/0")
    assert check.status == CRITICAL and "not reachable" in check.detail
    assert "hunter2" not in check.detail


# -- artifact store -------------------------------------------------------------------------------


def test_a_local_artifact_folder(tmp_path: Path) -> None:
    assert check_artifacts(str(tmp_path / "later")).status == OK
    (tmp_path / "file").write_text("not a folder")
    assert check_artifacts(str(tmp_path / "file")).status == CRITICAL


def test_s3_bucket_missing_plain_then_initialised(s3_env: str) -> None:
    from coinbt.storage.s3 import init_bucket, make_client

    name = f"coinbt-doc-{uuid.uuid4().hex[:10]}"
    uri = f"s3://{name}/runs"
    check = check_artifacts(uri)
    assert check.status == CRITICAL and "does not exist" in check.detail
    make_client().create_bucket(Bucket=name)
    check = check_artifacts(uri)
    assert check.status == WARNING
    assert "versioning is off" in check.detail and "no lifecycle rule" in check.detail
    assert f"coinbt storage init-bucket {uri}" in check.detail
    init_bucket(uri, expire_days=30, noncurrent_days=7)
    check = check_artifacts(uri)
    assert check.status == OK and check.data["versioning"] == "Enabled", check.detail
    # a rule for another prefix does not cover this one
    assert check_artifacts(f"s3://{name}/other").status == WARNING


def test_s3_endpoint_down_is_critical(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINBT_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    check = check_artifacts("s3://anything/runs")
    assert check.status == CRITICAL and "COINBT_S3_ENDPOINT_URL" in check.detail


# -- the whole command on a healthy stack, then with one service down -----------------------------


def doctor(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return coinbt_cli(["doctor", *args], env, cwd, timeout=180)


def test_a_healthy_team_stack_exits_0_and_a_stopped_service_2(
    tmp_path: Path,
    rq: Any,
    redis_url: str,
    s3_env: str,
    pg_schema: Callable[..., Any],
    skip_or_fail: Callable[[str], None],
) -> None:
    from coinbt.storage.s3 import init_bucket

    bucket = f"coinbt-doc-{uuid.uuid4().hex[:10]}"
    init_bucket(f"s3://{bucket}/artifacts", expire_days=30, noncurrent_days=7)
    live_worker(rq, f"w-{uuid.uuid4().hex[:6]}")
    live_worker(rq, f"w-{uuid.uuid4().hex[:6]}")
    with pg_schema(skip_or_fail) as url:
        add_runs(url, {"finished": 2})
        env = {"COINBT_REGISTRY_URL": url, "COINBT_REDIS_URL": redis_url,
               "COINBT_ARTIFACTS_URI": f"s3://{bucket}/artifacts",
               "COINBT_S3_ENDPOINT_URL": s3_env, "COINBT_DATA_ROOT": str(tmp_path / "data")}  # fmt: skip
        proc = doctor(env, tmp_path, "--json", "--min-workers", "2")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(proc.stdout)
        names = [c["name"] for c in report["checks"]]
        assert names[:6] == ["data root", "catalog", "data freshness", "registry", "redis",
                             "artifacts"] and names[6:] == ["disk"]  # fmt: skip
        assert {c["status"] for c in report["checks"]} == {OK}
        by_name = {c["name"]: c for c in report["checks"]}
        assert by_name["registry"]["data"]["runs"] == {"finished": 2}
        assert by_name["redis"]["data"]["workers"] == 2

        proc = doctor({**env, "COINBT_REDIS_URL": "redis://127.0.0.1:1/0"}, tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        line = next(x for x in proc.stdout.splitlines() if x.startswith("redis"))
        assert "CRITICAL" in line and "not reachable" in line
