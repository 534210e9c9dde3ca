"""Numba kernels for indicators and built-in strategy signals."""

import numpy as np
from numba import njit, prange


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


@njit(cache=True, nogil=True)
def volume_long_candle_nb(open_, high, low, close, volume, vol_ma_window, vol_multiplier, body_pct):
    """Entries and confidence of ``volume_long_candle`` (rules in ``docs/strategies.md``).

    ``vol_ma[t]`` is the mean volume of the ``vol_ma_window`` bars ending at t (including t),
    with pandas' rolling-mean arithmetic; no decision before it exists. Entry at t when
    ``volume[t] > 0``, ``volume[t] >= vol_ma[t] * vol_multiplier`` and the bar is a long bullish
    candle: ``(close-open)/open >= body_pct``, ``max(high-close, 0)/open < body_pct*2``,
    ``max(open-low, 0)/open < body_pct*2`` and ``close > open``. Confidence on an entry:
    ``0.5 * (1 - vol_ma*vol_multiplier/volume) + 0.5 * clip((close-open)/(high-low), 0, 1)``;
    NaN elsewhere.
    """
    n = close.shape[0]
    entries = np.zeros(n, dtype=np.bool_)
    confidence = np.full(n, np.nan)
    wick_limit = body_pct * 2
    nobs, neg_ct, same = 0, 0, 0
    sum_x, comp_add, comp_remove = 0.0, 0.0, 0.0
    prev = volume[0] if n else 0.0
    for t in range(n):
        drop = t >= vol_ma_window
        old = volume[t - vol_ma_window] if drop else 0.0
        nobs, sum_x, neg_ct, comp_add, comp_remove, same, prev = mean_step_nb(
            volume[t], old, drop, nobs, sum_x, neg_ct, comp_add, comp_remove, same, prev
        )
        if t + 1 < vol_ma_window:
            continue
        o = open_[t]
        c = close[t]
        if not c > o:
            continue
        v = volume[t]
        if not v > 0.0:
            continue
        vol_ma = mean_value_nb(vol_ma_window, nobs, sum_x, neg_ct, same, prev)
        threshold = vol_ma * vol_multiplier
        if not v >= threshold:
            continue
        if not (c - o) / o >= body_pct:
            continue
        upper = high[t] - c
        if upper < 0.0:
            upper = 0.0
        if not upper / o < wick_limit:
            continue
        lower = o - low[t]
        if lower < 0.0:
            lower = 0.0
        if not lower / o < wick_limit:
            continue
        entries[t] = True
        body_share = (c - o) / (high[t] - low[t])
        if body_share > 1.0:
            body_share = 1.0
        elif not body_share >= 0.0:
            body_share = 0.0
        confidence[t] = 0.5 * (1.0 - threshold / v) + 0.5 * body_share
    return entries, confidence


@njit(cache=True, nogil=True, inline="always")
def _profile_bin_nb(edges, num_bins, x, guess):
    """The largest bin j in [0, num_bins-1] with ``edges[j] <= x`` (edges non-decreasing).

    ``guess`` is only a starting point; the answer comes from comparisons with ``edges``.
    """
    j = guess
    if j < 0:
        j = 0
    elif j > num_bins - 1:
        j = num_bins - 1
    while j < num_bins - 1 and edges[j + 1] <= x:
        j += 1
    while j > 0 and edges[j] > x:
        j -= 1
    return j


@njit(cache=True, nogil=True)
def volume_spans_nb(open_, high, low, close, volume, include_wicks):
    """Each candle's price span ``[lo, hi]`` and volume density ``volume / (hi - lo)``."""
    n = high.shape[0]
    if include_wicks:
        span_lo = low
        span_hi = high
    else:
        span_lo = np.empty(n)
        span_hi = np.empty(n)
        for k in range(n):
            span_lo[k] = min(open_[k], close[k])
            span_hi[k] = max(open_[k], close[k])
    density = np.empty(n)
    for k in range(n):
        h = span_hi[k] - span_lo[k]
        density[k] = volume[k] / h if h > 0.0 else 0.0
    return span_lo, span_hi, density


@njit(cache=True, nogil=True)
def volume_zone_range_nb(
    span_lo,
    span_hi,
    density,
    high,
    volume,
    w,
    top_percentile,
    breakout_buffer,
    nb,
    first,
    stop,
    entries,
    confidence,
    resistance,
):
    """Bars ``first … stop-1`` of :func:`volume_zone_breakout_nb`, with their own scratch
    buffers, so disjoint ranges can run on different threads."""
    edges = np.empty(nb + 1)
    bins = np.empty(nb)
    from_top = np.empty(nb)
    one_plus_buffer = 1.0 + breakout_buffer
    for i in range(first, stop):
        start = i - w
        pmin = span_lo[start]
        pmax = span_hi[start]
        for k in range(start + 1, i):
            pmin = min(pmin, span_lo[k])
            pmax = max(pmax, span_hi[k])
        if not pmin < pmax:
            continue  # flat window: no profile, no resistance
        price_range = pmax - pmin
        width = price_range / nb
        for j in range(nb):
            edges[j] = j * width + pmin
            bins[j] = 0.0
        edges[nb] = pmax
        for k in range(start, i):
            lo = span_lo[k]
            hi = span_hi[k]
            if hi > lo:
                de = density[k]
                for j in range(nb):
                    overlap = min(hi, edges[j + 1]) - max(lo, edges[j])
                    bins[j] += overlap * de if overlap > 0.0 else 0.0
            elif hi == lo:
                guess = int((lo - pmin) * (nb / price_range))
                bins[_profile_bin_nb(edges, nb, lo, guess)] += volume[k]
        cum = 0.0
        for j in range(nb - 1, -1, -1):
            cum += bins[j]
            from_top[j] = cum
        if cum == 0.0:
            continue  # no volume in the window: no resistance
        threshold = cum * top_percentile
        j = nb - 1
        while j >= 0 and not from_top[j] >= threshold:
            j -= 1
        if j >= 0:
            res = edges[j]
        else:  # never reached (impossible for top_percentile <= 1): the window's high
            res = high[start]
            for k in range(start + 1, i):
                res = max(res, high[k])
        resistance[i] = res
        level = res * one_plus_buffer
        if high[i] >= level:
            entries[i] = True
            confidence[i] = 0.5 + 0.5 * min((high[i] - level) / price_range, 1.0)


@njit(cache=True, nogil=True)
def volume_zone_breakout_nb(
    open_,
    high,
    low,
    close,
    volume,
    volume_window,
    top_percentile,
    breakout_buffer,
    num_bins,
    include_wicks,
):
    """Entries, confidence and resistance of ``volume_zone_breakout`` (``docs/strategies.md``).

    For each bar i >= w (``volume_window``) the volume profile of bars i-w … i-1 is rebuilt
    from scratch, so every bar sees exactly its own window's profile:

    * candle span ``[lo, hi]`` = ``[low, high]`` (``include_wicks``) or
      ``[min(open, close), max(open, close)]``; profile range ``[pmin, pmax]`` = lowest span low,
      highest span high; ``pmin == pmax`` → no resistance;
    * ``edges[j] = j*width + pmin`` with ``width = (pmax-pmin)/num_bins``, ``edges[nb] = pmax``
      (``numpy.linspace``'s arithmetic);
    * a candle with ``hi > lo`` adds ``(min(hi, e[j+1]) - max(lo, e[j])) * (volume/(hi-lo))`` to
      every bin where that overlap is positive; a candle with ``hi == lo`` adds its volume to
      the largest bin j with ``e[j] <= lo``; candles in window order;
    * running sums of the bins from the top bin down; ``total`` is the last one (0 → no
      resistance); resistance = lower edge of the first bin, from the top, whose running sum
      is ``>= total * top_percentile``;
    * entry when ``high[i] >= resistance * (1 + breakout_buffer)``; confidence
      ``0.5 + 0.5 * min((high[i] - level) / (pmax - pmin), 1)``.

    Cost O(n·w·num_bins) with buffers allocated once. Every candle visits every bin with a
    branch-free, SIMD-friendly body (a non-overlapping bin receives exactly +0.0), which is ~3×
    faster than visiting only the overlapped bins: the data-dependent trip counts of the
    latter mispredict a branch per candle. The per-candle density ``volume/(hi-lo)`` is
    computed once per bar of input rather than once per window.
    """
    n = high.shape[0]
    w = volume_window
    nb = num_bins
    entries = np.zeros(n, dtype=np.bool_)
    confidence = np.full(n, np.nan)
    resistance = np.full(n, np.nan)
    span_lo, span_hi, density = volume_spans_nb(open_, high, low, close, volume, include_wicks)
    volume_zone_range_nb(
        span_lo,
        span_hi,
        density,
        high,
        volume,
        w,
        top_percentile,
        breakout_buffer,
        nb,
        w,
        n,
        entries,
        confidence,
        resistance,
    )
    return entries, confidence, resistance


@njit(cache=True, nogil=True, parallel=True)
def volume_zone_breakout_par_nb(
    open_,
    high,
    low,
    close,
    volume,
    volume_window,
    top_percentile,
    breakout_buffer,
    num_bins,
    include_wicks,
    chunks,
):
    """:func:`volume_zone_breakout_nb` with the bars split into ``chunks`` ranges run in
    parallel (every bar's window is rebuilt from scratch, so the results are identical)."""
    n = high.shape[0]
    w = volume_window
    entries = np.zeros(n, dtype=np.bool_)
    confidence = np.full(n, np.nan)
    resistance = np.full(n, np.nan)
    span_lo, span_hi, density = volume_spans_nb(open_, high, low, close, volume, include_wicks)
    per = (max(n - w, 0) + chunks - 1) // chunks
    for c in prange(chunks):
        first = w + c * per
        stop = min(first + per, n)
        if first < stop:
            volume_zone_range_nb(
                span_lo,
                span_hi,
                density,
                high,
                volume,
                w,
                top_percentile,
                breakout_buffer,
                num_bins,
                first,
                stop,
                entries,
                confidence,
                resistance,
            )
    return entries, confidence, resistance
