"""What an import does the same way in both stores, around each backend's one
transaction: the parsed tables made ready to write (before the write lock is taken),
the history rule for devices and connectors, the rejected rows kept, and the one-line
summary the import log records."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..crs import wgs84_to_bng
from ..schema import TABLES, ParseResult, conform
from .values import float_list, iso_one, iso_texts, now_utc, nullable

MAX_REJECTS_STORED = 1000  # per import; the full count stays in import_log


@dataclass
class Prepared:
    snapshot_iso: str
    snapshot_mode: bool
    devices: pd.DataFrame | None = None
    connectors: pd.DataFrame | None = None
    # Sessions and status snapshots as canonical frames (times to the millisecond, a
    # missing EVSE uid as ""): the GeoPackage store writes them column by column. The
    # sessions may instead be a table still in DuckDB (``duckdb_table``: a session CSV's
    # ``sessions_held.DuckSessions``, already canonical), written from there.
    session_frame: pd.DataFrame | None = None
    status_frame: pd.DataFrame | None = None
    rejected: int = 0
    reject_rows: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    usage_kind: str | None = None   # the kind of usage this import brings, if any

    @cached_property
    def sessions(self) -> dict | None:
        """The sessions as column lists of database-ready values (the PostGIS store)."""
        frame = self.session_frame
        if frame is not None and getattr(frame, "duckdb_table", False):
            frame = _to_ms(frame.frame(), "sessions")
        return None if frame is None else _db_columns(frame, "sessions")

    @cached_property
    def status(self) -> dict | None:
        return None if self.status_frame is None else \
            _db_columns(self.status_frame, "status_snapshots")


def _to_ms(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The frame's times cut to whole milliseconds (the precision the stores keep)."""
    out = frame.reset_index(drop=True)
    for column, dtype in TABLES[table].items():
        if dtype.startswith("datetime64"):
            ns = pd.to_datetime(out[column], utc=True, errors="coerce")
            raw = ns.dt.tz_localize(None).to_numpy("datetime64[ns]").view(np.int64)
            ms = np.where(np.isnat(raw.view("datetime64[ns]")), raw,
                          raw // 1_000_000 * 1_000_000)
            out[column] = pd.DatetimeIndex(ms.view("datetime64[ns]")).tz_localize("UTC")
    return out


def _db_columns(frame: pd.DataFrame, table: str) -> dict[str, list]:
    """Canonical frame -> column lists of database-ready values."""
    spec = dict(TABLES[table])
    if table == "connectors":
        spec["source"] = "object"
    out = {}
    for column, dtype in spec.items():
        values = frame[column] if column in frame.columns else pd.Series(
            [None] * len(frame), index=frame.index, dtype=object)
        if dtype.startswith("datetime64"):
            out[column] = iso_texts(values)
        elif dtype == "float64":
            out[column] = float_list(values)
        elif dtype == "int64":
            out[column] = [int(v) for v in pd.to_numeric(values, errors="coerce")
                           .fillna(0).astype("int64")]
        else:
            out[column] = nullable(values.astype(object))
    return out


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


def prepare(result: ParseResult, snapshot_utc, devices_mode: str) -> Prepared:
    """Convert the parsed tables to database-ready values before taking the write lock."""
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
        snapshot_utc = updated if not pd.isna(updated) else now_utc()
    prepared = Prepared(iso_one(snapshot_utc), snapshot_mode)

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
    if has_sessions and getattr(sessions, "duckdb_table", False):
        bad = sessions.drop_unusable()  # (times already whole milliseconds)
        if bad:
            prepared.rejected += bad
            prepared.reject_rows += [(None, "session without key, device or start time")] * bad
        prepared.session_frame = sessions
    elif has_sessions:
        frame = sessions if _is_conformed(sessions, "sessions") else conform(sessions,
                                                                             "sessions")
        bad = frame["session_key"].isna() | frame["start_utc"].isna() | frame["device_id"].isna()
        if bad.any():
            prepared.rejected += int(bad.sum())
            prepared.reject_rows += [(None, "session without key, device or start time")] \
                * int(bad.sum())
            frame = frame[~bad]
        prepared.session_frame = _to_ms(frame[list(TABLES["sessions"])], "sessions")
    if status is not None and len(status) > 0:
        frame = conform(status, "status_snapshots")
        bad = frame["observed_utc"].isna() | frame["device_id"].isna()
        if bad.any():
            prepared.rejected += int(bad.sum())
            prepared.reject_rows += [(None, "status without time or device")] * int(bad.sum())
            frame = frame[~bad]
        frame["evse_uid"] = frame["evse_uid"].where(frame["evse_uid"].notna(), "")
        prepared.status_frame = _to_ms(frame[list(TABLES["status_snapshots"])],
                                       "status_snapshots")
    return prepared


def _is_conformed(frame: pd.DataFrame, table: str) -> bool:
    """True for a frame its parser built canonical (``attrs["conformed"]`` names the
    table, as ``sessions_csv`` sets it) whose columns and dtypes still are: ``conform``
    would give the same values, so its pass over every value is skipped."""
    spec = TABLES[table]
    return (frame.attrs.get("conformed") == table and list(frame.columns) == list(spec)
            and all(str(frame[c].dtype) == dtype for c, dtype in spec.items()))


def reject_rows(import_id: int, rejects: pd.DataFrame, extra: list) -> list[tuple]:
    """The ``import_rejects`` rows (import id, row number or None, reason) an import
    keeps: the parser's rejects, then those of :func:`prepare`, at most
    :data:`MAX_REJECTS_STORED`."""
    rows = []
    if len(rejects):
        head = rejects.head(MAX_REJECTS_STORED)
        row_numbers = pd.to_numeric(head.get("row"), errors="coerce")
        for number, reason in zip(row_numbers, head.get("reason")):
            rows.append((import_id, None if pd.isna(number) else int(number), str(reason)))
    rows += [(import_id, r, reason) for r, reason in extra][:MAX_REJECTS_STORED - len(rows)]
    return rows


def import_summary(tables, rejects: pd.DataFrame, extra: list, warnings: list) -> str:
    """The import log's message: what each table gained, the main reasons rows were
    rejected, and the warnings."""
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
