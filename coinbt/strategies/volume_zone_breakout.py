"""``volume_zone_breakout``: the high breaks the top volume zone of the preceding bars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numba
import numpy as np
import pandas as pd

from coinbt.strategies._nb import volume_zone_breakout_nb, volume_zone_breakout_par_nb
from coinbt.strategies.base import Param, Strategy
from coinbt.strategies.volume_long_candle import _ohlcv

#: from this many bars on, the bars are split across numba's threads (identical results)
PARALLEL_MIN_BARS = 50_000


def _run(bars: pd.DataFrame, params: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    o, h, lo, c, v = _ohlcv(bars)
    args = (
        o,
        h,
        lo,
        c,
        v,
        int(params["volume_window"]),
        float(params["top_percentile"]),
        float(params["breakout_buffer"]),
        int(params["num_bins"]),
        bool(params["include_wicks"]),
    )
    threads = numba.get_num_threads()
    if len(bars) >= PARALLEL_MIN_BARS and threads > 1:
        return volume_zone_breakout_par_nb(*args, threads)
    return volume_zone_breakout_nb(*args)


def volume_zone_breakout(
    bars: pd.DataFrame,
    volume_window: int = 10,
    top_percentile: float = 0.2,
    breakout_buffer: float = 0.0,
    num_bins: int = 20,
    include_wicks: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enter when the bar's high reaches the resistance of the preceding bars' volume profile.

    Parameters
    ----------
    bars : DataFrame
        Canonical OHLCV frame.
    volume_window : int
        The profile of bar i is built from bars i−volume_window … i−1 (bar i excluded).
    top_percentile : float
        Share of the window's volume, counted from the highest price bin down, that defines
        the resistance zone (fraction, 0.2 = 20 %).
    breakout_buffer : float
        Entry needs ``high ≥ resistance × (1 + breakout_buffer)`` (fraction).
    num_bins : int
        Equal-width price bins over the window's own price range.
    include_wicks : bool
        Candles span ``[low, high]`` when True, their body ``[min(o,c), max(o,c)]`` when False.

    Returns
    -------
    entries, exits, confidence : ndarray
        ``exits`` is all False (the engine's ``hold_bars``, 1 by default for this strategy,
        closes positions). ``confidence`` is NaN where there is no entry and else
        ``0.5 + 0.5·min((high − level)/(window range), 1)``.

    Notes
    -----
    The decision at bar i reads the window before i and bar i's high; it is taken at bar i's
    close (the high is only known then) and fills at the next open by default. A flat
    window or one without volume has no resistance and no signal. Every rule and the
    differences from the predecessor: ``docs/strategies.md``.

    Examples
    --------
    >>> import coinbt
    >>> r = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", exchange="binance")
    >>> set(r.trades["bars_held"])
    {1}
    """
    entries, confidence, _ = _run(
        bars,
        {
            "volume_window": volume_window,
            "top_percentile": top_percentile,
            "breakout_buffer": breakout_buffer,
            "num_bins": num_bins,
            "include_wicks": include_wicks,
        },
    )
    return entries, np.zeros(len(entries), dtype=np.bool_), confidence


def volume_zone_resistance(bars: pd.DataFrame, **params: Any) -> pd.Series:
    """The resistance price the strategy compares each bar's high with (NaN where none).

    Takes the same parameters as :func:`volume_zone_breakout` (checked the same way); the
    breakout level is ``resistance × (1 + breakout_buffer)``.
    """
    effective = VOLUME_ZONE_BREAKOUT.resolve(params)
    _, _, resistance = _run(bars, effective)
    return pd.Series(resistance, index=bars.index, name="resistance")


VOLUME_ZONE_BREAKOUT = Strategy(
    name="volume_zone_breakout",
    fn=volume_zone_breakout,
    params={
        "volume_window": Param(
            int, 10, min=1, max=100_000, doc="bars before the current one in the volume profile"
        ),
        "top_percentile": Param(
            float,
            0.2,
            max=1.0,
            above=0.0,
            doc="share of window volume, from the top bin down, that sets the resistance",
        ),
        "breakout_buffer": Param(
            float, 0.0, min=0.0, doc="entry needs high ≥ resistance × (1 + breakout_buffer)"
        ),
        "num_bins": Param(int, 20, min=1, max=10_000, doc="equal-width price bins per window"),
        "include_wicks": Param(
            bool, True, doc="candles span [low, high]; False: their body [min(o,c), max(o,c)]"
        ),
    },
    description="high breaks the top volume zone of the preceding bars (per-window profile)",
    builtin=True,
    settings={"hold_bars": 1},
)
