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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from .. import paths
from ..calendar import LOCAL_TZ, as_utc
from ..crs import wgs84_to_bng
from ..progress import SILENT, Progress
from ..store import gpkg_file as gpkg
from ..store.gpkg_file import point_wkbs
from . import layer_styles, styling

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
# A period has substantial usage when the sessions that start in it are at least this
# share of the median over the periods in which sessions start (docs/user-guide.md,
# "Periods"): a few sessions of a return spilling into the next quarter do not count.
SUBSTANTIAL_SHARE = 0.10


def substantial_periods(sessions) -> list[str]:
    """The periods with substantial usage, oldest first. ``sessions``: the sessions that
    start in each period, a Series indexed by period label, oldest first."""
    counts = pd.to_numeric(pd.Series(sessions, dtype="float64"), errors="coerce").fillna(0)
    started = counts[counts > 0]
    if not len(started):
        return []
    floor = SUBSTANTIAL_SHARE * float(np.median(started.to_numpy()))
    # a hair of tolerance: a period at exactly the share is substantial
    return [str(p) for p, n in started.items() if n >= floor * (1 - 1e-12)]


def latest_period(sessions) -> Optional[str]:
    """The period every front door shows unless one is asked for: the latest with
    substantial usage (:func:`substantial_periods`); None without sessions."""
    found = substantial_periods(sessions)
    return found[-1] if found else None


def period_sessions(usage: Optional[pd.DataFrame]) -> pd.Series:
    """The sessions that start in each period of utilisation rows (device or connector
    level), oldest first."""
    if usage is None or not len(usage):
        return pd.Series(dtype="float64")
    order = usage.drop_duplicates("period").sort_values(
        ["period_index", "period"] if "period_index" in usage else ["period"])["period"]
    sums = pd.to_numeric(usage["sessions"], errors="coerce").groupby(usage["period"]).sum()
    return sums.reindex(order.to_numpy()).astype("float64")


def layer_file(folder, table: str) -> Path:
    """The GeoPackage holding one map table."""
    return Path(folder) / f"{table}.gpkg"


@dataclass
class StatusLayerInfo:
    """A live status GeoPackage written by :func:`write_status`."""

    path: Path
    features: int
    classes: dict[str, int]          # live_status class -> devices
    latest_utc: Optional[str]        # the newest observation shown (ISO), None if none
    now_utc: str                     # the time the ages were measured at (ISO)
    max_age_minutes: float
    not_on_map: int = 0              # devices with status that are not current or placed
    sources: list[str] = field(default_factory=list)   # e.g. ["ocpi:operator-a"]

    def latest_text(self) -> str:
        """The newest observation in UK time, e.g. '04 Mar 2024 13:30' ('' if none)."""
        if not self.latest_utc:
            return ""
        return pd.Timestamp(self.latest_utc).tz_convert(LOCAL_TZ).strftime(
            "%d %b %Y %H:%M")


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
    # The live status layer's GeoPackage, when the store holds status snapshots.
    status: Optional[StatusLayerInfo] = None


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
    latest: Optional[str] = None          # the period shown first (default: the last)

    def counts(self) -> dict[str, int]:
        counts = {"map_devices": len(self.devices)}
        counts.update({table: len(rows) for table, (rows, _wkbs) in self.areas.items()})
        return counts

    def info(self, path: Optional[Path], database_schema: str = "") -> MapInfo:
        latest = self.latest if self.latest in self.periods else self.periods[-1]
        return MapInfo(path, self.periods, self.period_ranges, latest,
                       self.synthetic_usage, self.vintage, self.counts(),
                       self.assignment_lines, database_schema)


def build_map(assignment, devices: pd.DataFrame, usage: Optional[pd.DataFrame],
              usage_periods: list[str], synthetic_usage: bool, import_log: pd.DataFrame,
              latest: Optional[str], area_summary: Callable[[str, Optional[str]], pd.DataFrame],
              progress: Progress = SILENT) -> MapFrames:
    """The devices, boroughs and wards tables of the map, by period.

    ``assignment``: each device's ward and borough; ``usage``: utilisation rows (None
    without sessions) shown for ``usage_periods``; ``latest``: the period shown first;
    ``import_log`` dates the map; ``area_summary(level, period)``: the summary table of
    the boroughs or wards in a period shown (period None: without usage).
    """
    periods, ranges = _periods(usage, usage_periods if usage is not None else [])
    progress.check_cancelled()
    progress.report(65, "Preparing the devices layer")
    grid, x, y = _device_rows(devices, assignment, usage, periods)
    frames = MapFrames(periods, ranges, bool(synthetic_usage),
                       _vintage(import_log, devices, periods), assignment.report.lines(),
                       grid, x, y, latest=latest)
    for level, (source_file, table) in AREA_FILES.items():
        progress.check_cancelled()
        progress.report(80 if level == "borough" else 88, f"Preparing the {level} layer")
        frames.areas[table] = _area_rows(level, source_file, periods, area_summary)
    return frames


def map_folder(store_path, period_kind: str, stamp: int) -> Path:
    """The folder of the map GeoPackages of the GeoPackage store ``store_path``: beside
    it, named by the store's state (``stamp``), so a changed store gets a new one."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}_map_{period_kind}_{stamp}")


def write_beside_store(frames: MapFrames, store_path, period_kind: str, stamp: int,
                       progress: Progress = SILENT) -> MapInfo:
    """``frames`` in the store's :func:`map_folder`; the store's older map folders of
    ``period_kind`` are removed (files still open stay until the next time)."""
    target = map_folder(store_path, period_kind, stamp)
    for stale in target.parent.glob(f"{Path(store_path).stem}_map_{period_kind}_*"):
        if stale != target and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    return write_geopackages(frames, target, progress)


def write_geopackages(frames: MapFrames, path, progress: Progress = SILENT) -> MapInfo:
    """The map tables as one GeoPackage per layer in the folder ``path`` (replaced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    progress.report(0, "Writing the devices layer")
    gpkg.write_geopackage(layer_file(tmp, "map_devices"), "map_devices", frames.devices,
                          point_wkbs(frames.device_x, frames.device_y), "POINT",
                          description="Charge devices by period, with utilisation")
    layer_styles.write_plugin_style(layer_file(tmp, "map_devices"), "map_devices")
    for level, (_source_file, table) in AREA_FILES.items():
        progress.check_cancelled()
        progress.report(40 if level == "borough" else 70, f"Writing the {level} layer")
        rows, wkbs = frames.areas[table]
        gpkg.write_geopackage(layer_file(tmp, table), table, rows, wkbs, "MULTIPOLYGON",
                              description=f"London {level}s with charge-point summaries by "
                                          "period")
        layer_styles.write_plugin_style(layer_file(tmp, table), table)
    shutil.rmtree(path, ignore_errors=True)
    tmp.replace(path)
    progress.report(100, "Map layers written")
    return frames.info(path)


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


def _area_rows(level, source_file, periods, area_summary):
    attributes, wkbs, _crs = gpkg.read_layer(paths.LONDON_SNAPSHOT / source_file)
    geometry_of = dict(zip(attributes["GSS_CODE"], wkbs))
    frames = []
    for period in periods:
        summary = area_summary(level, None if period == NO_USAGE_PERIOD else period).copy()
        summary["period"] = period
        frames.append(summary)
    rows = pd.concat(frames, ignore_index=True)
    for column in AREA_FIELDS:
        if column not in rows.columns:
            rows[column] = np.nan
    rows = rows[AREA_FIELDS + ["period"]]
    return rows, [geometry_of.get(code) for code in rows["area_code"]]


def _vintage(log_frame: pd.DataFrame, devices: pd.DataFrame, periods) -> str:
    imported = log_frame[log_frame["outcome"] == "imported"] if len(log_frame) else log_frame
    latest = pd.to_datetime(devices["updated_utc"], utc=True).max() if len(devices) else None
    parts = []
    if latest is not None and not pd.isna(latest):
        parts.append(f"devices as of {latest:%d %b %Y}")
    if periods and periods[0] != NO_USAGE_PERIOD:
        parts.append(f"usage {periods[0]} to {periods[-1]}")
    parts.append(f"{len(imported)} imports")
    return "; ".join(parts)


# --- live status ------------------------------------------------------------------------
# One feature per reconciled device that has status: its EVSEs' latest statuses grouped
# as in core.styling. Written as a new GeoPackage each time (map_status_<ns>.gpkg in a
# folder of its own), so a layer showing an older file is never written under; the QGIS
# side switches the layer to the new file and removes the older ones.

STATUS_TABLE = "map_status"
STATUS_FIELDS = ["device_id", "live_status", "last_status", "ocpi_status", "evses",
                 "evses_available", "evses_charging", "evses_out_of_order", "evses_unknown",
                 "observed_utc", "age_minutes", "source"]
STATUS_DEVICE_FIELDS = ["name", "operator", "power_class", "address", "postcode"]


def classify_live_status(snapshots: pd.DataFrame, now,
                         max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES
                         ) -> pd.DataFrame:
    """One row per device of ``snapshots`` (observed_utc, device_id, evse_uid, status,
    source; device ids already reconciled) with its live status at ``now``.

    Each EVSE counts with its latest observation. The EVSEs observed within
    ``max_age_minutes`` before ``now`` give the device's class, the first of
    :data:`.styling.LIVE_STATUS_PRIORITY` any of them has; a device none of whose
    EVSEs is that recent is "stale", with the class of its last observations in
    ``last_status``. ``observed_utc`` is the newest observation counted,
    ``ocpi_status`` the OCPI statuses counted and ``evses_*`` how many EVSEs are in
    each class.
    """
    if not len(snapshots):
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in STATUS_FIELDS})
        frame["observed_utc"] = pd.Series(dtype="datetime64[ns, UTC]")
        return frame
    now = _utc_timestamp(now)
    rows = pd.DataFrame({
        "observed_utc": pd.to_datetime(snapshots["observed_utc"], utc=True),
        "device_id": snapshots["device_id"].astype(object),
        "evse_uid": snapshots["evse_uid"].astype(object).where(
            snapshots["evse_uid"].notna(), ""),
        "status": snapshots["status"].astype(object),
        "source": snapshots["source"].astype(object)})
    rows = rows[rows["device_id"].notna() & rows["observed_utc"].notna()]
    latest = rows.sort_values("observed_utc", kind="stable").drop_duplicates(
        ["device_id", "evse_uid"], keep="last")
    age = (now - latest["observed_utc"]).dt.total_seconds() / 60.0
    latest = latest.assign(fresh=(age <= float(max_age_minutes)).to_numpy())
    has_fresh = latest.groupby("device_id")["fresh"].transform("any").astype(bool)
    counted = latest[latest["fresh"].to_numpy() | ~has_fresh.to_numpy()].copy()
    counted["cls"] = counted["status"].map(styling.LIVE_STATUS_OF).fillna("unknown")
    rank = {key: i for i, key in enumerate(styling.LIVE_STATUS_PRIORITY)}
    counted["rank"] = counted["cls"].map(rank).astype("int64")
    grouped = counted.groupby("device_id", sort=True)
    table = pd.DataFrame({
        "rank": grouped["rank"].min(),
        "fresh": grouped["fresh"].any(),
        "ocpi_status": grouped["status"].agg(lambda s: ";".join(sorted(set(map(str, s))))),
        "evses": grouped.size(),
        "observed_utc": grouped["observed_utc"].max(),
        "source": grouped["source"].agg(lambda s: ";".join(sorted(set(map(str, s))))),
    })
    per_class = pd.crosstab(counted["device_id"], counted["cls"])
    for key in styling.LIVE_STATUS_PRIORITY:
        table[f"evses_{key}"] = (per_class[key] if key in per_class else 0)
        table[f"evses_{key}"] = table[f"evses_{key}"].fillna(0).astype("int64")
    table["last_status"] = np.asarray(styling.LIVE_STATUS_PRIORITY, dtype=object)[
        table["rank"].to_numpy()]
    table["live_status"] = np.where(table["fresh"].to_numpy(bool),
                                    table["last_status"].to_numpy(object), styling.STALE)
    table["age_minutes"] = ((now - table["observed_utc"]).dt.total_seconds() / 60.0).round(1)
    table = table.reset_index()
    return table[STATUS_FIELDS]


def status_rows(snapshots: pd.DataFrame, devices: pd.DataFrame, now=None,
                max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES):
    """The live status layer's rows for the current ``devices`` with status in
    ``snapshots`` (device ids reconciled) and a place, their EPSG:27700 coordinates, and
    how many devices with status were left out."""
    now = _utc_timestamp(now)
    table = classify_live_status(snapshots, now, max_age_minutes)
    keep = ["device_id"] + [c for c in STATUS_DEVICE_FIELDS + ["latitude", "longitude"]
                            if c in devices.columns]
    rows = table.merge(devices[keep], on="device_id", how="inner")
    x, y = wgs84_to_bng(pd.to_numeric(rows["longitude"], errors="coerce").to_numpy(float),
                        pd.to_numeric(rows["latitude"], errors="coerce").to_numpy(float))
    placed = np.isfinite(x) & np.isfinite(y)
    rows = rows[placed].drop(columns=["latitude", "longitude"]).reset_index(drop=True)
    order = ["device_id"] + [c for c in STATUS_DEVICE_FIELDS if c in rows.columns] + \
        STATUS_FIELDS[1:]
    return rows[order], x[placed], y[placed], len(table) - len(rows)


def write_status(snapshots: pd.DataFrame, devices: pd.DataFrame, folder, now=None,
                 max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES
                 ) -> Optional[StatusLayerInfo]:
    """Write the live status layer (:func:`status_rows`) as a new GeoPackage in
    ``folder``; None (nothing written) when there are no status ``snapshots``."""
    if not len(snapshots):
        return None
    now = _utc_timestamp(now)
    rows, x, y, left_out = status_rows(snapshots, devices, now, max_age_minutes)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{STATUS_TABLE}_{time.time_ns()}"
    tmp = folder / f"{name}.tmp"
    gpkg.write_geopackage(tmp, STATUS_TABLE, rows, point_wkbs(x, y), "POINT",
                          description="Live status of charge devices, latest observation")
    layer_styles.write_plugin_style(tmp, STATUS_TABLE)
    path = folder / f"{name}.gpkg"
    tmp.replace(path)
    classes = {key: int((rows["live_status"] == key).sum())
               for key in [s.key for s in styling.LIVE_STATUS_STYLES]}
    latest = rows["observed_utc"].max() if len(rows) else None
    sources = sorted({part for text in rows["source"] for part in str(text).split(";")})
    return StatusLayerInfo(path, len(rows), classes,
                           None if latest is None or pd.isna(latest) else latest.isoformat(),
                           now.isoformat(), float(max_age_minutes), int(left_out), sources)


def remove_older_status_files(newest, keep=()) -> None:
    """Remove the live status GeoPackages in ``newest``'s folder written before it,
    except ``keep`` (files a layer still shows); files still open elsewhere stay."""
    newest = Path(newest)
    keep = {Path(k).name for k in keep}
    upto = _status_stamp(newest)
    for file in newest.parent.glob(f"{STATUS_TABLE}_*.gpkg*"):
        base = file.name.split(".gpkg")[0] + ".gpkg"
        stamp = _status_stamp(file)
        if stamp is None or upto is None or stamp >= upto or base in keep:
            continue
        try:
            file.unlink()
        except OSError:
            pass


def _status_stamp(path: Path) -> Optional[int]:
    digits = Path(path).name[len(STATUS_TABLE) + 1:].split(".")[0]
    return int(digits) if digits.isdigit() else None


def _utc_timestamp(value) -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC") if value is None else as_utc(value)
