"""Read GeoPackage layers with the standard library alone.

A GeoPackage is an SQLite file; its geometries are a small header in front of
ordinary WKB. Reading them with ``sqlite3`` needs neither GDAL nor pyogrio, so
it works in every QGIS install (some lack pyogrio) and in the headless core.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from .errors import ParseError

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
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
    if not _IDENTIFIER.match(name):
        raise ParseError(f"unsupported table or column name {name!r}")
    return '"' + name + '"'


def feature_layers(path) -> list[str]:
    with _connect(path) as conn:
        return [r[0] for r in conn.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' "
            "ORDER BY table_name")]


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
        crs = f"{org.upper()}:{code}" if org and code and org.upper() != "NONE" else None
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
    except sqlite3.DatabaseError as exc:
        raise ParseError(f"the GeoPackage cannot be read ({exc})", path.name) from None
    finally:
        conn.close()
    try:
        wkbs = [strip_header(r[0]) for r in rows]
    except (ValueError, struct.error, IndexError) as exc:
        raise ParseError(f"a geometry in layer '{layer}' is damaged ({exc})", path.name) \
            from None
    attributes = pd.DataFrame.from_records([r[1:] for r in rows], columns=names)
    return attributes, wkbs, crs


def _connect(path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise ParseError("the file does not exist", path.name)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM gpkg_contents LIMIT 1")
    except sqlite3.DatabaseError:
        raise ParseError("not a GeoPackage (no gpkg_contents table)", path.name) from None
    return conn
