"""The GeoPackage store's tables and their migrations: each step takes a store from
one schema version to the next inside the opening's transaction (the PostGIS store
has the same steps, :mod:`.postgis.schema`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Iterable

from ..schema import TABLES
from . import history_parts
from .gpkg_file import BNG_SRS_ID, ensure_geopackage
from .importing import MAX_REJECTS_STORED
from .interface import (
    ADDED_COLUMNS,
    DEVICE_FORMATS,
    REREAD_SUFFIX,
    USAGE_NUMBERS_2,
    USAGE_NUMBERS_3,
    USAGE_TEXT,
    columns_in_version,
)
from .values import iso_one, now_utc

SCHEMA_VERSION = 5

# GeoPackage column type for each canonical dtype.
_SQL_TYPE = {"object": "TEXT", "float64": "REAL", "int64": "INTEGER",
             "datetime64[ns, UTC]": "DATETIME", "bool": "BOOLEAN"}


def _columns_sql(columns: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f'"{name}" {kind}' for name, kind in columns)


def _canonical_sql(table: str, version: int = SCHEMA_VERSION) -> list[tuple[str, str]]:
    return [(name, _SQL_TYPE[TABLES[table][name]])
            for name in columns_in_version(table, version)]


def _register(conn, table: str, data_type: str, description: str, srs_id=None):
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents(table_name, data_type, identifier, description,"
        " srs_id) VALUES (?, ?, ?, ?, ?)", (table, data_type, table, description, srs_id))


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    """GeoPackage core plus the canonical tables, import log and store metadata."""
    ensure_geopackage(conn)

    device_cols = [("fid", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"), ("geom", "POINT")]
    device_cols += _canonical_sql("devices", 1)
    device_cols += [("valid_from_utc", "DATETIME NOT NULL"), ("valid_to_utc", "DATETIME"),
                    ("import_id", "INTEGER")]
    conn.execute(f"CREATE TABLE devices ({_columns_sql(device_cols)})")
    conn.execute("CREATE INDEX idx_devices_key ON devices(source, device_id, valid_to_utc)")
    _register(conn, "devices", "features",
              "Charge devices with their history (valid_from_utc/valid_to_utc)", BNG_SRS_ID)
    conn.execute("INSERT INTO gpkg_geometry_columns VALUES ('devices', 'geom', 'POINT', ?,"
                 " 0, 0)", (BNG_SRS_ID,))

    connector_cols = [("fid", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")]
    connector_cols += _canonical_sql("connectors", 1) + [("source", "TEXT")]
    connector_cols += [("valid_from_utc", "DATETIME NOT NULL"), ("valid_to_utc", "DATETIME"),
                       ("import_id", "INTEGER")]
    conn.execute(f"CREATE TABLE connectors ({_columns_sql(connector_cols)})")
    conn.execute("CREATE INDEX idx_connectors_key ON connectors(source, device_id,"
                 " connector_id, valid_to_utc)")
    _register(conn, "connectors", "attributes", "Connectors of each device, with history")

    session_cols = [("fid", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")]
    session_cols += [(n, t + (" NOT NULL UNIQUE" if n == "session_key" else ""))
                     for n, t in _canonical_sql("sessions", 1)]
    session_cols += [("import_id", "INTEGER")]
    # No index on start_utc: bulk reads scan in fid order anyway, and every index
    # slows the imports of millions of rows.
    conn.execute(f"CREATE TABLE sessions ({_columns_sql(session_cols)})")
    _register(conn, "sessions", "attributes", "Charging sessions (times in UTC)")

    status_cols = [("fid", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")]
    status_cols += [(n, t + (" NOT NULL" if n in ("observed_utc", "device_id") else ""))
                    for n, t in _canonical_sql("status_snapshots", 1)]
    status_cols += [("import_id", "INTEGER")]
    conn.execute(f"CREATE TABLE status_snapshots ({_columns_sql(status_cols)},"
                 " UNIQUE(observed_utc, device_id, evse_uid))")
    _register(conn, "status_snapshots", "attributes", "Observed EVSE statuses")

    conn.execute(
        "CREATE TABLE import_log (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
        " file_name TEXT, sha256 TEXT, imported_utc DATETIME, format TEXT,"
        " rows_read INTEGER, rows_added INTEGER, rows_duplicate INTEGER,"
        " rows_rejected INTEGER, outcome TEXT, message TEXT)")
    conn.execute("CREATE INDEX idx_import_log_sha ON import_log(sha256)")
    _register(conn, "import_log", "attributes", "Every import attempt and its outcome")

    conn.execute("CREATE TABLE store_meta (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
                 " key TEXT NOT NULL UNIQUE, value TEXT)")
    _register(conn, "store_meta", "attributes", "Store schema version and provenance")
    conn.execute("INSERT INTO store_meta(key, value) VALUES ('created_utc', ?)",
                 (iso_one(now_utc()),))


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Rejected rows per import, sessions closed by a later file, the usage cache."""
    conn.execute("ALTER TABLE import_log ADD COLUMN rows_updated INTEGER DEFAULT 0")
    conn.execute("CREATE TABLE import_rejects (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
                 " import_id INTEGER NOT NULL, row INTEGER, reason TEXT)")
    conn.execute("CREATE INDEX idx_import_rejects ON import_rejects(import_id)")
    _register(conn, "import_rejects", "attributes",
              f"Rows an import could not use (first {MAX_REJECTS_STORED} per import)")
    usage_cols = [("fid", "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")]
    usage_cols += [(n, "DATE" if n in ("period_start", "period_end") else "TEXT")
                   for n in USAGE_TEXT]
    usage_cols += [(n, "REAL") for n in USAGE_NUMBERS_2]
    conn.execute(f"CREATE TABLE usage_periods ({_columns_sql(usage_cols)})")
    conn.execute("CREATE INDEX idx_usage ON usage_periods(period_kind, level, period)")
    _register(conn, "usage_periods", "attributes",
              "Utilisation per device/connector and period (derived, rebuilt on demand)")


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """The usage cache keeps capacity_kwh, available_days and period_index."""
    for name in USAGE_NUMBERS_3:
        conn.execute(f"ALTER TABLE usage_periods ADD COLUMN {name} REAL")


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    """Cross-reference columns for reconciliation (devices.reference, connectors.evse_id)
    and the officers' reconciliation decisions. Device files imported before are read
    again once when imported again, to fill in the new columns."""
    for table, columns in ADDED_COLUMNS[4].items():
        for name in columns:
            conn.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" '
                         f"{_SQL_TYPE[TABLES[table][name]]}")
    conn.execute(
        "CREATE TABLE reconciliation_decisions (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
        " a_source TEXT NOT NULL, a_device_id TEXT NOT NULL, a_evse_uid TEXT,"
        " b_source TEXT NOT NULL, b_device_id TEXT NOT NULL, b_evse_uid TEXT,"
        " verdict TEXT NOT NULL CHECK (verdict IN ('same', 'different')),"
        " decided_utc DATETIME, note TEXT)")
    _register(conn, "reconciliation_decisions", "attributes",
              "Officers' decisions: are two source records the same charge point?")
    conn.execute("UPDATE import_log SET sha256 = sha256 || ? WHERE outcome = 'imported'"
                 f" AND format IN ({', '.join('?' * len(DEVICE_FORMATS))})"
                 " AND sha256 IS NOT NULL AND sha256 <> ''", (REREAD_SUFFIX, *DEVICE_FORMATS))


def _migrate_4_to_5(conn: sqlite3.Connection) -> None:
    """Sessions and status snapshots move to Parquet parts beside the GeoPackage
    (:mod:`.history_parts`): the manifest and the completed sessions' keys stay here;
    the old tables are dropped (the store is vacuumed after the commit)."""
    for sql in history_parts.CREATE_SQL:
        conn.execute(sql)
    conn.execute("CREATE INDEX IF NOT EXISTS idx_history_parts ON history_parts(kind, import_id)")
    _register(conn, "history_parts", "attributes",
              "Parquet parts holding the sessions and status snapshots (usage history)")
    _register(conn, "session_completions", "attributes",
              "Sessions whose open row a later import completed")
    path = next(r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main")
    history_parts.move_tables(conn, Path(path))


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (1, _migrate_0_to_1),
    (2, _migrate_1_to_2),
    (3, _migrate_2_to_3),
    (4, _migrate_3_to_4),
    (5, _migrate_4_to_5),
]


def table_names(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def stored_version(conn) -> int:
    """The schema version the store at ``conn`` has (0: not a history store yet)."""
    if "store_meta" not in table_names(conn):
        return 0
    row = conn.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def set_meta(conn, key: str, value: str) -> None:
    conn.execute("INSERT INTO store_meta(key, value) VALUES (?, ?)"
                 " ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))
