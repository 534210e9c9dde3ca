"""Drawdown curve and drawdown-episode summary of an equity series."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from coinbt.errors import DataError
from coinbt.metrics._nb import drawdown_summary_nb


def as_float_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D contiguous float64 array (no copy when it already is one)."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{name} must be a 1-D array of numbers, got {type(values).__name__}: {exc}"
        ) from exc
    if arr.ndim != 1:
        raise DataError(
            f"{name} must be 1-D (one value per bar), got an array of shape {arr.shape}"
        )
    return arr


def drawdown(equity: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Drawdown of an equity curve: ``equity / running peak - 1`` on every bar.

    Parameters
    ----------
    equity : numpy.ndarray or pandas.Series
        Account equity per bar, quote currency, marked at each bar's close.

    Returns
    -------
    numpy.ndarray or pandas.Series
        float64, same length (a Series keeps the index and is named ``"drawdown"``). A
        fraction <= 0: ``0`` at every new high, ``-0.25`` when equity is 25 % below its peak.

    Notes
    -----
    The running peak is taken over the equity series itself (the value before the first bar is
    not included). Where the running peak is <= 0 (only possible on a prefix of a series that
    starts at or below zero) the drawdown is undefined and returned as NaN. Equity that falls
    below zero after a positive peak gives a drawdown below -1.

    Examples
    --------
    >>> drawdown(np.array([100.0, 120.0, 90.0, 120.0, 150.0]))
    array([ 0.  ,  0.  , -0.25,  0.  ,  0.  ])
    """
    eq = as_float_array(equity, "equity")
    if eq.size == 0:
        out = np.empty(0, dtype=np.float64)
    else:
        peak = np.maximum.accumulate(eq)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.divide(eq, peak)
        out -= 1.0
        if not peak[0] > 0.0:
            out[~(peak > 0.0)] = np.nan
    if isinstance(equity, pd.Series):
        return pd.Series(out, index=equity.index, name="drawdown")
    return out


class DrawdownSummary(NamedTuple):
    """Drawdown figures of one equity series (fractions <= 0, durations in bars)."""

    max_drawdown: float | None
    max_duration_bars: int | None
    avg_drawdown: float | None
    n_episodes: int


def drawdown_summary(equity: np.ndarray) -> DrawdownSummary:
    """Max drawdown, longest drawdown duration and mean episode depth of ``equity``.

    Parameters
    ----------
    equity : numpy.ndarray
        Finite float64 equity per bar, quote currency.

    Returns
    -------
    DrawdownSummary
        ``max_drawdown`` = min of :func:`drawdown` (0.0 with no drawdown);
        ``max_duration_bars`` = longest run from a peak bar to the first bar back at the peak
        (or to the last bar if never recovered); ``avg_drawdown`` = mean depth of the episodes
        (None when there is none); ``n_episodes``.

    Notes
    -----
    An episode is a maximal run of bars with equity below the running peak. Bars before the
    running peak first becomes positive are skipped (their drawdown is undefined); when it never
    does, every figure is None. The loop runs in :func:`coinbt.metrics._nb.drawdown_summary_nb`.
    """
    if equity.size == 0:
        return DrawdownSummary(None, None, None, 0)
    start = 0
    if not equity[0] > 0.0:
        positive = equity > 0.0
        if not positive.any():
            return DrawdownSummary(None, None, None, 0)
        start = int(np.argmax(positive))
    max_dd, max_dur, sum_depth, n_episodes = drawdown_summary_nb(equity[start:])
    avg = sum_depth / n_episodes if n_episodes else None
    return DrawdownSummary(float(max_dd), int(max_dur), avg, int(n_episodes))
