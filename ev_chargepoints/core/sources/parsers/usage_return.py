"""The plugin's own quarterly usage return (CSV) → sessions.

The rules live in one Frictionless Table Schema, ``resources/standard/
usage_return.schema.json``; this parser reads it (``load_schema``) and the
conformance validator uses the same file. Each field error becomes one reject
line with the 1-based data row, the field and a reason.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ... import errors, paths, schema
from .common import DEFAULT_LIMITS, Limits, content_keys, parse_iso_utc, read_csv_text

FORMAT = "usage-return"
SCHEMA_NAME = "usage_return"
_TZ_SUFFIX = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")
_ISO_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")


@lru_cache(maxsize=8)
def _load_schema_text(name: str) -> str:
    path = paths.resource("standard", f"{name}.schema.json")
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ParseError(f"the schema '{name}' is not installed ({path})") from exc


def load_schema(name: str = SCHEMA_NAME) -> dict:
    """The Table Schema ``resources/standard/<name>.schema.json`` as a dict (a fresh copy)."""
    try:
        return json.loads(_load_schema_text(name))
    except ValueError as exc:
        raise errors.ParseError(f"the schema '{name}' is not valid JSON ({exc})") from exc


def required_fields(table_schema: dict) -> list[str]:
    return [f["name"] for f in table_schema["fields"]
            if f.get("constraints", {}).get("required")]


def looks_like_usage_return(header) -> bool:
    """device_id plus at least two more of the schema's columns (so that a return with a
    column missing still reaches the parser and gets a precise message)."""
    names = {str(h).strip().lower() for h in header}
    known = {f["name"] for f in load_schema()["fields"]}
    return "device_id" in names and len(names & known) >= 3


def parse_text(text: str, name: str = "usage_return.csv", source: str | None = None,
               limits: Limits = DEFAULT_LIMITS,
               table_schema: dict | None = None) -> schema.ParseResult:
    table_schema = table_schema or load_schema()
    source = source or f"usage-return:{os.path.basename(name)}"
    raw = read_csv_text(text, name, limits)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    fields = {f["name"]: f for f in table_schema["fields"]}
    missing = [f for f in required_fields(table_schema) if f not in raw.columns]
    if missing:
        raise errors.ParseError(
            f"required column(s) missing: {', '.join(missing)} (a usage return has "
            f"{', '.join(fields)})", name)
    warnings = []
    extra = [c for c in raw.columns if c not in fields]
    if extra:
        warnings.append(f"column(s) not in the usage-return schema ignored: {', '.join(extra)}")

    n_rows = len(raw)
    rows = np.arange(1, n_rows + 1)
    missing_values = set(table_schema.get("missingValues", [""]))
    problems: list[tuple[np.ndarray, str, str]] = []  # (row mask, field, reason)
    values: dict[str, pd.Series] = {}
    for field_name, spec in fields.items():
        text_values = (raw[field_name].str.strip() if field_name in raw.columns
                       else pd.Series("", index=raw.index, dtype=object))
        is_missing = text_values.isin(missing_values)
        constraints = spec.get("constraints", {})
        if constraints.get("required"):
            problems.append((is_missing.to_numpy(), field_name, "required value is missing"))
        parsed, field_problems = _typed(text_values, is_missing, spec)
        problems += [(mask, field_name, reason) for mask, reason in field_problems]
        values[field_name] = parsed
        if constraints.get("unique"):
            dup = ~is_missing & text_values.duplicated(keep="first")
            problems.append((dup.to_numpy(), field_name, "value already used in an earlier row"))

    for field_name, spec in fields.items():
        for key, compare, relation in (("x-notBefore", np.less, "before"),
                                       ("x-notAfter", np.greater, "after")):
            other = spec.get(key)
            if other and other in values:
                mine, theirs = values[field_name], values[other]
                both = mine.notna() & theirs.notna()
                bad = both & compare(mine.where(both), theirs.where(both))
                problems.append((bad.fillna(False).to_numpy(bool), field_name,
                                 f"is {relation} {other}"))

    key_fields = table_schema.get("primaryKey") or []
    if key_fields and all(k in values for k in key_fields):
        key_frame = pd.DataFrame({k: values[k] for k in key_fields})
        complete = key_frame.notna().all(axis=1)
        dup = complete & key_frame.duplicated(keep="first")
        problems.append((dup.to_numpy(), "+".join(key_fields),
                         "the same device, connector and start appear in an earlier row"))

    reject_rows, reject_fields, reject_reasons = [], [], []
    bad_row = np.zeros(n_rows, dtype=bool)
    for mask, field_name, reason in problems:
        mask = np.asarray(mask, dtype=bool)
        bad_row |= mask
        hits = rows[mask]
        reject_rows += hits.tolist()
        reject_fields += [field_name] * len(hits)
        reject_reasons += [reason] * len(hits)
    order = np.lexsort((np.asarray(reject_fields, dtype=object).astype(str),
                        np.asarray(reject_rows, dtype="int64"))) if reject_rows else []
    rejects = pd.DataFrame({
        "row": pd.Series(np.asarray(reject_rows, dtype="int64")[order] if reject_rows
                         else [], dtype="int64"),
        "reason": pd.Series([reject_reasons[i] for i in order], dtype=object),
        "field": pd.Series([reject_fields[i] for i in order], dtype=object),
    })

    keep = ~bad_row
    sessions = pd.DataFrame({
        "source_session_id": values["session_id"][keep] if "session_id" in values else None,
        "device_id": values["device_id"][keep],
        "connector_id": values["connector_id"][keep],
        "start_utc": values["start_utc"][keep],
        "end_utc": values["end_utc"][keep],
        "charging_end_utc": values["charging_end_utc"][keep]
        if "charging_end_utc" in values else pd.NaT,
        "kwh": values["kwh"][keep],
        "source": source,
    })
    hashed = content_keys(sessions["device_id"], sessions["connector_id"],
                          sessions["start_utc"], sessions["end_utc"], sessions["kwh"])
    has_id = sessions["source_session_id"].notna()
    sessions["session_key"] = hashed.where(
        ~has_id, "usage:" + sessions["device_id"].fillna("") + ":"
        + sessions["source_session_id"].fillna(""))
    return schema.ParseResult(format=FORMAT, source=source, rows_read=n_rows,
                              tables={"sessions": schema.conform(sessions, "sessions")},
                              rejects=rejects, warnings=warnings)


def _typed(text: pd.Series, is_missing: pd.Series, spec: dict):
    """(parsed values, [(row mask, reason)]) for one field per its Table Schema type."""
    kind = spec.get("type", "string")
    constraints = spec.get("constraints", {})
    present = ~is_missing
    problems = []
    if kind == "number" or kind == "integer":
        parsed = pd.to_numeric(text.where(present), errors="coerce")
        unreadable = present & parsed.isna()
        if kind == "integer":
            unreadable |= present & parsed.notna() & (parsed % 1 != 0)
        problems.append((unreadable.to_numpy(),
                         "is not an integer" if kind == "integer" else "is not a number"))
        if "minimum" in constraints:
            problems.append(((parsed < constraints["minimum"]).to_numpy(),
                             f"is below the minimum of {constraints['minimum']}"))
        if "maximum" in constraints:
            problems.append(((parsed > constraints["maximum"]).to_numpy(),
                             f"is above the maximum of {constraints['maximum']}"))
        return parsed.astype(float).where(~unreadable), problems
    if kind == "datetime":
        shaped = text.str.match(_ISO_SHAPE)
        parsed = parse_iso_utc(text.where(present & shaped, None))
        unreadable = present & parsed.isna()
        problems.append((unreadable.to_numpy(), "is not an ISO 8601 date and time"))
        if spec.get("x-requireTimezone"):
            no_zone = present & ~unreadable & ~text.str.contains(_TZ_SUFFIX)
            problems.append((no_zone.to_numpy(),
                             "has no time zone (add Z for UTC or an offset like +01:00)"))
            parsed = parsed.where(~no_zone)
        return parsed.where(~unreadable), problems
    values = text.where(present, None)
    if "maxLength" in constraints:
        problems.append(((present & (text.str.len() > constraints["maxLength"])).to_numpy(),
                         f"is longer than {constraints['maxLength']} characters"))
    if "enum" in constraints:
        problems.append(((present & ~text.isin(constraints["enum"])).to_numpy(),
                         f"is not one of {', '.join(map(str, constraints['enum']))}"))
    if "pattern" in constraints:
        pattern = re.compile(f"^(?:{constraints['pattern']})$")
        problems.append(((present & ~text.str.match(pattern)).to_numpy(),
                         "does not match the required pattern"))
    return values, problems
