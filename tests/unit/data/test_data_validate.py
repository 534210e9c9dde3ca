"""validate_bars: one test per rule on hand-built bars, then a cross-check with the manifest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coinbt.data import ValidationReport, validate_bars
from coinbt.errors import DataError


def _set(bars: pd.DataFrame, row: int, **values: float) -> pd.DataFrame:
    bars = bars.copy()
    for col, value in values.items():
        bars.iloc[row, bars.columns.get_loc(col)] = value
    return bars


def test_clean_bars_pass(bars_factory) -> None:
    report = validate_bars(bars_factory(), "1h")
    assert isinstance(report, ValidationReport)
    assert report.ok
    assert report.errors == [] and report.warnings == []
    assert report.rows == 10
    assert report.start == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert report.end == pd.Timestamp("2024-01-01 09:00", tz="UTC")


def test_duplicate_timestamps(bars_factory) -> None:
    bars = bars_factory()
    bars = pd.concat([bars.iloc[:4], bars.iloc[3:4], bars.iloc[4:]])
    report = validate_bars(bars, "1h")
    assert not report.ok
    assert report.duplicates == 1
    assert report.errors == ["1 duplicate timestamp(s), first at 2024-01-01 03:00 UTC"]


def test_time_going_backwards(bars_factory) -> None:
    bars = bars_factory()
    order = [0, 1, 3, 2, 4, 5, 6, 7, 8, 9]
    report = validate_bars(bars.iloc[order], "1h")
    assert report.non_monotonic == 1
    assert any(
        e.startswith("time goes backwards 1 time(s); first at row 3: 2024-01-01 02:00 after")
        for e in report.errors
    )


@pytest.mark.parametrize(
    ("values", "text", "counter"),
    [
        ({"high": 100.2}, "high < max(open, close)", "ohlc_violations"),  # close is 102.5
        ({"low": 103.0}, "low > min(open, close)", "ohlc_violations"),  # open is 102
        (
            {"high": 101.0, "low": 101.5, "open": 101.2, "close": 101.2},
            "high < low",
            "ohlc_violations",
        ),
        ({"low": 0.0}, "a price <= 0", "non_positive_prices"),
        ({"open": -1.0, "low": -2.0}, "a price <= 0", "non_positive_prices"),
        ({"volume": -3.0}, "negative volume", "negative_volume"),
    ],
)
def test_ohlc_rules(bars_factory, values: dict, text: str, counter: str) -> None:
    report = validate_bars(_set(bars_factory(), 2, **values), "1h")
    assert not report.ok
    assert f"1 bar(s) with {text}, first at 2024-01-01 02:00 UTC" in report.errors
    assert getattr(report, counter) == 1


def test_nan_values_are_counted_per_column(bars_factory) -> None:
    bars = _set(bars_factory(), 4, close=np.nan)
    bars = _set(bars, 6, close=np.nan, volume=np.nan)
    report = validate_bars(bars, "1h")
    assert report.nan_values == 3
    assert "3 NaN value(s) (close: 2, volume: 1), first at 2024-01-01 04:00 UTC" in report.errors


def test_naive_timestamps_are_an_error(bars_factory) -> None:
    bars = bars_factory()
    bars.index = bars.index.tz_localize(None)
    report = validate_bars(bars, "1h")
    assert not report.ok
    assert "no time zone" in report.errors[0]


def test_bars_closer_than_the_timeframe_are_an_error(bars_factory) -> None:
    minutes = bars_factory("2024-01-01", 10, "1min")
    report = validate_bars(minutes, "1h")
    assert report.short_steps == 9
    assert any("overlapping candles" in e for e in report.errors)


def test_gaps_are_warnings_with_counts_and_spans(bars_factory) -> None:
    bars = bars_factory("2024-01-01", 20, "1h")
    missing = ["2024-01-01 03:00", "2024-01-01 04:00", "2024-01-01 05:00", "2024-01-01 10:00"]
    bars = bars.drop(pd.DatetimeIndex(missing, tz="UTC"))
    report = validate_bars(bars, "1h")
    assert report.ok
    assert (report.gaps, report.missing_bars) == (2, 4)
    assert report.largest_gap == pd.Timedelta("4h")
    assert report.gap_spans == [
        (pd.Timestamp("2024-01-01 03:00", tz="UTC"), pd.Timestamp("2024-01-01 05:00", tz="UTC"), 3),
        (pd.Timestamp("2024-01-01 10:00", tz="UTC"), pd.Timestamp("2024-01-01 10:00", tz="UTC"), 1),
    ]
    assert report.warnings == [
        "2 gap(s), 4 missing bar(s), largest step between bars 4h; missing (UTC): "
        "2024-01-01 03:00 -> 2024-01-01 05:00 (3 bars); 2024-01-01 10:00 (1 bar)"
    ]


def test_zero_volume_is_a_warning(bars_factory) -> None:
    report = validate_bars(_set(bars_factory(), 7, volume=0.0), "1h")
    assert report.ok
    assert report.zero_volume_bars == 1
    assert report.warnings == ["1 zero-volume bar(s), first at 2024-01-01 07:00 UTC"]


def test_misaligned_timestamps_are_a_warning(bars_factory) -> None:
    report = validate_bars(bars_factory("2024-01-01 00:30", 5, "1h"), "1h")
    assert report.ok
    assert report.misaligned == 5
    assert report.warnings == ["5 timestamp(s) not on the 1h grid, first at 2024-01-01 00:30 UTC"]


def test_weekly_bars_open_on_monday(bars_factory) -> None:
    assert validate_bars(bars_factory("2024-01-01", 4, "7D"), "1w").misaligned == 0  # Monday
    assert validate_bars(bars_factory("2024-01-07", 4, "7D"), "1w").misaligned == 4  # Sunday


def test_monthly_gaps_use_calendar_months(bars_factory) -> None:
    bars = bars_factory("2024-01-01", 6, "MS").drop(pd.Timestamp("2024-03-01", tz="UTC"))
    report = validate_bars(bars, "1M")
    assert (report.gaps, report.missing_bars, report.misaligned, report.short_steps) == (1, 1, 0, 0)
    assert report.gap_spans[0][0] == pd.Timestamp("2024-03-01", tz="UTC")
    assert validate_bars(bars_factory("2024-01-15", 3, "30D"), "1M").misaligned == 3


def test_timestamp_column_is_accepted(bars_factory) -> None:
    assert validate_bars(bars_factory().reset_index(), "1h").ok


def test_frames_that_are_not_bars_raise(bars_factory) -> None:
    with pytest.raises(DataError, match=r"missing column\(s\) \['volume'\]"):
        validate_bars(bars_factory().drop(columns="volume"), "1h")
    with pytest.raises(DataError, match="DatetimeIndex"):
        validate_bars(bars_factory().reset_index(drop=True), "1h")


def test_report_dict_is_json_ready(bars_factory) -> None:
    bars = bars_factory("2024-01-01", 10, "1h").drop(pd.Timestamp("2024-01-01 04:00", tz="UTC"))
    data = json.loads(json.dumps(validate_bars(bars, "1h").to_dict()))
    assert data["ok"] is True
    assert data["largest_gap"] == 7200
    assert data["gap_spans"] == [["2024-01-01T04:00:00+00:00", "2024-01-01T04:00:00+00:00", 1]]


def test_counts_match_the_real_data_manifest(real_data: Path) -> None:
    """Independent cross-check: the real-data manifest was computed by another tool."""
    with (real_data / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 28
    for row in rows:
        bars = pd.read_parquet(real_data / row["file"]).set_index("timestamp")
        timeframe = "1M" if row["timeframe"] == "1mo" else row["timeframe"]
        report = validate_bars(bars, timeframe)
        assert report.ok, (row["file"], report.errors)
        got = (
            report.rows,
            report.gaps,
            report.missing_bars,
            report.zero_volume_bars,
            report.ohlc_violations,
            report.nan_values,
            report.misaligned,
        )
        want = tuple(
            int(row[k])
            for k in (
                "rows",
                "gaps",
                "missing_bars",
                "zero_volume_bars",
                "ohlc_violations",
                "nan_values",
                "misaligned",
            )
        )
        assert got == want, row["file"]
        if row["largest_gap"] != "-":
            assert report.largest_gap == pd.Timedelta(row["largest_gap"]), row["file"]
