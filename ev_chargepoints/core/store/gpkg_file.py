"""Read GeoPackage layers with the standard library alone; write output GeoPackages
with GDAL (pyogrio).

A GeoPackage is an SQLite file; its geometries are a small header in front of
ordinary WKB. Reading them with ``sqlite3`` needs neither GDAL nor pyogrio, so
it works in every QGIS install (some lack pyogrio) and in the headless core.

Output files (map layers, live status, candidate sites) are written by
:func:`write_geopackage` through GDAL's own GeoPackage driver (pyogrio): R-tree
spatial index, extent and feature count as GDAL and QGIS expect them. Only where
pyogrio is missing does it fall back to :func:`write_layer`, the SQL writer the
store keeps for its transactional tables (:mod:`.geopackage`).
"""

from __future__ import annotations

import contextlib
import datetime
import re
import sqlite3
import struct
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..analysis import wkb
from ..crs import pyproj_module
from ..errors import NOT_UTF8_TEXT, ParseError

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10300
BNG_SRS_ID = 27700

WKT_4326 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]')
WKT_27700 = (
    'PROJCS["OSGB36 / British National Grid",GEOGCS["OSGB36",'
    'DATUM["Ordnance_Survey_of_Great_Britain_1936",SPHEROID["Airy 1830",6377563.396,'
    '299.3249646,AUTHORITY["EPSG","7001"]],AUTHORITY["EPSG","6277"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AUTHORITY["EPSG","4277"]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["latitude_of_origin",49],PARAMETER["central_meridian",-2],'
    'PARAMETER["scale_factor",0.9996012717],PARAMETER["false_easting",400000],'
    'PARAMETER["false_northing",-100000],UNIT["metre",1,AUTHORITY["EPSG","9001"]],'
    'AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","27700"]]')

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")


def strip_header(blob: Optional[bytes]) -> Optional[bytes]:
    """GeoPackage binary geometry -> plain WKB (None for NULL or empty)."""
    if blob is None:
        return None
    blob = bytes(blob)
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    flags = blob[3]
    if flags & 0x10:  # empty geometry
        return None
    envelope = (flags >> 1) & 0x07
    if envelope not in _ENVELOPE_BYTES:
        raise ValueError(f"invalid envelope code {envelope}")
    return blob[8 + _ENVELOPE_BYTES[envelope]:]


def _quote(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ParseError(f"unsupported table or column name {name!r}")
    return '"' + name + '"'


def feature_layers(path) -> list[str]:
    path = Path(path)
    with contextlib.closing(_connect(path)) as conn:
        try:
            return [r[0] for r in conn.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' "
                "ORDER BY table_name")]
        except _READ_ERRORS as exc:
            raise _unreadable(exc, path.name) from None


def layer_fields(path, layer: Optional[str] = None) -> list[str]:
    """The column names of a feature layer (default the first), without reading rows."""
    path = Path(path)
    layer = layer or next(iter(feature_layers(path)), None)
    if layer is None:
        return []
    with contextlib.closing(_connect(path)) as conn:
        try:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(layer)})")]
        except _READ_ERRORS as exc:
            raise _unreadable(exc, path.name) from None


def read_layer(path, layer: Optional[str] = None, columns: Optional[Sequence[str]] = None):
    """``(attributes DataFrame, list of WKB bytes, "EPSG:code" or None)`` for one layer."""
    path = Path(path)
    conn = _connect(path)
    try:
        layers = [r[0] for r in conn.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' "
            "ORDER BY table_name")]
        if not layers:
            raise ParseError("the GeoPackage has no feature layer", path.name)
        if layer is None:
            layer = layers[0]
        elif layer not in layers:
            raise ParseError(f"no layer '{layer}' (layers: {', '.join(layers)})", path.name)
        row = conn.execute(
            "SELECT g.column_name, s.organization, s.organization_coordsys_id "
            "FROM gpkg_geometry_columns g LEFT JOIN gpkg_spatial_ref_sys s "
            "ON s.srs_id = g.srs_id WHERE g.table_name = ?", (layer,)).fetchone()
        if row is None:
            raise ParseError(f"layer '{layer}' has no geometry column", path.name)
        geom_column, org, code = row
        crs = f"{org.upper()}:{code}" if isinstance(org, str) and org and code \
            and org.upper() != "NONE" else None
        info = conn.execute(f"PRAGMA table_info({_quote(layer)})").fetchall()
        names = [r[1] for r in info if r[1] != geom_column and not r[5]]  # r[5]: primary key
        if columns is not None:
            missing = [c for c in columns if c not in names]
            if missing:
                raise ParseError(f"layer '{layer}' has no field {', '.join(missing)}",
                                 path.name)
            names = list(columns)
        select = ", ".join([_quote(geom_column)] + [_quote(n) for n in names])
        rows = conn.execute(f"SELECT {select} FROM {_quote(layer)}").fetchall()
    except _READ_ERRORS as exc:
        raise _unreadable(exc, path.name) from None
    finally:
        conn.close()
    try:
        wkbs = [strip_header(r[0]) for r in rows]
    except (ValueError, TypeError, struct.error, IndexError) as exc:
        raise ParseError(f"a geometry in layer '{layer}' is damaged ({exc})", path.name) \
            from None
    attributes = pd.DataFrame.from_records([r[1:] for r in rows], columns=names)
    return attributes, wkbs, crs


# What a damaged SQLite file raises while it is read. sqlite3 turns text that is not
# UTF-8 into OperationalError ("Could not decode to UTF-8 column ...") on fetch, but an
# SQLite error message quoting such bytes (say, a schema entry near "\x80") leaves as
# UnicodeDecodeError; damaged values of the wrong type give TypeError/AttributeError.
_READ_ERRORS = (sqlite3.Error, UnicodeError, ValueError, TypeError, AttributeError,
                OverflowError)


def _unreadable(exc: BaseException, name: str, opening: bool = False) -> ParseError:
    """One readable line for an error raised while a GeoPackage is read."""
    if isinstance(exc, UnicodeError) or "decode to UTF-8" in str(exc):
        what = "not a GeoPackage" if opening else "the GeoPackage cannot be read"
        return ParseError(f"{what}: {NOT_UTF8_TEXT}", name)
    if opening:
        return ParseError("not a GeoPackage (no gpkg_contents table)", name)
    detail = "".join(ch if ch.isprintable() else " " for ch in str(exc).split("\n")[0])
    detail = " ".join(detail.split())[:200] or type(exc).__name__
    return ParseError(f"the GeoPackage cannot be read ({detail})", name)


def _connect(path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise ParseError("the file does not exist", path.name)
    conn = None
    try:
        # as_uri() escapes '#', '?' and '%' in the name, which a "file:" URI would misread
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM gpkg_contents LIMIT 1")
    except _READ_ERRORS as exc:
        if conn is not None:
            conn.close()
        raise _unreadable(exc, path.name, opening=True) from None
    return conn


# --- writing -------------------------------------------------------------------

_SQL_TYPES = {"b": "BOOLEAN", "i": "INTEGER", "u": "INTEGER", "f": "REAL", "M": "DATETIME"}


def gp_blob(wkb: Optional[bytes], srs_id: int, envelope=None) -> Optional[bytes]:
    """Plain WKB -> GeoPackage binary with an XY envelope (minx, maxx, miny, maxy)."""
    if wkb is None:
        return None
    if envelope is None:
        header = struct.pack("<2sBBi", b"GP", 0, 0x01, srs_id)
        return header + bytes(wkb)
    header = struct.pack("<2sBBi4d", b"GP", 0, 0x03, srs_id, *envelope)
    return header + bytes(wkb)


def gpkg_point_blobs(x: np.ndarray, y: np.ndarray, srs_id: int = BNG_SRS_ID) -> list:
    """GeoPackage binary points (header without envelope + little-endian WKB).

    NaN coordinates give ``None`` (a NULL geometry) rather than an empty point.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    dtype = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4"),
                      ("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec = np.zeros(len(x), dtype=dtype)
    rec["magic"] = b"GP"
    rec["flags"] = 0x01  # little endian, no envelope, not empty
    rec["srs"] = srs_id
    rec["order"] = 1
    rec["kind"] = 1
    rec["x"] = x
    rec["y"] = y
    buf = rec.tobytes()
    size = dtype.itemsize
    ok = np.isfinite(x) & np.isfinite(y)
    return [buf[i * size:(i + 1) * size] if ok[i] else None for i in range(len(x))]


def parse_gpkg_points(blobs) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) arrays of GeoPackage point geometries (NaN for NULL or empty ones)."""
    return wkb.points([strip_header(blob) for blob in blobs])


def parse_gpkg_point(blob: bytes | None) -> tuple[float, float] | None:
    """Inverse of :func:`gpkg_point_blobs` for one value (used by tests and checks)."""
    if blob is None:
        return None
    x, y = parse_gpkg_points([blob])
    return float(x[0]), float(y[0])


def ensure_geopackage(conn: sqlite3.Connection) -> None:
    """Create the GeoPackage core tables (idempotent) with EPSG:27700 and 4326."""
    conn.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL,"
        " srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,"
        " organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,"
        " description TEXT)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY,"
        " data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '',"
        " last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
        " min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,"
        " CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id)"
        " REFERENCES gpkg_spatial_ref_sys(srs_id))")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL,"
        " column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,"
        " srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,"
        " CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),"
        " CONSTRAINT uk_gc_table_name UNIQUE (table_name),"
        " CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),"
        " CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))")
    srs = [
        ("Undefined Cartesian SRS", -1, "NONE", -1, "undefined",
         "undefined Cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined",
         "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", 4326, "EPSG", 4326, WKT_4326,
         "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
        ("OSGB36 / British National Grid", BNG_SRS_ID, "EPSG", BNG_SRS_ID, WKT_27700,
         "British National Grid eastings and northings in metres"),
    ]
    conn.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
                     srs)


def write_layer(conn: sqlite3.Connection, table: str, frame: pd.DataFrame,
                geometries: Optional[Sequence[Optional[bytes]]], geometry_type: str = "POINT",
                srs_id: int = 27700, description: str = "") -> None:
    """Replace ``table`` with ``frame`` (+ GeoPackage geometries when given).

    ``geometries`` are GeoPackage blobs (see :func:`gp_blob`); ``None`` makes an
    attribute table. Dates and times are written as ISO text (DATE/DATETIME).
    """
    _quote(table)
    ensure_geopackage(conn)
    conn.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
        conn.execute("DELETE FROM gpkg_ogr_contents WHERE table_name = ?", (table,))
    conn.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = ?", (table,))
    conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (table,))
    columns = [("fid", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")]
    if geometries is not None:
        columns.append(("geom", geometry_type))
    values = []
    for name in frame.columns:
        series = frame[name]
        sql_type, converted = _sql_column(series)
        columns.append((str(name), sql_type))
        values.append(converted)
    conn.execute(f"CREATE TABLE {_quote(table)} ("
                 + ", ".join(f"{_quote(n)} {t}" for n, t in columns) + ")")
    names = ([_quote("geom")] if geometries is not None else []) + \
        [_quote(str(n)) for n in frame.columns]
    rows = zip(*([list(geometries)] if geometries is not None else []), *values) \
        if len(frame.columns) or geometries is not None else []
    placeholders = ", ".join("?" for _ in names)
    conn.executemany(f"INSERT INTO {_quote(table)} ({', '.join(names)}) VALUES ({placeholders})",
                     rows)
    data_type = "features" if geometries is not None else "attributes"
    conn.execute("INSERT INTO gpkg_contents(table_name, data_type, identifier, description,"
                 " srs_id) VALUES (?, ?, ?, ?, ?)",
                 (table, data_type, table, description,
                  srs_id if geometries is not None else None))
    if geometries is not None:
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                     (table, geometry_type, srs_id))
    # GDAL's feature-count cache: without it QGIS miscounts filtered (subset) layers
    conn.execute("CREATE TABLE IF NOT EXISTS gpkg_ogr_contents (table_name TEXT NOT NULL "
                 "PRIMARY KEY, feature_count INTEGER DEFAULT NULL)")
    conn.execute("INSERT OR REPLACE INTO gpkg_ogr_contents VALUES (?, ?)", (table, len(frame)))


def _sql_column(series: pd.Series):
    kind = series.dtype.kind
    if kind == "M":
        utc = pd.to_datetime(series, utc=True)
        text = utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:23] + "Z"
        return "DATETIME", [None if pd.isna(v) else t for v, t in zip(utc, text)]
    if kind in _SQL_TYPES:
        return _SQL_TYPES[kind], [None if pd.isna(v) else v.item() if hasattr(v, "item") else v
                                  for v in series]
    sample = series.dropna()
    first = sample.iloc[0] if len(sample) else None
    if isinstance(first, (pd.Timestamp, datetime.datetime)):
        return "DATETIME", [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in series]
    if isinstance(first, datetime.date):
        return "DATE", [None if v is None or v != v else v.isoformat() for v in series]
    return "TEXT", [None if v is None or (isinstance(v, float) and v != v) else str(v)
                    for v in series]


# --- output files through GDAL ---------------------------------------------------

_OGR_GEOMETRY_TYPES = {"POINT": "Point", "MULTIPOINT": "MultiPoint", "POLYGON": "Polygon",
                       "MULTIPOLYGON": "MultiPolygon", "LINESTRING": "LineString",
                       "MULTILINESTRING": "MultiLineString"}


def point_wkbs(x, y) -> np.ndarray:
    """Plain little-endian WKB points (object array; None where a coordinate is NaN)."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    dtype = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec = np.zeros(len(x), dtype=dtype)
    rec["order"], rec["kind"], rec["x"], rec["y"] = 1, 1, x, y
    buf, size = rec.tobytes(), dtype.itemsize
    ok = np.isfinite(x) & np.isfinite(y)
    out = np.empty(len(x), dtype=object)
    out[:] = [buf[i * size:(i + 1) * size] if ok[i] else None for i in range(len(x))]
    return out


def pyogrio_raw():
    """pyogrio's ``raw`` API, or None where pyogrio is not installed (some QGIS installs).
    The one place that imports pyogrio: after :func:`..crs.pyproj_module`, since pyogrio
    imports pyproj, which would otherwise warn on stderr in a virtual environment."""
    pyproj_module()
    try:
        from pyogrio import raw
    except ImportError:
        return None
    return raw


def write_geopackage(path, table: str, frame: pd.DataFrame, wkbs,
                     geometry_type: str = "POINT", srs_id: int = BNG_SRS_ID,
                     description: str = "", append: bool = False) -> Path:
    """A new GeoPackage at ``path`` (replaced) holding one feature layer ``table``;
    ``append``: add the layer to the GeoPackage already at ``path`` instead.

    ``wkbs``: plain WKB per row (None: no geometry). Written by GDAL's GeoPackage
    driver through pyogrio with a spatial index; dates and times as GeoPackage
    DATE/DATETIME (naive times taken as UTC, as :func:`write_layer` does). Without
    pyogrio, :func:`write_layer` writes the same table with SQL (no spatial index).
    """
    _quote(table)
    path = Path(path)
    if not append:
        path.unlink(missing_ok=True)
    raw = pyogrio_raw()
    if raw is None:
        conn = sqlite3.connect(path)
        try:
            conn.execute("BEGIN")
            write_layer(conn, table, frame, [gp_blob(w, srs_id) for w in wkbs],
                        geometry_type.upper(), srs_id, description)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return path
    geometry = np.empty(len(frame), dtype=object)
    geometry[:] = [None if w is None else bytes(w) for w in wkbs]
    data, masks, offsets = _ogr_fields(frame)
    with warnings.catch_warnings():
        # callers write to a temporary name and move it to its .gpkg name when complete
        warnings.filterwarnings("ignore", "The filename extension should be", RuntimeWarning)
        raw.write(str(path), geometry, data, [str(c) for c in frame.columns],
                  field_mask=masks, layer=table, driver="GPKG",
                  geometry_type=_OGR_GEOMETRY_TYPES[geometry_type.upper()],
                  crs=f"EPSG:{srs_id}", promote_to_multi=False, gdal_tz_offsets=offsets,
                  append=append,
                  # GeoPackage 1.2: pyogrio's GDAL would write 1.4, which the GDAL of
                  # older QGIS installs (3.6) opens with a "partially supported" warning
                  dataset_options={"VERSION": "1.2"},
                  layer_options={"SPATIAL_INDEX": "YES", "DESCRIPTION": description,
                                 "GEOMETRY_NAME": "geom", "FID": "fid"})
    return path


def _ogr_fields(frame: pd.DataFrame):
    """(field arrays, null masks, GDAL time-zone flags) of ``frame``'s columns for
    :func:`pyogrio.raw.write`: numbers, booleans, text, dates and UTC times."""
    data, masks, offsets = [], [], {}
    for name in frame.columns:
        series = frame[name]
        kind = series.dtype.kind
        mask = None
        if kind == "M" or (kind == "O" and pd.api.types.infer_dtype(series, skipna=True)
                           in ("datetime", "datetime64")):
            utc = pd.to_datetime(series, utc=True)
            values = utc.dt.tz_localize(None).to_numpy("datetime64[ns]")
            offsets[str(name)] = np.full(len(series), 100, dtype="int64")   # 100: UTC
        elif kind == "O" and pd.api.types.infer_dtype(series, skipna=True) == "date":
            mask = series.isna().to_numpy()
            values = pd.to_datetime(series).to_numpy("datetime64[D]")
        elif isinstance(series.dtype, pd.api.extensions.ExtensionDtype) \
                and kind in "biuf":                    # nullable Int64, boolean, Float64
            mask = series.isna().to_numpy()
            filled = series.fillna(False if kind == "b" else 0)
            values = filled.to_numpy(dtype=bool if kind == "b" else series.dtype.numpy_dtype)
        elif kind in "biuf":
            values = series.to_numpy()
        elif kind == "O" and pd.api.types.infer_dtype(series, skipna=True) in ("string",
                                                                               "empty"):
            values = series.to_numpy(dtype=object)      # text as it is, nulls masked
            missing = series.isna().to_numpy()
            mask = missing if missing.any() else None
        else:                                           # other text (mixed, string, category)
            values = np.empty(len(series), dtype=object)
            values[:] = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                         else str(v) for v in series.astype(object)]
        data.append(values)
        masks.append(mask)
    return data, masks, offsets
