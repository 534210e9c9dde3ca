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
# # Comparison report
#
# Two or more stored runs side by side: headline statistics, what differs in their
# specifications, equity curves overlaid and drawdowns. Run it with
# `coinbt report compare -p runs '[3f9a2c1d, 7be01f44]'` (run ids or unique prefixes from
# `coinbt runs list`; without `runs`, the two latest backtests); the comparison and this
# notebook are kept in the run registry.

# %% tags=["parameters"]
runs = None  # run ids or unique prefixes; None: the two latest backtests
normalise = True

# %%
from coinbt.reports import check_namespace, display
from coinbt.reports.compare import compare_runs
from coinbt.results import compare

check_namespace(globals(), "compare")  # a misspelt parameter name fails here
display.use_report_renderer()
comparison = compare_runs(runs)
run_id = comparison.run_id
results = comparison.results
print(f"comparison {run_id}: {len(results)} runs")

# %% [markdown]
# ## Statistics

# %%
compare.stats_table(results)

# %% [markdown]
# ## Specifications (rows that differ are highlighted)

# %%
compare.highlight_differences(compare.spec_table(results))

# %% [markdown]
# ## Equity and drawdown

# %%
compare.compare_figure(results, normalise=bool(normalise)).show()
