"""``coinbt data`` subcommands, driven through a parser built like the lead's main()."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from coinbt.cli import data_cmd
from coinbt.errors import ConfigError, DataError


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coinbt")
    sub = parser.add_subparsers(dest="command", required=True)
    data_cmd.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_every_subcommand_has_help_and_a_handler() -> None:
    parser = argparse.ArgumentParser(prog="coinbt")
    sub = parser.add_subparsers(dest="command")
    data_cmd.register(sub)
    data_parser = sub.choices["data"]
    inner = next(a for a in data_parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(inner.choices) == {"list", "validate", "import", "fetch", "refresh"}
    helps = {a.dest: a.help for a in inner._choices_actions}
    assert all(helps[name] for name in inner.choices)
    handlers = {name: p.get_default("func") for name, p in inner.choices.items()}
    assert handlers == {
        "list": data_cmd.cmd_list,
        "validate": data_cmd.cmd_validate,
        "import": data_cmd.cmd_import,
        "fetch": data_cmd.cmd_fetch,
        "refresh": data_cmd.cmd_refresh,
    }


def test_list_prints_the_catalog(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["data", "list", "--exchange", "upbit"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "exchange",
        "symbol",
        "timeframe",
        "start",
        "(UTC)",
        "end",
        "(UTC)",
        "rows",
        "last",
        "fetched",
    ]
    assert lines[2].split() == [
        "upbit",
        "BTC-KRW",
        "1d",
        "2024-01-01",
        "00:00",
        "2025-12-27",
        "00:00",
        "704",
        "-",  # never fetched through ccxt
    ]
    assert "binance" not in out
    assert _run(["data", "list", "--symbol", "NOPE-USDT"]) == 0
    assert "no datasets match" in capsys.readouterr().out


def test_validate_exit_codes(
    data_root: Path, bars_factory, write_bars, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _run(
            [
                "data",
                "validate",
                "BTC/USDT",
                "--timeframe",
                "1h",
                "--exchange",
                "binance",
                "--start",
                "2021-08-13",
                "--end",
                "2021-08-13",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "20 bars" in out
    assert "WARNING 1 gap(s), 4 missing bar(s)" in out
    assert out.rstrip().endswith("result: ok")

    bad = bars_factory("2024-01-01", 5, "1h")
    bad.iloc[3, bad.columns.get_loc("close")] = 1000.0  # above high
    write_bars(data_root, "testex", "ABC-USDT", "1h", bad)
    assert _run(["data", "validate", "ABC-USDT", "--timeframe", "1h"]) == 1
    out = capsys.readouterr().out
    assert "ERROR   1 bar(s) with high < max(open, close), first at 2024-01-01 03:00 UTC" in out


def test_validate_user_mistake_raises(data_root: Path) -> None:
    with pytest.raises(DataError, match="unknown symbol 'BTC-USTD'"):
        _run(["data", "validate", "BTC-USTD", "--timeframe", "1h"])


def test_import_with_column_map(
    data_root: Path, tmp_path: Path, bars_factory, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = bars_factory("2024-01-01", 4, "1h")
    frame = pd.DataFrame(
        {
            "Open time": bars.index.asi8 // 10**6,
            "O": bars["open"],
            "H": bars["high"],
            "L": bars["low"],
            "C": bars["close"],
            "Base vol": bars["volume"],
        }
    )
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    code = _run(
        [
            "data",
            "import",
            str(path),
            "--exchange",
            "testex",
            "--symbol",
            "abc/usdt",
            "--timeframe",
            "1h",
            "--map",
            "Base vol=volume",
            "--time-unit",
            "ms",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "4 rows read, 4 added" in out
    assert (data_root / "testex" / "ABC-USDT" / "1h" / "2024.parquet").is_file()


def test_bad_map_pair(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="--map expects SOURCE=TARGET"):
        _run(
            [
                "data",
                "import",
                str(path),
                "--exchange",
                "t",
                "--symbol",
                "A-B",
                "--timeframe",
                "1h",
                "--map",
                "volume",
            ]
        )
