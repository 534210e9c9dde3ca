"""Small builders and the engine-vs-reference comparison used by the engine tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from coinbt.engine.enums import ENTRY_STATUS_NAMES
from coinbt.engine.records import open_position_dt, trade_dt

RTOL = 1e-9


def ohlc(rows: list[tuple[float, float, float, float]]) -> tuple[np.ndarray, ...]:
    """Four float64 arrays from ``(open, high, low, close)`` rows; rejects an invalid bar."""
    a = np.array(rows, dtype=np.float64)
    for t, (o, h, lo, c) in enumerate(a):
        assert lo > 0 and h >= max(o, c) and lo <= min(o, c), f"bad fixture bar {t}: {a[t]}"
    return a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy()


def at(n: int, *bars: int) -> np.ndarray:
    """A boolean signal array of length n, True on ``bars``."""
    a = np.zeros(n, dtype=bool)
    a[list(bars)] = True
    return a


def trade(sim: Any, i: int = 0) -> dict[str, Any]:
    """Trade ``i`` as a plain dict of Python scalars."""
    rec = sim.trades[i]
    return {name: rec[name].item() for name in trade_dt.names}


def status(sim: Any) -> list[int]:
    return [int(x) for x in sim.entry_status]


# ------------------------------------------------------------------------------------------
# engine vs reference


def _close(a: np.ndarray, b: np.ndarray, atol: np.ndarray | float) -> np.ndarray:
    return np.abs(a - b) <= atol + RTOL * np.maximum(np.abs(a), np.abs(b))


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(~mask)[0])


MONEY_FIELDS = ("entry_fee", "exit_fee", "slippage_cost", "gross_pnl", "net_pnl")


def assert_same_result(engine: Any, ref: Any, init_cash: float, label: str = "") -> None:
    """Engine and reference agree: integer fields exactly, floats to 1e-9 relative.

    Money amounts that can be near zero (fees, PnL, cash) use an absolute floor of 1e-9 of the
    trade notional (trades) or of ``init_cash`` (per-bar cash, value, equity).
    """
    where = f" [{label}]" if label else ""
    n = len(ref.equity)
    # entry statuses
    e_status = np.asarray(engine.entry_status)
    assert e_status.dtype == np.int8, f"entry_status dtype {e_status.dtype}{where}"
    assert len(e_status) == n
    if not np.array_equal(e_status, ref.entry_status):
        t = int(np.flatnonzero(e_status != ref.entry_status)[0])
        raise AssertionError(
            f"entry_status differs first at bar {t}: engine {e_status[t]} reference "
            f"{ref.entry_status[t]}{where}"
        )
    for name in ENTRY_STATUS_NAMES:
        assert engine.status_counts.get(name, 0) == ref.status_counts[name], (
            f"status_counts[{name!r}]: engine {engine.status_counts.get(name, 0)} "
            f"reference {ref.status_counts[name]}{where}"
        )
    assert set(engine.status_counts) <= set(ENTRY_STATUS_NAMES), engine.status_counts
    # trades
    et, rt = engine.trades, ref.trades
    assert et.dtype == trade_dt, f"trades dtype {et.dtype}{where}"
    for i in range(min(len(et), len(rt))):
        _assert_same_trade(et[i], rt[i], i, where)
    assert len(et) == len(rt), (
        f"{len(et)} engine trades vs {len(rt)} reference trades{where}; "
        f"first extra: {et[len(rt)] if len(et) > len(rt) else rt[len(et)]}"
    )
    # open position
    eo, ro = engine.open_position, ref.open_position
    assert eo.dtype == open_position_dt, f"open_position dtype {eo.dtype}{where}"
    assert len(eo) == len(ro), f"open position: engine {eo} reference {ro}{where}"
    if len(ro):
        for name in ("entry_bar", "side"):
            assert eo[0][name] == ro[0][name], f"open {name}: {eo[0]} vs {ro[0]}{where}"
        notional = abs(ro[0]["quantity"] * ro[0]["entry_price"])
        for name in open_position_dt.names:
            if name in ("entry_bar", "side"):
                continue
            atol = 1e-9 * notional if name != "mark_price" else 0.0
            assert _close(np.float64(eo[0][name]), np.float64(ro[0][name]), atol), (
                f"open {name}: engine {eo[0][name]!r} reference {ro[0][name]!r}{where}"
            )
    # per-bar accounting
    for name in ("cash", "position_value", "equity"):
        e_arr = np.asarray(getattr(engine, name), dtype=np.float64)
        r_arr = getattr(ref, name)
        assert e_arr.shape == (n,), f"{name} shape {e_arr.shape}{where}"
        ok = _close(e_arr, r_arr, 1e-9 * init_cash)
        if not ok.all():
            t = _first_bad(ok)
            raise AssertionError(
                f"{name} differs first at bar {t}: engine {e_arr[t]!r} reference {r_arr[t]!r}"
                f"{where}"
            )


def _assert_same_trade(e: np.void, r: np.void, i: int, where: str) -> None:
    for name in trade_dt.names:
        if trade_dt[name].kind == "i":
            assert e[name] == r[name], (
                f"trade {i} {name}: engine {e[name]} reference {r[name]}\n"
                f"  engine    {e}\n  reference {r}{where}"
            )
    notional = abs(r["quantity"] * r["entry_price"])
    for name in trade_dt.names:
        if trade_dt[name].kind != "f":
            continue
        atol = 1e-9 * notional if name in MONEY_FIELDS else (1e-9 if name == "return" else 0.0)
        assert _close(np.float64(e[name]), np.float64(r[name]), atol), (
            f"trade {i} {name}: engine {e[name]!r} reference {r[name]!r}\n"
            f"  engine    {e}\n  reference {r}{where}"
        )
