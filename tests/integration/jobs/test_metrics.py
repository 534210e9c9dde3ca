"""``coinbt metrics``: the Prometheus exposition agrees with the registry, the files on disk,
Redis and the backup folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import coinbt
from coinbt.storage import Registry


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.services
def test_metrics_match_registry_disk_redis_and_backups(redis_url: str, tmp_path: Path) -> None:
    from redis import Redis
    from rq import Queue

    from coinbt.storage.backup import create_backup

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    artifacts = tmp_path / "artifacts"
    reg = Registry(url, artifacts)
    for window in (10, 20, 30):
        reg.record(coinbt.backtest("sma_cross", "BTC-USDT", "1h", exchange="binance",
                                   end="2021-06-30", params={"window": window}))  # fmt: skip
    reg.close()
    conn = Redis.from_url(redis_url)
    queue = Queue("metrics-test", connection=conn)
    for n in range(2):
        queue.enqueue("builtins.print", n)
    dead = queue.enqueue("builtins.print", "dead")
    queue.remove(dead)
    queue.failed_job_registry.add(dead, ttl=600, exc_string="boom")

    env = {k: v for k, v in os.environ.items() if not k.startswith("COINBT_")}
    env.update(COINBT_REGISTRY_URL=url, COINBT_ARTIFACTS_URI=str(artifacts),
               COINBT_REDIS_URL=redis_url, COINBT_BACKUP_DIR=str(tmp_path / "backups"))  # fmt: skip

    def metrics(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coinbt.cli.main", "metrics", *args],
                              env=env, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)  # fmt: skip

    proc = metrics()
    assert proc.returncode == 0, proc.stderr
    got = samples(proc.stdout)
    assert got[("coinbt_runs", (("status", "finished"),))] == 3
    on_disk = sum(f.stat().st_size for f in artifacts.rglob("*") if f.is_file())
    assert got[("coinbt_artifact_bytes", ())] == on_disk > 0
    assert got[("coinbt_queue_jobs", (("queue", "metrics-test"),))] == 2
    assert got[("coinbt_failed_jobs", (("queue", "metrics-test"),))] == 1
    assert got[("coinbt_backups", ())] == 0
    assert not any(name == "coinbt_last_backup_age_seconds" for name, _ in got)

    create_backup(url, tmp_path / "backups", progress=False)
    textfile = tmp_path / "textfile" / "coinbt.prom"
    proc = metrics("--textfile", str(textfile))
    assert proc.returncode == 0 and proc.stdout.startswith("wrote ")
    got = samples(textfile.read_text())
    assert got[("coinbt_backups", ())] == 1
    assert 0 <= got[("coinbt_last_backup_age_seconds", ())] < 120
