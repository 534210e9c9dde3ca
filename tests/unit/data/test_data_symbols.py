"""Symbol spelling: one canonical BASE-QUOTE form, aliases resolved per exchange."""

from __future__ import annotations

import pytest

from coinbt.data import canonical_symbol, load_bars
from coinbt.data.symbols import canonical_exchange, split_symbol
from coinbt.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "exchange", "expected"),
    [
        ("BTC-KRW", None, "BTC-KRW"),
        ("BTC/KRW", None, "BTC-KRW"),  # ccxt
        ("BTC_KRW", None, "BTC-KRW"),  # predecessor
        ("btc/krw", None, "BTC-KRW"),  # lower case
        (" eth-usdt ", None, "ETH-USDT"),
        ("KRW-BTC", "upbit", "BTC-KRW"),  # Upbit market code, quote first
        ("KRW-BTC", "Upbit", "BTC-KRW"),
        ("BTC-KRW", "upbit", "BTC-KRW"),  # already canonical stays
        ("USDT-BTC", "upbit", "BTC-USDT"),
        ("BTC-ETH", "upbit", "ETH-BTC"),  # Upbit BTC market
        ("KRW-USDT", "upbit", "USDT-KRW"),
        ("BTC/KRW", "upbit", "BTC-KRW"),  # ccxt spelling on upbit is base first
        ("KRW-ETH", None, "ETH-KRW"),  # no exchange: KRW first means an Upbit code
        ("BTC-USDT", None, "BTC-USDT"),  # not reversed without exchange
        ("USDT-BTC", "binance", "USDT-BTC"),  # only upbit reverses
        ("1INCH/USDT", None, "1INCH-USDT"),
    ],
)
def test_aliases_resolve_to_base_quote(raw: str, exchange: str | None, expected: str) -> None:
    assert canonical_symbol(raw, exchange) == expected


@pytest.mark.parametrize(
    "bad", ["BTCUSDT", "BTC-", "-USDT", "BTC/USDT:USDT", "BTC-USDT-X", "", "BTC-BTC"]
)
def test_bad_spelling_names_value_and_expected_form(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        canonical_symbol(bad)
    assert repr(bad) in str(info.value)
    assert "BASE-QUOTE" in str(info.value)
    assert info.value.field == "symbol"


def test_non_string_symbol_is_rejected() -> None:
    with pytest.raises(ConfigError, match="symbol must be a string"):
        canonical_symbol(42)  # type: ignore[arg-type]


def test_exchange_names_are_lower_case() -> None:
    assert canonical_exchange(" Binance ") == "binance"
    with pytest.raises(ConfigError, match="invalid exchange name 'bin ance'"):
        canonical_exchange("bin ance")


def test_split_symbol() -> None:
    assert split_symbol("eth_btc") == ("ETH", "BTC")


def test_every_alias_loads_the_same_bundled_upbit_series(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("COINBT_DATA_ROOT", str(tmp_path / "empty"))
    frames = [
        load_bars(alias, "1d", "2024-03-01", "2024-03-05", exchange="upbit")
        for alias in ("KRW-BTC", "BTC/KRW", "BTC_KRW", "btc-krw")
    ]
    assert all(f.attrs["symbol"] == "BTC-KRW" for f in frames)
    assert len(frames[0]) == 5
    for other in frames[1:]:
        assert other.equals(frames[0])
    # without exchange, KRW-BTC is read as the Upbit code too
    assert load_bars("KRW-BTC", "1d", "2024-03-01", "2024-03-05").equals(frames[0])
