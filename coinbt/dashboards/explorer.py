"""Runs explorer: filter stored runs, page through them, open one, pick some to compare.

Filtering, sorting and paging happen in the database (:meth:`Registry.runs` with ``limit`` and
``offset``, :meth:`Registry.count`), so a page costs the same with a hundred runs or a hundred
thousand.  :class:`RunFilter` and :func:`fetch_page` are the state and the query;
:class:`RunsExplorer` puts ipywidgets on them.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from coinbt.dashboards.common import html_table, link, open_registry
from coinbt.errors import ConfigError

#: columns of the runs table, in order
COLUMNS = (
    "run_id", "created", "kind", "strategy", "symbol", "timeframe", "status", "total_return",
    "sharpe", "max_drawdown", "n_trades", "win_rate",
)  # fmt: skip
#: what the table can be sorted by
SORTABLE = ("created", "total_return", "sharpe", "cagr", "max_drawdown", "n_trades", "win_rate",
            "strategy", "symbol")  # fmt: skip
SIGNED = ("total_return", "sharpe", "max_drawdown")
#: filters whose choices are the registry's distinct values
_CHOICES = ("strategy", "symbol", "timeframe", "kind", "status")


@dataclass(frozen=True)
class RunFilter:
    """What the explorer shows.  Thresholds: ``min_return`` and ``min_drawdown`` are
    fractions (``-0.3`` keeps runs whose max drawdown is no worse than -30 %)."""

    strategy: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    kind: str | None = None
    status: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    tags: tuple[str, ...] = ()
    min_sharpe: float | None = None
    min_return: float | None = None
    min_drawdown: float | None = None
    min_trades: int | None = None
    order_by: str = "created"
    descending: bool = True
    page: int = 0
    page_size: int = 50

    def where(self) -> dict[str, tuple[str, Any]]:
        pairs = (
            ("sharpe", self.min_sharpe),
            ("total_return", self.min_return),
            ("max_drawdown", self.min_drawdown),
            ("n_trades", self.min_trades),
        )
        return {column: (">=", value) for column, value in pairs if value is not None}

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Registry.runs` and :meth:`Registry.count`."""
        until = None if self.until is None else self.until + dt.timedelta(days=1)
        return {
            "strategy": self.strategy,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "kind": self.kind,
            "status": self.status,
            "since": None if self.since is None else pd.Timestamp(self.since, tz="UTC"),
            "until": None if until is None else pd.Timestamp(until, tz="UTC"),
            "tags": list(self.tags) or None,
            "where": self.where() or None,
        }


@dataclass(frozen=True)
class Page:
    """One page of runs: ``rows`` (the :data:`COLUMNS` plus ``params``), ``total`` matching
    runs, ``page`` (from 0) and ``pages``."""

    rows: pd.DataFrame
    total: int
    page: int
    pages: int
    query: RunFilter = field(default_factory=RunFilter)


def fetch_page(registry: Any, query: RunFilter) -> Page:
    """The page of runs ``query`` asks for (a page past the end gives the last one)."""
    filters = query.filters()
    total = registry.count(**filters)
    pages = max(1, math.ceil(total / query.page_size))
    page = min(max(query.page, 0), pages - 1)
    order = ("-" if query.descending else "") + query.order_by
    rows = registry.runs(
        **filters, order_by=order, limit=query.page_size, offset=page * query.page_size
    )
    keep = [c for c in (*COLUMNS, "params") if c in rows.columns]
    return Page(rows[keep].reset_index(drop=True), total, page, pages, replace(query, page=page))


def open_href(row: Any) -> str:
    """Where a run's row leads: a sweep to the sweep view, a comparison to the compare view
    of its runs, anything else to the run view."""
    if row["kind"] == "sweep":
        return link("sweep", run=row["run_id"])
    if row["kind"] == "compare":
        return link("compare", runs=list((row.get("params") or {}).get("runs", [])))
    return link("run", run=row["run_id"])


def page_html(page: Page) -> str:
    """The page as a table whose run ids open the run."""
    frame = page.rows[[c for c in COLUMNS if c in page.rows.columns]].copy()
    hrefs = [open_href(r) for r in page.rows.to_dict("records")]
    frame["run_id"] = frame["run_id"].str.slice(0, 12)
    return html_table(frame, signed=SIGNED, links={"run_id": hrefs}, table_id="runs-table")


class RunsExplorer:
    """The explorer's widgets over a registry: filters, sort, pager, table, compare picker.

    Every control re-queries on change (back to the first page); ``widget`` is what the
    notebook displays.  Set ``.controls[name].value`` in tests and read ``.page``.
    """

    def __init__(self, registry: Any = None, page_size: int = 50) -> None:
        import ipywidgets as w

        self.registry = registry if registry is not None else open_registry()
        self.page_size = page_size

        box = {"layout": w.Layout(width="200px"), "style": {"description_width": "70px"}}
        c: dict[str, Any] = {
            name: w.Dropdown(options=self._choices(name), description=name, **box)
            for name in _CHOICES
        }
        c.update({
            "since": w.DatePicker(description="from", **box),
            "until": w.DatePicker(description="to", **box),
            "tags": w.Text(description="tags", placeholder="a, b", **box),
            "min_sharpe": w.Text(description="sharpe ≥", placeholder="1.0", **box),
            "min_return": w.Text(description="return % ≥", placeholder="10", **box),
            "min_drawdown": w.Text(description="max dd % ≥", placeholder="-30", **box),
            "min_trades": w.Text(description="trades ≥", placeholder="20", **box),
            "order_by": w.Dropdown(options=SORTABLE, value="created", description="sort", **box),
            "descending": w.Checkbox(value=True, description="descending", indent=False),
        })  # fmt: skip
        self.controls = c
        self.status = w.HTML()
        self.table = w.HTML()
        self.prev = w.Button(description="◀ previous", layout=w.Layout(width="110px"))
        self.next = w.Button(description="next ▶", layout=w.Layout(width="110px"))
        self.pick = w.SelectMultiple(description="compare", rows=6, layout=w.Layout(width="520px"))
        self.compare_link = w.HTML()
        self._page_no = 0
        self._quiet = False  # set while reload() swaps the choices
        self.page: Page | None = None
        for control in c.values():
            control.observe(self._changed, names="value")
        self.prev.on_click(lambda _: self._go(-1))
        self.next.on_click(lambda _: self._go(+1))
        self.pick.observe(self._picked, names="value")
        rows = [
            w.HBox([c["strategy"], c["symbol"], c["timeframe"], c["kind"], c["status"]]),
            w.HBox([c["since"], c["until"], c["tags"], c["order_by"], c["descending"]]),
            w.HBox([c["min_sharpe"], c["min_return"], c["min_drawdown"], c["min_trades"]]),
            w.HBox([self.prev, self.next, self.status]),
            self.table,
            w.HBox([self.pick, self.compare_link]),
        ]
        self.widget = w.VBox(rows)
        self.refresh()

    def _choices(self, column: str) -> list[tuple[str, Any]]:
        # "" stands for any: a Dropdown shows no label for the value None
        return [("any", "")] + [(str(v), v) for v in self.registry.distinct(column)]

    def reload(self) -> None:
        """Read the filter choices again, then :meth:`refresh` (what a page view does when
        the explorer was built in a preheated kernel)."""
        self._quiet = True
        try:
            for name in _CHOICES:
                control = self.controls[name]
                chosen = control.value
                control.options = self._choices(name)
                control.value = chosen if chosen in dict(control.options).values() else ""
        finally:
            self._quiet = False
        self.refresh()

    def filter(self) -> RunFilter:
        """The filter the controls describe."""
        c = self.controls

        def number(name: str, scale: float = 1.0) -> float | None:
            text = (c[name].value or "").strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(
                    f"{c[name].description} {text!r} is not a number; type one such as "
                    f"{c[name].placeholder}, or leave it empty"
                ) from None
            return value / scale

        tags = tuple(t.strip() for t in (c["tags"].value or "").split(",") if t.strip())
        return RunFilter(
            strategy=c["strategy"].value or None,
            symbol=c["symbol"].value or None,
            timeframe=c["timeframe"].value or None,
            kind=c["kind"].value or None,
            status=c["status"].value or None,
            since=c["since"].value,
            until=c["until"].value,
            tags=tags,
            min_sharpe=number("min_sharpe"),
            min_return=number("min_return", 100.0),
            min_drawdown=number("min_drawdown", 100.0),
            min_trades=None if (t := number("min_trades")) is None else math.ceil(t),
            order_by=c["order_by"].value,
            descending=bool(c["descending"].value),
            page=self._page_no,
            page_size=self.page_size,
        )

    def refresh(self) -> None:
        """Query the registry and redraw the table, pager and compare picker (a threshold
        that is not a number is reported in the status line, the table left as it was)."""
        try:
            query = self.filter()
        except ConfigError as exc:
            self.status.value = f'<span class="cbt-loss">{html.escape(str(exc))}</span>'
            return
        page = fetch_page(self.registry, query)
        self.page, self._page_no = page, page.page
        self.table.value = page_html(page)
        first = page.page * page.query.page_size
        shown = f"{first + 1:,}–{first + len(page.rows):,}" if len(page.rows) else "0"
        self.status.value = (
            f"<b>{page.total:,}</b> runs · showing {shown} · page {page.page + 1} of {page.pages}"
        )
        self.prev.disabled = page.page == 0
        self.next.disabled = page.page >= page.pages - 1
        backtests = page.rows[page.rows["kind"].isin(["backtest", "sweep_trial", "legacy"])]
        self.pick.options = [
            (f"{r.run_id[:12]} {r.strategy} {r.symbol} {r.timeframe}", r.run_id)
            for r in backtests.itertuples()
        ]
        self._picked()

    def _changed(self, _change: Any = None) -> None:
        if self._quiet:
            return
        self._page_no = 0
        self.refresh()

    def _go(self, step: int) -> None:
        self._page_no += step
        self.refresh()

    def _picked(self, _change: Any = None) -> None:
        chosen = list(self.pick.value)
        if 2 <= len(chosen) <= 5:
            href = link("compare", runs=chosen)
            self.compare_link.value = (
                f'<a href="{href}" target="_self">compare {len(chosen)} runs</a>'
            )
        else:
            self.compare_link.value = "pick 2 to 5 backtests to compare"


__all__ = ["COLUMNS", "Page", "RunFilter", "RunsExplorer", "fetch_page", "open_href", "page_html"]
