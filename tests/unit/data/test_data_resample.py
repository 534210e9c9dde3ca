"""resample_bars: left-labelled buckets, incomplete buckets, calendar weeks and months."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coinbt.data import load_bars, resample_bars
from coinbt.errors import ConfigError, DataError


def test_1h_to_4h_by_hand(bars_factory) -> None:
    bars = bars_factory("2024-01-01 00:00", 10, "1h")  # 00:00 .. 09:00
    bars.attrs = {"symbol": "ABC-USDT", "exchange": "testex", "timeframe": "1h"}
    out, report = resample_bars(bars, "4h")

    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 04:00", tz="UTC"),
        pd.Timestamp("2024-01-01 08:00", tz="UTC"),
    ]
    # bucket 00:00 holds bars 0..3: open 100, high max(101.5..104.5), low 99, close 103.5
    assert out.iloc[0].tolist() == [100.0, 104.5, 99.0, 103.5, 10 + 11 + 12 + 13]
    assert out.iloc[1].tolist() == [104.0, 108.5, 103.0, 107.5, 14 + 15 + 16 + 17]
    assert out.iloc[2].tolist() == [108.0, 110.5, 107.0, 109.5, 18 + 19]
    assert report.buckets == 3
    assert report.incomplete.index.tolist() == [pd.Timestamp("2024-01-01 08:00", tz="UTC")]
    assert report.incomplete[["bars", "expected"]].values.tolist() == [[2, 4]]
    assert not report.complete
    assert out.attrs["timeframe"] == "4h"
    assert out.attrs["symbol"] == "ABC-USDT" and out.attrs["exchange"] == "testex"
    assert out.attrs["resample"]["incomplete_buckets"] == 1
    assert str(out.index.dtype) == "datetime64[ns, UTC]"


def test_complete_only_drops_incomplete_buckets(bars_factory) -> None:
    bars = bars_factory("2024-01-01 00:00", 10, "1h")
    out, report = resample_bars(bars, "4h", complete_only=True, source_timeframe="1h")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 04:00", tz="UTC"),
    ]
    assert report.dropped == 1


def test_labels_are_bucket_open_times_not_first_bar(bars_factory) -> None:
    out, report = resample_bars(bars_factory("2024-01-01 01:00", 4, "1h"), "4h")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),  # 01:00, 02:00, 03:00
        pd.Timestamp("2024-01-01 04:00", tz="UTC"),  # 04:00
    ]
    assert report.incomplete["bars"].tolist() == [3, 1]


def test_1h_to_1d_with_a_missing_hour(bars_factory) -> None:
    bars = bars_factory("2024-01-01", 48, "1h").drop(pd.Timestamp("2024-01-02 13:00", tz="UTC"))
    out, report = resample_bars(bars, "1d")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-02", tz="UTC"),
    ]
    assert report.incomplete[["bars", "expected"]].values.tolist() == [[23, 24]]
    assert out["volume"].tolist() == [sum(range(10, 34)), sum(range(34, 58)) - (10 + 37)]
    out2, _ = resample_bars(bars, "1d", complete_only=True)
    assert len(out2) == 1


def test_weeks_start_monday(bars_factory) -> None:
    daily = bars_factory("2024-01-07", 9, "1D")  # Sunday 7th .. Monday 15th
    out, report = resample_bars(daily, "1w")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01", tz="UTC"),  # Monday holding only Sunday the 7th
        pd.Timestamp("2024-01-08", tz="UTC"),
        pd.Timestamp("2024-01-15", tz="UTC"),
    ]
    assert report.incomplete["bars"].tolist() == [1, 1]
    assert out.loc["2024-01-08", "open"].item() == 101.0  # Monday the 8th is bar 1


def test_months_are_calendar_months(bars_factory) -> None:
    daily = bars_factory("2024-01-01", 70, "1D")  # Jan 1 .. Mar 10, 2024 (leap year)
    out, report = resample_bars(daily, "1M")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-02-01", tz="UTC"),
        pd.Timestamp("2024-03-01", tz="UTC"),
    ]
    assert report.incomplete[["bars", "expected"]].values.tolist() == [[10, 31]]
    assert out.loc["2024-02-01", "close"].item() == 100.0 + 59 + 0.5  # Feb 29 is bar 59


@pytest.mark.parametrize(
    ("source", "target", "text"),
    [
        ("1h", "30m", "must be coarser"),
        ("1h", "1h", "must be coarser"),
        ("4h", "6h", "not a whole multiple of 4h"),
        ("3m", "5m", "not a whole multiple of 3m"),
        ("1w", "1M", "source must be 1d or finer"),
    ],
)
def test_finer_equal_and_non_multiple_targets_are_rejected(
    bars_factory, source: str, target: str, text: str
) -> None:
    with pytest.raises(ConfigError, match=text):
        resample_bars(bars_factory(), target, source_timeframe=source)


def test_source_with_errors_is_rejected(bars_factory) -> None:
    bars = bars_factory()
    bars = pd.concat([bars, bars.iloc[[3]]]).sort_index()
    with pytest.raises(DataError, match="duplicate timestamp"):
        resample_bars(bars, "4h", source_timeframe="1h")


def test_source_timeframe_is_inferred(bars_factory) -> None:
    out, report = resample_bars(bars_factory("2024-01-01", 12, "15min"), "1h")
    assert report.source_timeframe == "15m"
    assert len(out) == 3 and report.complete


@pytest.mark.parametrize("target", ["4h", "1d", "1w"])
def test_matches_pandas_resample_on_real_candles(target: str) -> None:
    """Cross-check against pandas' own resampler (left-closed, left-labelled)."""
    bars = load_bars("BTC-USDT", "1h", "2021-04-05", "2021-09-30", exchange="binance")
    out, _ = resample_bars(bars, target)
    rule = {"4h": "4h", "1d": "1D", "1w": "W-MON"}[target]
    ref = (
        bars.resample(rule, label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna(subset=["open"])
    )
    assert out.index.equals(ref.index.as_unit("ns"))
    np.testing.assert_allclose(out.to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_real_gap_shows_up_as_incomplete_bucket(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COINBT_DATA_ROOT", str(tmp_path))
    # Binance outage 2021-08-13 02:00-05:00 (4 missing hours)
    bars = load_bars("ETH-USDT", "1h", "2021-08-13", "2021-08-13", exchange="binance")
    out, report = resample_bars(bars, "1d")
    assert report.incomplete[["bars", "expected"]].values.tolist() == [[20, 24]]
