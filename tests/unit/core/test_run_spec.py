"""RunSpec: frozen, rejects unknown fields, hashes to a stable run id."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from coinbt.errors import ConfigError
from coinbt.results import RunSpec

BASE = {
    "strategy": "sma_cross",
    "params": {"window": 20, "vol_mult": 0.0},
    "exchange": "binance",
    "symbol": "BTC-USDT",
    "timeframe": "1h",
    "start": "2023-01-01",
    "end": "2023-01-31",
    "data_fingerprint": "abc",
    "data_start": "2023-01-01T00:00:00+00:00",
    "data_end": "2023-01-31T23:00:00+00:00",
    "bars": 744,
    "coinbt_version": "0.1.0",
}


def test_unknown_field_is_rejected_with_suggestion():
    with pytest.raises(ConfigError, match=r"unknown RunSpec field 'symbl'.*Did you mean 'symbol'"):
        RunSpec.from_dict({**BASE, "symbl": "ETH-USDT"})


def test_spec_is_frozen_and_keyword_only():
    spec = RunSpec(**BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.symbol = "ETH-USDT"  # type: ignore[misc]
    with pytest.raises(TypeError):
        RunSpec("sma_cross")  # type: ignore[misc]


def test_engine_settings_are_complete_and_validated():
    spec = RunSpec(**BASE, engine={"fee_rate": 0.0005})
    assert spec.engine["fee_rate"] == 0.0005
    assert spec.engine["fill"] == "next_open"  # defaults filled in, so the hash sees them
    with pytest.raises(ConfigError, match="fee_rate must be a fraction"):
        RunSpec(**BASE, engine={"fee_rate": -0.001})


def test_run_id_is_stable_and_sensitive():
    a = RunSpec(**BASE)
    assert a.run_id == RunSpec.from_dict(a.to_dict()).run_id
    assert len(a.run_id) == 16
    assert RunSpec(**{**BASE, "params": {"window": 21, "vol_mult": 0.0}}).run_id != a.run_id
    assert RunSpec(**BASE, engine={"fill": "close"}).run_id != a.run_id
    assert RunSpec(**{**BASE, "data_fingerprint": "abd"}).run_id != a.run_id


def test_run_id_is_the_same_in_another_process():
    code = (
        "from coinbt.results import RunSpec; import json, sys; "
        "print(RunSpec.from_dict(json.loads(sys.argv[1])).run_id)"
    )
    import json

    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(BASE)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == RunSpec(**BASE).run_id
