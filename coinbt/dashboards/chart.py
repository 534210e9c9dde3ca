"""``Chart``: the dashboards' plotly chart widget (anywidget).

plotly's ``FigureWidget`` carries the full plotly.js (5 MB, every trace type, maps included):
evaluating it took 1.0-1.2 s of every page view in Chromium here, more than the rest of the
chart.  ``Chart`` draws the same plotly figures with a build of plotly.js that holds only what
the dashboards use (scatter, candlestick, heatmap; ``static/chart.js``, 1.2 MB, built from
``js/chart`` with ``make chart-js``).  Python keeps the figure as a ``go.Figure`` and sends its
JSON; the browser redraws with ``Plotly.react`` on each change and reports clicks back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

STATIC = Path(__file__).with_name("static")

#: the trace types ``static/chart.js`` can draw
TRACE_TYPES = frozenset({"scatter", "candlestick", "heatmap"})


def figure_json(figure: Any) -> dict[str, Any]:
    """A plotly figure as plain JSON data (numpy arrays as lists, NaN as null), refused when
    it holds a trace type the chart's plotly.js build does not have."""
    data = json.loads(figure.to_json())
    missing = {t.get("type", "scatter") for t in data.get("data", [])} - TRACE_TYPES
    if missing:
        raise ValueError(
            f"trace type(s) {sorted(missing)} are not in the dashboards' plotly.js build "
            f"({', '.join(sorted(TRACE_TYPES))}); add them to js/chart/chart.js and run "
            "make chart-js"
        )
    return data


class Chart(anywidget.AnyWidget):
    """A plotly figure in a dashboard: ``show(fig)`` draws it, ``on_click(f)`` calls
    ``f({"curve", "point", "x", "y"})`` for a clicked point (``point`` is ``[row, column]``
    for a heatmap)."""

    _esm = STATIC / "chart.js"
    figure = traitlets.Dict().tag(sync=True)
    clicked = traitlets.Dict().tag(sync=True)

    def __init__(self, figure: Any = None, **kwargs: Any) -> None:
        if figure is not None:  # in the first state: nothing to lose before the view exists
            kwargs["figure"] = figure_json(figure)
        super().__init__(**kwargs)

    def show(self, figure: Any) -> None:
        """Draw ``figure`` (a ``go.Figure``) in place of the current one."""
        self.figure = figure_json(figure)

    def on_click(self, callback: Callable[[dict[str, Any]], Any]) -> None:
        """Call ``callback(point)`` whenever a point is clicked in the browser."""
        self.observe(lambda change: callback(change["new"]), names="clicked")


__all__ = ["Chart", "TRACE_TYPES", "figure_json"]
