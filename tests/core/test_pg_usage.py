"""Utilisation of the shared store (pg_usage, from the month sums its imports keep)
against the pandas engine and the local store's SQL engine on the same sessions: real
Dundee sessions and hand-made edge cases, every period kind and level; integers exactly
equal, floats to 1e-9. The month sums after incremental imports equal a full rebuild."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis import usage_coverage as coverage
from ev_chargepoints.core.analysis import usage_sql_engine as sql_engine
from ev_chargepoints.core.analysis import utilisation as engine
from ev_chargepoints.core.calendar import PERIOD_KINDS
from ev_chargepoints.core.paths import resource
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.sources.synthetic import DUNDEE_FILES
from ev_chargepoints.core.store.history_parts import duckdb_connection
from ev_chargepoints.core.store.interface import file_sha256
from ev_chargepoints.core.store.postgis import usage as pg_usage
from ev_chargepoints.core.store.postgis import usage_months
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.store.postgis.schema import SCHEMA, SCHEMA_VERSION

LONDON = "Europe/London"
CASES = [(period, by) for period in PERIOD_KINDS for by in ("device", "connector")]


def pandas_utilisation(store, period: str, by: str) -> pd.DataFrame:
    """What Workspace._compute_utilisation gives: the pandas engine on the store's
    frames, rows kept where a device's usage source reports the period."""
    sessions = store.sessions(categorical=True)
    status = store.status_snapshots()
    frame = engine.utilisation(sessions, store.devices(current_only=False),
                               store.connectors(current_only=False),
                               status if len(status) else None, period=period, by=by)
    return coverage.keep_covered(frame, coverage.usage_coverage(
        coverage.session_counts(sessions, period), coverage.device_operators(store.devices())))


def assert_same(sql: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(sql.columns) == list(expected.columns)
    assert len(sql) == len(expected)
    for name in expected.columns:
        got, want = sql[name], expected[name]
        assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
        if want.dtype == np.float64:
            np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=name)
        else:
            assert got.tolist() == want.tolist(), name


@pytest.fixture
def store(pg_dsn):
    with PostgisStore.create_or_open(pg_dsn) as opened:
        yield opened


# --- real data: the Dundee year --------------------------------------------------

@pytest.fixture(scope="module")
def dundee_store(pg_cluster):
    """Imported once for the module's tests (they only read)."""
    name = pg_cluster.create_database()
    try:
        with PostgisStore.create_or_open(pg_cluster.dsn(name)) as opened:
            for file_name in DUNDEE_FILES:
                path = resource("data", "dundee", file_name)
                report = opened.import_parse_result(parse_file(path), path.name,
                                                    file_sha256(path))
                assert report.outcome == "imported", report.message
            yield opened
    finally:
        pg_cluster.drop_database(name)


@pytest.mark.parametrize("period,by", CASES)
def test_dundee_figures_equal_the_pandas_engine(dundee_store, period, by):
    expected = pandas_utilisation(dundee_store, period, by)
    got = pg_usage.utilisation(dundee_store, period, by)
    assert_same(got, expected)
    # real figures, not an empty agreement: the whole Dundee year is there
    assert got["sessions"].sum() == expected["sessions"].sum() > 60_000
    assert got["device_id"].nunique() > 50
    assert got["flag_open"].sum() > 0 and got["in_use_days"].sum() > 10_000


# --- hand-made edge cases ----------------------------------------------------------

def loc(text: str) -> pd.Timestamp:
    """UK wall-clock time as UTC."""
    return pd.Timestamp(text).tz_localize(LONDON).tz_convert("UTC")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _session(key, device, connector, start, end, kwh=5.0, charging_end=None):
    return {"session_key": key, "device_id": device, "connector_id": connector,
            "start_utc": start, "end_utc": end if end is not None else pd.NaT,
            "charging_end_utc": charging_end if charging_end is not None else pd.NaT,
            "kwh": kwh, "source": "edge"}


EDGE_SESSIONS = [
    # D1: two 7 kW connectors; a session over the Q1/Q2 end (local midnight = 23:00 UTC)
    _session("a01", "D1", "1", loc("2023-03-31 21:00"), loc("2023-04-01 06:00"), 20.0),
    # across the 23-hour day (clocks forward 2023-03-26) and the 25-hour day (back 10-29)
    _session("a02", "D1", "1", loc("2023-03-25 22:00"), loc("2023-03-26 03:30"), 9.0,
             charging_end=loc("2023-03-26 02:00")),
    _session("a03", "D1", "2", loc("2023-10-28 23:30"), utc("2023-10-29 02:30"), 11.0,
             charging_end=utc("2023-10-29 05:00")),  # charging end after the end: clipped
    # overlapping sessions on connector 2, one starting in the same second (sub-second)
    _session("a04", "D1", "2", utc("2023-05-02 10:00:00"), utc("2023-05-02 12:00:00"), 6.0),
    _session("a05", "D1", "2", utc("2023-05-02 11:00:00"), utc("2023-05-02 13:00:00"), 6.0),
    _session("a06", "D1", "2", utc("2023-05-02 10:00:00.400"), utc("2023-05-02 10:30:00"),
             1.0),
    _session("a07", "D1", "1", utc("2023-05-03 08:00"), None, 3.0),           # open
    _session("a08", "D1", "1", utc("2023-05-04 09:00"), utc("2023-05-04 08:00"), 2.0),  # end<start
    _session("a09", "D1", "1", utc("2023-05-05 09:00"), utc("2023-05-05 11:00"), np.nan),
    _session("a10", "D1", "1", utc("2023-05-06 09:00"), utc("2023-05-06 10:00"), 100.0),
    # over 72 hours across the year end, charging end before the start (clipped)
    _session("a11", "D1", "2", loc("2023-12-30 18:00"), loc("2024-01-03 07:00"), 40.0,
             charging_end=loc("2023-12-30 12:00")),
    _session("a12", "D1", "1", utc("2023-06-01 12:00"), utc("2023-06-01 12:00"), 0.0),  # 0 min
    # D2: count from the connectors table, one connector unrated
    _session("b01", "D2", "A", utc("2023-02-10 09:00"), utc("2023-02-10 10:00"), 15.0),
    _session("b02", "D2", "B", utc("2023-08-10 09:00"), utc("2023-08-10 12:00"), 30.0),
    _session("b03", "D2", "C", utc("2023-08-11 09:00"), utc("2023-08-11 12:00"), 30.0),
    # D3: in the devices table, no connector rows, count 0: connectors seen in sessions
    _session("c01", "D3", "x", utc("2023-04-20 09:00"), utc("2023-04-20 09:40"), 30.0),
    _session("c02", "D3", "y", utc("2023-04-21 09:00"), utc("2023-04-21 09:40"), 40.0),
    # D4: closed by the second snapshot; a session after the close widens its window
    _session("d01", "D4", "1", utc("2023-03-01 09:00"), utc("2023-03-01 18:00"), 12.0),
    _session("d02", "D4", "1", utc("2023-09-20 09:00"), utc("2023-09-20 18:00"), 12.0),
    # D5: no device row at all; a session without a connector id
    _session("e01", "D5", None, utc("2023-01-03 00:00"), utc("2023-01-03 05:00"), 4.0),
    _session("e02", "D5", "1", utc("2023-01-04 00:00"), utc("2023-01-04 05:00"), 4.0),
    _session("e03", "D5", None, utc("2023-11-04 00:00"), utc("2023-11-04 01:00"), 4.0),
    # D6: sessions before the device's valid_from (it has no creation date)
    _session("f01", "D6", "1", utc("2023-02-01 09:00"), utc("2023-02-01 10:00"), 7.0),
    _session("f02", "D6", "1", utc("2023-07-01 09:00"), utc("2023-07-01 10:00"), 7.0),
]


def _devices_result(rows, connectors) -> ParseResult:
    devices = conform(pd.DataFrame(rows).assign(source="ncr"), "devices")
    return ParseResult("ncr", "ncr", len(devices), tables={
        "devices": devices, "connectors": conform(pd.DataFrame(connectors), "connectors")})


FIRST_DEVICES = [
    {"device_id": "D1", "connector_count": 2, "max_power_kw": 7.0,
     "created_utc": utc("2023-01-15"), "latitude": 51.5, "longitude": -0.1},
    {"device_id": "D2", "connector_count": 0, "max_power_kw": 22.0,
     "created_utc": utc("2022-06-01"), "latitude": 51.5, "longitude": -0.1},
    {"device_id": "D3", "connector_count": 0, "max_power_kw": 50.0,
     "created_utc": utc("2022-06-01"), "latitude": 51.5, "longitude": -0.1},
    {"device_id": "D4", "connector_count": 1, "max_power_kw": 3.7,
     "created_utc": utc("2022-06-01"), "latitude": 51.5, "longitude": -0.1},
    {"device_id": "D7", "connector_count": 1, "max_power_kw": 7.0,
     "created_utc": utc("2022-06-01"), "latitude": 51.5, "longitude": -0.1},  # no sessions
]
FIRST_CONNECTORS = [
    {"device_id": "D1", "connector_id": "1", "power_kw": 7.0},
    {"device_id": "D1", "connector_id": "2", "power_kw": 7.0},
    {"device_id": "D2", "connector_id": "A", "power_kw": 22.0},
    {"device_id": "D2", "connector_id": "B", "power_kw": np.nan},
    {"device_id": "D4", "connector_id": "1", "power_kw": 3.7},
    {"device_id": "D7", "connector_id": "1", "power_kw": 7.0},
]


def _status_result() -> ParseResult:
    times = pd.date_range(loc("2023-03-25 20:00"), loc("2023-03-26 06:00"), freq="30min")
    rows = [{"observed_utc": t, "device_id": "D1", "evse_uid": evse,
             "status": ("CHARGING" if i % 3 == 0 else "AVAILABLE") if evse == "E1"
             else ("OUTOFORDER" if i < 8 else "AVAILABLE"), "source": "ocpi:test"}
            for i, t in enumerate(times) for evse in ("E1", "E2")]
    rows.append({"observed_utc": utc("2023-07-01 00:00"), "device_id": "D9",  # no sessions
                 "evse_uid": None, "status": "AVAILABLE", "source": "ocpi:test"})
    status = conform(pd.DataFrame(rows), "status_snapshots")
    return ParseResult("ocpi", "ocpi:test", len(status), tables={"status_snapshots": status})


@pytest.fixture
def edge_store(store):
    first = _devices_result(FIRST_DEVICES, FIRST_CONNECTORS)
    assert store.import_parse_result(first, "devices-1", "sha-d1",
                                     snapshot_utc=utc("2023-01-20")).outcome == "imported"
    # second snapshot: D4 gone (closed), D6 new (valid from 2023-06-01, no creation
    # date), D1 re-rated
    second_rows = [dict(r) for r in FIRST_DEVICES if r["device_id"] != "D4"]
    second_rows[0]["max_power_kw"] = 11.0
    second_rows.append({"device_id": "D6", "connector_count": 1, "max_power_kw": 7.0,
                        "latitude": 51.5, "longitude": -0.1})
    second_conn = [c for c in FIRST_CONNECTORS if c["device_id"] != "D4"]
    assert store.import_parse_result(_devices_result(second_rows, second_conn), "devices-2",
                                     "sha-d2", snapshot_utc=utc("2023-06-01")
                                     ).outcome == "imported"
    sessions = conform(pd.DataFrame(EDGE_SESSIONS), "sessions")
    result = ParseResult("sessions", "edge", len(sessions), tables={"sessions": sessions})
    report = store.import_parse_result(result, "sessions", "sha-s")
    assert report.outcome == "imported" and report.rows_added == len(EDGE_SESSIONS)
    assert store.import_parse_result(_status_result(), "status", "sha-st").outcome == \
        "imported"
    return store


@pytest.mark.parametrize("period,by", CASES)
def test_edge_cases_equal_the_pandas_engine(edge_store, period, by):
    assert_same(pg_usage.utilisation(edge_store, period, by),
                pandas_utilisation(edge_store, period, by))


def _row(frame, device, period, connector=None):
    hit = frame[(frame["device_id"] == device) & (frame["period"] == period)]
    if connector is not None:
        hit = hit[hit["connector_id"].astype(object).eq(connector)
                  if connector != "<none>" else hit["connector_id"].isna()]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_edge_case_figures(edge_store):
    """Worked-out figures, so agreement is not agreement on a wrong answer."""
    quarter = pg_usage.utilisation(edge_store, "quarter", "device")
    assert set(quarter["device_id"]) == {"D1", "D2", "D3", "D4", "D5", "D6"}  # not D7/D9
    q1, q2 = _row(quarter, "D1", "2023-Q1"), _row(quarter, "D1", "2023-Q2")
    # a01 splits at the quarter end: 3 h in Q1 (21:00-24:00), 6 h in Q2; a02 spans 5.5 h
    # of wall clock over the 23-hour day, 4.5 real hours
    a02_hours = (loc("2023-03-26 03:30") - loc("2023-03-25 22:00")).total_seconds() / 3600
    assert a02_hours == 4.5
    assert q1["plugged_hours"] == pytest.approx(3.0 + a02_hours)
    assert (q1["sessions"], q1["kwh"]) == (2, 29.0)
    assert q2["sessions"] == 6  # a04-a06, a09, a10, a12; a01 is Q1, a07/a08 never count
    assert (q2["flag_open"], q2["flag_end_before_start"], q2["flag_missing_kwh"],
            q2["flag_impossible_energy"], q2["flag_overlapping"]) == (1, 1, 1, 1, 2)
    assert q1["connectors"] == 2 and q1["connectors_source"] == "devices"
    assert q1["rated_kw"] == 14.0  # both connectors rated 7 kW
    # D1 active from its creation (2023-01-15): Q1 available = 2 × hours from then
    q1_hours = (loc("2023-04-01") - utc("2023-01-15")).total_seconds() / 3600
    assert q1["available_hours"] == pytest.approx(2 * q1_hours)
    # the 25-hour day: a03 is 23:30 BST -> 02:30 GMT = 4 real hours, all in Q4
    q4 = _row(quarter, "D1", "2023-Q4")
    assert q4["plugged_hours"] == pytest.approx(4.0 + (loc("2024-01-01") - loc(
        "2023-12-30 18:00")).total_seconds() / 3600)
    assert q4["flag_over_72h"] == 1
    # idle: a02 charged until 02:00 BST (01:00 UTC), then sat 1.5 h of its 4.5
    assert q1["idle_hours"] == pytest.approx(1.5) and q1["idle_base_hours"] == 4.5
    assert 0 < q1["uptime_pct"] < 100
    d2 = _row(quarter, "D2", "2023-Q3")
    assert (d2["connectors"], d2["connectors_source"], d2["rated_kw"]) == (2, "connectors",
                                                                          44.0)
    d3 = _row(quarter, "D3", "2023-Q2")
    assert (d3["connectors"], d3["connectors_source"], d3["rated_kw"]) == (2, "sessions",
                                                                          100.0)
    # D4 closed on 2023-06-01 but used on 2023-09-20: available until that session ended
    d4 = _row(quarter, "D4", "2023-Q3")
    assert d4["available_hours"] == pytest.approx(
        (utc("2023-09-20 18:00") - loc("2023-07-01")).total_seconds() / 3600)
    assert not ((quarter["device_id"] == "D4") & (quarter["period"] == "2023-Q4")).any()
    # D5 has no device row: available all the time, NaN rating
    d5 = _row(quarter, "D5", "2023-Q1")
    assert d5["available_hours"] == pytest.approx(
        2 * (loc("2023-04-01") - loc("2023-01-01")).total_seconds() / 3600)
    assert np.isnan(d5["rated_kw"]) and np.isnan(d5["capacity_factor_pct"])
    # D6 valid from 2023-06-01 but used on 2023-02-01: available from that session
    d6 = _row(quarter, "D6", "2023-Q1")
    assert d6["available_hours"] == pytest.approx(
        (loc("2023-04-01") - utc("2023-02-01 09:00")).total_seconds() / 3600)
    by_connector = pg_usage.utilisation(edge_store, "year", "connector")
    none = _row(by_connector, "D5", "2023", "<none>")
    assert none["sessions"] == 2 and none["plugged_hours"] == pytest.approx(6.0)


def test_empty_store_gives_the_empty_frame(store):
    got = pg_usage.utilisation(store, "quarter", "device")
    assert got.empty
    assert list(got.columns) == list(engine.empty_result("device").columns)


def test_bad_level_is_refused(store):
    with pytest.raises(ValueError):
        pg_usage.utilisation(store, "quarter", "site")
    with pytest.raises(ValueError):
        pg_usage.utilisation(store, "week", "device")


# --- the month sums kept by the imports -------------------------------------------

def month_sums(store) -> dict:
    """Both tables of the month sums, rows sorted (None sorts first)."""
    out = {}
    with store.transaction() as cur:
        for table in (usage_months.MONTHS_TABLE, usage_months.COUNTS_TABLE):
            cur.execute(f"SELECT * FROM {SCHEMA}.{table}")
            out[table] = sorted(cur.fetchall(), key=lambda row: [
                (v is not None, v) for v in row])
    return out


def _sessions_result(rows, name) -> ParseResult:
    sessions = conform(pd.DataFrame(rows), "sessions")
    return ParseResult("sessions", name, len(sessions), tables={"sessions": sessions})


def test_month_sums_after_two_imports_equal_a_full_rebuild(store):
    """The second file recomputes only the months from its earliest start: one of its
    sessions starts in the same second as a stored one (overlap order), another
    completes a stored open session; the sums equal those rebuilt from every session."""
    assert store.import_parse_result(_devices_result(FIRST_DEVICES, FIRST_CONNECTORS),
                                     "devices-1", "sha-d1", snapshot_utc=utc("2023-01-20")
                                     ).outcome == "imported"
    early = [r for r in EDGE_SESSIONS
             if r["start_utc"] < utc("2023-06-01") or r["session_key"] in ("b02", "b03")]
    late = [r for r in EDGE_SESSIONS if r not in early]
    late += [_session("a07", "D1", "1", utc("2023-05-03 08:00"), utc("2023-05-03 10:00"), 3.0),
             _session("a13", "D1", "2", utc("2023-05-02 10:00:00.100"),
                      utc("2023-05-02 11:30"), 2.0)]
    assert store.import_parse_result(_sessions_result(early, "early"), "early", "sha-e"
                                     ).outcome == "imported"
    report = store.import_parse_result(_sessions_result(late, "late"), "late", "sha-l")
    assert (report.rows_added, report.rows_updated) == (len(late) - 1, 1)
    assert store.last_month_sums == "incremental"
    kept = month_sums(store)
    with store.transaction() as cur:
        cur.execute(f"SELECT min(m) FROM {SCHEMA}.{usage_months.MONTHS_TABLE}")
        first_month = cur.fetchone()[0]
        assert usage_months.refresh(store, cur) == "full"
    rebuilt = month_sums(store)
    assert kept == rebuilt
    # the early months were really kept and the late ones really recomputed
    assert first_month < usage_months.q.month_index(2023, 5)
    assert len(rebuilt[usage_months.MONTHS_TABLE]) > 20
    rows = {(r[0], r[1], r[2], r[3]): r for r in rebuilt[usage_months.MONTHS_TABLE]}
    may = rows[("connector", "D1", "2", usage_months.q.month_index(2023, 5))]
    overlapping = [n for n, _ in usage_months.MONTH_COLUMNS].index("flag_overlapping") + 1
    assert may[overlapping] == 3  # a05, a06 and a13 start while a04 is plugged in


def test_a_devices_import_that_changes_ratings_rebuilds_the_sums(edge_store):
    before = month_sums(edge_store)
    rows = [dict(r) for r in FIRST_DEVICES if r["device_id"] != "D4"]
    connectors = [dict(c) for c in FIRST_CONNECTORS if c["device_id"] != "D4"]
    connectors[0]["power_kw"] = 150.0  # D1/1 re-rated: a10 (100 kWh in 1 h) possible
    assert edge_store.import_parse_result(_devices_result(rows, connectors), "devices-3",
                                          "sha-d3", snapshot_utc=utc("2023-12-01")
                                          ).outcome == "imported"
    assert edge_store.last_month_sums == "full"
    assert month_sums(edge_store) != before
    assert_same(pg_usage.utilisation(edge_store, "quarter", "connector"),
                pandas_utilisation(edge_store, "quarter", "connector"))
    # a file with nothing new for the sums keeps them
    assert edge_store.import_parse_result(_status_result(), "status-2", "sha-st2"
                                          ).outcome == "imported"
    assert edge_store.import_parse_result(_devices_result(rows, connectors), "devices-4",
                                          "sha-d4", snapshot_utc=utc("2023-12-02")
                                          ).outcome == "imported"
    assert edge_store.last_month_sums == "kept"


@pytest.mark.parametrize("period,by", CASES)
def test_utilisation_equals_the_local_stores_engine(edge_store, period, by):
    """The month sums assembled for the shared store give what the local store's SQL
    engine (DuckDB over the same sessions, each device its own) gives."""
    with edge_store.transaction() as cur:
        cur.execute(f"SELECT session_key, source, device_id, connector_id, start_utc,"
                    f" end_utc, charging_end_utc, kwh, fid AS import_id"
                    f" FROM {SCHEMA}.sessions ORDER BY fid")
        names = [c.name for c in cur.description]
        rows = cur.fetchall()
    sessions = pd.DataFrame(rows, columns=names)
    for name in ("start_utc", "end_utc", "charging_end_utc"):
        sessions[name] = pd.to_datetime(sessions[name], utc=True)
    sessions["kwh"] = sessions["kwh"].astype(np.float64)
    con = duckdb_connection()
    try:
        con.register("edge_sessions", sessions)
        local = sql_engine.reported_utilisation(
            con, "edge_sessions", usage_months.identity,
            edge_store.devices(current_only=False), edge_store.connectors(current_only=False),
            edge_store.status_snapshots(), edge_store.devices(), period, by)
    finally:
        con.close()
    assert_same(pg_usage.utilisation(edge_store, period, by), local)


def _import_dundee(store, index: int):
    path = resource("data", "dundee", DUNDEE_FILES[index])
    report = store.import_parse_result(parse_file(path), path.name, file_sha256(path))
    assert report.outcome == "imported", report.message
    return report


def test_an_import_rewrites_only_the_device_months_it_touches(store):
    """Real files imported out of order: the Dec-Mar file lands between the Sep-Dec and
    Mar-May ones (its first and last months hold sessions of both). Each import updates
    only the (device, month) its sessions touch, and the sums equal those rebuilt from
    every session."""
    for index in (0, 2):
        _import_dundee(store, index)
    assert store.last_month_sums == "incremental"
    report = _import_dundee(store, 1)
    assert store.last_month_sums == "incremental"
    kept = month_sums(store)
    with store.transaction() as cur:
        # the rows this import wrote: same transaction as its import_log row
        cur.execute(f"SELECT DISTINCT level, m FROM {SCHEMA}.{usage_months.MONTHS_TABLE}"
                    f" WHERE xmin = (SELECT xmin FROM {SCHEMA}.import_log WHERE id = %s)",
                    (report.import_id,))
        written = cur.fetchall()
        cur.execute(f"SELECT DISTINCT m FROM {SCHEMA}.{usage_months.MONTHS_TABLE}")
        stored = {row[0] for row in cur.fetchall()}
        assert usage_months.refresh(store, cur) == "full"
    month = usage_months.q.month_index
    assert {m for _, m in written} == set(range(month(2017, 12), month(2018, 3) + 1))
    assert {level for level, _ in written} == {"device", "connector"}
    assert {month(2017, 9), month(2018, 5)} <= stored  # kept as the earlier imports wrote
    assert month_sums(store) == kept


@pytest.mark.parametrize("version", [4, 5])
def test_an_older_shared_store_gets_its_month_sums_when_opened(pg_dsn, version):
    """Schema 4 had no month sums, schema 5 no pairs nor indexes for an import to update
    only what it touches: opening the store makes them from its sessions."""
    with PostgisStore.create_or_open(pg_dsn) as opened:
        _import_dundee(opened, 0)
        expected = month_sums(opened)
        with opened.transaction() as cur:
            cur.execute(f"DROP TABLE {SCHEMA}.{usage_months.PAIRS_TABLE}")
            for name in ("sessions_start", "sessions_end", "sessions_import"):
                cur.execute(f"DROP INDEX {SCHEMA}.{name}")
            for table in (usage_months.MONTHS_TABLE, usage_months.COUNTS_TABLE):
                if version == 4:
                    cur.execute(f"DROP TABLE {SCHEMA}.{table}")
                else:
                    cur.execute(f"DROP INDEX {SCHEMA}.{table}_dev_m")
                    cur.execute(f"CREATE INDEX {table}_m ON {SCHEMA}.{table} (m)")
            if version == 4:
                cur.execute(f"DELETE FROM {SCHEMA}.store_meta"
                            " WHERE key LIKE 'usage_months%%'")
            cur.execute(f"UPDATE {SCHEMA}.store_meta SET value = %s"
                        " WHERE key = 'schema_version'", (str(version),))
    with PostgisStore.create_or_open(pg_dsn) as reopened:
        assert reopened.schema_version == SCHEMA_VERSION == 6
        assert month_sums(reopened) == expected
        assert len(expected[usage_months.MONTHS_TABLE]) > 50
        _import_dundee(reopened, 1)
        assert reopened.last_month_sums == "incremental"
