"""Symbol and exchange spelling: one canonical form, ``BASE-QUOTE`` upper case.

Accepted aliases
----------------
* ccxt ``BTC/KRW``, the predecessor's ``BTC_KRW``, any letter case: always base first.
* Upbit market codes ``KRW-BTC`` (quote first) are reversed when ``exchange="upbit"``. On Upbit
  the quote is whichever part is an Upbit market currency, ranked ``KRW`` > ``USDT`` > ``BTC``
  (``KRW-BTC`` and ``BTC-KRW`` both give ``BTC-KRW``; ``USDT-BTC`` gives ``BTC-USDT``).
* With no exchange given, ``KRW-XXX`` is read as an Upbit code (KRW is never the base of a
  market in the catalog). Every other hyphenated spelling is taken as ``BASE-QUOTE``.
"""

from __future__ import annotations

import re

from coinbt.errors import ConfigError

#: Upbit market (quote) currencies, highest priority first.
UPBIT_QUOTES: tuple[str, ...] = ("KRW", "USDT", "BTC")

_PART = r"[A-Z0-9]{1,20}"
_SYMBOL_RE = re.compile(rf"^({_PART})([-/_])({_PART})$")
_CANONICAL_RE = re.compile(rf"^{_PART}-{_PART}$")
_EXCHANGE_RE = re.compile(r"^[a-z0-9][a-z0-9_.]{0,39}$")

_EXPECTED = "'BASE-QUOTE' such as 'BTC-USDT' (aliases: 'BTC/USDT', 'BTC_USDT', Upbit 'KRW-BTC')"


def canonical_exchange(exchange: str) -> str:
    """Return the catalog spelling of an exchange name: lower case, no spaces.

    Parameters
    ----------
    exchange : str
        Exchange name in any letter case, e.g. ``"Binance"``.

    Returns
    -------
    str
        Lower-case name, e.g. ``"binance"``.

    Raises
    ------
    ConfigError
        If ``exchange`` is not a string of letters, digits, ``_`` or ``.``.

    Examples
    --------
    >>> canonical_exchange(" Upbit ")
    'upbit'
    """
    if not isinstance(exchange, str):
        raise ConfigError(
            f"exchange must be a string such as 'binance', got {exchange!r} "
            f"({type(exchange).__name__})",
            field="exchange",
        )
    name = exchange.strip().lower()
    if not _EXCHANGE_RE.match(name):
        raise ConfigError(
            f"invalid exchange name {exchange!r}; expected a lower-case name of letters, digits, "
            "'_' or '.' such as 'binance' or 'upbit'",
            field="exchange",
        )
    return name


def is_canonical_symbol(symbol: str) -> bool:
    """True when ``symbol`` is already spelled ``BASE-QUOTE`` in upper case."""
    return isinstance(symbol, str) and bool(_CANONICAL_RE.match(symbol))


def canonical_symbol(symbol: str, exchange: str | None = None) -> str:
    """Return the canonical ``BASE-QUOTE`` spelling of ``symbol``.

    Parameters
    ----------
    symbol : str
        ``BTC-KRW``, ``btc/krw``, ``BTC_KRW`` or, on Upbit, the market code ``KRW-BTC``.
    exchange : str, optional
        Exchange the symbol belongs to. Only ``"upbit"`` changes the reading of a hyphenated
        symbol (its market codes put the quote first).

    Returns
    -------
    str
        ``BASE-QUOTE`` in upper case.

    Raises
    ------
    ConfigError
        If the symbol is not two alphanumeric parts joined by ``-``, ``/`` or ``_``
        (derivative suffixes such as ``BTC/USDT:USDT`` are rejected).

    Examples
    --------
    >>> canonical_symbol("btc/krw")
    'BTC-KRW'
    >>> canonical_symbol("KRW-BTC", exchange="upbit")
    'BTC-KRW'
    >>> canonical_symbol("KRW-ETH")
    'ETH-KRW'
    """
    if not isinstance(symbol, str):
        raise ConfigError(
            f"symbol must be a string spelled {_EXPECTED}, got {symbol!r} "
            f"({type(symbol).__name__})",
            field="symbol",
        )
    match = _SYMBOL_RE.match(symbol.strip().upper())
    if match is None:
        raise ConfigError(f"invalid symbol {symbol!r}; expected {_EXPECTED}", field="symbol")
    first, sep, second = match.groups()
    if first == second:
        raise ConfigError(
            f"invalid symbol {symbol!r}: base and quote are both {first!r}; expected {_EXPECTED}",
            field="symbol",
        )
    ex = canonical_exchange(exchange) if exchange is not None else None
    if sep == "-" and _quote_first(first, second, ex):
        first, second = second, first
    return f"{first}-{second}"


def _quote_first(first: str, second: str, exchange: str | None) -> bool:
    """Whether a hyphenated ``first-second`` is an Upbit market code (quote first)."""
    if exchange == "upbit":
        if first not in UPBIT_QUOTES:
            return False
        if second not in UPBIT_QUOTES:
            return True
        return UPBIT_QUOTES.index(first) < UPBIT_QUOTES.index(second)
    if exchange is None:
        return first == "KRW"
    return False


def split_symbol(symbol: str) -> tuple[str, str]:
    """Return ``(base, quote)`` of a canonical or alias symbol.

    Examples
    --------
    >>> split_symbol("BTC/USDT")
    ('BTC', 'USDT')
    """
    base, quote = canonical_symbol(symbol).split("-")
    return base, quote
