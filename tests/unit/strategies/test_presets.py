"""The predecessor's presets resolve to their strategy with its parameters as defaults."""

from __future__ import annotations

import pytest

import coinbt
from coinbt.errors import ConfigError
from coinbt.strategies import get_strategy

EXPECTED = {
    "Conservative": (
        "volume_long_candle",
        {"vol_ma_window": 20, "vol_multiplier": 1.5, "body_pct": 0.01},
    ),
    "Balanced": (
        "volume_zone_breakout",
        {"volume_window": 20, "top_percentile": 0.2, "breakout_buffer": 0.0},
    ),
    "Aggressive": (
        "volume_zone_breakout",
        {"volume_window": 10, "top_percentile": 0.3, "breakout_buffer": 0.0},
    ),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_preset_resolves_to_strategy_and_parameters(name):
    strategy, params = EXPECTED[name]
    s = get_strategy(name)
    assert s.name == strategy
    effective = s.resolve({})
    assert {k: effective[k] for k in params} == params
    assert get_strategy(name.lower()).resolve({}) == effective  # names are case-insensitive


def test_preset_run_equals_the_strategy_run_with_those_params():
    bars = coinbt.load_bars("ETH-KRW", "1h", exchange="upbit")
    a = coinbt.backtest("Balanced", bars=bars)
    b = coinbt.backtest("volume_zone_breakout", bars=bars, params=EXPECTED["Balanced"][1])
    assert a.run_id == b.run_id and a.stats == b.stats
    assert a.spec.strategy == "volume_zone_breakout"


def test_preset_parameters_can_be_overridden():
    s = get_strategy("Aggressive")
    assert s.resolve({"volume_window": 30})["volume_window"] == 30


def test_misspelt_preset_is_suggested():
    with pytest.raises(
        ConfigError,
        match=r"presets: Conservative, Balanced, Aggressive.*"
        r"Did you mean 'Balanced'\?",
    ):
        get_strategy("Balancd")
