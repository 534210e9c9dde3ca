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
# # Quickstart: candles, a backtest, its trades
#
# Real Binance candles ship with coinbt, so this runs anywhere. Fills are at the next bar's
# open, fees are charged on both sides, and every run has a stable id.

# %%
import coinbt

bars = coinbt.load_bars("BTC-USDT", "1h", "2023-01-01", "2023-06-30", exchange="binance")
bars.tail()

# %% [markdown]
# What the loader checked (gaps, duplicates, OHLC consistency) travels with the frame:

# %%
bars.attrs["validation"]["errors"], len(bars.attrs["validation"]["warnings"])

# %%
r = coinbt.backtest("sma_cross", bars=bars, params={"window": 50, "vol_mult": 1.5},
                    fee_rate=0.001, slippage_bps=2, stop_loss=0.05)
r

# %%
{k: r.stats[k] for k in ("total_return", "sharpe", "max_drawdown", "n_trades", "win_rate")}

# %% [markdown]
# Candles with entries and exits, equity and drawdown on one time axis:

# %%
r.plot()

# %% [markdown]
# One row per closed position: prices, quantity, fees, slippage, net PnL, bars held, exit reason.

# %%
r.trades.head(10)

# %%
r.trades["exit_reason"].value_counts()

# %% [markdown]
# The spec is the run's identity: same spec, same run id, same numbers.

# %%
r.spec.run_id == coinbt.backtest("sma_cross", bars=bars, params={"window": 50, "vol_mult": 1.5},
                                 fee_rate=0.001, slippage_bps=2, stop_loss=0.05).run_id
