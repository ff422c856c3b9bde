"""Canonical tables: the only thing that crosses from parsing to analysis.

Every parser produces these pandas DataFrames, with exactly these columns and
dtypes (see :func:`conform`). Times are timezone-aware UTC. Text columns use
pandas' ``object`` dtype with ``None`` for missing values so the code runs on
pandas 1.5 and 2.x alike.

devices          one row per charge device (NCR ``chargeDeviceID``, OCPI Location)
connectors       one row per connector of a device
sessions         one row per charging session
status_snapshots one row per observation of an EVSE/connector status
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

TEXT = "object"
FLOAT = "float64"
INT = "int64"
UTC = "datetime64[ns, UTC]"
BOOL = "bool"

TABLES: dict[str, dict[str, str]] = {
    "devices": {
        "device_id": TEXT,        # operator/registry id, unique per source
        "name": TEXT,
        "operator": TEXT,         # who runs it (NCR deviceControllerName, OCPI operator)
        "owner": TEXT,
        "latitude": FLOAT,        # WGS84
        "longitude": FLOAT,
        "address": TEXT,
        "postcode": TEXT,
        "location_type": TEXT,    # e.g. On-street, Public car park
        "status": TEXT,           # In service / Out of service / planned ...
        "connector_count": INT,
        "max_power_kw": FLOAT,    # highest connector rating, NaN if unknown
        "power_class": TEXT,      # slow / fast / rapid / ultra, from max_power_kw
        "created_utc": UTC,
        "updated_utc": UTC,
        "source": TEXT,           # ncr / ocpi:<feed> / ...
        "reference": TEXT,        # the registry's own reference (NCR reference); cross-
                                  # referenced with OCPI evse_ids by reconcile.py
    },
    "connectors": {
        "device_id": TEXT,
        "connector_id": TEXT,     # 1..8 for NCR, "<evse_uid>/<connector id>" for OCPI
        "evse_uid": TEXT,
        "standard": TEXT,         # e.g. Type 2 Mennekes (IEC62196), IEC_62196_T2
        "power_type": TEXT,       # AC / DC / None
        "power_kw": FLOAT,
        "power_class": TEXT,
        "status": TEXT,
        "evse_id": TEXT,          # OCPI EVSE evse_id (eMI3, e.g. GB*UBI*E1100001777*1)
    },
    "sessions": {
        "session_key": TEXT,      # stable identity: source id, else content hash
        "source_session_id": TEXT,
        "device_id": TEXT,
        "connector_id": TEXT,
        "start_utc": UTC,
        "end_utc": UTC,           # NaT while a session is still open
        "charging_end_utc": UTC,  # when energy stopped flowing, if known
        "kwh": FLOAT,             # NaN when not reported
        "source": TEXT,
    },
    "status_snapshots": {
        "observed_utc": UTC,
        "device_id": TEXT,
        "evse_uid": TEXT,
        "status": TEXT,           # normalised OCPI EVSE status (see STATUS_VALUES)
        "raw_status": TEXT,       # as the feed sent it
        "source": TEXT,
    },
}

# OCPI 2.2.1 EVSE statuses, and how the 2023 UK regulations group them for uptime.
STATUS_VALUES = ("AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER",
                 "PLANNED", "REMOVED", "RESERVED", "UNKNOWN")
RELIABILITY_GROUP = {
    "AVAILABLE": "working", "CHARGING": "working", "RESERVED": "working",
    "UNKNOWN": "excluded", "BLOCKED": "excluded",
    "INOPERATIVE": "down", "OUTOFORDER": "down",
    "PLANNED": "not_live", "REMOVED": "not_live",
}

# DfT power bands (kW): slow 3-7, fast 8-49, rapid 50-149, ultra 150+.
POWER_CLASSES = ("slow", "fast", "rapid", "ultra")
POWER_CLASS_LOWER_KW = {"slow": 0.0, "fast": 8.0, "rapid": 50.0, "ultra": 150.0}


def power_class(kw: float) -> str | None:
    """DfT power band for a rating in kW; None when unknown or not positive."""
    if kw is None or kw != kw or kw <= 0:  # kw != kw: NaN
        return None
    if kw >= 150:
        return "ultra"
    if kw >= 50:
        return "rapid"
    if kw >= 8:
        return "fast"
    return "slow"


def power_classes(kw: pd.Series) -> pd.Series:
    """Vectorised :func:`power_class`."""
    values = pd.to_numeric(kw, errors="coerce")
    out = pd.Series([None] * len(values), index=values.index, dtype=TEXT)
    out[(values > 0) & (values < 8)] = "slow"
    out[(values >= 8) & (values < 50)] = "fast"
    out[(values >= 50) & (values < 150)] = "rapid"
    out[values >= 150] = "ultra"
    return out


def empty(table: str) -> pd.DataFrame:
    return conform(pd.DataFrame(), table)


def conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``frame`` with exactly the canonical columns, order and dtypes.

    Missing columns are added empty; extra columns are dropped.
    """
    spec = TABLES[table]
    out = {}
    n = len(frame)
    for column, dtype in spec.items():
        if column in frame.columns:
            values = frame[column]
        else:
            values = pd.Series([None] * n, index=frame.index, dtype=TEXT)
        out[column] = _as_dtype(values, dtype)
    result = pd.DataFrame(out, index=frame.index)
    return result.reset_index(drop=True)


def _as_dtype(values: pd.Series, dtype: str) -> pd.Series:
    if dtype == UTC:
        out = pd.to_datetime(values, utc=True, errors="coerce")
        if str(out.dtype) != UTC:  # pandas 2 keeps a scalar's unit (e.g. seconds): use ns
            inside = (out >= pd.Timestamp.min.tz_localize("UTC")) & (
                out <= pd.Timestamp.max.tz_localize("UTC"))
            out = out.where(inside).astype(UTC)
        return out
    if dtype == FLOAT:
        return pd.to_numeric(values, errors="coerce").astype(FLOAT)
    if dtype == INT:
        return pd.to_numeric(values, errors="coerce").fillna(0).astype(INT)
    if dtype == BOOL:
        return values.fillna(False).astype(BOOL)
    out = values.astype(TEXT)
    return out.where(out.notna(), None)


@dataclass
class ParseResult:
    """What a parser read from one file or payload.

    ``tables`` holds canonical tables keyed by name. ``rejects`` lists rows that
    could not be used, each with its 1-based row number in the source and a
    plain-words reason; nothing is dropped without a line here. ``extract``: the
    devices are some rows and columns of the source's list (a registry extract), so
    an import adds the devices a store lacks and never closes or rewrites others.
    """

    format: str
    source: str
    rows_read: int
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"row": pd.Series(dtype=INT),
                                              "reason": pd.Series(dtype=TEXT)}))
    warnings: list[str] = field(default_factory=list)
    extract: bool = False

    def table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, empty(name))

    def with_fields_in_reasons(self) -> ParseResult:
        """This result with each reject's field named in its reason ("kwh: is below the
        minimum of 0"), as an import stores and reports it."""
        rejects = self.rejects
        if "field" not in rejects.columns or rejects.empty:
            return self
        named = rejects["field"].notna() & rejects["field"].astype(str).ne("")
        rejects = rejects.assign(reason=rejects["reason"].astype(str).where(
            ~named, rejects["field"].astype(str) + ": " + rejects["reason"].astype(str)))
        return replace(self, rejects=rejects)

    def reject_counts(self) -> dict[str, int]:
        if self.rejects.empty:
            return {}
        return {str(k): int(v) for k, v in self.rejects["reason"].value_counts().items()}
