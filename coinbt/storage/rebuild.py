"""Rebuild a :class:`~coinbt.results.BacktestResult` from its stored artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from coinbt.engine import SimResult
from coinbt.engine.enums import NO_SIGNAL
from coinbt.engine.records import open_position_dt, trade_dt
from coinbt.errors import StorageError
from coinbt.results import BacktestResult, RunSpec


def _bars_at(index: pd.DatetimeIndex, times: pd.Series, run_id: str, table: str) -> np.ndarray:
    pos = index.get_indexer(pd.DatetimeIndex(times))
    if (pos < 0).any():
        raise StorageError(f"run {run_id}: {table} has times that are not bars of equity.parquet")
    return pos.astype(np.int64)


def _side(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame["side"].astype(str).to_numpy() == "short", -1, 1).astype(np.int64)


def rebuild_result(
    spec: dict[str, Any],
    stats: dict[str, Any],
    *,
    trades: pd.DataFrame,
    equity: pd.DataFrame,
    signals: pd.DataFrame,
    positions: pd.DataFrame,
) -> BacktestResult:
    """A result whose ``spec``, ``stats`` and tables are the stored ones.

    ``sim`` is rebuilt from the tables (trade records, open position, equity, entry-signal
    statuses).  ``bars`` holds the bar times with ``close`` known only at signal bars and the
    last bar; open/high/low/volume are NaN, because the candles are not stored (reload them
    from the catalog by ``spec.data_fingerprint`` to plot).
    """
    run_spec = RunSpec.from_dict(spec)
    run_id = run_spec.run_id
    index = pd.DatetimeIndex(equity.index)
    n = len(index)

    records = np.zeros(len(trades), dtype=trade_dt)
    if len(trades):
        records["entry_bar"] = _bars_at(index, trades["entry_time"], run_id, "trades")
        records["exit_bar"] = _bars_at(index, trades["exit_time"], run_id, "trades")
        records["side"] = _side(trades)
        for name in (
            "entry_price",
            "exit_price",
            "quantity",
            "entry_fee",
            "exit_fee",
            "slippage_cost",
            "gross_pnl",
            "net_pnl",
            "return",
            "bars_held",
        ):
            records[name] = trades[name].to_numpy()
        records["exit_reason"] = trades["exit_reason"].cat.codes.to_numpy()

    open_pos = np.zeros(len(positions), dtype=open_position_dt)
    if len(positions):
        open_pos["entry_bar"] = _bars_at(index, positions["entry_time"], run_id, "positions")
        open_pos["side"] = _side(positions)
        for name in ("entry_price", "quantity", "entry_fee", "mark_price", "unrealised_pnl"):
            open_pos[name] = positions[name].to_numpy()
        open_pos["entry_slippage_cost"] = np.nan  # not part of the positions table

    signal_bars = _bars_at(index, signals.index.to_series(), run_id, "signals")
    status = np.full(n, NO_SIGNAL, dtype=np.int8)
    status[signal_bars] = signals["status"].cat.codes.to_numpy()
    close = np.full(n, np.nan)
    close[signal_bars] = signals["price"].to_numpy()
    if len(positions):
        close[-1] = float(positions["mark_price"].iloc[-1])
    confidence = None
    if signals["confidence"].notna().any():
        confidence = np.full(n, np.nan)
        confidence[signal_bars] = signals["confidence"].to_numpy()

    sim = SimResult(
        trades=records,
        open_position=open_pos,
        equity=equity["equity"].to_numpy(dtype=np.float64),
        entry_status=status,
        close=close,
    )
    # cached properties: the stored values, not a recomputation from partial prices
    sim.__dict__["position_value"] = equity["position_value"].to_numpy(dtype=np.float64)
    sim.__dict__["cash"] = equity["cash"].to_numpy(dtype=np.float64)

    block = np.full((5, n), np.nan)  # one consolidated block, no copy: cheap at 1e6 bars
    block[3] = close
    bars = pd.DataFrame(
        block.T, index=index, columns=["open", "high", "low", "close", "volume"], copy=False
    )
    bars.attrs.update(
        symbol=run_spec.symbol,
        timeframe=run_spec.timeframe,
        exchange=run_spec.exchange,
        candles_stored=False,  # BacktestResult.plot() fetches them (reload_bars)
    )
    result = BacktestResult(run_spec, bars, sim, dict(stats), confidence=confidence)
    for name, frame in (
        ("trades", trades),
        ("equity", equity),
        ("signals", signals),
        ("positions", positions),
    ):
        # an empty table comes back from Parquet without its categories; the rebuilt sim
        # gives the same empty frame with the exact dtypes, so let the result build it
        if len(frame) or name == "equity":
            result.__dict__[name] = frame
    return result
