"""The predecessor's named presets (legacy §1.4), usable wherever a strategy name is."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from coinbt.strategies.base import Strategy


@dataclass(frozen=True)
class Preset:
    """A named parameter set of a strategy."""

    name: str
    strategy: str
    params: dict[str, Any]
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "Conservative",
            "volume_long_candle",
            {"vol_ma_window": 20, "vol_multiplier": 1.5, "body_pct": 0.01},
            "volume surge ×1.5 over 20 bars with a ≥ 1 % bullish body",
        ),
        Preset(
            "Balanced",
            "volume_zone_breakout",
            {"volume_window": 20, "top_percentile": 0.2, "breakout_buffer": 0.0},
            "breakout above the top-20 % volume zone of the last 20 bars",
        ),
        Preset(
            "Aggressive",
            "volume_zone_breakout",
            {"volume_window": 10, "top_percentile": 0.3, "breakout_buffer": 0.0},
            "breakout above the top-30 % volume zone of the last 10 bars",
        ),
    )
}


def preset_strategy(preset: Preset, base: Strategy) -> Strategy:
    """``base`` with the preset's values as parameter defaults (still overridable).

    The result keeps the base strategy's name, so a run's spec records the strategy and its
    effective parameters, not the preset label: a preset is a shortcut, not a new identity.
    """
    params = dict(base.params)
    for key, value in preset.params.items():
        params[key] = dataclasses.replace(params[key], default=value)
    return dataclasses.replace(
        base, params=params, description=f"preset {preset.name}: {preset.description}"
    )
