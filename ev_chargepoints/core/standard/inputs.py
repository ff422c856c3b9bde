"""Reading the files to check: each input into canonical tables plus its row findings.

A file is sniffed (device reference CSV, else the parsers' formats), parsed, and
its rejected rows become schema or duplicate-id findings with their row numbers;
an OCPI Locations feed also gets field checks on its raw objects, location by
location. A file that cannot be read at all becomes a finding, not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from .. import errors, schema
from ..sources.parsers import device_reference as device_reference_parser
from ..sources.parsers import parse_bytes
from ..sources.parsers.common import DEFAULT_LIMITS, clip, decode_text, maybe_gunzip, parse_iso_utc
from ..sources.parsers.ocpi import unwrap
from .model import DEFAULT_MAX_EXAMPLES, UNKNOWN_OPERATOR, InputSummary


@dataclass
class LoadedInput:
    """One input read into canonical tables plus its row-level schema findings."""

    name: str
    kind: str
    rows: int = 0
    devices: pd.DataFrame = None
    connectors: pd.DataFrame = None
    sessions: pd.DataFrame = None
    snapshots: pd.DataFrame = None
    session_rows: np.ndarray = None           # data row of each kept session
    issues: pd.DataFrame = None               # row, field, reason, operator, check
    raw_status: pd.DataFrame = None           # operator, device_id, raw
    error: Optional[str] = None
    error_operators: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    operators: list = field(default_factory=list)


def issues_frame(rows=(), fields_=(), reasons=(), operators=(), checks=()) -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(list(rows), dtype="int64"),
                         "field": pd.Series(list(fields_), dtype=object),
                         "reason": pd.Series(list(reasons), dtype=object),
                         "operator": pd.Series(list(operators), dtype=object),
                         "check": pd.Series(list(checks), dtype=object)})


def _check_of(field_name: str, reason: str) -> str:
    if "+" in field_name or "already used" in reason or "appear in an earlier row" in reason:
        return "duplicate_ids"
    return "schema"


# the device reference format is the parser's: importing and validating read it alike
device_reference_schema = device_reference_parser.load_schema
looks_like_device_reference = device_reference_parser.looks_like_device_reference


def read_device_reference(text: str, name: str = "device_reference.csv") -> LoadedInput:
    """A device reference CSV → canonical devices and connectors plus schema findings."""
    loaded = LoadedInput(name=name, kind="device-reference")
    table = device_reference_parser.read_table(text, name, DEFAULT_LIMITS)
    loaded.rows = table.rows
    row_operator = table.row_operator
    loaded.operators = sorted(set(row_operator))
    if table.missing:
        loaded.error = table.missing_message()
        loaded.error_operators = loaded.operators or [Path(name).stem]
        return loaded
    if table.extra:
        loaded.warnings.append(table.extra_warning())
    values, problems = table.values, table.problems
    problems["operator"] = row_operator.to_numpy(object)[problems["row"].to_numpy() - 1] \
        if len(problems) else pd.Series(dtype=object)
    problems["check"] = [_check_of(f, r) for f, r in zip(problems["field"],
                                                        problems["reason"])]
    loaded.issues = problems
    loaded.raw_status = pd.DataFrame({"operator": row_operator,
                                      "device_id": values["device_id"],
                                      "raw": values["status"]}).dropna(subset=["raw"])

    ok = np.ones(table.rows, dtype=bool)
    ok[problems.loc[problems["check"] == "schema", "row"].to_numpy() - 1] = False
    loaded.devices, loaded.connectors = device_reference_parser.tables(
        values, ok, f"device-reference:{name}")
    return loaded


def read_input(data: bytes, name: str, operator: Optional[str]) -> LoadedInput:
    """One file's bytes read for checking; a file the parsers refuse becomes a finding
    (``error``), only one that is not text at all raises :class:`errors.NotText`."""
    try:
        plain = maybe_gunzip(bytes(data), name, DEFAULT_LIMITS)
        text, warnings = decode_text(plain, name)
        header = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
        if not header.startswith(("{", "[")) and looks_like_device_reference(
                [h.strip().strip('"') for h in header.split(",")]):
            loaded = read_device_reference(text, name)
            loaded.warnings[:0] = warnings
            return loaded
        result = parse_bytes(data, name)
    except errors.NotText:
        raise  # the wrong file altogether: refused, not reported on
    except errors.ParseError as exc:
        kind = "usage-return" if "a usage return has" in exc.message else "unreadable"
        loaded = LoadedInput(name=name, kind=kind, error=exc.message)
        loaded.error_operators = [operator or Path(name).name.split(".")[0]]
        return loaded
    return _from_parse_result(result, name, data)


def _from_parse_result(result: schema.ParseResult, name: str, data=None) -> LoadedInput:
    loaded = LoadedInput(name=name, kind=result.format, rows=result.rows_read,
                         warnings=list(result.warnings))
    loaded.devices = result.table("devices")
    loaded.connectors = result.table("connectors")
    loaded.sessions = result.table("sessions")
    loaded.snapshots = result.table("status_snapshots")
    rejects = result.rejects
    fields_ = rejects["field"] if "field" in rejects.columns else \
        pd.Series(["(row)"] * len(rejects), dtype=object)
    loaded.issues = issues_frame(rejects["row"], fields_.fillna("(row)"), rejects["reason"],
                                 [None] * len(rejects),
                                 [_check_of(f, r) for f, r in zip(fields_.fillna("(row)"),
                                                                  rejects["reason"])])
    if result.format == "usage-return":
        # the parser keeps rows in order and drops exactly the rejected ones
        bad = set(rejects["row"].tolist())
        loaded.session_rows = np.array([r for r in range(1, result.rows_read + 1)
                                        if r not in bad], dtype="int64")
    elif result.format == "ocpi-locations" and data is not None:
        payload = data if not isinstance(data, (bytes, bytearray)) else None
        if payload is None:
            import json
            text, _ = decode_text(maybe_gunzip(bytes(data), name, DEFAULT_LIMITS), name)
            payload = json.loads(text.lstrip("\ufeff"))
        _ocpi_raw_checks(loaded, unwrap(payload, name))
    if not loaded.devices.empty:
        loaded.operators = sorted(set(loaded.devices["operator"].fillna(UNKNOWN_OPERATOR)))
    return loaded


def input_summary(item: LoadedInput, role: str = "validated") -> InputSummary:
    warnings = [clip(w, 1000) for w in item.warnings[:DEFAULT_MAX_EXAMPLES]]
    if len(item.warnings) > DEFAULT_MAX_EXAMPLES:
        warnings.append(f"… {len(item.warnings) - DEFAULT_MAX_EXAMPLES:,} more warnings cut")
    return InputSummary(name=item.name, kind=item.kind, role=role, rows=item.rows,
                        operators=list(item.operators),
                        error=None if item.error is None else clip(item.error, 1000),
                        warnings=warnings)


# --- OCPI Locations: field checks on the raw objects -------------------------------------

def _ocpi_enums() -> dict:
    specs = {f["name"]: f for f in device_reference_schema()["fields"]}
    return {k: set(specs[k]["constraints"]["enum"])
            for k in ("standard", "format", "power_type", "parking_type")}


def _plain(value) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def _ocpi_raw_checks(loaded: LoadedInput, objects: list) -> None:
    """Required OCPI 2.2.1 Location/EVSE/Connector fields, enums, duplicate ids and the
    raw status words, location by location (row = position in the feed)."""
    enums = _ocpi_enums()
    rows, fields_, reasons, ops, checks = [], [], [], [], []
    raw_ops, raw_ids, raw_values = [], [], []
    seen = set()

    def add(row, name, reason, op, check="schema"):
        rows.append(row)
        fields_.append(name)
        reasons.append(reason)
        ops.append(op)
        checks.append(check)

    def missing(value) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    for row, loc in enumerate(objects, start=1):
        if not isinstance(loc, dict):
            add(row, "(location)", "is not a JSON object", UNKNOWN_OPERATOR)
            continue
        business = loc.get("operator")
        op = _plain(business.get("name") if isinstance(business, dict) else None) \
            or _plain(loc.get("party_id")) or UNKNOWN_OPERATOR
        for key in ("country_code", "party_id", "id", "address", "city", "country",
                    "time_zone", "last_updated"):
            if missing(loc.get(key)):
                add(row, key, "required value is missing", op)
        if not missing(loc.get("last_updated")) and pd.isna(
                parse_iso_utc(pd.Series([str(loc.get("last_updated"))])).iloc[0]):
            add(row, "last_updated", "is not an RFC 3339 date and time", op)
        coords = loc.get("coordinates")
        for axis, limit in (("latitude", 90), ("longitude", 180)):
            value = coords.get(axis) if isinstance(coords, dict) else None
            try:
                number = float(value)
                if not -limit <= number <= limit:
                    add(row, f"coordinates.{axis}", f"is outside -{limit} to {limit}", op)
            except (TypeError, ValueError):
                add(row, f"coordinates.{axis}", "required value is missing or not a number",
                    op)
        if not missing(loc.get("parking_type")) and loc["parking_type"] not in \
                enums["parking_type"]:
            add(row, "parking_type", "is not an OCPI ParkingType", op)
        key = (loc.get("country_code"), loc.get("party_id"), loc.get("id"))
        if loc.get("id") is not None:
            if key in seen:
                add(row, "id", "location id already used earlier in the feed", op,
                    "duplicate_ids")
            seen.add(key)
        evses = loc.get("evses") or []
        evse_uids = set()
        for evse in evses if isinstance(evses, list) else []:
            if not isinstance(evse, dict):
                add(row, "evses[]", "is not a JSON object", op)
                continue
            uid = evse.get("uid")
            if missing(uid):
                add(row, "evses[].uid", "required value is missing", op)
            elif uid in evse_uids:
                add(row, "evses[].uid", "EVSE uid already used in this location", op,
                    "duplicate_ids")
            evse_uids.add(uid)
            if missing(evse.get("status")):
                add(row, "evses[].status", "required value is missing", op)
            else:
                raw_ops.append(op)
                raw_ids.append(loc.get("id"))
                raw_values.append(str(evse.get("status")))
            if missing(evse.get("last_updated")):
                add(row, "evses[].last_updated", "required value is missing", op)
            connectors = evse.get("connectors")
            if not isinstance(connectors, list) or not connectors:
                add(row, "evses[].connectors", "an EVSE needs at least one connector", op)
                continue
            connector_ids = set()
            for conn in connectors:
                if not isinstance(conn, dict):
                    add(row, "evses[].connectors[]", "is not a JSON object", op)
                    continue
                cid = conn.get("id")
                if missing(cid):
                    add(row, "evses[].connectors[].id", "required value is missing", op)
                elif cid in connector_ids:
                    add(row, "evses[].connectors[].id",
                        "connector id already used in this EVSE", op, "duplicate_ids")
                connector_ids.add(cid)
                for name in ("standard", "format", "power_type"):
                    value = conn.get(name)
                    if missing(value):
                        add(row, f"evses[].connectors[].{name}", "required value is missing",
                            op)
                    elif value not in enums[name]:
                        add(row, f"evses[].connectors[].{name}",
                            f"is not an OCPI {name} value", op)
                for name in ("max_voltage", "max_amperage"):
                    try:
                        if float(conn.get(name)) <= 0:
                            raise ValueError
                    except (TypeError, ValueError):
                        add(row, f"evses[].connectors[].{name}",
                            "required value is missing or not a positive number", op)
    loaded.issues = pd.concat([loaded.issues, issues_frame(rows, fields_, reasons, ops, checks)],
                              ignore_index=True)
    loaded.raw_status = pd.DataFrame({"operator": pd.Series(raw_ops, dtype=object),
                                      "device_id": pd.Series(raw_ids, dtype=object),
                                      "raw": pd.Series(raw_values, dtype=object)})
