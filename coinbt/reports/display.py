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


def _many(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def stats_frame(results: Any) -> pd.DataFrame:
    """The statistics of one run (a column of formatted values) or of several (a column
    each, headline figures first)."""
    from coinbt.results.compare import stats_table
    from coinbt.results.format import stats_rows

    runs = _many(results)
    if len(runs) > 1:
        return stats_table(runs)
    rows = stats_rows(dict(runs[0].stats))
    return pd.DataFrame({"value": [v for _, v in rows]}, index=pd.Index([k for k, _ in rows]))


def trades_frame(results: Any, limit: int | None = 200) -> pd.DataFrame:
    """The trades of one or several runs (each has a ``symbol`` column), the first ``limit``
    of each; all of them are in the runs' artifacts."""
    frames = [r.trades if limit is None else r.trades.head(limit) for r in _many(results)]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def study_summary(plans: Any, horizons: Iterable[int]) -> pd.DataFrame:
    """Forward returns of the entry signals of one plan or several (one block per symbol) per
    horizon (:func:`coinbt.signal_study` on the same bars, parameters and fee rate)."""
    from coinbt.study import signal_study

    summaries = {}
    for plan in _many(plans):
        study = signal_study(
            plan.strategy,
            bars=plan.bars,
            params=dict(plan.spec.params),
            horizons=list(horizons),
            fee_rate=float(plan.spec.engine.get("fee_rate", 0.0)),
        )
        summaries[plan.spec.symbol] = study.summary
    if len(summaries) == 1:
        return next(iter(summaries.values()))
    return pd.concat(summaries, names=["symbol"])


__all__ = ["RENDERER", "stats_frame", "study_summary", "trades_frame", "use_report_renderer"]
