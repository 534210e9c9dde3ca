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
# # Golden notebook: outputs checked in full by nbval
#
# Every code cell carries `# NBVAL_CHECK_OUTPUT`, so `make test` (`--nbval-lax`) compares its
# stored output with a fresh run; `sanitize.cfg` blanks what changes by itself (paths,
# timestamps, plotly ids). A change in a number here is a change in coinbt's results.

# %%
# NBVAL_CHECK_OUTPUT
import coinbt

r = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", "2023-01-01", "2023-03-31",
                    exchange="binance", fee_rate=0.001)
print(r.spec.bars, r.spec.data_start, r.spec.data_end, r.spec.data_fingerprint)

# %%
# NBVAL_CHECK_OUTPUT
{k: round(float(r.stats[k]), 10) for k in ("total_return", "sharpe", "max_drawdown", "win_rate")}

# %%
# NBVAL_CHECK_OUTPUT
r.trades[["entry_time", "exit_time", "entry_price", "exit_price", "net_pnl", "exit_reason"]].head(5)

# %%
# NBVAL_CHECK_OUTPUT
import tempfile

from coinbt.storage import Registry

folder = tempfile.mkdtemp()
reg = Registry(f"sqlite:///{folder}/registry.db", artifacts=f"{folder}/artifacts")
print(reg)
print(reg.load(reg.record(r)).stats == r.stats)

# %%
# NBVAL_CHECK_OUTPUT
fig = r.plot(max_candles=200)
print(type(fig).__name__, [t.type for t in fig.data], len(fig.data[0].x))
