"""volume_zone_breakout: each rule on hand-built bars, the numba kernel against the plain
per-window reference on every real data file and on generated bars, the predecessor's signal
counts, no look-ahead, parameter errors and the engine defaults end to end."""

from __future__ import annotations

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
    volume_zone_breakout_reference,
)

import coinbt
from coinbt.cli.main import main
from coinbt.errors import ConfigError
from coinbt.strategies import get_strategy
from coinbt.strategies.volume_zone_breakout import volume_zone_breakout, volume_zone_resistance

REPO_ROOT = Path(__file__).resolve().parents[3]

# two candles that make a two-bin profile with 10 units of volume in each bin:
# span [100, 101] and [101, 102] -> edges 100, 101, 102
STEPS = [(100.0, 101.0, 100.0, 101.0, 10.0), (101.0, 102.0, 101.0, 102.0, 10.0)]
TWO_BINS = {"volume_window": 2, "num_bins": 2, "top_percentile": 0.5}


def bar_with_high(high: float, volume: float = 5.0) -> tuple:
    """A bar whose high is all that matters (the bar being decided)."""
    low = min(high, 100.0)
    return (low, high, low, low, volume)


def run(rows, **params):
    bars = bars_frame(rows)
    entries, exits, confidence = volume_zone_breakout(bars, **params)
    return entries, confidence, volume_zone_resistance(bars, **params).to_numpy()


# ------------------------------------------------------------------------------------------------
# rules, on bars small enough to check by hand
# ------------------------------------------------------------------------------------------------


def test_share_reached_exactly_in_a_bin_sets_its_lower_edge():
    # from the top: bin [101, 102] holds 10 = 20 × 0.5 -> resistance 101
    _, _, res = run([*STEPS, bar_with_high(100.5)], **TWO_BINS)
    assert res[2] == 101.0
    # a hair more share is not reached there; the next bin down gives 100
    _, _, res = run([*STEPS, bar_with_high(100.5)], **{**TWO_BINS, "top_percentile": 0.51})
    assert res[2] == 100.0


def test_high_exactly_at_the_resistance_signals():
    entries, confidence, _ = run([*STEPS, bar_with_high(101.0)], **TWO_BINS)
    assert entries.tolist() == [False, False, True]
    assert confidence[2] == 0.5
    below = np.nextafter(101.0, 0.0)
    entries, _, _ = run([*STEPS, bar_with_high(below)], **TWO_BINS)
    assert not entries.any()


def test_breakout_buffer_raises_the_level():
    level = 101.0 * (1 + 0.01)
    params = {**TWO_BINS, "breakout_buffer": 0.01}
    assert run([*STEPS, bar_with_high(level)], **params)[0][2]
    assert not run([*STEPS, bar_with_high(np.nextafter(level, 0.0))], **params)[0][2]
    assert run([*STEPS, bar_with_high(101.5)], **TWO_BINS)[0][2]
    assert not run([*STEPS, bar_with_high(101.5)], **params)[0][2]


def test_confidence_is_half_at_the_level_and_one_a_window_range_above():
    # window range 102 - 100 = 2; level 101
    assert run([*STEPS, bar_with_high(101.5)], **TWO_BINS)[1][2] == 0.5 + 0.5 * 0.25
    assert run([*STEPS, bar_with_high(103.0)], **TWO_BINS)[1][2] == 1.0
    assert run([*STEPS, bar_with_high(110.0)], **TWO_BINS)[1][2] == 1.0
    entries, confidence, _ = run([*STEPS, bar_with_high(100.5)], **TWO_BINS)
    assert not entries[2] and np.isnan(confidence).all()


def test_window_is_the_bars_strictly_before_and_no_signal_until_it_is_full():
    rows = [bar_with_high(200.0)] * 3 + [*STEPS, bar_with_high(101.0)]
    entries, _, res = run(rows, volume_window=3, num_bins=2, top_percentile=0.5)
    # bars 0-2 have no window; bar 3's window is three identical bars (low 100, high 200)
    assert np.isnan(res[:3]).all() and not entries[:3].any()
    assert res[3] == 150.0
    # bar i's own high never enters its profile: a huge high on bar 5 leaves res[5] alone
    big = [*rows[:5], bar_with_high(1e6)]
    assert (
        volume_zone_resistance(
            bars_frame(big), volume_window=3, num_bins=2, top_percentile=0.5
        ).iloc[5]
        == res[5]
    )


def test_zero_volume_window_has_no_resistance():
    rows = [
        (100.0, 101.0, 100.0, 101.0, 0.0),
        (101.0, 102.0, 101.0, 102.0, 0.0),
        bar_with_high(1000.0),
    ]
    entries, confidence, res = run(rows, **TWO_BINS)
    assert not entries.any() and np.isnan(res).all() and np.isnan(confidence).all()


@pytest.mark.parametrize("num_bins", [1, 20])
def test_flat_window_has_no_resistance_and_does_not_crash(num_bins):
    rows = [(100.0, 100.0, 100.0, 100.0, 5.0)] * 3 + [bar_with_high(200.0)]
    entries, _, res = run(rows, volume_window=3, num_bins=num_bins)
    assert not entries.any() and np.isnan(res).all()


def test_flat_bodies_are_a_flat_window_only_without_wicks():
    rows = [(100.0, 101.0, 99.0, 100.0, 5.0)] * 3 + [bar_with_high(101.0)]
    assert np.isnan(run(rows, volume_window=3, include_wicks=False)[2][3])
    entries, _, res = run(rows, volume_window=3, include_wicks=True)
    assert 99.0 <= res[3] < 101.0 and entries[3]


def test_without_wicks_the_range_starts_at_the_lowest_body_low():
    # bodies [98, 100] (bearish: closes below every open) and [99, 101]; the predecessor took
    # the lowest open (99) as the bottom and would put the resistance at 99
    rows = [(100.0, 100.5, 97.5, 98.0, 10.0), (99.0, 101.5, 98.5, 101.0, 10.0)]
    # range [98, 101], edges 98, 99.5, 101: bins 7.5 + 2.5 and 2.5 + 7.5 -> resistance 99.5
    _, _, res = run([*rows, bar_with_high(99.4)], **TWO_BINS, include_wicks=False)
    assert res[2] == 99.5
    assert not run([*rows, bar_with_high(99.4)], **TWO_BINS, include_wicks=False)[0][2]
    assert run([*rows, bar_with_high(99.5)], **TWO_BINS, include_wicks=False)[0][2]


@pytest.mark.parametrize(("price", "resistance"), [(101.0, 101.0), (102.0, 101.0), (100.0, 100.0)])
def test_candle_without_span_goes_to_the_bin_its_price_starts_or_the_top_bin(price, resistance):
    # [100, 102] with volume 1 (0.5 per bin), then o=h=l=c=price with volume 10
    rows = [
        (100.0, 102.0, 100.0, 102.0, 1.0),
        (price, price, price, price, 10.0),
        bar_with_high(100.0),
    ]
    assert run(rows, **TWO_BINS)[2][2] == resistance


def test_single_bar_window_and_a_single_bin():
    rows = [(100.0, 104.0, 100.0, 104.0, 8.0), bar_with_high(103.0)]
    # one candle over four bins: 2 + 2 + 2 + 2; the top quarter is the top bin [103, 104]
    entries, confidence, res = run(rows, volume_window=1, num_bins=4, top_percentile=0.25)
    assert res[1] == 103.0 and entries[1] and confidence[1] == 0.5
    # one bin: the resistance is the bottom of the window, whatever the share
    for share in (0.01, 0.5, 1.0):
        assert run(rows, volume_window=1, num_bins=1, top_percentile=share)[2][1] == 100.0


def test_whole_volume_share_is_the_lowest_bin_holding_volume():
    rows = [
        (100.0, 100.0, 100.0, 100.0, 0.0),
        (101.0, 102.0, 101.0, 102.0, 10.0),
        bar_with_high(100.0),
    ]
    # range [100, 102], bins [100, 101] (empty) and [101, 102]: share 1.0 stops at 101
    assert run(rows, **{**TWO_BINS, "top_percentile": 1.0})[2][2] == 101.0


def test_predecessors_worked_example():
    # a 60-bar window spanning 95 … 105, 20 bins of 0.5; 12 of 59 volume units at 100.7 (bin
    # [100.5, 101]) and the rest at 97: the top 20 % is reached at 100.5; buffer 1 % -> 101.505
    rows = [(100.0, 105.0, 95.0, 100.0, 0.0)]
    rows += [(100.7, 100.7, 100.7, 100.7, 1.0)] * 12 + [(97.0, 97.0, 97.0, 97.0, 1.0)] * 47
    params = {"volume_window": 60, "num_bins": 20, "top_percentile": 0.2, "breakout_buffer": 0.01}
    entries, confidence, res = run([*rows, (100.0, 101.6, 99.5, 101.0, 1.0)], **params)
    assert res[60] == 100.5 and entries[60]
    assert confidence[60] == pytest.approx(0.5 + 0.5 * (101.6 - 101.505) / 10)
    assert not run([*rows, (100.0, 101.5, 99.5, 101.0, 1.0)], **params)[0][60]


def test_exits_are_all_false():
    _, exits, _ = volume_zone_breakout(bars_frame([*STEPS, bar_with_high(101.0)]), **TWO_BINS)
    assert exits.dtype == np.bool_ and not exits.any()


# ------------------------------------------------------------------------------------------------
# the predecessor's claim (legacy §1.3 / §1.5)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "count"), [(100, 45), (300, 117), (1000, 412)])
def test_per_window_signal_counts_match_the_predecessors_reference(n, count):
    """Its performance-script data (seed 42) with VZB (20, 0.2, 0.0): 45/117/412 signals, as
    its per-window reference reported (its 'incremental' code gave 66/221/885)."""
    bars = legacy_performance_bars(n)
    params = {"volume_window": 20, "top_percentile": 0.2, "breakout_buffer": 0.0}
    entries, _, _ = volume_zone_breakout(bars, **params)
    assert int(entries.sum()) == count
    assert sum(volume_zone_breakout_reference(bars, **params).entries) == count


def test_legacy_generator_leaves_the_global_random_state_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    legacy_performance_bars(50)
    assert np.array_equal(np.random.get_state()[1], before)


# ------------------------------------------------------------------------------------------------
# kernel == plain reference
# ------------------------------------------------------------------------------------------------


def assert_same(bars: pd.DataFrame, label: str = "", **params) -> int:
    entries, _, confidence = volume_zone_breakout(bars, **params)
    resistance = volume_zone_resistance(bars, **params).to_numpy()
    ref = volume_zone_breakout_reference(bars, **params)
    want = np.array(ref.entries, dtype=bool)
    diff = np.flatnonzero(entries != want)
    assert diff.size == 0, f"{label} {params}: entries differ at bars {diff[:10].tolist()}"
    np.testing.assert_array_equal(resistance, np.array(ref.level), err_msg=f"{label} {params}")
    np.testing.assert_array_equal(confidence, np.array(ref.confidence), err_msg=f"{label} {params}")
    return int(want.sum())


def _real_files() -> list[str]:
    root = Path(os.environ.get("COINBT_SHARED_DATA", REPO_ROOT.parent / "shared/data/real"))
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.parquet")) or ["none"]


#: other parameter sets, on the first bars of every file (the reference is slow)
VARIANTS = (
    {"include_wicks": False},
    {"volume_window": 1, "top_percentile": 1.0, "num_bins": 1},
    {
        "volume_window": 3,
        "top_percentile": 0.5,
        "breakout_buffer": 0.001,
        "num_bins": 7,
        "include_wicks": False,
    },
    {"volume_window": 25, "top_percentile": 0.05, "num_bins": 5},
)


@pytest.mark.parametrize("rel", _real_files())
def test_kernel_equals_reference_on_every_real_file(real_data_dir, skip_or_fail, rel):
    path = real_data_dir / rel
    if not path.is_file():
        skip_or_fail(f"no real candle files under {real_data_dir}")
    bars = pd.read_parquet(path)
    assert assert_same(bars, rel) > 0  # defaults, the whole file
    head = bars.iloc[:2000]
    for params in VARIANTS:
        assert_same(head, rel, **params)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bar_rows(max_bars=40),
    st.one_of(st.integers(1, 12), st.just(60)),
    st.one_of(st.sampled_from([0.05, 0.2, 0.5, 1.0]), st.floats(1e-6, 1.0)),
    st.one_of(st.sampled_from([0.0, 0.001, 0.01]), st.floats(0.0, 0.05)),
    st.one_of(st.sampled_from([1, 2, 20]), st.integers(1, 25)),
    st.booleans(),
)
def test_kernel_equals_reference_on_generated_bars(rows, window, share, buffer, bins, wicks):
    assert_same(
        bars_frame(rows),
        volume_window=window,
        top_percentile=share,
        breakout_buffer=buffer,
        num_bins=bins,
        include_wicks=wicks,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bar_rows(min_bars=2, max_bars=30), bar_rows(min_bars=30, max_bars=30), st.data())
def test_signals_up_to_t_ignore_later_bars(rows, other, data):
    t = data.draw(st.integers(0, len(rows) - 2))
    changed = rows[: t + 1] + other[: len(rows) - t - 1]
    params = {
        "volume_window": data.draw(st.integers(1, 6)),
        "num_bins": data.draw(st.integers(1, 8)),
        "include_wicks": data.draw(st.booleans()),
    }
    a, b = run(rows, **params), run(changed, **params)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[: t + 1], y[: t + 1])


# ------------------------------------------------------------------------------------------------
# declaration: parameters, errors, engine defaults, end to end
# ------------------------------------------------------------------------------------------------


def test_defaults_are_the_predecessors_code_defaults():
    s = get_strategy("volume_zone_breakout")
    assert s.resolve({}) == {
        "volume_window": 10,
        "top_percentile": 0.2,
        "breakout_buffer": 0.0,
        "num_bins": 20,
        "include_wicks": True,
    }
    assert s.settings == {"hold_bars": 1}


W = "of strategy 'volume_zone_breakout' must be"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"volume_window": 0}, f"'volume_window' {W} ≥ 1, got 0"),
        ({"volume_window": "10"}, f"'volume_window' {W} int, got '10' (str)"),
        ({"top_percentile": 0.0}, f"'top_percentile' {W} > 0.0, got 0.0"),
        ({"top_percentile": 1.5}, f"'top_percentile' {W} ≤ 1.0, got 1.5"),
        ({"breakout_buffer": -0.01}, f"'breakout_buffer' {W} ≥ 0.0, got -0.01"),
        ({"breakout_buffer": float("nan")}, f"'breakout_buffer' {W} finite, got nan"),
        ({"num_bins": 0}, f"'num_bins' {W} ≥ 1, got 0"),
        ({"num_bins": 20.5}, f"'num_bins' {W} int, got 20.5 (float)"),
        ({"include_wicks": 1}, f"'include_wicks' {W} bool, got 1 (int)"),
        ({"include_wicks": "yes"}, f"'include_wicks' {W} bool, got 'yes' (str)"),
        (
            {"hold_period_bars": 1},
            "unknown parameter 'hold_period_bars' for strategy "
            "'volume_zone_breakout'; known: volume_window, top_percentile, "
            "breakout_buffer, num_bins, include_wicks",
        ),
        ({"num_bin": 10}, "Did you mean 'num_bins'?"),
    ],
)
def test_parameter_errors_say_what_is_wrong(params, message):
    with pytest.raises(ConfigError) as info:
        get_strategy("volume_zone_breakout").resolve(params)
    assert message in str(info.value)


def test_resistance_helper_checks_its_parameters_too():
    with pytest.raises(ConfigError, match="'num_bins' of strategy 'volume_zone_breakout' must be"):
        volume_zone_resistance(bars_frame(STEPS), num_bins=0)


def test_command_line_values_are_parsed_and_checked():
    s = get_strategy("volume_zone_breakout")
    got = s.parse(["volume_window=20", "top_percentile=0.3", "include_wicks=false"])
    assert got["volume_window"] == 20 and got["top_percentile"] == 0.3
    assert got["include_wicks"] is False
    with pytest.raises(ConfigError, match=f"'include_wicks' {W} bool, got 'maybe'"):
        s.parse(["include_wicks=maybe"])


def test_backtest_on_bundled_candles_holds_one_bar_and_grades_every_signal():
    r = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", exchange="binance")
    assert r.spec.engine["hold_bars"] == 1 and r.spec.engine["fill"] == "next_open"
    assert len(r.trades) > 1000
    assert set(r.trades["bars_held"]) == {1}
    assert set(r.trades["exit_reason"].astype(str)) == {"hold_bars"}
    sig = r.signals
    assert "confidence" in sig.columns and len(sig) > len(r.trades)
    assert sig["confidence"].between(0.5, 1.0).all()
    # the predecessor's timing: fill at the signal bar's close, exit one close later
    rc = coinbt.backtest(
        "volume_zone_breakout", "BTC-USDT", "1h", exchange="binance", fill="close", end="2021-12-31"
    )
    assert set(rc.trades["bars_held"]) == {1}
    first = rc.trades.iloc[0]
    assert first["entry_price"] == rc.bars["close"].loc[first["entry_time"]]
    assert first["exit_price"] == rc.bars["close"].loc[first["exit_time"]]
    assert rc.signals.index[0] == first["entry_time"]


def test_command_line_backtest_runs_the_strategy(capsys):
    code = main(
        [
            "backtest",
            "--strategy",
            "volume_zone_breakout",
            "--symbol",
            "BTC-USDT",
            "--timeframe",
            "1h",
            "--exchange",
            "binance",
            "--end",
            "2021-06-30",
            "--param",
            "volume_window=20",
            "--json",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert '"strategy": "volume_zone_breakout"' in out and '"hold_bars": 1' in out


@pytest.mark.parametrize("chunks", [1, 2, 3, 7])
def test_parallel_kernel_equals_the_serial_one(chunks):
    from coinbt.strategies._nb import volume_zone_breakout_nb, volume_zone_breakout_par_nb

    bars = coinbt.load_bars("BTC-USDT", "1h", "2023-01-01", "2023-03-31", exchange="binance")
    arrays = [
        np.ascontiguousarray(bars[c].to_numpy()) for c in ("open", "high", "low", "close", "volume")
    ]
    for wicks in (True, False):
        serial = volume_zone_breakout_nb(*arrays, 10, 0.2, 0.0, 20, wicks)
        parallel = volume_zone_breakout_par_nb(*arrays, 10, 0.2, 0.0, 20, wicks, chunks)
        assert serial[0].sum() > 100
        for a, b in zip(serial, parallel, strict=True):
            np.testing.assert_array_equal(a, b)
