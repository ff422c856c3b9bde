"""The area summary's worker side: runs in tasks, so no widgets and no layers.

:func:`prepare` opens the store and prepares a summariser (placing devices in
areas, utilisation of every period) with what the dock's lists offer;
:func:`compute_view` summarises one level for a period and filters, with the trend
of every area across the periods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from ...core.progress import Progress
from ...core.schema import POWER_CLASSES
from ...core.workspace import USAGE_SUMMARY_COLUMNS, Workspace

FILTER_KEYS = ("operator", "power_class", "location_type")
UNKNOWN = "unknown"

@dataclass
class Prepared:
    """A prepared summariser and what the widgets need to offer its choices."""

    store_path: str
    stamp: int
    period_kind: str
    summariser: object
    periods: list
    choices: dict
    assignment_lines: list
    devices_total: int
    synthetic_usage: bool
    resummary_ms: float = 0.0
    latest: Optional[str] = None        # the period shown first (the store's default)


@dataclass
class ViewResult:
    """One level's summary (every area) and the trend of every area across periods."""

    key: tuple
    table: pd.DataFrame
    trend: dict = field(default_factory=dict)


def _choices(values: pd.Series) -> list:
    """(value, device count) pairs, commonest first; missing values become "unknown"."""
    if values is None:
        return []
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: UNKNOWN if v is None or not str(v).strip() else str(v).strip())
    counts = text.value_counts()
    return [(str(k), int(v)) for k, v in counts.items()]


def prepare(store_path: str, period_kind: str, known: Optional[Prepared],
            progress: Progress, target=None) -> Prepared:
    """Worker: open the store and prepare (or reuse) the summariser for its current stamp.

    ``store_path`` names the store (a path or a store reference); ``target``, when given,
    is that store resolved on the main thread (a ``StoreTarget`` with its credentials).
    """
    with Workspace(target if target is not None else store_path) as ws:
        stamp = ws.store_stamp()
        if known is not None and known.stamp == stamp:
            return known
        summariser = ws.summariser(period_kind, progress=progress.scaled(0, 90))
        devices = ws.devices()
        choices = {
            "operator": _choices(devices.get("operator")),
            "power_class": sorted(_choices(devices.get("power_class")),
                                  key=lambda kv: POWER_CLASSES.index(kv[0])
                                  if kv[0] in POWER_CLASSES else len(POWER_CLASSES)),
            "location_type": _choices(devices.get("location_type")),
        }
        lines = ws.assignment().report.lines()
        if summariser.access is not None:  # the shared store: what this login may see
            lines.append(summariser.access.note)
        synthetic = ws.has_synthetic_usage()
    periods = list(summariser.periods_with_data or summariser.periods)
    latest = summariser.default_period() if periods else None
    latest = latest if latest in periods else (periods[-1] if periods else None)
    summariser.summarise("ward", latest)            # warm up, then measure
    began = time.perf_counter()
    summariser.summarise("ward", latest)
    elapsed = (time.perf_counter() - began) * 1000.0
    progress.report(100, "Summaries ready")
    return Prepared(store_path, stamp, period_kind, summariser, periods, choices, lines,
                    len(devices), synthetic, elapsed, latest=latest)


def _trend_frame(table: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in ("sessions", "plugged_hours", "available_hours") if c in table]
    return table.set_index("area_code")[columns]


def compute_view(summariser, level: str, period: Optional[str], filters: dict,
                 periods: list, trend: Optional[dict]) -> ViewResult:
    """Summary of every area of ``level`` and, unless given, the trend frames per period."""
    table = summariser.summarise(level=level, period=period, filters=filters or None)
    for column in USAGE_SUMMARY_COLUMNS:
        if column not in table.columns:
            table[column] = float("nan")
    if trend is None:
        trend = {}
        for p in periods:
            frame = table if p == table.attrs.get("period") else summariser.summarise(
                level=level, period=p, filters=filters or None)
            trend[p] = _trend_frame(frame)
    return ViewResult((level, table.attrs.get("period"), filters_key(filters)), table, trend)


def filters_key(filters: dict) -> tuple:
    """The filters as a hashable key (values sorted), for caches."""
    return tuple((k, tuple(sorted(str(v) for v in filters.get(k) or ()))) for k in FILTER_KEYS)
