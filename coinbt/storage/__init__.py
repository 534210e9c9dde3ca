"""Run registry (SQLite/PostgreSQL) and artifact storage."""

from coinbt.storage.artifacts import ArtifactInfo, ArtifactStore
from coinbt.storage.migrate import current, downgrade, upgrade
from coinbt.storage.registry import Registry

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "Registry",
    "current",
    "downgrade",
    "upgrade",
]
