"""Sweep view: a heatmap of a metric over any two swept parameters, the others fixed by
dropdowns; clicking a cell offers that trial's run view."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
import pandas as pd

from coinbt.dashboards.common import link, open_registry
from coinbt.errors import ConfigError


def trial_table(registry: Any, sweep_id: str) -> tuple[pd.DataFrame, list[str]]:
    """A finished sweep's stored trial table and its swept parameters (more than one value)."""
    row = registry.run(sweep_id)
    if row is None or row["kind"] != "sweep":
        what = "no run" if row is None else f"a {row['kind']} run"
        raise ConfigError(f"{sweep_id} is {what}, not a sweep; open sweeps from the explorer")
    arts = registry.artifacts(sweep_id)
    if row["status"] != "finished" or "trials.parquet" not in arts:
        raise ConfigError(f"sweep {sweep_id} is {row['status']}: it has no trial table yet")
    table = registry.store.read_table(sweep_id, "trials", arts["trials.parquet"]["sha256"])
    definition = json.loads(
        registry.store.get(sweep_id, "sweep.json", arts["sweep.json"]["sha256"])
    )
    names = [n for n in definition["param_names"] if n in table and table[n].nunique() > 1]
    return table, names


def heatmap_grid(
    table: pd.DataFrame, x: str, y: str, metric: str, fixed: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metric`` over ``x`` × ``y`` among the trials matching ``fixed`` (mean where several
    trials share a cell), and the run id of each cell's trial (empty when not exactly one)."""
    if x == y:
        raise ConfigError(f"pick two different parameters (both are {x!r})")
    rows = table
    for name, value in fixed.items():
        rows = rows[rows[name] == value]
    z = rows.pivot_table(index=y, columns=x, values=metric, aggfunc="mean", dropna=False)
    counts = rows.groupby([y, x]).size().unstack(x)
    ids = rows.groupby([y, x])["run_id"].first().unstack(x)
    ids = ids.where(counts == 1, "")
    z = z.sort_index().sort_index(axis=1)
    return z, ids.reindex(index=z.index, columns=z.columns).fillna("")


class SweepView:
    """Widgets of the sweep view: x, y and metric dropdowns, one dropdown per other swept
    parameter, the heatmap (``figure``, shown by ``chart``) and a link to the clicked cell's
    trial."""

    def __init__(self, sweep_id: str, registry: Any = None) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        from coinbt.dashboards.chart import Chart
        from coinbt.sweeps.table import METRIC_COLUMNS

        self.registry = registry if registry is not None else open_registry()
        self.sweep_id = self.registry.resolve(sweep_id)
        self.table, self.params = trial_table(self.registry, self.sweep_id)
        if len(self.params) < 2:
            raise ConfigError(
                f"sweep {self.sweep_id} varies {len(self.params)} parameter(s); a heatmap needs "
                "two (its trial table is in the run's artifacts)"
            )
        self.x = w.Dropdown(options=self.params, value=self.params[0], description="x")
        self.y = w.Dropdown(options=self.params, value=self.params[1], description="y")
        self.metric = w.Dropdown(options=list(METRIC_COLUMNS), value="sharpe", description="metric")
        self.fixed = {
            name: w.Dropdown(options=sorted(self.table[name].unique().tolist()), description=name)
            for name in self.params
        }
        self.picked = w.HTML("click a cell to open its trial")
        self.fixed_box = w.HBox([])
        self.figure = go.Figure(go.Heatmap(colorscale="RdYlGn"))
        self.figure.update_layout(height=520, margin={"t": 40})
        self._draw(self.figure)
        self.chart = Chart(self.figure)
        self.chart.on_click(self._clicked)
        for control in (self.x, self.y, self.metric, *self.fixed.values()):
            control.observe(lambda _c: self.redraw(), names="value")
        row = self.registry.run(self.sweep_id)
        title = (
            f"<h2>sweep <code>{self.sweep_id}</code>: {html.escape(row['strategy'])} "
            f"{html.escape(row['symbol'])} {row['timeframe']}, {len(self.table):,} trials</h2>"
        )
        self.widget = w.VBox(
            [w.HTML(title), w.HBox([self.x, self.y, self.metric]), self.fixed_box,
             self.chart, self.picked]
        )  # fmt: skip

    def fixed_values(self) -> dict[str, Any]:
        """The swept parameters that are not on an axis, at their dropdowns' values."""
        axes = {self.x.value, self.y.value}
        return {n: d.value for n, d in self.fixed.items() if n not in axes}

    def redraw(self) -> None:
        """Redraw the heatmap for the current axes, metric and fixed values."""
        self._draw(self.figure)
        self.chart.show(self.figure)

    def _draw(self, fig: Any) -> None:
        axes = {self.x.value, self.y.value}
        self.fixed_box.children = [d for n, d in self.fixed.items() if n not in axes]
        try:
            z, ids = heatmap_grid(
                self.table, self.x.value, self.y.value, self.metric.value, self.fixed_values()
            )
        except ConfigError as exc:
            self.picked.value = html.escape(str(exc))
            return
        self.ids = ids
        trace = fig.data[0]
        trace.z = z.to_numpy(dtype=np.float64)
        trace.x = [str(v) for v in z.columns]
        trace.y = [str(v) for v in z.index]
        trace.customdata = ids.to_numpy(dtype=object)
        trace.hovertemplate = (
            f"{self.x.value}=%{{x}}<br>{self.y.value}=%{{y}}<br>{self.metric.value}=%{{z}}"
            "<br>%{customdata}<extra></extra>"
        )
        fig.update_layout(
            title=f"{self.metric.value} by {self.x.value} and {self.y.value}",
            xaxis={"title": self.x.value, "type": "category"},
            yaxis={"title": self.y.value, "type": "category"},
        )

    def open_cell(self, x_index: int, y_index: int) -> str | None:
        """The run id behind heatmap cell (``x_index``, ``y_index``); shows its link."""
        run_id = str(self.ids.iat[y_index, x_index]) or None
        if run_id is None:
            self.picked.value = "several trials share this cell; fix the other parameters"
        else:
            href = link("run", run=run_id)
            self.picked.value = f'<a href="{href}" target="_self">open trial {run_id}</a>'
        return run_id

    def _clicked(self, point: dict[str, Any]) -> None:
        where = point.get("point")
        if isinstance(where, list) and len(where) == 2:  # a heatmap cell is [row, column]
            self.open_cell(int(where[1]), int(where[0]))


__all__ = ["SweepView", "heatmap_grid", "trial_table"]
