"""The map's tables in the shared store: map_devices, map_boroughs, map_wards in the
store's schema, which QGIS opens with the ``postgres`` provider.

The frames are the ones :func:`.mapdata.build_map` computes for the GeoPackage
map; here they are copied into PostGIS (geometry SRID 27700, ``fid`` primary key,
GiST index) and all three tables are replaced in one transaction, so officers who
have the map open see the old tables or the new ones, never half of either.
``map_info`` remembers which store state and period kind the tables show, so the
next officer opens them without computing them again.

Every officer sees every device on the map, but per-device usage only where
their role may see it: the device features are kept in ``map_device_rows``,
which only the owner reads, and ``map_devices`` is a view of all of them whose
usage columns (:data:`.mapdata.USAGE_FIELDS`) are NULL for the other devices,
so the map draws those as "no usage data" (see :mod:`.pg_access`).
"""

from __future__ import annotations

import datetime
import io
import json
from typing import Optional

import numpy as np
import pandas as pd

from ...errors import StoreError
from ...outputs import mapdata
from ...progress import SILENT, Progress
from .schema import SCHEMA

INFO_TABLE = "map_info"
DEVICE_VIEW = "map_devices"
DEVICE_ROWS = "map_device_rows"       # behind the view; only the owner reads it
_AREA_LEVEL = {table: level for level, (_file, table) in mapdata.AREA_FILES.items()}


def map_to_show(store, period_kind: str, stamp: int) -> Optional[mapdata.MapInfo]:
    """The map tables of ``store`` (a ``PostgisStore`` at state ``stamp``) to show, or
    None when they must be written now: they do not show the store as it is, and this
    role may write them (:func:`write_map`).

    Only the store's owner rewrites them (the owner reads every row; an officer's
    role sees only what row-level security lets it see, so a map it computed would
    be partial). An officer gets the latest map the owner wrote.
    """
    info = current_map(store, period_kind, stamp)
    if info is not None or may_write(store):
        return info
    info = current_map(store, period_kind, stamp, latest=True)
    if info is None:
        raise StoreError("The shared store has no map tables yet, and only its owner may "
                         "write them: ask the store's administrator to load the map once.")
    return info


def may_write(store) -> bool:
    """True when this role may replace the map tables (it acts as the schema owner)."""
    return store.acts_as_owner()


def current_map(store, period_kind: str, stamp: int,
                latest: bool = False) -> Optional[mapdata.MapInfo]:
    """The map in the database if it shows the store as it is now (state ``stamp``; or,
    with ``latest``, whatever map of ``period_kind`` was written last), else None."""
    with store.transaction() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{INFO_TABLE}",))
        if cur.fetchone()[0] is None:
            return None
        cur.execute(f"SELECT period_kind, store_stamp, info FROM {SCHEMA}.{INFO_TABLE}")
        row = cur.fetchone()
    if row is None or row[0] != period_kind or \
            (not latest and int(row[1]) != stamp):
        return None
    info = row[2] if isinstance(row[2], dict) else json.loads(row[2])
    return mapdata.MapInfo(
        None, info["periods"], [tuple(r) for r in info["period_ranges"]],
        info["latest_period"], info["synthetic_usage"], info["vintage"], info["counts"],
        info["assignment_lines"], SCHEMA)


def write_map(store, frames: mapdata.MapFrames, period_kind: str, stamp: int,
              usage: Optional[pd.DataFrame], placements: pd.DataFrame,
              devices: pd.DataFrame, progress: Progress = SILENT) -> mapdata.MapInfo:
    """Replace the map tables in the database of ``store`` (at state ``stamp``) with
    ``frames``, their area usage masked (:func:`mask_area_usage`)."""
    mask_area_usage(store, frames, usage, placements, devices)
    return write_tables(store, frames, period_kind, stamp, progress)


_AREA_CODE = {"map_boroughs": "borough_code", "map_wards": "ward_code"}


def mask_area_usage(store, frames: mapdata.MapFrames, usage: Optional[pd.DataFrame],
                    placements: pd.DataFrame, devices: pd.DataFrame) -> None:
    """Every reader of the shared store sees the ward and borough layers, so their
    usage figures follow the disclosure rule of the committee pages and of the
    ``area_usage`` view: a cell pooling fewer than the store's threshold of devices,
    or one operator, is suppressed, and so is a partner cell where a published total
    (the borough above a ward, London above a borough) would give it away.
    Adds ``usage_disclosure`` (why a cell is empty) to each area row. ``usage``: the
    utilisation rows (None without sessions); ``placements``: each device's ward and
    borough (the assignment's table); ``devices``: the current devices."""
    from ...outputs import disclosure
    from . import access as pg_access

    if usage is None or frames.periods == [mapdata.NO_USAGE_PERIOD]:
        return
    threshold = int(store.meta().get(pg_access.THRESHOLD_KEY, disclosure.DEFAULT_THRESHOLD))
    for table, (rows, wkbs) in list(frames.areas.items()):
        code = _AREA_CODE[table]
        masked = []
        for period, in_period in rows.groupby("period", sort=False):
            at = frames.periods.index(period)
            compared = [period] + ([frames.periods[at - 1]] if at > 0 else [])
            counts = disclosure.area_contributors(placements, devices, usage, code,
                                                  compared).rename(columns={code: "area_code"})
            # cells published under one total: wards of a borough, or all boroughs
            groups = in_period.groupby("parent_name", dropna=False, sort=False) \
                if table == "map_wards" else [(None, in_period)]
            for _parent, cells in groups:
                masked.append(disclosure.mask_usage(cells, counts, threshold=threshold,
                                                    complementary=True).table)
        result = pd.concat(masked).loc[rows.index]
        frames.areas[table] = (result.drop(columns=["usage_devices", "usage_operators"]),
                               wkbs)


def write_tables(store, frames: mapdata.MapFrames, period_kind: str, stamp: int,
                 progress: Progress = SILENT) -> mapdata.MapInfo:
    """``frames`` as the three map tables (and ``map_info``, remembering ``stamp``), in
    one transaction."""
    import psycopg2.errors

    info = frames.info(None, SCHEMA)
    try:
        _write_all(store, frames, info, period_kind, stamp, progress)
    except psycopg2.errors.InsufficientPrivilege:
        raise StoreError("Only the owner of the shared store may write its map tables.") \
            from None
    except psycopg2.Error as exc:
        raise StoreError("The map tables could not be written to the shared store: "
                         f"{' '.join(str(exc).split())}") from None
    progress.report(100, "Map tables written")
    return info


def _write_all(store, frames, info, period_kind, stamp, progress) -> None:
    from . import access as pg_access

    with store.transaction() as cur:
        progress.report(0, "Writing the devices table")
        points = _point_text(frames.device_x, frames.device_y)
        _drop_relation(cur, DEVICE_VIEW)        # a view, or a table in maps written before
        _replace_table(cur, DEVICE_ROWS, frames.devices, points, "Point", "geom")
        pg_access.hide_table(cur, DEVICE_ROWS)
        pg_access.create_masked_view(
            cur, DEVICE_VIEW, DEVICE_ROWS,
            [c for c in mapdata.USAGE_FIELDS if c in frames.devices.columns])
        for table, (rows, wkbs) in frames.areas.items():
            progress.check_cancelled()
            progress.report(40 if _AREA_LEVEL[table] == "borough" else 70,
                            f"Writing the {_AREA_LEVEL[table]} table")
            hex_wkbs = [None if wkb is None else wkb.hex() for wkb in wkbs]
            _replace_table(cur, table, rows, hex_wkbs, "MultiPolygon", "ST_Multi(geom)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{INFO_TABLE} ("
                    "period_kind text NOT NULL, store_stamp bigint NOT NULL, "
                    "info jsonb NOT NULL, written_utc timestamptz NOT NULL DEFAULT now())")
        cur.execute(f"DELETE FROM {SCHEMA}.{INFO_TABLE}")
        cur.execute(f"INSERT INTO {SCHEMA}.{INFO_TABLE} (period_kind, store_stamp, info) "
                    "VALUES (%s, %s, %s)", (period_kind, stamp, json.dumps({
                        "periods": info.periods, "period_ranges": info.period_ranges,
                        "latest_period": info.latest_period,
                        "synthetic_usage": info.synthetic_usage, "vintage": info.vintage,
                        "counts": info.counts, "assignment_lines": info.assignment_lines})))


def _replace_table(cur, table: str, frame: pd.DataFrame, geometries, geometry_type: str,
                   geometry_expression: str) -> None:
    """Drop and recreate ``table`` from ``frame``; ``geometries`` are text PostGIS reads
    (WKT or hex WKB, no SRID), typed afterwards with ``geometry_expression``."""
    name = f"{SCHEMA}.{_quote(table)}"
    columns, texts = [], []
    for column in frame.columns:
        sql_type, values = _pg_column(frame[column])
        columns.append((str(column), sql_type))
        texts.append(values)
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    cur.execute(f"CREATE TABLE {name} (fid integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "geom geometry, "
                + ", ".join(f"{_quote(c)} {t}" for c, t in columns) + ")")
    buffer = io.StringIO()
    for row in zip(geometries, *texts):
        buffer.write(",".join("" if v is None else v for v in row))
        buffer.write("\n")
    buffer.seek(0)
    names = ", ".join(["geom"] + [_quote(c) for c, _t in columns])
    cur.copy_expert(f"COPY {name} ({names}) FROM STDIN WITH (FORMAT csv)", buffer)
    cur.execute(f"ALTER TABLE {name} ALTER COLUMN geom TYPE geometry({geometry_type}, 27700) "
                f"USING ST_SetSRID({geometry_expression}, 27700)")
    cur.execute(f"CREATE INDEX ON {name} USING gist (geom)")
    cur.execute(f"CREATE INDEX ON {name} (period)")
    cur.execute(f"ANALYZE {name}")


def _drop_relation(cur, name: str) -> None:
    cur.execute("SELECT relkind FROM pg_catalog.pg_class WHERE oid = to_regclass(%s)",
                (f"{SCHEMA}.{_quote(name)}",))
    row = cur.fetchone()
    if row is not None:
        kind = "VIEW" if row[0] == "v" else "TABLE"
        cur.execute(f"DROP {kind} {SCHEMA}.{_quote(name)}")


def _point_text(x: np.ndarray, y: np.ndarray) -> list:
    ok = np.isfinite(x) & np.isfinite(y)
    return [f"POINT({xi!r} {yi!r})" if good else None
            for xi, yi, good in zip(x.tolist(), y.tolist(), ok.tolist())]


def _pg_column(series: pd.Series):
    """(PostgreSQL type, CSV field text per row; None for NULL)."""
    missing = pd.isna(series).tolist()
    kind = series.dtype.kind
    if kind == "M":
        return "timestamptz", _fields(pd.to_datetime(series, utc=True), missing,
                                      lambda v: v.isoformat())
    if kind == "b":
        return "boolean", _fields(series, missing, _bool_text)
    if kind in "iu":
        return "bigint", _fields(series, missing, lambda v: str(int(v)))
    if kind == "f":
        return "double precision", _fields(series, missing, lambda v: repr(float(v)))
    present = [v for v, gone in zip(series.tolist(), missing) if not gone]
    first = present[0] if present else None
    if isinstance(first, (pd.Timestamp, datetime.datetime)):
        return "timestamptz", _fields(series, missing, lambda v: pd.Timestamp(v).isoformat())
    if isinstance(first, datetime.date):
        return "date", _fields(series, missing, lambda v: v.isoformat())
    if isinstance(first, (bool, np.bool_)):
        return "boolean", _fields(series, missing, _bool_text)
    return "text", _fields(series, missing, lambda v: '"' + str(v).replace('"', '""') + '"')


def _fields(series, missing: list, text) -> list:
    return [None if gone else text(v) for v, gone in zip(series.tolist(), missing)]


def _bool_text(value) -> str:
    return "true" if value else "false"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
