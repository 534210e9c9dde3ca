"""``coinbt sweep`` on its own parser: JSON output, tables, files and one-line errors."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd
import pytest

import coinbt
from coinbt.cli import sweep_cmd
from coinbt.errors import CoinbtError

BASE = [
    "sweep",
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
]


def run(argv: list[str]) -> int:
    """What ``coinbt.cli.main.main`` does with a CoinbtError: one line on stderr, exit 2."""
    parser = argparse.ArgumentParser(prog="coinbt")
    sweep_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CoinbtError as exc:
        print(f"coinbt: error: {exc}", file=sys.stderr)
        return 2


def test_json_output_has_trial_count_best_dsr_and_top(capsys):
    code = run(
        [
            *BASE,
            "--grid",
            "window=10:40:4",
            "--grid",
            "vol_mult=0,1.5",
            "--fee-rate",
            "0.0005",
            "--top",
            "3",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_trials"] == 8 and out["search"] == "grid"
    assert out["swept"] == ["window", "vol_mult"]
    assert len(out["top"]) == 3
    assert out["top"][0]["trial"] == out["best"]["trial"]
    assert [r["sharpe"] for r in out["top"]] == sorted(
        (r["sharpe"] for r in out["top"]), reverse=True
    )
    assert out["deflated_sharpe"]["n_trials"] == 8
    # the best trial is a single backtest with the same settings
    single = coinbt.backtest(
        "sma_cross",
        "BTC-USDT",
        "1h",
        "2023-01-01",
        "2023-03-31",
        exchange="binance",
        fee_rate=0.0005,
        params={"window": out["best"]["window"], "vol_mult": out["best"]["vol_mult"]},
    )
    assert out["best"]["run_id"] == single.run_id
    assert out["best"]["sharpe"] == single.stats["sharpe"]


def test_text_output_and_trials_file(tmp_path, capsys):
    path = tmp_path / "trials.csv"
    code = run(
        [
            *BASE,
            "--grid",
            "window=12,24",
            "--random",
            "2",
            "--seed",
            "4",
            "--metric",
            "total_return",
            "--out",
            str(path),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "2 trials (random, seed 4)" in out
    assert "top 2 by total_return" in out
    assert "best of 2 trials" in out and "deflated Sharpe ratio" in out
    trials = pd.read_csv(path)
    assert len(trials) == 2 and set(trials["window"]) == {12, 24}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "windw=10"], "unknown parameter 'windw'"),
        (["--grid", "window=1,10"], "must be ≥ 2, got 1"),
        (["--grid", "window=10", "--metric", "sharp"], "Did you mean 'sharpe'"),
        (["--grid", "window=10", "--out", "trials.xlsx"], "--out must end in .parquet or .csv"),
        (["--grid", "vol_mult=1:2"], "has no count"),
        (["--grid", "window=10", "--jobs", "0"], "n_jobs must be >= 1"),
        ([], "the grid is empty"),
    ],
)
def test_user_mistakes_print_one_line(extra, message, capsys):
    code = run([*BASE, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("coinbt: error: ") and message in err
    assert err.count("\n") == 1


def test_missing_symbols_are_reported_together(capsys):
    code = run(
        [
            "sweep",
            "--strategy",
            "sma_cross",
            "--symbol",
            "BTC-USDT",
            "--symbol",
            "NOPE-USDT",
            "--symbol",
            "XYZ-ABC",
            "--timeframe",
            "1h",
            "--grid",
            "window=10",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "2 of 3 requested symbol(s) unavailable" in err
    assert "NOPE-USDT" in err and "XYZ-ABC" in err


def test_help_describes_grid_forms(capsys):
    with pytest.raises(SystemExit) as exc:
        run(["sweep", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "lo:hi:count" in out and "--fee-rate" in out and "--random" in out
