"""A predecessor data root written from the documented formats (legacy_system.md §5.4–5.6).

Every number is chosen so the conversion can be checked by hand; see the comments and
``EXPECTED`` below.  Units as the predecessor wrote them: signal ``return_pct`` a fraction,
symbol ``win_rate`` a fraction, ``avg_return`` and ``max_drawdown`` percent points (§2).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SYNC_MULTI = "0b5d7c3e-1f0a-4c1e-9a51-3c8d2f1e4b6a"  # 1.1.0, two symbols, whole dicts in index
SYNC_V10 = "5e0f2a4b-8c7d-4e6f-9a0b-1c2d3e4f5a6b"  # 1.0: no version/metadata/is_active, "5M"
SYNC_UNLISTED = "c4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70"  # on disk, not in index.json, no signals
SYNC_MISSING = "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d"  # in index.json, no file
TASK_OK = "7a3f9e2d-6c5b-4a4e-9d3c-2b1a0f9e8d7c"  # async, "+00:00Z", null exits, "1M"
TASK_FAILED = "3b4c5d6e-7f80-4912-a3b4-c5d6e7f80912"  # manifest status "failed"
TASK_BAD_MD5 = "e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7"  # result.json edited after the task
EXTRA = "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f"  # added later: a second import adds only it


def _dump(path: Path, value: Any) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(value, indent=2, ensure_ascii=False).encode()
    path.write_bytes(data)
    return data


def _signal(symbol: str, ts: str, entry: float, ret: float | None) -> dict[str, Any]:
    """A legacy signal; ``ret`` is a fraction (None: the async fallback with no exit)."""
    return {
        "symbol": symbol,
        "type": "buy",
        "timestamp": ts,
        "entry_price": entry,
        "exit_price": None if ret is None else round(entry * (1 + ret), 6),
        "return_pct": ret,
    }


def result_multi() -> dict[str, Any]:
    # BTC_KRW returns (%pt) 2, 3, -5, 1, 2: win 4/5, mean 0.6, cumulative 2,5,0,1,3 -> MDD 5
    btc = [0.02, 0.03, -0.05, 0.01, 0.02]
    # KRW-ETH returns 1, -2: win 1/2, mean -0.5, cumulative 1,-1 -> MDD 2
    eth = [0.01, -0.02]
    return {
        "version": "1.1.0",
        "run_id": SYNC_MULTI,
        "strategy": "volume_long_candle",
        "params": {"vol_ma_window": 20, "hold_period_bars": 1},
        "start_date": "2025-01-01",
        "end_date": "2025-03-31",
        "timeframe": "1d",
        "total_signals": 7,
        "execution_time": 0.42,
        "metadata": {
            "execution_date": "2025-04-01T10:00:00Z",
            "environment": "development",
            "execution_host": "local",
        },
        "description": None,
        "symbols": [
            {
                "symbol": "BTC_KRW",
                "is_active": True,
                "win_rate": 0.8,
                "avg_return": 0.6,
                "max_drawdown": 5.0,
                "avg_hold_bars": 1,
                "signals": [
                    _signal("BTC_KRW", f"2025-01-0{k + 1}T00:00:00+00:00", 100.0, r)
                    for k, r in enumerate(btc)
                ],
                "performance_curve": [
                    {"timestamp": "2025-01-01", "equity": 1.02, "drawdown": None}
                ],
            },
            {
                "symbol": "KRW-ETH",
                "is_active": False,
                "win_rate": 0.5,
                "avg_return": -0.5,
                "max_drawdown": 2.0,
                "avg_hold_bars": 1,
                "signals": [
                    _signal("KRW-ETH", f"2025-02-0{k + 1}T00:00:00Z", 5000.0, r)
                    for k, r in enumerate(eth)
                ],
                "performance_curve": None,
            },
        ],
    }


def result_v10() -> dict[str, Any]:
    # 1.0: nine top-level fields, no is_active. Returns 1.5, 0 (%pt): zero is a loss -> win 0.5
    return {
        "run_id": SYNC_V10,
        "strategy": "volume_zone_breakout",
        "params": {"num_bins": 20},
        "start_date": "2024-06-01",
        "end_date": "2024-06-30",
        "timeframe": "5M",
        "total_signals": 2,
        "execution_time": 1.5,
        "symbols": [
            {
                "symbol": "BTC_KRW",
                "win_rate": 0.5,
                "avg_return": 0.75,
                "max_drawdown": 0.0,
                "avg_hold_bars": 3,
                "signals": [
                    _signal("BTC_KRW", "2024-06-03T09:05:00+00:00", 200.0, 0.015),
                    _signal("BTC_KRW", "2024-06-04T09:10:00+00:00", 200.0, 0.0),
                ],
                "performance_curve": None,
            }
        ],
    }


def result_unlisted() -> dict[str, Any]:
    # no signals: the predecessor wrote 0.0 placeholders for every metric
    return {
        "version": "1.1.0",
        "run_id": SYNC_UNLISTED,
        "strategy": "volume_long_candle",
        "params": {},
        "start_date": "2025-05-01",
        "end_date": "2025-05-31",
        "timeframe": "1H",
        "total_signals": 0,
        "execution_time": 0.1,
        "metadata": {"execution_date": "2025-06-01T00:00:00Z"},
        "description": None,
        "symbols": [
            {
                "symbol": "KRW-XRP",
                "is_active": True,
                "win_rate": 0.0,
                "avg_return": 0.0,
                "max_drawdown": 0.0,
                "avg_hold_bars": 1,
                "signals": [],
                "performance_curve": None,
            }
        ],
    }


def result_task_ok() -> dict[str, Any]:
    # async: "+00:00Z" times; returns 4, open, -1 (%pt): win 1/2, mean 1.5, MDD 1
    return {
        "version": "1.1.0",
        "run_id": TASK_OK,
        "strategy": "volume_long_candle",
        "params": {"hold_period_bars": 2},
        "start_date": "2025-02-01",
        "end_date": "2025-02-02",
        "timeframe": "1M",
        "total_signals": 3,
        "execution_time": 2.0,
        "metadata": {"execution_date": "2025-02-03T00:00:05.123456+00:00Z"},
        "description": None,
        "symbols": [
            {
                "symbol": "KRW-SOL",
                "is_active": True,
                "win_rate": 0.5,
                "avg_return": 1.5,
                "max_drawdown": 1.0,
                "avg_hold_bars": 2,
                "signals": [
                    _signal("KRW-SOL", "2025-02-01T00:01:00+00:00Z", 250.0, 0.04),
                    _signal("KRW-SOL", "2025-02-01T00:07:00+00:00Z", 260.0, None),
                    _signal("KRW-SOL", "2025-02-01T00:09:00+00:00Z", 255.0, -0.01),
                ],
                "performance_curve": None,
            }
        ],
    }


def manifest(task_id: str, status: str, result: bytes | None, **extra: Any) -> dict[str, Any]:
    files = []
    if result is not None:
        files = [
            {
                "name": "result.json",
                "path": "result.json",
                "size_bytes": len(result),
                "checksum": hashlib.md5(result).hexdigest(),
            }
        ]
    doc = {
        "task_id": task_id,
        "status": status,
        "strategy": "volume_long_candle",
        "params": {"hold_period_bars": 2},
        "symbols": ["KRW-SOL"],
        "start_date": "2025-02-01",
        "end_date": "2025-02-02",
        "timeframe": "1M",
        "result_files": files,
        "metadata": {
            "started_at": "2025-02-03T00:00:00+00:00Z",
            "finished_at": "2025-02-03T00:00:05+00:00Z",
            "duration_ms": 5000,
            "execution_host": "worker-1",
            "environment": "production",
        },
        "summary": {
            "total_signals": 3,
            "symbols_processed": 1,
            "symbols_failed": 0,
            "average_execution_time_per_symbol_ms": 5000.0,
        },
        "error": {"occurred": False, "message": None},
    }
    doc.update(extra)
    return doc


FAILED_MESSAGE = "Strategy execution failed for KRW-DOGE: Missing required columns"


def write_legacy_root(root: Path) -> dict[str, bytes]:
    """Write ``results/`` and ``tasks/`` under ``root``; returns every file's bytes by path."""
    files: dict[str, bytes] = {}

    def put(rel: str, value: Any) -> bytes:
        files[rel] = _dump(root / rel, value)
        return files[rel]

    multi = result_multi()
    put(f"results/{SYNC_MULTI}.json", multi)
    put(f"results/{SYNC_V10}.json", result_v10())
    put(f"results/{SYNC_UNLISTED}.json", result_unlisted())
    (root / "results" / "broken.json").write_bytes(b"{oops")
    files["results/broken.json"] = b"{oops"

    def item(run_id: str, strategy: str, symbols: list, timeframe: str, n: int) -> dict:
        return {
            "run_id": run_id,
            "strategy": strategy,
            "symbols": symbols,
            "start_date": "2025-01-01",
            "end_date": "2025-03-31",
            "timeframe": timeframe,
            "total_signals": n,
            "execution_time": 0.4,
            "timestamp": "2025-04-01T10:00:01Z",
        }

    put(
        "results/index.json",
        {
            "items": [
                # the §5.5 bug: whole per-symbol result dicts instead of names
                item(SYNC_MULTI, "volume_long_candle", multi["symbols"], "1d", 7),
                item(SYNC_V10, "volume_zone_breakout", ["BTC_KRW"], "5M", 2),
                item(SYNC_MISSING, "volume_long_candle", ["BTC_KRW"], "1d", 0),
            ]
        },
    )

    ok = put(f"tasks/{TASK_OK}/result.json", result_task_ok())
    put(f"tasks/{TASK_OK}/manifest.json", manifest(TASK_OK, "completed", ok))

    put(
        f"tasks/{TASK_FAILED}/manifest.json",
        manifest(
            TASK_FAILED,
            "failed",
            None,
            symbols=["KRW-DOGE"],
            timeframe="5M",
            summary={"total_signals": 0, "symbols_processed": 0, "symbols_failed": 1},
            error={"occurred": True, "message": FAILED_MESSAGE},
        ),
    )

    bad = result_task_ok() | {"run_id": TASK_BAD_MD5}
    original = json.dumps(bad, indent=2).encode()
    put(f"tasks/{TASK_BAD_MD5}/manifest.json", manifest(TASK_BAD_MD5, "completed", original))
    bad["symbols"][0]["signals"][0]["return_pct"] = 0.4  # edited after the manifest was written
    put(f"tasks/{TASK_BAD_MD5}/result.json", bad)
    return files


def write_extra(root: Path) -> bytes:
    """One more sync result, written after a first import (not added to index.json)."""
    doc = result_v10() | {"run_id": EXTRA, "timeframe": "15M"}
    return _dump(root / "results" / f"{EXTRA}.json", doc)
