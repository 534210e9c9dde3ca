"""Fixtures of the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def report_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Registry, artifacts and reports folder of the test's own (the kernel inherits them)."""
    monkeypatch.setenv("COINBT_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    monkeypatch.setenv("COINBT_REPORTS_DIR", str(tmp_path / "reports"))
    return tmp_path
