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
    blank_to_none,
    content_keys,
    local_to_utc,
    read_csv_text,
    rejects_frame,
)

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


def parse_text(text: str, name: str = "sessions.csv", source: str | None = None,
               limits: Limits = DEFAULT_LIMITS, namespace: str | None = None,
               tz: str = UK_TZ) -> schema.ParseResult:
    file_name = os.path.basename(name)
    source = source or f"sessions:{file_name}"
    raw = read_csv_text(text, name, limits)
    roles = _roles(raw.columns)
    if not looks_like_sessions(raw.columns):
        raise errors.ParseError("the header has no charge point id (CP ID) and start "
                                "date/time columns", name)
    n_rows = len(raw)
    rows = np.arange(1, n_rows + 1)
    warnings: list[str] = []

    def column(role: str) -> pd.Series:
        if role in roles:
            return raw[roles[role]].astype(str).str.strip()
        return pd.Series("", index=raw.index, dtype=object)

    device = blank_to_none(column("device"))
    connector = blank_to_none(column("connector"))
    session_id = blank_to_none(column("session_id"))
    if "start" in roles and "start_date" not in roles:
        start_text, end_text = column("start"), column("end")
    else:
        start_text = _join(column("start_date"), column("start_time"))
        end_text = _join(column("end_date"), column("end_time"))
    start_local = _parse_local(start_text)
    end_local = _parse_local(end_text)
    start = local_to_utc(start_local, tz)
    end = local_to_utc(end_local, tz, not_before=start)

    kwh_text = column("kwh")
    kwh = pd.to_numeric(kwh_text.str.replace(",", "", regex=False), errors="coerce")

    exact_dup = raw.duplicated(keep="first")
    first_of_row = _first_row_of_group(raw, rows)
    id_dup = session_id.notna() & session_id.duplicated(keep="first") & ~exact_dup
    first_of_id = pd.Series(rows, index=raw.index).groupby(session_id).transform("min")

    first_seen = {"row": first_of_row, "id": first_of_id}
    checks = [  # (rows failing, reason, which earlier row the reason names); first match wins
        (device.isna(), "missing charge point id (CP ID)", None),
        (start_text.eq("") | start_local.isna(), "start date/time could not be read", None),
        (end_text.ne("") & end_local.isna(), "end date/time could not be read", None),
        (end_local.notna() & (end_local.dt.year <= 1970),
         "end is a 1970 placeholder date (not a real time)", None),
        (end.notna() & (end < start), "end is before start", None),
        (kwh_text.ne("") & kwh.isna(), "kWh is not a number", None),
        (kwh < 0, "negative kWh", None),
        (exact_dup, "exact duplicate of row {}", "row"),
        (id_dup, "session id already used by row {} with different content", "id"),
    ]
    code = np.select([np.asarray(mask, dtype=bool) for mask, _, _ in checks],
                     np.arange(1, len(checks) + 1), default=0)
    keep = code == 0
    reject_reasons = []
    for row_index in np.flatnonzero(~keep):
        _, text, earlier = checks[code[row_index] - 1]
        if earlier:
            text = text.format(int(first_seen[earlier].iloc[row_index]))
        reject_reasons.append(text)
    rejects = rejects_frame(rows[~keep], reject_reasons)

    if namespace is None and "session_id" in roles:
        namespace = NAMESPACES.get(_norm(roles["session_id"]), "sessions")
    sessions = pd.DataFrame({
        "source_session_id": session_id[keep],
        "device_id": device[keep],
        "connector_id": connector[keep],
        "start_utc": start[keep],
        "end_utc": end[keep],
        "kwh": kwh[keep],
        "source": source,
    })
    hashed = content_keys(sessions["device_id"], sessions["connector_id"],
                          sessions["start_utc"], sessions["end_utc"], sessions["kwh"])
    with_id = sessions["source_session_id"].notna()
    sessions["session_key"] = hashed.where(
        ~with_id, f"{namespace}:" + sessions["source_session_id"].fillna(""))

    open_count = int(sessions["end_utc"].isna().sum())
    if open_count:
        warnings.append(f"{open_count} session(s) have no end time (still open or not "
                        "reported); kept with an empty end")
    missing_kwh = int(sessions["kwh"].isna().sum())
    if missing_kwh:
        warnings.append(f"{missing_kwh} session(s) have no kWh; kept with an empty kWh")
    return schema.ParseResult(
        format=FORMAT, source=source, rows_read=n_rows,
        tables={"sessions": schema.conform(sessions, "sessions")},
        rejects=rejects, warnings=warnings)


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
