"""Shared-computation paths for built-in strategies.

A fast path groups the trials of one symbol that agree on ``group_by``; one kernel call then
computes what those trials share (an SMA, a volume profile) once and runs every member, which
differ only in the ``vary`` parameter. The signals are those of the strategy's own function,
bit for bit (``tests/unit/sweep/test_sweep_equivalence.py`` checks every trial).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from coinbt.strategies import Strategy
from coinbt.strategies.sma_cross import sma_cross
from coinbt.strategies.volume_zone_breakout import volume_zone_breakout
from coinbt.sweeps._nb import sma_cross_group_nb, volume_zone_group_nb

#: ``call(arrays, group_params, vary_values, rows, fs, is_, work, out)``; ``arrays`` are the
#: market's open, high, low, close, volume and ``work`` the thread's entries, exits, equity,
#: status buffers
GroupCall = Callable[..., None]


@dataclass(frozen=True)
class FastPath:
    """How to run a group of trials of one strategy function in one kernel call."""

    params: frozenset[str]
    group_by: tuple[str, ...]
    vary: str
    call: GroupCall


def _sma_cross(
    arrays: tuple[np.ndarray, ...],
    group: dict[str, Any],
    vary: np.ndarray,
    rows: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    work: tuple[np.ndarray, ...],
    out: np.ndarray,
) -> None:
    sma_cross_group_nb(*arrays, int(group["window"]), vary, rows, fs, is_, *work, out)


def _volume_zone(
    arrays: tuple[np.ndarray, ...],
    group: dict[str, Any],
    vary: np.ndarray,
    rows: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    work: tuple[np.ndarray, ...],
    out: np.ndarray,
) -> None:
    volume_zone_group_nb(
        *arrays,
        int(group["volume_window"]),
        float(group["top_percentile"]),
        int(group["num_bins"]),
        bool(group["include_wicks"]),
        vary,
        rows,
        fs,
        is_,
        *work,
        out,
    )


_PATHS: dict[Callable[..., Any], FastPath] = {
    sma_cross: FastPath(frozenset({"window", "vol_mult"}), ("window",), "vol_mult", _sma_cross),
    volume_zone_breakout: FastPath(
        frozenset(
            {"volume_window", "top_percentile", "breakout_buffer", "num_bins", "include_wicks"}
        ),
        ("volume_window", "top_percentile", "num_bins", "include_wicks"),
        "breakout_buffer",
        _volume_zone,
    ),
}


def fast_path(strat: Strategy) -> FastPath | None:
    """The fast path of ``strat``'s signal function, if it has one and ``strat`` declares the
    same parameters (presets qualify; a strategy wrapping the function differently does not).
    """
    path = _PATHS.get(strat.fn)
    if path is None or set(strat.params) != path.params:
        return None
    return path
