"""The map's tables: devices by period, boroughs and wards by period.

Computed once (:func:`build_map`) and written by a task either into a folder of
GeoPackages, one per layer (not the history store), which the QGIS side opens as
ordinary layers, or, for a shared store, into PostGIS tables (:mod:`.pg_mapdata`).
One file per layer: QGIS 3.22 with GDAL 3.6 fails to read a second table of a GeoPackage in WAL mode
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
from typing import Optional

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
    path: Optional[Path]              # the map folder; None when the tables are in PostGIS
    periods: list[str]
    period_ranges: list[tuple[str, str]]
    latest_period: str
    synthetic_usage: bool
    vintage: str
    counts: dict[str, int] = field(default_factory=dict)
    assignment_lines: list[str] = field(default_factory=list)
    # The schema of the store database holding the map tables (PostGIS store), else "".
    database_schema: str = ""


@dataclass
class MapFrames:
    """The map's tables, computed once and written to GeoPackages or PostGIS."""

    periods: list[str]
    period_ranges: list[tuple[str, str]]
    synthetic_usage: bool
    vintage: str
    assignment_lines: list[str]
    devices: pd.DataFrame                 # one row per device and period
    device_x: np.ndarray                  # EPSG:27700; NaN where a device has no place
    device_y: np.ndarray
    # table -> (one row per area and period, WKB of each row's area or None)
    areas: dict[str, tuple[pd.DataFrame, list]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = {"map_devices": len(self.devices)}
        counts.update({table: len(rows) for table, (rows, _wkbs) in self.areas.items()})
        return counts

    def info(self, path: Optional[Path], database_schema: str = "") -> MapInfo:
        return MapInfo(path, self.periods, self.period_ranges, self.periods[-1],
                       self.synthetic_usage, self.vintage, self.counts(),
                       self.assignment_lines, database_schema)


def build_map(ws, period_kind: str = "quarter", progress: Progress = SILENT) -> MapFrames:
    """The devices, boroughs and wards tables of the map, by period."""
    progress.report(5, "Placing devices in boroughs and wards")
    assignment = ws.assignment()
    devices = ws.devices()
    has_usage = bool(ws.store.counts().get("sessions", 0))
    usage = ws.utilisation(period_kind, progress=progress.scaled(10, 60)) if has_usage else None
    periods, ranges = _periods(usage, ws.usage_periods(period_kind) if has_usage else [])
    progress.check_cancelled()
    progress.report(65, "Preparing the devices layer")
    grid, x, y = _device_rows(devices, assignment, usage, periods)
    frames = MapFrames(periods, ranges, ws.has_synthetic_usage(), _vintage(ws, periods),
                       assignment.report.lines(), grid, x, y)
    for level, (source_file, table) in AREA_FILES.items():
        progress.check_cancelled()
        progress.report(80 if level == "borough" else 88, f"Preparing the {level} layer")
        frames.areas[table] = _area_rows(ws, level, source_file, periods, has_usage,
                                         period_kind)
    return frames


def write_map(ws, path, period_kind: str = "quarter", progress: Progress = SILENT) -> MapInfo:
    """Write map_devices, map_boroughs and map_wards into the folder ``path`` (replaced)."""
    frames = build_map(ws, period_kind, progress.scaled(0, 95))
    return write_geopackages(frames, path, progress.scaled(95, 100))


def write_geopackages(frames: MapFrames, path, progress: Progress = SILENT) -> MapInfo:
    """The map tables as one GeoPackage per layer in the folder ``path`` (replaced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    progress.report(0, "Writing the devices layer")
    with _connect(layer_file(tmp, "map_devices")) as conn:
        blobs = gpkg_point_blobs(frames.device_x, frames.device_y)
        gpkg.write_layer(conn, "map_devices", frames.devices, blobs, "POINT",
                         description="Charge devices by period, with utilisation")
    for level, (_source_file, table) in AREA_FILES.items():
        progress.check_cancelled()
        progress.report(40 if level == "borough" else 70, f"Writing the {level} layer")
        rows, wkbs = frames.areas[table]
        with _connect(layer_file(tmp, table)) as conn:
            blobs = [gpkg.gp_blob(wkb, gpkg.BNG_SRS_ID) for wkb in wkbs]
            gpkg.write_layer(conn, table, rows, blobs, "MULTIPOLYGON",
                             description=f"London {level}s with charge-point summaries by "
                                         "period")
    shutil.rmtree(path, ignore_errors=True)
    tmp.replace(path)
    progress.report(100, "Map layers written")
    return frames.info(path)


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


def _device_rows(devices, assignment, usage, periods):
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
    x = grid.pop("x").to_numpy(dtype="float64")
    y = grid.pop("y").to_numpy(dtype="float64")
    return grid, x, y


def _area_rows(ws, level, source_file, periods, has_usage, period_kind):
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
    return rows, [geometry_of.get(code) for code in rows["area_code"]]


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
