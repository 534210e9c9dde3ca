"""Run registry (SQLite/PostgreSQL) and artifact storage."""

from coinbt.storage.artifacts import ArtifactInfo, ArtifactStore, LocalStore, open_store
from coinbt.storage.migrate import current, downgrade, upgrade
from coinbt.storage.registry import Registry

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "LocalStore",
    "Registry",
    "current",
    "downgrade",
    "open_store",
    "upgrade",
]
