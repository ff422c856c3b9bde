"""The plugin's look inside each map GeoPackage: its default style in ``layer_styles``.

QGIS (and GDAL's GeoPackage driver) keep a layer's saved styles in a plain attribute
table ``layer_styles``; QGIS applies the row marked ``useAsDefault`` when it opens the
layer, so a map GeoPackage opened by hand (Add Vector Layer, drag and drop) shows the
plugin's symbols. The style text is the layer's file in ``resources/styles/`` (named after
the table, written by ``tools/make_styles.py`` from the plugin's own renderers).

The table is created and rows are added through GDAL (pyogrio), so the GeoPackage's
``gpkg_contents`` and OGR's feature count stay as GDAL keeps them; replacing an earlier
style of the same name deletes its row with SQL first (pyogrio only appends). Without
pyogrio the same table is written with SQL, as QGIS writes it.
"""

from __future__ import annotations

import logging
import sqlite3
import warnings
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from .. import paths
from ..store.gpkg_file import pyogrio_raw

log = logging.getLogger(__name__)

TABLE = "layer_styles"
DEFAULT_STYLE_NAME = "ev_chargepoints"
# The columns QGIS and GDAL use (QgsOgrProviderUtils::saveStyle), in their order.
TEXT_COLUMNS = ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
                "styleName", "styleQML", "styleSLD")
AFTER_DEFAULT = ("description", "owner", "ui")
# What QGIS writes when it creates the table itself (the fallback without pyogrio).
CREATE_SQL = (
    'CREATE TABLE "layer_styles" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    '"update_time" DATETIME DEFAULT (strftime(\'%Y-%m-%dT%H:%M:%fZ\',\'now\')))')


def style_file(table: str) -> Path:
    """The plugin's style file of a map table: ``resources/styles/<table>.qml``."""
    return paths.resource("styles", f"{table}.qml")


def write_plugin_style(gpkg_path, table: str) -> bool:
    """The plugin's style of ``table`` (:func:`style_file`) as the default style of that
    layer in the GeoPackage ``gpkg_path``. False (and a warning) when the plugin has no
    style file for it: the map still works, drawn with QGIS's default symbol."""
    file = style_file(table)
    try:
        qml = file.read_text(encoding="utf-8")
    except OSError:
        log.warning("No style file %s: the layer %s is saved without a style.", file, table)
        return False
    write_default_style(gpkg_path, table, qml)
    return True


def write_default_style(gpkg_path, table: str, qml_text: str,
                        name: str = DEFAULT_STYLE_NAME, description: str = "") -> None:
    """Make ``qml_text`` the default style of the layer ``table`` of the GeoPackage
    ``gpkg_path``: the ``layer_styles`` table is created if missing; an earlier style
    of the same ``name`` for that layer is replaced; no other layer's default changes,
    and this layer's other styles stop being its default."""
    path = Path(gpkg_path)
    geometry_column = _geometry_column(path, table)
    has_table = _forget_style(path, table, name)
    row = {"f_table_catalog": "", "f_table_schema": "", "f_table_name": table,
           "f_geometry_column": geometry_column, "styleName": name, "styleQML": qml_text,
           "styleSLD": "", "description": description or f"{table}: the plugin's style",
           "owner": "", "ui": ""}
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    raw = pyogrio_raw()
    if raw is None:
        _insert_sql(path, row, has_table, now)
        return
    fields = list(TEXT_COLUMNS) + ["useAsDefault"] + list(AFTER_DEFAULT) + ["update_time"]
    data = [_text(row[c]) for c in TEXT_COLUMNS] + [np.array([True])] + \
        [_text(row[c]) for c in AFTER_DEFAULT] + \
        [np.array([np.datetime64(now, "ms")], dtype="datetime64[ms]")]
    with warnings.catch_warnings():
        # a GeoPackage still under its temporary name (renamed once complete) is fine
        warnings.filterwarnings("ignore", "(?s).*(non conformant file extension|"
                                "filename extension should be)", RuntimeWarning)
        raw.write(str(path), None, data, fields, layer=TABLE, driver="GPKG",
                  append=has_table,
                  gdal_tz_offsets={"update_time": np.array([100], dtype="int64")},  # UTC
                  layer_options={} if has_table else {"FID": "id", "DESCRIPTION": ""})


def default_style(gpkg_path, table: str) -> Optional[str]:
    """The QML of the default style of ``table`` in ``gpkg_path`` (None: none)."""
    with closing(sqlite3.connect(Path(gpkg_path))) as conn:
        if not _table_exists(conn):
            return None
        row = conn.execute(
            'SELECT "styleQML" FROM "layer_styles" WHERE "f_table_name" = ? AND '
            '"useAsDefault" ORDER BY "update_time" DESC, "id" DESC LIMIT 1',
            (table,)).fetchone()
    return row[0] if row else None


def _text(value: str) -> np.ndarray:
    out = np.empty(1, dtype=object)
    out[0] = value
    return out


def _geometry_column(path: Path, table: str) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"No GeoPackage at {path}.")
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT column_name FROM gpkg_geometry_columns "
                           "WHERE lower(table_name) = lower(?)", (table,)).fetchone()
    if row is None:
        raise ValueError(f"{path} has no feature table '{table}'.")
    return str(row[0])


def _forget_style(path: Path, table: str, name: str) -> bool:
    """Delete ``table``'s style ``name`` and unmark its other defaults; whether the
    ``layer_styles`` table exists."""
    with closing(sqlite3.connect(path)) as conn, conn:
        if not _table_exists(conn):
            return False
        conn.execute('DELETE FROM "layer_styles" WHERE "f_table_name" = ? AND '
                     '"styleName" = ?', (table, name))
        conn.execute('UPDATE "layer_styles" SET "useAsDefault" = 0 WHERE '
                     '"f_table_name" = ?', (table,))
    return True


def _table_exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                        "name = ?", (TABLE,)).fetchone() is not None


def _insert_sql(path: Path, row: dict, has_table: bool, now: datetime) -> None:
    """Without pyogrio: the table as QGIS creates it, registered as attributes."""
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    with closing(sqlite3.connect(path)) as conn, conn:
        if not has_table:
            conn.execute(CREATE_SQL)
            conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                         "description, last_change, srs_id) VALUES (?, 'attributes', ?, "
                         "'', ?, 0)", (TABLE, TABLE, stamp))
        columns = list(TEXT_COLUMNS) + ["useAsDefault"] + list(AFTER_DEFAULT) + \
            ["update_time"]
        values = [row[c] for c in TEXT_COLUMNS] + [1] + [row[c] for c in AFTER_DEFAULT] + \
            [stamp]
        conn.execute(f'INSERT INTO "layer_styles" ({", ".join(columns)}) VALUES '
                     f'({", ".join("?" * len(values))})', values)
