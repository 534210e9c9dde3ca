"""The benchmark workload: tiled real BTC-USDT 1h candles and the SMA-cross signals.

Tiling rule (documented in ``benchmarks/README.md``):

* The source is ``BTC-USDT_1h.parquet`` (Binance spot, 23,988 bars, 2021-04-04 20:00 →
  2023-12-30 19:00 UTC, with 5 small gaps that are kept as they are).
* Copy 0 is the source unchanged. Copy k ≥ 1 is the source with its timestamps shifted so
  that its first bar opens one hour after the last bar of copy k−1, and its four prices
  multiplied by ``m_k = close_last(copy k−1) / open_first(source)``, so the first open of
  each copy equals the previous copy's last close (no price jump at a seam). Volume is left
  unscaled. Copies are concatenated and the result is cut to the requested number of bars.
* Each copy multiplies the level by ``close_last(source) / open_first(source)`` ≈ 0.731, so
  the 1e6-bar series ends around 1e-2 USDT. Every engine compared here is scale-free
  (relative fees, all-cash sizing; backtesting.py's 1e-8 unit is re-derived per price), and
  float64 keeps ~16 significant digits at any level, so the drift is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# the bundled copy of binance/BTC-USDT_1h.parquet from the shared real data (identical bar for
# bar; tests/unit/data/test_data_bundle.py), so `make bench` runs on any checkout
SOURCE = "coinbt bundled catalog: binance BTC-USDT 1h"
WINDOW = 20
VOL_MULT = 1.5
FEE_RATE = 0.0005
INIT_CASH = 10_000.0
SIZES = (10_000, 100_000, 1_000_000)
HOUR_NS = 3_600 * 10**9


@dataclass
class Workload:
    """One tiled series with its signals (plain numpy arrays, aligned)."""

    n: int
    timestamps: np.ndarray  # int64 ns since epoch, UTC, bar open times
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    entries: np.ndarray  # bool, decisions at bar close
    exits: np.ndarray
    copies: int

    def frame(self) -> pd.DataFrame:
        """Canonical coinbt bars: UTC DatetimeIndex of bar open times + OHLCV."""
        idx = pd.DatetimeIndex(
            self.timestamps.astype("datetime64[ns]"), name="timestamp"
        ).tz_localize("UTC")
        df = pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=idx,
        )
        df.attrs.update({"symbol": "BTC-USDT", "exchange": "binance", "timeframe": "1h"})
        return df

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "timestamps": self.timestamps,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "entries": self.entries,
            "exits": self.exits,
        }

    def save(self, path: Path) -> None:
        np.savez(path, **self.arrays())


def load_source() -> pd.DataFrame:
    """The 23,988 real Binance BTC-USDT 1h bars, with a ``timestamp`` column."""
    from coinbt.data import Catalog, load_bars
    from coinbt.settings import bundled_data_root

    bars = load_bars("BTC-USDT", "1h", exchange="binance", catalog=Catalog([bundled_data_root()]))
    return bars.reset_index()


def tile(source: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    """Tile ``source`` to ``n`` bars with continuous prices and hourly-continued timestamps."""
    ts0 = source["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    px0 = {c: source[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close")}
    vol0 = source["volume"].to_numpy(dtype=np.float64)
    m = len(source)
    copies = -(-n // m)
    ts_parts, vol_parts = [], []
    px_parts: dict[str, list[np.ndarray]] = {c: [] for c in px0}
    mult = 1.0
    next_start = ts0[0]
    for k in range(copies):
        if k > 0:
            # first open of this copy == last close of the previous one
            mult = px_parts["close"][-1][-1] / px0["open"][0]
        ts_parts.append(ts0 - ts0[0] + next_start)
        next_start = ts_parts[-1][-1] + HOUR_NS
        for c in px0:
            px_parts[c].append(px0[c] * mult)
        vol_parts.append(vol0)
    out = {c: np.concatenate(px_parts[c])[:n].copy() for c in px0}
    out["timestamps"] = np.concatenate(ts_parts)[:n].copy()
    out["volume"] = np.concatenate(vol_parts)[:n].copy()
    out["copies"] = copies
    return out


def pandas_signals(
    close: np.ndarray, volume: np.ndarray, window: int = WINDOW, vol_mult: float = VOL_MULT
) -> tuple[np.ndarray, np.ndarray]:
    """The issue's rule with pandas rolling means (the reference signals fed to every peer).

    Cross above at t: ``close[t] > sma[t]`` and ``close[t-1] <= sma[t-1]`` (SMA includes bar t),
    plus ``volume[t] > vol_mult * SMA(volume)[t]``; cross below: ``close[t] < sma[t]`` and
    ``close[t-1] >= sma[t-1]``. Comparisons with a NaN SMA are False, so the first possible
    signal is at bar ``window``.
    """
    c = pd.Series(close)
    v = pd.Series(volume)
    sma = c.rolling(window).mean()
    vsma = v.rolling(window).mean()
    c_prev, sma_prev = c.shift(1), sma.shift(1)
    cross_up = (c > sma) & (c_prev <= sma_prev)
    cross_dn = (c < sma) & (c_prev >= sma_prev)
    entries = cross_up & (v > vol_mult * vsma)
    exits = cross_dn
    return entries.to_numpy(dtype=bool), exits.to_numpy(dtype=bool)


def build(n: int, source: pd.DataFrame | None = None) -> Workload:
    src = load_source() if source is None else source
    t = tile(src, n)
    entries, exits = pandas_signals(t["close"], t["volume"])
    return Workload(
        n=n,
        timestamps=t["timestamps"],
        open=t["open"],
        high=t["high"],
        low=t["low"],
        close=t["close"],
        volume=t["volume"],
        entries=entries,
        exits=exits,
        copies=int(t["copies"]),
    )


def load_npz(path: Path | str) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
