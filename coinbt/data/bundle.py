"""Rebuild the small set of real candles shipped in ``coinbt/data/bundled``.

The bundle is made with :func:`~coinbt.data.importer.import_file` from the team's real-data
folder (``shared/data/real``, see its ``SOURCES.md``), so the shipped files go through the same
checks as any import. Run it from the repository root::

    python -c "from coinbt.data.bundle import build_bundle; \\
               build_bundle('../shared/data/real', 'coinbt/data/bundled')"
"""

from __future__ import annotations

import os
from pathlib import Path

from coinbt.data.importer import ImportReport, import_file

#: (exchange, symbol, timeframe, file under the real-data folder)
BUNDLE: tuple[tuple[str, str, str, str], ...] = (
    ("binance", "BTC-USDT", "1h", "binance/BTC-USDT_1h.parquet"),
    ("binance", "ETH-USDT", "1h", "binance/ETH-USDT_1h.parquet"),
    ("upbit", "BTC-KRW", "1d", "upbit/BTC-KRW_1d.parquet"),
    ("upbit", "ETH-KRW", "1h", "upbit/ETH-KRW_1h.parquet"),
    ("coinbase", "BTC-USD", "1h", "coinbase/BTC-USD_1h.parquet"),
)
#: zstd level for the shipped files (slow to write, small to ship)
BUNDLE_COMPRESSION_LEVEL = 19


def build_bundle(
    src_root: str | os.PathLike[str], dst_root: str | os.PathLike[str]
) -> list[ImportReport]:
    """Import the :data:`BUNDLE` files from ``src_root`` into the catalog at ``dst_root``.

    Parameters
    ----------
    src_root : path
        The real-data folder (``<exchange>/<BASE>-<QUOTE>_<tf>.parquet`` files).
    dst_root : path
        Catalog root to write (normally ``coinbt/data/bundled``). Existing identical bars are
        skipped, so running it twice changes nothing.

    Returns
    -------
    list of ImportReport
        One per file.

    Raises
    ------
    DataError
        A source file is missing or fails validation.
    """
    src = Path(src_root)
    return [
        import_file(
            src / rel,
            exchange=ex,
            symbol=sym,
            timeframe=tf,
            root=dst_root,
            compression_level=BUNDLE_COMPRESSION_LEVEL,
        )
        for ex, sym, tf, rel in BUNDLE
    ]
