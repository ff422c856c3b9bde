"""Session CSV parser against the four real Dundee files (67,112 rows)."""

import csv
import gzip
import io

import pandas as pd
import pytest

from ev_chargepoints.core import errors, paths, schema
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import sessions_csv

DUNDEE = paths.resource("data", "dundee")
ROWS = {
    "cpdata.csv.gz": 15502,
    "cp-data-dec-mar-2018.csv.gz": 15610,
    "cp-data-mar-may-2018.csv.gz": 16773,
    "charge-sessions-june-sept.csv.gz": 19227,
}
REJECTS = {
    "cpdata.csv.gz": {"missing charge point id (CP ID)": 2, "negative kWh": 2,
                      "end is a 1970 placeholder date (not a real time)": 1},
    "cp-data-dec-mar-2018.csv.gz": {"negative kWh": 7, "end is before start": 1,
                                    "end is a 1970 placeholder date (not a real time)": 1},
    "cp-data-mar-may-2018.csv.gz": {"negative kWh": 12},
    "charge-sessions-june-sept.csv.gz": {"negative kWh": 8},
}
HEADER_12 = ("Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,"
             "Total kWh,Cost,Site,Group,Model")


def csv_dicts(name):
    text = gzip.decompress((DUNDEE / name).read_bytes()).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def results():
    return {name: parsers.parse_file(DUNDEE / name) for name in ROWS}


@pytest.mark.parametrize("name", list(ROWS))
def test_every_row_accounted_for(results, name):
    result = results[name]
    independent = len(csv_dicts(name))
    assert result.format == "sessions"
    assert result.rows_read == independent == ROWS[name]
    assert len(result.table("sessions")) + len(result.rejects) == ROWS[name]
    assert result.reject_counts() == REJECTS[name]


def test_totals(results):
    assert sum(r.rows_read for r in results.values()) == 67112
    assert sum(len(r.table("sessions")) for r in results.values()) == 67078


@pytest.mark.parametrize("name", list(ROWS))
def test_rejects_match_independent_reading(results, name):
    rows = csv_dicts(name)
    negative = [i for i, r in enumerate(rows, 1) if r["Total kWh"].startswith("-")]
    no_device = [i for i, r in enumerate(rows, 1) if not r["CP ID"].strip()]
    rejects = results[name].rejects
    assert rejects.loc[rejects["reason"] == "negative kWh", "row"].tolist() == negative
    assert rejects.loc[rejects["reason"].str.startswith("missing charge point"),
                       "row"].tolist() == no_device


def test_reject_row_numbers_are_data_rows(results):
    rows = csv_dicts("cpdata.csv.gz")
    rejects = results["cpdata.csv.gz"].rejects
    placeholder = rejects.loc[rejects["reason"].str.contains("1970"), "row"].tolist()
    assert placeholder == [7848]
    assert rows[7848 - 1]["Charging event"] == "3916410"
    assert rows[7848 - 1]["End Date"] == "01/01/1970"


def test_layouts_and_canonical_table(results):
    june = results["charge-sessions-june-sept.csv.gz"].table("sessions")
    assert list(june.columns) == list(schema.TABLES["sessions"])
    assert june.dtypes.astype(str).tolist() == list(schema.TABLES["sessions"].values())
    first = june.iloc[0]
    # 7751157,601838,50914,1,06/09/2018,23:55,07/09/2018,07:03,22.287 (BST = UTC+1)
    assert first["session_key"] == "cps:7751157"
    assert first["source_session_id"] == "7751157"
    assert first["device_id"] == "50914"
    assert first["connector_id"] == "1"
    assert first["start_utc"] == pd.Timestamp("2018-09-06 22:55", tz="UTC")
    assert first["end_utc"] == pd.Timestamp("2018-09-07 06:03", tz="UTC")
    assert first["kwh"] == 22.287
    assert first["source"] == "sessions:charge-sessions-june-sept.csv.gz"
    winter = results["cp-data-dec-mar-2018.csv.gz"].table("sessions").iloc[0]
    assert winter["start_utc"] == pd.Timestamp("2018-03-02 23:50", tz="UTC")  # GMT = UTC


def test_open_sessions_and_missing_kwh_kept(results):
    for name, result in results.items():
        rows = csv_dicts(name)
        sessions = result.table("sessions")
        no_end = sum(1 for r in rows if not r["End Date"] and r["CP ID"].strip())
        assert sessions["end_utc"].isna().sum() == no_end
        assert sessions["kwh"].isna().sum() == sum(
            1 for r in rows if not r["Total kWh"] and r["CP ID"].strip())
    assert results["cp-data-mar-may-2018.csv.gz"].table("sessions")["end_utc"].isna().sum() \
        == 114


def test_session_ids_unique_within_and_across_files(results):
    keys = pd.concat([r.table("sessions")["session_key"] for r in results.values()])
    assert keys.is_unique
    assert keys.str.startswith("cps:").all()
    combined, conflicts = sessions_csv.combine(list(results.values()))
    assert len(combined) == 67078 and conflicts.empty


def test_same_session_in_two_files_is_one_key(results):
    name = "cpdata.csv.gz"
    again = parsers.parse_file(DUNDEE / name, source="sessions:redelivery")
    combined, conflicts = sessions_csv.combine([results[name], again])
    assert len(combined) == len(results[name].table("sessions"))
    assert conflicts.empty


def test_autumn_clock_change_is_deterministic(results):
    sessions = results["cpdata.csv.gz"].table("sessions").set_index("source_session_id")
    # 29/10/2017 01:55 → 01:20: start is the first (BST) 01:55, end the second (GMT) 01:20
    assert sessions.loc["3944166", "start_utc"] == pd.Timestamp("2017-10-29 00:55", tz="UTC")
    assert sessions.loc["3944166", "end_utc"] == pd.Timestamp("2017-10-29 01:20", tz="UTC")
    # 01:08 → 01:20 (both first occurrence, both BST)
    assert sessions.loc["3944181", "end_utc"] == pd.Timestamp("2017-10-29 00:37", tz="UTC")


def _parse(lines, name="test.csv", header=HEADER_12):
    return parsers.parse_bytes(("\r\n".join([header] + lines) + "\r\n").encode(), name)


def test_spring_gap_shifts_forward():
    result = _parse(["1,500,1,25/03/2018,01:30,25/03/2018,03:00,5,0,S,G,M"])
    row = result.table("sessions").iloc[0]
    assert row["start_utc"] == pd.Timestamp("2018-03-25 01:00", tz="UTC")  # 02:00 BST
    assert row["end_utc"] == pd.Timestamp("2018-03-25 02:00", tz="UTC")


def test_rejects_with_reasons():
    result = _parse([
        "1,500,1,01/12/2017,10:00,01/12/2017,11:00,5,0,S,G,M",
        "2,500,1,31/02/2017,10:00,01/12/2017,11:00,5,0,S,G,M",     # no 31 February
        "3,500,1,01/12/2017,10:00,01/12/2017,09:00,5,0,S,G,M",     # end before start
        "4,,1,01/12/2017,10:00,01/12/2017,11:00,5,0,S,G,M",        # no device
        "5,500,1,01/12/2017,10:00,01/12/2017,11:00,-1,0,S,G,M",    # negative
        "1,500,1,01/12/2017,10:00,01/12/2017,11:00,5,0,S,G,M",     # exact duplicate of 1
        "1,501,1,01/12/2017,12:00,01/12/2017,13:00,5,0,S,G,M",     # id 1 again, other data
        "6,500,2,01/12/2017,12:00,,,,0,S,G,M",                     # open: kept
        "7,500,2,01/12/2017,12:00,01/12/2017,xx:yy,1,0,S,G,M",     # bad end
    ])
    assert result.rejects.to_dict("records") == [
        {"row": 2, "reason": "start date/time could not be read"},
        {"row": 3, "reason": "end is before start"},
        {"row": 4, "reason": "missing charge point id (CP ID)"},
        {"row": 5, "reason": "negative kWh"},
        {"row": 6, "reason": "exact duplicate of row 1"},
        {"row": 7, "reason": "session id already used by row 1 with different content"},
        {"row": 9, "reason": "end date/time could not be read"},
    ]
    sessions = result.table("sessions")
    assert sessions["source_session_id"].tolist() == ["1", "6"]
    assert sessions["end_utc"].isna().tolist() == [False, True]


def test_content_hash_key_without_id():
    header = "CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh,Site"
    lines = ["500,1,01/12/2017,10:00,01/12/2017,11:00,5,S",
             "500,1,01/12/2017,12:00,01/12/2017,13:00,5,S"]
    first = _parse(lines, header=header).table("sessions")
    second = _parse(lines[::-1], "other.csv", header=header).table("sessions")
    assert first["session_key"].str.match(r"^h:[0-9a-f]{40}$").all()
    assert first["session_key"].is_unique
    assert set(first["session_key"]) == set(second["session_key"])
    assert first["source_session_id"].isna().all()


def test_not_a_sessions_file():
    with pytest.raises(errors.ParseError, match="no charge point id"):
        parsers.parse_bytes(b"a,b\n1,2\n", "x.csv", format="sessions")
    with pytest.raises(errors.UnknownFormat, match="unrecognised CSV header"):
        parsers.detect_format(b"a,b\n1,2\n", "x.csv")
