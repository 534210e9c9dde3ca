"""The catalog: layout, roots and their priority, entries, filters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from coinbt import settings
from coinbt.data import Catalog, list_catalog, load_bars


def test_entries_describe_each_dataset(tmp_path: Path, bars_factory, write_bars) -> None:
    root = tmp_path / "root"
    bars = bars_factory("2023-12-31 20:00", periods=10, freq="1h")  # spans two UTC years
    paths = write_bars(root, "testex", "ABC-USDT", "1h", bars)
    assert [p.name for p in paths] == ["2023.parquet", "2024.parquet"]
    write_bars(root, "testex", "ABC-USDT", "1d", bars_factory("2024-01-01", 3, "1D"))

    entries = Catalog([root]).entries()

    assert list(entries.columns) == [
        "exchange",
        "symbol",
        "timeframe",
        "start",
        "end",
        "rows",
        "root",
    ]
    assert entries[["exchange", "symbol", "timeframe", "rows"]].values.tolist() == [
        ["testex", "ABC-USDT", "1d", 3],
        ["testex", "ABC-USDT", "1h", 10],
    ]
    hourly = entries[entries["timeframe"] == "1h"].iloc[0]
    assert hourly["start"] == pd.Timestamp("2023-12-31 20:00", tz="UTC")
    assert hourly["end"] == pd.Timestamp("2024-01-01 05:00", tz="UTC")
    assert hourly["root"] == str(root.absolute())


def test_files_outside_the_layout_are_ignored(tmp_path: Path, bars_factory, write_bars) -> None:
    root = tmp_path / "root"
    folder = write_bars(root, "testex", "ABC-USDT", "1h", bars_factory())[0].parent
    (folder / ".2024.0123.tmp").write_bytes(b"half-written")
    (folder / "notes.parquet").write_bytes(b"x")
    (root / "README.md").write_text("hello")
    write_bars(root, "testex", "abc_usdt", "1h", bars_factory())  # not a canonical symbol folder
    write_bars(root, "testex", "ABC-USDT", "1hour", bars_factory())  # not a timeframe folder
    write_bars(root, "TestEx", "ABC-USDT", "1h", bars_factory())  # exchange folders are lower case

    cat = Catalog([root])

    assert [(d.exchange, d.symbol, d.timeframe) for d in cat.datasets()] == [
        ("testex", "ABC-USDT", "1h")
    ]
    assert list(cat.datasets()[0].files) == [2024]


def test_monthly_bars_live_in_a_1mo_folder(tmp_path: Path, bars_factory, write_bars) -> None:
    root = tmp_path / "root"
    write_bars(root, "idx", "BTC-USD", "1M", bars_factory("2024-01-01", 3, "MS"))
    write_bars(root, "idx", "BTC-USD", "1m", bars_factory("2024-01-01", 7, "1min"))
    # an upper-case "1M" folder is ambiguous (the predecessor's minutes) and is not read
    stray = root / "idx" / "BTC-USD" / "1M"
    stray.mkdir()
    bars_factory("2024-01-01", 2, "1D").reset_index().to_parquet(stray / "2024.parquet")

    cat = Catalog([root])

    assert (root / "idx" / "BTC-USD" / "1mo" / "2024.parquet").is_file()
    assert cat.timeframes("BTC-USD") == ["1m", "1M"]
    assert len(load_bars("BTC-USD", "1M", catalog=cat)) == 3
    assert len(load_bars("BTC-USD", "1m", catalog=cat)) == 7


def test_data_root_hides_the_bundled_copy(data_root: Path, bars_factory, write_bars) -> None:
    mine = bars_factory("2022-06-01", 5, "1h")
    write_bars(data_root, "binance", "BTC-USDT", "1h", mine)

    entry = list_catalog(exchange="binance", symbol="BTC/USDT", timeframe="1h")
    bars = load_bars("BTC-USDT", "1h", exchange="binance")

    assert entry["root"].tolist() == [str(data_root.absolute())]
    assert entry["rows"].tolist() == [5]
    assert len(bars) == 5
    assert bars["open"].tolist() == mine["open"].tolist()
    # the other bundled datasets are still there
    assert "ETH-USDT" in Catalog().symbols("binance")


def test_default_roots_follow_the_environment(data_root: Path) -> None:
    assert Catalog().roots == [data_root.absolute(), settings.bundled_data_root()]


def test_list_catalog_filters_accept_aliases(data_root: Path) -> None:
    upbit = list_catalog(exchange="Upbit")
    assert set(upbit["exchange"]) == {"upbit"}
    krw = list_catalog(exchange="upbit", symbol="KRW-BTC")
    assert krw[["symbol", "timeframe"]].values.tolist() == [["BTC-KRW", "1d"]]
    assert list_catalog(timeframe="1H")["timeframe"].unique().tolist() == ["1h"]


def test_refresh_sees_new_files(tmp_path: Path, bars_factory, write_bars) -> None:
    root = tmp_path / "root"
    root.mkdir()
    cat = Catalog([root])
    assert cat.datasets() == []
    write_bars(root, "testex", "ABC-USDT", "1h", bars_factory())
    assert cat.datasets() == []  # scanned once
    cat.refresh()
    assert len(cat.datasets()) == 1


def test_missing_roots_are_skipped(tmp_path: Path) -> None:
    assert Catalog([tmp_path / "nope"]).entries().empty


@pytest.mark.parametrize(
    ("exchange", "symbol", "timeframe", "rows"),
    [
        ("binance", "BTC-USDT", "1h", 23988),
        ("binance", "ETH-USDT", "1h", 23989),
        ("upbit", "BTC-KRW", "1d", 704),
        ("upbit", "ETH-KRW", "1h", 8579),
        ("coinbase", "BTC-USD", "1h", 20111),
    ],
)
def test_bundled_catalog_has_the_required_full_series(
    exchange: str, symbol: str, timeframe: str, rows: int
) -> None:
    cat = Catalog([settings.bundled_data_root()])
    ds = cat.dataset(exchange, symbol, timeframe)
    assert ds is not None
    assert ds.span is not None and ds.span[2] == rows
