"""Structured dtypes written by the kernel."""

from __future__ import annotations

import numpy as np

trade_dt = np.dtype(
    [
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("side", np.int64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("quantity", np.float64),
        ("entry_fee", np.float64),
        ("exit_fee", np.float64),
        ("slippage_cost", np.float64),
        ("gross_pnl", np.float64),
        ("net_pnl", np.float64),
        ("return", np.float64),
        ("bars_held", np.int64),
        ("exit_reason", np.int64),
    ],
    align=True,
)

open_position_dt = np.dtype(
    [
        ("entry_bar", np.int64),
        ("side", np.int64),
        ("entry_price", np.float64),
        ("quantity", np.float64),
        ("entry_fee", np.float64),
        ("entry_slippage_cost", np.float64),
        ("mark_price", np.float64),
        ("unrealised_pnl", np.float64),
    ],
    align=True,
)
