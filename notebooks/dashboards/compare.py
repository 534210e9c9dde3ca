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
# # Compare runs
#
# Two to five runs side by side. Served by `coinbt dashboard` (docs/dashboards.md); the logic is in
# `coinbt.dashboards`.

# %%
from coinbt.dashboards import view

view("compare")
