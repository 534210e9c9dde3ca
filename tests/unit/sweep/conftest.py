"""Real bundled candles shared by the sweep tests."""

from __future__ import annotations

import pandas as pd
import pytest

import coinbt


@pytest.fixture(scope="session")
def btc_bars() -> pd.DataFrame:
    """~2,900 real Binance BTC-USDT 1h bars (bundled with coinbt)."""
    return coinbt.load_bars("BTC-USDT", "1h", "2023-01-01", "2023-04-30", exchange="binance")


@pytest.fixture(scope="session")
def eth_bars() -> pd.DataFrame:
    return coinbt.load_bars("ETH-USDT", "1h", "2023-01-01", "2023-04-30", exchange="binance")
