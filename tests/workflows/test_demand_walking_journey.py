"""Demand per ward and walking catchments on the borough's combined store (registry,
operator feed, returns and a reconciliation decision: conftest.py builds it), through
the command line, checked against the inputs: every charger counted once, walking never
reaching more than the straight line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from borough_data import ROOT, cli, ok

from ev_chargepoints.core.crs import bng_to_wgs84, wgs84_to_bng
from ev_chargepoints.core.outputs.tables import read_csv

NETWORK = ROOT / "tests" / "data" / "networks" / "central_london_highways_osm.gpkg"
# the bundled OpenStreetMap extract's box (WGS84)
WEST, SOUTH, EAST, NORTH = -0.1318, 51.5020, -0.1080, 51.5215
WALK_M = 400.0


@pytest.fixture(scope="module")
def devices(reg, journey, boroughs, wards) -> pd.DataFrame:
    """Every charge point once (the registry's and the newcomer's), placed in wards."""
    columns = ["device_id", "x", "y", "connectors"]
    frame = pd.concat([reg[columns], journey.feed.newcomers[columns]], ignore_index=True)
    frame["ward"] = wards.locate(frame["x"], frame["y"])
    return frame


def demand_at(journey, share: float) -> pd.DataFrame:
    out = journey.folder / f"demand_{share}.csv"
    ok(cli("demand", "--store", journey.store, "--ev-share", share, "--out", out))
    return read_csv(out, dtype={"area_code": str}).set_index("area_code")


def test_demand_counts_each_charger_once_and_grows_with_the_ev_share(journey, devices):
    low, high = demand_at(journey, 0.2), demand_at(journey, 0.4)
    assert list(low.columns[:7]) == ["area_name", "cars", "evs", "public_evs",
                                     "connectors_needed", "connectors_now", "gap"]
    assert len(low) > 600 and (low.index == high.index).all()
    placed = devices.dropna(subset=["ward"])
    now = placed.groupby("ward")["connectors"].sum().reindex(low.index).fillna(0)
    assert (low["connectors_now"] == now.astype(int)).all()
    assert (high["connectors_now"] == low["connectors_now"]).all()
    known = low["connectors_needed"].notna()
    for table in (low, high):
        assert (table.loc[known, "gap"] == table.loc[known, "connectors_needed"]
                - table.loc[known, "connectors_now"]).all()
    assert (high.loc[known, "connectors_needed"] >= low.loc[known, "connectors_needed"]).all()
    assert high["connectors_needed"].sum() > low["connectors_needed"].sum()
    assert set(low["ev_share"]) == {0.2} and set(high["ev_share"]) == {0.4}
    assert low["inputs"].str.contains("devices as of").all()


@pytest.fixture(scope="module")
def walking_sites(journey, devices) -> pd.DataFrame:
    """Sites 30 m east of three devices well inside the network's box."""
    lon, lat = bng_to_wgs84(devices["x"].to_numpy(), devices["y"].to_numpy())
    inside = devices[(lon > WEST + 0.004) & (lon < EAST - 0.004)
                     & (lat > SOUTH + 0.003) & (lat < NORTH - 0.003)]
    assert len(inside) >= 3
    picks = inside.sort_values("device_id").iloc[[0, len(inside) // 2, -1]]
    slon, slat = bng_to_wgs84(picks["x"].to_numpy() + 30.0, picks["y"].to_numpy())
    sites = pd.DataFrame({"site_id": [f"walk-{i}" for i in range(3)], "longitude": slon,
                          "latitude": slat})
    sites.to_csv(journey.folder / "walking_sites.csv", index=False)
    return sites


def test_walking_catchments_count_each_charger_once_and_never_beyond_the_line(
        journey, devices, walking_sites):
    out = journey.folder / "walking_sites_analysed.csv"
    result = ok(cli("sites", "--store", journey.store, "--sites",
                    journey.folder / "walking_sites.csv", "--network", NETWORK,
                    "--walk", WALK_M, "--out", out))
    table = read_csv(out, dtype={"site_id": str}).set_index("site_id")
    assert sorted(table.index) == sorted(walking_sites["site_id"])
    x, y = wgs84_to_bng(walking_sites["longitude"].to_numpy(),
                        walking_sites["latitude"].to_numpy())
    for site, sx, sy in zip(walking_sites["site_id"], x, y):
        distance = np.hypot(devices["x"].to_numpy() - sx, devices["y"].to_numpy() - sy)
        row = table.loc[site]
        assert row["devices_within"] == int((distance <= 400.0).sum()), site
        assert row["walk_m"] == WALK_M
        assert 0 <= row["devices_within_walk"] <= row["devices_within"], site
        assert 0 <= row["residents_within_walk"] <= row["residents_within"] + 1e-6, site
    assert table["devices_within_walk"].sum() > 0
    # OpenStreetMap's licence: the credit goes with what is drawn from its data
    assert "street network: © OpenStreetMap contributors" in result.stdout
    assert set(table["walk_network"]) == {
        "central_london_highways_osm.gpkg (© OpenStreetMap contributors)"}
