"""Selection-bias-aware Sharpe figures: the probabilistic and the deflated Sharpe ratio.

When the best of N backtests is picked, its Sharpe ratio is biased upwards: even N strategies
with no skill produce a best Sharpe well above zero. The deflated Sharpe ratio (DSR) asks how
likely the picked strategy's true Sharpe ratio is above what the best of N skill-less trials
would be expected to show.

All Sharpe ratios here are **per bar** (not annualised): ``mean(r) / std(r)`` of the per-bar
returns. Divide an annualised figure by ``sqrt(periods_per_year)`` first.

References
----------
.. [1] D. H. Bailey and M. López de Prado, "The Sharpe Ratio Efficient Frontier", Journal of
   Risk 15(2), 2012 (the probabilistic Sharpe ratio).
.. [2] D. H. Bailey and M. López de Prado, "The Deflated Sharpe Ratio: Correcting for
   Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management
   40(5), 94-107, 2014.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

#: the Euler-Mascheroni constant γ
EULER_GAMMA = 0.5772156649015329

_NORMAL = NormalDist()


def expected_max_sharpe(n_trials: int, sharpe_variance: float, mean_sharpe: float = 0.0) -> float:
    """Expected largest Sharpe ratio among ``n_trials`` independent skill-less trials.

    Parameters
    ----------
    n_trials : int
        Number of trials N (>= 1).
    sharpe_variance : float
        Variance of the trials' per-bar Sharpe ratios, ``V[{SR_n}]`` (>= 0).
    mean_sharpe : float, default 0
        Mean per-bar Sharpe ratio under the null hypothesis.

    Returns
    -------
    float
        Per-bar Sharpe ratio ``SR_0``. Equals ``mean_sharpe`` when ``n_trials == 1``.

    Notes
    -----
    From [2]_ (eq. 6, after the false strategy theorem)::

        SR_0 = mean + sqrt(V) · ((1 − γ) · Φ⁻¹(1 − 1/N) + γ · Φ⁻¹(1 − 1/(N·e)))

    with γ the Euler-Mascheroni constant, Φ⁻¹ the standard normal quantile and e Euler's
    number. The approximation assumes the N trials independent; correlated trials behave like
    fewer, so the figure is conservative (too high) for a grid of similar parameter sets.

    Examples
    --------
    >>> round(expected_max_sharpe(100, 0.5 / 250), 4)  # the example of [2]
    0.1132
    """
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be a whole number >= 1, got {n_trials!r}")
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0.0):
        raise ValueError(f"sharpe_variance must be a finite number >= 0, got {sharpe_variance!r}")
    if n_trials == 1:
        return float(mean_sharpe)
    n = float(n_trials)
    z = (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / n) + EULER_GAMMA * _NORMAL.inv_cdf(
        1.0 - 1.0 / (n * math.e)
    )
    return float(mean_sharpe + math.sqrt(sharpe_variance) * z)


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_returns: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    benchmark: float = 0.0,
) -> float:
    """Probability that the true Sharpe ratio exceeds ``benchmark``, given one estimate.

    Parameters
    ----------
    sharpe : float
        Estimated per-bar Sharpe ratio ``SR``.
    n_returns : int
        Number of returns T the estimate used (>= 2).
    skew : float, default 0
        Skewness γ₃ of the returns.
    kurtosis : float, default 3
        Kurtosis γ₄ of the returns (**not** excess: 3 for normal returns).
    benchmark : float, default 0
        Per-bar Sharpe ratio ``SR*`` to beat.

    Returns
    -------
    float
        ``PSR`` in [0, 1]; NaN when the variance term below is not positive (the estimate's
        distribution is undefined for these moments).

    Notes
    -----
    From [1]_ (and [2]_ eq. 2)::

        PSR(SR*) = Φ( (SR − SR*) · sqrt(T − 1) / sqrt(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) )

    Examples
    --------
    >>> round(probabilistic_sharpe_ratio(0.1, 101), 4)  # Φ(0.1·10/sqrt(1.005))
    0.8407
    """
    if isinstance(n_returns, bool) or int(n_returns) != n_returns or n_returns < 2:
        raise ValueError(f"n_returns must be a whole number >= 2, got {n_returns!r}")
    var_term = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if not var_term > 0.0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_returns - 1.0) / math.sqrt(var_term)
    return _NORMAL.cdf(z)


def deflated_sharpe_ratio(
    sharpe: float,
    trial_sharpes: Sequence[float] | np.ndarray,
    n_returns: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Deflated Sharpe ratio of a trial picked from ``trial_sharpes``.

    Parameters
    ----------
    sharpe : float
        Per-bar Sharpe ratio of the picked trial.
    trial_sharpes : sequence of float
        Per-bar Sharpe ratios of **all** trials of the search, the picked one included
        (N = their count; non-finite values are an error).
    n_returns : int
        Number of returns T of the picked trial.
    skew, kurtosis : float
        Skewness and (non-excess) kurtosis of the picked trial's returns.

    Returns
    -------
    float
        ``DSR = PSR(SR_0)`` with ``SR_0 = expected_max_sharpe(N, V)``, V the sample variance
        (ddof=1) of ``trial_sharpes`` (0 when N = 1, so the DSR is then the PSR against 0).

    Notes
    -----
    [2]_ eq. 9–10. A DSR of 0.95 says: with 95 % confidence the picked trial's true Sharpe
    ratio is above the best one N skill-less trials of this dispersion would show.

    Examples
    --------
    >>> sr = 2.5 / 250 ** 0.5  # the example of [2]: annual SR 2.5 over 1250 daily returns
    >>> trials = [sr + d for d in (-0.05, 0.0, 0.05)]
    >>> 0.0 < deflated_sharpe_ratio(sr, trials, 1250, skew=-3.0, kurtosis=10.0) < 1.0
    True
    """
    values = np.asarray(trial_sharpes, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("trial_sharpes must be a non-empty 1-D sequence of Sharpe ratios")
    if not np.isfinite(values).all():
        raise ValueError("trial_sharpes holds a non-finite value; drop undefined trials first")
    variance = float(np.var(values, ddof=1)) if values.size > 1 else 0.0
    sr0 = expected_max_sharpe(int(values.size), variance)
    return probabilistic_sharpe_ratio(sharpe, n_returns, skew, kurtosis, benchmark=sr0)


class ReturnShape(NamedTuple):
    """Skewness and kurtosis (non-excess) of a return series."""

    skew: float
    kurtosis: float


def return_shape(returns: Sequence[float] | np.ndarray) -> ReturnShape:
    """Skewness ``m3 / m2^1.5`` and kurtosis ``m4 / m2²`` (population moments).

    Parameters
    ----------
    returns : sequence of float
        Per-bar returns (finite; at least 2).

    Returns
    -------
    ReturnShape
        NaN for both when the returns do not vary.

    Examples
    --------
    >>> return_shape([-1.0, 1.0, -1.0, 1.0])
    ReturnShape(skew=0.0, kurtosis=1.0)
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2 or not np.isfinite(r).all():
        raise ValueError("returns must be a 1-D sequence of at least 2 finite numbers")
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    if not m2 > 0.0:
        return ReturnShape(math.nan, math.nan)
    m3 = float(np.mean(d**3))
    m4 = float(np.mean(d**4))
    return ReturnShape(m3 / m2**1.5, m4 / (m2 * m2))
