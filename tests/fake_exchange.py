"""A local HTTP server that plays Upbit's or Binance's public REST API for ccxt's own classes.

``ccxt.upbit`` / ``ccxt.binance`` (sync, ccxt 4.5.90) can ``load_markets()`` and page through
``fetch_ohlcv(symbol, timeframe, since, limit)`` against it, in each exchange's JSON format::

    with FakeExchange("binance", {"BTC-USDT": {"1h": df}}) as fake:
        client = make_client("binance", fake)      # or build your own and call point_at()
        rows = client.fetch_ohlcv("BTC/USDT", "1h", since=ms, limit=1000)

Pointing ccxt at it (``point_at``): every string in ``exchange.urls["api"]`` (recursively) has its
``scheme://host`` replaced by ``fake.url``, path kept: binance ``https://api.binance.com/api/v3`` ->
``http://127.0.0.1:PORT/api/v3``.  Upbit's ``urls["api"]`` is ``{"public": "https://{hostname}",
...}``; ``upbit.sign()`` fills ``{hostname}`` and appends ``/v1/<path>``.  The ``{hostname}``
placeholder *is* the host part, so it is replaced as well and ``exchange.hostname`` is never used.

Spot-only binance: ``binance.fetch_markets`` reads ``options["fetchMarkets"]["types"]`` (default
``["spot", "linear", "inverse"]`` -> ``/api/v3/exchangeInfo``, ``/fapi/v1/exchangeInfo``,
``/dapi/v1/exchangeInfo``).  ``{"fetchMarkets": {"types": ["spot"]}}`` makes ``load_markets`` call
only ``GET /api/v3/exchangeInfo`` (ccxt deep-merges the options dict; the list is replaced).
``fetchMargins`` (sapi margin pairs) and ``fetchCurrencies`` (sapi capital config) only fire when
API keys are set; ``make_client`` turns both off anyway (``BINANCE_SPOT_OPTIONS``).  Upbit's
``load_markets`` calls only ``GET /v1/market/all``.

Endpoints served -- binance: ``/api/v3/exchangeInfo``, ``/api/v3/time``, ``/api/v3/ping``,
``/api/v3/klines`` (``symbol, interval, startTime, endTime, limit``: ascending, at most
``min(limit or 500, 1000, page_limit)`` rows from ``startTime``; newest rows without it).  Upbit:
``/v1/market/all``, ``/v1/candles/minutes/{unit}``, ``/v1/candles/days``, ``/v1/candles/weeks``
(``market, to, count``: newest first, at most ``min(count or 1, page_limit)`` candles whose open
time is strictly before ``to``; ccxt sends ``to = since + limit * timeframe``).

The clock: ``fake.now``.  Candles opening after ``now`` are not served; the candle containing
``now`` (open <= now < open + timeframe) is served *still open* with ``partial_values`` (close =
high = low = open, half the volume) instead of its stored final values.  The default ``now`` is
one bar after the last candle of the data (max over all series), so every stored candle is closed.

Errors: ``fail_next(n, status)`` fails the next n candle requests; ``fail_after(k, status)`` lets k
more succeed, then fails all until ``heal()``.  Bodies (ccxt 4.5.90 raises):
binance 429 ``{"code": -1003, ...}`` -> ``ccxt.DDoSProtection`` (binance.handle_errors maps 418/429
there before the generic table; ``RateLimitExceeded`` is *not* a subclass of it -- both derive from
``NetworkError``); upbit 429 plain text ``Too many API requests.`` -> ``ccxt.RateLimitExceeded``;
500/502/503 plain text on both -> ``ccxt.ExchangeNotAvailable``; 504 -> ``ccxt.RequestTimeout``.
``body=`` overrides the body, which can change the class: an upbit JSON ``{"error": ...}`` body
gives ``ExchangeError`` whatever the status; binance 500 ``{"code":-1001,...}`` ``OperationFailed``.

Quirk (ccxt upbit): ``to = since + limit bars``, ``count = limit``; with ``limit > 200`` (or
``> page_limit``) the server returns the newest 200 before ``to``, so the oldest ``limit - 200``
candles after ``since`` are silently skipped.  A ``since`` window lying wholly in a data gap
returns ``[]`` even when later candles exist (binance's ``startTime`` jumps over gaps instead).
Input frames: UTC open-time index (or a ``timestamp`` column, as in the real parquet files).

Server time: binance ``fetch_time()`` (``/api/v3/time``) and every response's ``Date`` header
(``exchange.last_response_headers["Date"]``) give ``fake.now``; ccxt upbit has no ``fetch_time``.
``fake.requests`` logs candle requests ``{"path", "params", "status", "rows"}``;
``fake.other_requests`` logs the rest (market lists, unknown paths).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd

_TF_SPECS = "1m=1min 3m=3min 5m=5min 10m=10min 15m=15min 30m=30min 1h=1h 4h=4h 1d=1D 1w=7D"
TIMEFRAMES = {tf: pd.Timedelta(spec) for tf, spec in (p.split("=") for p in _TF_SPECS.split())}
DEFAULT_PAGE_LIMIT = {"upbit": 200, "binance": 1000}
BINANCE_SPOT_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
    "fetchMargins": False,
    "fetchCurrencies": False,
}
_UPBIT_UNITS = {1: "1m", 3: "3m", 5: "5m", 10: "10m", 15: "15m", 30: "30m", 60: "1h", 240: "4h"}
_UPBIT_PERIODS = {"days": "1d", "weeks": "1w"}
_COLUMNS = ["open", "high", "low", "close", "volume"]
_ERROR_BODIES = {
    ("binance", 429): '{"code":-1003,"msg":"Too many requests; current limit of IP is 6000 '
    'requests per minute. Please use WebSocket Streams for live updates."}',
    ("binance", 418): '{"code":-1003,"msg":"Way too many requests; IP banned."}',
    ("upbit", 429): "Too many API requests.",
}
_SYMBOL_FILTERS = [
    {"filterType": "PRICE_FILTER", "minPrice": "1e-8", "maxPrice": "1e6", "tickSize": "1e-8"},
    {"filterType": "LOT_SIZE", "minQty": "1e-8", "maxQty": "9e6", "stepSize": "1e-8"},
]
_WEIGHT_LIMIT = {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1}
_SCHEME_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")


def point_at(exchange: Any, base_url: str) -> None:
    """Replace ``scheme://host`` of every string in ``exchange.urls["api"]`` with ``base_url``."""
    base = base_url.rstrip("/")

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            return _SCHEME_HOST.sub(lambda _: base, value, count=1)
        if isinstance(value, dict):
            return {key: rewrite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def make_client(kind: str, fake: FakeExchange) -> Any:
    """A ccxt ``kind`` instance (no rate limiting, spot-only for binance) aimed at ``fake``."""
    import ccxt

    options = dict(BINANCE_SPOT_OPTIONS) if kind == "binance" else {}
    exchange = getattr(ccxt, kind)({"enableRateLimit": False, "timeout": 5000, "options": options})
    point_at(exchange, fake.url)
    return exchange


def read_candles(path: str | Path) -> pd.DataFrame:
    """A real-data parquet file as a frame indexed by UTC bar open time (its ``timestamp`` column)."""
    return _normalise(pd.read_parquet(path))


def partial_values(row: Mapping[str, float]) -> dict[str, float]:
    """What the fake serves for a candle that is still open: close = high = low = open, half volume."""
    o = float(row["open"])
    return {"open": o, "high": o, "low": o, "close": o, "volume": float(row["volume"]) / 2}


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    if "timestamp" in df.columns:
        df = df.set_index("timestamp")
    index = pd.DatetimeIndex(df.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    out = df[_COLUMNS].astype(float).set_axis(index.rename("timestamp"))
    return out.sort_index()


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def _utc(ts: Any) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _num(x: float) -> str:
    """Binance-style decimal string that round-trips to exactly ``x``."""
    text = f"{x:.8f}"
    return text if float(text) == x else repr(x)


class _Series:
    def __init__(self, df: pd.DataFrame, timeframe: str) -> None:
        df = _normalise(df)  # opens: int64 ms, values: (n, 5) float
        self.step_ms = _ms(pd.Timestamp(0) + TIMEFRAMES[timeframe])
        self.opens = (df.index.as_unit("ms").asi8).astype(np.int64)
        self.values = df[_COLUMNS].to_numpy(dtype=float)

    def row(self, i: int, now_ms: int) -> tuple[int, dict[str, float], bool]:
        values = dict(zip(_COLUMNS, self.values[i].tolist(), strict=True))
        is_open = self.opens[i] <= now_ms < self.opens[i] + self.step_ms
        return int(self.opens[i]), partial_values(values) if is_open else values, is_open


class FakeExchange:
    """Serves ``candles[symbol][timeframe]`` (symbol ``"BTC-KRW"``; frame indexed by UTC bar open
    time with float open/high/low/close/volume) as exchange ``kind`` ("upbit" or "binance")."""

    def __init__(
        self,
        kind: str,
        candles: Mapping[str, Mapping[str, pd.DataFrame]],
        *,
        page_limit: int | None = None,
        now: Any = None,
    ) -> None:
        if kind not in DEFAULT_PAGE_LIMIT:
            raise ValueError(f"kind must be 'upbit' or 'binance', not {kind!r}")
        self.kind = kind
        self.page_limit = page_limit or DEFAULT_PAGE_LIMIT[kind]
        self._series: dict[tuple[str, str], _Series] = {}
        self._ids: dict[str, str] = {}  # exchange market id -> coinbt symbol
        for symbol, frames in candles.items():
            base, quote = symbol.split("-")
            self._ids[f"{quote}-{base}" if kind == "upbit" else base + quote] = symbol
            for timeframe, df in frames.items():
                if timeframe not in TIMEFRAMES:
                    raise ValueError(f"unsupported timeframe {timeframe!r}")
                self._series[(symbol, timeframe)] = _Series(df, timeframe)
        ends = [int(s.opens[-1]) + s.step_ms for s in self._series.values() if len(s.opens)]
        default = pd.Timestamp(max(ends), unit="ms", tz="UTC") if ends else pd.Timestamp.now("UTC")
        self._now = _utc(default if now is None else now)
        self.requests: list[dict[str, Any]] = []
        self.other_requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._fail_count, self._fail_status, self._fail_body = 0, 0, None  # fail_next state
        self._ok_left: int | None = None  # fail_after: successes left before failing
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- clock and failure control --------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        return self._now

    @now.setter
    def now(self, ts: Any) -> None:
        self._now = _utc(ts)

    def set_now(self, ts: Any) -> None:
        """Move the clock (any ``pd.Timestamp``-able value; naive means UTC)."""
        self.now = ts

    def fail_next(self, n: int, status: int, body: str | None = None) -> None:
        """Fail the next ``n`` candle requests with HTTP ``status``."""
        with self._lock:
            self._fail_count, self._fail_status, self._fail_body = n, status, body

    def fail_after(self, k: int, status: int, body: str | None = None) -> None:
        """Let ``k`` more candle requests succeed, then fail every one until ``heal()``."""
        with self._lock:
            self._ok_left, self._fail_status, self._fail_body = k, status, body

    def heal(self) -> None:
        with self._lock:
            self._fail_count, self._ok_left = 0, None

    def open_candle(self, symbol: str, timeframe: str) -> pd.Series | None:
        """The still-open candle as currently served (``None`` when none contains ``now``)."""
        series = self._series[(symbol, timeframe)]
        i = int(np.searchsorted(series.opens, _ms(self.now), "right")) - 1
        opened, values, is_open = series.row(i, _ms(self.now)) if i >= 0 else (0, {}, False)
        return (
            pd.Series(values, name=pd.Timestamp(opened, unit="ms", tz="UTC")) if is_open else None
        )

    # -- server lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeExchange is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeExchange:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # keep-alive + split header/body writes: 40 ms stalls

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                parts = urlsplit(self.path)
                status, body = fake._handle(parts.path, dict(parse_qsl(parts.query)))
                data = body.encode()
                self.send_response(status)
                is_json = body.startswith(("[", "{"))
                self.send_header("Content-Type", "application/json" if is_json else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def date_time_string(self, timestamp: float | None = None) -> str:
                return formatdate(fake.now.timestamp(), usegmt=True)  # the Date header: fake.now

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)  # type: ignore[union-attr]
            self._server = None

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request routing ------------------------------------------------------------------------
    def _handle(self, path: str, params: dict[str, str]) -> tuple[int, str]:
        candle = self._candle_route(path)
        if candle is None:
            status, body = self._other(path)
            with self._lock:
                self.other_requests.append({"path": path, "params": params, "status": status})
            return status, body
        with self._lock:
            failing = self._fail_count > 0 or self._ok_left == 0
            if self._fail_count > 0:
                self._fail_count -= 1
            elif self._ok_left is not None and self._ok_left > 0:
                self._ok_left -= 1
            status, fail_body = self._fail_status, self._fail_body
        if failing:
            rows, body = 0, fail_body
            if body is None:
                body = _ERROR_BODIES.get((self.kind, status), f"{status} Server Error")
        else:
            status, rows, body = self._candles(candle, params)
        with self._lock:
            self.requests.append({"path": path, "params": params, "status": status, "rows": rows})
        return status, body

    def _candle_route(self, path: str) -> str | None:
        if self.kind == "binance":
            return "" if path == "/api/v3/klines" else None
        m = re.fullmatch(r"/v1/candles/(minutes/(\d+)|days|weeks)", path)
        if m is None:
            return None
        return _UPBIT_UNITS.get(int(m[2]), "?") if m[2] else _UPBIT_PERIODS[m[1]]

    def _other(self, path: str) -> tuple[int, str]:
        if self.kind == "binance" and path == "/api/v3/exchangeInfo":
            return 200, json.dumps(self._exchange_info())
        if self.kind == "binance" and path == "/api/v3/time":
            return 200, json.dumps({"serverTime": _ms(self.now)})
        if self.kind == "binance" and path == "/api/v3/ping":
            return 200, "{}"
        if self.kind == "upbit" and path == "/v1/market/all":
            markets = [
                {"market": mid, "korean_name": sym, "english_name": sym, "market_warning": "NONE"}
                for mid, sym in self._ids.items()
            ]
            return 200, json.dumps(markets)
        return 404, "Not Found"

    def _exchange_info(self) -> dict[str, Any]:
        symbols = []
        for market_id, symbol in self._ids.items():
            base, quote = symbol.split("-")
            symbols.append(
                {
                    "symbol": market_id,
                    "status": "TRADING",
                    "baseAsset": base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "MARKET"],
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": _SYMBOL_FILTERS,
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": _ms(self.now),
            "rateLimits": [_WEIGHT_LIMIT],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _candles(self, timeframe: str, params: dict[str, str]) -> tuple[int, int, str]:
        """(status, rows, body) for a candle request that is not failed on purpose."""
        key = "symbol" if self.kind == "binance" else "market"
        symbol = self._ids.get(params.get(key, ""))
        if self.kind == "binance":
            timeframe = params.get("interval", "")
        series = self._series.get((symbol or "", timeframe))
        if symbol is None:
            if self.kind == "binance":
                return 400, 0, '{"code":-1121,"msg":"Invalid symbol."}'
            return 404, 0, '{"error":{"name":404,"message":"Code not found"}}'
        if series is None:
            if self.kind == "binance":
                return 400, 0, '{"code":-1120,"msg":"Invalid interval."}'
            msg = f"no {timeframe} candles for {symbol} in the fake"
            return 400, 0, json.dumps({"error": {"name": "validation_error", "message": msg}})
        now_ms, opens = _ms(self.now), series.opens
        visible = int(np.searchsorted(opens, now_ms, "right"))
        if self.kind == "binance":
            n = min(int(params.get("limit", 500)), 1000, self.page_limit)
            if "endTime" in params:
                visible = min(visible, int(np.searchsorted(opens, int(params["endTime"]), "right")))
            if "startTime" in params:
                lo = int(np.searchsorted(opens, int(params["startTime"]), "left"))
                idx = range(lo, min(lo + n, visible))
            else:
                idx = range(max(0, visible - n), visible)
            out = [self._binance_row(series, i, now_ms) for i in idx]
        else:
            n = min(int(params.get("count", 1)), self.page_limit)
            hi = visible
            if "to" in params:
                hi = min(hi, int(np.searchsorted(opens, _ms(_utc(params["to"])), "left")))
            idx = range(hi - 1, max(0, hi - n) - 1, -1)
            out = [self._upbit_row(series, i, now_ms, timeframe, params["market"]) for i in idx]
        return 200, len(out), json.dumps(out)

    def _binance_row(self, series: _Series, i: int, now_ms: int) -> list[Any]:
        opened, v, _ = series.row(i, now_ms)
        vol, close = v["volume"], v["close"]
        return [
            opened,
            *(_num(v[c]) for c in _COLUMNS),
            opened + series.step_ms - 1,
            _num(vol * close),
            int(vol * 10) + 1,
            _num(vol / 2),
            _num(vol / 2 * close),
            "0",
        ]

    def _upbit_row(
        self, series: _Series, i: int, now_ms: int, timeframe: str, market: str
    ) -> dict[str, Any]:
        opened, v, is_open = series.row(i, now_ms)
        start = pd.Timestamp(opened, unit="ms")
        row: dict[str, Any] = {
            "market": market,
            "candle_date_time_utc": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "candle_date_time_kst": (start + pd.Timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%S"),
            "opening_price": v["open"],
            "high_price": v["high"],
            "low_price": v["low"],
            "trade_price": v["close"],
            "timestamp": now_ms if is_open else opened + series.step_ms - 1,
            "candle_acc_trade_price": v["volume"] * v["close"],
            "candle_acc_trade_volume": v["volume"],
        }
        if timeframe == "1d":
            prev = float(series.values[i - 1][3]) if i > 0 else v["open"]
            row |= {
                "prev_closing_price": prev,
                "change_price": v["close"] - prev,
                "change_rate": (v["close"] - prev) / prev if prev else 0.0,
            }
        elif timeframe == "1w":
            row["first_day_of_period"] = start.strftime("%Y-%m-%d")
        else:
            row["unit"] = int(series.step_ms // 60_000)
        return row
