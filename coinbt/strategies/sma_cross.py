"""``sma_cross``: close crosses its simple moving average, optionally on rising volume."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coinbt.strategies._nb import sma_cross_signals_nb
from coinbt.strategies.base import Param, Strategy


def sma_cross(
    bars: pd.DataFrame, window: int = 20, vol_mult: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Enter when the close crosses above SMA(window); exit when it crosses below.

    Parameters
    ----------
    bars : DataFrame
        Canonical OHLCV frame.
    window : int
        SMA length in bars (the SMA includes the current bar).
    vol_mult : float
        When > 0, an entry also needs ``volume > vol_mult × SMA(volume, window)``.

    Returns
    -------
    entries, exits : ndarray of bool

    Notes
    -----
    Cross above at bar t: ``close[t] > sma[t]`` and ``close[t-1] <= sma[t-1]``; cross below
    mirrors it. A close exactly on the SMA is "not above" and "not below", so a tie followed
    by a close above is a cross above. Uses bars up to t only.
    """
    close = np.ascontiguousarray(bars["close"].to_numpy(dtype=np.float64))
    volume = np.ascontiguousarray(bars["volume"].to_numpy(dtype=np.float64))
    return sma_cross_signals_nb(close, volume, window, float(vol_mult))


SMA_CROSS = Strategy(
    name="sma_cross",
    fn=sma_cross,
    params={
        "window": Param(int, 20, min=2, max=100_000, doc="SMA length in bars"),
        "vol_mult": Param(
            float, 0.0, min=0.0, doc="entry needs volume > vol_mult × SMA(volume); 0 = off"
        ),
    },
    description="close crosses above / below its simple moving average",
    builtin=True,
)
