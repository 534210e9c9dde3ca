# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A strategy of your own: write it, sweep it, study its signals
#
# A strategy is a function of the bars (and its parameters) returning entry and exit signals,
# decided with data up to each bar; the engine fills them at the next bar's open.

# %%
import numpy as np
import pandas as pd

import coinbt


@coinbt.strategy(params={"lookback": coinbt.Param(int, 24, min=2, max=500),
                         "drop": coinbt.Param(float, 0.03, min=0.001, max=0.5)})
def dip_buyer(bars: pd.DataFrame, lookback: int = 24, drop: float = 0.03):
    """Buy when the close is `drop` below its `lookback`-bar high; hold 12 bars."""
    high = bars["close"].rolling(lookback, min_periods=lookback).max()
    entries = (bars["close"] <= high * (1 - drop)).to_numpy()
    exits = np.zeros(len(bars), dtype=bool)
    return entries, exits


bars = coinbt.load_bars("ETH-USDT", "1h", "2022-01-01", "2022-12-31", exchange="binance")
r = coinbt.backtest(dip_buyer, bars=bars, fee_rate=0.001, hold_bars=12)
{k: r.stats[k] for k in ("total_return", "sharpe", "max_drawdown", "n_trades")}

# %% [markdown]
# A misspelt parameter is an error that says what exists:

# %%
try:
    coinbt.backtest(dip_buyer, bars=bars, params={"lookbak": 10})
except coinbt.ConfigError as exc:
    print(exc)

# %% [markdown]
# ## Sweep
# Every trial is a full backtest; the best one comes with the number of trials it was picked
# from and its deflated Sharpe ratio (how much of it survives having tried that many).

# %%
sweep = coinbt.sweep(dip_buyer, {"lookback": [12, 24, 48, 96], "drop": [0.02, 0.03, 0.05, 0.08]},
                     bars=bars, fee_rate=0.001, hold_bars=12, progress=False)
sweep.top(5)

# %%
sweep.deflated_sharpe()

# %%
sweep.heatmap("lookback", "drop", metric="sharpe")

# %% [markdown]
# ## What happened after each signal
# Forward returns per horizon (bars), net of fees, at the next bar's open.

# %%
study = coinbt.signal_study(dip_buyer, bars=bars, params={"lookback": 24, "drop": 0.05},
                            horizons=(1, 6, 24), fee_rate=0.001)
study.summary
