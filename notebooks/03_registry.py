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
# Compare the stored runs side by side (`coinbt.results.compare`; `coinbt report compare -p runs
# '[id1, id2, id3]'` makes the same comparison as an archived report):

# %%
from coinbt.results import compare

stored = [reg.load(run_id) for run_id in runs["run_id"]]
compare.stats_table(stored).loc[["total_return", "sharpe", "max_drawdown", "n_trades"]]

# %%
compare.highlight_differences(compare.spec_table(stored))

# %%
compare.compare_figure(stored)

# %% [markdown]
# With S3: set `COINBT_ARTIFACTS_URI=s3://bucket/prefix` (and `COINBT_S3_ENDPOINT_URL` for
# MinIO) before creating the `Registry`; the same calls read and write there.

# %%
reg.close()
