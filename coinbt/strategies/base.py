"""Strategy definitions: declared parameters, validation and the registry.

A strategy is a function ``fn(bars, **params) -> (entries, exits)`` where ``bars`` is a
canonical OHLCV frame (see ``coinbt.data``) and ``entries``/``exits`` are boolean arrays of the
same length: decisions taken at each bar's close. The engine fills them later (next open by
default), so a strategy must only read bars up to the current one.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from coinbt.errors import ConfigError, did_you_mean

_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True)
class Param:
    """A declared strategy parameter.

    Parameters
    ----------
    type : {int, float, bool, str}
        Expected type; an ``int`` is accepted where a float is expected.
    default : Any
        Value used when the caller does not give one.
    min, max : float, optional
        Inclusive bounds for numbers.
    above, below : float, optional
        Strict bounds (``above < value < below``), for ranges such as ``(0, 1)`` where the bound
        itself makes the rule meaningless.
    choices : tuple, optional
        Allowed values for strings.
    doc : str
        One line for ``coinbt strategies`` and docs.
    """

    type: type
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    above: float | None = None
    below: float | None = None

    def check(self, strategy: str, name: str, value: Any) -> Any:
        """Return ``value`` converted to the declared type or raise :class:`ConfigError`."""
        where = f"parameter {name!r} of strategy {strategy!r}"
        if self.type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"{where} must be finite, got {value!r}", field=name)
        elif self.type is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, np.generic):
            value = value.item()
            return self.check(strategy, name, value)
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            raise ConfigError(
                f"{where} must be {self.type.__name__}, got {value!r} ({type(value).__name__})",
                field=name,
            )
        if self.min is not None and value < self.min:
            raise ConfigError(f"{where} must be ≥ {self.min}, got {value!r}", field=name)
        if self.max is not None and value > self.max:
            raise ConfigError(f"{where} must be ≤ {self.max}, got {value!r}", field=name)
        if self.above is not None and not value > self.above:
            raise ConfigError(f"{where} must be > {self.above}, got {value!r}", field=name)
        if self.below is not None and not value < self.below:
            raise ConfigError(f"{where} must be < {self.below}, got {value!r}", field=name)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"{where} must be one of {', '.join(map(repr, self.choices))}, got {value!r}."
                f"{did_you_mean(str(value), map(str, self.choices))}",
                field=name,
            )
        return value

    def parse(self, strategy: str, name: str, text: str) -> Any:
        """Parse a command-line string into the declared type, then check it."""
        try:
            if self.type is bool:
                lowered = text.strip().lower()
                if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(text)
                value: Any = lowered in {"true", "1", "yes"}
            elif self.type is int:
                value = int(text)
            elif self.type is float:
                value = float(text)
            else:
                value = text
        except ValueError:
            raise ConfigError(
                f"parameter {name!r} of strategy {strategy!r} must be "
                f"{self.type.__name__}, got {text!r}",
                field=name,
            ) from None
        return self.check(strategy, name, value)

    def describe(self) -> str:
        """``int = 20 [2, 100000]``; strict bounds in round brackets: ``float = 0.2 (0, 1]``."""
        bounds = ""
        if {self.min, self.max, self.above, self.below} != {None}:
            lo = (
                f"({self.above}"
                if self.above is not None
                else ("(-inf" if self.min is None else f"[{self.min}")
            )
            hi = (
                f"{self.below})"
                if self.below is not None
                else ("inf)" if self.max is None else f"{self.max}]")
            )
            bounds = f" {lo}, {hi}"
        return f"{self.type.__name__} = {self.default!r}{bounds}"


@dataclass(frozen=True)
class Strategy:
    """A named signal function with its declared parameters."""

    name: str
    fn: Callable[..., Any]
    params: Mapping[str, Param] = field(default_factory=dict)
    description: str = ""
    builtin: bool = False
    #: engine settings this strategy is meant to run with unless the caller says otherwise
    #: (the predecessor's strategies hold for ``hold_bars=1``)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Effective parameters: defaults merged with ``params``, each validated."""
        given = dict(params or {})
        for key in given:
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise ConfigError(
                    f"unknown parameter {key!r} for strategy {self.name!r}; known: {known}."
                    f"{did_you_mean(key, self.params)}",
                    field=key,
                )
        return {
            name: p.check(self.name, name, given.get(name, p.default))
            for name, p in self.params.items()
        }

    def parse(self, pairs: list[str]) -> dict[str, Any]:
        """Parse ``["k=v", ...]`` from the command line."""
        out: dict[str, Any] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            if not sep:
                raise ConfigError(f"--param expects key=value, got {pair!r}", field="param")
            key = key.strip()
            if key not in self.params:
                self.resolve({key: None})  # raises the did-you-mean error
            out[key] = self.params[key].parse(self.name, key, text.strip())
        return self.resolve(out)

    @property
    def code_hash(self) -> str:
        """Hash of a user strategy's source (empty for built-ins, versioned with coinbt)."""
        if self.builtin:
            return ""
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = getattr(self.fn, "__qualname__", repr(self.fn))
        return hashlib.sha256(source.encode()).hexdigest()[:16]

    def signals(self, bars: pd.DataFrame, params: Mapping[str, Any]) -> Signals:
        """Run the signal function and check what it returns."""
        out = self.fn(bars, **params)
        return normalise_signals(self.name, out, len(bars))


class Signals(NamedTuple):
    """What a strategy decided at each bar's close.

    ``confidence`` (float64 in [0, 1], NaN where there is no entry) is optional: strategies
    that grade their entries return it as a third item or a ``confidence`` column.
    """

    entries: np.ndarray
    exits: np.ndarray
    confidence: np.ndarray | None = None


def _as_bool(strategy: str, name: str, values: Any, n: int) -> np.ndarray:
    arr = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if arr.shape != (n,):
        raise ConfigError(
            f"strategy {strategy!r} returned {name} of shape {arr.shape}; expected ({n},), one "
            f"value per bar",
            field=name,
        )
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind in "iuf" and np.isin(arr, (0, 1)).all():
        return np.ascontiguousarray(arr.astype(np.bool_))
    raise ConfigError(
        f"strategy {strategy!r} returned {name} of dtype {arr.dtype}; expected booleans "
        f"(True where the rule fires; NaN is not allowed)",
        field=name,
    )


def _confidence(strategy: str, values: Any, entries: np.ndarray) -> np.ndarray:
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    n = entries.shape[0]
    if arr.shape != (n,) or arr.dtype.kind not in "iuf":
        raise ConfigError(
            f"strategy {strategy!r} returned confidence of shape {arr.shape} and dtype "
            f"{arr.dtype}; expected ({n},) numbers in [0, 1]",
            field="confidence",
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    graded = arr[entries]
    if not ((graded >= 0.0) & (graded <= 1.0)).all():
        bad = float(graded[~((graded >= 0.0) & (graded <= 1.0))][0])
        raise ConfigError(
            f"strategy {strategy!r} returned confidence {bad!r} on an entry; expected a number "
            f"in [0, 1]",
            field="confidence",
        )
    return arr


def normalise_signals(strategy: str, out: Any, n: int) -> Signals:
    """Accept ``(entries, exits[, confidence])``, ``entries`` alone, or a frame with
    ``entries``, ``exits`` and optionally ``confidence`` columns."""
    if isinstance(out, pd.DataFrame):
        missing = {"entries", "exits"} - set(out.columns)
        if missing:
            raise ConfigError(
                f"strategy {strategy!r} returned a DataFrame without column(s) "
                f"{sorted(missing)}; return (entries, exits) or a frame with both columns"
            )
        out = (out["entries"], out["exits"], out.get("confidence"))
    confidence = None
    if isinstance(out, tuple):
        if len(out) not in (2, 3):
            raise ConfigError(
                f"strategy {strategy!r} returned a tuple of {len(out)} items; expected "
                f"(entries, exits) or (entries, exits, confidence)"
            )
        entries, exits = out[0], out[1]
        confidence = out[2] if len(out) == 3 else None
    else:
        entries, exits = out, None
    e = _as_bool(strategy, "entries", entries, n)
    x = np.zeros(n, dtype=np.bool_) if exits is None else _as_bool(strategy, "exits", exits, n)
    c = None if confidence is None else _confidence(strategy, confidence, e)
    return Signals(e, x, c)


def params_from_signature(fn: Callable[..., Any]) -> dict[str, Param]:
    """Declare parameters from keyword defaults: ``def rule(bars, window: int = 20)``."""
    out: dict[str, Param] = {}
    for i, (name, p) in enumerate(inspect.signature(fn).parameters.items()):
        if i == 0:
            continue  # the bars
        if p.default is inspect.Parameter.empty:
            raise ConfigError(
                f"parameter {name!r} of strategy function {fn.__name__!r} has no default; give "
                f"every parameter after `bars` a default value"
            )
        kind = p.annotation if p.annotation in _TYPES.values() else type(p.default)
        if isinstance(p.annotation, str) and p.annotation in _TYPES:
            kind = _TYPES[p.annotation]
        if kind not in _TYPES.values():
            raise ConfigError(
                f"parameter {name!r} of {fn.__name__!r} has a default of type "
                f"{type(p.default).__name__}; supported: int, float, bool, str"
            )
        out[name] = Param(kind, p.default)
    return out
