"""The data standard's device reference data (CSV, one row per connector) → devices and
connectors.

The rules live in ``resources/standard/device_reference.schema.json``; the conformance
validator reads the file through :func:`read_table` too, so importing and validating
judge a row the same way. On import a row with any finding (a field that breaks its
rule, or a device + connector seen in an earlier row) is rejected with the row, field
and reason; the rest go in. Devices are kept per operator (source
``device-reference:<operator>``), so an operator's next file replaces its last one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from ... import errors, schema
from . import usage_return
from .common import DEFAULT_LIMITS, Limits, read_csv_text

FORMAT = "device-reference"
SCHEMA_NAME = "device_reference"
NO_OPERATOR = "(operator not given)"


@lru_cache(maxsize=2)
def _schema_text() -> str:
    return json.dumps(usage_return.load_schema(SCHEMA_NAME))


def load_schema() -> dict:
    """The device reference Table Schema (``resources/standard/device_reference.schema.json``)."""
    return json.loads(_schema_text())


def looks_like_device_reference(header) -> bool:
    """device_id plus at least three columns only device reference data has."""
    names = {str(h).strip().lower().lstrip("\ufeff") for h in header}
    own = {f["name"] for f in load_schema()["fields"]} - \
        {f["name"] for f in usage_return.load_schema()["fields"]}
    return "device_id" in names and len(names & own) >= 3


def check_table(raw: pd.DataFrame, table_schema: dict) -> tuple[dict, pd.DataFrame]:
    """Typed values and per-row problems of an all-text table against a Table Schema.

    Field types and constraints are checked by the usage-return parser's own rules,
    so both schemas mean the same thing by ``required``, ``minimum``, ``enum`` or a
    datetime without a zone. Returns ({field: values}, DataFrame row/field/reason).
    """
    rows = np.arange(1, len(raw) + 1)
    missing_values = set(table_schema.get("missingValues", [""]))
    out_rows, out_fields, out_reasons = [], [], []

    def add(mask, name, reason):
        hits = rows[np.asarray(mask, dtype=bool)]
        out_rows.extend(hits.tolist())
        out_fields.extend([name] * len(hits))
        out_reasons.extend([reason] * len(hits))

    values = {}
    for spec in table_schema["fields"]:
        name = spec["name"]
        text = raw[name].str.strip() if name in raw.columns else \
            pd.Series("", index=raw.index, dtype=object)
        is_missing = text.isin(missing_values)
        constraints = spec.get("constraints", {})
        if constraints.get("required"):
            add(is_missing.to_numpy(), name, "required value is missing")
        parsed, problems = usage_return._typed(text, is_missing, spec)
        for mask, reason in problems:
            add(pd.Series(mask).fillna(False).to_numpy(bool), name, reason)
        if constraints.get("unique"):
            add((~is_missing & text.duplicated(keep="first")).to_numpy(), name,
                "value already used in an earlier row")
        values[name] = parsed
    key = table_schema.get("primaryKey") or []
    if key and all(k in values for k in key):
        frame = pd.DataFrame({k: values[k] for k in key})
        dup = frame.notna().all(axis=1) & frame.duplicated(keep="first")
        add(dup.to_numpy(), "+".join(key), "the same " + " and ".join(key)
            + " appear in an earlier row")
    problems = pd.DataFrame({"row": pd.Series(out_rows, dtype="int64"),
                             "field": pd.Series(out_fields, dtype=object),
                             "reason": pd.Series(out_reasons, dtype=object)})
    return values, problems.sort_values(["row", "field"], kind="stable").reset_index(drop=True)


@dataclass
class Table:
    """A device reference file read and checked, before any row is dropped."""

    rows: int
    row_operator: pd.Series          # each row's operator (NO_OPERATOR when empty)
    missing: list = field(default_factory=list)   # required columns not in the file
    extra: list = field(default_factory=list)     # columns not in the schema
    values: dict = field(default_factory=dict)    # field -> typed values
    problems: pd.DataFrame = None                 # row, field, reason

    @property
    def known(self) -> list[str]:
        return [f["name"] for f in load_schema()["fields"]]

    def missing_message(self) -> str:
        return (f"required column(s) missing: {', '.join(self.missing)} (device reference "
                f"data has {', '.join(self.known)})")

    def extra_warning(self) -> str:
        return ("column(s) not in the device reference schema ignored: "
                + ", ".join(self.extra))


def read_table(text: str, name: str, limits: Limits = DEFAULT_LIMITS) -> Table:
    table_schema = load_schema()
    raw = read_csv_text(text, name, limits)
    raw.columns = [str(c).strip().lower().lstrip("\ufeff") for c in raw.columns]
    operators = raw["operator"].str.strip() if "operator" in raw.columns else \
        pd.Series("", index=raw.index, dtype=object)
    table = Table(rows=len(raw), row_operator=operators.where(operators != "", NO_OPERATOR))
    known = table.known
    required = usage_return.required_fields(table_schema)
    table.missing = [c for c in required if c not in raw.columns]
    table.extra = [c for c in raw.columns if c not in known]
    if not table.missing:
        table.values, table.problems = check_table(raw, table_schema)
    return table


def tables(values: dict, keep: np.ndarray, source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(devices, connectors) of the rows ``keep``; ``source``: one text, or a function of
    the devices' operators giving each device's source."""
    power_type = values["power_type"]
    connectors = pd.DataFrame({
        "device_id": values["device_id"], "connector_id": values["connector_id"],
        "evse_uid": values["evse_uid"], "evse_id": values["evse_id"],
        "standard": values["standard"],
        "power_type": power_type.where(power_type.isna(),
                                       np.where(power_type == "DC", "DC", "AC")),
        "power_kw": values["power_kw"], "status": values["status"],
    })[keep]
    connectors["power_class"] = schema.power_classes(connectors["power_kw"])
    rows = pd.DataFrame({k: values[k] for k in
                         ("device_id", "device_name", "operator", "owner", "latitude",
                          "longitude", "address", "city", "postcode", "parking_type",
                          "status", "power_kw", "last_updated")})[keep]
    rows = rows[rows["device_id"].notna()]
    grouped = rows.groupby("device_id", sort=False)
    first = grouped.first()
    address = first["address"].fillna("") + ", " + first["city"].fillna("")
    operator = first["operator"].to_numpy(object)
    devices = pd.DataFrame({
        "device_id": first.index.to_numpy(object),
        "name": first["device_name"].to_numpy(object),
        "operator": operator,
        "owner": first["owner"].to_numpy(object),
        "latitude": first["latitude"].to_numpy(float),
        "longitude": first["longitude"].to_numpy(float),
        "address": address.str.strip(", ").to_numpy(object),
        "postcode": first["postcode"].to_numpy(object),
        "location_type": first["parking_type"].to_numpy(object),
        "connector_count": grouped.size().to_numpy(),
        "max_power_kw": grouped["power_kw"].max().to_numpy(float),
        "updated_utc": grouped["last_updated"].max().to_numpy(),
        "source": source(operator) if callable(source) else source,
    })
    devices["power_class"] = schema.power_classes(devices["max_power_kw"])
    return schema.conform(devices, "devices"), schema.conform(connectors, "connectors")


def parse_text(text: str, name: str = "device_reference.csv", source: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> schema.ParseResult:
    table = read_table(text, name, limits)
    if table.missing:
        raise errors.ParseError(table.missing_message(), name)
    problems = table.problems
    keep = np.ones(table.rows, dtype=bool)
    keep[problems["row"].to_numpy() - 1] = False
    devices, connectors = tables(
        table.values, keep,
        source if source else lambda ops: np.array(
            [f"{FORMAT}:{op if op is not None else NO_OPERATOR}" for op in ops], dtype=object))
    return schema.ParseResult(
        format=FORMAT, source=source or FORMAT, rows_read=table.rows,
        tables={"devices": devices, "connectors": connectors},
        rejects=problems[["row", "reason", "field"]].reset_index(drop=True),
        warnings=[table.extra_warning()] if table.extra else [])
