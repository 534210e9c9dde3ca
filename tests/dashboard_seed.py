"""Real-data runs for the dashboard tests (state tests and browser tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import coinbt
from coinbt.storage import Registry

END = "2021-09-30"


def seed(root: Path) -> dict[str, Any]:
    """Backtests on two strategies and two symbols (one tagged, one with an open position at
    the end), a 2 x 2 sweep and nothing else, recorded in ``root``."""
    from coinbt.jobs import submit_sweep

    reg = Registry(f"sqlite:///{root / 'registry.db'}", root / "artifacts")
    runs = {
        "vzb_btc": coinbt.backtest(
            "volume_zone_breakout",
            "BTC-USDT",
            "1h",
            end=END,
            exchange="binance",
            params={"volume_window": 30},
            fee_rate=0.0005,
        ),  # fmt: skip
        "vlc_eth": coinbt.backtest(
            "volume_long_candle", "ETH-USDT", "1h", end=END, exchange="binance"
        ),  # fmt: skip
        "vlc_btc": coinbt.backtest(
            "volume_long_candle", "BTC-USDT", "1h", end=END, exchange="binance", fee_rate=0.0005
        ),  # fmt: skip
        "sma_open": coinbt.backtest(
            "sma_cross",
            "ETH-USDT",
            "1h",
            end="2021-05-05",
            exchange="binance",
            params={"window": 50},
        ),  # fmt: skip
    }
    for key, result in runs.items():
        reg.record(result, tags=["seed", key])
    sweep = submit_sweep("volume_zone_breakout", {"volume_window": [10, 30],
                         "top_percentile": [0.1, 0.3]}, "BTC-USDT", "1h", end="2021-06-30",
                         exchange="binance", registry=reg, here=True, progress=False)  # fmt: skip
    reg.close()
    return {"root": root, "runs": runs, "sweep": sweep.id}
