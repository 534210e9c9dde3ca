"""The per-process bars cache behind load_bars: hits, copies, invalidation, budget."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import coinbt.data.loader as loader_mod
from coinbt.data import cache, load_bars
from coinbt.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hourly(data_root: Path, bars_factory, write_bars) -> tuple[pd.DataFrame, list[Path]]:
    bars = bars_factory("2024-01-30 00:00", periods=96, freq="1h")
    return bars, write_bars(data_root, "testex", "ABC-USDT", "1h", bars)


def _no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("read the files again")

    monkeypatch.setattr(loader_mod, "read_year_files", refuse)


def test_a_second_load_is_served_from_the_cache_and_equal(hourly, monkeypatch) -> None:
    first = load_bars("ABC-USDT", "1h", "2024-01-31", "2024-02-01")
    assert cache.info()["entries"] == 1
    _no_reads(monkeypatch)
    second = load_bars("ABC-USDT", "1h", "2024-01-31", "2024-02-01")
    pd.testing.assert_frame_equal(first, second)
    assert first.attrs == second.attrs and second.attrs["symbol"] == "ABC-USDT"
    with pytest.raises(AssertionError, match="read the files again"):  # another range: a read
        load_bars("ABC-USDT", "1h", "2024-01-31", "2024-01-31")


def test_changing_a_loaded_frame_never_changes_the_cache(hourly) -> None:
    bars, _ = hourly
    first = load_bars("ABC-USDT", "1h")
    first.iloc[:, :] = -1.0
    first.attrs["validation"]["errors"].append("scribbled")
    first.attrs["symbol"] = "XYZ"
    again = load_bars("ABC-USDT", "1h")
    pd.testing.assert_frame_equal(again, bars, check_freq=False, check_names=False)
    assert again.attrs["symbol"] == "ABC-USDT" and again.attrs["validation"]["errors"] == []


def test_a_rewritten_file_is_read_again(hourly, data_root, bars_factory, write_bars) -> None:
    bars, paths = hourly
    load_bars("ABC-USDT", "1h")
    changed = bars.copy()
    changed["close"] += 0.25
    changed["high"] += 0.25
    tmp = paths[0].with_suffix(".tmp")
    changed.reset_index().to_parquet(tmp, index=False)
    os.replace(tmp, paths[0])  # how the catalog writes: a new file renamed into place
    again = load_bars("ABC-USDT", "1h")
    assert (again["close"].to_numpy() == changed["close"].to_numpy()).all()


def test_strict_loads_still_fail_on_cached_bars_with_errors(
    data_root, bars_factory, write_bars
) -> None:
    bars = bars_factory("2024-01-30 00:00", periods=24, freq="1h")
    bars.iloc[5, bars.columns.get_loc("high")] = 1.0  # high below low: an error
    write_bars(data_root, "testex", "BAD-USDT", "1h", bars)
    loose = load_bars("BAD-USDT", "1h", strict=False)
    assert loose.attrs["validation"]["errors"]
    with pytest.raises(DataError, match="failed validation"):
        load_bars("BAD-USDT", "1h")


def test_budget_zero_turns_it_off_and_bad_values_are_named(hourly, monkeypatch) -> None:
    monkeypatch.setenv("COINBT_BARS_CACHE_MB", "0")
    load_bars("ABC-USDT", "1h")
    assert cache.info() == {"entries": 0, "bytes": 0}
    monkeypatch.setenv("COINBT_BARS_CACHE_MB", "lots")
    with pytest.raises(ConfigError, match=r"COINBT_BARS_CACHE_MB='lots'.*MiB.*0 to turn"):
        load_bars("ABC-USDT", "1h")


def test_the_oldest_frames_go_when_the_budget_is_full(hourly, monkeypatch) -> None:
    one_day = int(load_bars("ABC-USDT", "1h", "2024-01-31", "2024-01-31").memory_usage().sum())
    cache.clear()
    budget_mb = 2.5 * one_day / (1 << 20)  # room for two days
    monkeypatch.setenv("COINBT_BARS_CACHE_MB", f"{budget_mb:.9f}")
    for day in ("2024-01-30", "2024-01-31", "2024-02-01"):
        load_bars("ABC-USDT", "1h", day, day)
    assert cache.info()["entries"] == 2
    assert cache.info()["bytes"] <= 2.5 * one_day
    _no_reads(monkeypatch)
    load_bars("ABC-USDT", "1h", "2024-02-01", "2024-02-01")  # the newest is kept
    with pytest.raises(AssertionError, match="read the files again"):
        load_bars("ABC-USDT", "1h", "2024-01-30", "2024-01-30")  # the oldest went
