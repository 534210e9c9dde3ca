"""Per-bar returns and the figures built on them: CAGR, volatility, Sharpe, Sortino."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from coinbt.metrics._nb import equity_return_moments_nb

#: a per-bar standard deviation (or downside deviation) at or below this is floating-point
#: noise (one ulp of 1.0 is 2.2e-16) and counts as zero: the ratio it divides is undefined
ZERO_DEVIATION = 1e-14


def bar_returns(equity: np.ndarray, init_cash: float) -> np.ndarray:
    """Simple return of every bar, with ``init_cash`` as the value before bar 0.

    Parameters
    ----------
    equity : numpy.ndarray
        float64 equity per bar after the bar's close, quote currency.
    init_cash : float
        Starting cash, quote currency: the value before bar 0.

    Returns
    -------
    numpy.ndarray
        ``r[0] = equity[0] / init_cash - 1``, ``r[t] = equity[t] / equity[t-1] - 1``
        (fractions). NaN where the previous value is <= 0 (a return on a non-positive base is
        undefined).
    """
    n = equity.shape[0]
    r = np.empty(n, dtype=np.float64)
    if n == 0:
        return r
    r[0] = equity[0] / init_cash - 1.0 if init_cash > 0.0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(equity[1:], equity[:-1], out=r[1:])
    r[1:] -= 1.0
    if n > 1 and not equity[:-1].min() > 0.0:
        r[1:][~(equity[:-1] > 0.0)] = np.nan
    return r


class ReturnFigures(NamedTuple):
    """Return-based figures (fractions; ratios are dimensionless; None = undefined)."""

    volatility_ann: float | None
    sharpe: float | None
    sortino: float | None


def return_figures(
    equity: np.ndarray, init_cash: float, periods_per_year: float, bases_positive: bool
) -> ReturnFigures:
    """Annualised volatility, Sharpe and Sortino of the per-bar returns.

    Parameters
    ----------
    equity : numpy.ndarray
        Finite float64 equity per bar, quote currency.
    init_cash : float
        Value before bar 0, quote currency (> 0).
    periods_per_year : float
        Bars per 365-day, 24-hour year.
    bases_positive : bool
        Whether ``init_cash`` and ``equity[:-1]`` are all > 0 (checked by the caller). When
        not, some return is undefined and so is every figure here.

    Returns
    -------
    ReturnFigures
        ``volatility_ann = std(r, ddof=1)·√ppy`` (None with fewer than 2 bars);
        ``sharpe = mean(r) / std(r, ddof=1)·√ppy`` (None with fewer than 2 bars or zero std);
        ``sortino = mean(r) / sqrt(mean(min(r, 0)²))·√ppy`` (None when no bar lost money).

    Notes
    -----
    Risk-free rate 0. A deviation at or below :data:`ZERO_DEVIATION` counts as zero.
    """
    n = equity.shape[0]
    if n == 0 or not bases_positive:
        return ReturnFigures(None, None, None)
    mean, sum_sq_dev, sum_sq_down = equity_return_moments_nb(equity, init_cash)
    root_ppy = math.sqrt(periods_per_year)
    vol = sharpe = sortino = None
    if n >= 2:
        std = math.sqrt(sum_sq_dev / (n - 1))
        if std <= ZERO_DEVIATION:
            vol = 0.0
        else:
            vol = std * root_ppy
            sharpe = mean / std * root_ppy
    downside = math.sqrt(sum_sq_down / n)
    if downside > ZERO_DEVIATION:
        sortino = mean / downside * root_ppy
    return ReturnFigures(finite_or_none(vol), finite_or_none(sharpe), finite_or_none(sortino))


def cagr(final_equity: float, init_cash: float, years: float) -> float | None:
    """Compound annual growth rate ``(final / init) ** (1 / years) - 1``.

    Parameters
    ----------
    final_equity, init_cash : float
        Quote currency.
    years : float
        Elapsed time in 365-day years (> 0).

    Returns
    -------
    float or None
        None when ``final_equity <= 0`` (no real root), ``years <= 0``, or the figure
        overflows a float (a large gain over a very short run).
    """
    if not (final_equity > 0.0 and init_cash > 0.0 and years > 0.0):
        return None
    growth = final_equity / init_cash
    if not growth > 0.0:  # a subnormal final equity underflows to 0
        return None
    try:
        return finite_or_none(math.exp(math.log(growth) / years) - 1.0)
    except OverflowError:
        return None


def finite_or_none(x: float | None) -> float | None:
    """``float(x)`` when finite, else None (so nothing NaN or infinite reaches JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
