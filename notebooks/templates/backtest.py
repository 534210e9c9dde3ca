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
# # Backtest report
#
# One strategy on one symbol or several (one backtest each): statistics, price with entries
# and exits, equity and drawdown, trades, and what the strategy's signals did afterwards. Run
# it with `coinbt report backtest -p strategy volume_zone_breakout -p symbol BTC-USDT …`
# (`-p symbol '[BTC-USDT, ETH-USDT]'` for several); the runs and this notebook are kept in the
# run registry.

# %% tags=["parameters"]
strategy = "volume_zone_breakout"
symbol = "BTC-USDT"  # or a list of symbols
timeframe = "1h"
exchange = "binance"
start = None
end = None
params = {}
settings = {}
horizons = [1, 4, 24]
max_candles = 3000

# %%
from coinbt.api import execute
from coinbt.reports import backtest_plans, check_namespace, display, report_options
from coinbt.reports.compare import record_backtests

check_namespace(globals(), "backtest")  # a misspelt parameter name fails here
display.use_report_renderer()
options = report_options(horizons, max_candles)
plans = backtest_plans(strategy, symbol, timeframe, start, end, exchange, params, settings)
results = [execute(plan) for plan in plans]
run_id = record_backtests(results)  # the run's id; with several symbols, their group's
for spec in (plan.spec for plan in plans):
    print(f"run {spec.run_id}: {spec.strategy} {spec.symbol} {spec.timeframe}, "
          f"{spec.bars:,} bars {spec.data_start} -> {spec.data_end}")

# %% [markdown]
# ## Statistics

# %%
display.stats_frame(results)

# %% [markdown]
# ## Price, trades, equity and drawdown

# %%
for result in results:
    result.plot(max_candles=options["max_candles"]).show()

# %% [markdown]
# ## Trades

# %%
display.trades_frame(results)

# %% [markdown]
# ## Signal study: returns after each entry signal, per horizon (bars)

# %%
display.study_summary(plans, options["horizons"])
