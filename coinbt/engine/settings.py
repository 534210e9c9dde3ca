"""Engine settings: a frozen, validated record of every simulation choice."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from coinbt.engine.enums import FILL_MODES, SAME_BAR_PRIORITIES, SIZE_TYPES
from coinbt.errors import ConfigError, did_you_mean


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"{name} must be a number, got {value!r} ({type(value).__name__})", field=name
        )
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}", field=name)
    return value


def _choice(name: str, value: Any, choices: dict[str, int]) -> str:
    if value not in choices:
        raise ConfigError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}."
            f"{did_you_mean(str(value), choices)}",
            field=name,
        )
    return str(value)


def _fraction(name: str, value: Any) -> float | None:
    """A stop distance: None (off) or a fraction in (0, 1)."""
    if value is None:
        return None
    v = _number(name, value)
    if not 0.0 < v < 1.0:
        raise ConfigError(
            f"{name} must be a fraction between 0 and 1 (0.05 = 5 %), got {value!r}; "
            f"use None to switch it off",
            field=name,
        )
    return v


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    """Every choice the simulation makes, validated on construction.

    Parameters
    ----------
    init_cash : float
        Starting cash in the quote currency (> 0).
    fill : {"next_open", "close"}
        When a decision taken at bar t's close fills: bar t+1's open (default, no look-ahead)
        or bar t's close (an explicit, recorded choice).
    fee_rate : float
        Fraction of notional paid on every fill, entry and exit (0.001 = 0.1 %).
    slippage_bps : float
        Adverse price move applied to every fill, in basis points.
    size_type : {"equity_fraction", "notional", "quantity"}
        How ``size`` is read.
    size : float
        Fraction of equity (0, 1], quote notional or base quantity.
    lot_size, min_notional : float
        Exchange quantity step and smallest order value (0 = none).
    hold_bars : int
        Exit after this many bars (0 = off).
    stop_loss, take_profit, trailing_stop : float or None
        Distances as fractions of the entry fill price (trailing: of the best price since entry).
    same_bar_priority : {"stop_loss", "take_profit"}
        Which exit wins when both levels are inside one bar (default pessimistic).
    short : bool
        Entries open short positions.
    close_at_end : bool
        Close a position still open after the last bar at its close.

    Notes
    -----
    The full rule book is ``docs/engine.md``.
    """

    init_cash: float = 10_000.0
    fill: str = "next_open"
    fee_rate: float = 0.001
    slippage_bps: float = 0.0
    size_type: str = "equity_fraction"
    size: float = 1.0
    lot_size: float = 0.0
    min_notional: float = 0.0
    hold_bars: int = 0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    same_bar_priority: str = "stop_loss"
    short: bool = False
    close_at_end: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        cash = _number("init_cash", self.init_cash)
        if cash <= 0:
            raise ConfigError(f"init_cash must be > 0, got {self.init_cash!r}", field="init_cash")
        set_(self, "init_cash", cash)
        _choice("fill", self.fill, FILL_MODES)
        fee = _number("fee_rate", self.fee_rate)
        if not 0.0 <= fee < 1.0:
            raise ConfigError(
                f"fee_rate must be a fraction in [0, 1) (0.001 = 0.1 % per side), "
                f"got {self.fee_rate!r}",
                field="fee_rate",
            )
        set_(self, "fee_rate", fee)
        slip = _number("slippage_bps", self.slippage_bps)
        if not 0.0 <= slip < 10_000.0:
            raise ConfigError(
                f"slippage_bps must be in [0, 10000) basis points (5 = 0.05 %), "
                f"got {self.slippage_bps!r}",
                field="slippage_bps",
            )
        set_(self, "slippage_bps", slip)
        _choice("size_type", self.size_type, SIZE_TYPES)
        size = _number("size", self.size)
        if size <= 0 or (self.size_type == "equity_fraction" and size > 1.0):
            expected = "in (0, 1]" if self.size_type == "equity_fraction" else "> 0"
            raise ConfigError(
                f"size must be {expected} for size_type={self.size_type!r}, got {self.size!r}",
                field="size",
            )
        set_(self, "size", size)
        for name in ("lot_size", "min_notional"):
            v = _number(name, getattr(self, name))
            if v < 0:
                raise ConfigError(f"{name} must be ≥ 0 (0 = none), got {v!r}", field=name)
            set_(self, name, v)
        if isinstance(self.hold_bars, bool) or not isinstance(self.hold_bars, int):
            if isinstance(self.hold_bars, float) and self.hold_bars.is_integer():
                set_(self, "hold_bars", int(self.hold_bars))
            else:
                raise ConfigError(
                    f"hold_bars must be a whole number of bars, got {self.hold_bars!r}",
                    field="hold_bars",
                )
        if self.hold_bars < 0:
            raise ConfigError(
                f"hold_bars must be ≥ 0 (0 = off), got {self.hold_bars!r}", field="hold_bars"
            )
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            set_(self, name, _fraction(name, getattr(self, name)))
        _choice("same_bar_priority", self.same_bar_priority, SAME_BAR_PRIORITIES)
        for name in ("short", "close_at_end"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name} must be True or False, got {getattr(self, name)!r}", field=name
                )

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(
        cls, values: dict[str, Any], *, what: str = "engine setting", hint: str = ""
    ) -> EngineSettings:
        """Build settings from a mapping, rejecting unknown keys with a suggestion.

        ``what`` names the keys in the message and ``hint`` is appended to it, so callers that
        take settings as keyword arguments can say where other names belong.
        """
        names = cls.field_names()
        for key in values:
            if key not in names:
                raise ConfigError(
                    f"unknown {what} {key!r}; engine settings are: {', '.join(names)}."
                    f"{did_you_mean(key, names)}{hint}",
                    field=key,
                )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
