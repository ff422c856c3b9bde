"""The map's tables: devices by period, boroughs and wards by period.

Written by a task into a folder of GeoPackages, one per layer (not the history
store), which the QGIS side opens as ordinary layers. One file per layer: QGIS
3.22 with GDAL 3.6 fails to read a second table of a GeoPackage in WAL mode
while a filtered layer holds the first ("unable to open database file").
One feature per device and period lets the period selector filter instead of
reload, and the temporal controller animate quarter by quarter.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import gpkg, paths
from .progress import SILENT, Progress
from .store import gpkg_point_blobs

NO_USAGE_PERIOD = "no usage data"
DEVICE_FIELDS = ["device_id", "name", "operator", "owner", "power_class", "max_power_kw",
                 "connector_count", "status", "location_type", "address", "postcode",
                 "latitude", "longitude", "source"]
USAGE_FIELDS = ["sessions", "kwh", "plugged_hours", "available_hours", "occupancy_pct",
                "capacity_factor_pct", "sessions_per_day", "kwh_per_day"]
AREA_FIELDS = ["area_code", "area_name", "parent_name", "population", "devices", "connectors",
               "rapid_devices", "ultra_devices", "devices_per_10k", "rapid_share_pct",
               "sessions", "kwh", "occupancy_pct", "capacity_factor_pct",
               "share_no_usage_pct", "occupancy_change"]
AREA_FILES = {"borough": ("london_boroughs.gpkg", "map_boroughs"),
              "ward": ("london_wards_2018.gpkg", "map_wards")}


def layer_file(folder, table: str) -> Path:
    """The GeoPackage holding one map table."""
    return Path(folder) / f"{table}.gpkg"


@dataclass
class MapInfo:
    path: Path
    periods: list[str]
    period_ranges: list[tuple[str, str]]
    latest_period: str
    synthetic_usage: bool
    vintage: str
    counts: dict[str, int] = field(default_factory=dict)
    assignment_lines: list[str] = field(default_factory=list)


def write_map(ws, path, period_kind: str = "quarter", progress: Progress = SILENT) -> MapInfo:
    """Write map_devices, map_boroughs and map_wards into the folder ``path`` (replaced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    progress.report(5, "Placing devices in boroughs and wards")
    assignment = ws.assignment()
    devices = ws.devices()
    has_usage = bool(ws.store.counts().get("sessions", 0))
    usage = ws.utilisation(period_kind, progress=progress.scaled(10, 60)) if has_usage else None
    periods, ranges = _periods(usage, ws.usage_periods(period_kind) if has_usage else [])
    progress.check_cancelled()
    progress.report(65, "Writing the devices layer")
    with _connect(layer_file(tmp, "map_devices")) as conn:
        counts = {"map_devices": _write_devices(conn, devices, assignment, usage, periods)}
    for level, (source_file, table) in AREA_FILES.items():
        progress.check_cancelled()
        progress.report(80 if level == "borough" else 88, f"Writing the {level} layer")
        with _connect(layer_file(tmp, table)) as conn:
            counts[table] = _write_areas(conn, ws, level, source_file, table, periods,
                                         has_usage, period_kind)
    shutil.rmtree(path, ignore_errors=True)
    tmp.replace(path)
    progress.report(100, "Map layers written")
    return MapInfo(path, periods, ranges, periods[-1], ws.has_synthetic_usage(),
                   _vintage(ws, periods), counts, assignment.report.lines())


@contextmanager
def _connect(file: Path):
    conn = sqlite3.connect(file)
    try:
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def _periods(usage, shown: list[str]):
    if usage is None or not len(usage) or not shown:
        return [NO_USAGE_PERIOD], []
    usage = usage[usage["period"].isin(shown)]
    table = usage[["period", "period_index", "period_start", "period_end"]].drop_duplicates(
        "period").sort_values("period_index")
    ranges = [(str(s), str(e)) for s, e in zip(table["period_start"], table["period_end"])]
    return list(table["period"]), ranges


def _write_devices(conn, devices, assignment, usage, periods) -> int:
    places = assignment.table[["device_id", "x", "y", "borough_name", "ward_name"]]
    base = devices[[c for c in DEVICE_FIELDS if c in devices.columns]].merge(
        places, on="device_id", how="left")
    grid = base.loc[base.index.repeat(len(periods))].reset_index(drop=True)
    grid["period"] = np.tile(np.asarray(periods, dtype=object), len(base))
    if usage is not None and len(usage):
        keep = ["device_id", "period", "period_start", "period_end"] + \
            [c for c in USAGE_FIELDS if c in usage.columns]
        bounds = usage[["period", "period_start", "period_end"]].drop_duplicates("period")
        grid = grid.merge(bounds, on="period", how="left")
        grid = grid.merge(usage[keep].drop(columns=["period_start", "period_end"]),
                          on=["device_id", "period"], how="left")
    for column in USAGE_FIELDS:
        if column not in grid.columns:
            grid[column] = np.nan
    blobs = gpkg_point_blobs(grid.pop("x").to_numpy(), grid.pop("y").to_numpy())
    gpkg.write_layer(conn, "map_devices", grid, blobs, "POINT",
                     description="Charge devices by period, with utilisation")
    return len(grid)


def _write_areas(conn, ws, level, source_file, table, periods, has_usage, period_kind) -> int:
    attributes, wkbs, _crs = gpkg.read_layer(paths.LONDON_SNAPSHOT / source_file)
    geometry_of = dict(zip(attributes["GSS_CODE"], wkbs))
    frames = []
    for period in periods:
        summary, _ = ws.summary(level=level, period=None if period == NO_USAGE_PERIOD
                                else period, period_kind=period_kind, with_usage=has_usage)
        summary = summary.copy()
        summary["period"] = period
        frames.append(summary)
    rows = pd.concat(frames, ignore_index=True)
    for column in AREA_FIELDS:
        if column not in rows.columns:
            rows[column] = np.nan
    rows = rows[AREA_FIELDS + ["period"]]
    blobs = [gpkg.gp_blob(geometry_of.get(code), gpkg.BNG_SRS_ID) for code in rows["area_code"]]
    gpkg.write_layer(conn, table, rows, blobs, "MULTIPOLYGON",
                     description=f"London {level}s with charge-point summaries by period")
    return len(rows)


def _vintage(ws, periods) -> str:
    log_frame = ws.store.import_log()
    imported = log_frame[log_frame["outcome"] == "imported"] if len(log_frame) else log_frame
    devices = ws.devices()
    latest = pd.to_datetime(devices["updated_utc"], utc=True).max() if len(devices) else None
    parts = []
    if latest is not None and not pd.isna(latest):
        parts.append(f"devices as of {latest:%d %b %Y}")
    if periods and periods[0] != NO_USAGE_PERIOD:
        parts.append(f"usage {periods[0]} to {periods[-1]}")
    parts.append(f"{len(imported)} imports")
    return "; ".join(parts)
