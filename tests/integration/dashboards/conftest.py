"""A registry seeded with real-data runs for the dashboard tests (module scope: built once)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_seed import seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield seed(tmp_path_factory.mktemp("dash"))


@pytest.fixture
def dash_registry(seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The seeded registry opened read-only, as the dashboards open it."""
    from coinbt.dashboards.common import open_registry

    root = seeded["root"]
    monkeypatch.setenv("COINBT_DASHBOARD_REGISTRY_URL", f"sqlite:///{root / 'registry.db'}")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(root / "artifacts"))
    reg = open_registry()
    yield reg
    reg.close()
