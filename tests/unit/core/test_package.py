"""`import coinbt` is cheap and side-effect free; public names resolve on first use."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys, logging, warnings
before_handlers = list(logging.getLogger().handlers)
import coinbt
heavy = [m for m in ("numba", "pandas", "plotly", "pyarrow") if m in sys.modules]
assert not heavy, heavy
assert logging.getLogger().handlers == before_handlers
assert callable(coinbt.backtest) and callable(coinbt.sweep) and callable(coinbt.signal_study)
assert coinbt.sweeps.Range(1.0, 2.0, 3).values(float) == [1.0, 1.5, 2.0]
print("ok")
"""


def test_import_is_lazy_and_names_resolve():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_attribute_is_an_attribute_error():
    import coinbt

    try:
        coinbt.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
