"""The coinbt command line: --help everywhere, readable output, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coinbt.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[3]


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if env is None:
        env = {**os.environ, "COINBT_REPORTS_DIR": str((cwd or REPO) / "reports")}
    return subprocess.run(
        [sys.executable, "-m", "coinbt.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=300,
    )


def all_commands() -> list[list[str]]:
    parser = build_parser()
    out: list[list[str]] = [[]]
    stack: list[tuple[list[str], object]] = [([], parser)]
    while stack:
        prefix, p = stack.pop()
        for action in p._actions:  # type: ignore[attr-defined]
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    out.append([*prefix, name])
                    stack.append(([*prefix, name], sub))
    return out


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "coinbt")
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: coinbt" in capsys.readouterr().out


def test_backtest_prints_a_stats_table(capsys):
    code = main(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--symbol",
            "BTC-USDT",
            "--timeframe",
            "1h",
            "--exchange",
            "binance",
            "--start",
            "2023-01-01",
            "--end",
            "2023-03-31",
            "--param",
            "window=30",
            "--fee-rate",
            "0.0005",
            "--stop-loss",
            "0.03",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "total_return" in out and "sharpe" in out and "max_drawdown" in out
    assert "2023-01-01T00:00:00+00:00 → 2023-03-31T23:00:00+00:00" in out


def test_backtest_json_has_spec_run_id_stats_and_counts(capsys):
    code = main(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--symbol",
            "btc/usdt",
            "--timeframe",
            "1h",
            "--exchange",
            "binance",
            "--end",
            "2021-12-31",
            "--cash",
            "5000",
            "--short",
            "--close-at-end",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"run_id", "spec", "stats", "n_trades", "signals"}
    assert out["spec"]["symbol"] == "BTC-USDT"
    assert out["spec"]["engine"]["init_cash"] == 5000.0
    assert out["spec"]["engine"]["short"] is True and out["spec"]["engine"]["close_at_end"] is True
    assert out["stats"]["n_open_positions"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbol", "BTC-USDX"], "BTC-USDX"),
        (["--timeframe", "1hour"], "unknown timeframe '1hour'"),
        (["--param", "windw=5"], "Did you mean 'window'?"),
        (["--param", "window=abc"], "must be int, got 'abc'"),
        (["--fee-rate", "-0.01"], "fee_rate must be a fraction in [0, 1)"),
        (["--start", "2030-01-01"], "2030-01-01"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_2(args, message):
    base = {
        "--strategy": "sma_cross",
        "--symbol": "BTC-USDT",
        "--timeframe": "1h",
        "--exchange": "binance",
    }
    for flag in args[::2]:
        base.pop(flag, None)
    argv = ["backtest", *[x for kv in base.items() for x in kv], *args]
    proc = run_cli(*argv)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coinbt: error: ")
    assert message in lines[0]


def test_strategies_lists_parameters():
    proc = run_cli("strategies")
    assert proc.returncode == 0
    assert "sma_cross" in proc.stdout and "window: int = 20" in proc.stdout


def test_demo_reports_both_strategies_on_bundled_markets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINBT_")}
    proc = run_cli("demo", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    index = Path(proc.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert index == tmp_path / "reports" / "index.html" and index.is_file()
    page = index.read_text()
    assert page.count("volume_long_candle") == 4
    assert page.count("volume_zone_breakout") == 5  # 4 backtests and the sweep
    links = re.findall(r'href="([0-9a-f]{16})\.html"', page)
    assert len(set(links)) == 9
    assert re.search(r"^sweep [0-9a-f]{16}: volume_zone_breakout BTC-USDT 1h binance", proc.stdout,
                     re.M)  # fmt: skip
    for run_id in links:
        assert (tmp_path / "reports" / f"{run_id}.html").stat().st_size > 10_000
        assert (tmp_path / "reports" / f"{run_id}.ipynb").is_file()
    registry = tmp_path / ".coinbt" / "registry.db"
    assert registry.is_file()  # the embedded default registry, relative to where it ran
    for market in ("BTC-USDT 1h binance", "ETH-USDT 1h binance", "BTC-USD 1h coinbase"):
        assert market in proc.stdout
