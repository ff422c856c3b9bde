"""OCPI 2.2.1 parser against the specification's own examples (kept unmodified;
changed payloads are built in memory)."""

import copy
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from ev_chargepoints.core import errors, schema
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import ocpi

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "ocpi" / "spec-examples"


def load(name):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def envelope(data, code=1000, message="Success"):
    return {"data": data, "status_code": code, "status_message": message,
            "timestamp": "2015-06-30T21:59:59Z"}


@pytest.fixture
def location():
    return load("location_example.json")


def test_location_example(location):
    result = ocpi.parse_locations(location, source="ocpi:test")
    devices = result.table("devices")
    assert devices.to_dict("records")[0] | {"created_utc": None} == {
        "device_id": "LOC1", "name": "Gent Zuid", "operator": "BeCharged", "owner": None,
        "latitude": 51.047599, "longitude": 3.729944,
        "address": "F.Rooseveltlaan 3A, Gent", "postcode": "9000",
        "location_type": "ON_STREET", "status": "In service", "connector_count": 3,
        "max_power_kw": pytest.approx(10.56), "power_class": "fast", "created_utc": None,
        "updated_utc": pd.Timestamp("2015-06-29T20:39:09Z"), "source": "ocpi:test",
        "reference": None}
    connectors = result.table("connectors")
    assert connectors["connector_id"].tolist() == ["3256/1", "3256/2", "3257/1"]
    assert connectors["evse_uid"].tolist() == ["3256", "3256", "3257"]
    assert connectors["evse_id"].tolist() == ["BE*BEC*E041503001"] * 2 + ["BE*BEC*E041503002"]
    # 220 V × 16 A × 3 phases, no max_electric_power in the example
    assert connectors["power_kw"].tolist() == pytest.approx([10.56] * 3)
    assert set(connectors["power_type"]) == {"AC"}
    snapshots = result.table("status_snapshots")
    assert snapshots["status"].tolist() == ["AVAILABLE", "RESERVED"]
    assert snapshots["observed_utc"].tolist() == [pd.Timestamp("2015-06-28T08:12:01Z"),
                                                  pd.Timestamp("2015-06-29T20:39:09Z")]
    assert result.rejects.empty and result.warnings == []
    for name in ("devices", "connectors", "status_snapshots"):
        assert list(result.table(name).columns) == list(schema.TABLES[name])


@pytest.mark.parametrize("name, device_kw, operator", [
    ("location_example_parking_garage_opening_hours.json", 22.08, "EVC"),  # 230 V 32 A ×3
    ("location_example_uc2_destination_charger.json", 10.56, "ALF"),
    ("location_example_uc3_destination_charger_not_published.json", 10.56, "ALF"),
    ("location_example_uc4_limited_visibility.json", 11.04, "ALL"),
    ("location_example_uc5_home_charge_point.json", 1.84, "ALL"),  # 230 V 8 A single phase
])
def test_other_location_examples(name, device_kw, operator):
    result = parsers.parse_file(EXAMPLES / name)
    assert result.format == "ocpi-locations"
    devices = result.table("devices")
    assert len(devices) == 1 and result.rejects.empty
    assert devices["max_power_kw"].iloc[0] == pytest.approx(device_kw)
    assert devices["operator"].iloc[0] == operator  # no operator object: party_id


def test_envelope_list_and_object_give_the_same_tables(location):
    shapes = [location, [location], envelope([location]), envelope(location),
              json.dumps(envelope([location])).encode()]
    tables = [ocpi.parse_locations(p, source="s").tables for p in shapes]
    for other in tables[1:]:
        for name, frame in tables[0].items():
            pd.testing.assert_frame_equal(frame, other[name])


def test_observed_time_argument(location):
    result = ocpi.parse_locations(location, observed_utc="2024-05-01T12:00:00Z")
    assert set(result.table("status_snapshots")["observed_utc"]) == {
        pd.Timestamp("2024-05-01T12:00:00Z")}


def test_error_envelope_raises_with_message():
    payload = envelope(None, code=2001, message="Invalid or missing parameters")
    with pytest.raises(errors.ParseError, match="status 2001: Invalid or missing parameters"):
        ocpi.parse_locations(payload)
    with pytest.raises(errors.ParseError, match="3000"):
        parsers.parse_bytes(json.dumps(envelope([], code=3000)).encode(), "locations.json",
                            format="ocpi-locations")


@pytest.mark.parametrize("raw, expected", [
    ("AVAILABLE", ("AVAILABLE", True)), ("available", ("AVAILABLE", True)),
    ("WORKING", ("AVAILABLE", True)), ("FAULTED", ("OUTOFORDER", True)),
    ("Out_Of_Order", ("OUTOFORDER", True)), ("out of order", ("OUTOFORDER", True)),
    ("OCCUPIED", ("CHARGING", True)), ("IN_USE", ("CHARGING", True)),
    ("in-use", ("CHARGING", True)), ("Inoperative", ("INOPERATIVE", True)),
    ("BLOCKED", ("BLOCKED", True)), ("UNKNOWN", ("UNKNOWN", True)),
    ("banana", ("UNKNOWN", False)), ("", ("UNKNOWN", False)), (None, ("UNKNOWN", False)),
])
def test_normalise_status(raw, expected):
    assert ocpi.normalise_status(raw) == expected


def test_status_variants_in_a_feed_are_normalised_and_unknown_counted(location):
    evse = location["evses"][0]
    feed = copy.deepcopy(location)
    feed["evses"] = []
    for uid, status in [("a", "WORKING"), ("b", "FAULTED"), ("c", "Out_Of_Order"),
                        ("d", "SPARKLING"), ("e", "SPARKLING"), ("f", "REMOVED")]:
        feed["evses"].append(dict(copy.deepcopy(evse), uid=uid, status=status))
    result = ocpi.parse_locations(envelope([feed]))
    snapshots = result.table("status_snapshots")
    assert snapshots["status"].tolist() == ["AVAILABLE", "OUTOFORDER", "OUTOFORDER",
                                            "UNKNOWN", "UNKNOWN", "REMOVED"]
    assert snapshots["raw_status"].tolist()[:3] == ["WORKING", "FAULTED", "Out_Of_Order"]
    assert len(result.warnings) == 1
    assert "2 EVSE status value(s) not recognised" in result.warnings[0]
    assert "'SPARKLING' ×2" in result.warnings[0]


def test_power_from_max_electric_power_and_dc(location):
    feed = copy.deepcopy(location)
    connector = feed["evses"][0]["connectors"][0]
    connector.update(power_type="DC", max_voltage=500, max_amperage=125,
                     max_electric_power=50000, standard="IEC_62196_T2_COMBO")
    connectors = ocpi.parse_locations(feed).table("connectors")
    assert connectors["power_kw"].iloc[0] == 50.0
    assert connectors["power_type"].iloc[0] == "DC"
    assert connectors["power_class"].iloc[0] == "rapid"
    assert ocpi.connector_power_kw({"power_type": "DC", "max_voltage": 400,
                                    "max_amperage": 125}) == 50.0


def test_bad_locations_rejected(location):
    no_coordinates = copy.deepcopy(location)
    del no_coordinates["coordinates"]
    no_coordinates["id"] = "LOC2"
    bad_range = dict(copy.deepcopy(location), id="LOC3",
                     coordinates={"latitude": "151.0", "longitude": "3.7"})
    result = ocpi.parse_locations([location, no_coordinates, bad_range, "junk"])
    assert result.rejects.to_dict("records") == [
        {"row": 2, "reason": "missing or unreadable coordinates"},
        {"row": 3, "reason": "coordinates out of range"},
        {"row": 4, "reason": "not a JSON object"}]
    assert result.table("devices")["device_id"].tolist() == ["LOC1"]


def test_uk_location_outside_uk_warns(location):
    swapped = dict(copy.deepcopy(location), country="GBR",
                   coordinates={"latitude": "-0.1276", "longitude": "51.5072"})
    result = ocpi.parse_locations(swapped)
    assert len(result.table("devices")) == 1
    assert any("outside the UK" in w and "swapped" in w for w in result.warnings)


def test_cdr_example():
    result = parsers.parse_file(EXAMPLES / "cdr_example.json")
    assert result.format == "ocpi-cdrs"
    row = result.table("sessions").iloc[0]
    assert row["session_key"] == "ocpi:BE:BEC:cdr:12345"
    assert row["source_session_id"] == "12345"
    assert row["device_id"] == "LOC1"
    assert row["connector_id"] == "3256/1"
    assert row["start_utc"] == pd.Timestamp("2015-06-29T21:39:09Z")
    assert row["end_utc"] == pd.Timestamp("2015-06-29T23:37:32Z")
    assert row["kwh"] == 15.342


def test_cdr_swapped_coordinates_flagged_against_location(location):
    devices = ocpi.parse_locations(location).table("devices")
    result = ocpi.parse_cdrs(load("cdr_example.json"), locations=devices)
    assert len(result.table("sessions")) == 1
    assert len(result.warnings) == 1
    assert "more than 1000 m from their Location" in result.warnings[0]
    assert "swapped" in result.warnings[0]
    # the same CDR with the coordinates the right way round raises nothing
    fixed = load("cdr_example.json")
    fixed["cdr_location"]["coordinates"] = location["coordinates"]
    assert ocpi.parse_cdrs(fixed, locations=devices).warnings == []


def test_cdr_with_session_id_shares_the_session_key():
    cdr = dict(load("cdr_example.json"), session_id="101")
    session = load("session_example_2_short_finished.json")
    cdr_key = ocpi.parse_cdrs(cdr).table("sessions")["session_key"].iloc[0]
    session_key = ocpi.parse_sessions(session).table("sessions")["session_key"].iloc[0]
    assert cdr_key == session_key == "ocpi:BE:BEC:session:101"


def test_cdr_charging_end_from_parking_time():
    cdr = dict(load("cdr_example.json"), total_parking_time=0.5)
    row = ocpi.parse_cdrs(cdr).table("sessions").iloc[0]
    assert row["charging_end_utc"] == pd.Timestamp("2015-06-29T23:07:32Z")


def test_sessions_examples():
    pending = parsers.parse_file(EXAMPLES / "session_example_1_simple_start.json")
    assert pending.format == "ocpi-sessions"
    row = pending.table("sessions").iloc[0]
    assert row["session_key"] == "ocpi:NL:STK:session:101"
    assert pd.isna(row["end_utc"])  # PENDING is open
    assert row["start_utc"] == pd.Timestamp("2020-03-09T10:17:09Z")
    finished = parsers.parse_file(EXAMPLES / "session_example_2_short_finished.json")
    row = finished.table("sessions").iloc[0]
    assert row["end_utc"] == pd.Timestamp("2015-06-29T23:50:16Z")
    assert row["charging_end_utc"] == pd.Timestamp("2015-06-29T23:07:09Z")
    assert row["kwh"] == 41.0
    assert row["connector_id"] == "3256/1"
    fixed = parsers.parse_file(EXAMPLES / "release-2.2.1-bugfixes" /
                               "session_example_2_short_finished.json")
    assert fixed.table("sessions")["kwh"].iloc[0] == 41.12


def test_active_open_and_invalid_rejected():
    base = load("session_example_2_short_finished.json")
    active = dict(copy.deepcopy(base), id="102", status="ACTIVE")
    invalid = dict(copy.deepcopy(base), id="103", status="INVALID")
    reservation = dict(copy.deepcopy(base), id="104", status="RESERVATION",
                       evse_uid="#NA", connector_id="#NA")
    result = ocpi.parse_sessions(envelope([base, active, invalid, reservation]))
    sessions = result.table("sessions")
    assert sessions["source_session_id"].tolist() == ["101", "102"]
    assert sessions["end_utc"].isna().tolist() == [False, True]
    assert result.rejects["row"].tolist() == [3, 4]
    assert result.rejects["reason"].str.contains("not a charging session").all()


def test_detect_formats():
    assert parsers.detect_format((EXAMPLES / "location_example.json").read_bytes(),
                                 "x.json") == "ocpi-locations"
    assert parsers.detect_format(json.dumps(envelope([load("cdr_example.json")])).encode(),
                                 "x.json") == "ocpi-cdrs"
    assert parsers.detect_format(gzip.compress(
        (EXAMPLES / "session_example_1_simple_start.json").read_bytes()),
        "x.json.gz") == "ocpi-sessions"
    assert parsers.detect_format(json.dumps(envelope([])).encode(), "cdrs.json") == "ocpi-cdrs"
    with pytest.raises(errors.UnknownFormat, match="not an OCPI"):
        parsers.detect_format((EXAMPLES / "tariff_1_simple_2hour.json").read_bytes(), "t.json")


def test_empty_page_is_empty_tables():
    result = parsers.parse_bytes(json.dumps(envelope([])).encode(), "page.json",
                                 format="ocpi-locations")
    assert result.rows_read == 0
    assert result.table("devices").empty
    assert list(result.table("devices").columns) == list(schema.TABLES["devices"])
