"""The catalog: which (exchange, symbol, timeframe) datasets exist under the data roots.

Roots are searched in order: ``settings.data_root()`` (``$COINBT_DATA_ROOT`` or ``./data``)
first, then the candles bundled with the package. A dataset found in an earlier root hides the
same dataset in a later one (your own data replaces the bundled copy; the two are never mixed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

import pandas as pd

from coinbt import settings
from coinbt.data.store import file_span, timeframe_of_dir
from coinbt.data.symbols import canonical_exchange, canonical_symbol, is_canonical_symbol
from coinbt.errors import DataError, did_you_mean
from coinbt.timeframes import TIMEFRAME_SECONDS, parse_timeframe

_YEAR_FILE = re.compile(r"^(\d{4})\.parquet$")
_EXCHANGE_DIR = re.compile(r"^[a-z0-9][a-z0-9_.]*$")
_MAX_LISTED = 30

ENTRY_COLUMNS: tuple[str, ...] = ("exchange", "symbol", "timeframe", "start", "end", "rows", "root")


def _listing(items: Iterable[str]) -> str:
    items = list(items)
    if not items:
        return "(none)"
    if len(items) > _MAX_LISTED:
        return ", ".join(items[:_MAX_LISTED]) + f", ... ({len(items) - _MAX_LISTED} more)"
    return ", ".join(items)


def _tf_order(tf: str) -> int:
    return TIMEFRAME_SECONDS[tf]


class Dataset:
    """One (exchange, symbol, timeframe) series: its root and year files.

    Attributes
    ----------
    exchange, symbol, timeframe : str
        Catalog keys (lower-case exchange, ``BASE-QUOTE`` symbol, ccxt timeframe).
    root : Path
        The data root the files come from.
    files : dict of int to Path
        Year (UTC, of the bar open time) -> Parquet file, in year order.
    """

    def __init__(
        self, exchange: str, symbol: str, timeframe: str, root: Path, files: dict[int, Path]
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.root = root
        self.files = dict(sorted(files.items()))

    def __repr__(self) -> str:
        return (
            f"Dataset({self.exchange!r}, {self.symbol!r}, {self.timeframe!r}, "
            f"years={list(self.files)}, root={str(self.root)!r})"
        )

    @cached_property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
        """``(first open time, last open time, rows)`` read from the Parquet footers."""
        spans = [s for s in (file_span(p) for p in self.files.values()) if s is not None]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans), sum(s[2] for s in spans)

    def label(self) -> str:
        """``BTC-USDT 1h on binance``."""
        return f"{self.symbol} {self.timeframe} on {self.exchange}"


class Catalog:
    """Index of the year files under one or more data roots.

    Parameters
    ----------
    roots : sequence of str or Path, optional
        Roots to search, first match wins. Default: ``settings.data_root()`` then
        ``settings.bundled_data_root()``, read when the catalog is created. Missing roots are
        skipped.

    Notes
    -----
    The directory tree is scanned once, lazily; call :meth:`refresh` after writing files.
    File footers are read only for the datasets you ask about (or all, for :meth:`entries`).

    Examples
    --------
    >>> cat = Catalog()
    >>> "binance" in cat.exchanges()
    True
    """

    def __init__(self, roots: Sequence[str | os.PathLike[str]] | None = None) -> None:
        if roots is None:
            roots = [settings.data_root(), settings.bundled_data_root()]
        if isinstance(roots, (str, os.PathLike)):
            roots = [roots]
        unique: list[Path] = []
        for root in roots:
            path = Path(root).expanduser().absolute()
            if path not in unique:
                unique.append(path)
        self._roots = unique
        self._datasets: dict[tuple[str, str, str], Dataset] | None = None

    @property
    def roots(self) -> list[Path]:
        """Searched roots, in priority order."""
        return list(self._roots)

    def refresh(self) -> None:
        """Forget the scanned tree so the next query rescans the roots."""
        self._datasets = None

    def _scan(self) -> dict[tuple[str, str, str], Dataset]:
        if self._datasets is not None:
            return self._datasets
        found: dict[tuple[str, str, str], Dataset] = {}
        for root in self._roots:
            if not root.is_dir():
                continue
            for ex_dir in sorted(p for p in root.iterdir() if p.is_dir()):
                if not _EXCHANGE_DIR.match(ex_dir.name):
                    continue
                for sym_dir in sorted(p for p in ex_dir.iterdir() if p.is_dir()):
                    if not is_canonical_symbol(sym_dir.name):
                        continue
                    for tf_dir in sorted(p for p in sym_dir.iterdir() if p.is_dir()):
                        tf = timeframe_of_dir(tf_dir.name)
                        if tf is None:
                            continue
                        key = (ex_dir.name, sym_dir.name, tf)
                        if key in found:
                            continue
                        files = {
                            int(m.group(1)): f
                            for f in tf_dir.iterdir()
                            if f.is_file() and (m := _YEAR_FILE.match(f.name))
                        }
                        if files:
                            found[key] = Dataset(*key, root=root, files=files)
        self._datasets = dict(sorted(found.items()))
        return self._datasets

    # ------------------------------------------------------------------ queries
    def datasets(self) -> list[Dataset]:
        """Every dataset, sorted by exchange, symbol, timeframe."""
        return list(self._scan().values())

    def dataset(self, exchange: str, symbol: str, timeframe: str) -> Dataset | None:
        """The dataset for canonical keys, or None."""
        return self._scan().get((exchange, symbol, timeframe))

    def exchanges(self) -> list[str]:
        """Exchanges with at least one dataset."""
        return sorted({k[0] for k in self._scan()})

    def symbols(self, exchange: str | None = None, timeframe: str | None = None) -> list[str]:
        """Symbols available, optionally on one exchange and/or at one timeframe."""
        return sorted(
            {
                s
                for (e, s, tf) in self._scan()
                if (exchange is None or e == exchange) and (timeframe is None or tf == timeframe)
            }
        )

    def timeframes(self, symbol: str, exchange: str | None = None) -> list[str]:
        """Timeframes available for ``symbol`` (on ``exchange`` when given), finest first."""
        tfs = {tf for (e, s, tf) in self._scan() if s == symbol and exchange in (None, e)}
        return sorted(tfs, key=_tf_order)

    def entries(self) -> pd.DataFrame:
        """One row per dataset: exchange, symbol, timeframe, start, end, rows, root.

        ``start`` and ``end`` are the first and last bar open times (UTC); ``root`` is the data
        root the dataset is read from.
        """
        rows = []
        for ds in self.datasets():
            span = ds.span
            start, end, n = span if span is not None else (pd.NaT, pd.NaT, 0)
            rows.append((ds.exchange, ds.symbol, ds.timeframe, start, end, n, str(ds.root)))
        frame = pd.DataFrame(rows, columns=list(ENTRY_COLUMNS))
        for col in ("start", "end"):
            frame[col] = pd.to_datetime(frame[col], utc=True).dt.as_unit("ns")
        frame["rows"] = frame["rows"].astype("int64")
        return frame

    # ------------------------------------------------------------------ resolution
    def _where(self) -> str:
        return "searched roots: " + ", ".join(str(r) for r in self._roots)

    def check_exchange(self, exchange: str) -> str:
        """Return the catalog spelling of ``exchange`` or raise :class:`DataError`.

        Raises
        ------
        DataError
            If no dataset exists on that exchange; lists the available exchanges.
        """
        name = canonical_exchange(exchange)
        known = self.exchanges()
        if name in known:
            return name
        if not known:
            msg = (
                f"unknown exchange {exchange!r}: the catalog is empty ({self._where()}); "
                "import candles with `coinbt data import` or set COINBT_DATA_ROOT"
            )
        else:
            msg = (
                f"unknown exchange {exchange!r}; available exchanges: {_listing(known)}."
                f"{did_you_mean(name, known)}"
            )
        raise DataError(msg, problems=[msg])

    def resolve(self, symbol: str, timeframe: str, exchange: str | None = None) -> Dataset:
        """Find the dataset for canonical ``symbol`` and ``timeframe``.

        Parameters
        ----------
        symbol : str
            Canonical ``BASE-QUOTE`` symbol.
        timeframe : str
            Canonical timeframe token.
        exchange : str, optional
            Exchange name. When None, the symbol/timeframe must exist on exactly one exchange.

        Returns
        -------
        Dataset

        Raises
        ------
        DataError
            Unknown exchange, unknown symbol (with the available symbols and "did you mean"),
            timeframe not available (with the available ones), or a symbol/timeframe found on
            several exchanges when ``exchange`` is None.
        """
        ex = self.check_exchange(exchange) if exchange is not None else None
        if ex is not None:
            found = self.dataset(ex, symbol, timeframe)
            if found is not None:
                return found
        else:
            hits = [d for d in self.datasets() if d.symbol == symbol and d.timeframe == timeframe]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                names = [d.exchange for d in hits]
                msg = (
                    f"{symbol} {timeframe} exists on several exchanges: {_listing(names)}; "
                    f"pass exchange= (one of {', '.join(repr(n) for n in names)}) to choose one"
                )
                raise DataError(msg, problems=[msg])
        msg = self._not_found(symbol, timeframe, ex)
        raise DataError(msg, problems=[msg])

    def _not_found(self, symbol: str, timeframe: str, exchange: str | None) -> str:
        where = f" on {exchange}" if exchange else ""
        tfs = self.timeframes(symbol, exchange)
        if tfs:
            extra = ""
            finer = [t for t in tfs if _tf_order(t) < _tf_order(timeframe)]
            if finer:
                extra = f" (resample_bars() can build {timeframe} from {finer[0]})"
            return (
                f"timeframe {timeframe!r} is not available for {symbol}{where}; "
                f"available timeframes: {_listing(tfs)}{extra}"
            )
        all_symbols = self.symbols(exchange)
        same_tf = self.symbols(exchange, timeframe)
        base, _, quote = symbol.partition("-")
        reversed_symbol = f"{quote}-{base}"
        if reversed_symbol in all_symbols:
            hint = f" Did you mean '{reversed_symbol}'? (symbols are spelled BASE-QUOTE)"
        else:
            hint = did_you_mean(symbol, all_symbols)
        elsewhere = ""
        if exchange is not None:
            others = sorted({e for (e, s, _) in self._scan() if s == symbol})
            if others:
                elsewhere = f" It exists on: {_listing(others)}."
        if not all_symbols:
            return f"unknown symbol {symbol!r}{where}: no data found ({self._where()})"
        return (
            f"unknown symbol {symbol!r}{where}; symbols with {timeframe} data{where}: "
            f"{_listing(same_tf)}; all symbols{where}: {_listing(all_symbols)}.{hint}{elsewhere}"
        )


def list_catalog(
    exchange: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    *,
    roots: Sequence[str | os.PathLike[str]] | None = None,
) -> pd.DataFrame:
    """Catalog entries as a DataFrame, optionally filtered.

    Parameters
    ----------
    exchange, symbol, timeframe : str, optional
        Filters; aliases are accepted (``BTC/KRW``, ``1H``).
    roots : sequence of path, optional
        Roots to search (default: data root then bundled data).

    Returns
    -------
    pandas.DataFrame
        Columns ``exchange symbol timeframe start end rows root``.

    Examples
    --------
    >>> list_catalog(exchange="upbit").columns.tolist()[:3]
    ['exchange', 'symbol', 'timeframe']
    """
    frame = Catalog(roots).entries()
    if exchange is not None:
        frame = frame[frame["exchange"] == canonical_exchange(exchange)]
    if symbol is not None:
        frame = frame[frame["symbol"] == canonical_symbol(symbol, exchange)]
    if timeframe is not None:
        frame = frame[frame["timeframe"] == parse_timeframe(timeframe)]
    return frame.reset_index(drop=True)
