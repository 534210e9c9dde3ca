"""``plan_backtest`` knows the run id before simulating; ``run_spec`` re-runs a spec exactly."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import coinbt
from coinbt.api import plan_backtest, run_spec
from coinbt.errors import ConfigError, DataError

ARGS = ("sma_cross", "BTC-USDT", "1h")
KW = {"exchange": "binance", "start": "2021-05-01", "end": "2021-08-31", "params": {"window": 12}}


def test_plan_has_the_run_id_of_the_backtest() -> None:
    plan = plan_backtest(*ARGS, **KW, fee_rate=0.001)
    result = coinbt.backtest(*ARGS, **KW, fee_rate=0.001)
    assert plan.spec == result.spec
    assert plan.spec.run_id == result.run_id


def test_run_spec_repeats_the_backtest_exactly() -> None:
    result = coinbt.backtest(*ARGS, **KW, stop_loss=0.02)
    again = run_spec(coinbt.RunSpec.from_dict(result.spec.to_dict()))  # as a worker gets it
    assert again.run_id == result.run_id
    assert again.stats == result.stats
    pd.testing.assert_frame_equal(again.trades, result.trades)
    pd.testing.assert_frame_equal(again.equity, result.equity)


def test_run_spec_refuses_other_data_or_other_code() -> None:
    spec = plan_backtest(*ARGS, **KW).spec
    with pytest.raises(DataError, match=r"hash to \w{16}, the run was planned on 0{16}"):
        run_spec(dataclasses.replace(spec, data_fingerprint="0" * 16))
    with pytest.raises(
        ConfigError, match="code hash here is built-in, the run was planned with f00"
    ):
        run_spec(dataclasses.replace(spec, strategy_code="f00"))
