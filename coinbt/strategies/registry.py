"""Name -> strategy lookup for built-ins and user-registered strategies."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from coinbt.errors import ConfigError, did_you_mean
from coinbt.strategies.base import Param, Strategy, params_from_signature
from coinbt.strategies.presets import PRESETS, preset_strategy
from coinbt.strategies.sma_cross import SMA_CROSS
from coinbt.strategies.volume_long_candle import VOLUME_LONG_CANDLE
from coinbt.strategies.volume_zone_breakout import VOLUME_ZONE_BREAKOUT

_BUILTIN: dict[str, Strategy] = {
    s.name: s for s in (SMA_CROSS, VOLUME_LONG_CANDLE, VOLUME_ZONE_BREAKOUT)
}
_USER: dict[str, Strategy] = {}


def list_strategies() -> list[Strategy]:
    """Built-in strategies first, then user-registered ones."""
    return [*_BUILTIN.values(), *_USER.values()]


def get_strategy(strategy: str | Strategy | Callable[..., Any]) -> Strategy:
    """Resolve a name, a :class:`Strategy` or a plain signal function."""
    if isinstance(strategy, Strategy):
        return strategy
    if callable(strategy):
        declared = getattr(strategy, "__coinbt_strategy__", None)
        if isinstance(declared, Strategy):
            return declared
        return Strategy(
            name=getattr(strategy, "__name__", "user_strategy"),
            fn=strategy,
            params=params_from_signature(strategy),
            description=(strategy.__doc__ or "").strip().splitlines()[0]
            if strategy.__doc__
            else "",
        )
    if not isinstance(strategy, str):
        raise ConfigError(
            f"strategy must be a name or a function, got {strategy!r} ({type(strategy).__name__})",
            field="strategy",
        )
    known = {**_BUILTIN, **_USER}
    if strategy in known:
        return known[strategy]
    if ":" in strategy:
        return _import_strategy(strategy)
    preset = {p.lower(): p for p in PRESETS}.get(strategy.lower())
    if preset is not None and PRESETS[preset].strategy in known:
        return preset_strategy(PRESETS[preset], known[PRESETS[preset].strategy])
    names = [*known, *PRESETS]
    raise ConfigError(
        f"unknown strategy {strategy!r}; available: {', '.join(known)}; presets: "
        f"{', '.join(PRESETS)}.{did_you_mean(strategy, names)} Define your own with "
        f"@coinbt.strategy.",
        field="strategy",
    )


def _import_strategy(path: str) -> Strategy:
    """``package.module:function`` → that function (or decorated strategy) as a Strategy.

    This is how a strategy written in a file reaches the CLI, sweeps and jobs.
    """
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import module {module_name!r} for strategy {path!r}: {exc}. Run from the "
            f"folder that holds it or put it on PYTHONPATH",
            field="strategy",
        ) from None
    target = getattr(module, attr, None)
    if not (isinstance(target, Strategy) or callable(target)):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ConfigError(
            f"module {module_name!r} has no strategy function {attr!r}.{did_you_mean(attr, names)}",
            field="strategy",
        )
    return get_strategy(target)


def strategy(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    params: dict[str, Param] | None = None,
    settings: dict[str, Any] | None = None,
    register: bool = True,
) -> Any:
    """Declare a user strategy, usable wherever a built-in one is.

    Parameters come from the function's keyword defaults (``window: int = 20``) and may be
    refined with ``params={"window": Param(int, 20, min=2)}``. ``settings`` gives engine
    settings the strategy runs with unless the caller overrides them (e.g. ``{"hold_bars": 5}``).

    Examples
    --------
    >>> import coinbt
    >>> @coinbt.strategy(params={"window": coinbt.Param(int, 10, min=2)}, register=False)
    ... def breakout(bars, window=10):
    ...     high = bars["high"].rolling(window).max().shift(1)
    ...     return bars["close"] > high, bars["close"] < bars["close"].rolling(window).mean()
    >>> breakout.name
    'breakout'
    """

    def wrap(f: Callable[..., Any]) -> Strategy:
        declared = params_from_signature(f)
        declared.update(params or {})
        strat = Strategy(
            name=name or f.__name__,
            fn=f,
            params=declared,
            description=(f.__doc__ or "").strip().splitlines()[0] if f.__doc__ else "",
            settings=dict(settings or {}),
        )
        if register:
            if strat.name in _BUILTIN:
                raise ConfigError(
                    f"strategy name {strat.name!r} is taken by a built-in; pass name=... "
                    f"to register it under another name",
                    field="name",
                )
            _USER[strat.name] = strat
        return strat

    return wrap(fn) if fn is not None else wrap
