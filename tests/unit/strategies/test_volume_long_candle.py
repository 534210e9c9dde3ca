"""volume_long_candle: each rule on hand-built bars, the kernel against the plain reference on
every real data file and on generated bars, no look-ahead, parameter errors, engine defaults."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategy_reference import (
    bar_rows,
    bars_frame,
    legacy_performance_bars,
    volume_long_candle_reference,
)

import coinbt
from coinbt.errors import ConfigError
from coinbt.strategies import get_strategy
from coinbt.strategies.volume_long_candle import volume_long_candle

REPO_ROOT = Path(__file__).resolve().parents[3]
QUIET = (100.0, 100.5, 99.5, 100.2, 10.0)  # a small bar that is no long candle


def long_candle(volume: float, open_: float = 100.0, close: float = 102.0) -> tuple:
    """A bullish bar with body close−open and 0.5 wicks on both sides."""
    return (open_, close + 0.5, open_ - 0.5, close, volume)


def signals(rows, **params):
    entries, exits, confidence = volume_long_candle(bars_frame(rows), **params)
    return entries, exits, confidence


# ------------------------------------------------------------------------------------------------
# rules, on bars small enough to check by hand
# ------------------------------------------------------------------------------------------------


def test_surge_threshold_exactly_met_signals():
    # window 4: mean(10, 10, 10, 30) = 15; 15 × 2 = 30 ≤ 30
    met = [QUIET, QUIET, QUIET, long_candle(30.0)]
    assert signals(met, vol_ma_window=4, vol_multiplier=2.0)[0].tolist() == [False] * 3 + [True]
    # 29 < 2 × mean(10, 10, 10, 29) = 29.5
    short = [QUIET, QUIET, QUIET, long_candle(29.0)]
    assert not signals(short, vol_ma_window=4, vol_multiplier=2.0)[0].any()


def test_body_exactly_at_body_pct_signals():
    # (102 - 100) / 100 == 0.02 in floating point too
    rows = [QUIET] * 3 + [(100.0, 102.0, 100.0, 102.0, 100.0)]
    assert signals(rows, vol_ma_window=4)[0][-1]
    rows[-1] = (100.0, 101.99, 100.0, 101.99, 100.0)
    assert not signals(rows, vol_ma_window=4)[0][-1]


@pytest.mark.parametrize(
    ("high", "low", "fires"),
    [
        (105.99, 100.0, True),  # upper wick 3.99 % < 4 %
        (106.0, 100.0, False),  # upper wick exactly 2 × body_pct: not < 4 %
        (102.0, 96.01, True),  # lower wick 3.99 %
        (102.0, 96.0, False),  # lower wick exactly 4 %
    ],
)
def test_wick_limits_are_strict(high, low, fires):
    rows = [QUIET] * 3 + [(100.0, high, low, 102.0, 100.0)]
    assert signals(rows, vol_ma_window=4)[0][-1] == fires


def test_bearish_or_doji_bar_never_signals():
    rows = [QUIET] * 3 + [(102.0, 102.5, 99.5, 100.0, 100.0)]
    assert not signals(rows, vol_ma_window=4)[0].any()
    rows[-1] = (100.0, 100.0, 100.0, 100.0, 100.0)
    assert not signals(rows, vol_ma_window=4, body_pct=1e-9)[0].any()


def test_predecessors_worked_example_is_a_long_candle():
    # O=100, C=102.5, H=102.8, L=99.8: body 2.5 %, wicks 0.3 % and 0.2 %
    rows = [QUIET] * 3 + [(100.0, 102.8, 99.8, 102.5, 100.0)]
    assert signals(rows, vol_ma_window=4, body_pct=0.02)[0][-1]


def test_no_signal_before_the_volume_window_is_full():
    # every bar is a long candle on rising volume; the predecessor (min_periods=1) signalled
    # from bar 1 on, here the first decision is at bar window-1 = 4
    rows = [long_candle(v) for v in (10.0, 100.0, 200.0, 400.0, 800.0, 1600.0)]
    entries, _, confidence = signals(rows, vol_ma_window=5, vol_multiplier=1.5)
    assert entries.tolist() == [False, False, False, False, True, True]
    assert np.isnan(confidence[:4]).all()


def test_zero_volume_is_never_a_surge():
    rows = [long_candle(0.0)] * 6  # 0 >= 0 × 1.5 was a "surge" for the predecessor
    entries, _, confidence = signals(rows, vol_ma_window=3)
    assert not entries.any() and np.isnan(confidence).all()


def test_consecutive_bars_may_all_signal():
    rows = [QUIET] * 3 + [long_candle(100.0), long_candle(300.0)]
    assert signals(rows, vol_ma_window=3)[0].tolist() == [False, False, False, True, True]


def test_exits_are_all_false():
    rows = [QUIET] * 3 + [long_candle(100.0)]
    _, exits, _ = signals(rows, vol_ma_window=3)
    assert exits.dtype == np.bool_ and not exits.any()


def test_confidence_formula_by_hand():
    # mean(10, 10, 10, 60) = 22.5, threshold 33.75 -> surge score 1 - 33.75/60 = 0.4375
    # body 3 over range 4 (103.5 - 99.5) -> 0.75; confidence 0.5·0.4375 + 0.5·0.75
    rows = [QUIET] * 3 + [(100.0, 103.5, 99.5, 103.0, 60.0)]
    _, _, confidence = signals(rows, vol_ma_window=4, vol_multiplier=1.5, body_pct=0.02)
    assert confidence[-1] == 0.5 * (1 - 33.75 / 60) + 0.5 * 0.75 == 0.59375
    assert np.isnan(confidence[:-1]).all()


def test_confidence_grows_with_surge_and_with_body_share():
    base = [QUIET] * 4
    conf = [signals([*base, long_candle(v)], vol_ma_window=5)[2][-1] for v in (50, 100, 400)]
    assert conf[0] < conf[1] < conf[2] < 1.0
    # same surge, same body 2: wicks 0.5/0.5 vs none
    wicks = signals([*base, (100.0, 102.5, 99.5, 102.0, 100.0)], vol_ma_window=5)[2][-1]
    clean = signals([*base, (100.0, 102.0, 100.0, 102.0, 100.0)], vol_ma_window=5)[2][-1]
    assert wicks < clean


def test_confidence_at_the_surge_threshold_is_only_the_body_part():
    # surge exactly met (score 0) on a wickless candle (body share 1): 0.5
    rows = [(100.0, 100.0, 100.0, 100.0, 10.0)] * 3 + [(100.0, 102.0, 100.0, 102.0, 30.0)]
    assert signals(rows, vol_ma_window=4, vol_multiplier=2.0)[2][-1] == 0.5


# ------------------------------------------------------------------------------------------------
# the predecessor's performance data (legacy §1.5)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "theirs", "ours"), [(100, 15, 11), (300, 15, 14), (1000, 16, 16)])
def test_predecessor_counts_on_its_performance_data(n, theirs, ours):
    """The predecessor's rule (min_periods=1) on its seed-42 data gives its reported 15/15/16
    signals, which also confirms the data generator; full windows drop the warm-up ones."""
    bars = legacy_performance_bars(n)
    vol_ma = bars["volume"].rolling(20, min_periods=1).mean()
    body = (bars["close"] - bars["open"]) / bars["open"]
    upper = (bars["high"] - bars["close"]).clip(lower=0) / bars["open"]
    lower = (bars["open"] - bars["low"]).clip(lower=0) / bars["open"]
    legacy = (
        (bars["volume"] >= vol_ma * 1.5)
        & (body >= 0.02)
        & (upper < 0.04)
        & (lower < 0.04)
        & (bars["close"] > bars["open"])
    )
    assert int(legacy.sum()) == theirs
    entries = volume_long_candle(bars, 20, 1.5, 0.02)[0]
    assert int(entries.sum()) == ours
    # every signal of ours is one of theirs; the extra ones are all before bar 19
    assert not (entries & ~legacy.to_numpy()).any()
    assert (np.flatnonzero(legacy.to_numpy() & ~entries) < 19).all()


# ------------------------------------------------------------------------------------------------
# kernel == plain reference
# ------------------------------------------------------------------------------------------------


def assert_same(bars: pd.DataFrame, label: str = "", **params) -> int:
    entries, _, confidence = volume_long_candle(bars, **params)
    ref = volume_long_candle_reference(bars, **params)
    want = np.array(ref.entries, dtype=bool)
    diff = np.flatnonzero(entries != want)
    assert diff.size == 0, f"{label} {params}: entries differ at bars {diff[:10].tolist()}"
    np.testing.assert_array_equal(confidence, np.array(ref.confidence), err_msg=label)
    return int(want.sum())


def _real_files() -> list[str]:
    root = Path(os.environ.get("COINBT_SHARED_DATA", REPO_ROOT.parent / "shared/data/real"))
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.parquet")) or ["none"]


@pytest.mark.parametrize("rel", _real_files())
def test_kernel_equals_reference_on_every_real_file(real_data_dir, skip_or_fail, rel):
    path = real_data_dir / rel
    if not path.is_file():
        skip_or_fail(f"no real candle files under {real_data_dir}")
    bars = pd.read_parquet(path)
    for params in (
        {},
        {"vol_ma_window": 10, "vol_multiplier": 1.0, "body_pct": 0.002},
        {"vol_ma_window": 1, "vol_multiplier": 1.0, "body_pct": 0.001},
    ):
        assert_same(bars, rel, **params)


def test_real_files_give_signals_with_varying_confidence(real_data_dir):
    bars = pd.read_parquet(real_data_dir / "binance/BTC-USDT_1h.parquet")
    entries, _, confidence = volume_long_candle(bars)
    graded = confidence[entries]
    assert entries.sum() > 100
    assert graded.min() >= 0.0 and graded.max() <= 1.0
    assert graded.std() > 0.05  # the predecessor's was always exactly 1.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bar_rows(max_bars=40),
    st.one_of(st.integers(1, 8), st.just(60)),
    st.one_of(st.sampled_from([0.5, 1.0, 1.5, 2.0]), st.floats(0.01, 5.0)),
    st.one_of(st.sampled_from([0.005, 0.01, 0.02]), st.floats(1e-4, 0.5)),
)
def test_kernel_equals_reference_on_generated_bars(rows, window, mult, body):
    assert_same(bars_frame(rows), vol_ma_window=window, vol_multiplier=mult, body_pct=body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bar_rows(min_bars=2, max_bars=30), bar_rows(min_bars=30, max_bars=30), st.data())
def test_signals_up_to_t_ignore_later_bars(rows, other, data):
    t = data.draw(st.integers(0, len(rows) - 2))
    changed = rows[: t + 1] + other[: len(rows) - t - 1]
    params = {
        "vol_ma_window": data.draw(st.integers(1, 6)),
        "vol_multiplier": 1.2,
        "body_pct": 0.005,
    }
    a = volume_long_candle(bars_frame(rows), **params)
    b = volume_long_candle(bars_frame(changed), **params)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[: t + 1], y[: t + 1])


# ------------------------------------------------------------------------------------------------
# declaration: parameters, errors, engine defaults
# ------------------------------------------------------------------------------------------------


def test_defaults_are_the_predecessors_code_defaults():
    s = get_strategy("volume_long_candle")
    assert s.resolve({}) == {"vol_ma_window": 20, "vol_multiplier": 1.5, "body_pct": 0.02}
    assert s.settings == {"hold_bars": 1}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"vol_ma_window": 0},
            "'vol_ma_window' of strategy 'volume_long_candle' must be ≥ 1, got 0",
        ),
        (
            {"vol_ma_window": 2.5},
            "'vol_ma_window' of strategy 'volume_long_candle' must be int, got 2.5 (float)",
        ),
        (
            {"vol_multiplier": 0},
            "'vol_multiplier' of strategy 'volume_long_candle' must be > 0.0, got 0.0",
        ),
        ({"vol_multiplier": -1.5}, "must be > 0.0, got -1.5"),
        (
            {"vol_multiplier": "1.5"},
            "'vol_multiplier' of strategy 'volume_long_candle' must be float, got '1.5' (str)",
        ),
        (
            {"vol_multiplier": math.inf},
            "'vol_multiplier' of strategy 'volume_long_candle' must be finite, got inf",
        ),
        ({"body_pct": 0.0}, "'body_pct' of strategy 'volume_long_candle' must be > 0.0, got 0.0"),
        ({"body_pct": 1.0}, "'body_pct' of strategy 'volume_long_candle' must be < 1.0, got 1.0"),
        ({"body_pct": True}, "'body_pct' of strategy 'volume_long_candle' must be float, got True"),
        (
            {"hold_period_bars": 1},
            "unknown parameter 'hold_period_bars' for strategy "
            "'volume_long_candle'; known: vol_ma_window, vol_multiplier, "
            "body_pct",
        ),
        ({"body_pc": 0.01}, "Did you mean 'body_pct'?"),
    ],
)
def test_parameter_errors_say_what_is_wrong(params, message):
    with pytest.raises(ConfigError) as info:
        get_strategy("volume_long_candle").resolve(params)
    assert message in str(info.value)


def test_command_line_values_are_parsed_and_checked():
    s = get_strategy("volume_long_candle")
    assert s.parse(["vol_ma_window=10", "vol_multiplier=2", "body_pct=0.01"]) == {
        "vol_ma_window": 10,
        "vol_multiplier": 2.0,
        "body_pct": 0.01,
    }
    with pytest.raises(
        ConfigError, match="'body_pct' of strategy 'volume_long_candle' must be < 1.0, got 1.5"
    ):
        s.parse(["body_pct=1.5"])


def test_backtest_holds_one_bar_by_default_and_the_caller_can_override():
    r = coinbt.backtest("volume_long_candle", "BTC-USDT", "1h", exchange="binance")
    assert r.spec.engine["hold_bars"] == 1 and r.spec.params["vol_ma_window"] == 20
    assert len(r.trades) > 20
    assert set(r.trades["bars_held"]) == {1}
    assert set(r.trades["exit_reason"].astype(str)) == {"hold_bars"}
    sig = r.signals
    assert sig["confidence"].between(0, 1).all()
    r5 = coinbt.backtest("volume_long_candle", "BTC-USDT", "1h", exchange="binance", hold_bars=5)
    assert r5.spec.engine["hold_bars"] == 5 and r5.trades["bars_held"].max() == 5
