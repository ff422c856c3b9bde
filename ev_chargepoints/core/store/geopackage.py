"""The history store: one GeoPackage per workspace holding every imported period.

The file is an ordinary GeoPackage 1.3 that QGIS and GDAL open as layers
(``devices`` is a point layer in EPSG:27700, the other tables are attribute
tables), written here with the standard library's ``sqlite3``.

Sessions and status snapshots (the usage history) live in append-only Parquet parts
in the folder ``X.history`` beside ``X.gpkg``, listed by a manifest in the GeoPackage
(:mod:`.history_parts`); everything else is in the GeoPackage.

Durability. Every import runs in one ``BEGIN IMMEDIATE ... COMMIT``
transaction on a rollback journal, so an import that fails, raises, or whose
process is killed leaves the store exactly as it was before (SQLite replays the
journal on the next open; parts the import wrote are not in the manifest, so no
reader sees them, and the next import deletes them). A failed import is recorded in
``import_log`` in a separate, later transaction.

Times are stored as ISO-8601 UTC text ``YYYY-MM-DDTHH:MM:SS.sssZ`` in
GeoPackage ``DATETIME`` columns. That is what the GeoPackage standard asks for,
so QGIS and GDAL show real date-time fields (integer epochs would show as plain
numbers); the fixed width keeps text order equal to time order (range queries
compare the text), and it makes bulk reading fast (:mod:`.gpkg_bulk_read`).

Idempotence. A file whose SHA-256 was imported before is not read again (the
log records "already imported"); sessions are unique on ``session_key`` and
status snapshots on (observed time, device, EVSE), so overlapping files add
only what is new. Devices and connectors keep their history: each row has
``valid_from_utc``/``valid_to_utc``; a newer full snapshot closes the rows of
changed or vanished devices and opens new ones.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..analysis.geometry import multipolygon_wkb
from ..errors import MixedUsageError, StoreError
from ..paths import plugin_version
from ..schema import TABLES
from . import history_parts as parts
from . import usage_kind
from .gpkg_file import (
    BNG_SRS_ID,
    GPKG_APPLICATION_ID,
    GPKG_USER_VERSION,
    gp_blob,
    gpkg_point_blobs,
    parse_gpkg_points,
    write_layer,
)
from .gpkg_schema import MIGRATIONS, SCHEMA_VERSION, set_meta, stored_version, table_names
from .importing import import_summary, reject_rows, versioned_changes, versioned_columns
from .interface import (
    AREAS_FORMAT,
    DECISION_COLUMNS,
    IMPORT_LOG_COLUMNS,
    SESSION_COLUMNS,
    STATUS_COLUMNS,
    USAGE_NUMBERS,
    USAGE_TEXT,
    VALIDITY_COLUMNS,
    ImportReport,
    StoreBackend,
    periods_of_hours,
    typed_import_log,
    validity_window,
)
from .values import float_list, iso_one, now_utc, nullable, parse_iso, rows_frame

# Boundary layers kept for summaries: feature tables "areas_<name>" (GeoPackage stores).
AREA_LAYER_PREFIX = "areas_"


class HistoryStore(StoreBackend):
    """One GeoPackage file holding every imported period. Use :meth:`create_or_open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._duck = None  # DuckDB connection, opened on first use of the usage history

    @property
    def history_dir(self) -> Path:
        """The folder of the usage history's Parquet parts (``X.history`` beside ``X.gpkg``)."""
        return parts.history_dir(self.path)

    def _duckdb(self):
        if self._duck is None:
            self._duck = parts.duckdb_connection()
        return self._duck

    # opening ---------------------------------------------------------------

    @classmethod
    def create_or_open(cls, path: str | os.PathLike) -> HistoryStore:
        path = Path(path)
        if path.exists() and path.stat().st_size > 0:
            with open(path, "rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    raise StoreError(f"{path.name} is not a GeoPackage history store "
                                     "(it is not an SQLite database).")
        elif not path.parent.exists():
            raise StoreError(f"The folder for the history store does not exist: {path.parent}")
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the history store {path}: {exc}") from exc
        store = cls(path, conn)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            # A large page cache keeps the session_key index in memory during big
            # imports (SQLite only allocates what it uses).
            conn.execute("PRAGMA cache_size=-524288")
            conn.execute("PRAGMA temp_store=MEMORY")
            store._upgrade()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"Cannot open the history store {path.name}: {exc}") from exc
        except UnicodeError as exc:  # an SQLite message quoting damaged (non-UTF-8) bytes
            conn.close()
            raise StoreError(f"Cannot open the history store {path.name}: the file is "
                             "corrupted or not UTF-8 text.") from exc
        except StoreError:
            conn.close()
            raise
        return store

    def close(self) -> None:
        if self._duck is not None:
            self._duck.close()
            self._duck = None
        self._conn.close()

    def describe(self) -> str:
        return str(self.path)

    def _imported_when(self, import_id: int) -> str:
        return self._conn.execute("SELECT imported_utc FROM import_log WHERE id=?",
                                  (import_id,)).fetchone()[0]

    @property
    def schema_version(self) -> int:
        return stored_version(self._conn)

    def _upgrade(self) -> None:
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = table_names(conn)
        if app_id not in (0, GPKG_APPLICATION_ID) or (app_id == 0 and tables):
            raise StoreError(f"{self.path.name} is an SQLite file but not a GeoPackage.")
        version = stored_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path.name} was written by a newer version of the plugin (store "
                f"schema {version}, this version reads up to {SCHEMA_VERSION}); update "
                "the plugin.")
        if version == 0 and "devices" in tables:
            raise StoreError(f"{self.path.name} is a GeoPackage with its own 'devices' layer, "
                             "not a history store; choose another file.")
        vacuum = 1 <= version < 5  # the old session tables are dropped by 4 -> 5
        for target, step in MIGRATIONS:
            if version >= target:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                step(conn)
                conn.execute(f"PRAGMA application_id={GPKG_APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={GPKG_USER_VERSION}")
                set_meta(conn, "schema_version", str(target))
                set_meta(conn, "plugin_version", plugin_version())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            version = target
        if vacuum:
            conn.execute("VACUUM")

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM store_meta").fetchall())

    def check(self) -> str:
        """SQLite's integrity check, and every part the manifest lists is there: "ok"
        when the store is sound."""
        result = self._conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok" or self.schema_version < 5:
            return result
        missing = parts.missing_parts(self.history_dir, [f for (f,) in self._conn.execute(
            "SELECT file FROM history_parts")])
        if missing:
            return (f"{len(missing)} usage history file(s) missing from {self.history_dir}"
                    f" (first: {missing[0]})")
        return result

    # importing -------------------------------------------------------------

    def already_imported(self, sha256: str) -> int | None:
        row = self._conn.execute(
            "SELECT id FROM import_log WHERE sha256 = ? AND outcome = 'imported'"
            " ORDER BY id LIMIT 1", (sha256,)).fetchone()
        return None if row is None else int(row[0])

    def _write_import(self, result, prepared, file_name, file_sha256) -> ImportReport:
        conn = self._conn
        written: list[Path] = []  # part files of this import
        conn.execute("BEGIN IMMEDIATE")
        try:
            parts.remove_orphans(conn, self.history_dir)
            if prepared.usage_kind:
                _claim_usage_kind(conn, prepared.usage_kind)
            now = iso_one(now_utc())
            cur = conn.execute(
                "INSERT INTO import_log(file_name, sha256, imported_utc, format, rows_read,"
                " outcome, message) VALUES (?, ?, ?, ?, ?, 'importing', '')",
                (file_name, file_sha256, now, result.format, int(result.rows_read)))
            import_id = int(cur.lastrowid)
            tables: dict[str, dict[str, int]] = {}
            warnings = list(result.warnings) + prepared.warnings
            if prepared.devices is not None:
                counts, warn = self._write_versioned(
                    "devices", prepared.devices, ["source", "device_id"], prepared,
                    import_id, geometry=True)
                tables["devices"] = counts
                warnings += warn
            if prepared.connectors is not None:
                counts, warn = self._write_versioned(
                    "connectors", prepared.connectors, ["source", "device_id", "connector_id"],
                    prepared, import_id)
                tables["connectors"] = counts
            if prepared.session_frame is not None:
                tables["sessions"] = self._write_sessions(prepared.session_frame, import_id,
                                                          written)
            if prepared.status_frame is not None:
                tables["status_snapshots"] = self._write_status(prepared.status_frame,
                                                                import_id, written)
            rejects = result.rejects if result.rejects is not None else pd.DataFrame()
            n_rejected = int(len(rejects)) + prepared.rejected
            self._write_rejects(import_id, rejects, prepared.reject_rows)
            added = sum(t.get("added", 0) for t in tables.values())
            updated = sum(t.get("updated", 0) for t in tables.values())
            duplicate = sum(t.get("duplicate", 0) for t in tables.values())
            message = import_summary(tables, rejects, prepared.reject_rows, warnings)
            conn.execute(
                "UPDATE import_log SET rows_added=?, rows_updated=?, rows_duplicate=?,"
                " rows_rejected=?, outcome='imported', message=? WHERE id=?",
                (added, updated, duplicate, n_rejected, message, import_id))
            for table in tables:
                conn.execute("UPDATE gpkg_contents SET last_change=? WHERE table_name=?",
                             (now, table))
            if "devices" in tables:
                self._update_extent()
            conn.execute("COMMIT")
        except BaseException as exc:
            for path in written:  # still under the write lock: nobody else writes parts
                path.unlink(missing_ok=True)
            conn.execute("ROLLBACK")
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self.log_failed_import(file_name, file_sha256, result.format,
                              f"the import was rolled back ({exc})", result.rows_read)
            raise StoreError(f"Importing {file_name} failed and was rolled back: {exc}") \
                from exc
        return ImportReport(import_id, file_name, file_sha256, "imported",
                            int(result.rows_read), added, updated, duplicate, n_rejected,
                            message, tables)

    def _log_row(self, file_name, sha, fmt, rows_read, outcome, message) -> int:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO import_log(file_name, sha256, imported_utc, format, rows_read,"
                " rows_added, rows_updated, rows_duplicate, rows_rejected, outcome, message)"
                " VALUES (?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?)",
                (file_name, sha, iso_one(now_utc()), fmt, int(rows_read), outcome, message))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)

    def _write_versioned(self, table, frame, keys, prepared, import_id, geometry=False):
        """Close rows whose content changed (or, in snapshot mode, vanished); open new ones."""
        conn = self._conn
        columns, value_cols = versioned_columns(frame, keys)
        current = {}
        for source in sorted({s for s in frame["source"] if s is not None}):
            rows = conn.execute(
                f"SELECT fid, valid_from_utc, {', '.join(columns)} FROM {table}"
                " WHERE source IS ? AND valid_to_utc IS NULL", (source,)).fetchall()
            for row in rows:
                record = dict(zip(columns, row[2:]))
                current[tuple(record[k] for k in keys)] = (row[0], row[1],
                                                           tuple(record[c] for c in value_cols))
        at = prepared.snapshot_iso
        changes = versioned_changes(table, frame, keys, current, at, prepared.snapshot_mode)
        conn.executemany(f"UPDATE {table} SET valid_to_utc=? WHERE fid=?",
                         [(at, fid) for fid in changes.close_ids])
        opened = frame.iloc[changes.insert_rows]
        values = [opened[c].tolist() for c in columns]
        if geometry:
            values.append(gpkg_point_blobs(opened["_x"].to_numpy(), opened["_y"].to_numpy()))
        n = len(opened)
        names = columns + (["geom"] if geometry else []) + ["valid_from_utc", "import_id"]
        conn.executemany(
            f"INSERT INTO {table}({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            zip(*values, [at] * n, [import_id] * n))
        return changes.counts, changes.warnings

    def _write_sessions(self, frame: pd.DataFrame, import_id: int,
                        written: list) -> dict[str, int]:
        """A new part with the sessions not held yet and the stored open sessions this
        file completes (a session still open in an earlier file is completed by a later
        one); counts added/updated/duplicate."""
        return parts.write_part(self._conn, self._duckdb(), self.history_dir, "sessions",
                                frame, import_id, written)

    def _write_status(self, frame: pd.DataFrame, import_id: int,
                      written: list) -> dict[str, int]:
        """A new part with the snapshots not held yet (unique on time, device, EVSE)."""
        return parts.write_part(self._conn, self._duckdb(), self.history_dir,
                                "status_snapshots", frame, import_id, written)

    def _write_rejects(self, import_id, rejects: pd.DataFrame, extra: list) -> None:
        self._conn.executemany("INSERT INTO import_rejects(import_id, row, reason)"
                               " VALUES (?, ?, ?)", reject_rows(import_id, rejects, extra))

    def _update_extent(self) -> None:
        self._conn.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?"
                           " WHERE table_name='devices'", self._device_extent())

    def _device_extent(self):
        rows = self._conn.execute("SELECT geom FROM devices WHERE geom IS NOT NULL").fetchall()
        x, y = parse_gpkg_points([r[0] for r in rows])
        if len(x) == 0:
            return (None, None, None, None)
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    # derived cache -----------------------------------------------------------

    def write_usage_periods(self, frame: pd.DataFrame, period_kind: str,
                            level: str = "device") -> int:
        """Replace the cached utilisation for one period kind and level."""
        conn = self._conn
        data = frame.copy()
        data["period_kind"] = period_kind
        data["level"] = level
        if "connector_id" not in data:
            data["connector_id"] = None
        names = [c for c in USAGE_TEXT + USAGE_NUMBERS if c in data.columns]
        cols = []
        for name in names:
            if name in USAGE_NUMBERS:
                cols.append(float_list(data[name]))
            else:
                cols.append(nullable(data[name].astype(str).where(data[name].notna(), None)))
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM usage_periods WHERE period_kind=? AND level=?",
                         (period_kind, level))
            conn.executemany(f"INSERT INTO usage_periods({', '.join(names)})"
                             f" VALUES ({', '.join('?' * len(names))})", zip(*cols))
            conn.execute("UPDATE gpkg_contents SET last_change=? WHERE table_name="
                         "'usage_periods'", (iso_one(now_utc()),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(data)

    def usage_periods(self, period_kind: str = "quarter", level: str = "device") -> pd.DataFrame:
        names = USAGE_TEXT + USAGE_NUMBERS
        frame = self._select(f"SELECT {', '.join(names)} FROM usage_periods"
                             " WHERE period_kind=? AND level=? ORDER BY fid",
                             (period_kind, level), names)
        for name in USAGE_NUMBERS:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        return frame

    # reading -----------------------------------------------------------------

    def _select(self, sql: str, params: Sequence, names: list[str]) -> pd.DataFrame:
        return rows_frame(self._conn.execute(sql, params).fetchall(), names)

    def _read_table(self, table: str, canonical: str, extra: list[str], clauses: list[str],
                    params: Sequence) -> pd.DataFrame:
        spec = dict(TABLES[canonical])
        if table == "connectors":
            spec["source"] = "object"
        names = list(spec) + extra
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._conn.execute(f"SELECT {', '.join(names)} FROM {table} {where}"
                                  " ORDER BY fid", params).fetchall()
        # column by column (no frame of object columns to consolidate first), from one
        # 2-D array of the rows (a third of the time of transposing the tuples)
        table_values = np.array(rows, dtype=object).reshape(len(rows), len(names))
        out = {}
        for i, name in enumerate(names):
            dtype = spec.get(name, "datetime64[ns, UTC]" if name.endswith("_utc") else "int64")
            values = pd.Series(np.ascontiguousarray(table_values[:, i]), dtype=object)
            if dtype.startswith("datetime64"):
                out[name] = parse_iso(values.to_numpy())
            elif dtype == "float64":
                out[name] = pd.to_numeric(values, errors="coerce").astype("float64")
            elif dtype == "int64":
                out[name] = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64")
            else:  # (SQLite gives NULL as None, never NaN: nothing to replace)
                out[name] = values
        result = pd.DataFrame(out)
        return result.reset_index(drop=True)

    def devices(self, at=None, current_only: bool = True, source: str | None = None
                ) -> pd.DataFrame:
        """Canonical devices plus ``valid_from_utc``/``valid_to_utc``.

        ``at``: the devices as they were at that moment; else ``current_only``
        gives today's rows and False the whole history.
        """
        return self._read_table("devices", "devices", VALIDITY_COLUMNS,
                                *validity_window(at, current_only, source))

    def connectors(self, at=None, current_only: bool = True, source: str | None = None
                   ) -> pd.DataFrame:
        return self._read_table("connectors", "connectors", VALIDITY_COLUMNS,
                                *validity_window(at, current_only, source))

    def sessions(self, start=None, end=None, categorical: bool = False,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Sessions starting in [start, end), in stored order (by import, and by
        session key within an import).

        ``categorical`` returns the id columns as pandas categoricals (far faster
        for millions of rows); ``columns`` reads only those canonical columns.
        """
        names = list(columns) if columns is not None else SESSION_COLUMNS
        return self._read_history("sessions", names, (start, end), categorical)

    def status_snapshots(self, start=None, end=None) -> pd.DataFrame:
        frame = self._read_history("status_snapshots", STATUS_COLUMNS, (start, end))
        frame["evse_uid"] = frame["evse_uid"].where(frame["evse_uid"] != "", None)
        return frame

    def _read_history(self, kind, names, window, categorical=False) -> pd.DataFrame:
        con = self._duckdb()
        snap = parts.snapshot(self._conn, kind)
        # A join drops the completed open rows (and categorical reads join), and joins
        # do not keep the scan's order: those reads are sorted back into stored order.
        ordered = bool(snap.completed)
        rel = parts.relation(con, self.history_dir, snap, name="_completed_read",
                             row_numbers=ordered or categorical)
        return parts.read_frame(con, rel, kind, names, window, categorical, ordered)

    def history_relation(self, con, kind: str, row_numbers: bool = False) -> str:
        """SQL text of a parenthesised relation valid on DuckDB connection ``con``: the
        rows of ``kind`` ("sessions" or "status_snapshots") as of now, canonical columns
        plus import_id, sessions completed by a later import only in their completed form
        (``row_numbers``: and ``_rn``, the row's number in its part)."""
        return parts.relation(con, self.history_dir, parts.snapshot(self._conn, kind),
                              row_numbers=row_numbers)

    def history_parts(self, kind: str) -> pd.DataFrame:
        """The manifest rows of ``kind``: kind, import_id, file (relative to
        :attr:`history_dir`), rows, min/max_time_utc, max_end_utc, bytes."""
        return parts.snapshot(self._conn, kind).manifest

    def import_log(self) -> pd.DataFrame:
        return typed_import_log(self._select(
            f"SELECT {', '.join(IMPORT_LOG_COLUMNS)} FROM import_log ORDER BY id", (),
            IMPORT_LOG_COLUMNS))

    def import_rejects(self, import_id: int | None = None) -> pd.DataFrame:
        names = ["import_id", "row", "reason"]
        where, params = ("WHERE import_id=?", (import_id,)) if import_id is not None else ("", ())
        frame = self._select(f"SELECT {', '.join(names)} FROM import_rejects {where}"
                             " ORDER BY fid", params, names)
        frame["import_id"] = pd.to_numeric(frame["import_id"]).astype("int64")
        frame["row"] = pd.to_numeric(frame["row"]).astype("float64")
        return frame

    def counts(self) -> dict[str, int]:
        """Row counts of the data tables (cheap summary for front ends and tests)."""
        conn = self._conn
        out = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
               for t in ("devices", "connectors", "import_log", "import_rejects",
                         "usage_periods")}
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")  # manifest and completions as of one moment
        try:
            rows = dict(conn.execute("SELECT kind, sum(rows) FROM history_parts"
                                     " GROUP BY kind").fetchall())
            completed = conn.execute("SELECT count(*) FROM session_completions").fetchone()[0]
        finally:
            if own:
                conn.execute("COMMIT")
        out["sessions"] = int(rows.get("sessions") or 0) - int(completed)
        out["status_snapshots"] = int(rows.get("status_snapshots") or 0)
        return {t: out[t] for t in ("devices", "connectors", "sessions", "status_snapshots",
                                    "import_log", "import_rejects", "usage_periods")}

    def _insert_decision(self, values, verdict, decided_iso, note) -> int:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO reconciliation_decisions(a_source, a_device_id, a_evse_uid,"
                " b_source, b_device_id, b_evse_uid, verdict, decided_utc, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, verdict, decided_iso, note))
            conn.execute("UPDATE gpkg_contents SET last_change=? WHERE table_name="
                         "'reconciliation_decisions'", (decided_iso,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)

    def device_stamp(self) -> str:
        """Text that changes whenever the devices, connectors or reconciliation decisions
        change (a new row, a closed row, an edit that marks the table changed): the key of
        caches derived from them alone (a sessions import keeps it)."""
        conn = self._conn
        parts = [conn.execute(f"SELECT count(*), max(fid), count(valid_to_utc),"  # indexes
                              f" max(valid_to_utc) FROM {table}").fetchone()
                 for table in ("devices", "connectors")]
        parts.append(conn.execute("SELECT * FROM reconciliation_decisions ORDER BY fid")
                     .fetchall())
        parts.append(conn.execute("SELECT key, value FROM store_meta WHERE key IN"
                                  " ('schema_version', 'plugin_version') ORDER BY key")
                     .fetchall())
        parts.append(conn.execute(
            "SELECT table_name, last_change FROM gpkg_contents WHERE table_name IN"
            " ('devices', 'connectors', 'reconciliation_decisions') ORDER BY table_name"
        ).fetchall())
        return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()

    def decisions(self) -> pd.DataFrame:
        names = ["fid"] + DECISION_COLUMNS[1:]
        frame = self._select(f"SELECT {', '.join(names)} FROM reconciliation_decisions"
                             " ORDER BY fid", (), names).rename(columns={"fid": "id"})
        frame["id"] = pd.to_numeric(frame["id"]).astype("int64")
        frame["decided_utc"] = parse_iso(frame["decided_utc"].to_numpy())
        return frame

    def periods(self, kind: str = "quarter") -> list[str]:
        """Calendar periods (UK local time) in which at least one session starts."""
        if not len(self.history_parts("sessions")):
            return []
        con = self._duckdb()
        rel = self.history_relation(con, "sessions")
        hours = con.execute(f"SELECT DISTINCT date_trunc('hour', start_utc) AS h FROM {rel} s"
                            " WHERE start_utc IS NOT NULL").df()["h"]
        stamps = pd.to_datetime(hours, utc=True).dropna()
        return periods_of_hours(stamps.reset_index(drop=True), kind)

    # area layers -------------------------------------------------------------

    def area_layers(self) -> list[str]:
        rows = self._conn.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'"
            " AND substr(table_name, 1, ?) = ? ORDER BY table_name",
            (len(AREA_LAYER_PREFIX), AREA_LAYER_PREFIX)).fetchall()
        return [r[0][len(AREA_LAYER_PREFIX):] for r in rows]

    def area_layer_source(self, name: str) -> tuple[Path, str]:
        if name not in self.area_layers():
            return super().area_layer_source(name)
        return self.path, AREA_LAYER_PREFIX + name

    def write_area_layers(self, file_name: str, sha256: str, layers) -> ImportReport:
        previous = self.already_imported(sha256)
        if previous is not None:
            return self._log_skip(file_name, sha256, AREAS_FORMAT, previous)
        conn, held = self._conn, set(self.area_layers())
        rows = sum(len(layer.polygons) for layer in layers)
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO import_log(file_name, sha256, imported_utc, format, rows_read,"
                " outcome, message) VALUES (?, ?, ?, ?, ?, 'importing', '')",
                (file_name, sha256, iso_one(now_utc()), AREAS_FORMAT, rows))
            import_id, notes = int(cur.lastrowid), []
            for layer in layers:
                table = AREA_LAYER_PREFIX + layer.name
                bounds = layer.polygons.bounds()
                blobs = [gp_blob(multipolygon_wkb(layer.polygons, i), BNG_SRS_ID,
                                 None if np.isnan(b[0]) else (b[0], b[2], b[1], b[3]))
                         for i, b in enumerate(bounds)]
                write_layer(conn, table, _area_attributes(layer.attributes), blobs,
                            "MULTIPOLYGON", BNG_SRS_ID, f"Area layer from {file_name}")
                if len(bounds) and not np.isnan(bounds[:, 0]).all():
                    conn.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?"
                                 " WHERE table_name=?", (*np.nanmin(bounds[:, :2], axis=0),
                                                         *np.nanmax(bounds[:, 2:], axis=0),
                                                         table))
                notes.append(f"area layer '{layer.name}': {len(layer.polygons):,} areas"
                             + (f" ({layer.note})" if layer.note else "")
                             + ("; it replaces the layer of that name" if layer.name in held
                                else ""))
            message = "; ".join(notes)
            conn.execute("UPDATE import_log SET rows_added=?, rows_updated=0, rows_duplicate=0,"
                         " rows_rejected=0, outcome='imported', message=? WHERE id=?",
                         (rows, message, import_id))
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self.log_failed_import(file_name, sha256, AREAS_FORMAT,
                              f"the import was rolled back ({exc})", rows)
            raise StoreError(f"Importing {file_name} failed and was rolled back: {exc}") \
                from exc
        return ImportReport(import_id, file_name, sha256, "imported", rows, rows,
                            message=message)


def _area_attributes(attributes: pd.DataFrame) -> pd.DataFrame:
    """A boundary layer's fields under names a GeoPackage table takes (letters, digits,
    underscores; not the fid or geometry column; unique regardless of case)."""
    names, seen = [], set()
    for column in attributes.columns:
        name = re.sub(r"[^A-Za-z0-9_]+", "_", str(column)).strip("_") or "field"
        if name[0].isdigit():
            name = "f_" + name
        base, n = name, 1
        while name.lower() in seen | {"fid", "geom"}:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        names.append(name)
    out = attributes.copy()
    out.columns = names
    return out


def _claim_usage_kind(conn, kind: str) -> None:
    """Inside the import's transaction: record the kind of usage, or refuse the other
    kind (another process may have imported since the check before the transaction)."""
    conn.execute("INSERT INTO store_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
                 (usage_kind.META_KEY, kind))
    held = conn.execute("SELECT value FROM store_meta WHERE key=?",
                        (usage_kind.META_KEY,)).fetchone()[0]
    if held != kind:
        raise MixedUsageError(usage_kind.refusal(held, "the store"))
