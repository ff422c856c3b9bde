"""The data standard's rules and the conformance report's types.

The constants (version, defaults, the 99 % reliability target), the checks with
their severity and the definitions printed in every report, the report records
(:class:`ConformanceReport` down to :class:`Example`, each to and from a plain
dict for JSON) and return periods (:func:`parse_period`, :func:`infer_period`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

import pandas as pd

from ..analysis.uptime import DEFAULT_MAX_GAP_HOURS
from ..calendar import as_utc
from ..sources.parsers import device_reference as device_reference_parser

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
        start, end = (to_utc(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"'{value}' is not a period (use 2024-Q1 or "
                         "2024-01-01/2024-04-01)") from exc
    if not end > start:
        raise ValueError("the period must end after it starts")
    label = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    return Period(start, end, label, source)


def to_utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("not a date")
    return as_utc(stamp)


def format_utc(value) -> str:
    return "" if value is None or pd.isna(value) else \
        pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


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
