"""``volume_long_candle``: a volume surge on a long bullish candle (the predecessor's rule)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coinbt.strategies._nb import volume_long_candle_nb
from coinbt.strategies.base import Param, Strategy


def _ohlcv(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(
        np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64))
        for c in ("open", "high", "low", "close", "volume")
    )


def volume_long_candle(
    bars: pd.DataFrame,
    vol_ma_window: int = 20,
    vol_multiplier: float = 1.5,
    body_pct: float = 0.02,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enter on a volume surge that comes with a long bullish candle.

    Parameters
    ----------
    bars : DataFrame
        Canonical OHLCV frame.
    vol_ma_window : int
        Bars in the volume mean; the mean includes the current bar (the predecessor's rule).
    vol_multiplier : float
        Surge: ``volume[t] >= vol_multiplier × vol_ma[t]`` (and ``volume[t] > 0``).
    body_pct : float
        Long candle: body ``(close-open)/open >= body_pct`` (fraction, 0.02 = 2 %), each wick
        ``< 2·body_pct`` of the open, ``close > open``.

    Returns
    -------
    entries, exits, confidence : ndarray
        ``exits`` is all False: positions end by the engine's ``hold_bars`` (1 by default for
        this strategy) or its stops. ``confidence`` is NaN where there is no entry and else
        ``0.5·(1 − vol_multiplier·vol_ma/volume) + 0.5·body/(high − low)``.

    Notes
    -----
    Decisions use bar t's own OHLCV and the volume mean of bars t−w+1 … t, so no bar after t.
    No signal before the window is full (bar ``vol_ma_window − 1`` is the first possible one).
    See ``docs/strategies.md`` for every rule and the differences from the predecessor.

    Examples
    --------
    >>> import coinbt
    >>> r = coinbt.backtest("volume_long_candle", "BTC-USDT", "1h", "2023-01-01", "2023-03-31")
    >>> r.spec.engine["hold_bars"]
    1
    """
    o, h, lo, c, v = _ohlcv(bars)
    entries, confidence = volume_long_candle_nb(
        o, h, lo, c, v, int(vol_ma_window), float(vol_multiplier), float(body_pct)
    )
    return entries, np.zeros(len(entries), dtype=np.bool_), confidence


VOLUME_LONG_CANDLE = Strategy(
    name="volume_long_candle",
    fn=volume_long_candle,
    params={
        "vol_ma_window": Param(
            int, 20, min=1, max=100_000, doc="bars in the volume mean (includes the current bar)"
        ),
        "vol_multiplier": Param(
            float, 1.5, above=0.0, doc="surge: volume ≥ vol_multiplier × volume mean"
        ),
        "body_pct": Param(
            float,
            0.02,
            above=0.0,
            below=1.0,
            doc="long candle: body ≥ body_pct of the open, each wick < 2·body_pct",
        ),
    },
    description="volume surge with a long bullish candle (predecessor's rule, full windows)",
    builtin=True,
    settings={"hold_bars": 1},
)
