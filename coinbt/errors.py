"""One error hierarchy for coinbt.

Every error a user can cause is a :class:`CoinbtError`; the CLI prints its message on one
line and exits non-zero without a traceback.  Errors carry structured fields so that code
(notebooks, jobs) can react without parsing text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CoinbtError(Exception):
    """Root of every error raised on purpose by coinbt."""


class DataError(CoinbtError):
    """Market data is missing, malformed or does not cover a request.

    Attributes
    ----------
    problems : list of str
        One line per problem found (several symbols may be unavailable at once).
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ConfigError(CoinbtError):
    """A parameter, setting or run specification is invalid.

    Attributes
    ----------
    field : str or None
        Name of the offending field, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StorageError(CoinbtError):
    """The registry or artifact store failed."""


class JobError(CoinbtError):
    """A background job failed or could not be submitted."""


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choices, or ``""``.

    Examples
    --------
    >>> did_you_mean("fee_rat", ["fee_rate", "cash"])
    " Did you mean 'fee_rate'?"
    """
    options = [str(c) for c in choices]
    key = str(name).lower()
    close = difflib.get_close_matches(str(name), options, n=n, cutoff=0.6)
    if not close and len(key) >= 3:
        # a truncated or partial name ("fee" for "fee_rate") is a common slip too
        close = [c for c in options if c.lower().startswith(key) or key in c.lower()][:n]
    if not close:
        return ""
    if len(close) == 1:
        return f" Did you mean '{close[0]}'?"
    return " Did you mean one of " + ", ".join(f"'{c}'" for c in close) + "?"
