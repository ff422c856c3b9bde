"""The DuckDB reading of session CSVs gives exactly the pandas reading's result.

Every comparison parses the same bytes twice, ``engine="python"`` (the pandas path, the
reference) and ``engine="duckdb"``, and requires equal ParseResults: the sessions frame
(columns, dtypes, values, exactly), the rejects (row numbers and reasons), the warnings,
format, source and rows read; or the same ParseError text. Cases that DuckDB must read
itself are checked to really take the DuckDB path (else the comparison proves nothing).
"""

from __future__ import annotations

import csv
import gzip
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from ev_chargepoints.core import errors, paths
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import common, sessions_csv

DUNDEE = paths.resource("data", "dundee")
DUNDEE_FILES = ("cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz",
                "charge-sessions-june-sept.csv.gz")
HEADER = ("Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,"
          "Total kWh,Cost,Site,Group,Model")
ROW = "{id},500,1,{sd},{st},{ed},{et},{kwh},0,\"Site, Dundee\",G,M"


def parse(data: bytes, engine: str, name="sessions.csv", **options):
    try:
        return parsers.parse_bytes(data, name, format="sessions", engine=engine, **options)
    except errors.ParseError as exc:
        return exc


def assert_same(data: bytes, name="sessions.csv", **options):
    old = parse(data, "python", name, **options)
    new = parse(data, "duckdb", name, **options)
    if isinstance(old, Exception) or isinstance(new, Exception):
        assert type(old) is type(new) and str(old) == str(new)
        return old
    assert (new.format, new.source, new.rows_read) == (old.format, old.source, old.rows_read)
    assert_frame_equal(new.table("sessions"), old.table("sessions"), check_exact=True)
    assert list(new.tables) == list(old.tables)
    assert_frame_equal(new.rejects, old.rejects, check_exact=True)
    assert new.warnings == old.warnings
    return old


def takes_duckdb(data: bytes) -> bool:
    text, _ = common.decode_text(common.maybe_gunzip(data, "x", common.DEFAULT_LIMITS), "x")
    return sessions_csv.read_columns_duckdb(text) is not None


def lines(*rows, header=HEADER, end="\r\n") -> bytes:
    return (end.join((header,) + rows) + end).encode()


def row(id="1", sd="01/12/2017", st="10:00", ed="01/12/2017", et="11:00", kwh="5"):
    return ROW.format(id=id, sd=sd, st=st, ed=ed, et=et, kwh=kwh)


# --- the real files -------------------------------------------------------------------

@pytest.mark.parametrize("name", DUNDEE_FILES)
def test_real_dundee_files_same_result_through_duckdb(name):
    data = (DUNDEE / name).read_bytes()
    assert takes_duckdb(data)
    result = assert_same(data, name)
    assert result.rows_read > 15000 and len(result.rejects) > 0


def test_real_rows_resampled_with_clashes():
    """Many rows, repeated ids and exact duplicate rows (first-row numbers in reasons)."""
    text = gzip.decompress((DUNDEE / "cpdata.csv.gz").read_bytes()).decode()
    body = text.split("\r\n")[1:-1]
    rng = np.random.default_rng(3)
    picked = [body[i] for i in rng.integers(0, len(body), 5000)]
    data = ("\r\n".join([text.split("\r\n")[0]] + picked) + "\r\n").encode()
    assert takes_duckdb(data)
    result = assert_same(data)
    reasons = result.reject_counts()
    assert any(r.startswith("exact duplicate of row") for r in reasons)


# --- hostile cases that DuckDB reads itself -------------------------------------------

DUCKDB_CASES = {
    "bad dates": lines(row("1", sd="31/02/2017"), row("2", st="25:61"), row("3", sd="00/00/0000"),
                       row("4", ed="01/12/2017", et="xx:yy"), row("5", sd="1/2/2018", st="9:05"),
                       row("6", sd="29/02/2020"), row("7", sd="29/02/2021"),
                       row("8", sd="01/01/1500"), row("9", sd="01/01/2300", ed="02/01/2300"),
                       row("10", ed="01/01/1970", et="00:00"), row("11", et="09:00"),
                       row("12", st="10:00:30", et="10:00:60"),
                       row("13", sd="2017-12-01", st="10:00:00"), row("14", sd="١٢/١٢/٢٠١٧")),
    "blank lines": lines(row("1"), "", row("2"), "", "", row("3")),
    "quoted commas and quotes": lines(row("1"), '2,500,1,01/12/2017,10:00,01/12/2017,11:00,'
                                      '"1,234.5",0,"a ""b"", c",G,M', row("3"),
                                      '4,500,1,01/12/2017,10:00,,,"7",0," x "" y",G,M'),
    "quoted newline": lines('1,500,1,01/12/2017,10:00,01/12/2017,11:00,5,0,"two\nlines",G,M',
                            row("2")),
    "duplicate ids and rows": lines(row("1"), row("1"), row("1", kwh="6"), row("2"), row("1"),
                                    row("2", kwh="7"), row(""), row(""), row("NA"), row("null")),
    "missing values": lines(row("1", ed="", et=""), row("2", kwh=""),
                            "3,,1,01/12/2017,10:00,,,,,,,", "4,NA,,01/12/2017,,,,N/A,,,,",
                            ",,,,,,,,,,,"),
    "whitespace around values": lines(" 1 ,\t500 , 1,01/12/2017 , 10:00,01/12/2017,11:00 , 5 ,0"
                                      ",S,G,M", "2,\u00a0501\u3000,1,01/12/2017,10:00,,, ,0,S,G,M",
                                      "3,502,1,  ,10:00,01/12/2017,11:00,5,0,S,G,M"),
    "kwh forms": lines(*(row(str(i), kwh=k) for i, k in enumerate(
        ["-5", "-0", "-0.0", "0", "nan", "inf", "1e3", '"1,5"', "0x1F", "+3", ".5", "5.",
         "12345678901234567890", "1.23456789012345678", "  7 ", '","', "abc", "９"]))),
    "kwh all integers": lines(row("1", kwh="5"), row("2", kwh="-0"), row("3", kwh="")),
    "dst": lines(row("1", sd="29/10/2017", st="01:55", ed="29/10/2017", et="01:20"),
                 row("2", sd="29/10/2017", st="01:08", ed="29/10/2017", et="01:20"),
                 row("3", sd="25/03/2018", st="01:30", ed="25/03/2018", et="03:00"),
                 row("4", sd="25/03/2018", st="00:59", ed="25/03/2018", et="01:00"),
                 row("5", sd="28/10/2018", st="00:30", ed="28/10/2018", et="01:30"),
                 row("6", sd="28/10/2018", st="01:30", ed="28/10/2018", et="01:10"),
                 row("7", sd="31/03/2019", st="01:59:59", ed="31/03/2019", et="02:00:01")),
    "utf-8 BOM": b"\xef\xbb\xbf" + lines(row("1"), row("2")),
    "utf-16": (HEADER + "\r\n" + row("1") + "\r\n").encode("utf-16"),
    "cp1252 bytes": lines(row("1")).replace(b"Site", b"Caf\xe9").replace(b",500,", b",5\xe90,"),
    "no id column (content keys)": lines("500,1,01/12/2017,10:00,01/12/2017,11:00,5",
                                         "500,1,01/12/2017,12:00,,,",
                                         "500,1,01/12/2017,10:00,01/12/2017,11:00,5",
                                         header="CP ID,Connector,Start Date,Start Time,End Date,"
                                                "End Time,Total kWh"),
    "dft 2017 layout": lines("9,77,2,01/12/2017,10:00,01/12/2017,11:00,3.5",
                             header="ChargingEvent,CPID,Connector,StartDate,StartTime,EndDate,"
                                    "EndTime,Energy"),
    "start/end layout": lines("s1,77,2017-12-01 10:00:00,2017-12-01 11:00:00,3",
                              "s2,77,01/12/2017 10:00,01/12/2017 09:00,3",
                              header="SDR ID,CP ID,Start,End,kWh"),
    "no connector, no kwh": lines("1,500,01/12/2017,10:00,01/12/2017,11:00",
                                  header="Charging event,CP ID,Start Date,Start Time,End Date,"
                                         "End Time"),
    "duplicate and unnamed header names": lines(row("1") + ",x,", row("2") + ",y,",
                                                header=HEADER + ",CP ID,"),
    "lf only, no final newline": lines(row("1"), row("2"), end="\n")[:-1],
    "header only": (HEADER + "\r\n").encode(),
    "gzip": gzip.compress(lines(row("1"), row("2")), mtime=0),
}


@pytest.mark.parametrize("case", list(DUCKDB_CASES))
def test_hostile_case_same_result_through_duckdb(case):
    data = DUCKDB_CASES[case]
    assert_same(data)
    if case != "header only":  # no rows: pandas reads it (nothing to gain)
        assert takes_duckdb(data), f"{case}: expected the DuckDB path"


def test_namespace_and_source_options():
    data = DUCKDB_CASES["duplicate ids and rows"]
    assert_same(data, namespace="mine", source="sessions:x")


def test_dst_reading_is_the_documented_rule():
    """Not only equal to pandas: right (first BST occurrence, gap shifted forward)."""
    result = parse(DUCKDB_CASES["dst"], "duckdb")
    sessions = result.table("sessions").set_index("source_session_id")
    assert sessions.loc["1", "start_utc"] == pd.Timestamp("2017-10-29 00:55", tz="UTC")
    assert sessions.loc["1", "end_utc"] == pd.Timestamp("2017-10-29 01:20", tz="UTC")
    assert sessions.loc["3", "start_utc"] == pd.Timestamp("2018-03-25 01:00", tz="UTC")


# --- cases pandas reads (DuckDB would split them differently) -------------------------

PANDAS_CASES = {
    "short row": lines(row("1"), "2,500,1,01/12/2017,10:00"),
    "long row": lines(row("1"), row("2") + ",extra"),
    "lone CR": lines(row("1"), row("2"), end="\r"),
    "mixed CR": lines(row("1")) + b"\r" + row("2").encode() + b"\r\n",
    "space before quote": lines(row("1"), '2,500,1,01/12/2017,10:00,,, "5",0,S,G,M'),
    "space after quote": lines(row("1"), '2,500,1,01/12/2017,10:00,,,"5" ,0,S,G,M'),
    "tab before quote at line start": lines(row("1"), '\t"2",500,1,01/12/2017,10:00,,,5,0,S,G,M'),
    "text after closing quote": lines(row("1"), '2,500,1,01/12/2017,10:00,,,"5"x,0,S,G,M'),
    "unterminated quote": lines(row("1"), '2,500,1,01/12/2017,10:00,,,"5,0,S,G,M'),
    "NUL after the first 8 KB": lines(*(row(str(i)) for i in range(200)), "9,5\x009,1,01/12/2017"
                                      ",10:00,,,,0,S,G,M"),
    "blank first line": b"\r\n" + lines(row("1")),
    "whitespace line": lines(row("1"), "   ", row("2")),
    "quoted header newline": lines(row("1"), header='"Charging\nevent",' + HEADER.split(",", 1)[1]),
    "not sessions": b"a,b\n1,2\n",
    "empty": b"",
}


@pytest.mark.parametrize("case", list(PANDAS_CASES))
def test_text_duckdb_would_split_otherwise_is_read_by_pandas(case):
    data = PANDAS_CASES[case]
    assert_same(data)
    if data:
        assert not takes_duckdb(data)


def test_field_over_the_limit_same_error():
    data = lines(row("1"), row("2", kwh="9" * 3000))
    limits = parsers.Limits(max_field_chars=2000)
    error = assert_same(data, limits=limits)
    assert isinstance(error, errors.ParseError) and "more than the limit" in str(error)


def test_field_over_the_limit_across_lines_same_error():
    """A quoted field spanning short lines is measured whole: DuckDB's row limit
    (quoted line breaks included) sends it to pandas, which names it."""
    site = '"' + "\r\n".join(["x" * 50] * 60) + '"'
    data = lines(row("1"), f"2,500,1,01/12/2017,10:00,01/12/2017,11:00,5,0,{site},G,M")
    limits = parsers.Limits(max_field_chars=2000)
    error = assert_same(data, limits=limits)
    assert isinstance(error, errors.ParseError) and "more than the limit" in str(error)
    assert takes_duckdb(data)  # (within the default limit DuckDB reads it)


def test_row_over_the_limit_with_every_field_within_it_read_by_pandas():
    long = "y" * 1500
    data = lines(row("1"), f"2,500,1,01/12/2017,10:00,01/12/2017,11:00,5,0,{long},{long},M")
    limits = parsers.Limits(max_field_chars=2000)
    text = data.decode()
    assert sessions_csv.read_columns_duckdb(text, limits) is None
    assert sessions_csv.read_columns_duckdb(text) is not None
    result = assert_same(data, limits=limits)
    assert len(result.table("sessions")) == 2


def test_unknown_engine_refused():
    with pytest.raises(errors.ParseError, match="unknown engine 'spark'"):
        parsers.parse_bytes(lines(row("1")), "s.csv", engine="spark")


def test_auto_engine_uses_duckdb_for_large_text_with_same_result(monkeypatch):
    data = lines(*(row(str(i)) for i in range(200)))
    monkeypatch.setattr(sessions_csv, "DUCKDB_MIN_CHARS", 1)
    auto = parsers.parse_bytes(data, "s.csv", engine="auto")
    old = parse(data, "python", "s.csv")
    assert_frame_equal(auto.table("sessions"), old.table("sessions"), check_exact=True)


# --- property: generated files ---------------------------------------------------------

FIELDS = {
    "id": ["1", "2", "3", "", "NA", " 4 "],
    "device": ["500", "501", "", "null", "=1+1", " 502"],
    "connector": ["1", "2", "", "-1"],
    "date": ["01/12/2017", "29/10/2017", "25/03/2018", "31/02/2017", "1/2/2018", "", "00/00/0000",
             "01/01/1970", "2017-12-01", "29/02/2020 "],
    "time": ["10:00", "01:30", "01:59", "00:00", "25:61", "", "9:05", "10:00:30", "x"],
    "kwh": ["5", "12.5", "-1", "-0", "", "nan", "1,234", "1e3", "abc", "0"],
    "site": ["S", "Site, Dundee", 'a "q" b', "Café", ""],
}


@st.composite
def session_csv(draw):
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        rows.append([draw(st.sampled_from(FIELDS["id"])), draw(st.sampled_from(FIELDS["device"])),
                     draw(st.sampled_from(FIELDS["connector"])),
                     draw(st.sampled_from(FIELDS["date"])), draw(st.sampled_from(FIELDS["time"])),
                     draw(st.sampled_from(FIELDS["date"])), draw(st.sampled_from(FIELDS["time"])),
                     draw(st.sampled_from(FIELDS["kwh"])), "0",
                     draw(st.sampled_from(FIELDS["site"])), "G", "M"])
    if draw(st.booleans()):
        rows += rows[: draw(st.integers(0, len(rows)))]  # exact repeats
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([HEADER.split(",")] + rows)
    return out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=session_csv(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_generated_files_same_result(text, encoding):
    assert_same(text.encode(encoding, errors="replace"))


# --- the distinct-time localisation -------------------------------------------------------

def test_local_to_utc_by_distinct_times_equals_common():
    rng = np.random.default_rng(5)
    # one format throughout: pandas 2 takes the format of the first value for all
    edges = pd.to_datetime(["2017-10-29 00:30:00", "2017-10-29 01:00:00", "2017-10-29 01:30:00",
                            "2017-10-29 01:59:59", "2018-03-25 01:00:00", "2018-03-25 01:30:45",
                            "2018-03-25 02:00:00", "2018-06-01 12:00:00"]).to_numpy()
    start = pd.Series(rng.choice(np.append(edges, np.datetime64("NaT")), 6000))
    end = pd.Series(start.to_numpy() + rng.integers(-90, 90, 6000).astype("m8[m]"))
    for tz in ("Europe/London", "America/New_York"):
        expected_start = common.local_to_utc(start, tz)
        got_start = sessions_csv._local_to_utc(start, tz)
        pd.testing.assert_series_equal(got_start, expected_start)
        pd.testing.assert_series_equal(sessions_csv._local_to_utc(end, tz, got_start),
                                       common.local_to_utc(end, tz, expected_start))


def test_whitespace_set_is_pythons():
    from ev_chargepoints.core.sources.parsers import sessions_duckdb

    assert sessions_duckdb.WHITESPACE == "".join(
        c for c in map(chr, range(0x110000)) if c.isspace())
