"""Engine-test fixtures: every hand-checked rule runs on the engine and on the reference."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from reference_engine import reference_simulate


def engine_simulate() -> Callable:
    """``coinbt.engine.simulate``, imported late so a missing engine fails only its tests."""
    from coinbt.engine import simulate

    return simulate


@pytest.fixture(params=["engine", "reference"])
def simulate(request: pytest.FixtureRequest) -> Callable:
    """The engine, then the independent reference: both must meet every hand-checked number."""
    if request.param == "engine":
        return engine_simulate()
    return reference_simulate
