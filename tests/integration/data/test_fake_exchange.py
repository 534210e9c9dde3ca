"""tests/fake_exchange.py against real ccxt: markets, forward paging, the clock, injected errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ccxt = pytest.importorskip("ccxt")

from fake_exchange import (  # noqa: E402  (tests/ is on sys.path via tests/conftest.py)
    TIMEFRAMES,
    FakeExchange,
    make_client,
    partial_values,
    read_candles,
)

COLUMNS = ["open", "high", "low", "close", "volume"]
# kind, coinbt symbol, real file, slice length, page_limit, limit passed to fetch_ohlcv
CASES = {
    "upbit": ("ETH-KRW", "upbit/ETH-KRW_1h.parquet", 1000, None, 200),
    "binance": ("BTC-USDT", "binance/BTC-USDT_1h.parquet", 1500, 400, 1000),
}
RATE_LIMIT_ERROR = {"upbit": ccxt.RateLimitExceeded, "binance": ccxt.DDoSProtection}


@pytest.fixture(scope="module")
def load(
    real_data_dir: Path, skip_or_fail: Callable[[str], None]
) -> Callable[[str, int], pd.DataFrame]:
    def _load(name: str, bars: int) -> pd.DataFrame:
        path = real_data_dir / name
        if not path.is_file():
            skip_or_fail(f"real candle file {path} not found")
        return read_candles(path).iloc[:bars]

    return _load


def ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def unified(symbol: str) -> str:
    return symbol.replace("-", "/")


def page_forward(client, symbol: str, tf: str, since: int, limit: int, now: pd.Timestamp):
    """The downloader's loop: since = last + 1 bar until an empty page or past ``now``."""
    rows: list[list[float]] = []
    step = ms(pd.Timestamp(0, tz="UTC") + TIMEFRAMES[tf])
    while since <= ms(now):
        page = client.fetch_ohlcv(unified(symbol), tf, since=since, limit=limit)
        if not page:
            break
        rows += page
        since = page[-1][0] + step
    return rows


def to_frame(rows: list[list[float]]) -> pd.DataFrame:
    index = pd.to_datetime([r[0] for r in rows], unit="ms", utc=True)
    return pd.DataFrame([r[1:] for r in rows], index=index, columns=COLUMNS)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    np.testing.assert_array_equal(got[COLUMNS].to_numpy(), want[COLUMNS].to_numpy())


@pytest.mark.parametrize("kind", ["upbit", "binance"])
def test_load_markets_calls_only_the_spot_market_list(kind, load):
    symbol, name, bars, page_limit, _ = CASES[kind]
    with FakeExchange(kind, {symbol: {"1h": load(name, bars)}}, page_limit=page_limit) as fake:
        markets = make_client(kind, fake).load_markets()
        assert list(markets) == [unified(symbol)]
        assert markets[unified(symbol)]["spot"] is True
        expected = "/v1/market/all" if kind == "upbit" else "/api/v3/exchangeInfo"
        assert [r["path"] for r in fake.other_requests] == [expected]


@pytest.mark.parametrize("kind", ["upbit", "binance"])
def test_paging_forward_returns_the_source_and_the_open_last_candle(kind, load):
    symbol, name, bars, page_limit, limit = CASES[kind]
    df = load(name, bars)
    last = df.index[-1]
    with FakeExchange(kind, {symbol: {"1h": df}}, page_limit=page_limit) as fake:
        assert fake.now == last + pd.Timedelta("1h")  # default: every stored candle closed
        fake.set_now(last + pd.Timedelta("30min"))
        rows = page_forward(make_client(kind, fake), symbol, "1h", ms(df.index[0]), limit, fake.now)
        got = to_frame(rows)
        assert_same(got.iloc[:-1], df.iloc[:-1])
        assert got.index[-1] == last
        assert got.iloc[-1].to_dict() == partial_values(df.iloc[-1])
        served = [r["rows"] for r in fake.requests]
        assert all(r["status"] == 200 for r in fake.requests)
        assert max(served) == fake.page_limit and sum(served) >= len(df)
        assert len(served) == (6 if kind == "upbit" else 4)


def test_upbit_days_and_15m_pages(load):
    daily, quarter = load("upbit/BTC-KRW_1d.parquet", 300), load("upbit/ETH-KRW_15m.parquet", 450)
    candles = {"BTC-KRW": {"1d": daily}, "ETH-KRW": {"15m": quarter}}
    with FakeExchange("upbit", candles) as fake:
        client = make_client("upbit", fake)
        for symbol, tf, df in [("BTC-KRW", "1d", daily), ("ETH-KRW", "15m", quarter)]:
            got = to_frame(page_forward(client, symbol, tf, ms(df.index[0]), 200, fake.now))
            assert_same(got.loc[: df.index[-1]], df)  # 1d ends later: its last candle is closed
        assert {r["path"] for r in fake.requests} == {"/v1/candles/days", "/v1/candles/minutes/15"}


def test_upbit_limit_above_page_limit_skips_the_oldest_candles(load):
    """ccxt sends to = since + limit bars and count = limit; Upbit serves at most 200 before `to`."""
    df = load("upbit/ETH-KRW_1h.parquet", 1000)
    since = df.index[100]
    with FakeExchange("upbit", {"ETH-KRW": {"1h": df}}) as fake:
        page = make_client("upbit", fake).fetch_ohlcv("ETH/KRW", "1h", since=ms(since), limit=250)
        request = fake.requests[-1]["params"]
    assert request["count"] == "250"
    assert pd.Timestamp(request["to"]) == since + 250 * pd.Timedelta("1h")
    window = df.loc[since : since + pd.Timedelta("249h")]
    assert_same(to_frame(page), window.iloc[-200:])
    assert page[0][0] > ms(since)  # the first len(window) - 200 candles were never returned


@pytest.mark.parametrize("kind", ["upbit", "binance"])
def test_a_gap_longer_than_a_page(kind, load):
    """Upbit returns nothing for a `since` window inside a gap; binance jumps to the next candle."""
    symbol, name, *_ = CASES[kind]
    df = load(name, 300)
    holed = pd.concat([df.iloc[:100], df.iloc[150:]])
    with FakeExchange(kind, {symbol: {"1h": holed}}) as fake:
        page = make_client(kind, fake).fetch_ohlcv(
            unified(symbol), "1h", since=ms(df.index[100]), limit=20
        )
        if kind == "upbit":
            assert page == []
        else:
            assert page[0][0] == ms(df.index[150]) and len(page) == 20


@pytest.mark.parametrize("kind", ["upbit", "binance"])
def test_injected_errors_raise_ccxt_network_errors(kind, load):
    symbol, name, *_ = CASES[kind]
    df = load(name, 300)
    with FakeExchange(kind, {symbol: {"1h": df}}) as fake:
        client = make_client(kind, fake)
        client.load_markets()

        def fetch():
            return client.fetch_ohlcv(unified(symbol), "1h", since=ms(df.index[0]), limit=10)

        n = len(df.loc[: df.index[0] + pd.Timedelta("9h")])  # upbit's first hours have gaps

        fake.fail_next(1, 429)
        with pytest.raises(RATE_LIMIT_ERROR[kind]) as rate:
            fetch()
        assert isinstance(rate.value, ccxt.NetworkError)
        for status in (500, 502, 503):
            fake.fail_next(1, status)
            with pytest.raises(ccxt.ExchangeNotAvailable):
                fetch()
        assert len(fetch()) == n  # fail_next(1) is spent
        fake.fail_after(2, 503)
        assert len(fetch()) == len(fetch()) == n
        for _ in range(3):
            with pytest.raises(ccxt.ExchangeNotAvailable):
                fetch()
        fake.heal()
        assert len(fetch()) == n
        statuses = [r["status"] for r in fake.requests]
        assert statuses == [429, 500, 502, 503, 200, 200, 200, 503, 503, 503, 200]


@pytest.mark.parametrize("kind", ["upbit", "binance"])
def test_set_now_moves_the_open_candle(kind, load):
    symbol, name, *_ = CASES[kind]
    df = load(name, 50)
    last, prev = df.index[-1], df.index[-2]
    with FakeExchange(kind, {symbol: {"1h": df}}, now=last + pd.Timedelta("59min")) as fake:
        client = make_client(kind, fake)

        def latest(n: int = 3) -> pd.DataFrame:
            since = ms(df.index[-n])
            return to_frame(client.fetch_ohlcv(unified(symbol), "1h", since=since, limit=n))

        got = latest()
        assert got.index[-1] == last and got.iloc[-1].to_dict() == partial_values(df.iloc[-1])
        assert got.iloc[-1].to_dict() != df.iloc[-1].to_dict()
        assert fake.open_candle(symbol, "1h").name == last
        assert_same(got.iloc[:-1], df.iloc[-3:-1])

        fake.set_now(last + pd.Timedelta("1h"))  # the bar has closed: final values
        assert_same(latest(), df.iloc[-3:])
        assert fake.open_candle(symbol, "1h") is None

        fake.set_now(prev)  # back in time: `last` is not served, `prev` has just opened
        got = latest()
        assert got.index[-1] == prev and got.iloc[-1].to_dict() == partial_values(df.iloc[-2])
