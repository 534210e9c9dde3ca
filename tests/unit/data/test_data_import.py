"""import_file: real round trips, column and time detection, merging, conflicts, atomicity."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import coinbt.data.store as store_mod
from coinbt.data import Catalog, import_file, load_bars
from coinbt.errors import ConfigError, DataError


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (temporary files included), except the import lock."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".import.lock"
    }


def _load(root: Path, symbol: str, timeframe: str, exchange: str, **kw) -> pd.DataFrame:
    return load_bars(symbol, timeframe, exchange=exchange, catalog=Catalog([root]), **kw)


# ---------------------------------------------------------------------------- real files
def test_real_parquet_round_trip(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "coinbase" / "BTC-USD_1h.parquet"
    root = tmp_path / "cat"
    report = import_file(src, exchange="coinbase", symbol="BTC/USD", timeframe="1h", root=root)

    original = pd.read_parquet(src).set_index("timestamp")
    loaded = _load(root, "BTC-USD", "1h", "coinbase")
    assert report.rows_read == report.rows_added == len(original) == 20111
    assert [Path(f).name for f in report.files] == ["2017.parquet", "2018.parquet", "2019.parquet"]
    assert loaded.index.equals(original.index)
    np.testing.assert_array_equal(loaded.to_numpy(), original[list(loaded.columns)].to_numpy())
    assert report.validation is not None and report.validation.zero_volume_bars == 28

    meta = pq.read_schema(root / "coinbase" / "BTC-USD" / "1h" / "2018.parquet").metadata
    history = json.loads(meta[b"coinbt_provenance"])
    assert history[0]["source"] == "BTC-USD_1h.parquet"
    assert pd.Timestamp(history[0]["imported_at"]).tzinfo is not None
    assert meta[b"ohlcv_source"] == pq.read_schema(src).metadata[b"ohlcv_source"]  # verbatim
    assert json.loads(meta[b"ohlcv_source"])["license"].startswith("Apache-2.0")


def test_real_csv_in_cryptodatadownload_shape(real_data: Path, tmp_path: Path) -> None:
    """Newest first, banner line, 'Volume BTC' + 'Volume USD', '2019-10-17 09-AM' dates."""
    original = pd.read_parquet(real_data / "coinbase" / "BTC-USD_1h.parquet").iloc[:500]
    csv_frame = pd.DataFrame(
        {
            "Date": original["timestamp"].dt.strftime("%Y-%m-%d %I-%p"),
            "Symbol": "BTCUSD",
            "Open": original["open"],
            "High": original["high"],
            "Low": original["low"],
            "Close": original["close"],
            "Volume BTC": original["volume"],
            "Volume USD": original["volume"] * original["close"],
        }
    ).iloc[::-1]
    path = tmp_path / "Coinbase_BTCUSD_1h.csv"
    path.write_text("https://www.CryptoDataDownload.com\n" + csv_frame.to_csv(index=False))

    report = import_file(
        path,
        exchange="coinbase",
        symbol="BTC-USD",
        timeframe="1h",
        root=tmp_path / "cat",
        time_format="%Y-%m-%d %I-%p",
    )
    assert report.columns["volume"] == "Volume BTC"
    assert report.columns["timestamp"] == "Date"
    loaded = _load(tmp_path / "cat", "BTC-USD", "1h", "coinbase")
    assert len(loaded) == 500
    np.testing.assert_array_equal(loaded["volume"].to_numpy(), original["volume"].to_numpy())
    np.testing.assert_array_equal(loaded["close"].to_numpy(), original["close"].to_numpy())
    assert loaded.index[0] == original["timestamp"].iloc[0]


# ---------------------------------------------------------------------------- detection
def _csv(tmp_path: Path, bars: pd.DataFrame, name: str = "in.csv", **columns) -> Path:
    frame = pd.DataFrame(columns)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("unit", "scale"), [("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)])
def test_epoch_units_are_detected(tmp_path: Path, bars_factory, unit: str, scale: int) -> None:
    bars = bars_factory("2024-01-01", 5, "1h")
    seconds = bars.index.asi8 // 10**9
    path = _csv(
        tmp_path,
        bars,
        open_time=seconds * scale,
        o=bars["open"],
        h=bars["high"],
        l=bars["low"],
        c=bars["close"],
        v=bars["volume"],
    )
    report = import_file(
        path, exchange="testex", symbol="ABC-USDT", timeframe="1h", root=tmp_path / "cat"
    )
    assert report.time_unit == unit
    assert _load(tmp_path / "cat", "ABC-USDT", "1h", "testex").index.equals(bars.index)


def test_explicit_time_unit_wins(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 3, "1h")
    path = _csv(
        tmp_path,
        bars,
        time=bars.index.asi8 // 10**6,
        open=bars["open"],
        high=bars["high"],
        low=bars["low"],
        close=bars["close"],
        volume=bars["volume"],
    )
    with pytest.raises(DataError, match="outside 1990..2200 .read as epoch s"):
        import_file(
            path, exchange="t", symbol="A-B", timeframe="1h", root=tmp_path / "c", time_unit="s"
        )
    report = import_file(
        path, exchange="t", symbol="A-B", timeframe="1h", root=tmp_path / "c", time_unit="ms"
    )
    assert report.start == bars.index[0]


def test_naive_strings_are_read_in_the_given_zone(tmp_path: Path, bars_factory) -> None:
    """pyupbit writes a naive KST index: 09:00 KST is 00:00 UTC."""
    bars = bars_factory("2024-01-01", 3, "1D")
    kst = (bars.index + pd.Timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
    path = _csv(
        tmp_path,
        bars,
        **{"": kst},
        open=bars["open"],
        high=bars["high"],
        low=bars["low"],
        close=bars["close"],
        volume=bars["volume"],
        value=bars["volume"] * 100,
    )
    report = import_file(
        path,
        exchange="upbit",
        symbol="KRW-BTC",
        timeframe="1d",
        root=tmp_path / "cat",
        tz="Asia/Seoul",
    )
    assert report.columns["timestamp"] == "Unnamed: 0"
    assert report.symbol == "BTC-KRW"
    loaded = _load(tmp_path / "cat", "BTC-KRW", "1d", "upbit")
    assert loaded.index[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert report.columns["volume"] == "volume"  # not the KRW 'value' column


def test_headerless_file_is_read_positionally(tmp_path: Path, bars_factory) -> None:
    """Kraken OHLCVT export: unix seconds, o, h, l, c, volume, trade count; no header."""
    bars = bars_factory("2023-01-01", 4, "1min")
    rows = np.column_stack([bars.index.asi8 // 10**9, bars.to_numpy(), np.arange(4)])
    path = tmp_path / "XBTUSDC_1.csv"
    np.savetxt(path, rows, delimiter=",", fmt=["%d"] + ["%.10g"] * 5 + ["%d"])
    report = import_file(
        path, exchange="kraken", symbol="BTC-USDC", timeframe="1m", root=tmp_path / "cat"
    )
    assert report.columns == {
        "timestamp": "0",
        "open": "1",
        "high": "2",
        "low": "3",
        "close": "4",
        "volume": "5",
    }
    loaded = _load(tmp_path / "cat", "BTC-USDC", "1m", "kraken")
    np.testing.assert_array_equal(loaded.to_numpy(), bars.to_numpy())


def test_explicit_mapping(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 3, "1h")
    path = _csv(
        tmp_path,
        bars,
        Zeit=bars.index.strftime("%Y-%m-%dT%H:%M:%SZ"),
        Eröffnung=bars["open"],
        Hoch=bars["high"],
        Tief=bars["low"],
        Schluss=bars["close"],
        Menge=bars["volume"],
    )
    mapping = {
        "Zeit": "timestamp",
        "Eröffnung": "open",
        "Hoch": "high",
        "Tief": "low",
        "Schluss": "close",
        "Menge": "volume",
    }
    import_file(
        path, exchange="t", symbol="A-B", timeframe="1h", root=tmp_path / "c", mapping=mapping
    )
    assert _load(tmp_path / "c", "A-B", "1h", "t")["close"].tolist() == bars["close"].tolist()


def test_mapping_mistakes_are_explained(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 3, "1h")
    path = _csv(
        tmp_path,
        bars,
        Zeit=bars.index.asi8,
        open=bars["open"],
        high=bars["high"],
        low=bars["low"],
        close=bars["close"],
        volume=bars["volume"],
    )
    kw = dict(exchange="t", symbol="A-B", timeframe="1h", root=tmp_path / "c")
    with pytest.raises(DataError) as info:
        import_file(path, **kw)
    assert "cannot find column(s) timestamp" in str(info.value)
    assert "columns: Zeit, open, high, low, close, volume" in str(info.value)
    assert "--map source_name=timestamp" in str(info.value)
    with pytest.raises(ConfigError, match=r"'timestmap'.*Did you mean 'timestamp'"):
        import_file(path, mapping={"Zeit": "timestmap"}, **kw)
    with pytest.raises(DataError, match=r"'Ziet'.*Did you mean 'Zeit'"):
        import_file(path, mapping={"Ziet": "timestamp"}, **kw)
    assert not (tmp_path / "c").exists()


def test_quote_volume_only_is_refused(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 3, "1h")
    path = _csv(
        tmp_path,
        bars,
        time=bars.index.asi8,
        open=bars["open"],
        high=bars["high"],
        low=bars["low"],
        close=bars["close"],
        volume_usd=bars["volume"],
    )
    with pytest.raises(DataError, match="'volume_usd', looks like USD-denominated volume"):
        import_file(path, exchange="t", symbol="BTC-USD", timeframe="1h", root=tmp_path / "c")


# ---------------------------------------------------------------------------- merging
def _parquet(tmp_path: Path, bars: pd.DataFrame, name: str) -> Path:
    path = tmp_path / name
    bars.reset_index().to_parquet(path, index=False)
    return path


def test_merge_and_exact_duplicates(tmp_path: Path, bars_factory) -> None:
    root = tmp_path / "cat"
    kw = dict(exchange="t", symbol="A-B", timeframe="1h", root=root)
    bars = bars_factory("2024-01-01", 10, "1h")
    first = import_file(_parquet(tmp_path, bars.iloc[:6], "a.parquet"), **kw)
    assert first.rows_added == 6
    stored = (root / "t" / "A-B" / "1h" / "2024.parquet").stat().st_mtime_ns

    # overlapping rows are exact duplicates: dropped and counted
    second = import_file(_parquet(tmp_path, bars.iloc[4:], "b.parquet"), **kw)
    assert (second.rows_added, second.duplicates_dropped) == (4, 2)
    assert _load(root, "A-B", "1h", "t").index.equals(bars.index)

    # a file repeating itself and the catalog changes nothing
    doubled = pd.concat([bars.iloc[:3], bars.iloc[:3]])
    third = import_file(_parquet(tmp_path, doubled, "c.parquet"), **kw)
    assert (third.rows_added, third.duplicates_dropped, third.files) == (0, 6, [])
    history = json.loads(
        pq.read_schema(root / "t/A-B/1h/2024.parquet").metadata[b"coinbt_provenance"]
    )
    assert [h["source"] for h in history] == ["a.parquet", "b.parquet"]
    assert stored != (root / "t" / "A-B" / "1h" / "2024.parquet").stat().st_mtime_ns


def test_conflicting_duplicate_names_the_timestamp(tmp_path: Path, bars_factory) -> None:
    root = tmp_path / "cat"
    kw = dict(exchange="t", symbol="A-B", timeframe="1h", root=root)
    bars = bars_factory("2024-01-01", 5, "1h")
    import_file(_parquet(tmp_path, bars, "a.parquet"), **kw)
    before = _snapshot(root)

    changed = bars_factory("2024-01-01 03:00", 4, "1h")  # 03:00, 04:00 overlap, new values
    with pytest.raises(DataError) as info:
        import_file(_parquet(tmp_path, changed, "b.parquet"), **kw)
    msg = str(info.value)
    assert "2 conflicting duplicate timestamp(s)" in msg
    assert "2024-01-01 03:00 UTC: stored [103.0, 104.5, 102.0, 103.5, 13.0] vs file [100.0" in msg
    assert len(info.value.problems) == 2
    assert _snapshot(root) == before


def test_conflict_inside_the_file(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 4, "1h")
    clash = bars.iloc[[1]].copy()
    clash["close"] = 999.0
    with pytest.raises(DataError, match="2024-01-01 01:00 UTC: first row"):
        import_file(
            _parquet(tmp_path, pd.concat([bars, clash]), "x.parquet"),
            exchange="t",
            symbol="A-B",
            timeframe="1h",
            root=tmp_path / "cat",
        )
    assert not (tmp_path / "cat").exists()


def test_validation_errors_write_nothing(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 4, "1h")
    bars.iloc[1, bars.columns.get_loc("low")] = 500.0
    with pytest.raises(DataError, match=r"failed validation as 1h bars; nothing was written"):
        import_file(
            _parquet(tmp_path, bars, "x.parquet"),
            exchange="t",
            symbol="A-B",
            timeframe="1h",
            root=tmp_path / "cat",
        )
    assert not (tmp_path / "cat").exists()


def test_failed_write_leaves_existing_files_unchanged(
    tmp_path: Path, bars_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cat"
    kw = dict(exchange="t", symbol="A-B", timeframe="1h", root=root)
    import_file(_parquet(tmp_path, bars_factory("2023-12-31 20:00", 8, "1h"), "a.parquet"), **kw)
    before = _snapshot(root)
    assert set(before) == {"t/A-B/1h/2023.parquet", "t/A-B/1h/2024.parquet"}

    calls = {"n": 0}
    real_write = store_mod.pq.write_table

    def flaky(table, where, **kw2):
        calls["n"] += 1
        if calls["n"] == 2:
            Path(where).write_bytes(b"partial")  # a crash half-way through the second file
            raise OSError("disk full")
        return real_write(table, where, **kw2)

    monkeypatch.setattr(store_mod.pq, "write_table", flaky)
    more = bars_factory("2023-12-31 12:00", 24, "1h")  # adds bars in both years
    more = more[~more.index.isin(bars_factory("2023-12-31 20:00", 8, "1h").index)]
    with pytest.raises(OSError, match="disk full"):
        import_file(_parquet(tmp_path, more, "b.parquet"), **kw)
    assert calls["n"] == 2
    assert _snapshot(root) == before  # no year replaced, no temp file left


# ---------------------------------------------------------------------------- timeframes
def test_legacy_minute_tokens(tmp_path: Path, bars_factory) -> None:
    path = _parquet(tmp_path, bars_factory("2024-01-01", 6, "5min"), "m.parquet")
    kw = dict(exchange="t", symbol="BTC_KRW", root=tmp_path / "cat")
    with pytest.raises(ConfigError, match="legacy_tokens=True"):
        import_file(path, timeframe="5M", **kw)
    report = import_file(path, timeframe="5M", legacy_tokens=True, **kw)
    assert (report.timeframe, report.symbol) == ("5m", "BTC-KRW")
    assert (tmp_path / "cat" / "t" / "BTC-KRW" / "5m" / "2024.parquet").is_file()


def test_minute_data_declared_as_1M_gets_a_hint(tmp_path: Path, bars_factory) -> None:
    path = _parquet(tmp_path, bars_factory("2024-01-01", 6, "1min"), "m.parquet")
    with pytest.raises(DataError) as info:
        import_file(path, exchange="t", symbol="A-B", timeframe="1M", root=tmp_path / "cat")
    assert "overlapping candles" in str(info.value)
    assert "'1M' is a month in coinbt" in str(info.value)
    report = import_file(
        path, exchange="t", symbol="A-B", timeframe="1M", legacy_tokens=True, root=tmp_path / "cat"
    )
    assert report.timeframe == "1m"


def test_default_root_is_the_data_root(data_root: Path, tmp_path: Path, bars_factory) -> None:
    path = _parquet(tmp_path, bars_factory("2024-01-01", 3, "1h"), "x.parquet")
    import_file(path, exchange="Testex", symbol="abc/usdt", timeframe="1H")
    assert (data_root / "testex" / "ABC-USDT" / "1h" / "2024.parquet").is_file()
    assert len(load_bars("ABC-USDT", "1h")) == 3


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        import_file(tmp_path / "nope.csv", exchange="t", symbol="A-B", timeframe="1h")
    odd = tmp_path / "bars.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(ConfigError, match="unsupported file type 'bars.xlsx'"):
        import_file(odd, exchange="t", symbol="A-B", timeframe="1h", root=tmp_path)


def test_feather_with_a_date_column(real_data: Path, tmp_path: Path) -> None:
    """freqtrade's test data format: a tz-aware 'date' column."""
    original = pd.read_parquet(real_data / "bittrex" / "LTC-BTC_5m.parquet")
    path = tmp_path / "LTC_BTC-5m.feather"
    original.rename(columns={"timestamp": "date"}).to_feather(path)
    report = import_file(
        path, exchange="bittrex", symbol="LTC/BTC", timeframe="5m", root=tmp_path / "cat"
    )
    assert report.columns["timestamp"] == "date" and report.rows_added == 5760
    loaded = _load(tmp_path / "cat", "LTC-BTC", "5m", "bittrex")
    np.testing.assert_array_equal(loaded.to_numpy(), original.iloc[:, 1:].to_numpy())


def test_parquet_with_a_datetime_index(tmp_path: Path, bars_factory) -> None:
    bars = bars_factory("2024-01-01", 4, "1h")
    bars.index = bars.index.tz_convert("Asia/Seoul").rename("Date")
    path = tmp_path / "indexed.parquet"
    bars.to_parquet(path)
    report = import_file(path, exchange="t", symbol="A-B", timeframe="1h", root=tmp_path / "c")
    assert report.start == pd.Timestamp("2024-01-01 00:00", tz="UTC")


def test_concurrent_imports_into_one_dataset_lose_nothing(tmp_path: Path, bars_factory) -> None:
    paths = []
    for day in range(8):
        path = tmp_path / f"day{day}.parquet"
        bars_factory(f"2024-01-{day + 1:02d}", 24, "1h").reset_index().to_parquet(path)
        paths.append(path)

    def run(path: Path):
        return import_file(path, exchange="t", symbol="A-B", timeframe="1h", root=tmp_path / "c")

    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = list(pool.map(run, paths))
    assert sum(r.rows_added for r in reports) == 192
    loaded = load_bars("A-B", "1h", exchange="t", catalog=Catalog([tmp_path / "c"]), strict=False)
    assert len(loaded) == 192
    meta = pq.read_schema(tmp_path / "c/t/A-B/1h/2024.parquet").metadata
    history = json.loads(meta[b"coinbt_provenance"])
    assert sorted(h["source"] for h in history) == [p.name for p in paths]
