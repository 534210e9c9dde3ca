"""Compare view: two to five stored runs — equity curves overlaid (normalised), drawdowns,
statistics side by side, the spec fields that differ highlighted (:mod:`coinbt.results.compare`
builds them)."""

from __future__ import annotations

import html
from typing import Any

from coinbt.dashboards.common import link, open_registry
from coinbt.reports.compare import resolve_runs

MAX_RUNS = 5


class CompareView:
    """Widgets of the compare view for ``runs`` (ids or prefixes, a list or comma-separated)."""

    def __init__(self, runs: str | list[str], registry: Any = None, normalise: bool = True):
        import ipywidgets as w

        from coinbt.dashboards.chart import Chart
        from coinbt.results import compare

        self.registry = registry if registry is not None else open_registry()
        self.run_ids = resolve_runs(self.registry, runs, most=MAX_RUNS)
        self.results = [self.registry.load(r) for r in self.run_ids]
        self.stats = compare.stats_table(self.results)
        self.specs = compare.spec_table(self.results)
        self.figure = compare.compare_figure(self.results, normalise=normalise)
        self.chart = Chart(self.figure)
        opened = " · ".join(
            f'<a href="{link("run", run=r)}" target="_self">{html.escape(label)}</a>'
            for r, label in zip(self.run_ids, compare.run_labels(self.results), strict=True)
        )
        differing = ", ".join(self.specs.index[self.specs["differs"]]) or "nothing"
        self.widget = w.VBox(
            [
                w.HTML(f"<h2>{len(self.run_ids)} runs compared</h2><p>{opened}</p>"),
                self.chart,
                w.HTML("<h3>Statistics</h3>" + self.stats.to_html(classes="cbt-table")),
                w.HTML(
                    f"<h3>Spec (differs: {html.escape(differing)})</h3>"
                    + compare.highlight_differences(self.specs).to_html()
                ),
            ]
        )


__all__ = ["MAX_RUNS", "CompareView"]
