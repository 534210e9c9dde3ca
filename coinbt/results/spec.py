"""``RunSpec``: the frozen, hashable identity of one backtest."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from coinbt.engine.settings import EngineSettings
from coinbt.errors import ConfigError, did_you_mean


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything that determines a backtest's outcome.

    Two runs with equal specs produce equal results, so :attr:`run_id` (a hash of the canonical
    JSON) names the registry row, artifact folder, job and report of a run.

    Parameters
    ----------
    strategy : str
        Strategy name.
    params : dict
        Effective strategy parameters (defaults merged).
    strategy_code : str
        Hash of a user strategy's source; empty for built-ins (versioned with coinbt).
    exchange, symbol, timeframe : str
        The market.
    start, end : str or None
        The requested inclusive UTC range as ISO strings (None = from the first / to the last
        bar).
    engine : dict
        Every engine setting (``EngineSettings.to_dict()``).
    data_fingerprint : str
        Hash of the exact bars simulated.
    data_start, data_end : str
        First and last bar open time simulated.
    bars : int
        Number of bars simulated.
    coinbt_version : str
        Version of the code that ran.
    """

    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    strategy_code: str = ""
    exchange: str | None = None
    symbol: str
    timeframe: str
    start: str | None = None
    end: str | None = None
    engine: dict[str, Any] = field(default_factory=lambda: EngineSettings().to_dict())
    data_fingerprint: str
    data_start: str
    data_end: str
    bars: int
    coinbt_version: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))
        engine = EngineSettings.from_dict(dict(self.engine)).to_dict()
        object.__setattr__(self, "engine", engine)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunSpec:
        """Rebuild a spec, rejecting unknown fields (a typo must fail loudly)."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(
                    f"unknown RunSpec field {key!r}; known: {', '.join(names)}."
                    f"{did_you_mean(key, names)}",
                    field=key,
                )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, so equal specs give equal text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @property
    def run_id(self) -> str:
        """Stable 16-hex-digit hash of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @property
    def settings(self) -> EngineSettings:
        return EngineSettings.from_dict(self.engine)
