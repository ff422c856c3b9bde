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
    for name, values in ratio_columns(frame).items():
        out[name] = values
    return out


def ratio_columns(columns) -> dict:
    """Every ratio the additive columns of ``columns`` (a frame, or a dict of arrays
    before it becomes one) give, in the order :func:`add_ratios` appends them."""
    have = set(columns)
    out = {}
    if {"plugged_hours", "available_hours"} <= have:
        out["occupancy_pct"] = ratio(columns["plugged_hours"], columns["available_hours"], 100)
    if {"kwh", "capacity_kwh"} <= have:
        out["capacity_factor_pct"] = ratio(columns["kwh"], columns["capacity_kwh"], 100)
    if {"sessions", "available_days"} <= have:
        out["sessions_per_day"] = ratio(columns["sessions"], columns["available_days"])
        out["kwh_per_day"] = ratio(columns["kwh"], columns["available_days"])
    if {"idle_hours", "idle_base_hours"} <= have:
        out["idle_share_pct"] = ratio(columns["idle_hours"], columns["idle_base_hours"], 100)
    if {"working_hours", "down_hours"} <= have:
        out["uptime_pct"] = ratio(columns["working_hours"],
                                  columns["working_hours"] + columns["down_hours"], 100)
    if {"status_observed_hours", "status_period_hours"} <= have:
        out["observed_coverage_pct"] = ratio(columns["status_observed_hours"],
                                             columns["status_period_hours"], 100)
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
