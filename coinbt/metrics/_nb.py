"""Numba kernels for the metrics: arrays and scalars in, scalars out.

The public wrappers (``drawdowns.py``, ``returns.py``) validate inputs before calling these;
the kernels assume finite float64 arrays and never raise.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def drawdown_summary_nb(equity):
    """Depth and length of every drawdown episode in one pass.

    Requires ``equity[0] > 0`` (so the running peak is positive) and ``len(equity) >= 1``.
    A bar is under water when its equity is below the running peak; an episode is a maximal
    run of such bars. Inside an episode the peak does not move, so its depth is
    ``min(equity over the episode) / peak - 1``. Its duration runs from the peak bar to the
    first bar back at (or above) the peak, or to the last bar if it never gets back.

    Returns
    -------
    max_drawdown : float
        Smallest episode depth (<= 0); 0.0 when there is no episode.
    max_duration_bars : int
        Longest episode duration in bars; 0 when there is no episode.
    sum_depth : float
        Sum of the episode depths.
    n_episodes : int
        Number of episodes.
    """
    n = equity.shape[0]
    peak = equity[0]
    peak_i = 0
    max_dd = 0.0
    sum_depth = 0.0
    n_episodes = 0
    max_dur = 0
    i = 1
    while i < n:
        e = equity[i]
        if e >= peak:
            peak = e
            peak_i = i
            i += 1
            continue
        # an episode starts at bar i; scan to the first bar back at the peak
        ep_min = e
        i += 1
        while i < n:
            e = equity[i]
            if e >= peak:
                break
            ep_min = min(ep_min, e)
            i += 1
        depth = ep_min / peak - 1.0
        sum_depth += depth
        n_episodes += 1
        max_dd = min(max_dd, depth)
        end = i if i < n else n - 1
        max_dur = max(max_dur, end - peak_i)
    return max_dd, max_dur, sum_depth, n_episodes


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def equity_return_moments_nb(equity, init_cash):
    """Mean, sum of squared deviations and sum of squared negative parts of the per-bar
    returns of ``equity``, in one pass without storing the returns.

    ``r[0] = equity[0] / init_cash - 1``, ``r[t] = equity[t] / equity[t-1] - 1``; the caller
    guarantees positive bases and ``len(equity) >= 1``. The variance uses sums shifted by the
    first return ``K`` (``Σ(r-K)² - (Σ(r-K))²/n``), which is exact for a constant series and
    free of the cancellation of the plain ``Σr² - n·mean²`` formula when returns are close.

    Returns
    -------
    mean : float
    sum_sq_dev : float
        ``sum((r - mean) ** 2)``.
    sum_sq_down : float
        ``sum(min(r, 0) ** 2)``.
    """
    n = equity.shape[0]
    k = equity[0] / init_cash - 1.0
    m0 = min(k, 0.0)
    sum_shift = 0.0
    sum_sq_shift = 0.0
    sum_sq_down = m0 * m0
    for i in range(1, n):
        r = equity[i] / equity[i - 1] - 1.0
        d = r - k
        sum_shift += d
        sum_sq_shift += d * d
        m = min(r, 0.0)
        sum_sq_down += m * m
    mean = k + sum_shift / n
    sum_sq_dev = max(sum_sq_shift - sum_shift * sum_shift / n, 0.0)
    return mean, sum_sq_dev, sum_sq_down
