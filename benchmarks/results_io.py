"""Saving a benchmark suite's report: ``benchmarks/results/<suite>-<UTC stamp>.json`` and
``<suite>-latest.json`` (plus an optional extra path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def report_header(suite: str) -> dict[str, Any]:
    """The opening keys of a suite's report: its name, when, and the machine it ran on."""
    import os
    import platform

    import coinbt

    return {
        "suite": suite,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "coinbt": coinbt.__version__,
            "load_avg_1min_start": os.getloadavg()[0],
        },
    }


def save_report(suite: str, report: Any, extra_path: str | None = None) -> str:
    """Write the report as JSON; returns the line to print about it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    payload = json.dumps(report, indent=2, default=str)
    for path in (RESULTS / f"{suite}-{stamp}.json", RESULTS / f"{suite}-latest.json"):
        path.write_text(payload)
    if extra_path:
        Path(extra_path).write_text(payload)
    return f"wrote benchmarks/results/{suite}-{stamp}.json and {suite}-latest.json"
