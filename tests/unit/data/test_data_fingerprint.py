"""bars_fingerprint: documented layout, sensitivity, stability across processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd

from coinbt.data import bars_fingerprint, load_bars


def _with_attrs(bars: pd.DataFrame, **attrs: str) -> pd.DataFrame:
    bars = bars.copy()
    bars.attrs = {"symbol": "ABC-USDT", "exchange": "testex", "timeframe": "1h", **attrs}
    return bars


def test_matches_the_documented_recipe(bars_factory) -> None:
    bars = _with_attrs(bars_factory())
    header = {"v": 1, "symbol": "ABC-USDT", "exchange": "testex", "timeframe": "1h", "rows": 10}
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    h.update(bars.index.asi8.astype("<i8").tobytes())
    for col in ("open", "high", "low", "close", "volume"):
        h.update(bars[col].to_numpy().astype("<f8").tobytes())
    assert bars_fingerprint(bars) == h.hexdigest()[:16]
    assert bars_fingerprint(bars, length=64) == h.hexdigest()


def test_changes_with_data_and_identity(bars_factory) -> None:
    base = _with_attrs(bars_factory())
    fp = bars_fingerprint(base)
    price = base.copy()
    price.iloc[5, 3] += 1e-9
    shifted = base.copy()
    shifted.index = shifted.index + pd.Timedelta("1h")
    assert (
        len(
            {
                fp,
                bars_fingerprint(price),
                bars_fingerprint(shifted),
                bars_fingerprint(_with_attrs(bars_factory(), symbol="ABC-USDC")),
                bars_fingerprint(_with_attrs(bars_factory(), exchange="other")),
                bars_fingerprint(_with_attrs(bars_factory(), timeframe="4h")),
                bars_fingerprint(base.iloc[:-1]),
            }
        )
        == 7
    )


def test_ignores_representation_details(bars_factory) -> None:
    base = _with_attrs(bars_factory())
    reordered = base[["volume", "close", "open", "low", "high"]].copy()
    reordered.attrs = dict(base.attrs, validation={"ok": True})
    seoul = base.copy()
    seoul.index = seoul.index.tz_convert("Asia/Seoul")
    zeros = base.copy()
    zeros["volume"] = 0.0
    negzeros = base.copy()
    negzeros["volume"] = -0.0
    assert bars_fingerprint(reordered) == bars_fingerprint(base)
    assert bars_fingerprint(seoul) == bars_fingerprint(base)
    assert bars_fingerprint(zeros) == bars_fingerprint(negzeros)
    nan_a, nan_b = base.copy(), base.copy()
    nan_a.iloc[0, 0] = np.nan
    nan_b.iloc[0, 0] = -np.nan
    assert bars_fingerprint(nan_a) == bars_fingerprint(nan_b)


def test_stable_across_processes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COINBT_DATA_ROOT", str(tmp_path))
    bars = load_bars("BTC-USD", "1h", "2018-01-15", "2018-01-16", exchange="coinbase")
    code = (
        "from coinbt.data import load_bars, bars_fingerprint;"
        "print(bars_fingerprint(load_bars('BTC-USD', '1h', '2018-01-15', '2018-01-16', "
        "exchange='coinbase')))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
        cwd=tmp_path,
    )
    assert other.stdout.strip() == bars_fingerprint(bars)
