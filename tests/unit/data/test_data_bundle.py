"""The candles shipped in coinbt/data/bundled: size, provenance, and reproducibility."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import coinbt.data.catalog
import coinbt.data.fingerprint
import coinbt.data.importer
import coinbt.data.loader
import coinbt.data.resample
import coinbt.data.symbols
import coinbt.data.validate
from coinbt import settings
from coinbt.data import Catalog, load_bars
from coinbt.data.bundle import BUNDLE, build_bundle

BUNDLED = settings.bundled_data_root()


def test_bundle_is_small_and_documented() -> None:
    files = sorted(BUNDLED.rglob("*.parquet"))
    assert sum(f.stat().st_size for f in files) <= 3 * 1024 * 1024
    sources = (BUNDLED / "SOURCES.md").read_text()
    for exchange, symbol, timeframe, rel in BUNDLE:
        assert rel in sources
        folder = BUNDLED / exchange / symbol / timeframe
        assert folder.is_dir(), folder
    for f in files:
        assert str(f.relative_to(BUNDLED)) in sources, f
        meta = pq.read_schema(f).metadata
        assert b"ohlcv_source" in meta and b"coinbt_provenance" in meta
        assert pq.ParquetFile(f).metadata.row_group(0).column(1).compression == "ZSTD"


def test_bundle_equals_the_real_files(real_data: Path) -> None:
    cat = Catalog([BUNDLED])
    for exchange, symbol, timeframe, rel in BUNDLE:
        src = real_data / rel
        original = pq.read_table(src)
        bars = load_bars(symbol, timeframe, exchange=exchange, catalog=cat)
        assert len(bars) == original.num_rows
        np.testing.assert_array_equal(
            bars.index.asi8, original.column("timestamp").cast("int64").to_numpy()
        )
        for col in bars.columns:
            np.testing.assert_array_equal(bars[col].to_numpy(), original.column(col).to_numpy())
        want = pq.read_schema(src).metadata[b"ohlcv_source"]
        for path in cat.dataset(exchange, symbol, timeframe).files.values():
            assert pq.read_schema(path).metadata[b"ohlcv_source"] == want


@pytest.mark.slow
def test_build_bundle_reproduces_the_shipped_data(real_data: Path, tmp_path: Path) -> None:
    reports = build_bundle(real_data, tmp_path)
    assert [r.rows_added for r in reports] == [23988, 23989, 704, 8579, 20111]
    rebuilt = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    shipped = sorted(p.relative_to(BUNDLED) for p in BUNDLED.rglob("*.parquet"))
    assert rebuilt == shipped
    for rel in shipped:
        assert pq.read_table(tmp_path / rel).equals(pq.read_table(BUNDLED / rel))


@pytest.mark.parametrize(
    "module",
    [
        coinbt.data.catalog,
        coinbt.data.fingerprint,
        coinbt.data.importer,
        coinbt.data.loader,
        coinbt.data.resample,
        coinbt.data.symbols,
        coinbt.data.validate,
    ],
)
def test_docstring_examples_run(module, data_root: Path) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
