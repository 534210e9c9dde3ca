"""``make test`` executes every notebook here with nbval (``--nbval-lax``: cells must run, their
outputs are not compared).  While a notebook runs — its kernel starts then and inherits the
environment — coinbt's registry, artifacts and reports point at a scratch folder, so running
the notebooks never writes into the repository or into a user's registry.  The compare
template gets two recorded backtests to compare."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SCRATCH: list[Path] = []


def _scratch() -> Path:
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="coinbt-nbval-")))
    return _SCRATCH[0]


def _two_backtests() -> None:
    """The compare template compares the two latest backtests by default: make sure the
    scratch registry has two, whichever notebooks ran before."""
    import coinbt

    for params in ({"volume_window": 10}, {"volume_window": 30}):
        result = coinbt.backtest("volume_zone_breakout", "BTC-USDT", "1h", end="2021-06-30",
                                 exchange="binance", params=params)  # fmt: skip
        result.save()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[None]:
    if not str(getattr(item, "path", "")).endswith(".ipynb"):
        yield
        return
    root = _scratch()
    scratch = {
        "COINBT_REGISTRY_URL": f"sqlite:///{root / 'registry.db'}",
        "COINBT_ARTIFACTS_URI": str(root / "artifacts"),
        "COINBT_REPORTS_DIR": str(root / "reports"),
    }
    saved = {k: os.environ.get(k) for k in scratch}
    os.environ.update(scratch)
    try:
        if Path(str(item.path)).name == "compare.ipynb":
            _two_backtests()
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
