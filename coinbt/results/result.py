"""``BacktestResult``: spec, stats, trades, positions and equity of one run."""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coinbt.engine import SimResult
from coinbt.errors import CoinbtError, DataError
from coinbt.metrics import drawdown
from coinbt.portfolio import equity_frame, positions_frame, signals_frame, trades_frame
from coinbt.results.spec import RunSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go


class BacktestResult:
    """The outcome of :func:`coinbt.backtest`.

    Attributes
    ----------
    spec : RunSpec
        What was run, with effective parameters.
    run_id : str
        Stable hash of ``spec``.
    stats : dict
        Headline metrics (``docs/metrics.md``), JSON-serialisable.
    trades : DataFrame
        One row per closed position.
    positions : DataFrame
        Positions still open after the last bar, marked to market.
    equity : DataFrame
        ``equity, cash, position_value, drawdown`` on every bar.
    signals : DataFrame
        Every entry signal: its bar's close price, the strategy's confidence (NaN when the
        strategy grades none), its status (filled, ignored while in a position, rejected, or
        expired) and ``traded`` (True when it opened a position).
    status_counts : dict
        Entry-signal outcomes counted by status.
    """

    def __init__(
        self,
        spec: RunSpec,
        bars: pd.DataFrame,
        sim: SimResult,
        stats: dict[str, Any],
        *,
        confidence: np.ndarray | None = None,
    ):
        self.spec = spec
        self.bars = bars
        self.sim = sim
        self.stats = stats
        self.confidence = confidence

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    @cached_property
    def trades(self) -> pd.DataFrame:
        return trades_frame(self.sim.trades, self.bars.index, self.spec.symbol)

    @cached_property
    def positions(self) -> pd.DataFrame:
        return positions_frame(self.sim.open_position, self.bars.index, self.spec.symbol)

    @cached_property
    def equity(self) -> pd.DataFrame:
        s = self.sim
        return equity_frame(self.bars.index, s.cash, s.position_value, s.equity, drawdown(s.equity))

    @cached_property
    def signals(self) -> pd.DataFrame:
        close = np.ascontiguousarray(self.bars["close"].to_numpy(dtype=np.float64))
        return signals_frame(self.bars.index, close, self.sim.entry_status, self.confidence)

    @property
    def status_counts(self) -> dict[str, int]:
        return self.sim.status_counts

    def to_dict(self) -> dict[str, Any]:
        """Spec, run id, stats and counts: everything needed to compare runs, as plain JSON."""
        return {
            "run_id": self.run_id,
            "spec": self.spec.to_dict(),
            "stats": dict(self.stats),
            "n_trades": int(len(self.sim.trades)),
            "n_open_positions": int(len(self.sim.open_position)),
            "signals": self.status_counts,
        }

    def plot(self, *, max_candles: int = 5000) -> go.Figure:
        """Candles with entry/exit markers, equity and drawdown panels (plotly).

        Long series are aggregated for display into at most ``max_candles`` candles; markers
        and curves keep their exact times.
        """
        from coinbt.results.figures import backtest_figure

        if self.bars.attrs.get("candles_stored") is False:
            try:
                self.reload_bars()
            except CoinbtError as exc:
                warnings.warn(f"run {self.run_id}: plotting without candles: {exc}", stacklevel=2)
        return backtest_figure(self, max_candles=max_candles)

    def reload_bars(self) -> pd.DataFrame:
        """Fetch this run's candles from the catalog again and keep them in ``self.bars``.

        A run loaded from the registry carries bar times and closes only (candles are not
        stored with runs); this loads ``spec.exchange/symbol/timeframe`` between
        ``spec.data_start`` and ``spec.data_end`` and checks the bars hash to
        ``spec.data_fingerprint`` — the very data the run simulated.  :meth:`plot` calls it
        for stored runs.

        Raises
        ------
        DataError
            When the catalog no longer has those bars, or has different ones (re-imported or
            corrected data), naming the fingerprints.
        """
        from coinbt.data import load_bars
        from coinbt.data.fingerprint import bars_fingerprint

        spec = self.spec
        bars = load_bars(spec.symbol, spec.timeframe, spec.data_start, spec.data_end, spec.exchange)
        found = bars_fingerprint(bars)
        if found != spec.data_fingerprint or len(bars) != spec.bars:
            raise DataError(
                f"the catalog's {spec.exchange} {spec.symbol} {spec.timeframe} bars "
                f"{spec.data_start} -> {spec.data_end} have fingerprint {found} ({len(bars)} bars), "
                f"not the run's {spec.data_fingerprint} ({spec.bars} bars): the data changed "
                "since the run; re-run it to plot it with the current candles"
            )
        self.bars = bars
        return bars

    def save(self, registry: Any = None) -> str:
        """Record this run in the run registry and return its run id.

        Parameters
        ----------
        registry : coinbt.storage.Registry, optional
            Where to record; default ``Registry()`` (``$COINBT_REGISTRY_URL`` or
            ``sqlite:///.coinbt/registry.db``, artifacts under ``$COINBT_ARTIFACTS_URI`` or
            ``.coinbt/artifacts``).  Saving the same run twice changes nothing.
        """
        from coinbt.storage import Registry

        reg = registry if registry is not None else Registry()
        try:
            return reg.record(self)
        finally:
            if registry is None:
                reg.close()

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"<BacktestResult {self.run_id} {self.spec.strategy} {self.spec.symbol} "
            f"{self.spec.timeframe} bars={self.spec.bars} trades={len(self.sim.trades)} "
            f"return={s.get('total_return')}>"
        )
