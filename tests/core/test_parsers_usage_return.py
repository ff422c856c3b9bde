"""Usage-return parser: the shared Table Schema and the example files."""

import csv
import json

import pandas as pd
import pytest

from ev_chargepoints.core import errors, paths, schema
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import usage_return

EXAMPLES = paths.resource("standard", "examples")

# one example file per failure kind: (file suffix, row, field, reason)
FAILURES = [
    ("missing_required", 1, "device_id", "required value is missing"),
    ("no_timezone", 1, "start_utc",
     "has no time zone (add Z for UTC or an offset like +01:00)"),
    ("bad_datetime", 1, "start_utc", "is not an ISO 8601 date and time"),
    ("negative_kwh", 1, "kwh", "is below the minimum of 0"),
    ("kwh_not_number", 1, "kwh", "is not a number"),
    ("end_before_start", 1, "end_utc", "is before start_utc"),
    ("charging_end_after_end", 1, "charging_end_utc", "is after end_utc"),
    ("duplicate_session_id", 2, "session_id", "value already used in an earlier row"),
    ("duplicate_primary_key", 2, "device_id+connector_id+start_utc",
     "the same device, connector and start appear in an earlier row"),
]


def test_schema_file_is_a_table_schema():
    table_schema = usage_return.load_schema("usage_return")
    raw = json.loads(paths.resource("standard", "usage_return.schema.json").read_text())
    assert table_schema == raw
    assert table_schema["name"] == "usage_return"
    assert table_schema["version"] == "1.0.0"
    fields = {f["name"]: f for f in table_schema["fields"]}
    assert list(fields) == ["device_id", "connector_id", "session_id", "start_utc",
                            "end_utc", "kwh", "charging_end_utc"]
    assert usage_return.required_fields(table_schema) == [
        "device_id", "connector_id", "start_utc", "end_utc", "kwh"]
    assert fields["kwh"]["type"] == "number"
    assert fields["kwh"]["constraints"]["minimum"] == 0
    assert table_schema["primaryKey"] == ["device_id", "connector_id", "start_utc"]


def test_load_schema_returns_a_copy():
    first = usage_return.load_schema()
    first["fields"].clear()
    assert usage_return.load_schema()["fields"]


def test_valid_example():
    path = EXAMPLES / "usage_return_valid.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    result = parsers.parse_file(path)
    assert result.format == "usage-return"
    assert result.rejects.empty and result.warnings == []
    sessions = result.table("sessions")
    assert len(sessions) == len(rows) == 4
    assert list(sessions.columns) == list(schema.TABLES["sessions"])
    assert sessions["session_key"].tolist()[:2] == ["usage:DEV-0001:S-1001",
                                                    "usage:DEV-0001:S-1002"]
    assert sessions["session_key"].iloc[2].startswith("h:")  # no session id: content hash
    # +01:00 offset converted to UTC
    assert sessions["start_utc"].iloc[2] == pd.Timestamp("2024-07-01T08:30:00Z")
    assert sessions["charging_end_utc"].iloc[0] == pd.Timestamp("2024-01-02T10:05:00Z")
    assert pd.isna(sessions["charging_end_utc"].iloc[1])
    assert sessions["kwh"].tolist() == [12.4, 21.0, 28.75, 0.0]


@pytest.mark.parametrize("suffix, row, field, reason", FAILURES)
def test_each_failure_kind(suffix, row, field, reason):
    path = EXAMPLES / f"usage_return_invalid_{suffix}.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        n_rows = len(list(csv.DictReader(handle)))
    result = parsers.parse_file(path)
    assert result.rejects.to_dict("records") == [{"row": row, "reason": reason,
                                                  "field": field}]
    assert len(result.table("sessions")) + result.rejects["row"].nunique() == n_rows


def test_every_invalid_example_is_covered():
    names = {p.name for p in EXAMPLES.glob("usage_return_invalid_*.csv")}
    covered = {f"usage_return_invalid_{s}.csv" for s, *_ in FAILURES}
    assert names - covered == {"usage_return_invalid_missing_column.csv"}


def test_missing_column_is_a_parse_error():
    with pytest.raises(errors.ParseError, match="required column.*end_utc"):
        parsers.parse_file(EXAMPLES / "usage_return_invalid_missing_column.csv")


def test_several_errors_in_one_row_each_listed():
    text = ("device_id,connector_id,start_utc,end_utc,kwh\n"
            ",1,2024-01-02T08:00:00,2024-01-02T09:00:00Z,-1\n"
            "D,1,2024-01-02T08:00:00Z,2024-01-02T09:00:00Z,1\n")
    result = parsers.parse_bytes(text.encode(), "r.csv")
    assert result.rejects[["row", "field"]].values.tolist() == [
        [1, "device_id"], [1, "kwh"], [1, "start_utc"]]
    assert len(result.table("sessions")) == 1
    assert result.table("sessions")["source_session_id"].isna().all()


def test_extra_columns_warned():
    text = ("device_id,connector_id,start_utc,end_utc,kwh,tariff\n"
            "D,1,2024-01-02T08:00:00Z,2024-01-02T09:00:00Z,1,peak\n")
    result = parsers.parse_bytes(text.encode(), "r.csv")
    assert result.warnings == ["column(s) not in the usage-return schema ignored: tariff"]


def test_parser_follows_the_schema_it_is_given():
    strict = usage_return.load_schema()
    for field in strict["fields"]:
        if field["name"] == "kwh":
            field["constraints"]["maximum"] = 100
    text = ("device_id,connector_id,start_utc,end_utc,kwh\n"
            "D,1,2024-01-02T08:00:00Z,2024-01-02T09:00:00Z,150\n")
    result = usage_return.parse_text(text, "r.csv", table_schema=strict)
    assert result.rejects["reason"].tolist() == ["is above the maximum of 100"]
