"""Fixtures for the market-data tests: tiny hand-built bars, temporary catalogs, real files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def make_bars(start: str = "2024-01-01 00:00", periods: int = 10, freq: str = "1h") -> pd.DataFrame:
    """Hand-checkable bars: open = 100 + i, close = open + 0.5, high = close + 1,
    low = open - 1, volume = 10 + i."""
    index = pd.date_range(start, periods=periods, freq=freq, tz="UTC", name="timestamp")
    i = np.arange(periods, dtype=float)
    opens = 100.0 + i
    return pd.DataFrame(
        {
            "open": opens,
            "high": opens + 1.5,
            "low": opens - 1.0,
            "close": opens + 0.5,
            "volume": 10.0 + i,
        },
        index=index.as_unit("ns"),
    )


def write_dataset(
    root: Path, exchange: str, symbol: str, timeframe: str, bars: pd.DataFrame
) -> list[Path]:
    """Write bars in the catalog layout with plain pandas (independent of coinbt's writer)."""
    folder = root / exchange / symbol / ("1mo" if timeframe == "1M" else timeframe)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for year, part in bars.groupby(bars.index.year, sort=True):
        path = folder / f"{year}.parquet"
        part.reset_index().to_parquet(path, index=False)
        paths.append(path)
    return paths


@pytest.fixture
def bars_factory() -> Callable[..., pd.DataFrame]:
    """``bars_factory(start, periods, freq)`` -> hand-built bars (see :func:`make_bars`)."""
    return make_bars


@pytest.fixture
def write_bars() -> Callable[..., list[Path]]:
    """``write_bars(root, exchange, symbol, timeframe, bars)`` -> year files written."""
    return write_dataset


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root set as ``COINBT_DATA_ROOT`` (the bundled data stays visible)."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("COINBT_DATA_ROOT", str(root))
    return root


@pytest.fixture(scope="session")
def real_data(real_data_dir: Path, skip_or_fail: Callable[[str], None]) -> Path:
    """The team's real candles (``tests/conftest.py``: ``$COINBT_SHARED_DATA`` or
    ``<repo>/../shared/data/real``; skipped when absent, failed with COINBT_REQUIRE_SERVICES=1)."""
    if not (real_data_dir / "manifest.csv").is_file():
        skip_or_fail(f"no manifest.csv in {real_data_dir}; set COINBT_SHARED_DATA")
    return real_data_dir
