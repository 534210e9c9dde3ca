"""Declared parameters, user strategies and the messages of parameter mistakes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coinbt.errors import ConfigError
from coinbt.strategies import Param, get_strategy, strategy


def test_defaults_are_merged_into_effective_params():
    assert get_strategy("sma_cross").resolve({"window": 30}) == {"window": 30, "vol_mult": 0.0}


def test_unknown_parameter_suggests_the_close_name():
    with pytest.raises(
        ConfigError,
        match=r"unknown parameter 'windw' for strategy 'sma_cross'.*"
        r"Did you mean 'window'\?",
    ):
        get_strategy("sma_cross").resolve({"windw": 30})


def test_wrong_type_names_value_and_expected_type():
    with pytest.raises(
        ConfigError,
        match=r"parameter 'window' of strategy 'sma_cross' must be "
        r"int, got '20' \(str\)",
    ):
        get_strategy("sma_cross").resolve({"window": "20"})


def test_bool_is_not_an_int():
    with pytest.raises(ConfigError, match="must be int, got True"):
        get_strategy("sma_cross").resolve({"window": True})


def test_out_of_range_names_the_bound():
    with pytest.raises(ConfigError, match=r"'window' of strategy 'sma_cross' must be ≥ 2, got 1"):
        get_strategy("sma_cross").resolve({"window": 1})


def test_integral_float_and_numpy_scalars_are_accepted():
    s = get_strategy("sma_cross")
    assert s.resolve({"window": 30.0, "vol_mult": np.float32(1.5)}) == {
        "window": 30,
        "vol_mult": 1.5,
    }


def test_command_line_strings_are_parsed_by_declared_type():
    s = get_strategy("sma_cross")
    assert s.parse(["window=50", "vol_mult=1.5"]) == {"window": 50, "vol_mult": 1.5}
    with pytest.raises(ConfigError, match=r"'window' of strategy 'sma_cross' must be int, got 'x'"):
        s.parse(["window=x"])
    with pytest.raises(ConfigError, match="--param expects key=value"):
        s.parse(["window"])


def test_unknown_strategy_lists_the_available_ones():
    with pytest.raises(
        ConfigError,
        match=r"unknown strategy 'sma_cros'; available: .*sma_cross.*"
        r"Did you mean 'sma_cross'\?",
    ):
        get_strategy("sma_cros")


def test_plain_function_declares_params_from_its_defaults():
    def breakout(bars, window: int = 10, k: float = 1.0):
        return bars["close"] > bars["close"].rolling(window).max().shift(1) * k

    s = get_strategy(breakout)
    assert s.name == "breakout"
    assert s.resolve({}) == {"window": 10, "k": 1.0}
    assert s.code_hash and len(s.code_hash) == 16


def test_function_without_defaults_is_rejected():
    def rule(bars, window):
        return bars["close"] > 0

    with pytest.raises(
        ConfigError, match="parameter 'window' of strategy function 'rule' has no default"
    ):
        get_strategy(rule)


def test_decorator_refines_ranges_and_registers():
    @strategy(name="test_decorated_rule", params={"window": Param(int, 5, min=3)})
    def rule(bars, window=5):
        return bars["close"] > bars["close"].shift(window)

    assert get_strategy("test_decorated_rule") is rule
    with pytest.raises(ConfigError, match="must be ≥ 3, got 2"):
        rule.resolve({"window": 2})


def test_builtin_name_cannot_be_taken():
    with pytest.raises(ConfigError, match="taken by a built-in"):
        strategy(lambda bars: bars["close"] > 0, name="sma_cross")


def bars(n: int = 6) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    c = np.arange(1.0, n + 1)
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": c}, index=idx)


def test_signals_of_wrong_length_are_rejected():
    s = get_strategy(lambda b: np.zeros(3, dtype=bool))
    with pytest.raises(ConfigError, match=r"returned entries of shape \(3,\); expected \(6,\)"):
        s.signals(bars(), {})


def test_signals_with_nan_are_rejected():
    s = get_strategy(lambda b: b["close"].where(b["close"] > 3))
    with pytest.raises(ConfigError, match="expected booleans"):
        s.signals(bars(), {})


def returning(out):
    def rule(bars):
        return out

    return rule


def test_signal_shapes_accepted():
    b = bars()
    up = b["close"] > 3
    for out in (
        up,
        (up, None),
        (up, ~up),
        pd.DataFrame({"entries": up, "exits": ~up}),
        up.astype(int),
    ):
        e, x, conf = get_strategy(returning(out)).signals(b, {})
        assert e.tolist() == [False, False, False, True, True, True]
        assert x.dtype == np.bool_
        assert conf is None


def test_confidence_is_carried_and_checked():
    b = bars()
    up = b["close"] > 3
    conf = (b["close"] / 10).to_numpy()
    sig = get_strategy(returning((up, ~up, conf))).signals(b, {})
    assert sig.confidence.tolist() == conf.tolist()
    framed = pd.DataFrame({"entries": up, "exits": ~up, "confidence": conf})
    assert get_strategy(returning(framed)).signals(b, {}).confidence.tolist() == conf.tolist()
    with pytest.raises(
        ConfigError,
        match=r"returned confidence 1.2000000000000002 on an entry; expected a number "
        r"in \[0, 1\]",
    ):
        get_strategy(returning((up, ~up, conf * 3))).signals(b, {})
    with pytest.raises(ConfigError, match=r"tuple of 4 items"):
        get_strategy(returning((up, ~up, conf, conf))).signals(b, {})


STRATEGY_FILE = """
import coinbt

def dip(bars, drop: float = 0.01):
    return bars["close"].pct_change() < -drop

@coinbt.strategy(params={"k": coinbt.Param(int, 3, min=1)}, settings={"hold_bars": 2},
                 register=False)
def every_kth(bars, k=3):
    import numpy as np
    return np.arange(len(bars)) % k == 0
"""


def test_module_function_path_resolves_a_strategy_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "my_rules.py").write_text(STRATEGY_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    plain = get_strategy("my_rules:dip")
    assert plain.name == "dip" and plain.resolve({}) == {"drop": 0.01}
    decorated = get_strategy("my_rules:every_kth")
    assert decorated.settings == {"hold_bars": 2}
    with pytest.raises(
        ConfigError,
        match=r"module 'my_rules' has no strategy function 'dipp'\. "
        r"Did you mean 'dip'\?",
    ):
        get_strategy("my_rules:dipp")
    with pytest.raises(ConfigError, match=r"cannot import module 'no_such_rules'"):
        get_strategy("no_such_rules:dip")


def test_cli_backtest_runs_a_strategy_from_a_file(tmp_path, monkeypatch, capsys):
    from coinbt.cli.main import main

    (tmp_path / "my_rules2.py").write_text(STRATEGY_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(
        [
            "backtest",
            "--strategy",
            "my_rules2:every_kth",
            "--symbol",
            "BTC-USDT",
            "--timeframe",
            "1h",
            "--exchange",
            "binance",
            "--end",
            "2021-05-31",
            "--param",
            "k=5",
            "--json",
        ]
    )
    assert code == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["spec"]["strategy"] == "every_kth" and out["spec"]["params"] == {"k": 5}
    assert out["spec"]["engine"]["hold_bars"] == 2
