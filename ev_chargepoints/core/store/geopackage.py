"""The history store: one GeoPackage per workspace holding every imported period.

The file is an ordinary GeoPackage 1.3 that QGIS and GDAL open as layers
(``devices`` is a point layer in EPSG:27700, the other tables are attribute
tables), written here with the standard library's ``sqlite3``.

Durability. Every import runs in one ``BEGIN IMMEDIATE ... COMMIT``
transaction on a rollback journal, so an import that fails, raises, or whose
process is killed leaves the store exactly as it was before (SQLite replays the
journal on the next open). A failed import is recorded in ``import_log`` in a
separate, later transaction.

Times are stored as ISO-8601 UTC text ``YYYY-MM-DDTHH:MM:SS.sssZ`` in
GeoPackage ``DATETIME`` columns. That is what the GeoPackage standard asks for,
so QGIS and GDAL show real date-time fields (integer epochs would show as plain
numbers); the fixed width keeps text order equal to time order (range queries
compare the text), and it makes bulk reading fast: :meth:`HistoryStore._bulk_read`
fetches each column of a million rows as one ``group_concat`` string that numpy
decodes in one go, instead of building a Python tuple per row (several times
faster than ``fetchall``, and far faster than GDAL's row-by-row reader).

Idempotence. A file whose SHA-256 was imported before is not read again (the
log records "already imported"); sessions are unique on ``session_key`` and
status snapshots on (observed time, device, EVSE), so overlapping files add
only what is new. Devices and connectors keep their history: each row has
``valid_from_utc``/``valid_to_utc``; a newer full snapshot closes the rows of
changed or vanished devices and opens new ones.
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import os
import re
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..analysis.geometry import multipolygon_wkb
from ..analysis.quality import ns_utc
from ..crs import wgs84_to_bng
from ..errors import EvChargepointsError, MixedUsageError, StoreError
from ..paths import plugin_version
from ..schema import TABLES, ParseResult, conform
from . import usage_kind
from .gpkg_file import (
    BNG_SRS_ID,
    GPKG_APPLICATION_ID,
    GPKG_USER_VERSION,
    ensure_geopackage,
    gp_blob,
    write_layer,
)

SCHEMA_VERSION = 4
# Boundary layers kept for summaries: feature tables "areas_<name>" (GeoPackage stores).
AREA_LAYER_PREFIX = "areas_"
AREAS_FORMAT = "areas"
MAX_REJECTS_STORED = 1000  # per import; the full count stays in import_log
_STAGE_ROWS = 500_000  # sessions staged per step (bounds the temporary table)
_ISO_WIDTH = 24  # len("2018-03-02T23:50:00.000Z")

# GeoPackage column type for each canonical dtype.
_SQL_TYPE = {"object": "TEXT", "float64": "REAL", "int64": "INTEGER",
             "datetime64[ns, UTC]": "DATETIME", "bool": "BOOLEAN"}

DEVICE_COLUMNS = list(TABLES["devices"])
CONNECTOR_COLUMNS = list(TABLES["connectors"]) + ["source"]
SESSION_COLUMNS = list(TABLES["sessions"])
STATUS_COLUMNS = list(TABLES["status_snapshots"])
VALIDITY_COLUMNS = ["valid_from_utc", "valid_to_utc"]

# Derived utilisation cache (see utilisation.py); rebuilt, never a source of truth.
USAGE_TEXT = ["level", "period_kind", "device_id", "connector_id", "period",
              "period_start", "period_end"]
USAGE_NUMBERS_2 = ["connectors", "sessions", "kwh", "plugged_hours", "available_hours",
                 "occupancy_pct", "rated_kw", "capacity_factor_pct", "sessions_per_day",
                 "kwh_per_day", "in_use_days", "idle_share_pct", "uptime_pct",
                 "observed_coverage_pct", "flag_open", "flag_missing_kwh",
                 "flag_impossible_energy", "flag_over_72h", "flag_overlapping"]
# Added by schema 3: the sums behind capacity factor and per-day figures, so area
# totals recomputed from the cache equal those from a fresh computation.
USAGE_NUMBERS_3 = ["capacity_kwh", "available_days", "period_index"]
USAGE_NUMBERS = USAGE_NUMBERS_2 + USAGE_NUMBERS_3

# Canonical columns added by a later schema version: created by that version's migration,
# never by the first one (version -> table -> columns).
ADDED_COLUMNS = {4: {"devices": ["reference"], "connectors": ["evse_id"]}}
# Imports whose files are read again once after the upgrade to schema 4 (to fill in
# the cross-reference columns): their import_log sha256 gets this suffix.
REREAD_SUFFIX = "#before-schema-4"
DEVICE_FORMATS = ("ncr", "ocpi-locations")
DECISION_COLUMNS = ["id", "a_source", "a_device_id", "a_evse_uid", "b_source", "b_device_id",
                    "b_evse_uid", "verdict", "decided_utc", "note"]
VERDICTS = ("same", "different")

IMPORT_LOG_COLUMNS = ["id", "file_name", "sha256", "imported_utc", "format", "rows_read",
                      "rows_added", "rows_updated", "rows_duplicate", "rows_rejected",
                      "outcome", "message"]


@dataclass
class ImportReport:
    """What one import did; mirrors its ``import_log`` row."""

    import_id: int
    file_name: str
    sha256: str
    outcome: str            # "imported", "already imported" or "failed"
    rows_read: int = 0
    rows_added: int = 0
    rows_updated: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    message: str = ""
    tables: dict[str, dict[str, int]] = field(default_factory=dict)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now_utc() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


# --- value conversion -------------------------------------------------------

def _iso(values) -> list:
    """Timezone-aware (or naive UTC) times -> fixed-width ISO text, None for NaT."""
    series = pd.to_datetime(pd.Series(values), utc=True, errors="coerce")
    raw = series.dt.tz_localize(None).to_numpy("datetime64[ns]")
    nat = np.isnat(raw)
    if nat.all():
        return [None] * len(raw)
    out = _format_iso(raw.view(np.int64) // 1_000_000).astype(object)
    out[nat] = None
    return out.tolist()


def _format_iso(ms: np.ndarray) -> np.ndarray:
    """Epoch milliseconds -> 'YYYY-MM-DDTHH:MM:SS.sssZ' (numpy unicode array)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // 86_400_000
    rest = ms - days * 86_400_000
    date = days.astype("datetime64[D]")
    years = date.astype("datetime64[Y]")
    months = date.astype("datetime64[M]")
    fields = [
        (years.astype(np.int64) + 1970, 4), (None, "-"),
        (months.astype(np.int64) % 12 + 1, 2), (None, "-"),
        ((date - months.astype("datetime64[D]")).astype(np.int64) + 1, 2), (None, "T"),
        (rest // 3_600_000, 2), (None, ":"), (rest // 60_000 % 60, 2), (None, ":"),
        (rest // 1000 % 60, 2), (None, "."), (rest % 1000, 3), (None, "Z")]
    buf = np.empty((len(ms), _ISO_WIDTH), dtype=np.uint8)
    col = 0
    for value, width in fields:
        if value is None:
            buf[:, col] = ord(width)
            col += 1
            continue
        value = np.clip(value, 0, 10 ** width - 1)
        for i in range(width - 1, -1, -1):
            buf[:, col + i] = 48 + value % 10
            value = value // 10
        col += width
    return buf.view(f"S{_ISO_WIDTH}").reshape(-1).astype(f"U{_ISO_WIDTH}")


def _iso_one(value) -> str | None:
    return _iso([value])[0]


def _parse_iso(values: Sequence) -> pd.Series:
    """Stored ISO text (or None) -> UTC times; other ISO forms go through pandas."""
    arr = np.asarray(values, dtype=object)
    missing = pd.isna(arr)
    filled = np.where(missing, _NULL_TIME, arr)
    try:
        raw = filled.astype(f"S{_ISO_WIDTH}")
        regular = bool((np.char.str_len(raw) == _ISO_WIDTH).all())
    except (UnicodeEncodeError, ValueError):
        regular = False
    if regular:
        return _parse_fixed(raw)
    values = pd.Series(np.where(missing, None, arr), dtype=object)
    # pandas 2 guesses one format from the first value unless told otherwise.
    options = {"format": "ISO8601"} if int(pd.__version__.split(".")[0]) >= 2 else {}
    return pd.to_datetime(values, utc=True, errors="coerce", **options).reset_index(drop=True)


def _nullable(values: pd.Series) -> list:
    """Column -> Python values for sqlite (NaN/NaT/None -> None)."""
    arr = values.to_numpy(dtype=object)
    mask = pd.isna(values).to_numpy()
    if mask.any():
        arr = arr.copy()
        arr[mask] = None
    return arr.tolist()


def _float_list(values: pd.Series) -> list:
    arr = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    out = arr.astype(object)
    out[np.isnan(arr)] = None
    return out.tolist()


def _db_columns(frame: pd.DataFrame, table: str) -> dict[str, list]:
    """Canonical frame -> column lists of sqlite-ready values."""
    spec = dict(TABLES[table])
    if table == "connectors":
        spec["source"] = "object"
    out = {}
    for column, dtype in spec.items():
        values = frame[column] if column in frame.columns else pd.Series(
            [None] * len(frame), index=frame.index, dtype=object)
        if dtype.startswith("datetime64"):
            out[column] = _iso(values)
        elif dtype == "float64":
            out[column] = _float_list(values)
        elif dtype == "int64":
            out[column] = [int(v) for v in pd.to_numeric(values, errors="coerce")
                           .fillna(0).astype("int64")]
        else:
            out[column] = _nullable(values.astype(object))
    return out


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


def parse_gpkg_point(blob: bytes | None) -> tuple[float, float] | None:
    """Inverse of :func:`gpkg_point_blobs` for one value (used by tests and checks)."""
    if blob is None:
        return None
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry")
    flags = blob[3]
    envelope = (flags >> 1) & 0x07
    offset = 8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[envelope]
    order = "<" if blob[offset] == 1 else ">"
    kind = int(np.frombuffer(blob[offset + 1:offset + 5], dtype=f"{order}u4")[0])
    if kind != 1:
        raise ValueError(f"not a point (WKB type {kind})")
    x, y = np.frombuffer(blob[offset + 5:offset + 21], dtype=f"{order}f8")
    return float(x), float(y)


# --- schema and migrations --------------------------------------------------

def _columns_sql(columns: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f'"{name}" {kind}' for name, kind in columns)


def columns_in_version(table: str, version: int) -> list[str]:
    """The canonical columns ``table`` had in store schema ``version``."""
    later = {c for v, tables in ADDED_COLUMNS.items() if v > version
             for c in tables.get(table, [])}
    return [name for name in TABLES[table] if name not in later]


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
                 (_iso_one(_now_utc()),))


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


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (1, _migrate_0_to_1),
    (2, _migrate_1_to_2),
    (3, _migrate_2_to_3),
    (4, _migrate_3_to_4),
]


# --- the store --------------------------------------------------------------

class StoreBackend(abc.ABC):
    """What every history store offers the rest of the plugin, whatever holds it: a
    GeoPackage file (:class:`HistoryStore`) or a shared PostGIS database
    (``pgstore.PostgisStore``). Both keep the same tables, migrations and import
    semantics: one transaction per import, idempotent by file SHA-256, content keys
    enforced by unique constraints, device history by validity dates.
    :func:`stores.open_store` picks the backend from what the user typed."""

    path: Path | None = None

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def meta(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def check(self) -> str:
        """"ok" when the store is sound, else what is wrong."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The store's name for people (never a secret)."""

    # importing -------------------------------------------------------------

    @abc.abstractmethod
    def already_imported(self, sha256: str) -> int | None: ...

    def import_parse_result(self, result: ParseResult, file_name: str, file_sha256: str,
                            snapshot_utc=None, devices_mode: str = "auto") -> ImportReport:
        """Add one parsed file to the store in a single transaction.

        ``devices_mode``: "snapshot" (the devices are the source's complete list:
        devices missing from it are closed), "merge" (add new and changed devices,
        close nothing) or "auto" (snapshot for a file with devices and no sessions).
        ``snapshot_utc``: when the device snapshot was true; default the latest
        ``updated_utc`` of its devices, else now.

        Usage of the other kind than the store holds (real or SYNTHETIC, see
        :mod:`.usage_kind`) is refused: a "failed" report saying what to do, and
        nothing written, not even to the import log.
        """
        previous = self.already_imported(file_sha256) if file_sha256 else None
        if previous is not None:
            return self._log_skip(file_name, file_sha256, result.format, previous)
        kind = usage_kind.incoming(result)
        held = self.usage_kind() if kind is not None else None
        if held is not None and held != kind:
            return ImportReport(0, file_name, file_sha256, "failed", int(result.rows_read),
                                message=usage_kind.refusal(held, self.short_name()))
        result = result.with_fields_in_reasons()
        if result.extract:
            result = self._without_held_devices(result)
        try:
            prepared = _prepare(result, snapshot_utc, devices_mode)
        except Exception as exc:  # noqa: BLE001
            return self._log_failure(file_name, file_sha256, result.format,
                                     f"the parsed content is not usable ({exc})",
                                     result.rows_read)
        prepared.usage_kind = kind
        return self._write_import(result, prepared, file_name, file_sha256)

    def _without_held_devices(self, result: ParseResult) -> ParseResult:
        """An extract (``result.extract``) without the devices this store already holds
        from its source: those keep what the fuller file they came from said."""
        devices = result.tables.get("devices")
        if devices is None or not len(devices):
            return result
        held = set(self.devices(source=result.source)["device_id"])
        kept = devices[~devices["device_id"].isin(held)]
        if len(kept) == len(devices):
            return result
        ids = set(kept["device_id"])
        tables = {name: table[table["device_id"].isin(ids)]
                  if "device_id" in table.columns else table
                  for name, table in result.tables.items()}
        note = (f"{len(devices) - len(kept):,} already in the store were left as they are")
        return replace(result, tables=tables, warnings=[*result.warnings, note])

    def usage_kind(self) -> str | None:
        """"real", "synthetic" or None (no usage yet): see :mod:`.usage_kind`."""
        kind = self.meta().get(usage_kind.META_KEY)
        if kind:
            return kind
        return usage_kind.inferred(self.import_log(), self.counts().get("sessions", 0))

    def short_name(self) -> str:
        """The store's name in one-line messages."""
        return self.path.name if self.path is not None else self.describe()

    @abc.abstractmethod
    def _write_import(self, result: ParseResult, prepared: _Prepared, file_name: str,
                      file_sha256: str) -> ImportReport:
        """The import's one transaction; a failure is rolled back, logged in a later
        transaction and raised as StoreError."""

    def import_file(self, path: str | os.PathLike,
                    parse: Callable[[Path], ParseResult] | None = None,
                    **options) -> ImportReport:
        """Hash, parse and import one file. A file that cannot be read or parsed
        leaves the store's content untouched and is logged as "failed"."""
        path = Path(path)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            return self._log_failure(path.name, "", "", f"the file cannot be read: {exc}")
        previous = self.already_imported(sha)
        if previous is not None:
            return self._log_skip(path.name, sha, "", previous)
        if parse is None:
            from ..sources.parsers import parse_file as parse
        try:
            result = parse(path)
        except EvChargepointsError as exc:
            return self._log_failure(path.name, sha, "", f"the file was rejected: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the log entry
            return self._log_failure(path.name, sha, "",
                                     f"the file could not be parsed ({type(exc).__name__}: "
                                     f"{exc})")
        return self.import_parse_result(result, path.name, sha, **options)

    def _log_skip(self, file_name, sha, fmt, previous) -> ImportReport:
        when = self._imported_when(previous)
        message = f"already imported (import {previous} on {when}); nothing changed"
        import_id = self._log_row(file_name, sha, fmt, 0, "already imported", message)
        return ImportReport(import_id, file_name, sha, "already imported", message=message)

    def _log_failure(self, file_name, sha, fmt, message, rows_read=0) -> ImportReport:
        import_id = self._log_row(file_name, sha, fmt, rows_read, "failed", message)
        return ImportReport(import_id, file_name, sha, "failed", rows_read=rows_read,
                            message=message)

    @abc.abstractmethod
    def _imported_when(self, import_id: int) -> str:
        """When import ``import_id`` happened, as stored (for messages)."""

    @abc.abstractmethod
    def _log_row(self, file_name, sha, fmt, rows_read, outcome, message) -> int:
        """Record one import attempt in its own transaction; returns its id."""

    # derived cache and reading ------------------------------------------------

    @abc.abstractmethod
    def write_usage_periods(self, frame: pd.DataFrame, period_kind: str,
                            level: str = "device") -> int: ...

    @abc.abstractmethod
    def usage_periods(self, period_kind: str = "quarter",
                      level: str = "device") -> pd.DataFrame: ...

    @abc.abstractmethod
    def devices(self, at=None, current_only: bool = True,
                source: str | None = None) -> pd.DataFrame: ...

    @abc.abstractmethod
    def connectors(self, at=None, current_only: bool = True,
                   source: str | None = None) -> pd.DataFrame: ...

    @abc.abstractmethod
    def sessions(self, start=None, end=None, categorical: bool = False,
                 columns: Sequence[str] | None = None) -> pd.DataFrame: ...

    @abc.abstractmethod
    def status_snapshots(self, start=None, end=None) -> pd.DataFrame: ...

    @abc.abstractmethod
    def import_log(self) -> pd.DataFrame: ...

    @abc.abstractmethod
    def import_rejects(self, import_id: int | None = None) -> pd.DataFrame: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]: ...

    @abc.abstractmethod
    def periods(self, kind: str = "quarter") -> list[str]: ...

    # reconciliation decisions ---------------------------------------------------

    def record_decision(self, a: tuple, b: tuple, verdict: str, note: str = "") -> int:
        """Record an officer's decision that the records ``a`` and ``b`` (each
        ``(source, device_id, evse_uid or None)``) are the "same" charge point or
        "different" ones; returns its id. Decisions are never changed: a later one
        about the same pair replaces an earlier one (see reconcile.py)."""
        if verdict not in VERDICTS:
            raise EvChargepointsError(f"a decision is 'same' or 'different', not {verdict!r}")
        for record in (a, b):
            if len(record) != 3 or not record[0] or not record[1]:
                raise EvChargepointsError(f"a decision needs a source and a device id: "
                                          f"{record!r}")
        values = [None if v is None or v == "" else str(v) for v in (*a, *b)]
        return self._insert_decision(values, verdict, _iso_one(_now_utc()), note or None)

    @abc.abstractmethod
    def _insert_decision(self, values: list, verdict: str, decided_iso: str,
                         note: str | None) -> int: ...

    @abc.abstractmethod
    def decisions(self) -> pd.DataFrame:
        """Every decision in the order made (columns :data:`DECISION_COLUMNS`)."""

    # area layers (boundaries a summary can use) --------------------------------

    def area_layers(self) -> list[str]:
        """Names of the area layers the store keeps (:meth:`write_area_layers`)."""
        return []

    def area_layer_source(self, name: str) -> tuple[Path, str]:
        """(GeoPackage, table) holding the area layer ``name``."""
        raise StoreError(f"{self.short_name()} keeps no area layer '{name}'.")

    def write_area_layers(self, file_name: str, sha256: str, layers) -> ImportReport:
        """Keep boundary layers (``name``, ``attributes``, ``polygons`` in EPSG:27700,
        ``note``: :class:`.areas.BoundaryLayer`) as area layers of the store, replacing
        layers of the same names; idempotent by ``sha256`` like every import."""
        raise StoreError(f"{self.short_name()} is a shared database store: area layers "
                         "(boundaries) are kept in GeoPackage stores only; use the boundary "
                         "file itself as the areas of a summary.")


class HistoryStore(StoreBackend):
    """One GeoPackage file holding every imported period. Use :meth:`create_or_open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn

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
        self._conn.close()

    def describe(self) -> str:
        return str(self.path)

    def _imported_when(self, import_id: int) -> str:
        return self._conn.execute("SELECT imported_utc FROM import_log WHERE id=?",
                                  (import_id,)).fetchone()[0]

    @property
    def schema_version(self) -> int:
        return _schema_version(self._conn)

    def _upgrade(self) -> None:
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = _table_names(conn)
        if app_id not in (0, GPKG_APPLICATION_ID) or (app_id == 0 and tables):
            raise StoreError(f"{self.path.name} is an SQLite file but not a GeoPackage.")
        version = _schema_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path.name} was written by a newer version of the plugin (store "
                f"schema {version}, this version reads up to {SCHEMA_VERSION}); update "
                "the plugin.")
        if version == 0 and "devices" in tables:
            raise StoreError(f"{self.path.name} is a GeoPackage with its own 'devices' layer, "
                             "not a history store; choose another file.")
        for target, step in MIGRATIONS:
            if version >= target:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                step(conn)
                conn.execute(f"PRAGMA application_id={GPKG_APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={GPKG_USER_VERSION}")
                _set_meta(conn, "schema_version", str(target))
                _set_meta(conn, "plugin_version", plugin_version())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            version = target

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM store_meta").fetchall())

    def check(self) -> str:
        """SQLite's integrity check: "ok" when the file is sound."""
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]

    # importing -------------------------------------------------------------

    def already_imported(self, sha256: str) -> int | None:
        row = self._conn.execute(
            "SELECT id FROM import_log WHERE sha256 = ? AND outcome = 'imported'"
            " ORDER BY id LIMIT 1", (sha256,)).fetchone()
        return None if row is None else int(row[0])

    def _write_import(self, result, prepared, file_name, file_sha256) -> ImportReport:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if prepared.usage_kind:
                _claim_usage_kind(conn, prepared.usage_kind)
            now = _iso_one(_now_utc())
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
            if prepared.sessions is not None:
                tables["sessions"] = self._write_sessions(prepared.sessions, import_id)
            if prepared.status is not None:
                tables["status_snapshots"] = self._write_status(prepared.status, import_id)
            rejects = result.rejects if result.rejects is not None else pd.DataFrame()
            n_rejected = int(len(rejects)) + prepared.rejected
            self._write_rejects(import_id, rejects, prepared.reject_rows)
            added = sum(t.get("added", 0) for t in tables.values())
            updated = sum(t.get("updated", 0) for t in tables.values())
            duplicate = sum(t.get("duplicate", 0) for t in tables.values())
            message = _summary(tables, rejects, prepared.reject_rows, warnings)
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
            conn.execute("ROLLBACK")
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self._log_failure(file_name, file_sha256, result.format,
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
                (file_name, sha, _iso_one(_now_utc()), fmt, int(rows_read), outcome, message))
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

    def _write_sessions(self, cols: dict[str, list], import_id: int) -> dict[str, int]:
        """Stage rows in an unindexed temporary table, then copy them in session_key
        order: the unique index then grows in order instead of at random places
        (about twice as fast for millions of rows). A session that was still open
        in an earlier file is completed by a later one."""
        conn = self._conn
        names = SESSION_COLUMNS + ["import_id"]
        listed = ", ".join(names)
        marks = ", ".join("?" * len(names))
        n = len(cols["session_key"])
        before_max = conn.execute("SELECT ifnull(max(fid), 0) FROM sessions").fetchone()[0]
        changes = 0
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS _staged_sessions ({listed})")
        rows = zip(*[cols[c] for c in SESSION_COLUMNS], [import_id] * n)
        for _ in range(0, n, _STAGE_ROWS):
            conn.execute("DELETE FROM _staged_sessions")
            conn.executemany(f"INSERT INTO _staged_sessions VALUES ({marks})",
                             itertools.islice(rows, _STAGE_ROWS))
            before = conn.total_changes
            conn.execute(
                f"INSERT INTO sessions({listed}) SELECT {listed} FROM _staged_sessions"
                " WHERE true ORDER BY session_key"
                " ON CONFLICT(session_key) DO UPDATE SET end_utc=excluded.end_utc,"
                " charging_end_utc=excluded.charging_end_utc, kwh=excluded.kwh,"
                " import_id=excluded.import_id"
                " WHERE sessions.end_utc IS NULL AND excluded.end_utc IS NOT NULL")
            changes += conn.total_changes - before  # rows inserted or completed
        conn.execute("DROP TABLE IF EXISTS _staged_sessions")
        added = conn.execute("SELECT count(*) FROM sessions WHERE fid > ?",
                             (before_max,)).fetchone()[0]
        updated = changes - added
        return {"added": int(added), "updated": int(updated),
                "duplicate": int(n - added - updated)}

    def _write_status(self, cols: dict[str, list], import_id: int) -> dict[str, int]:
        conn = self._conn
        names = STATUS_COLUMNS + ["import_id"]
        n = len(cols["observed_utc"])
        before = conn.total_changes
        conn.executemany(
            f"INSERT OR IGNORE INTO status_snapshots({', '.join(names)})"
            f" VALUES ({', '.join('?' * len(names))})",
            zip(*[cols[c] for c in STATUS_COLUMNS], [import_id] * n))
        added = conn.total_changes - before
        return {"added": int(added), "duplicate": int(n - added)}

    def _write_rejects(self, import_id, rejects: pd.DataFrame, extra: list) -> None:
        rows = []
        if len(rejects):
            head = rejects.head(MAX_REJECTS_STORED)
            row_numbers = pd.to_numeric(head.get("row"), errors="coerce")
            for number, reason in zip(row_numbers, head.get("reason")):
                rows.append((import_id, None if pd.isna(number) else int(number), str(reason)))
        rows += [(import_id, r, reason) for r, reason in extra][:MAX_REJECTS_STORED - len(rows)]
        self._conn.executemany("INSERT INTO import_rejects(import_id, row, reason)"
                               " VALUES (?, ?, ?)", rows)

    def _update_extent(self) -> None:
        self._conn.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?"
                           " WHERE table_name='devices'", self._device_extent())

    def _device_extent(self):
        rows = self._conn.execute("SELECT geom FROM devices WHERE geom IS NOT NULL").fetchall()
        points = np.array([parse_gpkg_point(r[0]) for r in rows], dtype="float64")
        if len(points) == 0:
            return (None, None, None, None)
        return (float(points[:, 0].min()), float(points[:, 1].min()),
                float(points[:, 0].max()), float(points[:, 1].max()))

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
                cols.append(_float_list(data[name]))
            else:
                cols.append(_nullable(data[name].astype(str).where(data[name].notna(), None)))
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM usage_periods WHERE period_kind=? AND level=?",
                         (period_kind, level))
            conn.executemany(f"INSERT INTO usage_periods({', '.join(names)})"
                             f" VALUES ({', '.join('?' * len(names))})", zip(*cols))
            conn.execute("UPDATE gpkg_contents SET last_change=? WHERE table_name="
                         "'usage_periods'", (_iso_one(_now_utc()),))
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
        rows = self._conn.execute(sql, params).fetchall()
        if not rows:
            return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
        columns = list(zip(*rows))
        return pd.DataFrame({n: np.array(c, dtype=object) for n, c in zip(names, columns)})

    def _read_table(self, table: str, canonical: str, extra: list[str], where: str,
                    params: Sequence) -> pd.DataFrame:
        spec = dict(TABLES[canonical])
        if table == "connectors":
            spec["source"] = "object"
        names = list(spec) + extra
        frame = self._select(f"SELECT {', '.join(names)} FROM {table} {where}", params, names)
        out = {}
        for name in names:
            dtype = spec.get(name, "datetime64[ns, UTC]" if name.endswith("_utc") else "int64")
            values = frame[name]
            if dtype.startswith("datetime64"):
                out[name] = _parse_iso(values.to_numpy())
            elif dtype == "float64":
                out[name] = pd.to_numeric(values, errors="coerce").astype("float64")
            elif dtype == "int64":
                out[name] = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64")
            else:
                out[name] = values.astype(object).where(values.notna(), None)
        result = pd.DataFrame(out)
        return result.reset_index(drop=True)

    def devices(self, at=None, current_only: bool = True, source: str | None = None
                ) -> pd.DataFrame:
        """Canonical devices plus ``valid_from_utc``/``valid_to_utc``.

        ``at``: the devices as they were at that moment; else ``current_only``
        gives today's rows and False the whole history.
        """
        where, params = _validity_filter(at, current_only, source)
        return self._read_table("devices", "devices", VALIDITY_COLUMNS, where, params)

    def connectors(self, at=None, current_only: bool = True, source: str | None = None
                   ) -> pd.DataFrame:
        where, params = _validity_filter(at, current_only, source)
        return self._read_table("connectors", "connectors", VALIDITY_COLUMNS, where, params)

    def sessions(self, start=None, end=None, categorical: bool = False,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Sessions starting in [start, end), in stored order (by import, and by
        session key within an import).

        ``categorical`` returns the id columns as pandas categoricals (far faster
        for millions of rows); ``columns`` reads only those canonical columns.
        """
        clauses, params = [], []
        if start is not None:
            clauses.append("start_utc >= ?")
            params.append(_iso_one(start))
        if end is not None:
            clauses.append("start_utc < ?")
            params.append(_iso_one(end))
        names = list(columns) if columns is not None else SESSION_COLUMNS
        spec = {name: _KIND[TABLES["sessions"][name]] for name in names}
        data = self._bulk_read("sessions", spec, clauses, params, categorical)
        return pd.DataFrame(data, columns=names)

    def _bulk_read(self, table: str, spec: dict[str, str], clauses: list, params: list,
                   categorical: bool = False) -> dict:
        """Read whole columns at C speed.

        Each chunk of rows comes back as one ``group_concat`` string per column
        (fixed-width times, separator-joined text and numbers) that numpy decodes
        in bulk; Python never builds a tuple per row. All columns of a chunk come
        from one query, so they share one row order.
        """
        conn = self._conn
        # One read transaction for all the chunks: an import committed between two
        # chunk queries would otherwise show half of it (old rows in one chunk,
        # completed ones in the next). The writer's COMMIT waits for the read to end.
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            return self._bulk_read_in_transaction(table, spec, clauses, params, categorical)
        finally:
            if own and conn.in_transaction:
                conn.execute("COMMIT")

    def _bulk_read_in_transaction(self, table: str, spec: dict[str, str], clauses: list,
                                  params: list, categorical: bool) -> dict:
        conn = self._conn
        lo, hi = conn.execute(f"SELECT ifnull(min(fid), 0), ifnull(max(fid), 0)"
                              f" FROM {table}").fetchone()
        exprs = [_CONCAT[kind].format(col=f'"{name}"') for name, kind in spec.items()]
        where = " AND ".join(["fid >= ? AND fid < ?"] + clauses)
        # NOT INDEXED keeps the scan in fid order (the rowid range still applies).
        sql = f"SELECT count(*), {', '.join(exprs)} FROM {table} NOT INDEXED WHERE {where}"
        parts: dict[str, list] = {name: [] for name in spec}
        for first in range(lo, hi + 1, _READ_CHUNK):
            chunk_params = [first, first + _READ_CHUNK, *params]
            row = conn.execute(sql, chunk_params).fetchone()
            count = int(row[0])
            if count == 0:
                continue
            try:
                decoded = [_decode(kind, text, count) for kind, text in zip(spec.values(),
                                                                             row[1:])]
            except _Irregular:
                rows = conn.execute(f"SELECT {', '.join(spec)} FROM {table} NOT INDEXED"
                                    f" WHERE {where}", chunk_params).fetchall()
                decoded = [_decode_rows(kind, list(values)) for kind, values in
                           zip(spec.values(), zip(*rows))]
            for name, values in zip(spec, decoded):
                parts[name].append(values)
        out = {}
        for name, kind in spec.items():
            chunks = parts[name]
            if kind == "time":
                out[name] = _utc_series(np.concatenate(chunks) if chunks
                                        else np.zeros(0, np.int64))
            elif kind == "text":
                if categorical and name in ("device_id", "connector_id", "evse_uid", "source"):
                    out[name] = pd.Series(_concat_categoricals(
                        [pd.Categorical(c) for c in chunks]))
                else:
                    out[name] = pd.Series(np.concatenate(chunks) if chunks
                                          else np.array([], dtype=object), dtype=object)
            else:
                dtype = "float64" if kind == "real" else "int64"
                out[name] = pd.Series(np.concatenate(chunks) if chunks else
                                      np.array([], dtype=dtype), dtype=dtype)
        return out

    def status_snapshots(self, start=None, end=None) -> pd.DataFrame:
        clauses, params = [], []
        if start is not None:
            clauses.append("observed_utc >= ?")
            params.append(_iso_one(start))
        if end is not None:
            clauses.append("observed_utc < ?")
            params.append(_iso_one(end))
        spec = {name: _KIND[dtype] for name, dtype in TABLES["status_snapshots"].items()}
        data = self._bulk_read("status_snapshots", spec, clauses, params)
        frame = pd.DataFrame(data, columns=list(spec))
        frame["evse_uid"] = frame["evse_uid"].where(frame["evse_uid"] != "", None)
        return frame

    def import_log(self) -> pd.DataFrame:
        frame = self._select(f"SELECT {', '.join(IMPORT_LOG_COLUMNS)} FROM import_log ORDER BY id",
                             (), IMPORT_LOG_COLUMNS)
        for name in ("id", "rows_read", "rows_added", "rows_updated", "rows_duplicate",
                     "rows_rejected"):
            frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
        frame["imported_utc"] = _parse_iso(frame["imported_utc"].to_numpy())
        return frame

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
        return {t: int(self._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in ("devices", "connectors", "sessions", "status_snapshots",
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

    def decisions(self) -> pd.DataFrame:
        names = ["fid"] + DECISION_COLUMNS[1:]
        frame = self._select(f"SELECT {', '.join(names)} FROM reconciliation_decisions"
                             " ORDER BY fid", (), names).rename(columns={"fid": "id"})
        frame["id"] = pd.to_numeric(frame["id"]).astype("int64")
        frame["decided_utc"] = _parse_iso(frame["decided_utc"].to_numpy())
        return frame

    def periods(self, kind: str = "quarter") -> list[str]:
        """Calendar periods (UK local time) in which at least one session starts."""
        hours = [r[0] for r in self._conn.execute(
            "SELECT DISTINCT substr(start_utc, 1, 13) FROM sessions"
            " WHERE start_utc IS NOT NULL")]
        if not hours:
            return []
        stamps = pd.to_datetime(pd.Series(hours) + ":00:00", utc=True, errors="coerce").dropna()
        return periods_of_hours(stamps, kind)

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
                (file_name, sha256, _iso_one(_now_utc()), AREAS_FORMAT, rows))
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
            self._log_failure(file_name, sha256, AREAS_FORMAT,
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


def periods_of_hours(stamps: pd.Series, kind: str) -> list[str]:
    """Calendar periods (UK local time) containing the given whole UTC hours."""
    from ..analysis.utilisation import period_bounds
    if stamps.empty:
        return []
    labels, starts = period_bounds(stamps.min(), stamps.max(), kind)
    # An hour's sessions all fall in one local period: period starts are whole hours.
    found = np.searchsorted(ns_utc(pd.Series(starts)), ns_utc(stamps), side="right") - 1
    return [labels[i] for i in sorted(set(found.tolist()))]


# --- helpers ----------------------------------------------------------------

def _table_names(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _schema_version(conn) -> int:
    if "store_meta" not in _table_names(conn):
        return 0
    row = conn.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def _set_meta(conn, key: str, value: str) -> None:
    conn.execute("INSERT INTO store_meta(key, value) VALUES (?, ?)"
                 " ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))


def _claim_usage_kind(conn, kind: str) -> None:
    """Inside the import's transaction: record the kind of usage, or refuse the other
    kind (another process may have imported since the check before the transaction)."""
    conn.execute("INSERT INTO store_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
                 (usage_kind.META_KEY, kind))
    held = conn.execute("SELECT value FROM store_meta WHERE key=?",
                        (usage_kind.META_KEY,)).fetchone()[0]
    if held != kind:
        raise MixedUsageError(usage_kind.refusal(held, "the store"))


def _validity_filter(at, current_only, source):
    clauses, params = [], []
    if at is not None:
        stamp = _iso_one(at)
        clauses.append("valid_from_utc <= ? AND (valid_to_utc IS NULL OR valid_to_utc > ?)")
        params += [stamp, stamp]
    elif current_only:
        clauses.append("valid_to_utc IS NULL")
    if source is not None:
        clauses.append("source = ?")
        params.append(source)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return where + " ORDER BY fid", params


_READ_CHUNK = 1_000_000
_NULL_TIME = "~" * _ISO_WIDTH
_KIND = {"datetime64[ns, UTC]": "time", "object": "text", "float64": "real", "int64": "int",
         "bool": "int"}
_CONCAT = {
    # Plain group_concat per column: SQLite's own text forms, no per-row function
    # calls. Times are fixed-width (a stored time in any other form makes the
    # chunk's total length wrong, and that chunk is re-read the slow way).
    "time": "group_concat(ifnull({col}, '" + _NULL_TIME + "'), '')",
    "text": "group_concat(ifnull({col}, '\x1e'), '\x1f')",
    "real": "group_concat(ifnull({col}, 'nan'), ',')",  # 15 significant digits
    "int": "group_concat(ifnull({col}, 0), ',')",
}


class _Irregular(Exception):
    """A chunk that the bulk decoder cannot split safely."""


def _decode(kind: str, text: str | None, count: int):
    text = text or ""
    if kind == "time":
        raw = text.encode("ascii", "replace")
        if len(raw) != count * _ISO_WIDTH:
            raise _Irregular
        return _parse_fixed_ns(np.frombuffer(raw, dtype=f"S{_ISO_WIDTH}"))
    if kind == "text":
        values = text.split("\x1f")
        if len(values) != count:
            raise _Irregular
        arr = np.array(values, dtype=object)
        arr[arr == "\x1e"] = None
        return arr
    dtype = np.float64 if kind == "real" else np.int64
    values = np.fromstring(text, dtype=dtype, sep=",") if count else np.zeros(0, dtype)
    if len(values) != count:
        raise _Irregular
    return values


def _decode_rows(kind: str, values: list):
    """The slow, forgiving decoder for chunks the bulk path refused."""
    if kind == "time":
        return _parse_iso(values).to_numpy("datetime64[ns]").view(np.int64) \
            if len(values) else np.zeros(0, np.int64)
    if kind == "text":
        return np.array([None if v is None else str(v) for v in values], dtype=object)
    series = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if kind == "real":
        return series.astype("float64").to_numpy()
    return series.fillna(0).astype("int64").to_numpy()


def _parse_fixed_ns(raw: np.ndarray) -> np.ndarray:
    """Fixed-width ISO bytes ('YYYY-MM-DDTHH:MM:SS.sssZ', '~' = missing) -> int64 ns.

    numpy's own ISO parser does the work once the 'Z' is cut off (numpy warns
    about time-zone suffixes) and missing values are spelled 'NaT'.
    """
    n = len(raw)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    matrix = raw.view(np.uint8).reshape(n, _ISO_WIDTH)
    missing = matrix[:, 0] == ord("~")
    text = matrix[:, :_ISO_WIDTH - 1].copy().view(f"S{_ISO_WIDTH - 1}")
    text = text.reshape(-1)
    text[missing] = b"NaT"
    try:
        ms = text.astype("datetime64[ms]")
    except ValueError as exc:
        raise _Irregular from exc
    ns = ms.astype("datetime64[ns]").view(np.int64)
    return ns


def _utc_series(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(np.asarray(ns, np.int64).view("datetime64[ns]"))
                     .tz_localize("UTC"))


def _parse_fixed(raw: np.ndarray) -> pd.Series:
    return _utc_series(_parse_fixed_ns(raw))


def _concat_categoricals(parts: list) -> pd.Categorical:
    if not parts:
        return pd.Categorical([])
    if len(parts) == 1:
        return parts[0]
    from pandas.api.types import union_categoricals
    return union_categoricals(parts)


@dataclass
class _Prepared:
    snapshot_iso: str
    snapshot_mode: bool
    devices: pd.DataFrame | None = None
    connectors: pd.DataFrame | None = None
    sessions: dict | None = None
    status: dict | None = None
    rejected: int = 0
    reject_rows: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    usage_kind: str | None = None   # the kind of usage this import brings, if any


def versioned_columns(frame: pd.DataFrame, keys: list[str]) -> tuple[list[str], list[str]]:
    """(stored columns, value columns) of a prepared device/connector frame;
    columns starting with "_" (the point's x/y) are not compared."""
    columns = [c for c in frame.columns if not c.startswith("_")]
    return columns, [c for c in columns if c not in keys]


@dataclass
class VersionedChanges:
    insert_rows: list[int]      # positions in the prepared frame to open as new rows
    close_ids: list             # ids of current rows to close at the snapshot time
    counts: dict[str, int]
    warnings: list[str]


def versioned_changes(table: str, frame: pd.DataFrame, keys: list[str], current: dict,
                      at: str, snapshot_mode: bool) -> VersionedChanges:
    """The history rule for devices and connectors, shared by both backends.

    ``current``: key tuple -> (row id, valid_from ISO text, value tuple) of the
    stored current rows of the frame's sources (values as :func:`_db_columns`
    gives them). A changed row is closed and reopened; an unchanged one is a
    duplicate; in snapshot mode a current row missing from the frame is closed.
    A snapshot older than the one stored for a source leaves that source alone.
    """
    _, value_cols = versioned_columns(frame, keys)
    counts = {"added": 0, "updated": 0, "duplicate": 0, "closed": 0}
    warnings: list[str] = []
    latest_from: dict = {}
    for key, (_, valid_from, _) in current.items():
        if latest_from.get(key[0]) is None or valid_from > latest_from[key[0]]:
            latest_from[key[0]] = valid_from
    stale = {s for s, t in latest_from.items() if t is not None and at < t}
    if stale:
        warnings.append(f"{table}: this snapshot ({at}) is older than the one already "
                        f"stored for {', '.join(stale)}; their history was left unchanged")
    records = frame.to_dict("list")
    insert_rows, close_ids, seen = [], [], set()
    for i in range(len(frame)):
        key = tuple(records[k][i] for k in keys)
        if key[0] in stale:
            continue
        seen.add(key)
        values = tuple(records[c][i] for c in value_cols)
        existing = current.get(key)
        if existing is not None and existing[2] == values:
            counts["duplicate"] += 1
            continue
        if existing is not None:
            close_ids.append(existing[0])
            counts["updated"] += 1
        else:
            counts["added"] += 1
        insert_rows.append(i)
    if snapshot_mode:
        for key, existing in current.items():
            if key not in seen and key[0] not in stale:
                close_ids.append(existing[0])
                counts["closed"] += 1
    return VersionedChanges(insert_rows, close_ids, counts, warnings)


def _prepare(result: ParseResult, snapshot_utc, devices_mode: str) -> _Prepared:
    """Convert the parsed tables to sqlite-ready values before taking the write lock."""
    devices = result.tables.get("devices")
    connectors = result.tables.get("connectors")
    sessions = result.tables.get("sessions")
    status = result.tables.get("status_snapshots")
    has_devices = devices is not None and len(devices) > 0
    has_sessions = sessions is not None and len(sessions) > 0
    if devices_mode not in ("auto", "snapshot", "merge"):
        raise ValueError(f"unknown devices_mode {devices_mode!r}")
    snapshot_mode = devices_mode == "snapshot" or (devices_mode == "auto" and has_devices
                                                   and not has_sessions and not result.extract)
    if snapshot_utc is None:
        updated = (pd.to_datetime(devices["updated_utc"], utc=True, errors="coerce").max()
                   if has_devices and "updated_utc" in devices else pd.NaT)
        snapshot_utc = updated if not pd.isna(updated) else _now_utc()
    prepared = _Prepared(_iso_one(snapshot_utc), snapshot_mode)

    if has_devices:
        frame = conform(devices, "devices")
        frame["source"] = frame["source"].where(frame["source"].notna(), result.source)
        missing = frame["device_id"].isna()
        if missing.any():
            prepared.rejected += int(missing.sum())
            prepared.reject_rows += [(None, "device without an id")] * int(missing.sum())
            frame = frame[~missing]
        dup = frame.duplicated(["source", "device_id"], keep="last")
        if dup.any():
            prepared.warnings.append(f"{int(dup.sum())} repeated device ids: the last row "
                                     "of each was kept")
            frame = frame[~dup]
        cols = _db_columns(frame, "devices")
        x, y = wgs84_to_bng(frame["longitude"].to_numpy("float64"),
                            frame["latitude"].to_numpy("float64"))
        cols["_x"], cols["_y"] = x, y  # EPSG:27700; each backend writes its own geometry
        prepared.devices = pd.DataFrame(cols)
    if connectors is not None and len(connectors) > 0:
        frame = conform(connectors, "connectors")
        source_of = {}
        if has_devices:
            source_of = dict(zip(prepared.devices["device_id"], prepared.devices["source"]))
        frame["source"] = [source_of.get(d, result.source) for d in frame["device_id"]]
        frame = frame[frame["device_id"].notna()]
        frame = frame.drop_duplicates(["source", "device_id", "connector_id"], keep="last")
        prepared.connectors = pd.DataFrame(_db_columns(frame, "connectors"))
    if has_sessions:
        frame = conform(sessions, "sessions")
        bad = frame["session_key"].isna() | frame["start_utc"].isna() | frame["device_id"].isna()
        if bad.any():
            prepared.rejected += int(bad.sum())
            prepared.reject_rows += [(None, "session without key, device or start time")] \
                * int(bad.sum())
            frame = frame[~bad]
        prepared.sessions = _db_columns(frame, "sessions")
    if status is not None and len(status) > 0:
        frame = conform(status, "status_snapshots")
        bad = frame["observed_utc"].isna() | frame["device_id"].isna()
        if bad.any():
            prepared.rejected += int(bad.sum())
            prepared.reject_rows += [(None, "status without time or device")] * int(bad.sum())
            frame = frame[~bad]
        frame["evse_uid"] = frame["evse_uid"].where(frame["evse_uid"].notna(), "")
        prepared.status = _db_columns(frame, "status_snapshots")
    return prepared


def _summary(tables, rejects: pd.DataFrame, extra: list, warnings: list) -> str:
    parts = []
    for table, counts in tables.items():
        detail = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        parts.append(f"{table}: {detail or 'nothing new'}")
    reasons: dict[str, int] = {}
    if len(rejects):
        for reason, count in rejects["reason"].astype(str).value_counts().items():
            reasons[str(reason)] = int(count)
    for _, reason in extra:
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        total = sum(reasons.values())
        listed = "; ".join(f"{count} × {reason}" for reason, count in
                           sorted(reasons.items(), key=lambda kv: -kv[1])[:5])
        parts.append(f"rejected {total} rows: {listed}")
    parts += warnings
    return ". ".join(parts)
