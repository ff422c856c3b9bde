"""Charging-session CSVs of the ChargePlace Scotland family → sessions.

Layouts seen: Dundee 2017-18 (``Charging event, [User ID,] CP ID, Connector,
Start Date, Start Time, End Date, End Time, Total kWh, ...``, sometimes with
unnamed trailing columns), Perth & Kinross (``_id, CP ID, ...``), DfT 2017
(``ChargingEvent, CPID, ..., Energy``). Dates are ``dd/mm/yyyy`` and times
``HH:MM`` in UK local time.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ... import errors, schema
from .common import (
    DEFAULT_LIMITS,
    UK_TZ,
    Limits,
    SameFile,
    _localize,
    blank_to_none,
    content_keys,
    local_to_utc,
    read_csv_text,
    rejects_frame,
)
from .sessions_held import hour_offsets

FORMAT = "sessions"

# canonical role → accepted header names (compared case- and space-insensitively)
ALIASES = {
    "session_id": ("charging event", "chargingevent", "sdr id"),
    "device": ("cp id", "cpid", "charge point id"),
    "connector": ("connector", "connector id", "connectorid"),
    "start_date": ("start date", "startdate"),
    "start_time": ("start time", "starttime"),
    "end_date": ("end date", "enddate"),
    "end_time": ("end time", "endtime"),
    "start": ("start",),
    "end": ("end",),
    "kwh": ("total kwh", "energy", "energysupplied", "consum(kwh)", "kwh"),
}
# which id column belongs to which stable namespace (same session, same key, any file)
NAMESPACES = {"charging event": "cps", "chargingevent": "dft2017", "sdr id": "cps-sdr"}

# the checks' reasons, in the order they apply (the first a row fails is its reason), and
# which earlier row a reason names ("row": the first identical row, "id": the first row
# with that session id); the DuckDB path (``sessions_held.REASON_CODES``) keeps this order
REJECT_REASONS = (
    "missing charge point id (CP ID)",
    "start date/time could not be read",
    "end date/time could not be read",
    "end is a 1970 placeholder date (not a real time)",
    "end is before start",
    "kWh is not a number",
    "negative kWh",
    "exact duplicate of row {}",
    "session id already used by row {} with different content",
)
EARLIER_ROW = (None,) * 7 + ("row", "id")

DATE_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def _norm(name: str) -> str:
    return " ".join(str(name).replace("\ufeff", "").strip().lower().split())


def _roles(header) -> dict[str, str]:
    found = {}
    normalised = {_norm(h): h for h in header}
    for role, names in ALIASES.items():
        for alias in names:
            if alias in normalised:
                found[role] = normalised[alias]
                break
    return found


def looks_like_sessions(header) -> bool:
    roles = _roles(header)
    has_start = ("start_date" in roles and "start_time" in roles) or "start" in roles
    return "device" in roles and has_start


ENGINES = ("auto", "duckdb", "python")
# "auto" uses DuckDB from this many characters on. Measured (Dundee layout, busy 2-core
# machine): 0.4 MB pandas 0.2 s / DuckDB 0.2-0.4 s; 1.8 MB 0.60 / 0.32; 10.6 MB 2.9 / 1.1.
DUCKDB_MIN_CHARS = 1 << 20


def parse_text(text: str | None, name: str = "sessions.csv", source: str | None = None,
               limits: Limits = DEFAULT_LIMITS, namespace: str | None = None,
               tz: str = UK_TZ, engine: str = "auto",
               _origin: SameFile | None = None,
               _in_duckdb: bool = False) -> schema.ParseResult:
    """Sessions of one CSV text. ``engine``: "python" reads with pandas, "duckdb" with
    DuckDB wherever it reads the text exactly as pandas would (else pandas), "auto" uses
    DuckDB for large texts when it is installed. Every engine gives the same result.
    ``_origin`` (set by ``parsers.parse_file``): the file whose bytes are exactly the
    text's UTF-8, which DuckDB then reads in place. ``_in_duckdb`` (a store's import):
    sessions DuckDB read and checked stay in DuckDB, a ``sessions_held.DuckSessions``
    in place of the frame, for the store to write its part from. ``text`` None (a
    large ASCII file, from ``parsers.parse_file``): ``_origin``'s bytes are the text,
    decoded only if pandas must read it."""
    if engine not in ENGINES:
        raise errors.ParseError(f"unknown engine '{engine}'; expected one of "
                                f"{', '.join(ENGINES)}", name)
    size = len(_origin.data) if text is None else len(text)
    if engine == "duckdb" or (engine == "auto" and size >= DUCKDB_MIN_CHARS):
        from . import sessions_duckdb

        header = sessions_duckdb.header(_first_line(_origin.data) if text is None else text)
        if header is not None and looks_like_sessions(header):
            roles = _roles(header)
            source = source or f"sessions:{os.path.basename(name)}"
            if namespace is None and "session_id" in roles:
                namespace = NAMESPACES.get(_norm(roles["session_id"]), "sessions")
            with sessions_duckdb.Reader(text, header, roles, limits, _parse_local,
                                        _origin) as reader:
                checked = reader.sessions(source, namespace, _localizer(tz))
            if checked is not None:
                return _held_result(*checked, source, _in_duckdb)
    if text is None:
        text = _origin.data.decode("ascii")
    return validate(read_columns(text, name, limits), name, source, namespace, tz)


def _first_line(data: bytes) -> str:
    """The first line of ASCII ``data`` (with its line break), decoded."""
    end = data.find(b"\n")
    return (data if end < 0 else data[:end + 1]).decode("ascii")


def _held_result(table, rejected, counts, n_rows, source, in_duckdb) -> schema.ParseResult:
    """The ParseResult of ``sessions_duckdb.Reader.sessions``: the same rejects and
    warnings as :func:`validate` gives; the sessions as a frame unless ``in_duckdb``."""
    reasons = [REJECT_REASONS[code - 1].format(first) if EARLIER_ROW[code - 1]
               else REJECT_REASONS[code - 1] for _, code, first in rejected]
    rejects = rejects_frame([row for row, _, _ in rejected], reasons)
    warnings = []
    open_count, missing_kwh = counts
    if open_count:
        warnings.append(f"{open_count} session(s) have no end time (still open or not "
                        "reported); kept with an empty end")
    if missing_kwh:
        warnings.append(f"{missing_kwh} session(s) have no kWh; kept with an empty kWh")
    sessions = table if in_duckdb else table.frame()
    return schema.ParseResult(format=FORMAT, source=source, rows_read=n_rows,
                              tables={"sessions": sessions}, rejects=rejects,
                              warnings=warnings)


def _localizer(tz: str):
    """(local ns, summer flags[, gap]) → UTC ns (NaT's integer for none): :func:`_localize`
    (``gap`` "shift": a time in a clock-change gap moves to its end), or pandas'
    tz_localize with such times NaT (``gap`` "NaT")."""
    def localize(values: np.ndarray, summer: np.ndarray, gap: str = "shift") -> np.ndarray:
        index = pd.DatetimeIndex(np.asarray(values, dtype="int64").view("datetime64[ns]"))
        if gap == "NaT":
            local = index.tz_localize(tz, ambiguous=summer, nonexistent="NaT")
        else:
            local = _localize(index, tz, summer)
        return np.asarray(local.tz_convert("UTC").tz_localize(None).asi8)
    return localize


def read_columns_duckdb(text: str, limits: Limits = DEFAULT_LIMITS) -> dict | None:
    """The columns DuckDB reads (their strings not fetched), or None where DuckDB would
    not read the text exactly as pandas does (or is not installed)."""
    from . import sessions_duckdb

    header = sessions_duckdb.header(text)
    if header is None or not looks_like_sessions(header):
        return None
    with sessions_duckdb.Reader(text, header, _roles(header), limits, _parse_local) as reader:
        return reader.columns()


def read_columns(text: str, name: str, limits: Limits) -> dict:
    """The pandas reading of a sessions CSV: the columns :func:`validate` checks.

    Keys: header, n_rows; device_missing (bool array); strings: keep → (device,
    connector, session_id) of the kept rows (stripped text, None when blank; Series
    indexed by row position); start_blank, end_blank, kwh_blank (bool arrays: the text was empty);
    start_local, end_local (naive datetime64[ns] Series), kwh (Series); exact_dup,
    id_dup (bool arrays); first_of_row, first_of_id (1-based row numbers, read only
    where exact_dup / id_dup)."""
    raw = read_csv_text(text, name, limits)
    roles = _roles(raw.columns)
    if not looks_like_sessions(raw.columns):
        raise errors.ParseError("the header has no charge point id (CP ID) and start "
                                "date/time columns", name)
    rows = np.arange(1, len(raw) + 1)

    def column(role: str) -> pd.Series:
        if role in roles:
            return raw[roles[role]].astype(str).str.strip()
        return pd.Series("", index=raw.index, dtype=object)

    session_id = blank_to_none(column("session_id"))
    if "start" in roles and "start_date" not in roles:
        start_text, end_text = column("start"), column("end")
    else:
        start_text = _join(column("start_date"), column("start_time"))
        end_text = _join(column("end_date"), column("end_time"))
    kwh_text = column("kwh")
    exact_dup = raw.duplicated(keep="first")
    device = blank_to_none(column("device"))
    connector = blank_to_none(column("connector"))
    return {
        "header": list(raw.columns), "n_rows": len(raw),
        "device_missing": device.isna().to_numpy(),
        "strings": lambda keep: (device[keep], connector[keep], session_id[keep]),
        "start_blank": start_text.eq("").to_numpy(),
        "end_blank": end_text.eq("").to_numpy(),
        "kwh_blank": kwh_text.eq("").to_numpy(),
        "start_local": _parse_local(start_text),
        "end_local": _parse_local(end_text),
        "kwh": pd.to_numeric(kwh_text.str.replace(",", "", regex=False), errors="coerce"),
        "exact_dup": exact_dup.to_numpy(),
        "first_of_row": _first_row_of_group(raw, rows).to_numpy(),
        "id_dup": (session_id.notna() & session_id.duplicated(keep="first")
                   & ~exact_dup).to_numpy(),
        "first_of_id": pd.Series(rows, index=raw.index).groupby(session_id)
        .transform("min").to_numpy(),
    }


def validate(columns: dict, name: str, source: str | None = None,
             namespace: str | None = None, tz: str = UK_TZ) -> schema.ParseResult:
    """Checks, rejects, keys and warnings from the columns of :func:`read_columns`."""
    file_name = os.path.basename(name)
    source = source or f"sessions:{file_name}"
    roles = _roles(columns["header"])
    n_rows = columns["n_rows"]
    rows = np.arange(1, n_rows + 1)
    warnings: list[str] = []
    start_local, end_local, kwh = columns["start_local"], columns["end_local"], columns["kwh"]
    start = _local_to_utc(start_local, tz)
    end = _local_to_utc(end_local, tz, not_before=start)

    first_seen = {"row": columns["first_of_row"], "id": columns["first_of_id"]}
    checks = list(zip([  # (rows failing, reason, which earlier row it names); first wins
        columns["device_missing"],
        columns["start_blank"] | start_local.isna(),
        ~columns["end_blank"] & end_local.isna(),
        end_local.notna() & (end_local.dt.year <= 1970),
        end.notna() & (end < start),
        ~columns["kwh_blank"] & kwh.isna(),
        kwh < 0,
        columns["exact_dup"],
        columns["id_dup"],
    ], REJECT_REASONS, EARLIER_ROW))
    code = np.select([np.asarray(mask, dtype=bool) for mask, _, _ in checks],
                     np.arange(1, len(checks) + 1), default=0)
    keep = code == 0
    reject_reasons = []
    for row_index in np.flatnonzero(~keep):
        _, text, earlier = checks[code[row_index] - 1]
        if earlier:
            text = text.format(int(first_seen[earlier][row_index]))
        reject_reasons.append(text)
    rejects = rejects_frame(rows[~keep], reject_reasons)

    if namespace is None and "session_id" in roles:
        namespace = NAMESPACES.get(_norm(roles["session_id"]), "sessions")
    device, connector, session_id = columns["strings"](keep)
    sessions = pd.DataFrame({
        "source_session_id": session_id,
        "device_id": device,
        "connector_id": connector,
        "start_utc": start[keep],
        "end_utc": end[keep],
        "kwh": kwh[keep],
        "source": source,
    })
    with_id = sessions["source_session_id"].notna()
    keys = (f"{namespace}:" + sessions["source_session_id"][with_id]).astype(object)
    if not with_id.all():  # content keys only for the rows that carry no id
        plain = sessions[~with_id]
        keys = pd.concat([keys, content_keys(plain["device_id"], plain["connector_id"],
                                             plain["start_utc"], plain["end_utc"],
                                             plain["kwh"])])
    sessions["session_key"] = keys.reindex(sessions.index).astype(object)

    open_count = int(sessions["end_utc"].isna().sum())
    if open_count:
        warnings.append(f"{open_count} session(s) have no end time (still open or not "
                        "reported); kept with an empty end")
    missing_kwh = int(sessions["kwh"].isna().sum())
    if missing_kwh:
        warnings.append(f"{missing_kwh} session(s) have no kWh; kept with an empty kWh")
    return schema.ParseResult(
        format=FORMAT, source=source, rows_read=n_rows,
        tables={"sessions": (_conform_fast(sessions) if columns.get("fast_conform")
                             else schema.conform(sessions, "sessions"))},
        rejects=rejects, warnings=warnings)


def _conform_fast(sessions: pd.DataFrame) -> pd.DataFrame:
    """``schema.conform(sessions, "sessions")`` for a frame whose text columns already
    hold str or None, times UTC and kWh numbers (as :func:`validate` builds it from the
    DuckDB reading): the same frame without re-checking every value."""
    n = len(sessions)
    out = {}
    for column, dtype in schema.TABLES["sessions"].items():
        if column == "charging_end_utc":
            out[column] = pd.Series(np.full(n, np.datetime64("NaT"), "M8[ns]")
                                    ).dt.tz_localize("UTC").array
        elif column == "kwh":
            out[column] = sessions[column].to_numpy(dtype="float64")
        elif dtype == "object":
            out[column] = sessions[column].to_numpy(dtype=object)
        else:
            out[column] = sessions[column].array
    frame = pd.DataFrame(out)
    frame.attrs["conformed"] = "sessions"  # the store's import then skips its conform
    return frame


_NAT = np.iinfo(np.int64).min
_HOUR_NS = 3_600_000_000_000


def _local_to_utc(naive: pd.Series, tz: str,
                  not_before: pd.Series | None = None) -> pd.Series:
    """:func:`common.local_to_utc` (the same rule, so the same result), with one
    localisation per distinct hour instead of per row: see :func:`_to_utc_ns`."""
    if len(naive) < 1000:
        return local_to_utc(naive, tz, not_before)
    values = naive.to_numpy(dtype="datetime64[ns]").view(np.int64)
    result = _to_utc_ns(values, tz, True)
    if not_before is not None:
        second = _to_utc_ns(values, tz, False)
        bound = not_before.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(
            dtype="datetime64[ns]").view(np.int64)
        valid = (result != _NAT) & (second != _NAT) & (bound != _NAT)
        use_second = valid & (result != second) & (result < bound) & (second >= bound)
        result = np.where(use_second, second, result)
    return pd.Series(pd.DatetimeIndex(result.view("datetime64[ns]")).tz_localize("UTC"),
                     index=naive.index)


def _to_utc_ns(values: np.ndarray, tz: str, summer: bool) -> np.ndarray:
    """``_localize`` of naive local ns (NaT's integer for none; ambiguous times in
    summer or winter time) as UTC ns. Where a whole hour [H, H + 1 h) has one UTC
    offset (its first and last nanosecond localise, to the same offset: no zone
    changes its offset twice within an hour) every time in it is ``local - offset``;
    the other hours (a clock change inside, a gap) are localised row by row as before."""

    present = values != _NAT
    hour = np.where(present, values // _HOUR_NS * _HOUR_NS, 0)
    codes, hours = pd.factorize(hour)
    same, offset = hour_offsets(np.asarray(hours, dtype=np.int64), summer, _localizer(tz))
    fast = present & same[codes]
    out = np.full(len(values), _NAT, dtype=np.int64)
    out[fast] = values[fast] - offset[codes[fast]]
    slow = present & ~fast
    if slow.any():
        index = pd.DatetimeIndex(values[slow].view("datetime64[ns]"))
        out[slow] = _localize(index, tz, np.full(len(index), summer)).tz_localize(
            None).asi8
    return out


def _join(date: pd.Series, time: pd.Series) -> pd.Series:
    return (date + " " + time).str.strip().where(date != "", "")


def _parse_local(text: pd.Series) -> pd.Series:
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    todo = text != ""
    for fmt in DATE_FORMATS:
        if not todo.any():
            break
        attempt = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        parsed[attempt.index] = parsed[attempt.index].where(attempt.isna(), attempt)
        todo = todo & parsed.isna()
    return parsed


def _first_row_of_group(raw: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """For each row, the 1-based number of the first row with identical content."""
    keys = pd.util.hash_pandas_object(raw, index=False)
    return pd.Series(rows, index=raw.index).groupby(keys.to_numpy()).transform("min")


def combine(results: list[schema.ParseResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions of several files as one table, one row per session_key.

    Returns (sessions, conflicts): a key seen again with the same content is dropped
    silently (the same session in two deliveries); with different content the first
    is kept and the later one listed in ``conflicts`` with its source.
    """
    frames = [r.table("sessions") for r in results]
    if not frames:
        return schema.empty("sessions"), pd.DataFrame(columns=["session_key", "source"])
    allsessions = pd.concat(frames, ignore_index=True)
    repeated = allsessions["session_key"].duplicated(keep="first")
    content = ["device_id", "connector_id", "start_utc", "end_utc", "kwh"]
    same = allsessions.duplicated(subset=["session_key"] + content, keep="first")
    conflicts = allsessions.loc[repeated & ~same, ["session_key", "source"]]
    return allsessions[~repeated].reset_index(drop=True), conflicts.reset_index(drop=True)
