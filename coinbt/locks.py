"""An exclusive lock between processes on one machine, held through a lock file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``fcntl.flock`` on ``path`` (created if needed, its folder too) for the block.

    Threads and processes on one machine queue on it.  Where ``fcntl`` is missing (Windows) no
    lock is taken.  Not reliable on network file systems.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
