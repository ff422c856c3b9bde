"""The SQL engine (DuckDB over Parquet parts) gives exactly the numpy engine's frames:
every utilisation fixture, the real Dundee year, random session sets, and the month
cache kept current part by part."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ev_chargepoints.core.analysis import usage_sql_engine as engine
from ev_chargepoints.core.analysis.utilisation import reported_utilisation, utilisation
from ev_chargepoints.core.schema import conform
from tests.core.test_utilisation import devices, loc, random_year, s, sessions

DUNDEE = Path(__file__).resolve().parents[2] / "resources" / "data" / "dundee"
PARTS_COLUMNS = ["session_key", "source_session_id", "device_id", "connector_id", "start_utc",
                 "end_utc", "charging_end_utc", "kwh", "source", "import_id"]
PARTS_TYPES = {"start_utc": "TIMESTAMPTZ", "end_utc": "TIMESTAMPTZ",
               "charging_end_utc": "TIMESTAMPTZ", "kwh": "DOUBLE", "import_id": "BIGINT"}


def identity(keys: pd.DataFrame):
    return keys["device_id"].to_numpy(object)


class Parts:
    """Session parts written to Parquet as the store writes them (one file per import,
    rows sorted by session_key); a later closed row of a key replaces its open row."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[Path] = []
        self.frames: list[pd.DataFrame] = []
        self.con = duckdb.connect(":memory:", config={"threads": 2})
        self.con.execute("SET TimeZone='UTC'")

    def add(self, frame: pd.DataFrame) -> None:
        import_id = len(self.files) + 1
        frame = conform(frame, "sessions").assign(import_id=import_id)
        frame = frame.sort_values("session_key", kind="stable")
        path = self.folder / f"part-{import_id:08d}.parquet"
        self.con.register("_part", frame.astype({"device_id": object, "connector_id": object}))
        typed = ", ".join(f"CAST({c} AS {PARTS_TYPES.get(c, 'VARCHAR')}) AS {c}"
                          for c in PARTS_COLUMNS)
        self.con.execute(f"COPY (SELECT {typed} FROM _part) TO "
                         f"'{path.as_posix()}' (FORMAT parquet)")
        self.con.unregister("_part")
        self.files.append(path)
        self.frames.append(frame)

    @property
    def relation(self) -> str:
        listed = ", ".join(f"'{p.as_posix()}'" for p in self.files)
        return (f"(SELECT * FROM read_parquet([{listed}]) QUALIFY row_number() OVER ("
                "PARTITION BY session_key ORDER BY import_id DESC) = 1)")

    def sessions(self) -> pd.DataFrame:
        """What the store's reader gives: stored order, superseded open rows dropped."""
        both = pd.concat(self.frames, ignore_index=True)
        both = both[~both.duplicated("session_key", keep="last")]
        both = both.sort_values(["import_id", "session_key"], kind="stable")
        return conform(both.reset_index(drop=True), "sessions")


def parts_of(tmp_path, frame, chunks=1) -> Parts:
    parts = Parts(tmp_path)
    frame = frame.reset_index(drop=True)
    if "session_key" not in frame or frame["session_key"].isna().any():
        frame = frame.assign(session_key=[f"k{i:07d}" for i in range(len(frame))])
    for chunk in np.array_split(np.arange(len(frame)), chunks):
        parts.add(frame.iloc[chunk])
    return parts


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)


def compare(tmp_path, data, devs=None, conns=None, status=None, periods=("month", "quarter",
            "year"), levels=("device", "connector"), chunks=1, attach=identity):
    parts = parts_of(tmp_path, data, chunks)
    ordered = parts.sessions()
    reconciled = ordered.assign(device_id=attach(ordered[["source", "device_id",
                                                          "connector_id"]]))
    empty = conform(pd.DataFrame(), "status_snapshots")
    for period in periods:
        for by in levels:
            expected = utilisation(reconciled, devs, conns, status, period=period, by=by)
            got = engine.utilisation(parts.con, parts.relation, attach, devs, conns, status,
                                     period=period, by=by)
            assert_same(got, expected)
            expected = reported_utilisation(reconciled, devs, conns,
                                            status if status is not None else empty, devs,
                                            period=period, by=by)
            got = engine.reported_utilisation(parts.con, parts.relation, attach, devs, conns,
                                              status, devs, period=period, by=by)
            assert_same(got, expected)
    return parts


# --- every fixture of test_utilisation.py ---------------------------------------------

def _random_year():
    return random_year(), devices([{"device_id": "C", "connector_count": 1}]), None


def _status():
    t0 = pd.Timestamp("2024-01-10 00:00", tz="UTC")
    minutes = [0, 30, 60, 80, 100, 300]
    states = ["AVAILABLE", "CHARGING", "OUTOFORDER", "UNKNOWN", "AVAILABLE", "CHARGING"]
    return conform(pd.DataFrame({
        "observed_utc": [t0 + pd.Timedelta(minutes=m) for m in minutes],
        "device_id": "L1", "evse_uid": "E1", "status": states}), "status_snapshots")


def _validity():
    devs = devices([
        {"device_id": "A", "connector_count": 2, "created_utc": loc("2018-02-15 00:00")},
        {"device_id": "B", "connector_count": 1}])
    devs["valid_from_utc"] = [pd.NaT, loc("2018-02-01 00:00")]
    devs["valid_to_utc"] = [loc("2018-05-01 00:00"), pd.NaT]
    return sessions([s("A", "2018-03-01 10:00", "2018-03-01 11:00"),
                     s("B", "2018-01-10 10:00", "2018-01-10 11:00")]), devs, None


def _random_categorical():
    rng = np.random.default_rng(5)
    n = 2000
    start = loc("2018-01-01") + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s")
    frame = conform(pd.DataFrame({
        "session_key": np.arange(n).astype(str),
        "device_id": rng.choice(["A", "B", "C"], n), "connector_id": rng.choice(["1", "2"], n),
        "start_utc": start, "end_utc": start + pd.to_timedelta(rng.integers(0, 90000, n),
                                                               unit="s"),
        "kwh": rng.random(n) * 30}), "sessions")
    return frame, None, None


RATED = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 22.0}])
CONNECTORS = conform(pd.DataFrame({"device_id": ["A", "A"], "connector_id": ["1", "2"],
                                   "power_kw": [7.0, 22.0]}), "connectors")
FIXTURES = {
    "quarter_and_midnight_split": lambda: (sessions([
        s("A", "2018-03-31 22:00", "2018-04-01 02:00", kwh=12.0),
        s("A", "2018-02-10 10:00", "2018-02-10 11:30", kwh=3.0)]),
        devices([{"device_id": "A", "connector_count": 1, "max_power_kw": 7.0}]), None),
    "clock_change_nights": lambda: (sessions([
        s("A", "2018-03-24 23:00", "2018-03-25 03:00"),
        {"device_id": "B", "connector_id": "1", "kwh": 1.0,
         "start_utc": pd.Timestamp("2018-10-27 23:30", tz="UTC"),
         "end_utc": pd.Timestamp("2018-10-28 01:30", tz="UTC")}]), None, None),
    "occupancy_year": _random_year,
    "connector_ratings": lambda: (sessions([
        s("A", "2018-01-05 10:00", "2018-01-05 12:00", kwh=10.0, connector="1"),
        s("A", "2018-01-06 10:00", "2018-01-06 11:00", kwh=20.0, connector="2")]),
        RATED, CONNECTORS),
    "highest_rating_fallback": lambda: (sessions([
        s("A", "2018-01-05 10:00", "2018-01-05 12:00", kwh=100.0, connector="1"),
        s("A", "2018-01-06 10:00", "2018-01-06 11:00", kwh=20.0, connector="2")]),
        RATED, None),
    "open_and_backwards": lambda: (sessions([
        s("A", "2018-01-05 10:00", "2018-01-05 12:00", kwh=5.0),
        s("A", "2018-01-07 10:00", None, kwh=np.nan),
        s("A", "2018-01-08 10:00", "2018-01-08 09:00", kwh=2.0)]), None, None),
    "quality_flags": lambda: (sessions([
        s("A", "2018-01-01 10:00", "2018-01-01 11:00", kwh=20.0),
        s("A", "2018-01-01 10:30", "2018-01-01 10:45", kwh=1.0),
        s("A", "2018-01-02 10:00", "2018-01-06 10:00", kwh=10.0),
        s("A", "2018-01-03 10:00", "2018-01-03 11:00", kwh=1.0, connector="2"),
        s("A", "2018-01-08 10:00", "2018-01-08 11:00", kwh=np.nan),
        s("B", "2018-01-01 10:00", "2018-01-01 11:00", kwh=500.0)]),
        devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 7.0}]), None),
    "overlap_behind_short_session": lambda: (sessions([
        s("A", "2018-01-01 10:00", "2018-01-01 20:00"),
        s("A", "2018-01-01 11:00", "2018-01-01 11:30"),
        s("A", "2018-01-01 12:00", "2018-01-01 12:30"),
        s("A", "2018-01-01 20:00", "2018-01-01 21:00")]), None, None),
    "device_validity": _validity,
    "devices_without_sessions": lambda: (sessions([s("A", "2018-01-05 10:00",
                                                     "2018-01-05 12:00")]),
                                         devices([{"device_id": "A", "connector_count": 1},
                                                  {"device_id": "Z", "connector_count": 2}]),
                                         None),
    "trends": lambda: (sessions([s("A", f"{d} 10:00", f"{d} 12:00") for d in (
        "2018-01-05", "2018-01-06", "2018-04-05", "2018-04-06", "2018-04-07",
        "2019-01-05")]), devices([{"device_id": "A", "connector_count": 1}]), None),
    "over_72h_sums": lambda: (sessions([
        s("A", "2018-01-01 00:00", "2018-01-04 02:24"),
        s("B", "2018-01-01 00:00", "2018-01-08 10:48", connector="1"),
        s("B", "2018-01-01 00:00", "2018-01-08 10:48", connector="2")]),
        devices([{"device_id": "A", "connector_count": 1},
                 {"device_id": "B", "connector_count": 2}]), None),
    "categorical_random": _random_categorical,
    "labels": lambda: (sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00")]), None,
                       None),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_utilisation_fixture_gives_the_numpy_frame(tmp_path, name):
    data, devs, conns = FIXTURES[name]()
    compare(tmp_path, data, devs, conns)


def test_status_uptime_and_the_status_window(tmp_path):
    compare(tmp_path, sessions([s("L1", "2024-01-10 00:30", "2024-01-10 01:00")]),
            status=_status())


def test_no_sessions(tmp_path):
    parts = Parts(tmp_path)
    parts.add(conform(pd.DataFrame(), "sessions"))
    for by in ("device", "connector"):
        got = engine.reported_utilisation(parts.con, parts.relation, identity, None, None,
                                          None, None, by=by)
        expected = reported_utilisation(conform(pd.DataFrame(), "sessions"), None, None,
                                        conform(pd.DataFrame(), "status_snapshots"), None,
                                        by=by)
        assert_same(got, expected)
        # devices but no sessions: every device listed with zero use, as numpy does
        devs = devices([{"device_id": "Z", "connector_count": 2}])
        assert_same(engine.utilisation(parts.con, parts.relation, identity, devs, None,
                                       _status(), by=by),
                    utilisation(conform(pd.DataFrame(), "sessions"), devs, None, _status(),
                                by=by))


def test_same_second_ties_keep_stored_order_and_sub_second_t0(tmp_path):
    base = pd.Timestamp("2021-06-30 22:59:59.400", tz="UTC")  # 23:59:59.4 local
    rows = []
    for i, (offset, length, conn) in enumerate([
            (0.0, 3600, "1"), (0.3, 10, "1"), (0.9, 10, "1"), (1.5, 5, "1"),
            (0.0, 0, "1"), (0.2, 7200, "2"), (0.2, 60, "2"), (1.0, -5, "2")]):
        start = base + pd.Timedelta(seconds=offset)
        rows.append({"device_id": "A", "connector_id": conn, "kwh": 2.0,
                     "session_key": f"z{9 - i}", "start_utc": start,
                     "end_utc": start + pd.Timedelta(seconds=length)})
    data = conform(pd.DataFrame(rows), "sessions")
    compare(tmp_path, data, chunks=3)


def test_reconciled_devices_merge_in_sql(tmp_path):
    """Sessions of source records that reconciliation joins count on one device."""
    data = sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00", source="reg"),
                     s("B", "2018-01-05 11:00", "2018-01-05 13:00", source="feed"),
                     s("B", "2018-02-05 11:00", "2018-02-05 13:00", source="reg"),
                     s("C", "2018-03-05 11:00", None, connector=None, source=None)])

    def attach(keys):
        out = keys["device_id"].to_numpy(object).copy()
        out[(keys["device_id"] == "B").to_numpy() & (keys["source"] == "feed").to_numpy()] = "A"
        return out

    compare(tmp_path, data, devices([{"device_id": "A", "connector_count": 2,
                                      "max_power_kw": 3.0}]), attach=attach)


def test_real_dundee_sessions(tmp_path):
    from ev_chargepoints.core.sources.parsers import parse_file

    frames = [parse_file(DUNDEE / name).tables["sessions"] for name in (
        "cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz",
        "charge-sessions-june-sept.csv.gz")]
    data = pd.concat(frames, ignore_index=True).drop_duplicates("session_key")
    devs = devices([{"device_id": d, "connector_count": 2, "max_power_kw": 22.0}
                    for d in sorted(data["device_id"].dropna().unique())[::3]])
    compare(tmp_path, data, devs, chunks=4, periods=("month", "quarter"))


# --- random session sets ------------------------------------------------------------

_T0 = pd.Timestamp("2021-03-20", tz="UTC").value // 1_000_000_000


@st.composite
def session_sets(draw):
    n = draw(st.integers(0, 14))
    rows = []
    for i in range(n):
        start = _T0 + draw(st.integers(0, 250)) * draw(st.sampled_from([1, 1800, 86400]))
        length = draw(st.sampled_from([None, -60, 0, 1, 59, 3600, 23 * 3600, 80 * 3600,
                                       40 * 86400]))
        rows.append({
            "session_key": f"k{i:03d}",
            "device_id": draw(st.sampled_from(["A", "B", "C"])),
            "connector_id": draw(st.sampled_from(["1", "2", None])),
            "start_utc": pd.Timestamp(start, unit="s", tz="UTC"),
            "end_utc": (pd.NaT if length is None else
                        pd.Timestamp(start + length, unit="s", tz="UTC")),
            "charging_end_utc": draw(st.sampled_from([
                pd.NaT, pd.Timestamp(start + 1800, unit="s", tz="UTC")])),
            "kwh": draw(st.sampled_from([np.nan, 0.0, 1.5, 50.0, 5000.0])),
            "source": draw(st.sampled_from(["s1", "s2", None]))})
    frame = conform(pd.DataFrame(rows), "sessions") if rows else conform(pd.DataFrame(),
                                                                           "sessions")
    return frame, draw(st.integers(1, 3))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=session_sets())
def test_random_session_sets_match_numpy(tmp_path_factory, case):
    data, chunks = case
    devs = devices([{"device_id": "A", "connector_count": 1, "max_power_kw": 7.0},
                    {"device_id": "B", "max_power_kw": 11.0}])
    conns = conform(pd.DataFrame({"device_id": ["A", "B"], "connector_id": ["1", "2"],
                                  "power_kw": [3.6, 50.0]}), "connectors")
    compare(tmp_path_factory.mktemp("random"), data, devs, conns, chunks=min(chunks, max(
        len(data), 1)), periods=("month", "quarter"))


# --- the month cache ----------------------------------------------------------------

def _imports():
    """Five imports: April with an open session and one across the end of April; May
    with a session overlapping that one; a backfilled February; the open session
    completed with June; an import without sessions."""
    first = sessions([
        s("A", "2021-04-10 09:00", None, kwh=np.nan),
        s("A", "2021-04-30 23:00", "2021-05-01 02:00", kwh=4.0, connector="2"),
        s("B", "2021-04-02 10:00", "2021-04-02 11:00", kwh=100.0),
        s("B", "2021-03-28 00:30", "2021-03-28 03:00", kwh=1.0)])
    first["session_key"] = ["open", "boundary", "b1", "b2"]
    second = sessions([s("A", "2021-05-01 00:30", "2021-05-01 01:00", connector="2"),
                       s("B", "2021-05-20 10:00", "2021-05-20 12:00")])
    second["session_key"] = ["late", "b3"]
    backfill = sessions([s("A", "2021-02-10 10:00", "2021-02-13 10:00", kwh=3.0),
                         s("C", "2021-02-28 23:30", "2021-03-01 00:30")])
    backfill["session_key"] = ["early", "c1"]
    completed = sessions([s("A", "2021-04-10 09:00", "2021-04-10 12:00", kwh=9.0),
                          s("C", "2021-06-01 10:00", "2021-06-01 10:20")])
    completed["session_key"] = ["open", "c2"]
    nothing = conform(pd.DataFrame(), "sessions")
    return [first, second, backfill, completed, nothing]


@pytest.mark.parametrize("by", ["device", "connector"])
def test_month_cache_equals_a_full_recompute_after_every_import(tmp_path, by):
    parts = Parts(tmp_path)
    cache = engine.MonthCache(tmp_path / "cache", by)
    devs = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 7.0}])
    conns = conform(pd.DataFrame({"device_id": ["B"], "connector_id": ["1"],
                                  "power_kw": [50.0]}), "connectors")
    seen = []

    def check(conns):
        for period in ("month", "quarter", "year"):
            got = engine.utilisation(parts.con, parts.relation, identity, devs, conns,
                                     period=period, by=by, cache=cache, parts=parts.files)
            seen.append(cache.last_refresh)
            full = engine.utilisation(parts.con, parts.relation, identity, devs, conns,
                                      period=period, by=by)
            assert_same(got, full)
            assert_same(got, utilisation(parts.sessions(), devs, conns, period=period, by=by))

    for frame in _imports():
        parts.add(frame)
        check(conns)
    assert seen == ["full", "cached", "cached"] + ["incremental", "cached", "cached"] * 4
    late = engine.utilisation(parts.con, parts.relation, identity, devs, conns,
                              period="month", by=by, cache=cache, parts=parts.files)
    may = late[(late["device_id"] == "A") & (late["period"] == "2021-05")]
    assert may["flag_overlapping"].sum() == 1 and may["sessions"].sum() == 1
    # a new rating changes impossible_energy: everything again
    seen.clear()
    check(conns.assign(power_kw=[500.0]))
    assert seen[0] == "full"
    # a session starting a fraction of a second off the whole seconds of the overlap
    # check, before every other: everything again
    seen.clear()
    odd = sessions([s("A", "2021-01-01 10:00", "2021-01-01 10:10")])
    odd["start_utc"] += pd.Timedelta(milliseconds=300)
    parts.add(odd)
    check(conns)
    assert seen[0] == "full"
    # the cache folder deleted: recomputed from the parts
    import shutil
    shutil.rmtree(tmp_path / "cache")
    seen.clear()
    check(conns)
    assert seen[0] == "full"


def test_row_numbers_give_the_stored_order_of_same_second_ties_across_parts(tmp_path):
    """With _rn (the row number in the part, as the store's relation gives it) the
    overlap check orders ties by (import_id, _rn): the same figures as (import_id,
    session_key), the parts being sorted by session_key, and as the numpy engine."""
    base = pd.Timestamp("2021-06-30 22:59:59.400", tz="UTC")
    rows = []
    for offset, length, conn, key in [
            (0.0, 3600, "1", "m"), (0.3, 10, "1", "b"), (0.9, 10, "1", "z"), (0.1, 5, "1", "a"),
            (0.0, 0, "1", "c"), (0.2, 7200, "2", "y"), (0.2, 60, "2", "d"), (0.5, 1, "2", "e"),
            (0.6, 30, "1", "f")]:
        start = base + pd.Timedelta(seconds=offset)
        rows.append({"device_id": "A", "connector_id": conn, "kwh": 2.0, "session_key": key,
                     "start_utc": start, "end_utc": start + pd.Timedelta(seconds=length)})
    parts = parts_of(tmp_path, conform(pd.DataFrame(rows), "sessions"), chunks=3)
    listed = ", ".join(f"'{p.as_posix()}'" for p in parts.files)
    numbered = (f"(SELECT *, file_row_number AS _rn FROM read_parquet([{listed}],"
                " file_row_number=true))")
    expected = utilisation(parts.sessions(), None, None, period="month", by="connector")
    assert expected["flag_overlapping"].sum() > 0
    for relation in (numbered, parts.relation):
        got = engine.utilisation(parts.con, relation, identity, None, None, period="month",
                                 by="connector")
        assert_same(got, expected)


def test_the_coded_sql_gives_the_month_sums_of_months_sql(tmp_path):
    """MONTHS_SQL (the text PostgreSQL runs) and the local engine's coded queries give
    the same month sums and counts, at both levels."""
    data = pd.concat([random_year()] + _imports()[:4], ignore_index=True)
    data["session_key"] = [f"k{i:05d}" for i in range(len(data))]
    parts = parts_of(tmp_path, data, chunks=3)
    con = parts.con
    prep = engine.Prepared(engine.scan_triples(con, parts.relation), identity, None, None)
    first, last = prep.month_range()
    for by in ("device", "connector"):
        engine.compute_months(con, parts.relation, prep, by)
        coded = con.execute("SELECT * FROM ucs_new_months ORDER BY ALL").df()
        counts = con.execute("SELECT * FROM ucs_new_counts ORDER BY ALL").df()
        offsets = engine.q.register_tables(con, prep.mapping, prep.rated, first, last)
        text = engine.q.months_sql(parts.relation, by, prep.span()[3], None, None, False,
                                   None, midnight_offsets=offsets)
        reference = con.execute(f"SELECT * FROM ({text}) ORDER BY ALL").df()
        assert len(coded) > 20 and coded["flag_overlapping"].sum() > 0
        pd.testing.assert_frame_equal(coded, reference, check_dtype=False)
        pd.testing.assert_frame_equal(counts, con.execute(
            f"SELECT * FROM ({engine.q.counts_sql(parts.relation, None, False)})"
            " ORDER BY ALL").df(), check_dtype=False)


def _keyed(rows):
    """sessions() keeping the rows' own session_key."""
    frame = sessions(rows)
    frame["session_key"] = [r["session_key"] for r in rows]
    return frame


def test_a_refresh_writes_only_the_months_it_recomputed(tmp_path):
    """An incremental refresh adds a segment of the recomputed months and leaves the
    files of the earlier ones untouched; past MAX_SEGMENTS they are merged into one.
    Every step equals a full recompute."""
    parts = Parts(tmp_path)
    cache = engine.MonthCache(tmp_path / "cache", "connector")
    cache.MAX_SEGMENTS = 3
    months = ["2021-01", "2021-03", "2021-05", "2021-07", "2021-09"]
    files_seen = []
    for i, month in enumerate(months):
        parts.add(_keyed([s("A", f"{month}-10 10:00", f"{month}-10 12:00", session_key=f"a{i}"),
                            s("B", f"{month}-28 22:00", f"{month[:5]}{int(month[5:]) + 1:02d}"
                               "-02 09:00", session_key=f"b{i}")]))
        got = engine.utilisation(parts.con, parts.relation, identity, None, None,
                                 period="month", by="connector", cache=cache,
                                 parts=parts.files)
        assert_same(got, engine.utilisation(parts.con, parts.relation, identity, None, None,
                                            period="month", by="connector"))
        assert_same(got, utilisation(parts.sessions(), None, None, period="month",
                                     by="connector"))
        files = {p.name: p.stat().st_mtime_ns for p in cache.folder.glob("months-*")}
        files_seen.append(files)
        assert len(files) == len(cache.segments)
    assert [len(f) for f in files_seen] == [1, 2, 3, 1, 2]
    for before, after in ((0, 1), (1, 2), (3, 4)):  # earlier files kept as they were
        assert files_seen[before].items() <= files_seen[after].items()
    assert cache.segments[1][1] == engine.q.month_index(2021, 9)


def test_a_refresh_reads_only_the_parts_that_reach_its_months(tmp_path):
    parts = Parts(tmp_path)
    parts.add(_keyed([s("A", "2021-01-10 10:00", "2021-01-10 12:00", session_key="a"),
                        s("A", "2021-01-11 10:00", None, session_key="open")]))
    parts.add(_keyed([s("B", "2021-02-10 10:00", "2021-05-02 09:00", session_key="b")]))
    parts.add(_keyed([s("C", "2021-03-10 10:00", "2021-03-10 12:00", session_key="c")]))
    parts.add(_keyed([s("A", "2021-05-10 10:00", "2021-05-10 12:00", session_key="d")]))
    files = [p.as_posix() for p in parts.files]
    reach = engine.reaching_relation(parts.con, parts.relation, files,
                                     engine.q.month_index(2021, 5))
    assert reach == parts.relation.replace(
        ", ".join(f"'{p}'" for p in files), ", ".join(f"'{p}'" for p in files[1::2]))
    assert engine.reaching_relation(parts.con, "(SELECT 1)", files, 0) == "(SELECT 1)"
    cache = engine.MonthCache(tmp_path / "cache", "device")
    for n in (3, 4):
        current = Parts(tmp_path)
        current.files, current.frames = parts.files[:n], parts.frames[:n]
        got = engine.utilisation(parts.con, current.relation, identity, None, None,
                                 period="month", cache=cache, parts=current.files)
        assert_same(got, utilisation(current.sessions(), None, None, period="month"))
    assert cache.last_refresh == "incremental"


# --- the Workspace on a GeoPackage store --------------------------------------------

def test_workspace_uses_the_sql_engine_and_its_cache(tmp_path):
    from ev_chargepoints.core.analysis.reconcile import history
    from ev_chargepoints.core.store.history_parts import duckdb_connection
    from ev_chargepoints.core.workspace import Workspace

    path = tmp_path / "dundee.gpkg"
    with Workspace(path) as ws:
        for name in ("cp-locations.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cpdata.csv.gz",
                     "cp-data-mar-may-2018.csv.gz"):
            ws.import_files([DUNDEE / name])
            if name == "cp-locations.csv.gz":
                continue
            rec = ws.reconciliation()
            devs, conns = history(rec, ws.store.devices(current_only=False),
                                  ws.store.connectors(current_only=False))
            frame = rec.attach_sessions(ws.store.sessions(categorical=True))
            for period, by in (("quarter", "device"), ("month", "connector")):
                expected = reported_utilisation(frame, devs, conns, ws.reconciled_status(),
                                                ws.devices(), period, by)
                assert_same(ws.utilisation(period, by), expected)
                assert len(expected) and expected["sessions"].sum() > 1000
                # the cache the workspace left is current: nothing to recompute
                cache = engine.MonthCache(ws.store.history_dir / "cache", by)
                con = duckdb_connection()
                folder = ws.store.history_dir
                files = [(folder / f).as_posix()
                         for f in ws.store.history_parts("sessions")["file"]]
                assert cache.refresh(con, ws.store.history_relation(con, "sessions"), files,
                                     lambda k, rec=rec: rec.attach_frame(k, "connector_id")
                                     .to_numpy(object), devs, conns)[1] == "cached"
                con.close()


def _coverage_by_text(counts, operators):
    """usage_coverage and keep_covered as first written (astype(str) keys): the
    reference for the integer-code version."""
    from ev_chargepoints.core.outputs.mapdata import substantial_periods

    reporter = "source:" + counts["source"].astype(str)
    if operators is not None and len(operators):
        name = counts["device_id"].astype(str).map(operators)
        name = name.astype(object).where(name.notna(), "").astype(str).str.strip().str.lower()
        reporter = reporter.where(name == "", "operator:" + name)
    counts = counts.assign(reporter=reporter)
    own = counts.loc[counts["sessions"] > 0, ["device_id", "period"]]
    per_reporter = counts.groupby(["reporter", "period"], sort=True)["sessions"].sum()
    covered = [(who, period) for who, rows in per_reporter.groupby(level=0, sort=False)
               for period in substantial_periods(rows.droplevel(0))]
    reported = counts[["device_id", "reporter"]].drop_duplicates().merge(
        pd.DataFrame(covered, columns=["reporter", "period"]), on="reporter")
    pairs = pd.concat([own, reported[["device_id", "period"]]], ignore_index=True)
    return set(zip(pairs["device_id"].astype(str), pairs["period"].astype(str)))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b", "1", 1, "c "]),
                               st.sampled_from(["", "feed", "file"]),
                               st.sampled_from(["2024-Q1", "2024-Q2", "2023-Q4", "2024-Q3"]),
                               st.integers(0, 30)), max_size=40),
       ops=st.dictionaries(st.sampled_from(["a", "b", "1", "c "]),
                           st.sampled_from(["Op", " op ", "Other", "", None]), max_size=4),
       categorical=st.booleans())
def test_coverage_on_integer_codes_equals_the_text_rule(rows, ops, categorical):
    """usage_coverage/keep_covered compare ids as text on integer codes of the distinct
    values: the same pairs and rows as the per-row astype(str) version (ids of mixed
    types, operators in any case and spacing, categorical or object columns)."""
    from ev_chargepoints.core.analysis.usage_coverage import keep_covered, usage_coverage

    counts = pd.DataFrame(rows, columns=["device_id", "source", "period", "sessions"])
    counts = counts.astype({"device_id": object, "source": object, "period": object,
                            "sessions": "int64"})
    operators = pd.Series(list(ops.values()), index=list(ops), dtype=object)
    expected = _coverage_by_text(counts, operators)
    given_counts = counts
    if categorical:
        given_counts = counts.assign(**{c: counts[c].astype(str).astype("category")
                                        for c in ("device_id", "source", "period")})
    got = usage_coverage(given_counts, operators)
    assert set(zip(got["device_id"].astype(str), got["period"].astype(str))) == expected
    assert not got.duplicated().any()
    frame = pd.DataFrame({"device_id": pd.Series(["a", "b", 1, "1", "c", "z"] * 4,
                                                 dtype=object),
                          "period": ["2024-Q1", "2024-Q2", "2023-Q4", "2024-Q3"] * 6,
                          "x": np.arange(24)})
    kept = keep_covered(frame, got)
    want = [(str(d), str(p)) in expected for d, p in zip(frame["device_id"], frame["period"])]
    pd.testing.assert_frame_equal(kept, frame[want].reset_index(drop=True))


def test_spilling_works_before_the_cache_folder_exists(tmp_path):
    """DuckDB makes only the last level of its spill folder: a first computation big enough
    to spill, on a store without a cache folder yet, failed ("Failed to create directory
    .../cache/spill")."""
    import duckdb

    from ev_chargepoints.core.analysis.usage_sql_engine import limit_memory

    spill = tmp_path / "store.history" / "cache" / "spill"
    con = duckdb.connect()
    try:
        limit_memory(con, spill)
        con.execute("SET memory_limit = '30MB'")  # force a spill
        groups = con.execute("SELECT count(*) FROM (SELECT range % 2000003 AS k, count(*)"
                             " FROM range(6000000) GROUP BY k)").fetchone()[0]
    finally:
        con.close()
    assert groups == 2000003
    assert spill.is_dir()
