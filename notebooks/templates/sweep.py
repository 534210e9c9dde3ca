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
# # Sweep report
#
# A grid or random search of one strategy on one market: how many trials, the best one and
# whether it survives the deflated Sharpe ratio, heatmaps over parameter pairs, the top trials,
# and their equity against buy-and-hold. Run it with
# `coinbt report sweep -p strategy volume_zone_breakout -p grid '{volume_window: [10, 20, 40]}' …`;
# the sweep, every trial and this notebook are kept in the run registry.

# %% tags=["parameters"]
strategy = "volume_zone_breakout"
symbol = "BTC-USDT"
timeframe = "1h"
exchange = "binance"
start = None
end = None
grid = {"volume_window": [10, 20, 40], "top_percentile": [0.1, 0.2, 0.3]}
random = None
seed = None
settings = {}
metric = "sharpe"
top = 10
equity_top = 3
heatmaps = None

# %%
from coinbt.reports import check_namespace, display
from coinbt.reports.sweep import (
    heatmap_pairs,
    run_sweep,
    summary_frame,
    sweep_options,
    top_equity_figure,
)

check_namespace(globals(), "sweep")  # a misspelt parameter name fails here
display.use_report_renderer()
options = sweep_options(metric, top, equity_top, heatmaps)
sweep = run_sweep(strategy=strategy, symbol=symbol, timeframe=timeframe, start=start, end=end,
                  exchange=exchange, grid=grid, random=random, seed=seed, settings=settings)
result = sweep.sweep_result(options["metric"])
run_id = sweep.id
base = sweep.definition["base_spec"]
print(f"sweep {run_id}: {base['strategy']} {base['symbol']} {base['timeframe']}, "
      f"{sweep.n_trials:,} trials on {base['bars']:,} bars {base['data_start']} -> {base['data_end']}")

# %% [markdown]
# ## Summary: trials, the best trial and its deflated Sharpe ratio

# %%
summary_frame(result, options["metric"])

# %% [markdown]
# ## Heatmaps over parameter pairs (mean over the other parameters)

# %%
for x, y in heatmap_pairs(result, options["heatmaps"]):
    result.heatmap(x, y, options["metric"]).show()

# %% [markdown]
# ## Top trials

# %%
result.top(options["top"], options["metric"])

# %% [markdown]
# ## Equity of the top trials against buy-and-hold

# %%
if options["equity_top"]:
    top_equity_figure(sweep, result, options["metric"], options["equity_top"]).show()
