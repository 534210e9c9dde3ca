"""A user strategy for the sweep job tests, importable by worker processes
(``tests.integration.jobs.sweep_strategies:sma_test``).

Its behaviour is steered by the environment, so its source (and code hash) never changes:

* ``COINBT_TEST_FAIL_WINDOWS`` (``40,70``) + ``COINBT_TEST_FAIL_DIR``: a trial with one of
  those ``window`` values raises the first time (leaving a marker file in that folder) and
  succeeds once its marker exists;
* ``COINBT_TEST_TRIAL_SLEEP``: seconds each trial sleeps (to kill a worker mid-chunk).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import coinbt


@coinbt.strategy(params={"window": coinbt.Param(int, 10, min=2, max=500)}, register=False)
def sma_test(bars, window=10):
    """Long while the close is above its SMA."""
    folder = os.environ.get("COINBT_TEST_FAIL_DIR")
    failing = os.environ.get("COINBT_TEST_FAIL_WINDOWS", "")
    if folder and str(window) in failing.split(","):
        marker = Path(folder) / f"failed-{window}"
        if not marker.exists():
            marker.touch()
            raise RuntimeError(f"injected failure for window={window}")
    time.sleep(float(os.environ.get("COINBT_TEST_TRIAL_SLEEP", "0")))
    sma = bars["close"].rolling(window).mean()
    above = (bars["close"] > sma).to_numpy()
    return above, ~above
