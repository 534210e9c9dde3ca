"""A self-contained HTML report of one run, plus its tables as Parquet/JSON."""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from coinbt.results.format import stats_rows

if TYPE_CHECKING:
    from coinbt.results.result import BacktestResult


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(result: BacktestResult, root: str | Path) -> Path:
    """Write ``<root>/<run_id>/`` with ``report.html``, ``spec.json``, ``stats.json``,
    ``trades.parquet`` and ``equity.parquet``; return the report path.

    Every file is written to a temporary name and renamed, so a crash never leaves a
    half-written file; writing the same run again replaces it with identical content.
    """
    folder = Path(root) / result.run_id
    _atomic_write(folder / "spec.json", result.spec.to_json().encode())
    _atomic_write(folder / "stats.json", json.dumps(result.stats, indent=2).encode())
    for name, frame in (("trades", result.trades), ("equity", result.equity)):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            frame.to_parquet(tmp)
            os.replace(tmp, folder / f"{name}.parquet")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    fig = result.plot()
    spec = result.spec
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in stats_rows(result.stats)
    )
    trades = result.trades.tail(50).to_html(index=False, float_format=lambda x: f"{x:.6g}")
    title = f"{spec.strategy} · {spec.exchange} {spec.symbol} {spec.timeframe}"
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>coinbt {html.escape(result.run_id)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:13px}}td,th{{padding:2px 8px;text-align:right}}
th{{text-align:left}}tr:nth-child(even){{background:#f4f4f4}}code{{font-size:12px}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>run <code>{html.escape(result.run_id)}</code> · bars {spec.data_start} → {spec.data_end}
({spec.bars}) · fill {spec.engine["fill"]} · fee {spec.engine["fee_rate"]} per side</p>
<h2>Statistics</h2><table>{rows}</table>
{fig.to_html(full_html=False, include_plotlyjs=True)}
<h2>Last trades</h2>{trades}
<h2>Spec</h2><pre>{html.escape(json.dumps(spec.to_dict(), indent=2))}</pre>
</body></html>"""
    path = folder / "report.html"
    _atomic_write(path, page.encode())
    return path
