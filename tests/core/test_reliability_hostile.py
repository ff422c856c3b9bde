"""Hostile input, as properties: every parser entry point, file names, exports, markup.

The parsers' promise: whatever the bytes, the only exception that leaves is the
parser's own ``errors.ParseError`` (or a subclass), and when parsing succeeds every
table is canonical (exactly ``schema.TABLES``' columns and dtypes). The inputs are
random bytes and real-shaped files carrying hostile values (formula-looking text,
fields over the limits, out-of-range and swapped coordinates, dates in 1900 and in
the future, negative and NaN numbers) in every encoding a feed sends (UTF-8 with and
without BOM, UTF-16 with and without BOM, Latin-1, CRLF, gzip).

Each property records one row for docs/reliability.md with the number of examples run.
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from replay_server import NCR_FILE

from ev_chargepoints.core import errors, schema
from ev_chargepoints.core.outputs import tables as export
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.download_cache import safe_filename
from ev_chargepoints.core.sources.http import HttpClient, RetryPolicy
from ev_chargepoints.core.sources.london_datastore import DatastoreClient, Resource
from ev_chargepoints.core.sources.parsers import ncr, ocpi
from ev_chargepoints.core.sources.parsers.usage_return import load_schema
from ev_chargepoints.core.sources.transport import Response, Transport
from ev_chargepoints.core.store import gpkg_file as gpkg
from ev_chargepoints.core.store.geopackage import HistoryStore

SUITE = "hostile"
LIMITS = parsers.Limits(max_file_bytes=400_000, max_field_chars=2_000)
FORMATS = (None,) + parsers.FORMATS
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large,
          HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]


def bounded(n):
    # no shrinking: a failure is reported with the example as generated, in bounded time
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=HEALTH, report_multiple_bugs=False,
                    phases=(Phase.explicit, Phase.generate))


class Tally:
    """Counts examples and outcomes of one property, for its row in the table."""

    def __init__(self):
        self.cases = 0
        self.outcomes: dict[str, int] = {}
        self.example = ""
        self.example_readable = False

    def add(self, outcome: str, message: str = "") -> None:
        self.cases += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        readable = message.isascii() and message.isprintable() and len(message) < 200
        if message and (not self.example or (readable and not self.example_readable)):
            self.example, self.example_readable = message, readable

    def summary(self) -> str:
        return "; ".join(f"{k} ×{v}" for k, v in sorted(self.outcomes.items()))


@pytest.fixture
def tally(request, reliability_record):
    counter = Tally()
    yield counter
    what = request.node.get_closest_marker("reliability")
    client, fault = what.args
    assert counter.cases > 0
    reliability_record(SUITE, client, fault, counter.summary(), counter.example,
                       cases=counter.cases)


def assert_canonical(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    for name, frame in result.tables.items():
        assert isinstance(frame, pd.DataFrame)
        if name not in schema.TABLES:  # a parser's extra table (e.g. NCR attributes)
            continue
        spec = schema.TABLES[name]
        assert list(frame.columns) == list(spec), name
        for column, dtype in spec.items():
            assert str(frame[column].dtype) == dtype, (name, column, frame[column].dtype)
    devices = result.tables.get("devices")
    if devices is not None and len(devices):
        assert devices["device_id"].notna().all()
        assert devices["latitude"].between(-90, 90).all(), devices["latitude"].tolist()
        assert devices["longitude"].between(-180, 180).all()
    sessions = result.tables.get("sessions")
    if sessions is not None and len(sessions):
        assert sessions["session_key"].notna().all() and sessions["session_key"].is_unique
        assert not (sessions["kwh"] < 0).any(), "negative kWh kept"
        both = sessions["end_utc"].notna() & sessions["start_utc"].notna()
        assert (sessions.loc[both, "end_utc"] >= sessions.loc[both, "start_utc"]).all()
    assert result.rows_read >= 0


def attempt(tally: Tally, func, *args, **kwargs):
    """Run one parser call: a ParseError or a canonical result, nothing else."""
    try:
        result = func(*args, **kwargs)
    except errors.ParseError as exc:
        assert exc.message and "Traceback" not in exc.message
        tally.add("ParseError", exc.message)
        return None
    except Exception as exc:  # the promise is broken: show what escaped
        raise AssertionError(f"{type(exc).__name__} escaped a parser: {exc}") from exc
    assert_canonical(result)
    tally.add("parsed")
    return result


# --- hostile values --------------------------------------------------------------------

FORMULAS = ["=1+1", "+44 20 7946 0000", "-2+3", "@SUM(A1:A9)", "=HYPERLINK(\"http://x\")",
            "\t=cmd", "\r=cmd", "=cmd|' /C calc'!A0"]
MARKUP = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'); DROP TABLE x; --",
          "\" OR 1=1 --"]
NUMBERS = ["-5", "-0", "nan", "NaN", "inf", "-inf", "1e309", "1e-320", "", "null", "0", "12.5",
           "0x1F", "1,5", "９"]
COORDS = ["51.5", "-0.12", "91", "-91", "181", "-181", "0", "nan", "1e400", "", "51,5"]
DATES_ISO = ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "2022-05-01T10:00:00",
             "2022-05-01T10:00:00+01:00", "2022-13-45T99:00:00Z", "0000-00-00T00:00:00Z",
             "1677-09-21T00:12:43Z", "2262-04-11T23:47:17Z", "10000-01-01T00:00:00Z", ""]
DATES_UK = ["01/01/1900", "31/12/2999", "29/02/2021", "01/05/2022", "00/00/0000", ""]

text_values = st.one_of(
    st.sampled_from(FORMULAS + MARKUP + NUMBERS + DATES_ISO),
    st.text(max_size=30),
    st.text(alphabet="\"',;\n\r\t\\=+-@<>&\x00\ufeff", max_size=12),
)
huge_values = st.integers(LIMITS.max_field_chars + 1, 3 * LIMITS.max_field_chars).map(
    lambda n: "x" * n)
any_value = st.one_of(text_values, huge_values)

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252"]


def encode(text: str, encoding: str, crlf: bool, zipped: bool) -> bytes:
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = text.encode(encoding, errors="replace")
    return gzip.compress(data, mtime=0) if zipped else data


def to_csv(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _ncr_base():
    with gzip.open(LONDON_SNAPSHOT / NCR_FILE, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [next(reader) for _ in range(5)]
    return header, rows


NCR_HEADER, NCR_ROWS = _ncr_base()
NCR_COL = {name: i for i, name in enumerate(ncr.expected_header())}
SESSIONS_HEADER = ["Charging event", "CP ID", "Connector", "Start Date", "Start Time",
                   "End Date", "End Time", "Total kWh", "Site"]
USAGE_FIELDS = [f["name"] for f in load_schema()["fields"]]


@st.composite
def ncr_files(draw):
    rows = [list(r) for r in NCR_ROWS[: draw(st.integers(1, len(NCR_ROWS)))]]
    for row in rows:
        for column in draw(st.lists(st.sampled_from(range(len(NCR_HEADER))), max_size=4)):
            row[column] = draw(any_value)
        lat, lon = draw(st.sampled_from(COORDS)), draw(st.sampled_from(COORDS))
        if draw(st.booleans()):  # swapped: a London point with lat/lon exchanged
            lat, lon = row[NCR_COL["longitude"]], row[NCR_COL["latitude"]]
        row[NCR_COL["latitude"]], row[NCR_COL["longitude"]] = lat, lon
        row[NCR_COL["dateCreated"]] = draw(st.sampled_from(
            ["1900-01-01 00:00:00", "2999-12-31 23:59:59", "0000-00-00 00:00:00",
             "2022-03-27 01:30:00", "2022-10-30 01:30:00"]))
        row[NCR_COL["connector1RatedOutputKW"]] = draw(st.sampled_from(NUMBERS))
    return to_csv([NCR_HEADER] + rows)


@st.composite
def session_files(draw):
    rows = []
    for i in range(draw(st.integers(1, 6))):
        rows.append([draw(st.sampled_from([str(4000 + i), "", "=1+1", "-1"])),
                     draw(st.sampled_from(["50911", "=HYPERLINK(1)", "", "@x"])),
                     draw(st.sampled_from(["1", "2", "", "-1"])),
                     draw(st.sampled_from(DATES_UK)),
                     draw(st.sampled_from(["12:09", "25:61", "01:30", ""])),
                     draw(st.sampled_from(DATES_UK)),
                     draw(st.sampled_from(["13:10", "00:00", "", "x"])),
                     draw(st.sampled_from(NUMBERS)), draw(any_value)])
    return to_csv([SESSIONS_HEADER] + rows)


@st.composite
def usage_files(draw):
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row = {"device_id": draw(st.sampled_from(["GB-1", "=1+1", "", "@cmd"])),
               "connector_id": draw(st.sampled_from(["1", "-1", ""])),
               "session_id": draw(st.sampled_from(["s1", "s2", "", "+1"])),
               "start_utc": draw(st.sampled_from(DATES_ISO)),
               "end_utc": draw(st.sampled_from(DATES_ISO)),
               "kwh": draw(st.sampled_from(NUMBERS)),
               "charging_end_utc": draw(st.sampled_from(DATES_ISO))}
        if draw(st.booleans()):
            row[draw(st.sampled_from(USAGE_FIELDS))] = draw(any_value)
        rows.append([row[f] for f in USAGE_FIELDS])
    return to_csv([USAGE_FIELDS] + rows)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                         st.floats(allow_nan=True, allow_infinity=True),
                         st.sampled_from(FORMULAS + MARKUP + NUMBERS + COORDS + DATES_ISO),
                         st.text(max_size=10))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


def maybe(value_strategy):
    return st.one_of(value_strategy, json_values)


connectors = st.fixed_dictionaries({
    "id": maybe(st.sampled_from(["1", "2", "=1"])),
    "standard": maybe(st.sampled_from(["IEC_62196_T2", "CHADEMO"])),
    "power_type": maybe(st.sampled_from(["AC_1_PHASE", "AC_3_PHASE", "DC"])),
    "max_voltage": maybe(st.sampled_from([230, 400, -230, float("nan")])),
    "max_amperage": maybe(st.sampled_from([16, 32, -1])),
    "max_electric_power": maybe(st.sampled_from([7400, 50000, -1, 10**30])),
})
evses = st.fixed_dictionaries({
    "uid": maybe(st.sampled_from(["E1", "E2", "@E"])),
    "status": maybe(st.sampled_from(["AVAILABLE", "WORKING", "Out_Of_Order", "???", ""])),
    "connectors": st.one_of(st.lists(connectors, max_size=3), json_values),
    "last_updated": maybe(st.sampled_from(DATES_ISO)),
})
locations = st.fixed_dictionaries({
    "country_code": maybe(st.just("GB")), "party_id": maybe(st.just("ABC")),
    "id": maybe(st.sampled_from(["L1", "L2", "=L3", ""])),
    "name": maybe(st.sampled_from(FORMULAS + MARKUP)),
    "address": maybe(st.just("1 High St")), "city": maybe(st.just("London")),
    "country": maybe(st.sampled_from(["GBR", "FRA"])),
    "coordinates": st.one_of(
        st.fixed_dictionaries({"latitude": maybe(st.sampled_from(COORDS)),
                               "longitude": maybe(st.sampled_from(COORDS))}),
        json_values),
    "evses": st.one_of(st.lists(evses, max_size=3), json_values),
    "last_updated": maybe(st.sampled_from(DATES_ISO)),
})
cdrs = st.fixed_dictionaries({
    "country_code": maybe(st.just("GB")), "party_id": maybe(st.just("ABC")),
    "id": maybe(st.sampled_from(["C1", "C2", "", "=C"])),
    "session_id": maybe(st.sampled_from(["S1", None])),
    "start_date_time": maybe(st.sampled_from(DATES_ISO)),
    "end_date_time": maybe(st.sampled_from(DATES_ISO)),
    "total_energy": maybe(st.sampled_from([12.5, -3, float("nan"), "7", 10**400 // 10**390])),
    "total_parking_time": maybe(st.sampled_from([0.5, -1, 1e12, float("inf")])),
    "cdr_location": st.one_of(st.fixed_dictionaries({
        "id": maybe(st.just("L1")), "evse_uid": maybe(st.just("E1")),
        "connector_id": maybe(st.just("1")), "country": maybe(st.just("GBR")),
        "coordinates": maybe(st.fixed_dictionaries({
            "latitude": st.sampled_from(COORDS), "longitude": st.sampled_from(COORDS)}))}),
        json_values),
    "charging_periods": maybe(st.just([{"start_date_time": "2022-05-01T10:00:00Z",
                                        "dimensions": [{"type": "PARKING_TIME"}]}])),
})
sessions_objects = st.fixed_dictionaries({
    "country_code": maybe(st.just("GB")), "party_id": maybe(st.just("ABC")),
    "id": maybe(st.sampled_from(["S1", "S2", ""])),
    "status": maybe(st.sampled_from(["COMPLETED", "ACTIVE", "INVALID", "RESERVATION"])),
    "location_id": maybe(st.just("L1")), "evse_uid": maybe(st.just("E1")),
    "connector_id": maybe(st.just("1")),
    "start_date_time": maybe(st.sampled_from(DATES_ISO)),
    "end_date_time": maybe(st.sampled_from(DATES_ISO)),
    "kwh": maybe(st.sampled_from([3.2, -1, float("nan"), "x"])),
})


def envelope(items_strategy):
    return st.one_of(
        items_strategy,
        st.fixed_dictionaries({"status_code": st.sampled_from([1000, "1000", 2001, None, "x"]),
                               "status_message": json_values,
                               "timestamp": st.just("2022-05-01T00:00:00Z"),
                               "data": st.one_of(items_strategy, json_values)}),
        json_values)


# --- parsers: bytes in -----------------------------------------------------------------

@pytest.mark.reliability("every parser (parse_bytes, each format and auto-detect)",
                         "random bytes, optionally gzip-compressed")
@bounded(120)
@given(data=st.binary(max_size=3000), fmt=st.sampled_from(FORMATS), zipped=st.booleans(),
       name=st.sampled_from(["x.csv", "x.json", "cdrs.json", "locations.json", "x"]))
def test_random_bytes(data, fmt, zipped, name, tally):
    if zipped:
        data = gzip.compress(data, mtime=0)
    attempt(tally, parsers.parse_bytes, data, name, format=fmt, limits=LIMITS)
    try:
        parsers.detect_format(data, name)
    except errors.ParseError:
        pass


@pytest.mark.reliability("every parser (parse_bytes, each format and auto-detect)",
                         "damaged gzip (cut short, bit flips, bomb over the size limit)")
@bounded(40)
@given(cut=st.integers(0, 400), flip=st.integers(0, 400), fmt=st.sampled_from(FORMATS))
def test_damaged_gzip(cut, flip, fmt, tally):
    good = gzip.compress(to_csv([SESSIONS_HEADER, ["1", "2", "1", "01/05/2022", "10:00",
                                                   "01/05/2022", "11:00", "5", "x"]]).encode())
    for data in (good[:cut], good[:flip] + bytes([good[flip % len(good)] ^ 0xFF])
                 + good[flip + 1:], gzip.compress(b"a" * (LIMITS.max_file_bytes + 10))):
        attempt(tally, parsers.parse_bytes, data, "x.csv.gz", format=fmt, limits=LIMITS)
    assert tally.outcomes.get("ParseError"), "the gzip bomb over the limit was accepted"


def _friendly(encoding: str) -> bool:
    return encoding in ("utf-8", "utf-8-sig", "utf-16")


@pytest.mark.reliability("NCR CSV (explicit and auto-detected)",
                         "hostile fields × encodings (UTF-8±BOM, UTF-16±BOM, Latin-1) × CRLF "
                         "× gzip: formulas, huge fields, bad/swapped coordinates, 1900/2999 "
                         "dates, negative/NaN kW")
@bounded(60)
@given(text=ncr_files(), encoding=st.sampled_from(ENCODINGS), crlf=st.booleans(),
       zipped=st.booleans(), auto=st.booleans())
def test_ncr_hostile(text, encoding, crlf, zipped, auto, tally):
    data = encode(text, encoding, crlf, zipped)
    result = attempt(tally, parsers.parse_bytes, data, "ncr.csv",
                     format=None if auto else "ncr", limits=LIMITS)
    too_big = max(len(f) for row in csv.reader(io.StringIO(text, newline="")) for f in row) \
        > LIMITS.max_field_chars
    if _friendly(encoding) and not too_big and len(data) <= LIMITS.max_file_bytes:
        assert result is not None, "a well-encoded NCR file was refused"
        n_rows = len(list(csv.reader(io.StringIO(text, newline="")))) - 1
        assert len(result.table("devices")) + len(result.rejects) == n_rows
    if too_big:
        assert result is None


@pytest.mark.reliability("charging-session CSV (explicit and auto-detected)",
                         "hostile fields × encodings × CRLF × gzip: formulas, huge fields, "
                         "1900/2999 and impossible dates, negative/NaN/inf kWh")
@bounded(60)
@given(text=session_files(), encoding=st.sampled_from(ENCODINGS), crlf=st.booleans(),
       zipped=st.booleans(), auto=st.booleans())
def test_sessions_hostile(text, encoding, crlf, zipped, auto, tally):
    data = encode(text, encoding, crlf, zipped)
    result = attempt(tally, parsers.parse_bytes, data, "sessions.csv",
                     format=None if auto else "sessions", limits=LIMITS)
    if result is not None:
        assert len(result.table("sessions")) <= result.rows_read


@pytest.mark.reliability("usage return CSV (explicit and auto-detected)",
                         "hostile fields × encodings × CRLF × gzip: formulas, huge fields, "
                         "dates without zone/1900/2999/out of range, negative/NaN kWh")
@bounded(60)
@given(text=usage_files(), encoding=st.sampled_from(ENCODINGS), crlf=st.booleans(),
       zipped=st.booleans(), auto=st.booleans())
def test_usage_return_hostile(text, encoding, crlf, zipped, auto, tally):
    data = encode(text, encoding, crlf, zipped)
    result = attempt(tally, parsers.parse_bytes, data, "usage_return.csv",
                     format=None if auto else "usage-return", limits=LIMITS)
    if result is not None:
        sessions = result.table("sessions")
        assert len(sessions) <= result.rows_read
        assert sessions["start_utc"].notna().all() and sessions["end_utc"].notna().all()


@pytest.mark.reliability("OCPI JSON files (parse_bytes, explicit and auto-detected)",
                         "hostile JSON documents × encodings × gzip")
@bounded(60)
@given(payload=envelope(st.one_of(st.lists(locations, max_size=3), st.lists(cdrs, max_size=3),
                                  st.lists(sessions_objects, max_size=3))),
       fmt=st.sampled_from((None, "ocpi-locations", "ocpi-cdrs", "ocpi-sessions")),
       encoding=st.sampled_from(ENCODINGS), zipped=st.booleans())
def test_ocpi_files_hostile(payload, fmt, encoding, zipped, tally):
    import json
    text = json.dumps(payload, allow_nan=True)
    attempt(tally, parsers.parse_bytes, encode(text, encoding, False, zipped), "feed.json",
            format=fmt, limits=LIMITS)


# --- parsers: dict payloads -------------------------------------------------------------

@pytest.mark.reliability("OCPI parse_locations (dict payloads)",
                         "hostile Locations: any JSON type in any field, bad/swapped/"
                         "out-of-range coordinates, odd statuses, negative/huge power")
@bounded(120)
@given(payload=envelope(st.lists(locations, max_size=4)))
def test_ocpi_locations_dicts(payload, tally):
    result = attempt(tally, ocpi.parse_locations, payload, source="ocpi:test",
                     observed_utc=pd.Timestamp("2022-05-01T00:00:00Z"), limits=LIMITS)
    if result is not None:
        kw = result.table("connectors")["power_kw"]
        assert not (kw <= 0).any()


@pytest.mark.reliability("OCPI parse_cdrs (dict payloads)",
                         "hostile CDRs: any JSON type in any field, 1900/2999 dates, "
                         "negative/NaN energy, absurd parking time")
@bounded(120)
@given(payload=envelope(st.lists(cdrs, max_size=4)),
       with_locations=st.booleans())
def test_ocpi_cdrs_dicts(payload, with_locations, tally):
    known = conform(pd.DataFrame({"device_id": ["L1"], "latitude": [51.5],
                                  "longitude": [-0.12]}), "devices") if with_locations else None
    attempt(tally, ocpi.parse_cdrs, payload, source="ocpi:test", locations=known,
            limits=LIMITS)


@pytest.mark.reliability("OCPI parse_sessions (dict payloads)",
                         "hostile Sessions: any JSON type in any field, open sessions, "
                         "invalid statuses, negative/NaN kWh")
@bounded(100)
@given(payload=envelope(st.lists(sessions_objects, max_size=4)))
def test_ocpi_sessions_dicts(payload, tally):
    attempt(tally, ocpi.parse_sessions, payload, source="ocpi:test", limits=LIMITS)


@pytest.mark.reliability("all parsers", "a field over Limits.max_field_chars")
@bounded(30)
@given(size=st.integers(LIMITS.max_field_chars + 1, 4 * LIMITS.max_field_chars),
       where=st.sampled_from(["ncr", "sessions", "usage-return", "ocpi-locations",
                              "ocpi-cdrs"]))
def test_fields_over_the_limit_are_refused(size, where, tally):
    import json
    big = "y" * size
    if where == "ncr":
        row = list(NCR_ROWS[0])
        row[NCR_COL["name"]] = big
        text = to_csv([NCR_HEADER, row])
    elif where == "sessions":
        text = to_csv([SESSIONS_HEADER, ["1", "2", "1", "01/05/2022", "10:00", "01/05/2022",
                                         "11:00", "5", big]])
    elif where == "usage-return":
        text = to_csv([USAGE_FIELDS, [big, "1", "s", "2022-05-01T10:00:00Z",
                                      "2022-05-01T11:00:00Z", "5", ""]])
    elif where == "ocpi-locations":
        text = json.dumps([{"id": "L1", "name": big, "coordinates": {
            "latitude": "51.5", "longitude": "-0.1"}, "evses": []}])
    else:
        text = json.dumps([{"id": "C1", "start_date_time": "2022-05-01T10:00:00Z",
                            "end_date_time": "2022-05-01T11:00:00Z", "total_energy": 5,
                            "cdr_location": {"id": big, "evse_uid": "E", "connector_id": "1"}}])
    result = attempt(tally, parsers.parse_bytes, text.encode(), "big", format=where,
                     limits=LIMITS)
    assert result is None, f"{where}: a {size}-character field passed the limit"
    assert tally.example


@pytest.mark.reliability("all parsers", "a file over Limits.max_file_bytes (plain and gzip)")
@bounded(10)
@given(fmt=st.sampled_from(FORMATS), zipped=st.booleans())
def test_files_over_the_limit_are_refused(fmt, zipped, tally):
    data = to_csv([SESSIONS_HEADER] + [["1", "2", "1", "01/05/2022", "10:00", "01/05/2022",
                                        "11:00", "5", "x" * 50]] * 6000).encode()
    assert len(data) > LIMITS.max_file_bytes
    result = attempt(tally, parsers.parse_bytes, gzip.compress(data) if zipped else data,
                     "big.csv", format=fmt, limits=LIMITS)
    assert result is None


# --- GeoPackage reader on corrupted SQLite files -------------------------------------------

@pytest.fixture(scope="module")
def small_gpkg(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpkg") / "small.gpkg"
    devices = conform(pd.DataFrame({
        "device_id": [f"D{i}" for i in range(40)], "name": [f"=cmd{i}" for i in range(40)],
        "latitude": np.linspace(51.3, 51.7, 40), "longitude": np.linspace(-0.5, 0.3, 40),
        "source": "ncr", "updated_utc": pd.Timestamp("2022-05-01", tz="UTC")}), "devices")
    with HistoryStore.create_or_open(path) as store:
        store.import_parse_result(ParseResult("ncr", "ncr", 40, {"devices": devices}),
                                  "d.csv", "sha-d")
    return path.read_bytes()


@pytest.mark.reliability("GeoPackage reader (gpkg.read_layer / feature_layers)",
                         "corrupted SQLite files: bytes overwritten, truncated, pages zeroed")
@bounded(80)
@given(edits=st.lists(st.tuples(st.integers(0, 10**7), st.binary(min_size=1, max_size=64)),
                      max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 10**7)), layer=st.sampled_from([None, "devices",
                                                                               "x\"; --"]))
def test_gpkg_reader_on_corrupted_files(small_gpkg, tmp_path, edits, cut, layer, tally):
    data = bytearray(small_gpkg)
    for offset, chunk in edits:
        offset %= len(data)
        data[offset:offset + len(chunk)] = chunk
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path / "corrupt.gpkg"
    path.write_bytes(bytes(data))
    try:
        frame, wkbs, crs = gpkg.read_layer(path, layer)
        gpkg.feature_layers(path)
    except errors.ParseError as exc:
        tally.add("ParseError", exc.message.replace(str(tmp_path), "<tmp>"))
        return
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} escaped read_layer: {exc}") from exc
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(wkbs)
    assert crs is None or isinstance(crs, str)
    tally.add("read")


# --- file names from feeds never become paths -----------------------------------------------

HOSTILE_NAMES = ["../../etc/passwd", "..\\..\\windows\\win.ini", "C:\\x", "C:x.csv",
                 "/etc/shadow", "a\x00b.csv", "\x00", "..", ".", "...", "~/.bashrc",
                 "%2e%2e%2fescape", "..%2F..%2Fescape.csv", "CON", "nul.csv", "x" * 300,
                 "y" * 280 + ".csv", "é" * 200, "name with spaces.csv", "\u202etxt.exe",
                 ".hidden", "a/../../b.gpkg", "file:///etc/passwd", "\n\r\t", ""]


@pytest.mark.reliability("cache.safe_filename", "file names from feeds (random text and "
                         "traversal, drive letters, NUL bytes, 300-character names)")
@bounded(150)
@given(name=st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=320),
                      st.text(alphabet="./\\:%2eE\x00C", max_size=40)))
def test_safe_filename_never_a_path(name, tmp_path, tally):
    safe = safe_filename(name)
    assert safe and len(safe) <= 120
    assert not set(safe) & set("/\\:\x00") and safe not in (".", "..")
    assert not safe.startswith(".") and re.fullmatch(r"[A-Za-z0-9._-]+", safe)
    assert (tmp_path / safe).resolve().parent == tmp_path.resolve()
    tally.add("plain file name")


class FileServer(Transport):
    """A transport that answers every URL with the same bytes (no network)."""

    def __init__(self, body: bytes):
        self.body = body
        self.urls = []

    def get(self, url, *, headers=None, timeout=1.0, max_bytes=1 << 30, is_cancelled=None):
        self.urls.append(url)
        return Response(url, 200, {"Content-Type": "text/csv"}, self.body)


@pytest.mark.reliability("DatastoreClient.download", "hostile resource ids, titles and URL "
                         "file names (traversal, C:\\, NUL, 300 characters)")
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_datastore_download_names_stay_inside(name, tmp_path, tally):
    body = b"a,b\n1,2\n"
    client = DatastoreClient(HttpClient(FileServer(body), policy=RetryPolicy(attempts=1)),
                             "https://data.example")
    dest = tmp_path / "dest"
    from urllib.parse import quote
    for resource in (Resource(resource_id=name or "r", title=name, format="csv"),
                     Resource(resource_id="r1", title=name,
                              url=f"https://data.example/download/x/{quote(name)}"),
                     Resource(resource_id="r2", title="t",
                              url="https://data.example/download/x/" + name.replace("?", ""))):
        try:
            result = client.download(_dataset(resource), resource, dest)
        except (ValueError, errors.PayloadError) as exc:
            tally.add("refused", str(exc))
            continue
        assert result.path.resolve().is_relative_to(dest.resolve())
        assert result.path.read_bytes() == body
        assert "\x00" not in str(result.path)
        tally.add("kept inside the download folder")
    outside = [p for p in tmp_path.rglob("*") if not p.resolve().is_relative_to(dest.resolve())
               and p != dest]
    assert outside == []


def _dataset(resource):
    from ev_chargepoints.core.sources.london_datastore import Dataset
    return Dataset(id="ds", resources=(resource,))


# --- exports and reports ----------------------------------------------------------------

cells = st.one_of(st.sampled_from(FORMULAS + MARKUP + ["'=already", " =spaced", "plain"]),
                  st.text(max_size=20), st.text(alphabet="=+-@\t\r\n'\" ,;", max_size=8))
TRIGGERS = tuple(export.FORMULA_TRIGGERS)


@pytest.mark.reliability("export.write_csv / write_xlsx",
                         "cells starting with = + - @ TAB CR (and random text)")
@bounded(60)
@given(values=st.lists(cells, min_size=1, max_size=8),
       numbers=st.lists(st.floats(allow_nan=True, allow_infinity=False), min_size=1,
                        max_size=8))
def test_exports_neutralise_formulas(values, numbers, tmp_path, tally):
    n = min(len(values), len(numbers))
    frame = pd.DataFrame({"name": values[:n], "kw": numbers[:n]})
    path = export.write_csv(frame, tmp_path / "out.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "kw"] and len(rows) == n + 1
    for (text, _), original in zip(rows[1:], values[:n]):
        assert not text.startswith(TRIGGERS), text
        assert text in (original, "'" + original)
    xlsx = export.write_xlsx(frame, tmp_path / "out.xlsx")
    sheet = export.read_xlsx_sheet(xlsx)
    for row in sheet[1:]:
        cell = row[0] if row else ""
        if isinstance(cell, str):
            assert not cell.startswith(TRIGGERS), cell
    tally.add("neutralised")


def test_csv_cell_with_a_lone_carriage_return_stays_in_its_row(tmp_path):
    """Regression: a lone CR in a cell was written unquoted, so spreadsheets and csv
    readers split the row there and '=cmd' became a cell (and a formula) of its own."""
    frame = pd.DataFrame({"name": ["x\r=cmd|' /C calc'!A0", "\r=cmd"], "kw": [1.0, 2.0]})
    path = export.write_csv(frame, tmp_path / "out.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["name", "kw"], ["x\r=cmd|' /C calc'!A0", "1.0"], ["'\r=cmd", "2.0"]]


def test_conform_gives_nanosecond_utc_whatever_the_input_unit():
    """Regression: pandas 2 keeps a Timestamp's own unit, so an OCPI pull observed at a
    time given as text had status_snapshots.observed_utc in datetime64[s, UTC]."""
    observed = pd.Timestamp("2022-05-05T08:00:00Z")
    result = ocpi.parse_locations([{"id": "L1", "coordinates": {"latitude": "51.5",
                                                                "longitude": "-0.1"},
                                    "evses": [{"uid": "E1", "status": "AVAILABLE"}]}],
                                  observed_utc=observed)
    assert str(result.table("status_snapshots")["observed_utc"].dtype) == schema.UTC
    if hasattr(observed, "as_unit"):  # pandas 2: times in seconds, one beyond ns range
        far = conform(pd.DataFrame({"observed_utc": pd.Series(
            [pd.Timestamp("2022-05-01", tz="UTC").as_unit("s"),
             pd.Timestamp("9999-01-01", tz="UTC").as_unit("s")])}), "status_snapshots")
        assert str(far["observed_utc"].dtype) == schema.UTC
        assert far["observed_utc"].iloc[0] == pd.Timestamp("2022-05-01", tz="UTC")
        assert pd.isna(far["observed_utc"].iloc[1])


@pytest.mark.reliability("report_html.render_html",
                         "markup in every data field (random text with < > & \" ')")
@bounded(40)
@given(text=st.one_of(st.sampled_from(MARKUP), st.text(alphabet="<>&\"'/= abcscript",
                                                        max_size=30)))
def test_report_html_escapes_markup(text, tally):
    from html.parser import HTMLParser

    if not text.strip():  # empty values leave whole elements out: nothing to compare
        text = f"<{text}>"

    from ev_chargepoints.core.standard.model import (
        FAIL,
        Check,
        ConformanceReport,
        Example,
        InputSummary,
        OperatorReport,
    )
    from ev_chargepoints.core.standard.report import render_html

    def report(value):
        check = Check(code="schema", title="Fields", severity=FAIL, result=FAIL, count=1,
                      message=value, source=value, examples=[Example(row=1, id=value,
                                                                     detail=value)])
        return ConformanceReport(
            generated_utc="2024-01-01T00:00:00Z", as_of_utc=value, period=value,
            london_check=value,
            inputs=[InputSummary(name=value, kind=value, operators=[value], error=value,
                                 warnings=[value])],
            operators=[OperatorReport(operator=value, verdict=FAIL, reasons=[value],
                                      sources=[value], checks=[check])],
            definitions={"x": value}, timings_s={"total": 0.1})

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tags = []
            self.text = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, sorted(k for k, _ in attrs)))

        def handle_data(self, data):
            self.text.append(data)

    def structure(page):
        parser = Tags()
        parser.feed(page)
        parser.close()
        return parser

    hostile, plain = structure(render_html(report(text))), structure(render_html(report("v")))
    assert hostile.tags == plain.tags, "data changed the page's markup"
    if text.strip():
        assert text.strip() in "".join(hostile.text) or html.escape(text) in render_html(
            report(text))
    tally.add("escaped")

