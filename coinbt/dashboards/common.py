"""What every dashboard shares: the read-only registry, page links, query strings, HTML tables.

Dashboards are Voila apps (``notebooks/dashboards/*.ipynb``); a view opens another by a link
with a query string (``run.ipynb?run=<id>``), which Voila hands to the new kernel as
``$QUERY_STRING``.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pandas as pd

from coinbt.errors import ConfigError

#: the registry dashboards read (``coinbt dashboard --registry-url`` sets it)
REGISTRY_ENV = "COINBT_DASHBOARD_REGISTRY_URL"

#: fractions shown as percent in tables
PERCENT = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure", "return"}

CSS = """
<style>
.cbt-table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
.cbt-table th{position:sticky;top:0;background:#f4f4f4;text-align:left;padding:4px 8px}
.cbt-table td{padding:3px 8px;border-bottom:1px solid #e5e5e5;white-space:nowrap}
.cbt-table td.n{text-align:right}
.cbt-gain{color:#1a7f37}.cbt-loss{color:#cf222e}
.cbt-scroll{max-height:520px;overflow:auto}
</style>
"""


def readonly_url(url: str) -> str:
    """The registry URL opened read-only: SQLite as a ``mode=ro`` URI, PostgreSQL with
    ``default_transaction_read_only`` (use a read-only role as well: docs/operations.md)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if not db or db == ":memory:" or db.startswith("file:"):
            return url
        return f"sqlite:///file:{os.path.abspath(os.path.expanduser(db))}?mode=ro&uri=true"
    if parsed.get_backend_name() == "postgresql":
        options = parsed.query.get("options", "")
        extra = "-c default_transaction_read_only=on"
        if extra not in options:
            options = f"{options} {extra}".strip()
        return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    return url


def open_registry(url: str | None = None) -> Any:
    """The registry the dashboards read: ``url``, ``$COINBT_DASHBOARD_REGISTRY_URL`` or
    ``$COINBT_REGISTRY_URL`` (or the embedded default), opened read-only."""
    from coinbt import settings
    from coinbt.storage import Registry

    chosen = url or os.environ.get(REGISTRY_ENV) or settings.registry_url()
    ro = readonly_url(chosen)
    if ro.startswith("sqlite:///file:") and "mode=ro" in ro:
        path = Path(ro[len("sqlite:///file:") :].split("?", 1)[0])
        if not path.is_file():
            raise ConfigError(
                f"registry {path} does not exist: record runs first (coinbt backtest --save, "
                "coinbt demo) or point --registry-url at your registry",
                field="registry_url",
            )
    return Registry(ro)


def query_params(query: str | None = None) -> dict[str, str]:
    """The page's query string (``$QUERY_STRING`` under Voila) as ``{name: last value}``."""
    text = os.environ.get("QUERY_STRING", "") if query is None else query
    return {k: v[-1] for k, v in parse_qs(text.lstrip("?")).items()}


def link(page: str, **params: Any) -> str:
    """A relative link to another dashboard: ``run.ipynb?run=<id>``."""
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    flat = {k: ",".join(v) if isinstance(v, list | tuple) else v for k, v in clean.items()}
    return f"{page}.ipynb" + (f"?{urlencode(flat)}" if flat else "")


def fmt(column: str, value: Any) -> str:
    """One table cell's text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if column in PERCENT and isinstance(value, int | float):
        return f"{100 * value:,.2f} %"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def tone(column: str, value: Any, signed: Iterable[str]) -> str:
    """``cbt-gain`` / ``cbt-loss`` for signed columns (drawdowns are never gains)."""
    if column not in signed or not isinstance(value, int | float) or value != value:
        return ""
    return "cbt-loss" if value < 0 else "cbt-gain" if value > 0 else ""


def html_table(
    frame: pd.DataFrame,
    *,
    signed: Iterable[str] = (),
    links: Mapping[str, Sequence[str]] | None = None,
    table_id: str = "",
    scroll: bool = True,
) -> str:
    """``frame`` as an HTML table: numbers right-aligned and formatted, ``signed`` columns
    green when positive and red when negative, ``links`` = ``{column: [href per row]}``
    turning that column's cells into links."""
    signed = set(signed)
    links = dict(links or {})
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for i, record in enumerate(frame.itertuples(index=False)):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            text = html.escape(fmt(column, value))
            if column in links:
                href = html.escape(links[column][i])
                text = f'<a href="{href}" target="_self">{text}</a>'
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            classes = " ".join(
                c for c in ("n" if numeric else "", tone(column, value, signed)) if c
            )
            cells.append(f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    table = (
        f'<table class="cbt-table"{ident}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return CSS + (f'<div class="cbt-scroll">{table}</div>' if scroll else table)


def require(value: Any, what: str, hint: str) -> Any:
    """``value``, or a ConfigError saying what the page needs."""
    if value in (None, "", []):
        raise ConfigError(f"this view needs {what}; {hint}")
    return value


__all__ = [
    "PERCENT",
    "REGISTRY_ENV",
    "fmt",
    "html_table",
    "link",
    "open_registry",
    "query_params",
    "readonly_url",
    "require",
    "tone",
]
