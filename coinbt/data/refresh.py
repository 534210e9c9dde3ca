"""Scheduled refresh: fetch a list of exchanges × symbols × timeframes from a YAML file.

::

    # refresh.yaml
    root: ./data                  # optional: the catalog root (default $COINBT_DATA_ROOT)
    series:
      - exchange: upbit
        symbols: [KRW-BTC, KRW-ETH]
        timeframes: [1h, 1d]
        since: 2024-01-01         # where a series starts when nothing is stored yet
      - exchange: binance
        symbols: [BTC/USDT]
        timeframes: [1h]
        since: 2023-01-01
        repair: true              # also refetch gaps inside the stored range

Each series is fetched incrementally (:func:`coinbt.data.fetch.fetch`); one failing series is
reported and the others go on.  Run it from cron (``coinbt data refresh --config
refresh.yaml``) or as a periodic RQ job (``--queue default --every 1h``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coinbt.data.fetch import FetchReport, fetch
from coinbt.errors import CoinbtError, ConfigError, did_you_mean

_TOP = ("root", "series")
_SERIES = ("exchange", "symbols", "timeframes", "since", "until", "repair", "api_host")


def read_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The refresh plan from a YAML file (or a mapping), every key checked."""
    if isinstance(source, Mapping):
        plan = dict(source)
        where = "refresh config"
    else:
        import yaml

        path = Path(source).expanduser()
        where = str(path)
        try:
            plan = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"refresh config {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"refresh config {path} is not valid YAML: {exc}") from None
    if not isinstance(plan, dict):
        raise ConfigError(f"{where}: expected a mapping with 'series', got {type(plan).__name__}")
    for key in plan:
        if key not in _TOP:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), _TOP)}")
    series = plan.get("series")
    if not isinstance(series, list) or not series:
        raise ConfigError(f"{where}: 'series' must be a non-empty list of exchanges")
    for k, item in enumerate(series):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: series[{k}] must be a mapping")
        for key in item:
            if key not in _SERIES:
                raise ConfigError(
                    f"{where}: series[{k}]: unknown key {key!r}{did_you_mean(str(key), _SERIES)}"
                )
        for key in ("exchange", "symbols", "timeframes"):
            if key not in item:
                raise ConfigError(f"{where}: series[{k}] needs {key!r}")
        for key in ("symbols", "timeframes"):
            if isinstance(item[key], str):
                item[key] = [item[key]]
            if not isinstance(item[key], list) or not item[key]:
                raise ConfigError(f"{where}: series[{k}].{key} must be a non-empty list")
    return plan


def refresh(
    config: str | os.PathLike[str] | Mapping[str, Any], *, progress: bool = True
) -> list[FetchReport]:
    """Fetch every series of the plan; one report per series (failures included)."""
    plan = read_config(config)
    root = plan.get("root")
    reports = []
    for item in plan["series"]:
        for symbol in item["symbols"]:
            for timeframe in item["timeframes"]:
                try:
                    report = fetch(
                        item["exchange"], str(symbol), str(timeframe),
                        since=item.get("since"), until=item.get("until"), root=root,
                        repair=bool(item.get("repair", False)), api_host=item.get("api_host"),
                        progress=progress,
                    )  # fmt: skip
                except CoinbtError as exc:  # a mistake in one series: the others go on
                    report = FetchReport(str(item["exchange"]), str(symbol), str(timeframe))
                    report.error = str(exc)
                reports.append(report)
    return reports


__all__ = ["read_config", "refresh"]
