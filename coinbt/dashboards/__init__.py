"""Voila dashboards over the run registry: runs explorer, run, compare and sweep views.

State and figure builders live here and are tested without a browser; the notebooks in
``notebooks/dashboards/`` are one cell each (``coinbt.dashboards.view("run")``).  ``coinbt
dashboard`` serves them with safe settings (``docs/dashboards.md``).
"""

from __future__ import annotations

import html
from typing import Any

VIEWS = ("runs", "run", "compare", "sweep")


def view(name: str, query: str | None = None) -> Any:
    """The widget of dashboard ``name`` for the page's query string (``$QUERY_STRING`` under
    Voila; ``query`` in tests).  A user mistake (unknown run id, too few runs) becomes a short
    message on the page, never a traceback."""
    from coinbt.dashboards.common import query_params, require
    from coinbt.errors import CoinbtError

    if name == "runs":  # no query string: built before the visitor asks, refreshed after
        from coinbt.dashboards.explorer import RunsExplorer

        try:
            explorer = RunsExplorer()
            if query is None and _preheated():
                _wait_for_request(name)
                explorer.reload()
            return explorer.widget
        except CoinbtError as exc:
            return _message(exc)
    if query is None and _preheated():
        _wait_for_request(name)
    q = query_params(query)
    try:
        if name == "run":
            from coinbt.dashboards.run_view import RunView

            run = require(
                q.get("run"), "a run id", "open a run from the runs explorer (runs.ipynb)"
            )
            return RunView(run).widget
        if name == "compare":
            from coinbt.dashboards.compare_view import CompareView

            runs = require(q.get("runs"), "2 to 5 run ids", "pick them in the runs explorer")
            return CompareView(runs).widget
        if name == "sweep":
            from coinbt.dashboards.sweep_view import SweepView

            run = require(q.get("run"), "a sweep's run id", "open a sweep from the runs explorer")
            return SweepView(run).widget
        raise ValueError(f"unknown dashboard {name!r}; views: {', '.join(VIEWS)}")
    except CoinbtError as exc:
        return _message(exc)


def _message(exc: Exception) -> Any:
    """A user mistake or an unreachable registry as a short message (no traceback)."""
    import ipywidgets as w

    back = '<a href="runs.ipynb" target="_self">runs explorer</a>'
    return w.HTML(
        f'<p class="cbt-message" style="color:#cf222e">{html.escape(str(exc))}</p><p>{back}</p>'
    )


def _preheated() -> bool:
    import os

    return os.environ.get("VOILA_PREHEAT", "False") != "False"


def _wait_for_request(name: str) -> None:
    """Under Voila with preheated kernels (``coinbt dashboard`` starts them), the notebook runs
    before anyone asks for it: import what the view needs, then wait for the visitor's request
    (its query string, and fresh data read at that moment)."""
    import contextlib
    import importlib

    module = {"runs": "explorer", "run": "run_view", "compare": "compare_view"}.get(
        name, "sweep_view"
    )
    importlib.import_module(f"coinbt.dashboards.{module}")
    import plotly.graph_objects as go
    import pyarrow.parquet  # noqa: F401  (artifacts, candles)

    import coinbt.data.loader  # noqa: F401
    from coinbt.dashboards.common import open_registry
    from coinbt.errors import CoinbtError

    if name != "runs":  # anywidget and the chart's code, then gone from the page
        from coinbt.dashboards.chart import Chart

        go.Figure()
        Chart().close()
    with contextlib.suppress(CoinbtError):  # the view says what is wrong, to the visitor
        open_registry().count()  # connect, check the schema once
    from voila.utils import wait_for_request

    wait_for_request()


__all__ = ["VIEWS", "view"]
