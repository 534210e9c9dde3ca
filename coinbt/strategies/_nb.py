"""Numba kernels for indicators and built-in strategy signals."""

import numpy as np
from numba import njit


@njit(cache=True)
def rolling_mean_nb(values, window):
    """Mean of the last ``window`` values including the current one; NaN until full.

    Compensated (Kahan) running sums, removal before addition, and the exact value when the
    whole window holds one repeated value: the same arithmetic as ``pandas.Series.rolling(window)
    .mean()``, so results agree bit for bit and ties such as ``close == SMA`` on flat bars are
    decided identically.
    """
    n = values.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    nobs = 0
    sum_x = 0.0
    neg_ct = 0
    comp_add = 0.0
    comp_remove = 0.0
    same_count = 0
    prev_value = values[0]
    for i in range(n):
        if i >= window:
            val = values[i - window]
            nobs -= 1
            y = -val - comp_remove
            t = sum_x + y
            comp_remove = t - sum_x - y
            sum_x = t
            if val < 0:
                neg_ct -= 1
        val = values[i]
        nobs += 1
        y = val - comp_add
        t = sum_x + y
        comp_add = t - sum_x - y
        sum_x = t
        if val < 0:
            neg_ct += 1
        if val == prev_value:
            same_count += 1
        else:
            same_count = 1
        prev_value = val
        if nobs >= window:
            result = sum_x / nobs
            if same_count >= nobs:
                result = prev_value
            elif neg_ct == 0 and result < 0 or neg_ct == nobs and result > 0:
                result = 0.0
            out[i] = result
    return out


@njit(cache=True)
def sma_cross_signals_nb(close, volume, window, vol_mult):
    """Entries where the close crosses above its SMA (with an optional volume filter).

    Cross above at bar t: ``close[t] > sma[t]`` and ``close[t-1] <= sma[t-1]``; cross below:
    ``close[t] < sma[t]`` and ``close[t-1] >= sma[t-1]``. Both need the SMA at t-1, so the first
    signal can come at bar ``window``. With ``vol_mult > 0`` an entry also needs
    ``volume[t] > vol_mult * SMA(volume, window)[t]``.
    """
    n = close.shape[0]
    sma = rolling_mean_nb(close, window)
    use_volume = vol_mult > 0.0
    if use_volume:
        vol_sma = rolling_mean_nb(volume, window)
    else:
        vol_sma = sma  # unused
    entries = np.zeros(n, dtype=np.bool_)
    exits = np.zeros(n, dtype=np.bool_)
    for t in range(window, n):
        prev_above = close[t - 1] > sma[t - 1]
        prev_below = close[t - 1] < sma[t - 1]
        if close[t] > sma[t] and not prev_above:
            if not use_volume or volume[t] > vol_mult * vol_sma[t]:
                entries[t] = True
        elif close[t] < sma[t] and not prev_below:
            exits[t] = True
    return entries, exits
