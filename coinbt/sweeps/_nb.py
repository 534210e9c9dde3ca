"""Numba kernels of the sweep: run trials and reduce each to a row of scalars.

Every kernel here calls the engine's own ``simulate_nb`` and the metrics' own
``equity_return_moments_nb`` / ``drawdown_summary_nb``, so a trial's figures are those of a
single ``coinbt.backtest`` run. Buffers (equity, entry status, signals) are allocated by the
caller once per thread and reused across trials: nothing per bar outlives a trial.

Settings travel packed: ``fs`` (float64) holds ``init_cash, fee_rate, slippage (fraction),
size, lot_size, min_notional, stop_loss, take_profit, trailing_stop`` (0 = off) and ``is_``
(int64) holds ``fill_mode, size_type, hold_bars, same_bar_priority, short, close_at_end``.
"""

import numpy as np
from numba import njit

from coinbt.engine._nb import simulate_nb
from coinbt.engine.records import trade_dt
from coinbt.metrics._nb import drawdown_summary_nb, equity_return_moments_nb
from coinbt.strategies._nb import rolling_mean_nb, volume_zone_breakout_nb

# columns of a raw trial row (the wrapper turns them into the headline metrics)
RAW_FINAL = 0  # final equity
RAW_MEAN = 1  # mean per-bar return (NaN when a return base is <= 0)
RAW_SSD = 2  # sum of squared deviations of the returns
RAW_SSDOWN = 3  # sum of squared negative returns
RAW_MAX_DD = 4  # max drawdown (NaN when equity is never positive)
RAW_N_TRADES = 5
RAW_N_WINS = 6
RAW_GAINS = 7  # sum of positive net pnl
RAW_LOSSES = 8  # sum of negative net pnl
RAW_HELD = 9  # bars at whose close a position was open
RAW_N_OPEN = 10
N_RAW = 11


@njit(cache=True, nogil=True)
def summarise_nb(equity, trades, n_trades, open_position, init_cash, row):
    """Reduce one simulation to ``row`` (``N_RAW`` float64 slots), as ``compute_stats`` would."""
    n = equity.shape[0]
    row[RAW_FINAL] = equity[n - 1]
    bases_positive = init_cash > 0.0
    for i in range(n - 1):
        if not equity[i] > 0.0:
            bases_positive = False
            break
    if bases_positive:
        mean, ssd, ssdown = equity_return_moments_nb(equity, init_cash)
        row[RAW_MEAN] = mean
        row[RAW_SSD] = ssd
        row[RAW_SSDOWN] = ssdown
    else:
        row[RAW_MEAN] = np.nan
        row[RAW_SSD] = np.nan
        row[RAW_SSDOWN] = np.nan
    start = -1
    for i in range(n):
        if equity[i] > 0.0:
            start = i
            break
    if start < 0:
        row[RAW_MAX_DD] = np.nan
    else:
        max_dd, _, _, _ = drawdown_summary_nb(equity[start:])
        row[RAW_MAX_DD] = max_dd
    wins = 0
    gains = 0.0
    losses = 0.0
    held = 0
    for k in range(n_trades):
        pnl = trades[k]["net_pnl"]
        if pnl > 0.0:
            wins += 1
            gains += pnl
        elif pnl < 0.0:
            losses += pnl
        held += trades[k]["exit_bar"] - trades[k]["entry_bar"]
    n_open = open_position.shape[0]
    if n_open:
        held += n - open_position[0]["entry_bar"]
    row[RAW_N_TRADES] = n_trades
    row[RAW_N_WINS] = wins
    row[RAW_GAINS] = gains
    row[RAW_LOSSES] = losses
    row[RAW_HELD] = held
    row[RAW_N_OPEN] = n_open


@njit(cache=True, nogil=True)
def run_trial_nb(open_, high, low, close, entries, exits, equity, status, trades, fs, is_, row):
    """Simulate one trial from its signals into ``equity`` and summarise it into ``row``.

    ``trades`` needs room for one record per entry signal.
    """
    n_trades, open_position = simulate_nb(
        open_,
        high,
        low,
        close,
        entries,
        exits,
        equity,
        status,
        trades,
        fs[0],
        is_[0],
        fs[1],
        fs[2],
        is_[1],
        fs[3],
        fs[4],
        fs[5],
        is_[2],
        fs[6],
        fs[7],
        fs[8],
        is_[3],
        is_[4] != 0,
        is_[5] != 0,
    )
    summarise_nb(equity, trades, n_trades, open_position, fs[0], row)


@njit(cache=True, nogil=True)
def sma_cross_group_nb(
    open_,
    high,
    low,
    close,
    volume,
    window,
    vol_mults,
    rows,
    fs,
    is_,
    entries,
    exits,
    equity,
    status,
    out,
):
    """All ``sma_cross`` trials sharing one ``window``: the SMAs and crosses are computed once.

    Decides exactly as ``coinbt.strategies._nb.sma_cross_signals_nb`` (same rolling-mean
    arithmetic, same comparisons), then varies only the volume filter of the cross-ups per
    ``vol_mults[j]`` and writes trial ``j`` into ``out[rows[j]]``.
    """
    n = close.shape[0]
    sma = rolling_mean_nb(close, window)
    use_any_volume = False
    for j in range(vol_mults.shape[0]):
        if vol_mults[j] > 0.0:
            use_any_volume = True
    vsma = rolling_mean_nb(volume, window) if use_any_volume else sma
    entries[:] = False
    exits[:] = False
    ups = np.empty(n, dtype=np.int64)
    n_up = 0
    for t in range(window, n):
        c = close[t]
        if c > sma[t] and not close[t - 1] > sma[t - 1]:
            ups[n_up] = t
            n_up += 1
        elif c < sma[t] and not close[t - 1] < sma[t - 1]:
            exits[t] = True
    trades = np.empty(n_up, dtype=trade_dt)
    for j in range(vol_mults.shape[0]):
        vm = vol_mults[j]
        use_volume = vm > 0.0
        for k in range(n_up):
            t = ups[k]
            entries[t] = not use_volume or volume[t] > vm * vsma[t]
        run_trial_nb(
            open_, high, low, close, entries, exits, equity, status, trades, fs, is_, out[rows[j]]
        )


@njit(cache=True, nogil=True)
def volume_zone_group_nb(
    open_,
    high,
    low,
    close,
    volume,
    volume_window,
    top_percentile,
    num_bins,
    include_wicks,
    buffers,
    rows,
    fs,
    is_,
    entries,
    exits,
    equity,
    status,
    out,
):
    """All ``volume_zone_breakout`` trials that differ only in ``breakout_buffer``.

    The volume profile and its resistance come from the strategy's own kernel, once; each
    trial's entries are then ``high >= resistance * (1 + breakout_buffer)``, the kernel's own
    comparison (a bar without resistance never enters). Exits are all False: ``hold_bars``
    closes positions.
    """
    n = close.shape[0]
    _, _, resistance = volume_zone_breakout_nb(
        open_,
        high,
        low,
        close,
        volume,
        volume_window,
        top_percentile,
        0.0,
        num_bins,
        include_wicks,
    )
    exits[:] = False
    most = 0
    for j in range(buffers.shape[0]):
        one_plus_buffer = 1.0 + buffers[j]
        count = 0
        for i in range(n):
            if high[i] >= resistance[i] * one_plus_buffer:
                count += 1
        most = max(most, count)
    trades = np.empty(most, dtype=trade_dt)
    for j in range(buffers.shape[0]):
        one_plus_buffer = 1.0 + buffers[j]
        for i in range(n):
            entries[i] = high[i] >= resistance[i] * one_plus_buffer
        run_trial_nb(
            open_, high, low, close, entries, exits, equity, status, trades, fs, is_, out[rows[j]]
        )
