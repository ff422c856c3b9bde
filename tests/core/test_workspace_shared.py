"""The Workspace facade on a shared PostGIS store gives the figures it gives on a
GeoPackage store: the same imports, utilisation computed by the server in SQL,
placements and area summaries in SQL; and the CLI takes the database address."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from frame_asserts import assert_same_summary

from ev_chargepoints import cli
from ev_chargepoints.core.store.postgis.access import ACCESS_COLUMN, EVERY_DEVICE
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.store.postgis.schema import SCHEMA
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace

USAGE_START, USAGE_END = "2022-03-01", "2022-05-01"  # two months crossing a quarter end


@pytest.fixture(scope="module")
def both(pg_cluster, tmp_path_factory):
    """The bundled snapshot (real NCR devices, two months of synthetic usage) in a
    GeoPackage workspace and in a PostGIS workspace."""
    database = pg_cluster.create_database()
    gpkg = Workspace(tmp_path_factory.mktemp("gpkg") / "history.gpkg")
    shared = Workspace(pg_cluster.dsn(database))
    reports = {}
    for name, ws in (("gpkg", gpkg), ("pg", shared)):
        reports[name] = ws.import_bundled_snapshot(usage_start=USAGE_START,
                                                   usage_end=USAGE_END)
    yield {"gpkg": gpkg, "pg": shared, "reports": reports, "dsn": pg_cluster.dsn(database)}
    gpkg.close()
    shared.close()
    pg_cluster.drop_database(database)


def test_the_same_imports_store_the_same_rows(both):
    assert isinstance(both["pg"].store, PostgisStore) and both["pg"].is_shared_store
    for a, b in zip(both["reports"]["gpkg"], both["reports"]["pg"]):
        assert (a.outcome, a.rows_read, a.rows_added, a.rows_rejected) == \
            (b.outcome, b.rows_read, b.rows_added, b.rows_rejected)
    counts = both["pg"].store.counts()
    # the shared store's import also prepared the quarterly usage cache for the roles
    prepared = counts.pop("usage_periods")
    assert prepared == len(both["gpkg"].utilisation("quarter")) > 10_000
    assert counts == {k: v for k, v in both["gpkg"].store.counts().items()
                      if k != "usage_periods"}
    assert counts["devices"] == 8940 and counts["sessions"] > 100_000


@pytest.mark.parametrize("period,by", [("quarter", "device"), ("month", "connector")])
def test_utilisation_in_sql_equals_the_pandas_engine(both, period, by):
    ours = both["pg"].utilisation(period, by)
    expected = both["gpkg"].utilisation(period, by)
    assert list(ours.columns) == list(expected.columns)
    assert len(ours) == len(expected) > 1000
    for column in expected.columns:
        a, b = ours[column], expected[column]
        if b.dtype == np.int64:
            assert (a.to_numpy() == b.to_numpy()).all(), column
        elif b.dtype == object:
            assert a.tolist() == b.tolist(), column
        else:
            np.testing.assert_allclose(a.to_numpy("float64"), b.to_numpy("float64"),
                                       rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=column)
    assert set(ours["period"]) >= ({"2022-Q1", "2022-Q2"} if period == "quarter"
                                   else {"2022-03", "2022-04"})


@pytest.mark.parametrize("level", ["borough", "ward"])
def test_area_summaries_in_sql_equal_the_pandas_ones(both, level):
    filters = {"power_class": ["fast", "rapid"]} if level == "ward" else None
    ours, placed = both["pg"].summary(level=level, filters=filters)
    expected, _ = both["gpkg"].summary(level=level, filters=filters)
    # the store owner reads every device, and its summaries say so
    assert (ours.pop(ACCESS_COLUMN) == EVERY_DEVICE).all()
    assert ours.attrs["role_note"].startswith("Store owner (")
    assert_same_summary(ours, expected)
    assert ours["sessions"].sum() > 0 and ours.attrs["period"] == "2022-Q2"
    # the placements and the usage cache are now in the database
    with both["pg"].store.conn.cursor() as cur:
        cur.execute(f"SELECT count(*), count(borough_code) FROM {SCHEMA}.device_areas")
        rows, in_borough = cur.fetchone()
        cur.execute(f"SELECT count(DISTINCT device_id) FROM {SCHEMA}.usage_periods"
                    " WHERE level = 'device' AND period_kind = 'quarter'")
        with_usage = cur.fetchone()[0]
    assert rows == 8940
    assert in_borough == int((placed.table["borough_code"].notna()).sum()) > 8000
    assert with_usage == both["gpkg"].utilisation("quarter")["device_id"].nunique()


def test_the_cli_summarises_a_shared_store(both, tmp_path, capsys):
    out = tmp_path / "boroughs.csv"
    assert cli.main(["summary", "--store", both["dsn"], "--out", str(out)]) == 0
    # the shared store holds the snapshot's SYNTHETIC usage: the file and the line say so
    assert out.read_text(encoding="utf-8").splitlines()[0] == f'"{NOTE}"'
    assert capsys.readouterr().out.strip().endswith("— SYNTHETIC usage")
    table = pd.read_csv(out, skiprows=1)
    expected, _ = both["gpkg"].summary(level="borough")
    assert len(table) == 33
    assert table["devices"].sum() == expected["devices"].sum()
    assert table["sessions"].sum() == pytest.approx(expected["sessions"].sum())


def test_the_cli_refuses_a_password_on_the_command_line(both, capsys):
    address = both["dsn"].replace("postgres@", "postgres:hunter2@")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["summary", "--store", address, "--out", "x.csv"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "password" in err and "hunter2" not in err


def test_the_shared_maps_area_layers_follow_the_disclosure_rule(both):
    """Every reader sees map_wards/map_boroughs, so a ward whose usage comes from fewer
    than three devices or one operator shows no usage figures (and says why), while
    the other cells carry the same figures as the officer's own GeoPackage map."""
    from ev_chargepoints.core.outputs import disclosure

    both["pg"].write_map("quarter")
    mine = both["gpkg"].map_frames("quarter").areas["map_wards"][0]
    with both["pg"].store.conn.cursor() as cur:
        cur.execute(f"SELECT area_code, period, sessions, occupancy_pct, usage_disclosure"
                    f" FROM {SCHEMA}.map_wards")
        shared = pd.DataFrame(cur.fetchall(), columns=["area_code", "period", "sessions",
                                                       "occupancy_pct", "status"])
    both_maps = mine.merge(shared, on=["area_code", "period"], suffixes=("", "_shared"))
    assert len(both_maps) == len(mine) == len(shared)
    usage = both["gpkg"].utilisation("quarter")
    placed = both["gpkg"].assignment().table
    q2 = both_maps[both_maps["period"] == "2022-Q2"]
    counts = disclosure.area_contributors(placed, both["gpkg"].devices(), usage, "ward_code",
                                          ["2022-Q2", "2022-Q1"]).set_index("ward_code")
    devices = q2["area_code"].map(counts["usage_devices"]).fillna(0)
    few = q2[(devices > 0) & (devices < 3)]
    assert len(few) > 0 and few["sessions_shared"].isna().all()
    assert few["status"].str.startswith("suppressed").all()
    shown = both_maps[both_maps["status"] == disclosure.SHOWN]
    assert len(shown) > 500
    np.testing.assert_allclose(shown["sessions_shared"].astype(float), shown["sessions"],
                               rtol=1e-9)
    # the owner's own summary (not published to readers) keeps every figure
    assert both_maps["sessions"].notna().sum() > both_maps["sessions_shared"].notna().sum()
