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
# # The run registry: record, query, compare, open artifacts
#
# Runs are recorded in the registry (`$COINBT_REGISTRY_URL`: SQLite by default, PostgreSQL to
# share) with their tables and documents as Parquet/JSON artifacts (`$COINBT_ARTIFACTS_URI`: a
# folder, or `s3://bucket/prefix` — MinIO with `$COINBT_S3_ENDPOINT_URL`).

# %%
import coinbt
from coinbt.storage import Registry

reg = Registry()
for window in (20, 50, 100):
    r = coinbt.backtest("sma_cross", "BTC-USDT", "1h", "2023-01-01", "2023-06-30",
                        exchange="binance", params={"window": window}, fee_rate=0.001)
    reg.record(r, tags=["notebook-03"])
reg

# %% [markdown]
# Filter, threshold and sort on the server side (indexes on the metrics):

# %%
runs = reg.runs(strategy="sma_cross", tags="notebook-03", order_by="-sharpe")
runs[["run_id", "params", "total_return", "sharpe", "max_drawdown", "n_trades"]]

# %% [markdown]
# Load a run back: every artifact is checked against its SHA-256 on the way.

# %%
best = reg.load(runs.iloc[0]["run_id"])
best.stats["sharpe"], len(best.trades)

# %%
reg.artifacts(best.run_id)

# %% [markdown]
# Compare the equity of the stored runs:

# %%
import pandas as pd
import plotly.express as px

curves = {row.params["window"]: reg.load(row.run_id).equity["equity"] for row in runs.itertuples()}
px.line(pd.DataFrame(curves).iloc[::6], title="equity by sma window", labels={"value": "equity"})

# %% [markdown]
# With S3: set `COINBT_ARTIFACTS_URI=s3://bucket/prefix` (and `COINBT_S3_ENDPOINT_URL` for
# MinIO) before creating the `Registry`; the same calls read and write there.

# %%
reg.close()
