"""``reports/index.html``: every report of a batch with its headline metrics, from the registry."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coinbt.storage.common import write_atomic

#: (column, heading, format): fractions shown as percent, ratios with two decimals
COLUMNS = (
    ("total_return", "Return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("win_rate", "Win rate", "pct"),
    ("n_trades", "Trades", "int"),
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}th,td{padding:.35em .7em;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.gain{color:#1a7f37}.loss{color:#cf222e}.failed{color:#cf222e;font-weight:600}
"""


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td class="n">–</td>'
    if fmt == "int":
        return f'<td class="n">{int(value):,}</td>'
    text = f"{value * 100:.2f} %" if fmt == "pct" else f"{value:.2f}"
    # drawdowns are losses: never green
    tone = "loss" if value < 0 else "gain" if value > 0 else ""
    return f'<td class="n {tone}">{html.escape(text)}</td>'


def write_index(out_dir: str | Path, run_ids: Sequence[str]) -> Path:
    """Write ``<out_dir>/index.html`` listing ``run_ids`` (in this order) with links to their
    reports; returns its path."""
    from coinbt.storage import Registry

    folder = Path(out_dir)
    reg = Registry()
    try:
        rows = [reg.run(run_id) for run_id in run_ids]
    finally:
        reg.close()
    lines = []
    for run_id, row in zip(run_ids, rows, strict=True):
        links = " ".join(
            f'<a href="{run_id}{ext}">{label}</a>'
            for ext, label in ((".html", "report"), (".ipynb", "notebook"))
            if (folder / f"{run_id}{ext}").is_file()
        )
        if row is None:
            lines.append(f"<tr><td>{run_id}</td><td colspan=12>not in the registry</td></tr>")
            continue
        status = html.escape(str(row["status"]))
        cls = ' class="failed"' if row["status"] != "finished" else ""
        symbols = ", ".join(row.get("symbols") or [row["symbol"]])
        market = f"{symbols} {row['timeframe']}" + (
            f" · {row['exchange']}" if row.get("exchange") else ""
        )
        what = str(row["strategy"]) + (f" ({row['kind']})" if row["kind"] != "backtest" else "")
        metrics = "".join(_cell(row.get(c), fmt) for c, _, fmt in COLUMNS)
        lines.append(
            f"<tr><td>{links or '–'}</td><td><code>{run_id}</code></td>"
            f"<td>{html.escape(what)}</td><td>{html.escape(market)}</td>"
            f"<td>{html.escape(str(row.get('params') or {}))}</td><td{cls}>{status}</td>"
            f"{metrics}</tr>"
        )
    heads = "".join(f"<th>{h}</th>" for _, h, _ in COLUMNS)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>coinbt reports</title><style>{_STYLE}</style></head><body>"
        f"<h1>coinbt reports</h1><p>{len(run_ids)} report(s), written {now}. Metrics from the "
        "run registry; returns and drawdowns as percent of starting equity (a sweep's or a "
        "comparison's figures are in its report).</p>"
        "<table><thead><tr><th></th><th>Run</th><th>Strategy</th><th>Market</th>"
        f"<th>Parameters</th><th>Status</th>{heads}</tr></thead><tbody>"
        + "".join(lines)
        + "</tbody></table></body></html>"
    )
    path = folder / "index.html"
    write_atomic(path, page.encode())
    return path


__all__ = ["COLUMNS", "write_index"]
