"""Market data: catalog, loading, validation, resampling, import and fingerprints.

Bars are one row per candle, indexed by the candle **open** time (tz-aware UTC), with float64
``open high low close volume`` (volume in the base asset). See ``docs/data.md``.
"""

from coinbt.data.catalog import Catalog, list_catalog
from coinbt.data.fingerprint import bars_fingerprint
from coinbt.data.importer import ImportReport, import_file
from coinbt.data.loader import load_bars, load_many
from coinbt.data.resample import ResampleReport, resample_bars
from coinbt.data.symbols import canonical_symbol
from coinbt.data.validate import ValidationReport, validate_bars

__all__ = [
    "Catalog",
    "ImportReport",
    "ResampleReport",
    "ValidationReport",
    "bars_fingerprint",
    "canonical_symbol",
    "import_file",
    "list_catalog",
    "load_bars",
    "load_many",
    "resample_bars",
    "validate_bars",
]
