"""Disclosure by role on the shared store (core/store/postgis/access.py and the DBA's script
resources/sql/shared_store_roles.sql), on a real PostgreSQL + PostGIS 3.

The store holds the real NCR devices of Camden (E09000007) and Hackney
(E09000012) from the bundled London snapshot, placed in wards and boroughs by
areas.assign_devices, with sessions drawn from the real Dundee distributions
(synthetic.synthetic_sessions) and their utilisation per device and quarter from
the pandas engine. Each role connects as itself and sees what its grants allow.
"""

from __future__ import annotations

import io
import os
import subprocess

import numpy as np
import pandas as pd
import psycopg2
import pytest
from pg_cluster import PG_BIN
from psycopg2.extras import execute_values

from ev_chargepoints.core.analysis import areas, usage_sums, utilisation
from ev_chargepoints.core.outputs import disclosure
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, resource
from ev_chargepoints.core.schema import TABLES, ParseResult
from ev_chargepoints.core.sources import synthetic
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store.postgis import access as pg_access
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.store.postgis.schema import SCHEMA

CAMDEN, HACKNEY = "E09000007", "E09000012"
OWNER = "evcp_owner"
IMPORTER = "import_service"
ROLES_SCRIPT = resource("sql", "shared_store_roles.sql")
S = SCHEMA


# --- the data (pandas, computed once) ----------------------------------------------

@pytest.fixture(scope="module")
def london():
    """Camden and Hackney devices, their sessions and per-device usage per quarter."""
    parsed = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    devices, connectors = parsed.tables["devices"], parsed.tables["connectors"]
    placed = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs()).table
    placed = placed[placed["borough_code"].isin([CAMDEN, HACKNEY])]
    devices = devices.merge(placed[["device_id", "ward_code", "borough_code", "x", "y"]],
                            on="device_id")
    connectors = connectors[connectors["device_id"].isin(devices["device_id"])]
    sessions = synthetic.synthetic_sessions(
        devices, connectors, synthetic.dundee_sessions(), "2022-01-01", "2022-07-01",
        seed=14, occupancy_range=(0.01, 0.2))
    usage = utilisation.utilisation(sessions, devices, connectors, period="quarter")
    return {"devices": devices, "connectors": connectors, "sessions": sessions,
            "usage": usage}


# --- the store -------------------------------------------------------------------

def _run_psql(cluster, dbname, script, *variables):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    command = [str(PG_BIN / "psql"), "-X", "-q", "-d", cluster.dsn(dbname), "-f", str(script)]
    for variable in variables:
        command += ["-v", variable]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _ensure_login_role(cluster, name):
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
            if not cur.fetchone():
                cur.execute(f"CREATE ROLE {name} LOGIN")
    finally:
        conn.close()


def _create_store(cluster, dbname):
    """As a DBA would: an owner role that may create the schema; the owner then
    creates the store by opening it."""
    _ensure_login_role(cluster, OWNER)
    cluster.execute(f"GRANT CREATE ON DATABASE {dbname} TO {OWNER}")
    PostgisStore.create_or_open(cluster.dsn(dbname, OWNER)).close()


def _copy(cur, table, frame):
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    cur.copy_expert(f"COPY {S}.{table} ({', '.join(frame.columns)}) FROM STDIN "
                    "WITH (FORMAT csv, NULL '\\N')", buffer)


def _load(cluster, dbname, data):
    """The import service (a member of evcp_importer, not the owner) imports the
    devices and sessions and writes the utilisation cache through the store's own
    import path, then the devices' places and one status observation each."""
    devices, sessions, usage = data["devices"], data["sessions"], data["usage"]
    canonical = list(TABLES["devices"])
    with PostgisStore.create_or_open(cluster.dsn(dbname, IMPORTER)) as store:
        for result, name in (
                (ParseResult("ncr", "ncr", len(devices),
                             {"devices": devices[canonical],
                              "connectors": data["connectors"]}), "ncr_camden_hackney.csv"),
                (ParseResult("sessions", synthetic.SOURCE, len(sessions),
                             {"sessions": sessions}), "synthetic_sessions.csv")):
            report = store.import_parse_result(result, name, f"sha256-of-{name}")
            assert report.outcome == "imported", report.message
        assert store.write_usage_periods(usage, "quarter") == len(usage)
    conn = cluster.connect(dbname, IMPORTER)
    try:
        with conn.cursor() as cur:
            _copy(cur, "device_areas", devices.assign(boundary_version="test")[
                ["source", "device_id", "ward_code", "borough_code", "operator",
                 "boundary_version"]])
            # COPY cannot write a table with row-level security: INSERT
            execute_values(cur, f"INSERT INTO {S}.status_snapshots (observed_utc, device_id,"
                                " evse_uid, status, raw_status, source) VALUES %s",
                           [("2022-05-01T12:00:00Z", d, f"{d}-1", "AVAILABLE", "AVAILABLE",
                             "test") for d in devices["device_id"]])
            # an aggregate row written by analysis code: readable by every reader
            cur.execute(f"INSERT INTO {S}.usage_periods (level, period_kind, period, area_code,"
                        " sessions) VALUES ('borough', 'quarter', '2022-Q2', %s, 1)",
                        (CAMDEN,))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def shared_store(pg_cluster, london):
    """(cluster, dbname): the store, the DBA's roles script run with psql, the data."""
    dbname = pg_cluster.create_database()
    try:
        _create_store(pg_cluster, dbname)
        result = _run_psql(pg_cluster, dbname, ROLES_SCRIPT)
        assert result.returncode == 0, result.stderr
        for role, group in (("nobody_in_particular", None), (IMPORTER, "evcp_importer"),
                            ("platform_admin", "evcp_admin")):
            _ensure_login_role(pg_cluster, role)
            if group:
                pg_cluster.execute(f"GRANT {group} TO {role}")
        _load(pg_cluster, dbname, london)
        yield pg_cluster, dbname
    finally:
        pg_cluster.drop_database(dbname)


def _query(cluster, dbname, role, sql, params=None):
    conn = cluster.connect(dbname, role)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def _one(cluster, dbname, role, sql, params=None):
    return _query(cluster, dbname, role, sql, params)[0][0]


def _ids(frame, mask):
    return set(frame.loc[mask, "device_id"])


# --- expectations from the pandas side ---------------------------------------------

def _by_borough(london, borough):
    devices = london["devices"]
    ids = _ids(devices, devices["borough_code"] == borough)
    sessions = london["sessions"][london["sessions"]["device_id"].isin(ids)]
    usage = london["usage"][london["usage"]["device_id"].isin(ids)]
    return ids, sessions, usage


def _area_table(london, by):
    usage = london["usage"].merge(london["devices"][["device_id", "ward_code", "borough_code"]],
                                  on="device_id")
    return usage_sums.summarise(usage, ["period"] + by)


# --- two boroughs: each its own per-device usage, aggregates for both -------------

@pytest.mark.parametrize("role, mine, other", [("camden_officer", CAMDEN, HACKNEY),
                                               ("hackney_officer", HACKNEY, CAMDEN)])
def test_borough_officer_sees_own_devices_usage_and_only_aggregates_elsewhere(
        shared_store, london, role, mine, other):
    cluster, db = shared_store
    my_ids, my_sessions, my_usage = _by_borough(london, mine)
    other_ids, _, _ = _by_borough(london, other)
    assert len(my_ids) == {CAMDEN: 397, HACKNEY: 143}[mine]   # real NCR devices, May 2022
    assert len(my_sessions) > 1000

    seen = _query(cluster, db, role, f"SELECT device_id, count(*), sum(kwh) FROM {S}.sessions "
                                     "GROUP BY device_id")
    assert sum(n for _, n, _ in seen) == len(my_sessions)
    assert {d for d, _, _ in seen} == set(my_sessions["device_id"])
    assert not {d for d, _, _ in seen} & other_ids
    assert sum(k for _, _, k in seen) == pytest.approx(my_sessions["kwh"].sum(), rel=1e-12)

    rows = _query(cluster, db, role, f"SELECT device_id, period, sessions, plugged_hours "
                                     f"FROM {S}.usage_periods WHERE level = 'device'")
    assert len(rows) == len(my_usage)
    assert {r[0] for r in rows} == my_ids
    expected = my_usage.set_index(["device_id", "period"])
    for device_id, period, n, plugged in rows:
        assert n == expected.loc[(device_id, period), "sessions"]
        assert plugged == pytest.approx(expected.loc[(device_id, period), "plugged_hours"])
    assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.status_snapshots") == len(my_ids)
    assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.status_snapshots WHERE device_id"
                                   " = ANY(%s)", (sorted(other_ids),)) == 0
    # aggregate rows of usage_periods are for every reader
    assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.usage_periods "
                                   "WHERE level = 'borough'") == 1

    # public within the platform: every device and its place
    assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.devices") == 540
    assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.device_areas") == 540

    # aggregates for both boroughs, identical to the pandas engine's sums
    expected = _area_table(london, ["borough_code"]).set_index(["borough_code", "period"])
    got = _query(cluster, db, role, f"SELECT area_code, period, usage_devices, sessions, kwh, "
                                    "plugged_hours, occupancy_pct, capacity_factor_pct, "
                                    "sessions_per_day, usage_disclosure FROM "
                                    f"{S}.area_usage WHERE level = 'borough' "
                                    "ORDER BY area_code, period")
    assert [(r[0], r[1]) for r in got] == sorted(expected.index)
    assert {r[0] for r in got} == {CAMDEN, HACKNEY}
    for code, period, n_dev, n, kwh, plugged, occupancy, capacity, per_day, status in got:
        want = expected.loc[(code, period)]
        assert status == disclosure.SHOWN
        assert n_dev == want["devices"]
        assert n == want["sessions"]
        assert kwh == pytest.approx(want["kwh"], rel=1e-9)
        assert plugged == pytest.approx(want["plugged_hours"], rel=1e-9)
        assert occupancy == pytest.approx(want["occupancy_pct"], rel=1e-9)
        assert capacity == pytest.approx(want["capacity_factor_pct"], rel=1e-9)
        assert per_day == pytest.approx(want["sessions_per_day"], rel=1e-9)

    assert _one(cluster, db, role, f"SELECT {S}.may_see_device(%s)", (min(my_ids),)) is True
    assert _one(cluster, db, role, f"SELECT {S}.may_see_device(%s)", (min(other_ids),)) is False
    # a role reads its own grants only
    assert _query(cluster, db, role, f"SELECT borough_code FROM {S}.access_grants") == [(mine,)]


def test_operator_role_sees_its_own_devices_in_every_borough(shared_store, london):
    cluster, db = shared_store
    devices, sessions = london["devices"], london["sessions"]
    ours = _ids(devices, devices["operator"] == "ubitricity")
    assert len(ours) == 266 + 62
    seen = _query(cluster, db, "ubitricity_analyst",
                  f"SELECT device_id, count(*) FROM {S}.sessions GROUP BY device_id")
    assert {d for d, _ in seen} == set(sessions.loc[sessions["device_id"].isin(ours),
                                                    "device_id"])
    assert sum(n for _, n in seen) == int(sessions["device_id"].isin(ours).sum())
    usage_ids = _query(cluster, db, "ubitricity_analyst",
                       f"SELECT DISTINCT device_id FROM {S}.usage_periods "
                       "WHERE level = 'device'")
    assert {d for (d,) in usage_ids} == ours


def test_role_without_grants_sees_only_aggregates(shared_store, london):
    cluster, db = shared_store
    for role in ("london_analyst", "nobody_in_particular"):
        if role == "nobody_in_particular":   # not even a reader: no access at all
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                _query(cluster, db, role, f"SELECT count(*) FROM {S}.sessions")
            continue
        for table in ("sessions", "status_snapshots"):
            assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.{table}") == 0
        assert _query(cluster, db, role, f"SELECT level, count(*) FROM {S}.usage_periods "
                                         "GROUP BY level") == [("borough", 1)]
        assert _query(cluster, db, role, f"SELECT * FROM {S}.access_grants") == []
        total = _query(cluster, db, role, f"SELECT period, usage_devices, sessions FROM "
                                          f"{S}.area_usage WHERE level = 'all' ORDER BY period")
        expected = usage_sums.summarise(london["usage"], "period")
        assert total == [(p, d, s) for p, d, s in
                         zip(expected["period"], expected["devices"], expected["sessions"])]


def test_ward_cells_are_suppressed_as_the_exports_suppress_them(shared_store, london):
    """Small wards: the view applies disclosure.mask_usage's rule (complementary
    within each borough), so no reader can read one device's usage off a ward."""
    cluster, db = shared_store
    usage = london["usage"].merge(london["devices"][["device_id", "ward_code",
                                                     "borough_code", "operator"]],
                                  on="device_id")
    got = _query(cluster, db, "london_analyst",
                 f"SELECT parent_code, period, area_code, usage_disclosure, sessions FROM "
                 f"{S}.area_usage WHERE level = 'ward'")
    got = {(b, p, w): (status, n) for b, p, w, status, n in got}
    suppressed_somewhere = 0
    for (borough, period), rows in usage.groupby(["borough_code", "period"]):
        table = usage_sums.summarise(rows, "ward_code").sort_values("ward_code")
        counts = disclosure.contributors(rows, "ward_code")
        masked = disclosure.mask_usage(table, counts, key="ward_code",
                                       complementary=True).table
        for ward, status, n in zip(masked["ward_code"], masked["usage_disclosure"],
                                   masked["sessions"]):
            assert got[(borough, period, ward)][0] == status, (borough, period, ward)
            if np.isnan(n):
                assert got[(borough, period, ward)][1] is None
                suppressed_somewhere += 1
            else:
                assert got[(borough, period, ward)][1] == n
    assert suppressed_somewhere > 0
    assert len(got) == usage.groupby(["borough_code", "period", "ward_code"]).ngroups


def test_threshold_is_the_store_setting_and_protects_by_complement(shared_store):
    cluster, db = shared_store
    sql = (f"SELECT area_code, usage_disclosure, sessions IS NULL FROM {S}.area_usage "
           "WHERE level = 'borough' AND period = '2022-Q2' ORDER BY area_code")
    try:
        cluster.execute(f"UPDATE {S}.store_meta SET value = '200' "
                        f"WHERE key = '{pg_access.THRESHOLD_KEY}'", db)
        # Hackney (143 devices) falls below; Camden would then be London minus Hackney
        assert _query(cluster, db, "camden_officer", sql) == [
            (CAMDEN, disclosure.COMPLEMENT, True),
            (HACKNEY, "suppressed: fewer than 200 devices", True)]
    finally:
        cluster.execute(f"UPDATE {S}.store_meta SET value = '{disclosure.DEFAULT_THRESHOLD}' "
                        f"WHERE key = '{pg_access.THRESHOLD_KEY}'", db)
    assert _query(cluster, db, "camden_officer", sql) == [
        (CAMDEN, disclosure.SHOWN, False), (HACKNEY, disclosure.SHOWN, False)]


# --- writing -------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    f"INSERT INTO {S}.sessions (session_key, device_id) VALUES ('forged', 'x')",
    f"UPDATE {S}.usage_periods SET sessions = 0",
    f"DELETE FROM {S}.status_snapshots",
    f"UPDATE {S}.devices SET operator = 'someone else'",
    f"INSERT INTO {S}.access_grants (role_name, borough_code) "
    f"VALUES ('evcp_borough_camden', '{HACKNEY}')",
])
def test_readers_cannot_write(shared_store, statement):
    cluster, db = shared_store
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _query(cluster, db, "camden_officer", statement + " RETURNING 1")


def test_importer_and_admin_see_every_row(shared_store, london):
    cluster, db = shared_store
    total = len(london["sessions"])
    for role in (IMPORTER, "platform_admin"):
        assert _one(cluster, db, role, f"SELECT count(*) FROM {S}.sessions") == total
    conn = cluster.connect(db, IMPORTER)
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {S}.sessions (session_key, device_id, kwh) "
                        "VALUES ('import-test', 'x', 1) ON CONFLICT DO NOTHING")
            assert cur.rowcount == 1
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(f"INSERT INTO {S}.access_grants (role_name, operator) "
                            "VALUES ('import_service', 'ubitricity')")
            cur.execute("ROLLBACK")
    finally:
        conn.close()
    conn = cluster.connect(db, "platform_admin")
    try:
        conn.autocommit = False
        with conn.cursor() as cur:   # the admin manages grants (rolled back here)
            cur.execute(f"INSERT INTO {S}.access_grants (role_name, operator) "
                        "VALUES ('london_analyst', 'ubitricity')")
            cur.execute(f"SELECT count(*) FROM {S}.access_grants")
            assert cur.fetchone()[0] == 4
        conn.rollback()
    finally:
        conn.close()


def test_set_role_is_judged_as_the_role_set(shared_store, london):
    """A superuser testing a role with SET ROLE sees what that role sees: the
    functions judge the querying role, not the session's login role."""
    cluster, db = shared_store
    conn = cluster.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET ROLE hackney_officer")
            cur.execute(f"SELECT count(DISTINCT device_id) FROM {S}.usage_periods "
                        "WHERE level = 'device'")
            assert cur.fetchone()[0] == 143
    finally:
        conn.close()


# --- public rows, protected values: a masked view over a hidden table ----------------

MAP_USAGE = ["sessions", "plugged_hours", "occupancy_pct"]


@pytest.fixture(scope="module")
def masked_map(shared_store, london):
    """As pg_mapdata writes the map: one row per device (all 540) and quarter, usage
    where the device had any, in map_device_rows (only the owner reads it) behind
    the view map_devices. Returns {(device_id, period): (sessions, plugged, occupancy)}."""
    cluster, db = shared_store
    periods = sorted(london["usage"]["period"].unique())
    usage = london["usage"].set_index(["device_id", "period"])[MAP_USAGE]
    expected = {}
    for device_id in london["devices"]["device_id"]:
        for period in periods:
            key = (device_id, period)
            expected[key] = tuple(None if pd.isna(v) else v for v in usage.loc[key]) \
                if key in usage.index else (None, None, None)
    conn = cluster.connect(db, OWNER)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {S}.map_device_rows (fid integer GENERATED ALWAYS AS "
                        "IDENTITY PRIMARY KEY, device_id text, period text, sessions bigint, "
                        "plugged_hours double precision, occupancy_pct double precision)")
            execute_values(cur, f"INSERT INTO {S}.map_device_rows (device_id, period, "
                                f"{', '.join(MAP_USAGE)}) VALUES %s",
                           [(d, p, *(None if v is None else float(v) for v in values))
                            for (d, p), values in expected.items()])
            pg_access.hide_table(cur, "map_device_rows")
            pg_access.create_masked_view(cur, "map_devices", "map_device_rows", MAP_USAGE)
    finally:
        conn.close()
    return expected


def _map_seen(rows):
    """{(device, period): values} of a role's SELECT of map_devices, and the devices
    whose usage it got."""
    seen = {(d, p): tuple(values) for d, p, *values in rows}
    with_usage = {d for (d, _p), values in seen.items() if any(v is not None for v in values)}
    return seen, with_usage


MAP_SQL = f"SELECT device_id, period, {', '.join(MAP_USAGE)} FROM {S}.map_devices"


@pytest.mark.parametrize("role, visible", [
    ("camden_officer", 397), ("hackney_officer", 143), ("ubitricity_analyst", 266 + 62),
    ("london_analyst", 0), (IMPORTER, 540), ("platform_admin", 540), (OWNER, 540)])
def test_every_role_sees_every_map_device_with_usage_only_where_granted(
        shared_store, london, masked_map, role, visible):
    cluster, db = shared_store
    devices = london["devices"]
    granted = {"camden_officer": _ids(devices, devices["borough_code"] == CAMDEN),
               "hackney_officer": _ids(devices, devices["borough_code"] == HACKNEY),
               "ubitricity_analyst": _ids(devices, devices["operator"] == "ubitricity"),
               "london_analyst": set()}.get(role, set(devices["device_id"]))
    assert len(granted) == visible
    seen, with_usage = _map_seen(_query(cluster, db, role, MAP_SQL))
    assert len(seen) == len(masked_map) == 540 * 3   # every device, 2022-Q1 to Q3
    assert with_usage == granted
    for key, values in seen.items():
        assert values == (masked_map[key] if key[0] in granted else (None, None, None))
    if role != OWNER:     # the owner reads every value, as row security lets it read rows
        decided = _query(cluster, db, role, f"SELECT DISTINCT device_id FROM {S}.map_devices "
                                            f"WHERE {S}.may_see_device(device_id)")
        assert {d for (d,) in decided} == granted


def test_the_map_view_judges_the_role_set_and_its_table_stays_closed(
        shared_store, london, masked_map):
    cluster, db = shared_store
    camden = _ids(london["devices"], london["devices"]["borough_code"] == CAMDEN)
    conn = cluster.connect(db)                       # a superuser testing roles
    try:
        with conn.cursor() as cur:
            cur.execute(MAP_SQL)
            assert _map_seen(cur.fetchall())[1] == {d for d, _p in masked_map}
            for role, expected in (("camden_officer", camden), ("london_analyst", set())):
                cur.execute(f"SET ROLE {role}")
                cur.execute("SELECT current_user, session_user")
                assert cur.fetchone() == (role, cluster.superuser)
                cur.execute(MAP_SQL)
                seen, with_usage = _map_seen(cur.fetchall())
                assert len(seen) == 1620 and with_usage == expected
                cur.execute("RESET ROLE")
    finally:
        conn.close()

    table = f"SELECT count(*) FROM {S}.map_device_rows"
    for role in ("camden_officer", "london_analyst", "nobody_in_particular"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            _query(cluster, db, role, table)
    # re-running the roles script (SELECT on all tables for readers) keeps it closed
    result = _run_psql(cluster, db, ROLES_SCRIPT)
    assert result.returncode == 0, result.stderr
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _query(cluster, db, "camden_officer", table)
    # granted SELECT by hand, row security still gives readers no rows
    cluster.execute(f"GRANT SELECT ON {S}.map_device_rows TO evcp_reader", db)
    try:
        assert _one(cluster, db, "camden_officer", table) == 0
        assert _one(cluster, db, "london_analyst", table) == 0
        assert _one(cluster, db, "platform_admin", table) == 1620
    finally:
        conn = cluster.connect(db, OWNER)
        try:
            with conn.cursor() as cur:
                pg_access.hide_table(cur, "map_device_rows")
        finally:
            conn.close()
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _query(cluster, db, "camden_officer", table)
    # a reader cannot replace the view or the rows
    for statement in (f"CREATE OR REPLACE VIEW {S}.map_devices AS SELECT 1",
                      f"UPDATE {S}.map_device_rows SET sessions = 0"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            _query(cluster, db, "camden_officer", statement)


def test_masked_view_takes_plain_identifiers_and_existing_columns(shared_store, masked_map):
    cluster, db = shared_store
    conn = cluster.connect(db, OWNER)
    try:
        with conn.cursor() as cur:
            with pytest.raises(ValueError, match="identifier"):
                pg_access.create_masked_view(cur, "v; DROP TABLE x", "map_device_rows",
                                             MAP_USAGE)
            with pytest.raises(ValueError, match="lacks.*'kwh'"):
                pg_access.create_masked_view(cur, "map_devices", "map_device_rows", ["kwh"])
    finally:
        conn.close()


# --- the DBA's script ------------------------------------------------------------------

def test_roles_script_refuses_a_database_without_a_store_and_runs_twice(pg_database):
    cluster, db = pg_database
    result = _run_psql(cluster, db, ROLES_SCRIPT)
    assert result.returncode == 3
    assert "has no shared store (schema ev_chargepoints) yet" in result.stderr

    _create_store(cluster, db)
    for _ in range(2):
        result = _run_psql(cluster, db, ROLES_SCRIPT)
        assert result.returncode == 0, result.stderr
    assert _query(cluster, db, "camden_officer",
                  f"SELECT role_name, borough_code FROM {S}.access_grants") == [
        ("evcp_borough_camden", CAMDEN)]
    assert _one(cluster, db, cluster.superuser,
                f"SELECT count(*) FROM {S}.access_grants") == 3

    # a table a later version adds is readable by readers (default privileges)
    # and protected by protect_device_table
    conn = cluster.connect(db, OWNER)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {S}.map_devices (device_id text, period text, "
                        "sessions double precision)")
            pg_access.protect_device_table(cur, "map_devices")
            cur.execute(f"INSERT INTO {S}.device_areas (source, device_id, borough_code) "
                        f"VALUES ('ncr', 'c1', '{CAMDEN}'), ('ncr', 'h1', '{HACKNEY}')")
            cur.execute(f"INSERT INTO {S}.map_devices VALUES ('c1', '2022-Q2', 5), "
                        "('h1', '2022-Q2', 7)")
    finally:
        conn.close()
    assert _query(cluster, db, "camden_officer", f"SELECT * FROM {S}.map_devices") == [
        ("c1", "2022-Q2", 5.0)]
    assert _query(cluster, db, "london_analyst", f"SELECT * FROM {S}.map_devices") == []


def test_protect_device_table_takes_plain_identifiers_only(pg_database):
    cluster, db = pg_database
    conn = cluster.connect(db)
    try:
        with conn.cursor() as cur, pytest.raises(ValueError, match="identifier"):
            pg_access.protect_device_table(cur, "map_devices; DROP TABLE x")
    finally:
        conn.close()
