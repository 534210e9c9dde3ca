"""Numba kernels for indicators and built-in strategy signals."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def mean_step_nb(new, old, drop_old, nobs, sum_x, neg_ct, comp_add, comp_remove, same, prev):
    """Advance a rolling-mean state by one value (removing ``old`` first when ``drop_old``).

    Compensated (Kahan) running sums with separate add/remove compensation, and a count of
    repeated values: the arithmetic of pandas' ``Series.rolling(window).mean()``, so results
    agree bit for bit and ties such as ``close == SMA`` on flat bars are decided identically.
    """
    if drop_old:
        nobs -= 1
        y = -old - comp_remove
        t = sum_x + y
        comp_remove = t - sum_x - y
        sum_x = t
        if old < 0:
            neg_ct -= 1
    nobs += 1
    y = new - comp_add
    t = sum_x + y
    comp_add = t - sum_x - y
    sum_x = t
    if new < 0:
        neg_ct += 1
    if new == prev:
        same += 1
    else:
        same = 1
    return nobs, sum_x, neg_ct, comp_add, comp_remove, same, new


@njit(cache=True, nogil=True, inline="always")
def mean_value_nb(window, nobs, sum_x, neg_ct, same, prev):
    """The mean of a rolling state (NaN until ``window`` values were seen)."""
    if nobs < window:
        return np.nan
    if same >= nobs:
        return prev  # a window of one repeated value: exactly that value
    result = sum_x / nobs
    if neg_ct == 0 and result < 0:
        return 0.0
    if neg_ct == nobs and result > 0:
        return 0.0
    return result


@njit(cache=True, nogil=True)
def rolling_mean_nb(values, window):
    """Mean of the last ``window`` values including the current one; NaN until full."""
    n = values.shape[0]
    out = np.empty(n)
    nobs, neg_ct, same = 0, 0, 0
    sum_x, comp_add, comp_remove = 0.0, 0.0, 0.0
    prev = values[0] if n else 0.0
    for i in range(n):
        old = values[i - window] if i >= window else 0.0
        nobs, sum_x, neg_ct, comp_add, comp_remove, same, prev = mean_step_nb(
            values[i], old, i >= window, nobs, sum_x, neg_ct, comp_add, comp_remove, same, prev
        )
        out[i] = mean_value_nb(window, nobs, sum_x, neg_ct, same, prev)
    return out


@njit(cache=True, nogil=True)
def sma_cross_signals_nb(close, volume, window, vol_mult):
    """Entries where the close crosses above its SMA (with an optional volume filter).

    Cross above at bar t: ``close[t] > sma[t]`` and ``close[t-1] <= sma[t-1]``; cross below:
    ``close[t] < sma[t]`` and ``close[t-1] >= sma[t-1]``. Both need the SMA at t-1, so the first
    signal can come at bar ``window``. With ``vol_mult > 0`` an entry also needs
    ``volume[t] > vol_mult * SMA(volume, window)[t]``. One pass, no intermediate arrays.
    """
    n = close.shape[0]
    entries = np.zeros(n, dtype=np.bool_)
    exits = np.zeros(n, dtype=np.bool_)
    use_volume = vol_mult > 0.0
    c_nobs, c_neg, c_same = 0, 0, 0
    c_sum, c_add, c_rem = 0.0, 0.0, 0.0
    c_prev = close[0] if n else 0.0
    v_nobs, v_neg, v_same = 0, 0, 0
    v_sum, v_add, v_rem = 0.0, 0.0, 0.0
    v_prev = volume[0] if n else 0.0
    prev_close = 0.0
    prev_sma = np.nan
    for t in range(n):
        drop = t >= window
        c_old = close[t - window] if drop else 0.0
        c_nobs, c_sum, c_neg, c_add, c_rem, c_same, c_prev = mean_step_nb(
            close[t], c_old, drop, c_nobs, c_sum, c_neg, c_add, c_rem, c_same, c_prev
        )
        sma = mean_value_nb(window, c_nobs, c_sum, c_neg, c_same, c_prev)
        if use_volume:
            v_old = volume[t - window] if drop else 0.0
            v_nobs, v_sum, v_neg, v_add, v_rem, v_same, v_prev = mean_step_nb(
                volume[t], v_old, drop, v_nobs, v_sum, v_neg, v_add, v_rem, v_same, v_prev
            )
        c = close[t]
        if drop:  # sma[t-1] exists
            if c > sma and not prev_close > prev_sma:
                # the volume mean is only needed here: computed on demand
                v_sma = mean_value_nb(window, v_nobs, v_sum, v_neg, v_same, v_prev)
                if not use_volume or volume[t] > vol_mult * v_sma:
                    entries[t] = True
            elif c < sma and not prev_close < prev_sma:
                exits[t] = True
        prev_close = c
        prev_sma = sma
    return entries, exits
