"""The shared history store on PostgreSQL/PostGIS.

:class:`PostgisStore` has the methods and semantics of the GeoPackage
:class:`~..geopackage.HistoryStore`: the same tables (see :mod:`.schema`), the same
preparation of parsed files (:func:`~..importing.prepare`), the same device history
rule (:func:`~..importing.versioned_changes`) and the same frames on reading.

Concurrency. Several processes (officers, scheduled imports) may write at once:
every import is one transaction; content keys are unique constraints, and
sessions are inserted in key order, so two imports of overlapping files wait for
each other on the keys they share instead of storing them twice (or
deadlocking). The versioned device/connector writes read and close current rows,
so they are serialised with a transaction-level advisory lock, taken as late as
possible; a file's import is serialised with any other import of the same file,
which then finds it already imported.

Passwords are only ever held in memory and passed to libpq as a keyword; error
messages name the database with :func:`~.conninfo.describe_conninfo`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from ...errors import MixedUsageError, StoreError
from ...schema import TABLES
from .. import usage_kind
from ..importing import import_summary, reject_rows, versioned_changes, versioned_columns
from ..interface import (
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
    time_window,
    typed_import_log,
    validity_window,
)
from ..values import (
    float_list,
    iso_one,
    join_chunks,
    now_utc,
    nullable,
    parse_iso,
    rows_frame,
    utc_series,
)
from . import usage_months
from .conninfo import describe_conninfo
from .copy_io import column_kinds, copy_in, copy_out, read_expression
from .migrations import MIGRATIONS
from .schema import SCHEMA, SCHEMA_VERSION, SRID, canonical_columns

# Advisory lock keys (pg_advisory_xact_lock(class, object)): one class for the
# store itself, one for files being imported (object = hash of the SHA-256).
_LOCK_CLASS = 0x45564350  # "EVCP"
_LOCK_FILE_CLASS = _LOCK_CLASS + 1
_LOCK_SCHEMA = 1
_LOCK_VERSIONED = 2

_TABLES = ("devices", "connectors", "sessions", "status_snapshots", "import_log",
           "import_rejects", "usage_periods")
_READ_CHUNK = 2_000_000  # fids per COPY when reading (bounds the raw text in memory)
# the columns of the devices and connectors that utilisation's device facts read
FACT_COLUMNS = {"devices": ["device_id", "connector_count", "max_power_kw", "created_utc"],
                "connectors": ["device_id", "connector_id", "power_kw"]}
_DEADLOCK_RETRIES = 3
# The stored text form of a time, as the GeoPackage store writes it (values.iso_texts).
_ISO_SQL = "to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


class PostgisStore(StoreBackend):
    """A history store in the schema ``ev_chargepoints`` of a PostGIS database.
    Use :meth:`create_or_open`."""

    path = None  # no file: see describe()

    def __init__(self, conn, conninfo: str):
        self.conn = conn
        self.conninfo = conninfo
        self._in_transaction = False
        self.last_month_sums = None  # how the last import updated the month sums

    # opening ---------------------------------------------------------------

    @classmethod
    def create_or_open(cls, conninfo: str, password: str | None = None) -> PostgisStore:
        conn = _connect(conninfo, password)
        store = cls(conn, conninfo)
        try:
            store._upgrade()
        except BaseException:
            conn.close()
            raise
        return store

    def describe(self) -> str:
        """A name safe for logs and messages (never a secret)."""
        return describe_conninfo(self.conninfo)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self, isolation: str | None = None) -> Iterator:
        """A cursor inside ``BEGIN ... COMMIT`` (``ROLLBACK`` on any exception).
        Nested use joins the outer transaction. ``isolation`` e.g.
        ``"REPEATABLE READ READ ONLY"``."""
        with self.conn.cursor() as cur:
            if self._in_transaction:
                yield cur
                return
            cur.execute("BEGIN" + (f" ISOLATION LEVEL {isolation}" if isolation else ""))
            self._in_transaction = True
            try:
                yield cur
            except BaseException:
                self._in_transaction = False
                with contextlib.suppress(Exception):  # a lost connection has nothing to undo
                    cur.execute("ROLLBACK")
                raise
            self._in_transaction = False
            cur.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self.conn.cursor() as cur:
            return _schema_version(cur)

    def _upgrade(self) -> None:
        with self.conn.cursor() as cur:
            if _schema_version(cur) == SCHEMA_VERSION:
                return
        # Two processes opening a new database at once: the second waits here and
        # then finds the schema made.
        with self.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _LOCK_SCHEMA))
            version = _schema_version(cur)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.describe()} was written by a newer version of the plugin (store "
                    f"schema {version}, this version reads up to {SCHEMA_VERSION}); update "
                    "the plugin.")
            if version == SCHEMA_VERSION:
                return
            _ensure_postgis(cur, self.describe())
            month_sums = version < 6  # made by steps 5 and 6, built from the sessions here
            for target, step in MIGRATIONS:
                if version < target:
                    step(cur)
                    version = target
            if month_sums:
                usage_months.refresh(self, cur)
            from ...paths import plugin_version
            _set_meta(cur, "schema_version", str(SCHEMA_VERSION))
            _set_meta(cur, "plugin_version", plugin_version())


    def acts_as_owner(self) -> bool:
        """True when this login acts as the schema's owner: it reads every row despite
        row-level security, so what it computes for all devices is complete and it
        may write the shared derived tables (placements, usage cache, map)."""
        with self.transaction() as cur:
            cur.execute("SELECT pg_has_role(current_user, nspowner, 'USAGE')"
                        " FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
            row = cur.fetchone()
        return bool(row and row[0])

    def keeps_derived_tables(self) -> bool:
        """True when this login reads every row (the owner, or ``may_see_all``: a member
        of ``evcp_importer``/``evcp_admin``) and may rewrite the derived tables that
        placements and the usage cache live in (the owner, importers), so what it
        computes for all devices is complete and it may store it for the others."""
        if self.acts_as_owner():
            return True
        writes = " AND ".join(
            f"has_table_privilege('{SCHEMA}.{table}', '{privilege}')"
            for table in ("areas", "device_areas", "usage_periods", "store_meta")
            for privilege in ("INSERT", "UPDATE", "DELETE"))
        with self.transaction() as cur:
            cur.execute(f"SELECT {SCHEMA}.may_see_all() AND {writes}")
            return bool(cur.fetchone()[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as cur:
            _set_meta(cur, key, value)

    def meta(self) -> dict[str, str]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT key, value FROM {SCHEMA}.store_meta")
            return dict(cur.fetchall())

    def check(self) -> str:
        """"ok" when the schema is complete and current, else what is wrong."""
        with self.conn.cursor() as cur:
            missing = []
            for table in ("store_meta",) + _TABLES + ("reconciliation_decisions",):
                cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{table}",))
                if cur.fetchone()[0] is None:
                    missing.append(table)
            if missing:
                return f"missing tables: {', '.join(missing)}"
            version = _schema_version(cur)
        if version != SCHEMA_VERSION:
            return f"schema version {version}, expected {SCHEMA_VERSION}"
        return "ok"

    # importing -------------------------------------------------------------

    def already_imported(self, sha256: str) -> int | None:
        with self.conn.cursor() as cur:
            return _imported_id(cur, sha256)

    def _write_import(self, result, prepared, file_name, file_sha256) -> ImportReport:
        """The import transaction, retried on a deadlock with another import; a file
        another process imported meanwhile ends as "already imported"."""
        import psycopg2

        for attempt in range(_DEADLOCK_RETRIES):
            try:
                outcome = self._import_prepared(result, prepared, file_name, file_sha256)
                break
            except (psycopg2.errors.DeadlockDetected,
                    psycopg2.errors.SerializationFailure):
                if attempt == _DEADLOCK_RETRIES - 1:
                    outcome = None
                    exc = StoreError("it kept deadlocking with other imports")
                    break
            except psycopg2.errors.UniqueViolation as error:
                if getattr(error.diag, "constraint_name", "") != "import_log_imported_once":
                    outcome, exc = None, error
                    break
                outcome = self.already_imported(file_sha256)  # won by another process
                break
            except BaseException as error:  # noqa: BLE001 - logged, then re-raised
                if isinstance(error, (KeyboardInterrupt, SystemExit)):
                    raise
                outcome, exc = None, error
                break
        if isinstance(outcome, ImportReport):
            return outcome
        if isinstance(outcome, int):
            return self._log_skip(file_name, file_sha256, result.format, outcome)
        message = _one_line(exc, None)
        with contextlib.suppress(psycopg2.Error):  # a lost connection cannot log
            self.log_failed_import(file_name, file_sha256, result.format,
                              f"the import was rolled back ({message})", result.rows_read)
        raise StoreError(f"Importing {file_name} failed and was rolled back: {message}") \
            from exc

    def _import_prepared(self, result, prepared, file_name, sha) -> ImportReport | int:
        """The import transaction; the id of the earlier import when another process
        imported the same file first."""
        with self.transaction() as cur:
            if sha:
                # Another import of this file waits here until the first one ends.
                cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                            (_LOCK_FILE_CLASS, sha))
                previous = _imported_id(cur, sha)
                if previous is not None:
                    return previous
            if prepared.usage_kind:
                _claim_usage_kind(cur, prepared.usage_kind)
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute(
                f"INSERT INTO {SCHEMA}.import_log(file_name, sha256, imported_utc, format,"
                " rows_read, outcome, message) VALUES (%s, %s, %s, %s, %s, 'importing', '')"
                " RETURNING id",
                (file_name, sha, iso_one(now_utc()), result.format, int(result.rows_read)))
            import_id = int(cur.fetchone()[0])
            tables: dict[str, dict[str, int]] = {}
            warnings = list(result.warnings) + prepared.warnings
            # Sessions and statuses first: the versioned writes' lock is then held
            # for the shortest time (until COMMIT).
            if prepared.sessions is not None:
                sessions = self._write_sessions(cur, prepared.sessions, import_id)
            if prepared.status is not None:
                status = self._write_status(cur, prepared.status, import_id)
            if prepared.devices is not None or prepared.connectors is not None:
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                            (_LOCK_CLASS, _LOCK_VERSIONED))
            if prepared.devices is not None:
                counts, warn = self._write_versioned(
                    cur, "devices", prepared.devices, ["source", "device_id"], prepared,
                    import_id)
                tables["devices"] = counts
                warnings += warn
            if prepared.connectors is not None:
                counts, _ = self._write_versioned(
                    cur, "connectors", prepared.connectors,
                    ["source", "device_id", "connector_id"], prepared, import_id)
                tables["connectors"] = counts
            if prepared.sessions is not None:
                tables["sessions"] = sessions
                first_start = sessions.pop("first_start_us")
            if prepared.sessions is not None or prepared.devices is not None \
                    or prepared.connectors is not None:
                # "kept", "incremental" or "full": how the month sums were updated
                self.last_month_sums = usage_months.refresh(
                    self, cur, import_id, first_start if prepared.sessions is not None
                    else None)
            if prepared.status is not None:
                tables["status_snapshots"] = status
            rejects = result.rejects if result.rejects is not None else pd.DataFrame()
            n_rejected = int(len(rejects)) + prepared.rejected
            self._write_rejects(cur, import_id, rejects, prepared.reject_rows)
            added = sum(t.get("added", 0) for t in tables.values())
            updated = sum(t.get("updated", 0) for t in tables.values())
            duplicate = sum(t.get("duplicate", 0) for t in tables.values())
            message = import_summary(tables, rejects, prepared.reject_rows, warnings)
            cur.execute(
                f"UPDATE {SCHEMA}.import_log SET rows_added=%s, rows_updated=%s,"
                " rows_duplicate=%s, rows_rejected=%s, outcome='imported', message=%s"
                " WHERE id=%s", (added, updated, duplicate, n_rejected, message, import_id))
        return ImportReport(import_id, file_name, sha, "imported", int(result.rows_read),
                            added, updated, duplicate, n_rejected, message, tables)

    def _imported_when(self, import_id: int) -> str:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {_ISO_SQL.format(col='imported_utc')} FROM"
                        f" {SCHEMA}.import_log WHERE id=%s", (import_id,))
            return cur.fetchone()[0]

    def _log_row(self, file_name, sha, fmt, rows_read, outcome, message) -> int:
        with self.transaction() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.import_log(file_name, sha256, imported_utc, format,"
                " rows_read, rows_added, rows_updated, rows_duplicate, rows_rejected, outcome,"
                " message) VALUES (%s, %s, %s, %s, %s, 0, 0, 0, 0, %s, %s) RETURNING id",
                (file_name, sha, iso_one(now_utc()), fmt, int(rows_read), outcome, message))
            return int(cur.fetchone()[0])

    def _write_versioned(self, cur, table, frame, keys, prepared, import_id):
        """The GeoPackage store's history rule (importing.versioned_changes), under the
        advisory lock the caller holds."""
        columns, value_cols = versioned_columns(frame, keys)
        kinds = column_kinds(table, columns)
        selected = ", ".join(_ISO_SQL.format(col=c) if kinds[c] == "time" else c
                             for c in columns)
        sources = sorted({s for s in frame["source"] if s is not None})
        cur.execute(f"SELECT fid, {_ISO_SQL.format(col='valid_from_utc')}, {selected}"
                    f" FROM {SCHEMA}.{table} WHERE source = ANY(%s) AND valid_to_utc IS NULL"
                    " ORDER BY fid", (sources,))
        current = {}
        for row in cur.fetchall():
            record = dict(zip(columns, row[2:]))
            current[tuple(record[k] for k in keys)] = (row[0], row[1],
                                                       tuple(record[c] for c in value_cols))
        at = prepared.snapshot_iso
        changes = versioned_changes(table, frame, keys, current, at, prepared.snapshot_mode)
        if changes.close_ids:
            cur.execute(f"UPDATE {SCHEMA}.{table} SET valid_to_utc=%s WHERE fid = ANY(%s)",
                        (at, changes.close_ids))
        opened = frame.iloc[changes.insert_rows]
        geometry = "_x" in frame.columns
        staged = columns + (["_x", "_y"] if geometry else [])
        kinds.update({"_x": "real", "_y": "real"})
        types = {"time": "timestamptz", "text": "text", "real": "double precision",
                 "int": "bigint"}
        cur.execute(f"CREATE TEMP TABLE _staged_{table} (n bigint, "
                    + ", ".join(f"{c} {types[kinds[c]]}" for c in staged) + ") ON COMMIT DROP")
        copy_in(cur, f"_staged_{table}", ["n"] + staged,
                 [("int", list(range(len(opened))))]
                 + [(kinds[c], opened[c].tolist()) for c in staged])
        names = columns + (["geom"] if geometry else [])
        values = columns + ([f"ST_SetSRID(ST_MakePoint(_x, _y), {SRID})"] if geometry else [])
        cur.execute(f"INSERT INTO {SCHEMA}.{table}({', '.join(names)}, valid_from_utc,"
                    f" import_id) SELECT {', '.join(values)}, %s, %s FROM _staged_{table}"
                    " ORDER BY n", (at, import_id))
        return changes.counts, changes.warnings

    def _write_sessions(self, cur, cols: dict[str, list], import_id: int) -> dict[str, int]:
        """COPY into a temporary table, then one INSERT in session_key order: two
        imports sharing keys then meet them in the same order (no deadlock), and
        the second waits for the first and finds each shared key taken. A session
        still open in the store is completed by a later file."""
        kinds = column_kinds("sessions", SESSION_COLUMNS)
        n = len(cols["session_key"])
        cur.execute(f"CREATE TEMP TABLE _staged_sessions ({canonical_columns('sessions')})"
                    " ON COMMIT DROP")
        copy_in(cur, "_staged_sessions", SESSION_COLUMNS,
                 [(kinds[c], cols[c]) for c in SESSION_COLUMNS])
        listed = ", ".join(SESSION_COLUMNS)
        # One row per key (a file may repeat one; a completed row wins): ON CONFLICT
        # may not touch a row twice in one statement.
        cur.execute(
            f"WITH written AS (INSERT INTO {SCHEMA}.sessions({listed}, import_id)"
            f" SELECT DISTINCT ON (session_key COLLATE \"C\") {listed}, %s"
            " FROM _staged_sessions ORDER BY session_key COLLATE \"C\", end_utc IS NULL"
            " ON CONFLICT (session_key) DO UPDATE SET end_utc=excluded.end_utc,"
            " charging_end_utc=excluded.charging_end_utc, kwh=excluded.kwh,"
            " import_id=excluded.import_id"
            " WHERE sessions.end_utc IS NULL AND excluded.end_utc IS NOT NULL"
            " RETURNING (xmax = 0) AS added, start_utc, device_id)"
            " SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added),"
            " round(date_part('epoch', min(start_utc) FILTER (WHERE device_id IS NOT NULL))"
            " * 1000000)::bigint FROM written", (import_id,))
        added, updated, first = cur.fetchone()
        added, updated = int(added), int(updated)
        # first_start_us: the earliest start written (the month sums recompute from it)
        return {"added": added, "updated": updated, "duplicate": n - added - updated,
                "first_start_us": None if first is None else int(first)}

    def _write_status(self, cur, cols: dict[str, list], import_id: int) -> dict[str, int]:
        kinds = column_kinds("status_snapshots", STATUS_COLUMNS)
        n = len(cols["observed_utc"])
        cur.execute("CREATE TEMP TABLE _staged_status"
                    f" ({canonical_columns('status_snapshots')}) ON COMMIT DROP")
        copy_in(cur, "_staged_status", STATUS_COLUMNS,
                 [(kinds[c], cols[c]) for c in STATUS_COLUMNS])
        listed = ", ".join(STATUS_COLUMNS)
        cur.execute(f"INSERT INTO {SCHEMA}.status_snapshots({listed}, import_id)"
                    f" SELECT {listed}, %s FROM _staged_status"
                    " ORDER BY observed_utc, device_id COLLATE \"C\", evse_uid COLLATE \"C\""
                    " ON CONFLICT DO NOTHING", (import_id,))
        added = cur.rowcount
        return {"added": int(added), "duplicate": int(n - added)}

    def _write_rejects(self, cur, import_id, rejects: pd.DataFrame, extra: list) -> None:
        rows = reject_rows(import_id, rejects, extra)
        if rows:
            ids, numbers, reasons = zip(*rows)
            cur.execute(f"INSERT INTO {SCHEMA}.import_rejects(import_id, row, reason)"
                        " SELECT i, n, t FROM unnest(%s::bigint[], %s::bigint[], %s::text[])"
                        " WITH ORDINALITY AS r(i, n, t, o) ORDER BY o",
                        (list(ids), list(numbers), list(reasons)))

    # derived cache -----------------------------------------------------------

    def write_usage_periods(self, frame: pd.DataFrame, period_kind: str,
                            level: str = "device") -> int:
        """Replace the cached utilisation for one period kind and level."""
        data = frame.copy()
        data["period_kind"] = period_kind
        data["level"] = level
        if "connector_id" not in data:
            data["connector_id"] = None
        names = [c for c in USAGE_TEXT + USAGE_NUMBERS + ["area_code"] if c in data.columns]
        columns = []
        for name in names:
            if name in USAGE_NUMBERS:
                columns.append(("real", float_list(data[name])))
            else:
                columns.append(("text", nullable(data[name].astype(str)
                                                  .where(data[name].notna(), None))))
        with self.transaction() as cur:
            cur.execute(f"DELETE FROM {SCHEMA}.usage_periods WHERE period_kind=%s AND"
                        " level=%s", (period_kind, level))
            # Staged: COPY straight into a table with row-level security is refused.
            cur.execute(f"CREATE TEMP TABLE _staged_usage ON COMMIT DROP AS SELECT"
                        f" {', '.join(names)} FROM {SCHEMA}.usage_periods WITH NO DATA")
            copy_in(cur, "_staged_usage", names, columns)
            cur.execute(f"INSERT INTO {SCHEMA}.usage_periods({', '.join(names)})"
                        f" SELECT {', '.join(names)} FROM _staged_usage")
        return len(data)

    def usage_periods(self, period_kind: str = "quarter", level: str = "device") -> pd.DataFrame:
        names = USAGE_TEXT + USAGE_NUMBERS
        selected = ", ".join(f"{n}::text" if n in USAGE_TEXT else n for n in names)
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {selected} FROM {SCHEMA}.usage_periods"
                        " WHERE period_kind=%s AND level=%s ORDER BY fid", (period_kind, level))
            frame = rows_frame(cur.fetchall(), names)
        for name in USAGE_NUMBERS:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        return frame

    # reading -----------------------------------------------------------------

    def devices(self, at=None, current_only: bool = True, source: str | None = None
                ) -> pd.DataFrame:
        """Canonical devices plus ``valid_from_utc``/``valid_to_utc`` (see
        :meth:`HistoryStore.devices`)."""
        return self._read_versioned("devices", at, current_only, source)

    def connectors(self, at=None, current_only: bool = True, source: str | None = None
                   ) -> pd.DataFrame:
        return self._read_versioned("connectors", at, current_only, source)

    def facts_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every version of the devices and connectors, only the columns utilisation's
        device facts read (:func:`.utilisation.device_facts`): the month sums and
        utilisation read them for 100,000s of devices."""
        return (self._read_versioned("devices", None, False, None, FACT_COLUMNS["devices"]),
                self._read_versioned("connectors", None, False, None,
                                     FACT_COLUMNS["connectors"]))

    def _read_versioned(self, table, at, current_only, source, names=None) -> pd.DataFrame:
        if names is None:
            names = list(TABLES[table]) + (["source"] if table == "connectors" else [])
        spec = column_kinds(table, names + VALIDITY_COLUMNS)
        return _frame(self._bulk_read(table, spec,
                                      *validity_window(at, current_only, source, "%s")))

    def sessions(self, start=None, end=None, categorical: bool = False,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Sessions starting in [start, end), in stored order (see
        :meth:`HistoryStore.sessions`)."""
        names = list(columns) if columns is not None else SESSION_COLUMNS
        spec = column_kinds("sessions", names)
        return _frame(self._bulk_read("sessions", spec,
                                      *time_window("start_utc", start, end, "%s"), categorical))

    def status_snapshots(self, start=None, end=None) -> pd.DataFrame:
        spec = column_kinds("status_snapshots", STATUS_COLUMNS)
        frame = _frame(self._bulk_read("status_snapshots", spec,
                                       *time_window("observed_utc", start, end, "%s")))
        frame["evse_uid"] = frame["evse_uid"].where(frame["evse_uid"] != "", None)
        return frame

    def _bulk_read(self, table: str, spec: dict[str, str], clauses: list, params: list,
                   categorical: bool = False) -> dict:
        """Whole columns through ``COPY ... TO STDOUT`` (CSV that pandas' C parser
        reads), in fid order, chunk by chunk in one snapshot: an import committed
        meanwhile is either wholly in the result or not at all."""
        exprs = [read_expression(name, kind) for name, kind in spec.items()]
        where = " AND ".join(["fid >= %s AND fid < %s"] + clauses)
        with self.transaction("REPEATABLE READ READ ONLY") as cur:
            cur.execute(f"SELECT min(fid), max(fid) FROM {SCHEMA}.{table}")
            lo, hi = cur.fetchone()
            parts = []
            if lo is not None:
                for first in range(lo, hi + 1, _READ_CHUNK):
                    query = cur.mogrify(
                        f"SELECT {', '.join(exprs)} FROM {SCHEMA}.{table} WHERE {where}"
                        " ORDER BY fid", [first, first + _READ_CHUNK, *params]).decode()
                    part = copy_out(cur, query, spec, categorical)
                    if part is not None:
                        parts.append(part)
        return join_chunks({name: [p[name] for p in parts] for name in spec}, spec,
                           categorical)

    def import_log(self) -> pd.DataFrame:
        selected = [_ISO_SQL.format(col=n) if n == "imported_utc" else n
                    for n in IMPORT_LOG_COLUMNS]
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(selected)} FROM {SCHEMA}.import_log ORDER BY id")
            return typed_import_log(rows_frame(cur.fetchall(), IMPORT_LOG_COLUMNS))

    def import_rejects(self, import_id: int | None = None) -> pd.DataFrame:
        names = ["import_id", "row", "reason"]
        where, params = ("WHERE import_id=%s", (import_id,)) if import_id is not None \
            else ("", ())
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(names)} FROM {SCHEMA}.import_rejects {where}"
                        " ORDER BY fid", params)
            frame = rows_frame(cur.fetchall(), names)
        frame["import_id"] = pd.to_numeric(frame["import_id"]).astype("int64")
        frame["row"] = pd.to_numeric(frame["row"]).astype("float64")
        return frame

    def counts(self) -> dict[str, int]:
        """Row counts of the data tables."""
        with self.transaction("REPEATABLE READ READ ONLY") as cur:
            out = {}
            for table in _TABLES:
                cur.execute(f"SELECT count(*) FROM {SCHEMA}.{table}")
                out[table] = int(cur.fetchone()[0])
        return out

    def _insert_decision(self, values, verdict, decided_iso, note) -> int:
        import psycopg2

        try:
            with self.transaction() as cur:
                cur.execute(
                    f"INSERT INTO {SCHEMA}.reconciliation_decisions(a_source, a_device_id,"
                    " a_evse_uid, b_source, b_device_id, b_evse_uid, verdict, decided_utc,"
                    " note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (*values, verdict, decided_iso, note))
                return int(cur.fetchone()[0])
        except psycopg2.errors.InsufficientPrivilege:
            raise StoreError(f"{self.describe()}: this login may not record reconciliation "
                             "decisions (ask for the evcp_importer role).") from None

    def decisions(self) -> pd.DataFrame:
        selected = [_ISO_SQL.format(col=n) if n == "decided_utc" else n
                    for n in DECISION_COLUMNS]
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(selected)} FROM {SCHEMA}.reconciliation_decisions"
                        " ORDER BY id")
            frame = rows_frame(cur.fetchall(), DECISION_COLUMNS)
        frame["id"] = pd.to_numeric(frame["id"]).astype("int64")
        frame["decided_utc"] = parse_iso(frame["decided_utc"].to_numpy())
        return frame

    def periods(self, kind: str = "quarter") -> list[str]:
        """Calendar periods (UK local time) in which at least one session starts."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT DISTINCT extract(epoch FROM date_trunc('hour', start_utc"
                        f" AT TIME ZONE 'UTC'))::bigint FROM {SCHEMA}.sessions"
                        " WHERE start_utc IS NOT NULL")
            hours = np.array([r[0] for r in cur.fetchall()], dtype=np.int64)
        return periods_of_hours(utc_series(np.sort(hours) * 1_000_000_000), kind)


# --- helpers ----------------------------------------------------------------

def _frame(columns: dict) -> pd.DataFrame:
    """A frame of the columns read (:func:`.values.join_chunks`, in their order). Not
    ``pd.DataFrame(columns, columns=names)``: pandas 1.5 then passes every column
    through an object Series (each time made a Timestamp: 0.8 s at 100,000 devices)."""
    return pd.DataFrame(columns)


def _connect(conninfo: str, password: str | None):
    try:
        import psycopg2
    except ImportError as exc:  # pragma: no cover - make setup installs it
        raise StoreError("The PostgreSQL driver psycopg2 is not installed (Debian package "
                         "python3-psycopg2).") from exc
    options = {"password": password} if password else {}
    try:
        if "connect_timeout" not in psycopg2.extensions.parse_dsn(conninfo):
            options["connect_timeout"] = 15
    except psycopg2.ProgrammingError as exc:
        raise StoreError(f"The store address is not a valid PostgreSQL address: "
                         f"{_one_line(exc, password)}") from None
    try:
        conn = psycopg2.connect(conninfo, application_name="ev_chargepoints", **options)
    except psycopg2.Error as exc:
        raise StoreError(f"Cannot connect to {describe_conninfo(conninfo)}: "
                         f"{_one_line(exc, password)}") from None
    conn.autocommit = True
    with conn.cursor() as cur:
        # Big temporary tables (staged sessions) stay in memory; only what is used
        # is allocated. Settable only before the session's first temporary table.
        cur.execute("SET temp_buffers = '256MB'")
        cur.execute("SET TIME ZONE 'UTC'")
        # PostgreSQL 14+: a statement whose client died (a killed import) stops within
        # seconds and releases its locks, instead of running to its end.
        cur.execute("SELECT set_config('client_connection_check_interval', '2000', false)"
                    " WHERE current_setting('server_version_num')::int >= 140000")
    return conn


def _one_line(exc, password: str | None) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if password:
        text = text.replace(password, "***")
    return text


def _schema_version(cur) -> int:
    # A catalog query, not to_regclass(): after waiting for the schema lock, the
    # name lookup caches may not yet know the tables another process just made.
    cur.execute("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = 'store_meta'", (SCHEMA,))
    if cur.fetchone() is None:
        return 0
    cur.execute(f"SELECT value FROM {SCHEMA}.store_meta WHERE key = 'schema_version'")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _set_meta(cur, key: str, value: str) -> None:
    cur.execute(f"INSERT INTO {SCHEMA}.store_meta(key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def _claim_usage_kind(cur, kind: str) -> None:
    """As the GeoPackage store's ``_claim_usage_kind``: record the kind, or refuse the other one (a
    concurrent first import waits here for the other's row, then sees its kind)."""
    cur.execute(f"INSERT INTO {SCHEMA}.store_meta(key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO NOTHING", (usage_kind.META_KEY, kind))
    cur.execute(f"SELECT value FROM {SCHEMA}.store_meta WHERE key = %s", (usage_kind.META_KEY,))
    held = cur.fetchone()[0]
    if held != kind:
        raise MixedUsageError(usage_kind.refusal(held, "the store"))


def _ensure_postgis(cur, name: str) -> None:
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
    if cur.fetchone():
        return
    cur.execute("SAVEPOINT postgis")
    try:
        cur.execute("CREATE EXTENSION postgis")
    except Exception as exc:  # noqa: BLE001 - reported with what to do
        cur.execute("ROLLBACK TO SAVEPOINT postgis")
        raise StoreError(f"{name} has no PostGIS extension and it could not be added "
                         f"({_one_line(exc, None)}); ask the database administrator to run "
                         "CREATE EXTENSION postgis.") from None


def _imported_id(cur, sha256: str) -> int | None:
    cur.execute(f"SELECT id FROM {SCHEMA}.import_log WHERE sha256 = %s AND"
                " outcome = 'imported' ORDER BY id LIMIT 1", (sha256,))
    row = cur.fetchone()
    return None if row is None else int(row[0])
