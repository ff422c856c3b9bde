"""Areas in the PostGIS store: SQL assignment and SQL summaries against the pandas
engine, on the bundled London snapshot (real NCR devices, 2018 wards, boroughs)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from frame_asserts import INTEGER_COLUMNS, assert_same_summary  # noqa: F401

from ev_chargepoints.core import paths
from ev_chargepoints.core.analysis import areas, geometry, summary, utilisation
from ev_chargepoints.core.errors import StoreError
from ev_chargepoints.core.sources import parsers, synthetic
from ev_chargepoints.core.store.interface import file_sha256
from ev_chargepoints.core.store.postgis import areas as pg_areas
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.store.postgis.schema import SCHEMA

NCR = paths.LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz"
TIMINGS: dict = {}


def _import_ncr(store) -> None:
    report = store.import_parse_result(parsers.parse_file(NCR), NCR.name, file_sha256(NCR))
    assert report.outcome == "imported"


@pytest.fixture(scope="module")
def london(pg_cluster):
    """One PostGIS store with the NCR snapshot and the bundled boundaries, placed in
    SQL, plus the pandas assignment of the same devices."""
    name = pg_cluster.create_database()
    store = PostgisStore.create_or_open(pg_cluster.dsn(name))
    try:
        _import_ncr(store)
        wards, boroughs = areas.load_wards(2018), areas.load_boroughs()
        devices, connectors = store.devices(), store.connectors()
        started = time.perf_counter()
        sql = pg_areas.assign_devices(store, wards, boroughs)
        TIMINGS["assign_sql_s"] = time.perf_counter() - started
        started = time.perf_counter()
        pandas_assignment = areas.assign_devices(devices, wards, boroughs)
        TIMINGS["assign_pandas_s"] = time.perf_counter() - started
        yield {"store": store, "wards": wards, "boroughs": boroughs, "devices": devices,
               "connectors": connectors, "sql": sql, "pandas": pandas_assignment}
    finally:
        store.close()
        pg_cluster.drop_database(name)
        print("\ntimings (s):", {k: round(v, 3) for k, v in TIMINGS.items()})


@pytest.fixture(scope="module")
def with_usage(london):
    """Synthetic Dundee-derived sessions for every fourth device over two months
    (2022 Q1 and Q2), their quarterly utilisation written to usage_periods."""
    store, devices, connectors = london["store"], london["devices"], london["connectors"]
    some = devices.iloc[::4]
    sessions = synthetic.synthetic_sessions(
        some, connectors[connectors["device_id"].isin(some["device_id"])],
        synthetic.dundee_sessions(), pd.Timestamp("2022-03-01", tz="Europe/London"),
        pd.Timestamp("2022-05-01", tz="Europe/London"), seed=14)
    frame = utilisation.utilisation(sessions, devices, connectors, None, period="quarter",
                                    by="device")
    frame = frame[frame["device_id"].isin(pd.unique(sessions["device_id"]))]
    store.write_usage_periods(frame, "quarter")
    return {"frame": frame.reset_index(drop=True), "stored": store.usage_periods("quarter")}


# --- polygons ------------------------------------------------------------------

def test_polygons_are_stored_vertex_for_vertex_and_reloaded_only_when_changed(london):
    store, wards, boroughs = london["store"], london["wards"], london["boroughs"]
    with store.conn.cursor() as cur:
        cur.execute(f"SELECT level, count(*), sum(ST_NPoints(geom)), bool_and(ST_IsValid(geom)),"
                    f" min(boundary_version), max(boundary_version)"
                    f" FROM {SCHEMA}.areas GROUP BY level ORDER BY level")
        rows = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute(f"SELECT code, ST_AsBinary(geom) FROM {SCHEMA}.areas"
                    f" WHERE level = 'ward' ORDER BY fid")
        stored = cur.fetchall()
    assert rows["ward"][0] == 633 and rows["borough"][0] == 33
    assert rows["ward"][1] == len(wards.polygons.x)
    assert rows["borough"][1] == len(boroughs.polygons.x)
    assert rows["ward"][3] == rows["ward"][4] == wards.boundary_version
    # read back through the pandas engine's own WKB parser: identical arrays
    assert [code for code, _ in stored] == list(wards.codes)
    back = geometry.parse_wkb_polygons([bytes(wkb) for _, wkb in stored])
    for name in ("x", "y", "ring_offsets", "part_offsets", "geom_offsets"):
        assert np.array_equal(getattr(back, name), getattr(wards.polygons, name)), name
    assert pg_areas.load_areas(store, wards, boroughs) == {"ward": "kept", "borough": "kept"}


# --- assignment ----------------------------------------------------------------

def test_sql_assignment_equals_the_pandas_assignment_on_the_ncr_snapshot(london):
    sql, expected = london["sql"], london["pandas"]
    assert sql.report == expected.report
    assert sql.report.total == 8940 and sql.report.inside == 8538
    assert sql.report.outside == 402
    pd.testing.assert_frame_equal(sql.table, expected.table, check_exact=True)
    assert np.array_equal(sql.ward_index, expected.ward_index)
    assert np.array_equal(sql.borough_index, expected.borough_index)
    assert sql.matches(london["wards"], london["boroughs"])


def test_device_areas_holds_every_current_device_with_its_codes(london):
    store, expected = london["store"], london["pandas"].table
    with store.conn.cursor() as cur:
        cur.execute(f"SELECT device_id, ward_code, borough_code, operator, boundary_version"
                    f" FROM {SCHEMA}.device_areas")
        rows = pd.DataFrame(cur.fetchall(), columns=["device_id", "ward_code", "borough_code",
                                                     "operator", "boundary_version"])
    assert len(rows) == 8940
    merged = expected.merge(rows, on="device_id", suffixes=("", "_db"))
    assert len(merged) == 8940
    assert merged["ward_code"].equals(merged["ward_code_db"])
    assert merged["borough_code"].equals(merged["borough_code_db"])
    operators = london["devices"].set_index("device_id")["operator"]
    assert (merged["operator"].to_numpy() == operators[merged["device_id"]].to_numpy()).all()
    assert set(rows["boundary_version"]) == {
        f"{london['wards'].boundary_version}|{london['boroughs'].boundary_version}"}


def test_the_assignment_query_finds_points_through_the_gist_index(london):
    store = london["store"]
    params = {"ward_version": london["wards"].boundary_version,
              "borough_version": london["boroughs"].boundary_version, "tolerance": 1e-6}
    with store.conn.cursor() as cur:
        cur.execute("SET jit = off")
        cur.execute(f"EXPLAIN (FORMAT TEXT) {pg_areas.HITS_SQL}", params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Index Scan using devices_geom" in plan, plan
    assert "Seq Scan on devices" not in plan, plan


def _crafted_points(wards: areas.AreaSet, boroughs: areas.AreaSet) -> pd.DataFrame:
    """Points exactly on shared ward vertices and on axis-parallel shared edges, and
    grid points in each assignment case (Thames gap, snapped, outside)."""
    polys = wards.polygons
    vertex_geom = np.repeat(polys.ring_geometry(), np.diff(polys.ring_offsets))
    vertices = pd.DataFrame({"x": polys.x, "y": polys.y, "g": vertex_geom})
    shared = vertices.drop_duplicates().groupby(["x", "y"])["g"].nunique()
    shared = shared[shared >= 2].reset_index()
    on_vertices = shared.iloc[:: max(1, len(shared) // 150)][["x", "y"]]
    edges = polys.edges()
    flat = (edges["y0"] == edges["y1"]) | (edges["x0"] == edges["x1"])
    mid = pd.DataFrame({"x": (edges["x0"][flat] + edges["x1"][flat]) / 2,
                        "y": (edges["y0"][flat] + edges["y1"][flat]) / 2})
    on_edges = mid.iloc[:: max(1, len(mid) // 150)]
    bounds = boroughs.polygons.bounds()
    gx, gy = np.meshgrid(np.arange(bounds[:, 0].min() - 500, bounds[:, 2].max() + 500, 150.0),
                         np.arange(bounds[:, 1].min() - 500, bounds[:, 3].max() + 500, 150.0))
    grid = pd.DataFrame({"x": gx.ravel(), "y": gy.ravel(), "device_id": "g"})
    notes = areas.assign_devices(grid, wards, boroughs).table["assignment_note"]
    picked = [grid[notes == note].iloc[:60] for note in ("thames_gap", "ward_snapped",
                                                         "outside", "inside")]
    points = pd.concat([on_vertices, on_edges, *picked], ignore_index=True)[["x", "y"]]
    points["device_id"] = [f"crafted-{i:05d}" for i in range(len(points))]
    return points


def test_sql_assignment_follows_the_pandas_rules_on_boundaries_and_fallbacks(pg_dsn):
    """Devices placed exactly on shared boundaries, in the Thames gap, in a borough
    but none of its wards, and outside: every case gives the pandas result."""
    from psycopg2.extras import execute_values

    wards, boroughs = areas.load_wards(2018), areas.load_boroughs()
    points = _crafted_points(wards, boroughs)
    store = PostgisStore.create_or_open(pg_dsn)
    try:
        with store.transaction() as cur:
            rows = [(d, float(x), float(y)) for d, x, y in
                    zip(points["device_id"], points["x"], points["y"])]
            execute_values(cur, f"INSERT INTO {SCHEMA}.devices (device_id, source, geom,"
                                f" valid_from_utc) VALUES %s", rows,
                           template="(%s, 'crafted', ST_SetSRID(ST_MakePoint(%s, %s), 27700),"
                                    " now())", page_size=500)
            cur.execute(f"INSERT INTO {SCHEMA}.devices (device_id, source, valid_from_utc)"
                        " VALUES ('crafted-nowhere', 'crafted', now())")
        sql = pg_areas.assign_devices(store, wards, boroughs)
    finally:
        store.close()
    frame = pd.concat([points, pd.DataFrame({"device_id": ["crafted-nowhere"],
                                             "x": [np.nan], "y": [np.nan]})],
                      ignore_index=True)
    expected = areas.assign_devices(frame, wards, boroughs)
    report = expected.report
    assert (report.total, report.on_ward_boundary, report.on_borough_boundary) == (486, 305, 6)
    assert (report.thames_gap, report.ward_snapped, report.no_location) == (66, 25, 1)
    assert report.in_several_wards == 0  # each point on a shared boundary in one ward
    assert sql.report == report
    pd.testing.assert_frame_equal(sql.table, expected.table, check_exact=True)


def test_sql_assignment_with_one_boundary_set(london, pg_dsn):
    store = PostgisStore.create_or_open(pg_dsn)
    try:
        _import_ncr(store)
        devices = store.devices()
        for wards, boroughs in ((london["wards"], None), (None, london["boroughs"])):
            sql = pg_areas.assign_devices(store, wards, boroughs)
            expected = areas.assign_devices(devices, wards, boroughs)
            assert sql.report == expected.report
            pd.testing.assert_frame_equal(sql.table, expected.table, check_exact=True)
        with pytest.raises(ValueError, match="give ward or borough"):
            pg_areas.assign_devices(store, None, None)
    finally:
        store.close()


# --- summaries ---------------------------------------------------------------------

@pytest.mark.parametrize("level", ["borough", "ward"])
def test_sql_summary_without_usage_equals_pandas(london, level):
    expected = summary.summarise(london["pandas"], london["devices"], london["connectors"],
                                 None, level=level)
    started = time.perf_counter()
    sql = pg_areas.area_summary(london["store"], level=level, with_usage=False)
    TIMINGS[f"summary_{level}_sql_s"] = time.perf_counter() - started
    assert_same_summary(sql, expected)
    assert int(sql["devices"].sum()) == 8538
    assert sql.attrs["devices_selected"] == 8940 and sql.attrs["devices_unassigned"] == 402


@pytest.mark.parametrize("filters", [
    {"operator": "ubitricity"},
    {"power_class": ["rapid", "ultra"]},
    {"operator": ["Source London", "BP Pulse"], "power_class": "fast"},
    {"location_type": ["On-street", None]},
])
def test_sql_summary_with_filters_equals_pandas(london, filters):
    for level in ("borough", "ward"):
        expected = summary.summarise(london["pandas"], london["devices"],
                                     london["connectors"], None, level=level, filters=filters)
        sql = pg_areas.area_summary(london["store"], level=level, filters=filters,
                                    with_usage=False)
        assert_same_summary(sql, expected)
        assert sql.attrs["filters"] == expected.attrs["filters"]
    if filters == {"operator": "ubitricity"}:
        assert sql.attrs["devices_selected"] == 3668


@pytest.mark.parametrize("level", ["borough", "ward"])
def test_sql_summary_with_usage_equals_pandas(london, with_usage, level):
    stored = with_usage["stored"]
    started = time.perf_counter()
    expected = summary.summarise(london["pandas"], london["devices"], london["connectors"],
                                 stored, level=level)
    TIMINGS[f"summary_{level}_usage_pandas_s"] = time.perf_counter() - started
    started = time.perf_counter()
    sql = pg_areas.area_summary(london["store"], level=level)
    TIMINGS[f"summary_{level}_usage_sql_s"] = time.perf_counter() - started
    assert_same_summary(sql, expected)
    assert sql.attrs["period"] == "2022-Q2" and sql.attrs["previous_period"] == "2022-Q1"
    placed = london["pandas"].table.dropna(subset=[f"{level}_code"])["device_id"]
    in_q2 = stored.loc[stored["period"] == "2022-Q2", "device_id"]
    assert int(sql["devices_with_usage"].sum()) == int(in_q2.isin(placed).sum()) == 1935
    assert sql["sessions"].notna().any() and sql["sessions"].isna().any() == (level == "ward")
    # the previous period, with filters, through the same SQL
    filters = {"operator": ["ubitricity", "Source London"], "power_class": "slow"}
    expected = summary.summarise(london["pandas"], london["devices"], london["connectors"],
                                 stored, level=level, period="2022-Q1", filters=filters)
    sql = pg_areas.area_summary(london["store"], level=level, period="2022-Q1",
                                filters=filters)
    assert_same_summary(sql, expected)
    assert sql.attrs["previous_period"] is None


def test_stored_usage_keeps_every_figure_including_capacity(london, with_usage):
    """The usage cache keeps capacity_kwh and available_days (schema 3), so the SQL
    summary from stored usage equals the pandas one on the fresh frame, capacity
    factor included."""
    expected = summary.summarise(london["pandas"], london["devices"], london["connectors"],
                                 with_usage["frame"], level="borough")
    sql = pg_areas.area_summary(london["store"], level="borough")
    assert expected["capacity_factor_pct"].notna().any()
    assert_same_summary(sql, expected)


def test_summary_errors_are_clear(london, pg_dsn):
    with pytest.raises(ValueError, match="level must be one of"):
        pg_areas.area_summary(london["store"], level="county")
    with pytest.raises(ValueError, match="unknown filter 'colour'"):
        pg_areas.area_summary(london["store"], filters={"colour": "red"})
    store = PostgisStore.create_or_open(pg_dsn)
    try:
        with pytest.raises(ValueError, match="no ward boundaries"):
            pg_areas.area_summary(store, level="ward")
        # boundaries changed after the devices were placed: refused until placed again
        _import_ncr(store)
        pg_areas.assign_devices(store, london["wards"], None)
        wards_2011 = areas.load_wards(2011)
        pg_areas.load_areas(store, wards_2011, None)
        with pytest.raises(StoreError, match="place them again"):
            pg_areas.area_summary(store, level="ward", with_usage=False)
        pg_areas.assign_devices(store, wards_2011, None)
        assert len(pg_areas.area_summary(store, level="ward", with_usage=False)) == 625
    finally:
        store.close()
