"""A content hash of a bar frame, stable across processes, machines and pandas versions."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from coinbt.data.store import OHLCV_COLUMNS
from coinbt.data.validate import bar_timestamps, ohlcv_arrays

#: bump when the hashed layout changes (old fingerprints then no longer match, on purpose)
FINGERPRINT_VERSION = 1


def bars_fingerprint(df: pd.DataFrame, length: int = 16) -> str:
    """Hash the exact data slice of a bar frame (for run ids and provenance).

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical bars; ``attrs`` ``symbol``, ``exchange`` and ``timeframe`` are part of the
        hash when present.
    length : int, default 16
        Hex characters to keep from the SHA-256 digest (64 gives the full digest).

    Returns
    -------
    str
        Lower-case hex.

    Notes
    -----
    Hashed, in order: a JSON header (version, symbol, exchange, timeframe, row count), the open
    times as little-endian int64 nanoseconds since the epoch (UTC), then each of
    ``open high low close volume`` as little-endian float64. ``-0.0`` is hashed as ``0.0`` and
    every NaN as one canonical NaN, so equal data always gives equal fingerprints. Other attrs,
    column order and extra columns are ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=2, freq="1h", tz="UTC", name="timestamp")
    >>> bars = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
    ...                      "volume": 0.0}, index=idx)
    >>> len(bars_fingerprint(bars))
    16
    """
    if not 1 <= length <= 64:
        raise ValueError(f"length must be between 1 and 64, got {length}")
    index = bar_timestamps(df)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    values = ohlcv_arrays(df)
    header = {
        "v": FINGERPRINT_VERSION,
        "symbol": df.attrs.get("symbol"),
        "exchange": df.attrs.get("exchange"),
        "timeframe": df.attrs.get("timeframe"),
        "rows": len(df),
    }
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(index.as_unit("ns").asi8, dtype="<i8").tobytes())
    for col in OHLCV_COLUMNS:
        arr = np.array(values[col], dtype="<f8", copy=True)
        arr[arr == 0.0] = 0.0
        arr[np.isnan(arr)] = np.nan
        digest.update(arr.tobytes())
    return digest.hexdigest()[:length]
