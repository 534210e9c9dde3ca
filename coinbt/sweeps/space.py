"""The parameter space of a sweep: grids, ranges and random samples, checked by the strategy.

Every value goes through the strategy's declared :class:`~coinbt.strategies.Param` (type,
bounds, choices), so a sweep can only run parameter sets that ``coinbt.backtest`` would accept.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from coinbt.errors import ConfigError, did_you_mean
from coinbt.strategies import Param, Strategy

#: a random search may not ask for more distinct parameter sets than this many attempts allow
_MAX_DRAW_ROUNDS = 64


@dataclass(frozen=True)
class Range:
    """A numeric interval ``[lo, hi]`` of one parameter.

    Parameters
    ----------
    lo, hi : float
        Inclusive bounds (in the parameter's unit).
    num : int, optional
        In a grid, the number of evenly spaced values (``numpy.linspace(lo, hi, num)``, rounded
        and de-duplicated for int parameters). Without ``num`` the range can only be sampled
        by a random search (uniformly; integers uniformly among the whole numbers inside).

    Examples
    --------
    >>> Range(1.0, 2.5, 4).values(float)
    [1.0, 1.5, 2.0, 2.5]
    """

    lo: float
    hi: float
    num: int | None = None

    def __post_init__(self) -> None:
        for name in ("lo", "hi"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"Range {name} must be a finite number, got {v!r}", field=name)
        if self.hi < self.lo:
            raise ConfigError(f"Range needs lo <= hi, got {self.lo!r} > {self.hi!r}", field="hi")
        if self.num is not None and (
            isinstance(self.num, bool) or not isinstance(self.num, int) or self.num < 1
        ):
            raise ConfigError(f"Range num must be a whole number >= 1, got {self.num!r}")

    def values(self, kind: type) -> list[Any]:
        """The ``num`` grid values (raises when ``num`` is not set)."""
        if self.num is None:
            raise ConfigError(
                f"Range({self.lo}, {self.hi}) has no count: give num= (lo:hi:count on the "
                f"command line) for a grid, or use it with a random search"
            )
        raw = np.linspace(self.lo, self.hi, self.num)
        if kind is int:
            return list(dict.fromkeys(int(round(v)) for v in raw))
        return [float(v) for v in raw]

    def sample(self, kind: type, rng: np.random.Generator, size: int) -> list[Any]:
        if kind is int:
            lo, hi = math.ceil(self.lo), math.floor(self.hi)
            if hi < lo:
                raise ConfigError(f"Range({self.lo}, {self.hi}) contains no whole number")
            return [int(v) for v in rng.integers(lo, hi, size=size, endpoint=True)]
        return [float(v) for v in rng.uniform(self.lo, self.hi, size=size)]


def _known(strat: Strategy, names: Iterable[str]) -> None:
    for key in names:
        if key not in strat.params:
            known = ", ".join(strat.params) or "none"
            raise ConfigError(
                f"unknown parameter {key!r} for strategy {strat.name!r}; known: {known}."
                f"{did_you_mean(key, strat.params)}",
                field=key,
            )


def _checked_values(strat: Strategy, name: str, values: Any) -> list[Any] | Range:
    """A grid entry as a list of validated values, or a validated :class:`Range`."""
    p = strat.params[name]
    if isinstance(values, Range):
        if p.type not in (int, float):
            raise ConfigError(
                f"parameter {name!r} of strategy {strat.name!r} is {p.type.__name__}; a Range "
                f"needs an int or float parameter, give a list of values instead",
                field=name,
            )
        if p.type is int:
            p.check(strat.name, name, math.ceil(values.lo))
            p.check(strat.name, name, math.floor(values.hi))
        else:
            p.check(strat.name, name, float(values.lo))
            p.check(strat.name, name, float(values.hi))
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        values = [values]
    items = list(values.tolist() if isinstance(values, np.ndarray) else values)
    if not items:
        raise ConfigError(
            f"the grid of {name!r} is empty; give at least one value (declared: {p.describe()})",
            field=name,
        )
    checked = [p.check(strat.name, name, v) for v in items]
    seen: set[Any] = set()
    for v in checked:
        if v in seen:
            raise ConfigError(
                f"the grid of {name!r} repeats the value {v!r}; each trial must be distinct "
                f"(a repeat also inflates the trial count of the deflated Sharpe ratio)",
                field=name,
            )
        seen.add(v)
    return checked


def check_space(strat: Strategy, grid: Mapping[str, Any] | None) -> dict[str, list[Any] | Range]:
    """Validate a grid mapping against the strategy's declared parameters."""
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise ConfigError(
            f"grid must be a mapping of parameter name to values, e.g. "
            f"{{'window': [10, 20]}}, got {type(grid).__name__}",
            field="grid",
        )
    _known(strat, grid)
    return {name: _checked_values(strat, name, values) for name, values in grid.items()}


def expand_grid(strat: Strategy, space: Mapping[str, list[Any] | Range]) -> list[dict[str, Any]]:
    """Every combination of the grid (the last name varies fastest), defaults merged."""
    if not space:
        raise ConfigError(
            "the grid is empty: give grid={'param': [values, ...]} or random=N "
            f"(parameters of {strat.name!r}: {', '.join(strat.params) or 'none'})",
            field="grid",
        )
    lists: dict[str, list[Any]] = {}
    for name, values in space.items():
        p = strat.params[name]
        vals = values.values(p.type) if isinstance(values, Range) else values
        lists[name] = [p.check(strat.name, name, v) for v in vals]
    names = list(lists)
    return [
        strat.resolve(dict(zip(names, combo, strict=True)))
        for combo in itertools.product(*lists.values())
    ]


def _sampler(strat: Strategy, name: str, values: list[Any] | Range | None) -> Any:
    """A function ``(rng, size) -> list`` for one parameter, or None (keeps its default)."""
    p: Param = strat.params[name]
    if isinstance(values, Range):
        if values.num is not None:
            grid = values.values(p.type)
            return lambda rng, size: [grid[i] for i in rng.integers(0, len(grid), size)]
        return lambda rng, size: values.sample(p.type, rng, size)
    if values is not None:
        return lambda rng, size: [values[i] for i in rng.integers(0, len(values), size)]
    if p.choices is not None:
        opts = list(p.choices)
        return lambda rng, size: [opts[i] for i in rng.integers(0, len(opts), size)]
    if p.type is bool:
        return lambda rng, size: [bool(v) for v in rng.integers(0, 2, size)]
    if p.type in (int, float) and p.min is not None and p.max is not None:
        return lambda rng, size: Range(p.min, p.max).sample(p.type, rng, size)
    return None


def _space_size(strat: Strategy, space: Mapping[str, list[Any] | Range | None]) -> float:
    """Number of distinct parameter sets the samplers can produce (inf when continuous)."""
    size = 1.0
    for name, values in space.items():
        p = strat.params[name]
        if isinstance(values, list):
            size *= len(values)
        elif isinstance(values, Range) and values.num is not None:
            size *= len(values.values(p.type))
        elif values is None and p.choices is not None:
            size *= len(p.choices)
        elif values is None and p.type is bool:
            size *= 2
        else:  # an interval: given, or the declared [min, max]
            lo, hi = (values.lo, values.hi) if isinstance(values, Range) else (p.min, p.max)
            size *= max(math.floor(hi) - math.ceil(lo) + 1, 0) if p.type is int else math.inf
    return size


def sample_random(
    strat: Strategy,
    space: Mapping[str, list[Any] | Range],
    n: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """``n`` distinct parameter sets drawn at random (see :func:`coinbt.sweeps.sweep`)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(
            f"random must be a whole number of trials >= 1, got {n!r}", field="random"
        )
    n = int(n)
    full: dict[str, list[Any] | Range | None] = {name: space.get(name) for name in strat.params}
    samplers = {name: _sampler(strat, name, full[name]) for name in strat.params}
    drawn = {name: s for name, s in samplers.items() if s is not None}
    if not drawn:
        raise ConfigError(
            f"nothing to sample: strategy {strat.name!r} declares no parameter with both min "
            f"and max, choices or bool type; give grid={{'param': [values]}} or a Range",
            field="random",
        )
    sized = {name: full[name] for name in drawn}
    available = _space_size(strat, sized)
    if n > available:
        raise ConfigError(
            f"random={n} asks for more distinct parameter sets than the space holds "
            f"({int(available)}); run the whole grid instead",
            field="random",
        )
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _ in range(_MAX_DRAW_ROUNDS):
        need = n - len(out)
        columns = {name: s(rng, need) for name, s in drawn.items()}
        for i in range(need):
            params = strat.resolve({name: col[i] for name, col in columns.items()})
            out.setdefault(tuple(params.values()), params)
        if len(out) == n:
            return list(out.values())
    raise ConfigError(
        f"could not draw {n} distinct parameter sets from a space of {int(available)}; "
        f"ask for fewer or run the whole grid",
        field="random",
    )


def parse_grid_text(strat: Strategy, pairs: Iterable[str]) -> dict[str, list[Any] | Range]:
    """Parse command-line grid entries: ``window=10,20,30``, ``vol_mult=1.0:2.5:10`` (a
    linspace of 10 values), ``vol_mult=1.0:2.5`` (an interval for a random search)."""
    out: dict[str, list[Any] | Range] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise ConfigError(
                f"--grid expects name=v1,v2,... or name=lo:hi:count, got {pair!r}", field="grid"
            )
        _known(strat, [key])
        if key in out:
            raise ConfigError(f"--grid gives {key!r} twice; list all its values once", field=key)
        p = strat.params[key]
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (2, 3) or p.type not in (int, float):
                raise ConfigError(
                    f"--grid {key}={text}: lo:hi:count needs an int or float parameter and 2 or "
                    f"3 numbers (lo:hi for a random search)",
                    field=key,
                )
            try:
                lo, hi = (float(x) for x in parts[:2])
                num = int(parts[2]) if len(parts) == 3 else None
            except ValueError:
                raise ConfigError(
                    f"--grid {key}={text}: expected numbers as lo:hi:count, e.g. 1.0:2.5:10",
                    field=key,
                ) from None
            out[key] = Range(lo, hi, num)
        else:
            out[key] = [p.parse(strat.name, key, v.strip()) for v in text.split(",")]
    return check_space(strat, out)
