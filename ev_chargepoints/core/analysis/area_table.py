"""The summary table: one row per area (borough or ward) with its devices, usage and
uptime, built from per-area sums; ratios are recomputed from the sums, never averaged.
Shared by the pandas :class:`~.summary.Summariser` and the PostGIS store's SQL
summaries; :func:`definitions` gives each column in plain words with units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import POWER_CLASSES
from .ratios import ratio

USAGE_SUMS = ("sessions", "kwh", "plugged_hours", "available_hours", "capacity_kwh")


def definitions() -> dict[str, str]:
    """Output column -> plain-English definition with units."""
    per_10k = "per 10,000 residents (population of the area, see population)"
    return {
        "area_code": "ONS/GSS code of the borough (E09...) or ward (E05...).",
        "area_name": "Name of the borough or ward.",
        "parent_code": "For wards: code of the borough the ward belongs to.",
        "parent_name": "For wards: name of the borough the ward belongs to.",
        "population": "Residents, GLA ward profiles 2015 estimate (people); for wards "
                      "re-drawn since 2011, apportioned from the old wards by area "
                      "(see the population note).",
        "area_km2": "Land area of the polygon (km², British National Grid).",
        "devices": "Charge devices (charge points) located in the area after the filters "
                   "(count). A device is one post or unit with one or more connectors.",
        "connectors": "Connectors (sockets or tethered cables) on those devices (count).",
        "slow_devices": "Devices whose fastest connector is rated 3-7 kW (count).",
        "fast_devices": "Devices whose fastest connector is rated 8-49 kW (count).",
        "rapid_devices": "Devices whose fastest connector is rated 50-149 kW (count).",
        "ultra_devices": "Devices whose fastest connector is rated 150 kW or more (count).",
        "unknown_power_devices": "Devices with no usable power rating (count).",
        "rapid_share_pct": "Rapid and ultra-rapid devices (50 kW or more) ÷ all devices "
                           "(%).",
        "devices_per_10k": f"Devices {per_10k}.",
        "connectors_per_10k": f"Connectors {per_10k}.",
        "devices_per_km2": "Devices per square kilometre of the area.",
        "period": "Utilisation period shown (calendar month, quarter or year, UK time).",
        "devices_with_usage": "Devices with a usage record for the period (count).",
        "share_no_usage_pct": "Devices without any usage record for the period ÷ all "
                              "devices (%). Their sessions are unknown, not zero.",
        "sessions": "Charging sessions that started in the period (count); empty where "
                    "no device of the area has a usage record.",
        "kwh": "Energy delivered in the period (kWh).",
        "plugged_hours": "Time vehicles were plugged in during the period (hours).",
        "available_hours": "Connector-hours the devices could be used in the period "
                           "(hours).",
        "occupancy_pct": "Σ plugged-in hours ÷ Σ available hours over the area's devices "
                         "with usage records (%), recomputed from sums.",
        "capacity_kwh": "Σ rated kW × hours available: the energy the devices could have "
                        "delivered running flat out (kWh).",
        "capacity_factor_pct": "Σ kWh delivered ÷ Σ capacity kWh (%), recomputed from "
                               "sums; energy-based utilisation.",
        "sessions_per_device": "Sessions ÷ devices with usage records (count).",
        "prev_period": "The period before the one shown.",
        "prev_sessions": "Sessions in the previous period (count).",
        "prev_kwh": "Energy delivered in the previous period (kWh).",
        "prev_occupancy_pct": "Occupancy in the previous period (%).",
        "sessions_change": "Sessions minus previous period's sessions (count).",
        "sessions_change_pct": "Change in sessions as % of the previous period's.",
        "kwh_change": "kWh minus the previous period's kWh (kWh).",
        "kwh_change_pct": "Change in kWh as % of the previous period's.",
        "occupancy_pct_change": "Occupancy minus the previous period's occupancy "
                                "(percentage points).",
        "uptime_pct": "Σ working time ÷ Σ (working + not working) time of the area's "
                      "devices in the period, over observed status time only (%); "
                      "working = AVAILABLE, CHARGING, RESERVED; not working = "
                      "INOPERATIVE, OUTOFORDER (2023 regulations).",
        "status_observed_hours": "EVSE-hours of watched status behind uptime (hours): "
                                 "each observation holds until the EVSE's next one, for "
                                 "at most 1 hour; longer gaps are unobserved.",
        "status_observations": "Status observations of the area's EVSEs in the period "
                               "(count).",
        "usage_devices": "Devices whose usage or status lies behind the area's usage "
                         "figures (count; the period shown and the one before).",
        "usage_operators": "Operators of those devices (count).",
        "usage_disclosure": "'shown', or why the area's usage figures are suppressed: "
                            "fewer devices than the disclosure threshold, a single "
                            "operator, or a partner area that a published total would "
                            "otherwise give away (empty figures).",
    }


def summary_table(areas: pd.DataFrame, level: str, devices: np.ndarray,
                  connectors: np.ndarray, by_class: np.ndarray, period: str | None,
                  now: dict | None, previous: str | None, before: dict | None,
                  status: dict | None = None) -> pd.DataFrame:
    """The summary table from per-area sums in ``areas`` row order (an AreaSet's
    table): counts, usage sums of ``period`` (``now``; None without usage) and of
    the ``previous`` period (``before``), status sums of ``period`` (``status``:
    uptime with its observed hours), ratios recomputed from the sums."""
    n_areas = len(areas)
    population = areas["population"].to_numpy("float64")
    out = {
        "area_code": areas["area_code"].to_numpy(object),
        "area_name": areas["area_name"].to_numpy(object),
        "parent_code": areas["parent_code"].to_numpy(object),
        "parent_name": areas["parent_name"].to_numpy(object),
        "population": population,
        "area_km2": areas["area_m2"].to_numpy("float64") / 1e6,
    }
    out["devices"] = devices
    out["connectors"] = np.asarray(connectors).astype(np.int64)
    for i, name in enumerate(POWER_CLASSES):
        out[f"{name}_devices"] = by_class[:, i]
    out["unknown_power_devices"] = by_class[:, len(POWER_CLASSES)]
    rapid_plus = by_class[:, POWER_CLASSES.index("rapid")] \
        + by_class[:, POWER_CLASSES.index("ultra")]
    out["rapid_share_pct"] = ratio(rapid_plus, devices, 100)
    out["devices_per_10k"] = ratio(devices, population, 10_000)
    out["connectors_per_10k"] = ratio(connectors, population, 10_000)
    out["devices_per_km2"] = ratio(devices, out["area_km2"])
    if now is not None:
        out["period"] = np.full(n_areas, period, dtype=object)
        out["devices_with_usage"] = now["devices_with_usage"]
        out["share_no_usage_pct"] = ratio(devices - now["devices_with_usage"], devices, 100)
        for name in USAGE_SUMS:
            out[name] = now[name]
        out["occupancy_pct"] = ratio(now["plugged_hours"], now["available_hours"], 100)
        out["capacity_factor_pct"] = ratio(now["kwh"], now["capacity_kwh"], 100)
        out["sessions_per_device"] = ratio(now["sessions"], now["devices_with_usage"])
        out["prev_period"] = np.full(n_areas, previous, dtype=object)
        for name in ("sessions", "kwh"):
            prev = _known(before, name, n_areas)
            out[f"prev_{name}"] = prev
            out[f"{name}_change"] = now[name] - prev
            out[f"{name}_change_pct"] = ratio(now[name] - prev, np.abs(prev), 100)
        prev_occ = ratio(before["plugged_hours"], before["available_hours"], 100) \
            if before is not None else np.full(n_areas, np.nan)
        out["prev_occupancy_pct"] = prev_occ
        out["occupancy_pct_change"] = out["occupancy_pct"] - prev_occ
    if status is not None:
        if now is None:
            out["period"] = np.full(n_areas, period, dtype=object)
        out["uptime_pct"] = ratio(status["working_hours"],
                                  status["working_hours"] + status["down_hours"], 100)
        out["status_observed_hours"] = status["status_observed_hours"]
        out["status_observations"] = status["status_observations"].astype(np.int64)
    frame = pd.DataFrame(out)
    if level == "borough" and frame["parent_code"].isna().all():
        frame["parent_code"] = None
        frame["parent_name"] = None
    return frame.sort_values("area_code", kind="stable").reset_index(drop=True)


def _known(sums: dict | None, name: str, n: int) -> np.ndarray:
    return sums[name] if sums is not None else np.full(n, np.nan)
