"""load_bars / load_many: ranges, format, and the message of every user mistake."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import coinbt.data.loader as loader_mod
from coinbt.data import Catalog, load_bars, load_many
from coinbt.errors import ConfigError, DataError

HOURLY_START = "2024-01-30 00:00"


@pytest.fixture
def hourly(data_root: Path, bars_factory, write_bars) -> pd.DataFrame:
    """ABC-USDT 1h on testex, 2024-01-30 00:00 .. 2024-02-02 23:00 (96 bars)."""
    bars = bars_factory(HOURLY_START, periods=96, freq="1h")
    write_bars(data_root, "testex", "ABC-USDT", "1h", bars)
    return bars


# ---------------------------------------------------------------------------- ranges
def test_date_only_end_includes_the_whole_day(hourly: pd.DataFrame) -> None:
    bars = load_bars("ABC-USDT", "1h", "2024-01-31", "2024-01-31")
    assert bars.index[0] == pd.Timestamp("2024-01-31 00:00", tz="UTC")
    assert bars.index[-1] == pd.Timestamp("2024-01-31 23:00", tz="UTC")
    assert len(bars) == 24


def test_datetime_end_includes_the_bar_opening_at_end(hourly: pd.DataFrame) -> None:
    bars = load_bars("ABC-USDT", "1h", "2024-01-31 02:00", "2024-01-31 05:00")
    assert bars.index.tolist() == list(
        pd.date_range("2024-01-31 02:00", "2024-01-31 05:00", freq="1h", tz="UTC")
    )
    ts_end = load_bars("ABC-USDT", "1h", end=pd.Timestamp("2024-01-31"))
    assert ts_end.index[-1] == pd.Timestamp("2024-01-31 00:00", tz="UTC")
    date_end = load_bars("ABC-USDT", "1h", end=dt.date(2024, 1, 31))
    assert date_end.index[-1] == pd.Timestamp("2024-01-31 23:00", tz="UTC")


def test_month_string_is_a_whole_month(hourly: pd.DataFrame) -> None:
    with pytest.warns(UserWarning, match="covers only"):
        bars = load_bars("ABC-USDT", "1h", "2024-01", "2024-01")
    assert bars.index[0] == pd.Timestamp("2024-01-30", tz="UTC")
    assert bars.index[-1] == pd.Timestamp("2024-01-31 23:00", tz="UTC")


def test_zoned_inputs_are_converted_to_utc(hourly: pd.DataFrame) -> None:
    # 09:00 in Seoul is 00:00 UTC; 2024-02-01 08:00 KST is 2024-01-31 23:00 UTC
    bars = load_bars("ABC-USDT", "1h", "2024-01-31 09:00+09:00", "2024-02-01T08:00:00+09:00")
    assert bars.index[0] == pd.Timestamp("2024-01-31 00:00", tz="UTC")
    assert bars.index[-1] == pd.Timestamp("2024-01-31 23:00", tz="UTC")
    seoul = pd.Timestamp("2024-02-01 09:00", tz="Asia/Seoul")
    assert load_bars("ABC-USDT", "1h", start=seoul).index[0] == pd.Timestamp(
        "2024-02-01 00:00", tz="UTC"
    )
    naive = dt.datetime(2024, 2, 1, 5)
    assert load_bars("ABC-USDT", "1h", start=naive).index[0] == pd.Timestamp(
        "2024-02-01 05:00", tz="UTC"
    )


def test_frame_format(hourly: pd.DataFrame) -> None:
    bars = load_bars("ABC-USDT", "1h", "2024-01-31", "2024-01-31", exchange="testex")
    assert bars.index.name == "timestamp"
    assert str(bars.index.dtype) == "datetime64[ns, UTC]"
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert (bars.dtypes == np.float64).all()
    assert set(bars.attrs) == {"symbol", "exchange", "timeframe", "validation"}
    assert bars.attrs["symbol"] == "ABC-USDT"
    assert bars.attrs["exchange"] == "testex"
    assert bars.attrs["timeframe"] == "1h"
    assert bars.attrs["validation"]["ok"] is True
    assert bars.attrs["validation"]["rows"] == 24
    close = bars["close"].to_numpy()
    assert close.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(close, hourly.loc["2024-01-31", "close"].to_numpy())


def test_only_the_needed_year_files_are_read(
    data_root: Path, bars_factory, write_bars, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bars(data_root, "testex", "ABC-USDT", "1d", bars_factory("2022-01-01", 1000, "1D"))
    opened: list[str] = []
    real = loader_mod.read_year_files

    def spy(paths, start, end):
        opened.extend(Path(p).name for p in paths)
        return real(paths, start, end)

    monkeypatch.setattr(loader_mod, "read_year_files", spy)
    bars = load_bars("ABC-USDT", "1d", "2023-03-01", "2023-03-10")
    assert opened == ["2023.parquet"]
    assert len(bars) == 10


def test_partial_overlap_warns_with_the_covered_span(hourly: pd.DataFrame) -> None:
    with pytest.warns(UserWarning) as record:
        bars = load_bars("ABC-USDT", "1h", "2024-01-29", "2024-01-30 05:00")
    message = str(record[0].message)
    assert "covers only 2024-01-30 00:00 -> 2024-02-02 23:00 UTC" in message
    assert "2024-01-29 00:00" in message
    assert record[0].filename == __file__  # stacklevel points at the caller
    assert len(bars) == 6


def test_no_warning_when_the_range_is_covered(data_root: Path, bars_factory, write_bars) -> None:
    write_bars(data_root, "testex", "ABC-USDT", "1d", bars_factory("2024-01-01", 31, "1D"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # end date = day of the last daily bar: nothing is missing
        bars = load_bars("ABC-USDT", "1d", "2024-01-01", "2024-01-31")
    assert len(bars) == 31
    with pytest.warns(UserWarning, match="covers only"):
        load_bars("ABC-USDT", "1d", "2024-01-01", "2024-02-01")


def test_range_inside_a_gap_is_an_error(data_root: Path, bars_factory, write_bars) -> None:
    bars = bars_factory("2024-01-01", 10, "1h").drop(
        pd.date_range("2024-01-01 03:00", periods=4, freq="1h", tz="UTC")
    )
    write_bars(data_root, "testex", "ABC-USDT", "1h", bars)
    with pytest.raises(DataError, match="falls in a gap"):
        load_bars("ABC-USDT", "1h", "2024-01-01 04:00", "2024-01-01 05:00")


def test_stored_errors_raise_and_strict_false_reports(
    data_root: Path, bars_factory, write_bars
) -> None:
    bars = bars_factory("2024-01-01", 5, "1h")
    bars.iloc[2, bars.columns.get_loc("high")] = 50.0  # below open and low
    write_bars(data_root, "testex", "ABC-USDT", "1h", bars)
    with pytest.raises(DataError) as info:
        load_bars("ABC-USDT", "1h")
    assert "high < max(open, close), first at 2024-01-01 02:00" in str(info.value)
    assert any("high < low" in p for p in info.value.problems)
    loose = load_bars("ABC-USDT", "1h", strict=False)
    assert loose.attrs["validation"]["ok"] is False
    assert len(loose) == 5


# ---------------------------------------------------------------------------- mistakes
def test_unknown_symbol_lists_symbols_and_suggests(data_root: Path) -> None:
    with pytest.raises(DataError) as info:
        load_bars("BTC-USTD", "1h", exchange="binance")
    msg = str(info.value)
    assert "unknown symbol 'BTC-USTD' on binance" in msg
    assert "BTC-USDT, ETH-USDT" in msg  # what is available
    assert "Did you mean" in msg and "'BTC-USDT'" in msg
    assert info.value.problems == [msg]


def test_reversed_symbol_gets_a_base_quote_hint(data_root: Path) -> None:
    with pytest.raises(
        DataError, match=r"Did you mean 'BTC-USDT'\? \(symbols are spelled BASE-QUOTE\)"
    ):
        load_bars("USDT-BTC", "1h", exchange="binance")


def test_bad_timeframe_token(data_root: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_bars("BTC-USDT", "1hr", exchange="binance")
    msg = str(info.value)
    assert "unknown timeframe '1hr'" in msg
    assert "1m, 3m, 5m" in msg
    assert "Did you mean" in msg


def test_timeframe_not_available_lists_the_available_ones(data_root: Path) -> None:
    with pytest.raises(DataError) as info:
        load_bars("BTC-USDT", "4h", exchange="binance")
    msg = str(info.value)
    assert "timeframe '4h' is not available for BTC-USDT on binance" in msg
    assert "available timeframes: 1h" in msg


def test_unknown_exchange_suggests(data_root: Path) -> None:
    with pytest.raises(DataError) as info:
        load_bars("BTC-USDT", "1h", exchange="binanse")
    msg = str(info.value)
    assert "unknown exchange 'binanse'" in msg
    assert "binance, coinbase, upbit" in msg
    assert "Did you mean one of 'binance', 'coinbase'?" in msg


def test_range_outside_the_data_names_both_spans(hourly: pd.DataFrame) -> None:
    with pytest.raises(DataError) as info:
        load_bars("ABC-USDT", "1h", "2023-01-01", "2023-12-31")
    msg = str(info.value)
    assert "2023-01-01 00:00 -> 2023-12-31 23:59:59.999999999 UTC" in msg
    assert "covers 2024-01-30 00:00 -> 2024-02-02 23:00 UTC" in msg


def test_start_after_end(hourly: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Catalog, "resolve", lambda *a, **k: pytest.fail("catalog consulted"))
    with pytest.raises(DataError) as info:
        load_bars("ABC-USDT", "1h", "2024-02-01", "2024-01-31")
    msg = str(info.value)
    assert "start '2024-02-01'" in msg and "after end '2024-01-31'" in msg


def test_unreadable_date() -> None:
    with pytest.raises(ConfigError, match="cannot read start='yesterday'"):
        load_bars("BTC-USDT", "1h", start="yesterday")


def test_ambiguous_exchange_lists_exchanges(data_root: Path, bars_factory, write_bars) -> None:
    write_bars(data_root, "testex", "BTC-USDT", "1h", bars_factory("2022-01-01", 5, "1h"))
    with pytest.raises(DataError) as info:
        load_bars("BTC-USDT", "1h")
    msg = str(info.value)
    assert "BTC-USDT 1h exists on several exchanges: binance, testex" in msg
    assert "exchange=" in msg
    assert len(load_bars("BTC-USDT", "1h", exchange="testex")) == 5


def test_load_many_names_every_missing_symbol_before_loading(
    hourly: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        loader_mod, "read_year_files", lambda *a: pytest.fail("read before all were checked")
    )
    with pytest.raises(DataError) as info:
        load_many(["ABC-USDT", "XYZ-USDT", "ABC/USDX", "not a symbol"], "1h", exchange="testex")
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("XYZ-USDT: unknown symbol 'XYZ-USDT' on testex")
    assert problems[1].startswith("ABC/USDX: unknown symbol 'ABC-USDX'")
    assert "Did you mean 'ABC-USDT'?" in problems[1]
    assert problems[2].startswith("not a symbol: invalid symbol")
    assert "3 of 4 requested symbol(s) unavailable" in str(info.value)


def test_load_many_returns_canonical_keys(data_root: Path) -> None:
    frames = load_many(["BTC/USDT", "eth_usdt", "BTC-USDT"], "1h", "2023-01-01", "2023-01-01")
    assert list(frames) == ["BTC-USDT", "ETH-USDT"]
    assert all(len(f) == 24 for f in frames.values())
    assert frames["ETH-USDT"].attrs["symbol"] == "ETH-USDT"


def test_bundled_data_loads_without_a_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COINBT_DATA_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data here
    btc = load_bars("BTC-USDT", "1h")
    assert len(btc) == 23988
    assert btc.index[0] == pd.Timestamp("2021-04-04 20:00", tz="UTC")
    assert btc.index[-1] == pd.Timestamp("2023-12-30 19:00", tz="UTC")
    assert len(load_bars("ETH-USDT", "1h")) == 23989
    assert len(load_bars("KRW-BTC", "1d", exchange="upbit")) == 704
    assert len(load_bars("ETH-KRW", "1h", exchange="upbit")) == 8579
    assert len(load_bars("BTC/USD", "1h", exchange="coinbase")) == 20111
