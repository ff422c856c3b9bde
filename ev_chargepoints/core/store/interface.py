"""What every history store offers, whatever holds it (:class:`StoreBackend`), and
what both backends share: the tables' columns, the import report, and how a read is
narrowed to a time window or to the rows valid at a moment.

The backends: a GeoPackage file (:class:`~.geopackage.HistoryStore`) or a shared
PostGIS database (:class:`~.postgis.backend.PostgisStore`);
:func:`~.address.open_store` picks one from what the user typed.
"""

from __future__ import annotations

import abc
import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..calendar import ns_utc, period_bounds
from ..errors import EvChargepointsError, StoreError
from ..schema import TABLES, ParseResult
from . import usage_kind
from .importing import Prepared, prepare
from .values import iso_one, now_utc, parse_iso

# Boundary layers kept as an import of their own (import_log format).
AREAS_FORMAT = "areas"

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


def columns_in_version(table: str, version: int) -> list[str]:
    """The canonical columns ``table`` had in store schema ``version``."""
    later = {c for v, tables in ADDED_COLUMNS.items() if v > version
             for c in tables.get(table, [])}
    return [name for name in TABLES[table] if name not in later]


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


def typed_import_log(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``import_log`` rows as read (columns :data:`IMPORT_LOG_COLUMNS`, the time as
    stored ISO text) with counts as integers and ``imported_utc`` as UTC times."""
    for name in ("id", "rows_read", "rows_added", "rows_updated", "rows_duplicate",
                 "rows_rejected"):
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
    frame["imported_utc"] = parse_iso(frame["imported_utc"].to_numpy())
    return frame


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StoreBackend(abc.ABC):
    """What every history store offers the rest of the plugin, whatever holds it: a
    GeoPackage file (:class:`~.geopackage.HistoryStore`) or a shared PostGIS database
    (:class:`~.postgis.backend.PostgisStore`). Both keep the same tables, migrations and import
    semantics: one transaction per import, idempotent by file SHA-256, content keys
    enforced by unique constraints, device history by validity dates.
    :func:`~.address.open_store` picks the backend from what the user typed."""

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
            prepared = prepare(result, snapshot_utc, devices_mode)
        except Exception as exc:  # noqa: BLE001
            return self.log_failed_import(file_name, file_sha256, result.format,
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
    def _write_import(self, result: ParseResult, prepared: Prepared, file_name: str,
                      file_sha256: str) -> ImportReport:
        """The import's one transaction; a failure is rolled back, logged in a later
        transaction and raised as StoreError."""

    def import_file(self, path: str | os.PathLike,
                    parse: Callable[[Path], ParseResult] | None = None,
                    **options) -> ImportReport:
        """Hash, parse and import one file. A file that cannot be read or parsed
        leaves the store's content untouched and is logged as "failed"."""
        from ..sources.parsers.common import DEFAULT_LIMITS, SameFile

        path = Path(path)
        read = path  # what the parser gets: the bytes hashed, when they fit the limit
        try:
            if path.stat().st_size <= DEFAULT_LIMITS.max_file_bytes:
                read = SameFile.read(path)
                sha = hashlib.sha256(read.data).hexdigest()
            else:  # (the parser refuses it by its size, without reading it)
                sha = file_sha256(path)
        except OSError as exc:
            return self.log_failed_import(path.name, "", "", f"the file cannot be read: {exc}")
        previous = self.already_imported(sha)
        if previous is not None:
            return self._log_skip(path.name, sha, "", previous)
        if parse is None:
            from ..sources.parsers import parse_file as parse
        try:
            result = parse(read)
        except EvChargepointsError as exc:
            return self.log_failed_import(path.name, sha, "",
                                          f"the file was rejected: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the log entry
            return self.log_failed_import(path.name, sha, "",
                                     f"the file could not be parsed ({type(exc).__name__}: "
                                     f"{exc})")
        del read  # (the bytes, before the import's own work)
        return self.import_parse_result(result, path.name, sha, **options)

    def _log_skip(self, file_name, sha, fmt, previous) -> ImportReport:
        when = self._imported_when(previous)
        message = f"already imported (import {previous} on {when}); nothing changed"
        import_id = self._log_row(file_name, sha, fmt, 0, "already imported", message)
        return ImportReport(import_id, file_name, sha, "already imported", message=message)

    def log_failed_import(self, file_name, sha, fmt, message, rows_read=0) -> ImportReport:
        """Record a file that could not be imported (the import log says why) and return
        its report; nothing else in the store changes."""
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
        return self._insert_decision(values, verdict, iso_one(now_utc()), note or None)

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


# --- narrowing a read (the same conditions in both backends) ------------------------------

def time_window(column: str, start, end, mark: str = "?") -> tuple[list[str], list]:
    """SQL conditions and parameters for the rows whose ``column`` falls in [start, end)
    (either may be None): sessions by start time, status snapshots by observation
    time. ``mark``: the driver's parameter placeholder ("?" sqlite3, "%s" psycopg2)."""
    clauses, params = [], []
    if start is not None:
        clauses.append(f"{column} >= {mark}")
        params.append(iso_one(start))
    if end is not None:
        clauses.append(f"{column} < {mark}")
        params.append(iso_one(end))
    return clauses, params


def validity_window(at, current_only: bool, source: str | None,
                    mark: str = "?") -> tuple[list[str], list]:
    """SQL conditions and parameters for device or connector rows: those valid at ``at``,
    else (``current_only``) today's rows, else the whole history; of ``source`` only
    when given."""
    clauses, params = [], []
    if at is not None:
        clauses.append(f"valid_from_utc <= {mark} AND (valid_to_utc IS NULL OR"
                       f" valid_to_utc > {mark})")
        params += [iso_one(at)] * 2
    elif current_only:
        clauses.append("valid_to_utc IS NULL")
    if source is not None:
        clauses.append(f"source = {mark}")
        params.append(source)
    return clauses, params


def periods_of_hours(stamps: pd.Series, kind: str) -> list[str]:
    """Calendar periods (UK local time) containing the given whole UTC hours."""
    if stamps.empty:
        return []
    labels, starts = period_bounds(stamps.min(), stamps.max(), kind)
    # An hour's sessions all fall in one local period: period starts are whole hours.
    found = np.searchsorted(ns_utc(pd.Series(starts)), ns_utc(stamps), side="right") - 1
    return [labels[i] for i in sorted(set(found.tolist()))]
