"""``coinbt data fetch`` / ``refresh`` offline: ccxt's own upbit and binance classes against a
local HTTP server playing the exchange (tests/fake_exchange.py) with real candles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ccxt")

from fake_exchange import FakeExchange, make_client, partial_values, read_candles  # noqa: E402

from coinbt.data.fetch import fetch, last_fetch  # noqa: E402
from coinbt.data.importer import ImportReport, store_bars  # noqa: E402
from coinbt.data.store import dataset_dir, read_year_files  # noqa: E402
from coinbt.errors import ConfigError  # noqa: E402

COLUMNS = ["open", "high", "low", "close", "volume"]
HOUR = pd.Timedelta("1h")


@pytest.fixture(scope="module")
def source(real_data_dir: Path, skip_or_fail: Callable[[str], None]) -> dict[str, pd.DataFrame]:
    """Real candles: upbit ETH-KRW 1h (it has gaps) and binance BTC-USDT 1h."""
    out = {}
    for key, name, bars in (("upbit", "upbit/ETH-KRW_1h.parquet", 900),
                            ("binance", "binance/BTC-USDT_1h.parquet", 1300)):  # fmt: skip
        path = real_data_dir / name
        if not path.is_file():
            skip_or_fail(f"real candle file {path} not found")
        out[key] = read_candles(path).iloc[:bars]
    return out


def stored(root: Path, exchange: str, symbol: str) -> pd.DataFrame:
    files = sorted(dataset_dir(root, exchange, symbol, "1h").glob("*.parquet"))
    return read_year_files(files)[COLUMNS]


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    np.testing.assert_array_equal(got.to_numpy(), want[COLUMNS].to_numpy())


def open_at(candles: pd.DataFrame, k: int) -> pd.Timestamp:
    """A clock inside bar ``k`` (from 0): bars before it closed, bar ``k`` still open."""
    return candles.index[k] + pd.Timedelta("30min")


@pytest.mark.parametrize(("kind", "symbol", "page"), [("upbit", "ETH-KRW", 200),
                                                       ("binance", "BTC-USDT", 400)])  # fmt: skip
def test_fetch_stores_exactly_the_closed_source_candles_and_reruns_add_only_new_ones(
    source: dict[str, pd.DataFrame], tmp_path: Path, kind: str, symbol: str, page: int
) -> None:
    candles = source[kind]
    with FakeExchange(kind, {symbol: {"1h": candles}}, page_limit=page) as fake:
        fake.set_now(open_at(candles, 700))
        api = make_client(kind, fake)
        first = fetch(kind, symbol, "1h", since=candles.index[0], root=tmp_path,
                      exchange_client=api, progress=False)  # fmt: skip
        assert first.ok, first.error
        assert_same(stored(tmp_path, kind, symbol), candles.iloc[:700])  # bar 700 still open
        assert first.bars_added == 700 and first.open_dropped == 1
        assert first.gaps_remaining == int((np.diff(candles.index[:700]) > HOUR).sum())
        state = last_fetch(tmp_path, kind, symbol, "1h")
        assert state is not None and state["bars_added"] == 700

        served = len(fake.requests)
        again = fetch(kind, symbol, "1h", root=tmp_path, exchange_client=api, progress=False)
        assert again.ok and again.bars_added == 0 and again.bars_replaced == 0
        assert len(fake.requests) - served == 1  # asked from the last stored bar only
        since = pd.Timestamp(int(fake.requests[-1]["params"].get("startTime", 0)), unit="ms",
                             tz="UTC") if kind == "binance" else None  # fmt: skip
        if since is not None:
            assert since == candles.index[699]

        fake.set_now(candles.index[-1] + 2 * HOUR)  # the rest closes
        later = fetch(kind, symbol, "1h", root=tmp_path, exchange_client=api, progress=False)
        assert later.ok and later.bars_added == len(candles) - 700
        assert_same(stored(tmp_path, kind, symbol), candles)


def test_a_stored_candle_from_an_earlier_download_is_replaced_by_the_closed_one(
    source: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    candles = source["binance"].iloc[:300]
    # an earlier download kept bar 299 while it was still open: its partial values are stored
    early = candles.copy()
    early.iloc[-1] = partial_values(candles.iloc[-1])
    report = ImportReport(source="earlier", exchange="binance", symbol="BTC-USDT", timeframe="1h")
    store_bars(early, report, {"source": "earlier"}, root=tmp_path)
    assert stored(tmp_path, "binance", "BTC-USDT").iloc[-1]["close"] != candles.iloc[-1]["close"]
    with FakeExchange("binance", {"BTC-USDT": {"1h": candles}}) as fake:
        done = fetch("binance", "BTC-USDT", "1h", root=tmp_path, progress=False,
                     exchange_client=make_client("binance", fake))  # fmt: skip
    assert done.ok and done.bars_replaced == 1 and done.bars_added == 0
    assert_same(stored(tmp_path, "binance", "BTC-USDT"), candles)


def test_rate_limits_and_server_errors_are_retried(
    source: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    candles = source["upbit"].iloc[:500]
    with FakeExchange("upbit", {"ETH-KRW": {"1h": candles}}) as fake:
        fake.fail_next(2, 429)
        api = make_client("upbit", fake)
        first = fetch("upbit", "ETH-KRW", "1h", since=candles.index[0], root=tmp_path,
                      exchange_client=api, backoff=0.0, progress=False)  # fmt: skip
        assert first.ok and first.retries == 2
        fake.fail_next(1, 503)
        fake.set_now(candles.index[-1] + 5 * HOUR)
        again = fetch("upbit", "ETH-KRW", "1h", root=tmp_path, exchange_client=api,
                      backoff=0.0, progress=False)  # fmt: skip
        assert again.ok and again.retries == 1
    assert_same(stored(tmp_path, "upbit", "ETH-KRW"), candles)


def test_an_interrupted_fetch_keeps_its_bars_and_the_next_run_resumes(
    source: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    candles = source["binance"]
    with FakeExchange("binance", {"BTC-USDT": {"1h": candles}}, page_limit=100) as fake:
        api = make_client("binance", fake)
        fake.fail_after(6, 500)  # six pages, then the exchange is down
        cut = fetch("binance", "BTC-USDT", "1h", since=candles.index[0], root=tmp_path,
                    exchange_client=api, retries=2, backoff=0.0, write_every=250,
                    progress=False)  # fmt: skip
        assert not cut.ok and "ExchangeNotAvailable" in cut.error
        kept = stored(tmp_path, "binance", "BTC-USDT")
        assert len(kept) == 600 and cut.bars_added == 600  # written, not lost
        assert_same(kept, candles.iloc[:600])
        assert last_fetch(tmp_path, "binance", "BTC-USDT", "1h") is None  # not a success
        fake.heal()
        served = len(fake.requests)
        rest = fetch("binance", "BTC-USDT", "1h", root=tmp_path, exchange_client=api,
                     progress=False)  # fmt: skip
        assert rest.ok and rest.bars_added == len(candles) - 600
        first_ask = int(fake.requests[served]["params"]["startTime"])
        assert pd.Timestamp(first_ask, unit="ms", tz="UTC") == candles.index[599]
    assert_same(stored(tmp_path, "binance", "BTC-USDT"), candles)


def test_repair_refetches_a_gap_inside_the_stored_range(
    source: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    candles = source["binance"].iloc[:400]
    steps = np.diff(candles.index.asi8) // HOUR.value
    real_gaps, real_missing = int((steps > 1).sum()), int((steps[steps > 1] - 1).sum())
    assert real_gaps >= 1  # the exchange's own gaps: no download fills them
    holed = candles.drop(candles.index[100:160])  # 60 bars lost by an earlier download
    report = ImportReport(source="earlier", exchange="binance", symbol="BTC-USDT", timeframe="1h")
    store_bars(holed, report, {"source": "earlier"}, root=tmp_path)
    with FakeExchange("binance", {"BTC-USDT": {"1h": candles}}) as fake:
        api = make_client("binance", fake)
        plain = fetch("binance", "BTC-USDT", "1h", root=tmp_path, exchange_client=api,
                      progress=False)  # fmt: skip
        assert plain.ok and plain.gaps_remaining == real_gaps + 1
        assert plain.missing_bars == real_missing + 60
        fixed = fetch("binance", "BTC-USDT", "1h", root=tmp_path, exchange_client=api,
                      repair=True, progress=False)  # fmt: skip
    assert fixed.ok and fixed.bars_added == 60 and fixed.gaps_remaining == real_gaps
    assert_same(stored(tmp_path, "binance", "BTC-USDT"), candles)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINBT_")}
    return subprocess.run([sys.executable, "-m", "coinbt.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_cli_fetch_refresh_and_list(source: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    upbit = source["upbit"].iloc[:300]
    with FakeExchange("upbit", {"ETH-KRW": {"1h": upbit}}) as fake:
        proc = run_cli("data", "fetch", "--exchange", "upbit", "--symbol", "KRW-ETH",
                       "--timeframe", "1h", "--since", str(upbit.index[0].date()), "--root",
                       "data", "--api-host", fake.url, "--json", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        (done,) = json.loads(proc.stdout)
        assert done["symbol"] == "ETH-KRW" and done["bars_added"] == len(upbit)

        plan = tmp_path / "refresh.yaml"
        plan.write_text(
            f"root: data\nseries:\n  - exchange: upbit\n    symbols: [KRW-ETH, KRW-DOGE]\n"
            f"    timeframes: [1h]\n    since: {upbit.index[0].date()}\n"
            f"    api_host: {fake.url}\n"
        )
        proc = run_cli("data", "refresh", "--config", str(plan), cwd=tmp_path)
        assert proc.returncode == 1  # KRW-DOGE is not listed by the exchange
        lines = proc.stdout.strip().splitlines()
        assert lines[0].startswith("upbit ETH-KRW 1h: 0 bars added")
        assert lines[1].startswith("upbit DOGE-KRW 1h:") and "FAILED" in lines[1]
        assert "Traceback" not in proc.stdout + proc.stderr

    proc = run_cli("data", "list", "--exchange", "upbit", cwd=tmp_path)
    assert proc.returncode == 0
    row = next(line for line in proc.stdout.splitlines() if "ETH-KRW" in line and "1h" in line)
    assert "Z" in row.split()[-1]  # the last fetch's UTC time
    assert "warning" not in proc.stdout
    state_file = dataset_dir(tmp_path / "data", "upbit", "ETH-KRW", "1h") / ".fetch.json"
    state = json.loads(state_file.read_text())
    state["last_success"] = (pd.Timestamp.now(tz="UTC") - pd.Timedelta("3D")).isoformat()
    state_file.write_text(json.dumps(state))  # a refresh that stopped three days ago
    proc = run_cli("data", "list", "--exchange", "upbit", cwd=tmp_path)
    assert "warning: upbit ETH-KRW 1h was last fetched 3 d 0 h ago (> 2d)" in proc.stdout
    proc = run_cli("data", "list", "--exchange", "upbit", "--stale-after", "4d", cwd=tmp_path)
    assert "warning" not in proc.stdout
    proc = run_cli("data", "refresh", "--config", str(plan), "--every", "1h", cwd=tmp_path)
    assert proc.returncode == 2 and "--every needs --queue" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("series:\n  - exchange: upbit\n    symbol: [KRW-ETH]\n    timeframes: [1h]\n")
    proc = run_cli("data", "refresh", "--config", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "unknown key 'symbol'" in proc.stderr
    assert "Did you mean 'symbols'" in proc.stderr


def test_until_reads_like_every_coinbt_date_range(
    source: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    candles = source["binance"].iloc[:400]
    day = candles.index[300].date()
    with FakeExchange("binance", {"BTC-USDT": {"1h": candles}}) as fake:
        done = fetch("binance", "BTC-USDT", "1h", since=str(candles.index[0]),
                     until=str(day), root=tmp_path, progress=False,
                     exchange_client=make_client("binance", fake))  # fmt: skip
    assert done.ok
    whole_day = candles[[t.date() <= day for t in candles.index]]  # a date: the whole day
    assert whole_day.index[-1].hour == 23
    assert_same(stored(tmp_path, "binance", "BTC-USDT"), whole_day)
    with pytest.raises(ConfigError, match=r"cannot read until='soon' as a date or time"):
        fetch("binance", "BTC-USDT", "1h", since="2021-05-01", until="soon", root=tmp_path)
