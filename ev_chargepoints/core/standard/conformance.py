"""The data standard's validator and the per-operator conformance report.

Checks usage returns, device reference files (``resources/standard/
device_reference.schema.json``), National Chargepoint Registry exports and OCPI
2.2.1 Locations feeds, and reports per operator:

schema            missing or invalid fields, per field with row numbers (capped)
duplicate_ids     ids (device+connector, session, location, EVSE) used twice
outside_london    devices outside the GLA ward and borough boundaries
not_in_reference  devices/connectors in a return but not in the reference data
not_in_return     reference devices of the operator without a session in the return
impossible_energy kWh > rated kW x plugged-in hours
overlapping       two sessions at once on one connector
outside_period    sessions starting outside the return's quarter
stale             last_updated older than ``stale_days`` before the as-of date
unknown_status    EVSE status values that are not OCPI 2.2.1 values
reliability       time-weighted reliability over observed time only (status
                  snapshots, regulation grouping); a rapid network under 99 % fails,
                  one with too little observed time is not judged

The usage-return rules are the parser's (one Table Schema, read by
``parsers.usage_return.load_schema``); this module adds the checks that need
more than one row or more than one file. The front doors call
:func:`validate_files` or :func:`validate_ocpi_feed`.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from .. import errors, schema
from ..analysis.quality import NAT, ns_utc
from ..analysis.utilisation import DEFAULT_MAX_GAP_HOURS, status_occupancy
from ..progress import Progress
from ..sources.parsers import device_reference as device_reference_parser
from ..sources.parsers import parse_bytes
from ..sources.parsers._common import DEFAULT_LIMITS, clip, decode_text, maybe_gunzip, parse_iso_utc
from ..sources.parsers.ocpi import normalise_status, unwrap

STANDARD_VERSION = "1.0.0"
DEFAULT_STALE_DAYS = 90
DEFAULT_MAX_ROWS = 20          # row numbers listed per field and reason
DEFAULT_MAX_EXAMPLES = 20      # examples listed per check
RELIABILITY_TARGET = 0.99      # reg 7: rapid networks, calendar-year average
# Counted hours (observed working or not working) an EVSE, device or network needs
# before it gets a pass or fail: one day, so a single polled fault (at most
# DEFAULT_MAX_GAP_HOURS) cannot decide the verdict on its own.
MIN_OBSERVED_HOURS = 24.0
NOT_ENOUGH = "not enough observed time"
RAPID_CLASSES = ("rapid", "ultra")
DEVICE_REFERENCE = device_reference_parser.SCHEMA_NAME
NO_OPERATOR = device_reference_parser.NO_OPERATOR
UNKNOWN_OPERATOR = "(unknown operator)"

# Greater London's extent (WGS84), used only when the boundary files cannot be read.
LONDON_BBOX = (-0.5104, 51.2868, 0.3340, 51.6919)

PASS, WARN, FAIL, NOT_CHECKED = "pass", "warn", "fail", "not_checked"

CHECKS = {  # code: (title, severity when something is found)
    "file": ("File can be read", FAIL),
    "schema": ("Fields present and valid", FAIL),
    "duplicate_ids": ("Ids used once", FAIL),
    "outside_london": ("Devices inside London", WARN),
    "not_in_reference": ("Return devices in the reference data", FAIL),
    "not_in_return": ("Reference devices in the return", WARN),
    "impossible_energy": ("Energy possible at the rated power", FAIL),
    "overlapping_sessions": ("One session at a time per connector", FAIL),
    "outside_period": ("Sessions within the return period", WARN),
    "stale": ("Records updated recently", WARN),
    "unknown_status": ("Status values from OCPI 2.2.1", WARN),
    "reliability": ("Rapid network reliability at least 99 %", FAIL),
}

DEFINITIONS = {
    "row": "Row numbers count data rows from 1; the header is line 1 of the file, so row "
           "N is on line N + 1. In an OCPI feed, row N is the N-th Location.",
    "verdict": "fail: at least one check marked fail found something. warn: only checks "
               "marked warn found something. pass: nothing found. Checks that could not "
               "run (no reference data, no status history) are listed as not checked and "
               "do not change the verdict.",
    "outside_london": "A device is outside London when its coordinates fall in none of the "
                      "GLA 2018 wards and none of the 33 boroughs (wards include the "
                      "tidal Thames, so river piers count as inside).",
    "impossible_energy": "kWh greater than the connector's rated kW (from the reference "
                         "data; the device's highest rating when the connector is not "
                         "listed) times the plugged-in hours (end - start).",
    "overlapping_sessions": "A session that starts before an earlier session on the same "
                            "device and connector has ended. Sessions that touch (one ends "
                            "as the next starts) do not overlap.",
    "outside_period": "A session belongs to the return of the quarter in which it starts; "
                      "one starting before the period or at/after its end is outside.",
    "stale": "last_updated (NCR: dateUpdated, else dateCreated) older than the stale limit "
             "before the as-of date (default: the end of the return period, else the day "
             "of validation).",
    "unknown_status": "EVSE status values other than AVAILABLE, BLOCKED, CHARGING, "
                      "INOPERATIVE, OUTOFORDER, PLANNED, REMOVED, RESERVED, UNKNOWN. "
                      "Recognisable variants (WORKING, FAULTED, Out_Of_Order) are read as "
                      "the OCPI value; others count as UNKNOWN.",
    "reliability": "Reliability = working time / (working + not working) time, over observed "
                   "time only: each observed status holds until the next observation of "
                   "the same EVSE, for at most the gap allowed (default 1 hour); the rest "
                   "of a longer gap, and the time after a last observation beyond that "
                   "gap, are unobserved and count neither way. Working = AVAILABLE, "
                   "CHARGING, RESERVED; not working = INOPERATIVE, OUTOFORDER; excluded = "
                   "UNKNOWN, BLOCKED; PLANNED and REMOVED are not live and not counted "
                   "(Public Charge Point Regulations 2023, reg 7). Totals are summed over "
                   "EVSEs, never averaged. A rapid network (devices of 50 kW and more) "
                   "must reach 99 % over a calendar year; with fewer counted hours than "
                   "the minimum (default 24) it is not judged: not enough observed time.",
    "observed_hours": "Observed hours: EVSE-hours covered by status observations as above. "
                      "Counted hours: the observed hours working or not working, the "
                      "denominator of reliability. Observations: status snapshots counted.",
    "power_class": "DfT power bands by the device's highest connector rating: slow under "
                   "8 kW, fast 8-49 kW, rapid 50-149 kW, ultra 150 kW and more.",
}


# --- report data ---------------------------------------------------------------------

class _Record:
    """dataclass <-> plain dict (JSON) for the report types."""

    _nested: dict = {}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            nested = cls._nested.get(f.name)
            if nested is not None and value is not None:
                value = [nested.from_dict(v) for v in value] if isinstance(value, list) \
                    else nested.from_dict(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass
class FieldErrors(_Record):
    """One field and reason: how many rows, and the first of them."""

    field: str
    reason: str
    total: int
    rows: list = field(default_factory=list)


@dataclass
class Example(_Record):
    """One instance a check found (a row, a device, a session)."""

    row: Optional[int] = None
    id: Optional[str] = None
    detail: str = ""


@dataclass
class Check(_Record):
    code: str
    title: str
    severity: str              # what a finding means: fail or warn
    result: str                # pass / warn / fail / not_checked
    count: int = 0
    message: str = ""
    source: str = ""           # file or feed the check ran on
    field_errors: list = field(default_factory=list)
    examples: list = field(default_factory=list)

    _nested = {"field_errors": FieldErrors, "examples": Example}


@dataclass
class Reliability(_Record):
    scope: str                 # operator / rapid network / device
    id: str
    operator: str
    power_class: Optional[str] = None
    working_h: float = 0.0
    down_h: float = 0.0
    excluded_h: float = 0.0
    not_live_h: float = 0.0
    evses: int = 0
    observations: int = 0
    reliability: Optional[float] = None
    observed_h: float = 0.0    # every observed hour (counted = working_h + down_h)
    result: Optional[str] = None   # pass / fail against the target, or NOT_ENOUGH

    @property
    def counted_h(self) -> float:
        return self.working_h + self.down_h


@dataclass
class OperatorReport(_Record):
    operator: str
    verdict: str = PASS
    reasons: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    devices: int = 0
    connectors: int = 0
    rapid_devices: int = 0
    sessions: int = 0
    checks: list = field(default_factory=list)
    reliability: Optional[Reliability] = None
    rapid_reliability: Optional[Reliability] = None
    device_reliability: list = field(default_factory=list)

    _nested = {"checks": Check, "reliability": Reliability,
               "rapid_reliability": Reliability, "device_reliability": Reliability}


@dataclass
class InputSummary(_Record):
    name: str
    kind: str                  # usage-return / device-reference / ncr / ocpi-locations / ...
    role: str = "validated"    # validated / reference
    rows: int = 0
    operators: list = field(default_factory=list)
    period: Optional[str] = None
    period_source: Optional[str] = None
    error: Optional[str] = None
    warnings: list = field(default_factory=list)


@dataclass
class ConformanceReport(_Record):
    standard_version: str = STANDARD_VERSION
    generated_utc: str = ""
    as_of_utc: str = ""
    stale_days: float = DEFAULT_STALE_DAYS
    reliability_target: float = RELIABILITY_TARGET
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS
    min_observed_hours: float = MIN_OBSERVED_HOURS
    period: Optional[str] = None
    london_check: str = ""
    inputs: list = field(default_factory=list)
    operators: list = field(default_factory=list)
    definitions: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)

    _nested = {"inputs": InputSummary, "operators": OperatorReport}

    def operator(self, name: str) -> OperatorReport:
        for op in self.operators:
            if op.operator == name:
                return op
        raise KeyError(name)

    @property
    def verdicts(self) -> dict:
        return {op.operator: op.verdict for op in self.operators}


# --- periods ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: pd.Timestamp
    end: pd.Timestamp          # exclusive
    label: str
    source: str                # given / file name / data

    def contains(self, times: pd.Series) -> pd.Series:
        return (times >= self.start) & (times < self.end)


_QUARTER_RE = re.compile(r"(?<!\d)(\d{4})[-_ ]?q([1-4])(?!\d)", re.IGNORECASE)


def quarter(year: int, q: int, source: str = "given") -> Period:
    start = pd.Timestamp(year=year, month=3 * (q - 1) + 1, day=1, tz="UTC")
    return Period(start, start + pd.DateOffset(months=3), f"{year}-Q{q}", source)


def parse_period(value, source: str = "given") -> Optional[Period]:
    """A period from ``"2024-Q1"``, ``"2024-01-01/2024-04-01"``, a (start, end) pair
    (end exclusive) or a :class:`Period`; None stays None."""
    if value is None or isinstance(value, Period):
        return value
    if isinstance(value, str):
        match = _QUARTER_RE.fullmatch(value.strip())
        if match:
            return quarter(int(match.group(1)), int(match.group(2)), source)
        if "/" in value:
            value = tuple(value.split("/", 1))
        else:
            raise ValueError(f"'{value}' is not a period (use 2024-Q1 or "
                             "2024-01-01/2024-04-01)")
    try:
        start, end = (_utc(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"'{value}' is not a period (use 2024-Q1 or "
                         "2024-01-01/2024-04-01)") from exc
    if not end > start:
        raise ValueError("the period must end after it starts")
    label = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    return Period(start, end, label, source)


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("not a date")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def infer_period(name: str, starts: pd.Series) -> Optional[Period]:
    """The return's quarter: from a ``2024Q1``/``2024-Q1`` tag in the file name; else
    the quarter holding at least 90 % of session starts; else the whole quarters from
    the first start to the last (nothing is then outside)."""
    match = _QUARTER_RE.search(Path(name).name)
    if match:
        return quarter(int(match.group(1)), int(match.group(2)), "file name")
    starts = starts.dropna()
    if starts.empty:
        return None
    naive = starts.dt.tz_convert("UTC").dt.tz_localize(None)
    quarters = naive.dt.to_period("Q")
    counts = quarters.value_counts()
    top = counts.index[0]
    if counts.iloc[0] >= 0.9 * len(quarters):
        return quarter(top.year, top.quarter, "data (quarter of 90 % or more of the starts)")
    first, last = quarters.min(), quarters.max()
    start = quarter(first.year, first.quarter).start
    end = quarter(last.year, last.quarter).end
    return Period(start, end, f"{first.year}-Q{first.quarter} to {last.year}-Q{last.quarter}",
                  "data (the quarters the sessions span)")


# --- reading inputs ---------------------------------------------------------------------

@dataclass
class _Loaded:
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


def _issues(rows=(), fields_=(), reasons=(), operators=(), checks=()) -> pd.DataFrame:
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
check_table = device_reference_parser.check_table


def read_device_reference(text: str, name: str = "device_reference.csv") -> _Loaded:
    """A device reference CSV → canonical devices and connectors plus schema findings."""
    loaded = _Loaded(name=name, kind="device-reference")
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


def _read_bytes(data: bytes, name: str, operator: Optional[str]) -> _Loaded:
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
        loaded = _Loaded(name=name, kind=kind, error=exc.message)
        loaded.error_operators = [operator or Path(name).name.split(".")[0]]
        return loaded
    return _from_parse_result(result, name, data)


def _from_parse_result(result: schema.ParseResult, name: str, data=None) -> _Loaded:
    loaded = _Loaded(name=name, kind=result.format, rows=result.rows_read,
                     warnings=list(result.warnings))
    loaded.devices = result.table("devices")
    loaded.connectors = result.table("connectors")
    loaded.sessions = result.table("sessions")
    loaded.snapshots = result.table("status_snapshots")
    rejects = result.rejects
    fields_ = rejects["field"] if "field" in rejects.columns else \
        pd.Series(["(row)"] * len(rejects), dtype=object)
    loaded.issues = _issues(rejects["row"], fields_.fillna("(row)"), rejects["reason"],
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


# --- OCPI Locations: field checks on the raw objects -------------------------------------

def _ocpi_enums() -> dict:
    specs = {f["name"]: f for f in device_reference_schema()["fields"]}
    return {k: set(specs[k]["constraints"]["enum"])
            for k in ("standard", "format", "power_type", "parking_type")}


def _plain(value) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def _ocpi_raw_checks(loaded: _Loaded, objects: list) -> None:
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
    loaded.issues = pd.concat([loaded.issues, _issues(rows, fields_, reasons, ops, checks)],
                              ignore_index=True)
    loaded.raw_status = pd.DataFrame({"operator": pd.Series(raw_ops, dtype=object),
                                      "device_id": pd.Series(raw_ids, dtype=object),
                                      "raw": pd.Series(raw_values, dtype=object)})


# --- the checks ----------------------------------------------------------------------------

class _Builder:
    """Collects checks per operator while the inputs are examined."""

    def __init__(self, max_rows: int, max_examples: int):
        self.max_rows = max_rows
        self.max_examples = max_examples
        self.ops: dict[str, OperatorReport] = {}

    def op(self, name) -> OperatorReport:
        name = str(name) if name is not None and str(name).strip() else UNKNOWN_OPERATOR
        if name not in self.ops:
            self.ops[name] = OperatorReport(operator=name)
        return self.ops[name]

    def add(self, operator, code: str, source: str, count: int = 0, message: str = "",
            examples: Iterable[Example] = (), field_errors=(), not_checked: bool = False):
        title, severity = CHECKS[code]
        result = NOT_CHECKED if not_checked else (severity if count else PASS)
        # values from the files are quoted cut short: a report stays readable and bounded
        shown = [Example(row=ex.row, id=None if ex.id is None else clip(ex.id),
                         detail=clip(ex.detail))
                 for ex in itertools.islice(examples, self.max_examples)]
        check = Check(code=code, title=title, severity=severity, result=result,
                      count=int(count), message=clip(message, 1000), source=source,
                      field_errors=list(field_errors), examples=shown)
        report = self.op(operator)
        report.checks.append(check)
        if source and source not in report.sources:
            report.sources.append(source)
        return check

    def field_errors(self, issues: pd.DataFrame) -> list[FieldErrors]:
        out = []
        for (name, reason), group in issues.groupby(["field", "reason"], sort=True):
            rows = sorted(set(group["row"].tolist()))
            out.append(FieldErrors(field=str(name), reason=str(reason), total=len(group),
                                   rows=[int(r) for r in rows[: self.max_rows]]))
        return out


def _london_outside(devices: pd.DataFrame) -> tuple[np.ndarray, str]:
    """(outside mask, how it was decided) for devices with coordinates."""
    try:
        wards, boroughs = _london_areas()
    except Exception as exc:  # noqa: BLE001 - any failure: fall back, and say why in the report
        lon = devices["longitude"].to_numpy(float)
        lat = devices["latitude"].to_numpy(float)
        west, south, east, north = LONDON_BBOX
        inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return ~inside, ("Greater London bounding box (boundary files could not be read: "
                         f"{reason})")
    from ..analysis.areas import assign_devices
    assignment = assign_devices(devices[["device_id", "latitude", "longitude"]],
                                wards, boroughs)
    return (assignment.table["assignment_note"] == "outside").to_numpy(), \
        "GLA London wards (2018) and boroughs"


@lru_cache(maxsize=1)
def _london_areas():
    from ..analysis.areas import BOROUGHS_FILE, LONDON_SNAPSHOT, WARDS_FILES, load_area_set
    wards = load_area_set(LONDON_SNAPSHOT / WARDS_FILES[2018], level="ward",
                          version="london_wards_2018")
    boroughs = load_area_set(LONDON_SNAPSHOT / BOROUGHS_FILE, level="borough",
                             version="london_boroughs")
    return wards, boroughs


def _fmt_time(value) -> str:
    return "" if value is None or pd.isna(value) else \
        pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Run:
    def __init__(self, *, period, stale_days, as_of, operator, max_rows, max_examples,
                 progress: Progress):
        self.period = parse_period(period)
        self.stale_days = float(stale_days)
        self.as_of = _utc(as_of) if as_of is not None else None
        self.operator = operator
        self.progress = progress
        self.b = _Builder(max_rows, max_examples)
        self.inputs: list[InputSummary] = []
        self.london_method = ""
        self.timings: dict[str, float] = {}
        self.as_of_from_period: Optional[pd.Timestamp] = \
            self.period.end if self.period is not None else None
        self.effective_as_of: Optional[pd.Timestamp] = None

    # reference data: devices and connectors from every input that has them
    def reference_tables(self, loaded: list[_Loaded]):
        devices = [x.devices for x in loaded if x.devices is not None and len(x.devices)]
        connectors = [x.connectors for x in loaded
                      if x.connectors is not None and len(x.connectors)]
        dev = pd.concat(devices, ignore_index=True) if devices else schema.empty("devices")
        con = pd.concat(connectors, ignore_index=True) if connectors else \
            schema.empty("connectors")
        return dev.drop_duplicates("device_id", keep="first"), \
            con.drop_duplicates(["device_id", "connector_id"], keep="first")

    def device_checks(self, item: _Loaded, as_of: pd.Timestamp):
        devices = item.devices
        if devices is None or devices.empty:
            return
        ops = devices["operator"].fillna(UNKNOWN_OPERATOR)
        started = time.perf_counter()
        located = devices["latitude"].notna() & devices["longitude"].notna()
        outside = np.zeros(len(devices), dtype=bool)
        if located.any():
            mask, self.london_method = _london_outside(devices[located])
            outside[np.flatnonzero(located.to_numpy())[mask]] = True
        self.timings["london_check"] = self.timings.get("london_check", 0.0) + \
            time.perf_counter() - started
        updated = devices["updated_utc"].where(devices["updated_utc"].notna(),
                                               devices["created_utc"])
        limit = as_of - pd.Timedelta(days=self.stale_days)
        stale = (updated < limit) | updated.isna()
        for name in sorted(set(ops)):
            mine = (ops == name).to_numpy()
            sub = devices[mine]
            out = outside[mine]
            self.b.add(name, "outside_london", item.name, int(out.sum()),
                       f"{int(out.sum()):,} of {len(sub):,} devices are outside London "
                       f"({self.london_method or 'no coordinates'}).",
                       [Example(id=str(d), detail=f"{lat:.5f}, {lon:.5f}")
                        for d, lat, lon in zip(sub["device_id"][out], sub["latitude"][out],
                                               sub["longitude"][out])])
            st = stale[mine].to_numpy()
            upd = updated[mine]
            self.b.add(name, "stale", item.name, int(st.sum()),
                       f"{int(st.sum()):,} of {len(sub):,} devices were last updated more "
                       f"than {self.stale_days:g} days before {as_of:%Y-%m-%d}.",
                       [Example(id=str(d), detail=f"last updated {_fmt_time(u) or 'never'}")
                        for d, u in sorted(zip(sub["device_id"][st], upd[st]),
                                           key=lambda p: (pd.notna(p[1]), p[1]))])
            report = self.b.op(name)
            report.devices += len(sub)
            report.rapid_devices += int(sub["power_class"].isin(RAPID_CLASSES).sum())
        if item.connectors is not None and len(item.connectors):
            owner = dict(zip(devices["device_id"], ops))
            per = item.connectors["device_id"].map(owner).fillna(UNKNOWN_OPERATOR)
            for name, count in per.value_counts().items():
                self.b.op(name).connectors += int(count)

    def schema_checks(self, item: _Loaded, operators: list[str]):
        issues = item.issues if item.issues is not None else _issues()
        if item.kind == "ncr" and len(issues):  # rows the parser dropped: owner unknown
            issues = issues.assign(operator=UNKNOWN_OPERATOR)
        if item.kind != "usage-return" and len(issues):
            extra = set(issues["operator"].fillna(UNKNOWN_OPERATOR)) - set(operators)
            operators = list(operators) + sorted(extra)
        for name in operators:
            if item.kind == "usage-return":
                mine = issues
            else:
                mine = issues[issues["operator"].fillna(UNKNOWN_OPERATOR) == name]
            for code in ("schema", "duplicate_ids"):
                sub = mine[mine["check"] == code]
                rows = sub["row"].nunique()
                what = "row(s) with an invalid or missing field" if code == "schema" \
                    else "row(s) repeating an id"
                errors_ = self.b.field_errors(sub)
                top = "; ".join(f"{e.field} {e.reason} (\u00d7{e.total:,})"
                                for e in sorted(errors_, key=lambda e: -e.total)[:3])
                more = f"; and {len(errors_) - 3} more" if len(errors_) > 3 else ""
                self.b.add(name, code, item.name, int(rows),
                           f"{rows:,} {what}: {top}{more}." if rows else "No problems found.",
                           field_errors=errors_)

    def status_checks(self, item: _Loaded):
        raw = item.raw_status
        if raw is None or raw.empty:
            return
        for name, group in raw.groupby("operator", sort=True):
            values = group["raw"].astype(str)
            standard = values.isin(schema.STATUS_VALUES)
            odd = values[~standard]
            examples = []
            for value, count in odd.value_counts().items():
                status, known = normalise_status(value)
                how = f"read as {status}" if known else "not recognised, counted as UNKNOWN"
                examples.append(Example(id=str(value), detail=f"{count:,} EVSE(s); {how}"))
            self.b.add(name, "unknown_status", item.name, int(len(odd)),
                       f"{len(odd):,} of {len(values):,} status values are not OCPI 2.2.1 "
                       "EVSE status values." if len(odd) else
                       f"All {len(values):,} status values are OCPI 2.2.1 values.",
                       examples)

    def return_checks(self, item: _Loaded, ref_devices: pd.DataFrame,
                      ref_connectors: pd.DataFrame, have_reference: bool):
        sessions = item.sessions
        rows = item.session_rows
        name = self.return_operator(item, ref_devices)
        self.b.op(name).sessions += len(sessions)
        self.schema_checks(item, [name])
        period = self.period or infer_period(item.name, sessions["start_utc"])
        summary = self.inputs[-1]
        summary.operators = [name]
        if period is not None:
            summary.period, summary.period_source = period.label, period.source
            if self.as_of_from_period is None or period.end > self.as_of_from_period:
                self.as_of_from_period = period.end
        # outside the period
        if period is None:
            self.b.add(name, "outside_period", item.name, message="No sessions and no "
                       "period given.", not_checked=True)
        else:
            outside = ~period.contains(sessions["start_utc"]).to_numpy()
            self.b.add(name, "outside_period", item.name, int(outside.sum()),
                       f"{int(outside.sum()):,} of {len(sessions):,} sessions start outside "
                       f"{period.label} (period taken from: {period.source}).",
                       [Example(row=int(r), id=f"{d} / {c}", detail=f"starts {_fmt_time(s)}")
                        for r, d, c, s in zip(rows[outside], sessions["device_id"][outside],
                                              sessions["connector_id"][outside],
                                              sessions["start_utc"][outside])])
        self.overlap_check(name, item)
        if not have_reference:
            for code in ("not_in_reference", "not_in_return", "impossible_energy"):
                self.b.add(name, code, item.name, message="No device reference data given.",
                           not_checked=True)
            return
        self.reference_checks(name, item, ref_devices, ref_connectors)

    def return_operator(self, item: _Loaded, ref_devices: pd.DataFrame) -> str:
        if self.operator:
            return self.operator
        ids = item.sessions["device_id"].dropna().unique()
        if len(ref_devices) and len(ids):
            owners = ref_devices.set_index("device_id")["operator"].reindex(ids).dropna()
            if len(owners):
                return str(owners.value_counts().index[0])
        return Path(item.name).name.split(".")[0]

    def overlap_check(self, name: str, item: _Loaded):
        s = item.sessions
        frame = pd.DataFrame({
            "row": item.session_rows,
            "key": s["device_id"].fillna("") + "\x1f" + s["connector_id"].fillna(""),
            "start": _ns(s["start_utc"]),
            "end": _ns(s["end_utc"].where(s["end_utc"].notna(), s["start_utc"])),
        }).sort_values(["key", "start", "row"], kind="stable")
        running = frame.groupby("key", sort=False)["end"].cummax()
        before = running.groupby(frame["key"], sort=False).shift(1)
        hit = (frame["start"] < before).to_numpy()
        prior_row = _row_of_running_max(frame)
        flagged = frame[hit]
        examples = [Example(row=int(r), id=k.replace("\x1f", " / "),
                            detail=f"starts {_fmt_ns(st)} before the session in row "
                                   f"{int(p)} has ended")
                    for r, k, st, p in zip(flagged["row"], flagged["key"], flagged["start"],
                                           prior_row[hit])]
        self.b.add(name, "overlapping_sessions", item.name, int(hit.sum()),
                   f"{int(hit.sum()):,} session(s) start while an earlier session on the same "
                   "connector is still plugged in.", examples)

    def reference_checks(self, name, item, ref_devices, ref_connectors):
        s = item.sessions
        rows = item.session_rows
        known_devices = set(ref_devices["device_id"])
        known_pairs = set(zip(ref_connectors["device_id"], ref_connectors["connector_id"]))
        device_known = s["device_id"].isin(known_devices).to_numpy()
        pair_known = np.array([p in known_pairs for p in zip(s["device_id"],
                                                              s["connector_id"])], dtype=bool)
        unknown_devices = sorted(set(s["device_id"][~device_known].dropna()))
        unknown_pairs = sorted({(d, c) for d, c, k, pk in zip(
            s["device_id"], s["connector_id"], device_known, pair_known) if k and not pk})
        first_row = {}
        for r, d, c in zip(rows, s["device_id"], s["connector_id"]):
            first_row.setdefault((d, None), r)
            first_row.setdefault((d, c), r)
        examples = [Example(row=int(first_row[(d, None)]), id=str(d),
                            detail="device not in the reference data")
                    for d in unknown_devices]
        examples += [Example(row=int(first_row[(d, c)]), id=f"{d} / {c}",
                             detail="connector not listed for this device")
                     for d, c in unknown_pairs]
        count = len(unknown_devices) + len(unknown_pairs)
        self.b.add(name, "not_in_reference", item.name, count,
                   f"{len(unknown_devices):,} device(s) and {len(unknown_pairs):,} "
                   f"connector(s) in the return are not in the reference data "
                   f"({int((~pair_known).sum()):,} sessions).", examples)
        mine = ref_devices[ref_devices["operator"].fillna(UNKNOWN_OPERATOR) == name]
        silent = sorted(set(mine["device_id"]) - set(s["device_id"].dropna()))
        self.b.add(name, "not_in_return", item.name, len(silent),
                   f"{len(silent):,} of {len(mine):,} reference devices of {name} have no "
                   "session in the return (unused, or missing from the return).",
                   [Example(id=str(d), detail="no session") for d in silent])
        # rated power: the connector's, else the device's highest
        kw = pd.Series(list(zip(s["device_id"], s["connector_id"])), index=s.index,
                       dtype=object).map(
            dict(zip(zip(ref_connectors["device_id"], ref_connectors["connector_id"]),
                     ref_connectors["power_kw"]))).astype(float)
        kw = kw.where(kw.notna(), s["device_id"].map(
            dict(zip(ref_devices["device_id"], ref_devices["max_power_kw"]))).astype(float))
        hours = (s["end_utc"] - s["start_utc"]).dt.total_seconds().to_numpy(float) / 3600.0
        limit = kw.to_numpy(float) * hours
        kwh = s["kwh"].to_numpy(float)
        checked = np.isfinite(limit) & np.isfinite(kwh)
        bad = checked & (kwh > limit + 1e-9)
        self.b.add(name, "impossible_energy", item.name, int(bad.sum()),
                   f"{int(bad.sum()):,} of {int(checked.sum()):,} sessions with a known "
                   "rating report more energy than the connector can deliver in the "
                   "plugged-in time"
                   + (f"; {int((~checked).sum()):,} could not be checked (rating or end "
                      "unknown)." if (~checked).any() else "."),
                   [Example(row=int(r), id=f"{d} / {c}",
                            detail=f"{e:g} kWh in {h:.2f} h at {k:g} kW (at most "
                                   f"{k * h:.2f} kWh)")
                    for r, d, c, e, h, k in zip(rows[bad], s["device_id"][bad],
                                                s["connector_id"][bad], kwh[bad], hours[bad],
                                                kw.to_numpy(float)[bad])])


def _ns(times: pd.Series) -> np.ndarray:
    values = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    return values.astype("int64")


def _fmt_ns(ns) -> str:
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _row_of_running_max(frame: pd.DataFrame) -> np.ndarray:
    """For each session (in frame order, sorted by connector and start), the row of the
    earlier session on the same connector with the latest end so far (0 for none)."""
    key = frame["key"]
    running = frame.groupby("key", sort=False)["end"].cummax()
    before = running.groupby(key, sort=False).shift(1)
    new_max = before.isna() | (frame["end"] > before)
    holder = frame["row"].where(new_max).groupby(key, sort=False).ffill()
    return holder.groupby(key, sort=False).shift(1).fillna(0).to_numpy("int64")


# --- reliability ----------------------------------------------------------------------------

RELIABILITY_FIGURES = ["observed_h", "working_h", "down_h", "excluded_h", "not_live_h",
                       "evses", "observations", "reliability", "result"]


def reliability(snapshots: pd.DataFrame, devices: Optional[pd.DataFrame] = None,
                start=None, end=None, *, by: str = "device",
                max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                min_observed_hours: float = MIN_OBSERVED_HOURS) -> pd.DataFrame:
    """Observed hours per regulation group and reliability per device (or EVSE).

    Only observed time counts (:func:`.utilisation.status_occupancy`, the same
    computation as uptime in utilisation): each observation of an EVSE
    (``device_id`` + ``evse_uid``) holds until its next observation, for at most
    ``max_gap_hours``; longer gaps and the time after a last observation beyond
    the cap are unobserved. Time is clipped to [start, end) when given.

    Returns one row per device (``by="evse"``: per EVSE, with ``evse_uid``):
    device_id, operator, power_class, observed_h, working_h, down_h, excluded_h,
    not_live_h, evses (with observed time), observations (in the window),
    reliability (NaN without working or down time) and result: pass or fail
    against :data:`RELIABILITY_TARGET`, or :data:`NOT_ENOUGH` under
    ``min_observed_hours`` counted (working + down) hours.
    """
    if by not in ("device", "evse"):
        raise ValueError("by must be 'device' or 'evse'")
    keys = ["device_id"] + (["evse_uid"] if by == "evse" else [])
    columns = keys + ["operator", "power_class"] + RELIABILITY_FIGURES
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if snapshots is None or not len(snapshots):
        return empty
    seen = ns_utc(snapshots["observed_utc"])
    seen = seen[seen != NAT]
    if not len(seen):
        return empty
    lo = _ns(pd.Series([_utc(start)]))[0] if start is not None else int(seen.min())
    hi = _ns(pd.Series([_utc(end)]))[0] if end is not None else \
        int(seen.max()) + int(max_gap_hours * 3.6e12)
    if hi <= lo:
        return empty
    table = status_occupancy(snapshots, by=by, max_gap_hours=max_gap_hours,
                             bounds=np.array([lo, hi], dtype=np.int64))
    if not len(table):
        return empty
    out = pd.DataFrame({k: table[k].to_numpy(object) for k in keys})
    for name, column in (("observed_h", "status_observed_hours"),
                         ("working_h", "working_hours"), ("down_h", "down_hours"),
                         ("excluded_h", "excluded_hours"), ("not_live_h", "not_live_hours")):
        out[name] = table[column].to_numpy(float)
    out["evses"] = table["evses"].to_numpy("int64")
    out["observations"] = table["status_observations"].to_numpy("int64")
    if devices is not None and len(devices):
        meta = devices.drop_duplicates("device_id").set_index("device_id")
        out["operator"] = out["device_id"].map(meta["operator"])
        out["power_class"] = out["device_id"].map(meta["power_class"])
    else:
        out["operator"] = None
        out["power_class"] = None
    out["operator"] = out["operator"].where(out["operator"].notna(), UNKNOWN_OPERATOR)
    out["reliability"] = _ratio(out["working_h"], out["down_h"])
    out["result"] = _results(out["working_h"] + out["down_h"], out["reliability"],
                             min_observed_hours)
    return out[columns]


def _ratio(working, down):
    working = np.asarray(working, dtype=float)
    total = working + np.asarray(down, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, working / np.where(total > 0, total, 1), np.nan)


def _results(counted, ratio, min_observed_hours: float) -> np.ndarray:
    counted = np.asarray(counted, dtype=float)
    ratio = np.asarray(ratio, dtype=float)
    enough = (counted > 0) & (counted + 1e-9 >= min_observed_hours)
    return np.where(~enough, NOT_ENOUGH,
                    np.where(ratio >= RELIABILITY_TARGET, PASS, FAIL)).astype(object)


def _reliability_record(scope, ident, operator, rows: pd.DataFrame, power_class=None,
                        min_observed_hours: float = MIN_OBSERVED_HOURS) -> Reliability:
    working, down = float(rows["working_h"].sum()), float(rows["down_h"].sum())
    ratio = _ratio([working], [down])[0]
    return Reliability(scope=scope, id=str(ident), operator=str(operator),
                       power_class=power_class, working_h=round(working, 6),
                       down_h=round(down, 6), excluded_h=round(float(rows["excluded_h"].sum()), 6),
                       not_live_h=round(float(rows["not_live_h"].sum()), 6),
                       evses=int(rows["evses"].sum()),
                       observations=int(rows["observations"].sum()),
                       reliability=None if np.isnan(ratio) else float(ratio),
                       observed_h=round(float(rows["observed_h"].sum()), 6),
                       result=str(_results([working + down], [ratio], min_observed_hours)[0]))


def operator_reliability(table: pd.DataFrame,
                         min_observed_hours: float = MIN_OBSERVED_HOURS) -> pd.DataFrame:
    """Per operator, from a :func:`reliability` table (by device or EVSE): one row for
    all its devices (scope ``operator``) and one for its rapid network (devices of
    50 kW and more, scope ``rapid network``: the regulations' 99 % test), with the
    observed hours, observations and result of each."""
    records = []
    for name in sorted(set(table["operator"])):
        mine = table[table["operator"] == name]
        records.append(_reliability_record("operator", name, name, mine,
                                           min_observed_hours=min_observed_hours))
        rapid = mine[mine["power_class"].isin(RAPID_CLASSES)]
        if len(rapid):
            records.append(_reliability_record("rapid network", name, name, rapid, "rapid",
                                               min_observed_hours))
    columns = ["operator", "scope", "counted_h"] + RELIABILITY_FIGURES
    rows = [{**asdict(r), "counted_h": round(r.counted_h, 6)} for r in records]
    return pd.DataFrame(rows, columns=columns) if rows else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def check_reliability_options(max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                              min_observed_hours: float = MIN_OBSERVED_HOURS) -> None:
    """Raise :class:`errors.EvChargepointsError` for a cap or minimum that makes no sense."""
    try:
        gap, minimum = float(max_gap_hours), float(min_observed_hours)
    except (TypeError, ValueError):
        raise errors.EvChargepointsError("The gap an observation may cover and the minimum "
                                         "observed time must be numbers of hours.") from None
    if not 0 < gap < float("inf"):
        raise errors.EvChargepointsError("The gap an observation may cover must be more "
                                         f"than 0 hours (got {max_gap_hours!r}).")
    if not 0 <= minimum < float("inf"):
        raise errors.EvChargepointsError("The minimum observed time must be 0 hours or more "
                                         f"(got {min_observed_hours!r}).")


def describe_hours(rec: Reliability) -> str:
    """The observed time behind a reliability figure, in words."""
    return (f"{rec.counted_h:,.1f} counted hours ({rec.observed_h:,.1f} observed hours, "
            f"{rec.observations:,} observations of {rec.evses:,} EVSE(s))")


def describe_record(rec: Reliability) -> str:
    """'rapid network 96.70% over 45.5 counted hours (...): fail'."""
    figure = f"{rec.reliability:.2%}" if rec.reliability is not None else "n/a"
    return f"{rec.scope} {figure} over {describe_hours(rec)}: {rec.result}"


def describe_rapid(op: OperatorReport) -> str:
    """' — rapid network 96.70% over ... hours: fail' for one-line summaries ('' when
    the operator has no rapid device with status history)."""
    rec = op.rapid_reliability
    return "" if rec is None else f" \u2014 {describe_record(rec)}"


# --- facade ---------------------------------------------------------------------------------

def _as_progress(progress) -> Progress:
    if progress is None:
        return Progress()
    if isinstance(progress, Progress):
        return progress
    if callable(progress):
        return Progress(progress)
    raise TypeError("progress must be a Progress or a callable(percent, message)")




def validate_files(paths: list, reference=None, period=None,
                   stale_days: float = DEFAULT_STALE_DAYS, out_dir=None,
                   progress=None, *, as_of=None, operator: Optional[str] = None,
                   status_snapshots: Optional[pd.DataFrame] = None,
                   status_devices: Optional[pd.DataFrame] = None,
                   status_name: str = "status history",
                   max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                   min_observed_hours: float = MIN_OBSERVED_HOURS,
                   max_rows: int = DEFAULT_MAX_ROWS,
                   max_examples: int = DEFAULT_MAX_EXAMPLES) -> ConformanceReport:
    """Validate files and return the per-operator conformance report.

    ``paths``: usage returns, device reference CSVs, NCR exports and OCPI Locations
    JSON (any of them gzip-compressed); each is checked and reported. ``reference``:
    a path or list of paths (device reference, NCR or OCPI Locations) used only to
    look devices up for the returns, not reported on; device reference data among
    ``paths`` is used for that too. ``period``: the return period (``"2024-Q1"``,
    ``"2024-01-01/2024-04-01"`` or a (start, end) pair); else per return from its file
    name or data (:func:`infer_period`). ``as_of``: the date ``stale_days`` counts back
    from (default: the end of the latest return period, else now). ``operator``: the
    operator of the usage returns (default: the operator owning most of a return's
    devices in the reference data, else the file name). ``status_snapshots``: a status
    history (canonical table, e.g. a store's watched history, listed as input
    ``status_name``) to compute reliability from, with the snapshots of any OCPI
    Locations input; ``status_devices``: devices (canonical) naming the operator and
    power class of its devices where the inputs do not. Reliability counts observed
    time only (:func:`reliability`, ``max_gap_hours``); under ``min_observed_hours``
    counted hours it is reported as :data:`NOT_ENOUGH`, not judged. ``out_dir``: also
    write report.html and report.json there. ``progress``: a :class:`Progress` or a
    callable(percent, message).

    Errors in the files are findings in the report, never exceptions; only a path that
    is not a file, or a file that is not text at all (a GeoPackage, a workbook:
    :class:`errors.NotText`), raises :class:`errors.ParseError`, before anything is
    written.
    """
    sources = []
    for path in list(paths):
        path = Path(path)
        if not path.is_file():
            raise errors.ParseError("the file does not exist or is not a file", str(path))
        sources.append((path.name, path.read_bytes()))
    refs = []
    for path in ([] if reference is None else
                 [reference] if isinstance(reference, (str, Path)) else list(reference)):
        path = Path(path)
        if not path.is_file():
            raise errors.ParseError("the reference file does not exist", str(path))
        refs.append((path.name, path.read_bytes()))
    return validate_sources(sources, refs, period=period, stale_days=stale_days,
                            out_dir=out_dir, progress=progress, as_of=as_of,
                            operator=operator, status_snapshots=status_snapshots,
                            status_devices=status_devices, status_name=status_name,
                            max_gap_hours=max_gap_hours,
                            min_observed_hours=min_observed_hours,
                            max_rows=max_rows, max_examples=max_examples)


def validate_ocpi_feed(url: str, transport, *, token: Optional[str] = None,
                       token_encoding: str = "base64", discover: bool = False,
                       reference=None, period=None, stale_days: float = DEFAULT_STALE_DAYS,
                       as_of=None, out_dir=None, progress=None, http=None,
                       max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                       min_observed_hours: float = MIN_OBSERVED_HOURS,
                       max_rows: int = DEFAULT_MAX_ROWS,
                       max_examples: int = DEFAULT_MAX_EXAMPLES) -> ConformanceReport:
    """Fetch an OCPI 2.2.1 Locations feed and validate it.

    ``url`` is the Locations endpoint (``discover=False``, typical for UK open feeds)
    or the versions URL (``discover=True``). ``transport`` is any
    :class:`transport.Transport` (requests headless, QGIS's network stack in QGIS);
    ``http`` an :class:`http.HttpClient` to use instead. Each EVSE's status is
    observed once, at its ``last_updated``, and counts for at most ``max_gap_hours``:
    one fetch is far too little observed time for the 99 % test (watch the feed into
    a store and validate with its history for that).
    """
    import json

    from ..sources.http import HttpClient
    from ..sources.ocpi_feed import OcpiClient

    prog = _as_progress(progress)
    client = OcpiClient(http or HttpClient(transport), token=token,
                        token_encoding=token_encoding,
                        versions_url=url if discover else None,
                        endpoints=None if discover else {"locations": url})
    prog.report(0, "Fetching OCPI Locations")
    started = time.perf_counter()
    fetched = client.fetch_locations(is_cancelled=prog.cancelled)
    fetch_s = time.perf_counter() - started
    name = fetched.report.url
    payload = json.dumps(fetched.items).encode("utf-8")
    refs = []
    for path in ([] if reference is None else
                 [reference] if isinstance(reference, (str, Path)) else list(reference)):
        refs.append((Path(path).name, Path(path).read_bytes()))
    report = validate_sources([(name, payload)], refs, period=period, stale_days=stale_days,
                              out_dir=None, progress=prog.scaled(20, 100),
                              as_of=as_of if as_of is not None else pd.Timestamp.now("UTC"),
                              max_gap_hours=max_gap_hours,
                              min_observed_hours=min_observed_hours,
                              max_rows=max_rows, max_examples=max_examples,
                              extra_warnings={name: fetched.report.warnings})
    report.timings_s["fetch"] = round(fetch_s, 3)
    if out_dir is not None:
        from .report import write_report
        write_report(report, out_dir)
    return report


def validate_sources(sources: list, references: list = (), *, period=None,
                     stale_days: float = DEFAULT_STALE_DAYS, out_dir=None, progress=None,
                     as_of=None, operator: Optional[str] = None,
                     status_snapshots: Optional[pd.DataFrame] = None,
                     status_devices: Optional[pd.DataFrame] = None,
                     status_name: str = "status history",
                     max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                     min_observed_hours: float = MIN_OBSERVED_HOURS,
                     max_rows: int = DEFAULT_MAX_ROWS,
                     max_examples: int = DEFAULT_MAX_EXAMPLES,
                     extra_warnings: Optional[dict] = None) -> ConformanceReport:
    """Like :func:`validate_files`, for in-memory inputs: lists of (name, bytes)."""
    check_reliability_options(max_gap_hours, min_observed_hours)
    t0 = time.perf_counter()
    prog = _as_progress(progress)
    run = _Run(period=period, stale_days=stale_days, as_of=as_of, operator=operator,
               max_rows=max_rows, max_examples=max_examples, progress=prog)
    total = max(1, len(sources) + len(references))
    loaded: list[_Loaded] = []
    lookups: list[_Loaded] = []
    for i, (name, data) in enumerate(list(sources) + list(references)):
        prog.check_cancelled()
        prog.report(60.0 * i / total, f"Reading {name}")
        item = _read_bytes(data, name, operator)
        for text in (extra_warnings or {}).get(name, []):
            item.warnings.append(text)
        (loaded if i < len(sources) else lookups).append(item)
    run.timings["read"] = round(time.perf_counter() - t0, 3)

    reference_items = [x for x in loaded + lookups
                       if x.kind in ("device-reference", "ncr", "ocpi-locations")
                       and x.error is None]
    ref_devices, ref_connectors = run.reference_tables(reference_items)
    have_reference = bool(len(ref_devices))

    # returns first: their periods give the default as-of date
    t1 = time.perf_counter()
    order = sorted(range(len(loaded)), key=lambda i: loaded[i].kind != "usage-return")
    summaries: dict[int, InputSummary] = {}
    for i in order:
        item = loaded[i]
        prog.check_cancelled()
        prog.report(60 + 30.0 * len(summaries) / max(1, len(loaded)), f"Checking {item.name}")
        summary = _input_summary(item)
        run.inputs.append(summary)
        summaries[i] = summary
        if item.error is not None:
            for name in item.error_operators:
                run.b.add(name, "schema" if item.kind in ("usage-return", "device-reference")
                          else "file", item.name, 1, item.error)
            summary.operators = list(item.error_operators)
            continue
        if item.kind == "usage-return":
            run.return_checks(item, ref_devices, ref_connectors, have_reference)
        elif item.kind in ("device-reference", "ncr", "ocpi-locations"):
            as_of_ = run.as_of if run.as_of is not None else run.as_of_from_period
            if as_of_ is None:
                as_of_ = pd.Timestamp.now("UTC").floor("s")
            run.effective_as_of = as_of_
            run.schema_checks(item, item.operators)
            run.device_checks(item, as_of_)
            run.status_checks(item)
        else:
            name = operator or Path(item.name).name.split(".")[0]
            run.b.add(name, "file", item.name, 1,
                      f"{item.kind} files are not part of the data standard; send a usage "
                      "return (CSV) or device reference data.")
            summary.operators = [name]
    run.inputs = [summaries[i] for i in range(len(loaded))]
    run.timings["checks"] = round(time.perf_counter() - t1, 3)
    for item in lookups:
        run.inputs.append(_input_summary(item, role="reference"))

    # reliability from every status observation available
    t2 = time.perf_counter()
    snaps = [x.snapshots for x in loaded if x.error is None and x.snapshots is not None
             and len(x.snapshots)]
    owners = ref_devices
    if status_snapshots is not None and len(status_snapshots):
        snaps.append(schema.conform(status_snapshots, "status_snapshots"))
        if status_devices is not None and len(status_devices):
            owners = pd.concat([ref_devices, schema.conform(status_devices, "devices")],
                               ignore_index=True).drop_duplicates("device_id", keep="first")
    as_of_final = run.as_of if run.as_of is not None else run.as_of_from_period
    # only observed time counts: the window is the period given, else all observations
    start, end = (run.period.start, run.period.end) if run.period is not None else \
        (None, None)
    _reliability_checks(run, pd.concat(snaps, ignore_index=True) if snaps else None,
                        owners, start, end, max_gap_hours, min_observed_hours)
    if status_snapshots is not None and len(status_snapshots):
        observed = owners.set_index("device_id")["operator"].reindex(
            pd.unique(status_snapshots["device_id"].astype(object))) if len(owners) else None
        run.inputs.append(InputSummary(
            name=status_name, kind="status-history", role="status",
            rows=len(status_snapshots),
            operators=sorted({str(o) if pd.notna(o) else UNKNOWN_OPERATOR for o in observed})
            if observed is not None else [UNKNOWN_OPERATOR]))
    run.timings["reliability"] = round(time.perf_counter() - t2, 3)

    report = ConformanceReport(
        generated_utc=_fmt_time(pd.Timestamp.now("UTC")),
        as_of_utc=_fmt_time(run.effective_as_of or as_of_final
                            or pd.Timestamp.now("UTC")),
        stale_days=run.stale_days, period=run.period.label if run.period else None,
        max_gap_hours=float(max_gap_hours), min_observed_hours=float(min_observed_hours),
        london_check=run.london_method, inputs=run.inputs,
        operators=[_finish(op) for _, op in sorted(run.b.ops.items(),
                                                   key=lambda kv: kv[0].lower())],
        definitions=dict(DEFINITIONS))
    run.timings["total"] = round(time.perf_counter() - t0, 3)
    report.timings_s = dict(run.timings)
    prog.report(100, "Conformance report ready")
    if out_dir is not None:
        from .report import write_report
        write_report(report, out_dir)
    return report


def _input_summary(item: _Loaded, role: str = "validated") -> InputSummary:
    warnings = [clip(w, 1000) for w in item.warnings[:DEFAULT_MAX_EXAMPLES]]
    if len(item.warnings) > DEFAULT_MAX_EXAMPLES:
        warnings.append(f"… {len(item.warnings) - DEFAULT_MAX_EXAMPLES:,} more warnings cut")
    return InputSummary(name=item.name, kind=item.kind, role=role, rows=item.rows,
                        operators=list(item.operators),
                        error=None if item.error is None else clip(item.error, 1000),
                        warnings=warnings)


def _reliability_checks(run: _Run, snapshots, devices, start, end,
                        max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                        min_observed_hours: float = MIN_OBSERVED_HOURS):
    if snapshots is None or snapshots.empty:
        for op in run.b.ops.values():
            run.b.add(op.operator, "reliability", "", message="No status snapshots given.",
                      not_checked=True)
        return
    per_device = reliability(snapshots, devices, start=start, end=end,
                             max_gap_hours=max_gap_hours,
                             min_observed_hours=min_observed_hours)
    for name in sorted(set(per_device["operator"]) | set(run.b.ops)):
        mine = per_device[per_device["operator"] == name]
        report = run.b.op(name)
        if mine.empty:
            run.b.add(name, "reliability", "", message="No observed status time for this "
                      "operator's devices.", not_checked=True)
            continue
        report.reliability = _reliability_record("operator", name, name, mine,
                                                 min_observed_hours=min_observed_hours)
        rapid = mine[mine["power_class"].isin(RAPID_CLASSES)]
        report.device_reliability = [
            _reliability_record("device", r.device_id, name, mine.iloc[[i]], r.power_class,
                                min_observed_hours)
            for i, r in enumerate(mine.itertuples(index=False))]
        report.device_reliability.sort(key=lambda r: (r.reliability is None,
                                                      r.reliability or 0.0, r.id))
        if rapid.empty:
            run.b.add(name, "reliability", "status history",
                      message="No rapid devices (50 kW and more) with status history.",
                      not_checked=True)
            continue
        rec = _reliability_record("rapid network", name, name, rapid, "rapid",
                                  min_observed_hours)
        report.rapid_reliability = rec
        hours = describe_hours(rec)
        if rec.result == NOT_ENOUGH:
            so_far = f"; reliability so far {rec.reliability:.2%}" \
                if rec.reliability is not None else ""
            run.b.add(name, "reliability", "status history",
                      message=f"Not enough observed time to judge: {hours} of "
                              f"{len(rapid):,} rapid device(s); the test needs at least "
                              f"{min_observed_hours:g} counted hours{so_far}.",
                      not_checked=True)
            continue
        below = rec.result == FAIL
        worst = [Example(id=r.id, detail=f"{r.reliability:.2%} over {r.counted_h:,.1f} "
                                         f"counted h ({r.down_h:.1f} h not working)")
                 for r in report.device_reliability
                 if r.power_class in RAPID_CLASSES and r.reliability is not None
                 and r.reliability < RELIABILITY_TARGET]
        run.b.add(name, "reliability", "status history", 1 if below else 0,
                  f"Rapid network reliability {rec.reliability:.2%} over {hours} of "
                  f"{len(rapid):,} rapid device(s) (target {RELIABILITY_TARGET:.0%}).", worst)


def _finish(op: OperatorReport) -> OperatorReport:
    fails = [c for c in op.checks if c.result == FAIL]
    warns = [c for c in op.checks if c.result == WARN]
    op.verdict = FAIL if fails else WARN if warns else PASS
    op.reasons = [f"{c.title}: {c.message}" for c in fails + warns]
    return op
