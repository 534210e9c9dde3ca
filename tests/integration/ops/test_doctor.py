"""``coinbt doctor`` on a data root that is healthy, then broken in each way it checks."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from local_services import coinbt_cli

from coinbt.data import import_file
from coinbt.data.fetch import STATE_NAME
from coinbt.data.store import dataset_dir
from coinbt.doctor import CRITICAL, OK, WARNING, check_disk
from coinbt.settings import bundled_data_root

REPO = Path(__file__).resolve().parents[3]


def doctor(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return coinbt_cli(["doctor", *args], {"COINBT_DATA_ROOT": str(root)}, root.parent)


def fetched(root: Path, ago: timedelta) -> None:
    folder = dataset_dir(root, "binance", "BTC-USDT", "1h")
    when = (datetime.now(UTC) - ago).isoformat(timespec="seconds")
    (folder / STATE_NAME).write_text(json.dumps({"last_success": when, "bars_added": 1}))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A data root with one real dataset (bundled Binance BTC-USDT 1h), fetched an hour ago."""
    data = tmp_path / "data"
    source = next((bundled_data_root() / "binance" / "BTC-USDT" / "1h").glob("*.parquet"))
    import_file(source, exchange="binance", symbol="BTC-USDT", timeframe="1h", root=data)
    fetched(data, timedelta(hours=1))
    return data


def test_a_healthy_root_exits_0_with_a_row_per_check(root: Path) -> None:
    proc = doctor(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [line.split("  ")[0].strip() for line in proc.stdout.splitlines()]
    assert names == ["data root", "catalog", "data freshness", "registry", "redis", "artifacts",
                     "disk"]  # fmt: skip
    assert all(" OK " in line for line in proc.stdout.splitlines())
    report = json.loads(doctor(root, "--json").stdout)
    catalog = next(c for c in report["checks"] if c["name"] == "catalog")
    assert report["status"] == OK and catalog["data"]["datasets"] == 1
    assert catalog["data"]["rows"] > 8000


def test_a_series_not_refreshed_is_a_warning(root: Path) -> None:
    fetched(root, timedelta(days=3))
    proc = doctor(root)
    assert proc.returncode == 1
    assert (
        "data freshness  WARNING   1 series not fetched for more than 2 d: binance " in proc.stdout
    )
    assert doctor(root, "--stale-after", "4d").returncode == 0
    stale = json.loads(doctor(root, "--json").stdout)["checks"][2]["data"]["stale"]
    assert [(s["symbol"], s["timeframe"]) for s in stale] == [("BTC-USDT", "1h")]
    assert 71.9 < stale[0]["age_hours"] < 72.5


def test_an_unreadable_year_file_is_critical_and_named(root: Path) -> None:
    year = sorted(dataset_dir(root, "binance", "BTC-USDT", "1h").glob("*.parquet"))[0]
    year.write_bytes(b"PAR1 this is not parquet any more")
    proc = doctor(root)
    assert proc.returncode == 2
    line = next(x for x in proc.stdout.splitlines() if x.startswith("catalog"))
    assert "CRITICAL" in line and str(year) in line and "restore them" in line


def test_a_missing_root_is_fine_and_a_file_in_its_place_is_critical(tmp_path: Path) -> None:
    proc = doctor(tmp_path / "nothing")
    assert proc.returncode == 0 and "does not exist yet" in proc.stdout
    (tmp_path / "afile").write_text("x")
    proc = doctor(tmp_path / "afile")
    assert proc.returncode == 2 and "is not a readable folder" in proc.stdout


@pytest.mark.parametrize(("free", "status"), [(0.5, OK), (0.1, WARNING), (0.01, CRITICAL)])
def test_disk_thresholds(tmp_path: Path, free: float, status: str) -> None:
    check = check_disk(tmp_path, usage=lambda _p: (1000, int(1000 * (1 - free)), int(1000 * free)))
    assert check.status == status and check.data["free_share"] == pytest.approx(free)
