"""Utilisation rows are additive sums; everything else is derived from them: the ratios
(:func:`add_ratios`, recomputed, never averaged), aggregates over any grouping
(:func:`summarise`) and changes against earlier periods (:func:`add_trends`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import PERIODS_PER_YEAR
from .quality import FLAGS
from .ratios import ratio

ADDITIVE = ["sessions", "kwh", "plugged_hours", "available_hours", "available_days",
            "capacity_kwh", "in_use_days", "idle_hours", "idle_base_hours",
            "status_observed_hours", "status_period_hours", "working_hours", "down_hours",
            *[f"flag_{f}" for f in FLAGS]]


def add_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """(Re)compute every ratio from the additive columns present."""
    out = frame.copy()
    if {"plugged_hours", "available_hours"} <= set(out):
        out["occupancy_pct"] = ratio(out["plugged_hours"], out["available_hours"], 100)
    if {"kwh", "capacity_kwh"} <= set(out):
        out["capacity_factor_pct"] = ratio(out["kwh"], out["capacity_kwh"], 100)
    if {"sessions", "available_days"} <= set(out):
        out["sessions_per_day"] = ratio(out["sessions"], out["available_days"])
        out["kwh_per_day"] = ratio(out["kwh"], out["available_days"])
    if {"idle_hours", "idle_base_hours"} <= set(out):
        out["idle_share_pct"] = ratio(out["idle_hours"], out["idle_base_hours"], 100)
    if {"working_hours", "down_hours"} <= set(out):
        out["uptime_pct"] = ratio(out["working_hours"],
                                  out["working_hours"] + out["down_hours"], 100)
    if {"status_observed_hours", "status_period_hours"} <= set(out):
        out["observed_coverage_pct"] = ratio(out["status_observed_hours"],
                                             out["status_period_hours"], 100)
    return out


def summarise(frame: pd.DataFrame, by: list[str] | str) -> pd.DataFrame:
    """Aggregate utilisation rows (e.g. by period, borough, power class) from sums."""
    keys = [by] if isinstance(by, str) else list(by)
    additive = [c for c in ADDITIVE + ["connectors", "rated_kw"] if c in frame]
    grouped = frame.groupby(keys, sort=True, dropna=False)[additive].sum(min_count=1)
    grouped["devices"] = frame.groupby(keys, sort=True, dropna=False)["device_id"].nunique()
    return add_ratios(grouped.reset_index())


def add_trends(frame: pd.DataFrame, metrics=("sessions", "kwh", "plugged_hours",
                                             "occupancy_pct", "capacity_factor_pct"),
               keys=None, period: str | None = None) -> pd.DataFrame:
    """Change against the previous period and the same period a year earlier.

    Adds ``<metric>_change``, ``<metric>_change_pct``, ``<metric>_yoy_change`` and
    ``<metric>_yoy_change_pct``; NaN where the earlier period has no row (or the
    earlier value is 0 for the % columns).
    """
    if keys is None:
        keys = [k for k in ("device_id", "connector_id") if k in frame]
    if period is None:
        period = _kind_of(frame)
    metrics = [m for m in metrics if m in frame]
    out = frame.copy()
    base = frame[keys + ["period_index"] + metrics]
    for suffix, lag in (("", 1), ("_yoy", PERIODS_PER_YEAR[period])):
        earlier = base.copy()
        earlier["period_index"] = earlier["period_index"] + lag
        earlier = earlier.rename(columns={m: f"__{m}" for m in metrics})
        merged = out[keys + ["period_index"]].merge(earlier, on=keys + ["period_index"],
                                                    how="left")
        for m in metrics:
            before = merged[f"__{m}"].to_numpy("float64")
            now = out[m].to_numpy("float64")
            out[f"{m}{suffix}_change"] = now - before
            with np.errstate(divide="ignore", invalid="ignore"):
                pct = (now - before) / np.abs(before) * 100
            pct[~(np.abs(before) > 0)] = np.nan
            out[f"{m}{suffix}_change_pct"] = pct
    return out


def _kind_of(frame: pd.DataFrame) -> str:
    label = str(frame["period"].iloc[0]) if len(frame) else "2000-Q1"
    if "-Q" in label:
        return "quarter"
    return "month" if "-" in label else "year"
