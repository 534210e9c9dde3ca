"""Deflated Sharpe ratio: the published example, hand formulas, and its limiting cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

import coinbt
from coinbt.metrics import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    return_shape,
)
from coinbt.sweeps import sweep

EULER_GAMMA = 0.5772156649015329


def phi(x: float) -> float:
    """Standard normal CDF through erfc (independent of statistics.NormalDist)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def phi_inv(p: float) -> float:
    """Standard normal quantile by bisection on :func:`phi`."""
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if phi(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def test_published_example_of_bailey_and_lopez_de_prado_2014():
    """Annual SR 2.5 over 5 years of daily returns (T = 1250), skew −3, kurtosis 10, picked
    from N = 100 trials whose annualised Sharpe ratios have variance 1/2: the paper finds
    SR_0 ≈ 0.1132 per day and DSR ≈ 0.9004."""
    sr = 2.5 / math.sqrt(250.0)  # 0.158113883 per day
    variance = 0.5 / 250.0  # per-day variance of the trials' Sharpe ratios
    n, t, skew, kurt = 100, 1250, -3.0, 10.0

    # by hand: SR_0 = sqrt(V)·((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e)))
    z1 = phi_inv(1.0 - 1.0 / n)  # 2.3263...
    z2 = phi_inv(1.0 - 1.0 / (n * math.e))  # 2.6801...
    assert z1 == pytest.approx(2.326347874, abs=1e-8)
    sr0_hand = math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)
    # DSR = Φ((SR − SR_0)·sqrt(T−1) / sqrt(1 − γ₃·SR + (γ₄−1)/4·SR²))
    dsr_hand = phi(
        (sr - sr0_hand) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr)
    )

    sr0 = expected_max_sharpe(n, variance)
    assert sr0 == pytest.approx(sr0_hand, rel=1e-9)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)  # as published

    # 100 trial Sharpe ratios with exactly that sample variance
    rng = np.random.default_rng(0)
    trials = rng.standard_normal(n)
    trials = (trials - trials.mean()) / trials.std(ddof=1) * math.sqrt(variance)
    dsr = deflated_sharpe_ratio(sr, trials, t, skew, kurt)
    assert dsr == pytest.approx(dsr_hand, rel=1e-9)
    assert dsr == pytest.approx(0.9004, abs=5e-4)  # as published


def test_probabilistic_sharpe_ratio_by_hand():
    # SR 0.1 over T = 101 normal returns against 0: Φ(0.1·10 / sqrt(1 + 2/4·0.01))
    assert probabilistic_sharpe_ratio(0.1, 101) == pytest.approx(phi(1.0 / math.sqrt(1.005)))
    # negative skew and fat tails widen the estimate's spread, so the PSR falls
    assert probabilistic_sharpe_ratio(0.1, 101, skew=-2.0, kurtosis=9.0) < (
        probabilistic_sharpe_ratio(0.1, 101)
    )
    assert math.isnan(probabilistic_sharpe_ratio(1.0, 100, skew=3.0, kurtosis=1.0))


def test_deflated_sharpe_equals_the_psr_for_a_single_trial():
    sr, t, skew, kurt = 0.05, 2_000, -0.4, 6.0
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert deflated_sharpe_ratio(sr, [sr], t, skew, kurt) == probabilistic_sharpe_ratio(
        sr, t, skew, kurt
    )


def test_deflated_sharpe_falls_as_trials_grow_with_the_same_best_sharpe():
    sr, t, variance = 0.06, 5_000, 4e-4
    rng = np.random.default_rng(1)
    values = []
    for n in (2, 5, 20, 100, 1_000, 10_000):
        trials = rng.standard_normal(n)
        trials = (trials - trials.mean()) / trials.std(ddof=1) * math.sqrt(variance)
        values.append(deflated_sharpe_ratio(sr, trials, t))
    assert all(a > b for a, b in zip(values, values[1:], strict=False)), values
    assert values[0] > 0.99 and values[-1] < 0.5


def test_selection_inputs_are_checked():
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0, 0.1)
    with pytest.raises(ValueError, match="sharpe_variance"):
        expected_max_sharpe(5, -1.0)
    with pytest.raises(ValueError, match="n_returns"):
        probabilistic_sharpe_ratio(0.1, 1)
    with pytest.raises(ValueError, match="non-finite"):
        deflated_sharpe_ratio(0.1, [0.1, float("nan")], 100)


def test_return_shape_by_hand():
    # returns 0, 0, 0, 0.04: mean 0.01, deviations −0.01 ×3 and 0.03
    # m2 = 3e-4, m3 = 6e-6, m4 = 2.1e-7 → skew = 2/√3, kurtosis = 7/3
    shape = return_shape([0.0, 0.0, 0.0, 0.04])
    assert shape.skew == pytest.approx(2.0 / math.sqrt(3.0), rel=1e-12)
    assert shape.kurtosis == pytest.approx(7.0 / 3.0, rel=1e-12)
    assert all(math.isnan(v) for v in return_shape([0.01, 0.01, 0.01]))


def test_sweep_reports_the_deflated_sharpe_of_its_best_trial_from_all_trials(btc_bars):
    grid = {"window": [10, 20, 40, 80], "vol_mult": [0.0, 1.5, 2.0]}
    res = sweep("sma_cross", grid, bars=btc_bars, fee_rate=0.0005, progress=False)
    report = res.deflated_sharpe()
    best = res.best()
    assert report.trial == best.name
    assert report.n_trials == res.n_trials == 12 and report.n_undefined == 0

    # independently: per-bar Sharpe of every trial, moments of the best trial's returns
    per_bar = res.trials["sharpe"].to_numpy() / math.sqrt(8760.0)
    single = coinbt.backtest(
        "sma_cross", bars=btc_bars, params=res.params_of(report.trial), fee_rate=0.0005
    )
    eq = single.sim.equity
    r = np.diff(np.concatenate([[10_000.0], eq])) / np.concatenate([[10_000.0], eq[:-1]])
    d = r - r.mean()
    skew = np.mean(d**3) / np.mean(d**2) ** 1.5
    kurt = np.mean(d**4) / np.mean(d**2) ** 2
    sr = np.mean(r) / np.std(r, ddof=1)
    assert report.sharpe_per_bar == pytest.approx(sr, rel=1e-9)
    assert report.n_returns == len(btc_bars)
    assert report.skew == pytest.approx(skew, rel=1e-6)
    assert report.kurtosis == pytest.approx(kurt, rel=1e-6)
    v = np.var(per_bar, ddof=1)
    z = (1 - EULER_GAMMA) * phi_inv(1 - 1 / 12) + EULER_GAMMA * phi_inv(1 - 1 / (12 * math.e))
    sr0 = math.sqrt(v) * z
    assert report.expected_max_sharpe_per_bar == pytest.approx(sr0, rel=1e-9)
    want = phi(
        (sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    assert report.deflated_sharpe == pytest.approx(want, rel=1e-6)
    assert report.deflated_sharpe < report.probabilistic_sharpe
