"""The conformance validator: example files, real NCR and Dundee data, reliability."""

import csv
import glob
import json

import numpy as np
import pandas as pd
import pytest
from replay_server import ReplayServer

from ev_chargepoints.core import errors, paths
from ev_chargepoints.core.analysis import areas
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import usage_return
from ev_chargepoints.core.sources.transport import RequestsTransport
from ev_chargepoints.core.standard import checks, conformance, inputs, model, reliability
from ev_chargepoints.core.standard.model import FAIL, NOT_CHECKED, PASS, WARN

EXAMPLES = paths.resource("standard", "examples")
REFERENCE = EXAMPLES / "device_reference_valid.csv"
OPERATOR = "Example Charging Ltd"
AS_OF = "2024-10-01T00:00:00Z"
NCR = paths.resource("data", "london", "ncr_chargepoints_london_2022-05.csv.gz")
DUNDEE = paths.resource("data", "dundee")

# device reference examples: (suffix, check, verdict, field, reason, row)
DEVICE_FAILURES = [
    ("missing_column", "schema", FAIL, None, "required column(s) missing: power_kw", None),
    ("missing_required", "schema", FAIL, "latitude", "required value is missing", 5),
    ("bad_standard", "schema", FAIL, "standard", "is not one of", 1),
    ("power_not_number", "schema", FAIL, "power_kw", "is not a number", 1),
    ("latitude_out_of_range", "schema", FAIL, "latitude", "is above the maximum of 90", 5),
    ("no_timezone", "schema", FAIL, "last_updated", "has no time zone", 5),
    ("duplicate_connector", "duplicate_ids", FAIL, "device_id+connector_id",
     "the same device_id and connector_id appear in an earlier row", 2),
    ("outside_london", "outside_london", WARN, None, "DEV-0003", None),
    ("stale", "stale", WARN, None, "DEV-0003", None),
    ("unknown_status", "unknown_status", WARN, None, "WORKING", None),
]

# semantic checks on schema-valid returns, validated with the valid reference data
RETURN_CHECKS = [
    ("impossible_energy", "impossible_energy", FAIL, "15 kWh in 1.00 h at 7 kW"),
    ("overlapping_sessions", "overlapping_sessions", FAIL, "before the session in row 1"),
    ("outside_period_2024Q1", "outside_period", WARN, "starts 2024-04-02T08:00:00Z"),
    ("unknown_device", "not_in_reference", FAIL, "device not in the reference data"),
]


def found(op):
    """{check code: result} of the checks that found something."""
    return {c.code: c.result for c in op.checks if c.result in (FAIL, WARN)}


def check(op, code):
    matches = [c for c in op.checks if c.code == code]
    assert len(matches) == 1, [c.code for c in op.checks]
    return matches[0]


def data_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- the schemas -----------------------------------------------------------------------

def test_device_reference_schema_is_a_versioned_table_schema():
    table_schema = inputs.device_reference_schema()
    assert table_schema == usage_return.load_schema("device_reference")
    assert table_schema["version"] == model.STANDARD_VERSION == "1.0.0"
    assert table_schema["primaryKey"] == ["device_id", "connector_id"]
    names = [f["name"] for f in table_schema["fields"]]
    for ocpi_aligned in ("device_id", "latitude", "longitude", "address", "city", "operator",
                         "evse_uid", "connector_id", "standard", "format", "power_type",
                         "max_voltage", "max_amperage", "power_kw", "last_updated"):
        assert ocpi_aligned in names
    types = {f["name"]: f["type"] for f in table_schema["fields"]}
    assert set(types.values()) <= {"string", "number", "integer", "datetime"}


def test_usage_return_findings_are_the_parsers_own():
    """One definition: the validator's schema findings equal the parser's rejects."""
    for path in sorted(EXAMPLES.glob("usage_return_invalid_*.csv")):
        if "missing_column" in path.name:
            continue
        rejects = parsers.parse_file(path).rejects
        report = conformance.validate_files([path])
        op, = report.operators
        listed = {(fe.field, fe.reason, r) for c in op.checks for fe in c.field_errors
                  for r in fe.rows}
        assert listed == set(zip(rejects["field"], rejects["reason"], rejects["row"]))


# --- every example file -----------------------------------------------------------------

def test_valid_device_reference_passes():
    report = conformance.validate_files([REFERENCE], as_of=AS_OF)
    op = report.operator(OPERATOR)
    assert op.verdict == PASS and op.reasons == []
    assert (op.devices, op.connectors, op.rapid_devices) == (3, 5, 1)
    assert {c.code: c.result for c in op.checks} == {
        "schema": PASS, "duplicate_ids": PASS, "outside_london": PASS, "stale": PASS,
        "unknown_status": PASS, "reliability": NOT_CHECKED}
    assert report.london_check == "GLA London wards (2018) and boroughs"


@pytest.mark.parametrize("suffix, code, verdict, field, reason, row", DEVICE_FAILURES)
def test_each_device_reference_failure(suffix, code, verdict, field, reason, row):
    path = EXAMPLES / f"device_reference_invalid_{suffix}.csv"
    report = conformance.validate_files([path], as_of=AS_OF)
    op = report.operator(OPERATOR)
    assert found(op) == {code: verdict}
    assert op.verdict == verdict
    assert len(op.reasons) == 1 and op.reasons[0].startswith(model.CHECKS[code][0])
    hit = check(op, code)
    assert hit.count == 1
    if field is not None:
        fe, = hit.field_errors
        assert (fe.field, fe.total, fe.rows) == (field, 1, [row])
        assert fe.reason.startswith(reason)
    elif hit.examples:
        ex, = hit.examples
        assert reason in f"{ex.id} {ex.detail}"
    else:
        assert reason in hit.message


def test_usage_return_valid_with_reference_passes():
    report = conformance.validate_files([EXAMPLES / "usage_return_valid.csv", REFERENCE])
    op = report.operator(OPERATOR)
    assert op.verdict == PASS, op.reasons
    assert op.sessions == 4
    results = {c.code: c.result for c in op.checks}
    assert results["impossible_energy"] == results["not_in_reference"] == PASS
    ret = next(i for i in report.inputs if i.name == "usage_return_valid.csv")
    # starts in Q1 and Q3 2024: no single quarter, so the span is the period
    assert ret.period == "2024-Q1 to 2024-Q3"
    assert report.as_of_utc == "2024-10-01T00:00:00Z"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("usage_return_invalid_*.csv")),
                         ids=lambda p: p.stem)
def test_each_invalid_usage_return_fails_for_its_rule_only(path):
    report = conformance.validate_files([path])
    op, = report.operators
    assert op.operator == path.stem  # no reference data: named after the file
    kind = "duplicate_ids" if "duplicate" in path.name else "schema"
    assert found(op) == {kind: FAIL}
    hit = check(op, kind)
    if "missing_column" in path.name:
        assert "required column(s) missing: end_utc" in hit.message
        return
    n_rows = len(data_rows(path))
    fe, = hit.field_errors
    assert fe.total == 1 and fe.rows == [n_rows]  # the last row breaks the rule
    for code in ("not_in_reference", "not_in_return", "impossible_energy", "reliability"):
        assert check(op, code).result == NOT_CHECKED


@pytest.mark.parametrize("suffix, code, verdict, detail", RETURN_CHECKS)
def test_each_usage_return_check(suffix, code, verdict, detail):
    path = EXAMPLES / f"usage_return_check_{suffix}.csv"
    report = conformance.validate_files([path], reference=REFERENCE)
    op = report.operator(OPERATOR)  # operator found through the reference data
    assert found(op) == {code: verdict}
    assert op.verdict == verdict
    ex, = check(op, code).examples
    assert ex.row == 4  # the fourth data row is the odd one out
    assert detail in ex.detail
    assert [i.role for i in report.inputs] == ["validated", "reference"]


def test_every_example_file_is_covered():
    covered = {f"device_reference_invalid_{s[0]}.csv" for s in DEVICE_FAILURES}
    covered |= {f"usage_return_check_{s[0]}.csv" for s in RETURN_CHECKS}
    covered |= {p.name for p in EXAMPLES.glob("usage_return_invalid_*.csv")}
    covered |= {"device_reference_valid.csv", "usage_return_valid.csv"}
    assert {p.name for p in EXAMPLES.glob("*.csv")} == covered


# --- limits and periods -------------------------------------------------------------------

def test_field_errors_capped_with_totals(tmp_path):
    rows = [f"DEV-0001,1,S-{i},2024-02-{1 + i % 28:02d}T0{i % 10}:00:00Z,"
            f"2024-02-{1 + i % 28:02d}T0{i % 10}:30:00Z,,\n" for i in range(30)]
    path = tmp_path / "many_missing_2024Q1.csv"
    path.write_text("device_id,connector_id,session_id,start_utc,end_utc,kwh,"
                    "charging_end_utc\n" + "".join(rows))
    report = conformance.validate_files([path], reference=REFERENCE, max_rows=5,
                                        operator=OPERATOR)
    fe, = check(report.operator(OPERATOR), "schema").field_errors
    assert (fe.field, fe.reason, fe.total, fe.rows) == ("kwh", "required value is missing",
                                                        30, [1, 2, 3, 4, 5])


def test_periods():
    q = model.parse_period("2024-Q2")
    assert (q.start, q.end) == (pd.Timestamp("2024-04-01", tz="UTC"),
                                pd.Timestamp("2024-07-01", tz="UTC"))
    assert model.parse_period("2024q2") == q
    span = model.parse_period("2024-01-01/2024-02-01")
    assert span.label == "2024-01-01 to 2024-02-01"
    with pytest.raises(ValueError):
        model.parse_period("last quarter")
    with pytest.raises(ValueError):
        model.parse_period(("2024-02-01", "2024-01-01"))
    starts = pd.Series(pd.to_datetime(["2024-01-05", "2024-02-01", "2024-03-30"] * 10
                                      + ["2024-04-02"], utc=True))
    inferred = model.infer_period("return.csv", starts)
    assert inferred.label == "2024-Q1" and inferred.source.startswith("data")
    assert model.infer_period("ops_2023-Q4_return.csv", starts).label == "2023-Q4"


def test_missing_file_raises_but_bad_content_is_a_finding(tmp_path):
    with pytest.raises(errors.ParseError):
        conformance.validate_files([tmp_path / "nope.csv"])
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b,c\n1,2,3\n")
    report = conformance.validate_files([junk])
    op, = report.operators
    assert op.verdict == FAIL and found(op) == {"file": FAIL}
    assert "unrecognised CSV header" in check(op, "file").message


def test_progress_is_reported():
    seen = []
    conformance.validate_files([REFERENCE], as_of=AS_OF,
                               progress=lambda pct, msg: seen.append((pct, msg)))
    assert seen[-1] == (100.0, "Conformance report ready")
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)


# --- real data: the NCR snapshot as reference data ----------------------------------------

def test_ncr_reference_data():
    report = conformance.validate_files([NCR], as_of="2022-05-04", stale_days=365)
    devices = parsers.parse_file(NCR).table("devices")
    assert sum(op.devices for op in report.operators) == len(devices) == 8940

    def total(code):
        return sum(check(op, code).count for op in report.operators)

    # README of the bundled data: 8,538 inside a borough, 402 just outside
    assert total("outside_london") == 402
    assert report.london_check == "GLA London wards (2018) and boroughs"
    wards, boroughs = checks._london_areas()
    placed = areas.assign_devices(devices, wards, boroughs).table
    outside = placed.loc[placed["assignment_note"] == "outside", "device_id"]
    per_operator = devices.set_index("device_id").loc[outside, "operator"].value_counts()
    for name, count in per_operator.items():
        assert check(report.operator(name), "outside_london").count == count
    assert total("schema") == total("duplicate_ids") == 0
    updated = devices["updated_utc"].where(devices["updated_utc"].notna(),
                                           devices["created_utc"])
    limit = pd.Timestamp("2022-05-04", tz="UTC") - pd.Timedelta(days=365)
    assert total("stale") == int(((updated < limit) | updated.isna()).sum())
    verdicts = {op.operator: op.verdict for op in report.operators}
    assert set(verdicts.values()) <= {PASS, WARN}  # registry data: warnings, no failures
    assert verdicts["BP Pulse"] == WARN
    assert "read" in report.timings_s and "london_check" in report.timings_s


# --- real data: Dundee sessions written as a usage return ---------------------------------

def _iso(times):
    return times.dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna("")


@pytest.fixture(scope="module")
def dundee(tmp_path_factory):
    """The four Dundee session files → canonical sessions → a usage-return CSV, and device
    reference data made from cp-locations.csv."""
    tmp = tmp_path_factory.mktemp("dundee")
    files = sorted(p for p in DUNDEE.glob("*.csv.gz") if "locations" not in p.name)
    sessions = pd.concat([parsers.parse_file(p).table("sessions") for p in files],
                         ignore_index=True)
    returned = pd.DataFrame({
        "device_id": sessions["device_id"], "connector_id": sessions["connector_id"],
        "session_id": sessions["source_session_id"].fillna(""),
        "start_utc": _iso(sessions["start_utc"]), "end_utc": _iso(sessions["end_utc"]),
        "kwh": sessions["kwh"].map(lambda v: "" if pd.isna(v) else repr(float(v))),
        "charging_end_utc": _iso(sessions["charging_end_utc"])})
    return_path = tmp / "dundee_usage_return.csv"
    returned.to_csv(return_path, index=False)

    locations = pd.read_csv(DUNDEE / "cp-locations.csv.gz", dtype=str, usecols=range(10))
    locations = locations[locations["CP ID"].notna()]
    # The locations file names a class, not a rating: take each class's upper bound
    # (Charge Place Scotland: slow up to 7 kW, fast 22 kW, rapid 50 kW), so a session
    # flagged here is impossible whatever the exact rating.
    kw = locations["Type"].map({"Slow": 7.0, "Fast": 22.0, "Rapid": 50.0})
    locations = locations.assign(kw=kw)[kw.notna()]
    used = sessions[["device_id", "connector_id"]].drop_duplicates()
    # no connector list in the locations file: a device's connectors are those used
    ref = locations.merge(used, left_on="CP ID", right_on="device_id", how="left")
    ref["connector_id"] = ref["connector_id"].fillna("1")
    rapid = ref["Type"] == "Rapid"
    reference = pd.DataFrame({
        "operator": "Dundee City Council", "device_id": ref["CP ID"].str.strip(),
        "device_name": ref["Location"], "latitude": ref["Latitude"],
        "longitude": ref["Longitude"], "address": ref["Address"].fillna(ref["Location"]),
        "city": "Dundee", "evse_uid": ref["CP ID"].str.strip(),
        "connector_id": ref["connector_id"],
        "standard": np.where(rapid, "IEC_62196_T2_COMBO", "IEC_62196_T2"),
        "power_type": np.where(rapid, "DC", "AC_3_PHASE"), "power_kw": ref["kw"],
        "last_updated": "2018-09-06T00:00:00Z"})
    reference_path = tmp / "dundee_device_reference.csv"
    reference.to_csv(reference_path, index=False)
    return sessions, return_path, reference, reference_path


def test_dundee_return_without_reference(dundee):
    sessions, return_path, _, _ = dundee
    report = conformance.validate_files([return_path])
    op, = report.operators
    assert op.operator == "dundee_usage_return"
    assert op.verdict == FAIL
    schema_check = check(op, "schema")
    open_rows = np.flatnonzero((sessions["end_utc"].isna() | sessions["kwh"].isna())
                               .to_numpy()) + 1
    assert schema_check.count == len(open_rows) == 327
    by_field = {fe.field: fe for fe in schema_check.field_errors}
    assert set(by_field) == {"end_utc", "kwh"}
    assert by_field["kwh"].total == int(sessions["kwh"].isna().sum())
    assert by_field["kwh"].rows == open_rows[:model.DEFAULT_MAX_ROWS].tolist()

    key = sessions[["device_id", "connector_id", "start_utc"]]
    dup = check(op, "duplicate_ids")
    assert dup.count == int(key.duplicated().sum())
    assert op.sessions == len(sessions) - len(set(open_rows) | set(
        np.flatnonzero(key.duplicated().to_numpy()) + 1))

    # overlaps, recomputed the slow way over the sessions the return kept
    kept = pd.DataFrame({"row": np.arange(1, len(sessions) + 1)}).join(sessions)
    kept = kept[kept["end_utc"].notna() & kept["kwh"].notna() & ~key.duplicated()]
    expected = 0
    for _, group in kept.groupby(["device_id", "connector_id"]):
        latest = None
        for start, end in sorted(zip(group["start_utc"], group["end_utc"])):
            if latest is not None and start < latest:
                expected += 1
            latest = end if latest is None else max(latest, end)
    assert check(op, "overlapping_sessions").count == expected > 0
    assert check(op, "outside_period").count == 0
    assert report.inputs[0].period == "2017-Q3 to 2018-Q3"
    assert check(op, "impossible_energy").result == NOT_CHECKED


def test_dundee_return_with_reference_and_period(dundee):
    sessions, return_path, reference, reference_path = dundee
    report = conformance.validate_files([return_path, reference_path], period="2018-Q1",
                                        operator="Dundee City Council")
    op = report.operator("Dundee City Council")
    assert [c.result for c in op.checks if c.code == "schema"] == [FAIL, PASS]
    kept = sessions[sessions["end_utc"].notna() & sessions["kwh"].notna()
                    & ~sessions[["device_id", "connector_id", "start_utc"]].duplicated()]
    q1 = (kept["start_utc"] >= pd.Timestamp("2018-01-01", tz="UTC")) & \
        (kept["start_utc"] < pd.Timestamp("2018-04-01", tz="UTC"))
    assert check(op, "outside_period").count == int((~q1).sum())
    # Dundee is not in London: every reference device is outside
    assert [c.count for c in op.checks if c.code == "outside_london"] == [
        reference["device_id"].nunique()]
    missing = set(kept["device_id"]) - set(reference["device_id"])
    not_in_ref = check(op, "not_in_reference")
    assert sum(1 for ex in not_in_ref.examples
               if ex.detail == "device not in the reference data") == min(
        len(missing), model.DEFAULT_MAX_EXAMPLES)
    assert f"{len(missing):,} device(s)" in not_in_ref.message
    silent = set(reference["device_id"]) - set(kept["device_id"])
    assert check(op, "not_in_return").count == len(silent)
    kw = kept.merge(reference[["device_id", "connector_id", "power_kw"]],
                    on=["device_id", "connector_id"], how="inner")
    hours = (kw["end_utc"] - kw["start_utc"]).dt.total_seconds() / 3600
    assert check(op, "impossible_energy").count == int((kw["kwh"] > kw["power_kw"] * hours)
                                                       .sum())
    assert op.verdict == FAIL


# --- reliability ----------------------------------------------------------------------------

RELIABILITY_REFERENCE = """operator,device_id,latitude,longitude,address,city,evse_uid,\
connector_id,standard,power_type,power_kw,last_updated
Rapid Co,R1,51.5072,-0.1276,1 Test Street,Westminster,R1-A,1,IEC_62196_T2_COMBO,DC,150,\
2024-02-28T00:00:00Z
Rapid Co,R1,51.5072,-0.1276,1 Test Street,Westminster,R1-B,2,IEC_62196_T2_COMBO,DC,150,\
2024-02-28T00:00:00Z
Rapid Co,S1,51.5072,-0.1276,1 Test Street,Westminster,S1-A,1,IEC_62196_T2,AC_1_PHASE,7,\
2024-02-28T00:00:00Z
Good Rapid,G1,51.5074,-0.1278,2 Test Street,Westminster,G1-A,1,CHADEMO,DC,50,\
2024-02-28T00:00:00Z
"""

HISTORY = [  # (hour of 2024-03-01, device, evse, status)
    (0, "R1", "R1-A", "AVAILABLE"), (10, "R1", "R1-A", "OUTOFORDER"),
    (11, "R1", "R1-A", "CHARGING"), (12, "R1", "R1-A", "UNKNOWN"),
    (14, "R1", "R1-A", "AVAILABLE"),
    (0, "R1", "R1-B", "CHARGING"), (6, "R1", "R1-B", "INOPERATIVE"),
    (6.5, "R1", "R1-B", "BLOCKED"), (7, "R1", "R1-B", "AVAILABLE"),
    (0, "S1", "S1-A", "OUTOFORDER"), (12, "S1", "S1-A", "AVAILABLE"),
    (0, "G1", "G1-A", "UNKNOWN"), (0, "G1", "G1-A", "AVAILABLE"),  # same time: last wins
    (23, "G1", "G1-A", "PLANNED"),
]


def test_reliability_matches_a_hand_computation(tmp_path):
    reference = tmp_path / "reliability_reference.csv"
    reference.write_text(RELIABILITY_REFERENCE)
    day = pd.Timestamp("2024-03-01", tz="UTC")
    snapshots = pd.DataFrame({
        "observed_utc": [day + pd.Timedelta(hours=h) for h, *_ in HISTORY],
        "device_id": [d for _, d, _, _ in HISTORY], "evse_uid": [e for _, _, e, _ in HISTORY],
        "status": [s for *_, s in HISTORY], "raw_status": [s for *_, s in HISTORY],
        "source": "test"})
    # A history polled at most a day apart: with a 24-hour cap every gap is observed.
    report = conformance.validate_files([reference], period="2024-03-01/2024-03-02",
                                        status_snapshots=snapshots, max_gap_hours=24,
                                        min_observed_hours=12)
    # By hand, over the day 00:00-24:00:
    # R1-A: working 0-10, 11-12, 14-24 = 21 h; down 10-11 = 1 h; excluded 12-14 = 2 h
    # R1-B: working 0-6, 7-24 = 23 h; down 6-6.5 = 0.5 h; excluded 6.5-7 = 0.5 h
    # R1 (150 kW, ultra): 44 / 45.5 = 96.70 %, under 99 %: the rapid network fails
    # S1 (7 kW): working 12 h, down 12 h: 50 %, not rapid, so not in the verdict
    # G1 (50 kW): working 0-23 (the UNKNOWN at 00:00 is replaced), PLANNED 23-24 not live
    rapid_co = report.operator("Rapid Co")
    assert rapid_co.rapid_reliability.working_h == pytest.approx(44.0)
    assert rapid_co.rapid_reliability.down_h == pytest.approx(1.5)
    assert rapid_co.rapid_reliability.excluded_h == pytest.approx(2.5)
    assert rapid_co.rapid_reliability.reliability == pytest.approx(44 / 45.5)
    assert rapid_co.reliability.reliability == pytest.approx(56 / 69.5)
    by_device = {r.id: r for r in rapid_co.device_reliability}
    assert by_device["S1"].reliability == pytest.approx(0.5)
    assert by_device["R1"].evses == 2 and by_device["R1"].power_class == "ultra"
    assert found(rapid_co) == {"reliability": FAIL}
    assert "96.70%" in check(rapid_co, "reliability").message
    assert [ex.id for ex in check(rapid_co, "reliability").examples] == ["R1"]

    assert rapid_co.rapid_reliability.observed_h == pytest.approx(48.0)
    assert rapid_co.rapid_reliability.observations == 9
    assert "45.5 counted hours (48.0 observed hours, 9 observations" in \
        check(rapid_co, "reliability").message

    good = report.operator("Good Rapid")
    assert good.verdict == PASS
    assert (good.rapid_reliability.working_h, good.rapid_reliability.not_live_h,
            good.rapid_reliability.reliability) == (pytest.approx(23.0), pytest.approx(1.0),
                                                    1.0)
    assert good.rapid_reliability.result == PASS

    # With the default 1-hour cap only the hour after each observation is observed:
    # R1-A working 0-1, 11-12, 14-15 = 3 h; down 10-11 = 1 h; excluded 12-13 = 1 h
    # R1-B working 0-1, 7-8 = 2 h; down 6-6.5 = 0.5 h; excluded 6.5-7 = 0.5 h
    # R1: 5 / 6.5 over 6.5 counted hours, under the 24 needed: not judged
    capped = conformance.validate_files([reference], period="2024-03-01/2024-03-02",
                                        status_snapshots=snapshots).operator("Rapid Co")
    rec = capped.rapid_reliability
    assert (rec.working_h, rec.down_h, rec.excluded_h, rec.observed_h) == (
        pytest.approx(5.0), pytest.approx(1.5), pytest.approx(1.5), pytest.approx(8.0))
    assert rec.reliability == pytest.approx(5 / 6.5)
    assert rec.result == model.NOT_ENOUGH
    assert check(capped, "reliability").result == NOT_CHECKED
    assert "Not enough observed time" in check(capped, "reliability").message


def test_reliability_function_clips_to_the_period():
    day = pd.Timestamp("2024-03-01", tz="UTC")
    snaps = pd.DataFrame({"observed_utc": [day - pd.Timedelta(hours=5), day +
                                           pd.Timedelta(hours=6)],
                          "device_id": ["X", "X"], "evse_uid": ["X1", "X1"],
                          "status": ["OUTOFORDER", "AVAILABLE"]})
    # 12-hour cap: OUTOFORDER -5 h to 6 h (0-6 inside), AVAILABLE 6-18 h (6-12 inside)
    table = reliability.reliability(snaps, start=day, end=day + pd.Timedelta(hours=12),
                                    max_gap_hours=12)
    row = table.iloc[0]
    assert (row["down_h"], row["working_h"], row["reliability"]) == (6.0, 6.0, 0.5)
    assert (row["observed_h"], row["observations"]) == (12.0, 1)  # one seen inside
    assert row["operator"] == model.UNKNOWN_OPERATOR
    # default 1-hour cap: OUTOFORDER -5 to -4 h is outside; AVAILABLE 6-7 h only
    row = reliability.reliability(snaps, start=day, end=day + pd.Timedelta(hours=12)).iloc[0]
    assert (row["down_h"], row["working_h"], row["observed_h"]) == (0.0, 1.0, 1.0)
    assert row["result"] == model.NOT_ENOUGH


# --- OCPI Locations feeds -------------------------------------------------------------------

def test_ocpi_feed_fetched_from_the_replay_server():
    with ReplayServer() as srv:
        url = srv.url + "/ocpi/2.2.1/locations"
        report = conformance.validate_ocpi_feed(url, RequestsTransport(),
                                                as_of="2022-05-04", stale_days=365)
        payload = srv.fixtures.locations
    assert report.inputs[0].kind == "ocpi-locations"
    assert report.inputs[0].rows == len(payload)
    odd = {}
    for loc in payload:
        for evse in loc["evses"]:
            if evse["status"] not in conformance.schema.STATUS_VALUES:
                name = loc["operator"]["name"]
                odd.setdefault(name, []).append(evse["status"])
    assert odd  # the replay feed carries char.gy's and BP Pulse's own words
    for name, values in odd.items():
        hit = check(report.operator(name), "unknown_status")
        assert hit.count == len(values) and hit.result == WARN
        assert {ex.id for ex in hit.examples} == set(values)
    chargy = {ex.id: ex.detail for ex in check(report.operator("Char.gy"),
                                               "unknown_status").examples}
    assert "read as AVAILABLE" in chargy["WORKING"]
    assert "read as OUTOFORDER" in chargy["FAULTED"]
    assert all(check(op, "schema").count == 0 for op in report.operators)
    # every EVSE observed once, at its last_updated, for at most the 1-hour cap
    observed = [op.reliability for op in report.operators if op.reliability is not None]
    assert observed
    for rec in observed:
        assert rec.observations == rec.evses and rec.observed_h == pytest.approx(rec.evses)
    assert "fetch" in report.timings_s


def test_ocpi_payload_field_checks(tmp_path):
    good_connector = {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                      "power_type": "AC_1_PHASE", "max_voltage": 230, "max_amperage": 32,
                      "last_updated": "2024-09-01T00:00:00Z"}
    location = {"country_code": "GB", "party_id": "TST", "id": "LOC-1", "publish": True,
                "address": "1 Test Street", "city": "Westminster", "country": "GBR",
                "coordinates": {"latitude": "51.50720", "longitude": "-0.12760"},
                "time_zone": "Europe/London", "operator": {"name": "Test CPO"},
                "last_updated": "2024-09-01T00:00:00Z",
                "evses": [{"uid": "E1", "status": "AVAILABLE",
                           "last_updated": "2024-09-01T00:00:00Z",
                           "connectors": [good_connector]}]}
    broken = json.loads(json.dumps(location))
    broken["id"] = "LOC-2"
    del broken["city"]
    broken["evses"].append(json.loads(json.dumps(broken["evses"][0])))  # EVSE uid twice
    broken["evses"][0]["connectors"][0]["standard"] = "Type 2"
    path = tmp_path / "locations.json"
    path.write_text(json.dumps({"status_code": 1000, "timestamp": "2024-09-01T00:00:00Z",
                                "data": [location, broken, location]}))
    report = conformance.validate_files([path], as_of=AS_OF)
    op = report.operator("Test CPO")
    schema_errors = {(fe.field, fe.reason): fe.rows for fe in check(op, "schema").field_errors}
    assert schema_errors == {("city", "required value is missing"): [2],
                             ("evses[].connectors[].standard",
                              "is not an OCPI standard value"): [2]}
    duplicates = {(fe.field, fe.reason): fe.rows
                  for fe in check(op, "duplicate_ids").field_errors}
    assert duplicates == {("evses[].uid", "EVSE uid already used in this location"): [2],
                          ("id", "location id already used earlier in the feed"): [3]}
    assert op.verdict == FAIL


def test_write_report_through_the_facade(tmp_path):
    report = conformance.validate_files([REFERENCE], as_of=AS_OF, out_dir=tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert saved["operators"][0]["operator"] == OPERATOR
    assert model.ConformanceReport.from_dict(saved) == report
    assert (tmp_path / "out" / "report.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    assert not glob.glob(str(tmp_path / "out" / ".tmp-*"))


def test_ocpi_feed_through_discovery_with_a_token(tmp_path):
    with ReplayServer(token="cpo-token-1") as srv:
        report = conformance.validate_ocpi_feed(
            srv.url + "/ocpi/versions", RequestsTransport(), token="cpo-token-1",
            discover=True, as_of="2022-05-04", out_dir=tmp_path)
        n_locations = len(srv.fixtures.locations)
    assert report.inputs[0].rows == n_locations
    assert "cpo-token-1" not in (tmp_path / "report.json").read_text("utf-8")
    assert (tmp_path / "report.html").is_file()
