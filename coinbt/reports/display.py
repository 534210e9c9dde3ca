"""What report templates display, built here so the notebooks stay a few lines each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

#: JupyterLab gets plotly's own mimetype; the HTML rendering gets the figure with plotly.js
#: from its CDN (interactive in a browser, ~300 kB a report instead of ~5 MB embedded)
RENDERER = "plotly_mimetype+notebook_connected"


def use_report_renderer() -> None:
    """Make plotly figures render in notebooks and in their HTML rendering (call once)."""
    import plotly.io as pio

    pio.renderers.default = RENDERER


def stats_frame(result: Any) -> pd.DataFrame:
    """The run's statistics as a one-column table of formatted values."""
    from coinbt.results.format import stats_rows

    rows = stats_rows(dict(result.stats))
    return pd.DataFrame({"value": [v for _, v in rows]}, index=pd.Index([k for k, _ in rows]))


def trades_frame(result: Any, limit: int | None = 200) -> pd.DataFrame:
    """The run's trades (the first ``limit``; all of them are in the run's artifacts)."""
    trades = result.trades
    return trades if limit is None else trades.head(limit)


def study_summary(plan: Any, horizons: Iterable[int]) -> pd.DataFrame:
    """Forward returns of the plan's entry signals per horizon (:func:`coinbt.signal_study`
    on the same bars, parameters and fee rate)."""
    from coinbt.study import signal_study

    study = signal_study(
        plan.strategy,
        bars=plan.bars,
        params=dict(plan.spec.params),
        horizons=list(horizons),
        fee_rate=float(plan.spec.engine.get("fee_rate", 0.0)),
    )
    return study.summary


__all__ = ["RENDERER", "stats_frame", "study_summary", "trades_frame", "use_report_renderer"]
