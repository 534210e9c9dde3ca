"""Strategies for the jobs tests, imported by workers as ``tests.integration.jobs.slow_strategy:…``.

Each one is an SMA cross (so results are real and comparable) that first spends ``seconds``
asleep in ``chunks`` steps, reporting progress after each — long enough to be observed,
cancelled, killed or timed out.  ``$SLOW_STRATEGY_NO_SLEEP=1`` (in a worker's environment)
skips the sleeping without changing the run: a retry can then finish at once.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pandas as pd


def _cross(bars: pd.DataFrame, window: int) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"]
    mean = close.rolling(window).mean()
    above = (close > mean).to_numpy()
    before = np.concatenate([[False], above[:-1]])
    return above & ~before, ~above & before


def _sleep(seconds: float, chunks: int) -> None:
    from coinbt.jobs.tasks import report_progress

    if os.environ.get("SLOW_STRATEGY_NO_SLEEP") == "1":
        seconds = 0.0
    for i in range(chunks):
        time.sleep(seconds / chunks)
        report_progress(0.05 + 0.7 * (i + 1) / chunks, f"signals {i + 1}/{chunks}")


def slow(bars: pd.DataFrame, window: int = 24, seconds: float = 2.0, chunks: int = 10):
    """SMA cross after ``seconds`` of sleep."""
    _sleep(seconds, chunks)
    return _cross(bars, window)


def failing(bars: pd.DataFrame, window: int = 24, marker: str = ""):
    """Always raises; appends a line to the file ``marker`` for every attempt."""
    if marker:
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    raise RuntimeError(f"strategy exploded on purpose (window={window})")


def stubborn(bars: pd.DataFrame, window: int = 24, seconds: float = 30.0):
    """Sleeps with SIGALRM blocked, like code stuck in a compiled loop that RQ's in-process
    alarm cannot interrupt; only a kill from outside ends it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
    return _cross(bars, window)
