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
# One strategy on one symbol: statistics, price with entries and exits, equity and drawdown,
# trades, and what the strategy's signals did afterwards. Run it with
# `coinbt report backtest -p strategy volume_zone_breakout -p symbol BTC-USDT …`; the run and
# this notebook are kept in the run registry.

# %% tags=["parameters"]
strategy = "volume_zone_breakout"
symbol = "BTC-USDT"
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
from coinbt.reports import backtest_plan, check_namespace, display, report_options

check_namespace(globals(), "backtest")  # a misspelt parameter name fails here
display.use_report_renderer()
options = report_options(horizons, max_candles)
plan = backtest_plan(strategy, symbol, timeframe, start, end, exchange, params, settings)
result = execute(plan)
run_id = result.save()
print(f"run {run_id}: {plan.spec.strategy} {plan.spec.symbol} {plan.spec.timeframe}, "
      f"{plan.spec.bars:,} bars {plan.spec.data_start} -> {plan.spec.data_end}")

# %% [markdown]
# ## Statistics

# %%
display.stats_frame(result)

# %% [markdown]
# ## Price, trades, equity and drawdown

# %%
result.plot(max_candles=options["max_candles"]).show()

# %% [markdown]
# ## Trades

# %%
display.trades_frame(result)

# %% [markdown]
# ## Signal study: returns after each entry signal, per horizon (bars)

# %%
display.study_summary(plan, options["horizons"])
