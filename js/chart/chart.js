// coinbt dashboards' chart widget (anywidget front end): a plotly figure drawn by a small
// plotly.js build (scatter from the core, candlestick and heatmap registered) instead of
// plotly's FigureWidget, whose 5 MB full plotly.js took 1.0-1.2 s to evaluate on each page.
//
// Model: "figure" = plotly JSON {data, layout} set from Python (each change redraws with
// Plotly.react); "clicked" = {curve, point, x, y, n} set here when a point is clicked.
// Rebuild coinbt/dashboards/static/chart.js with `make chart-js` (docs/dashboards.md).
import Plotly from "plotly.js/lib/core";
import candlestick from "plotly.js/lib/candlestick";
import heatmap from "plotly.js/lib/heatmap";

Plotly.register([candlestick, heatmap]);

const CONFIG = { displaylogo: false, responsive: true };

function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "cbt-chart";
  el.appendChild(div);
  let drawn = null; // the first draw waits until the element has a width
  let clicks = 0;

  const draw = () => {
    const fig = model.get("figure") || {};
    return Plotly.react(div, fig.data || [], fig.layout || {}, CONFIG);
  };
  const first = () => {
    drawn = draw().then(() => {
      div.on("plotly_click", (event) => {
        const p = event.points[0];
        clicks += 1;
        model.set("clicked", {
          curve: p.curveNumber,
          point: p.pointNumber,
          x: p.x,
          y: p.y,
          n: clicks,
        });
        model.save_changes();
      });
    });
  };
  const resized = new ResizeObserver(() => {
    if (!div.clientWidth) return;
    if (drawn === null) first();
    else Plotly.Plots.resize(div);
  });
  resized.observe(div);
  const changed = () => {
    if (drawn !== null) drawn = drawn.then(draw);
  };
  model.on("change:figure", changed);
  return () => {
    resized.disconnect();
    model.off("change:figure", changed);
    Plotly.purge(div);
  };
}

export default { render };
