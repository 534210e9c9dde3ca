"""Bar-by-bar simulation with honest fills (rules: ``docs/engine.md``)."""

from coinbt.engine.core import SimResult, simulate
from coinbt.engine.settings import EngineSettings

__all__ = [
    "EngineSettings",
    "SimResult",
    "simulate",
]
