"""The demand-gap criterion of candidate sites (issue #24) on a real store of the bundled
NCR snapshot and the bundled GLA ward profiles: demand_gap_within recomputed by hand
(a ward's gap × the share of its area the catchment reaches; near a boundary, by
sampling the reached cells here), the score with and without the criterion, the
workspace facade and the ``sites`` command's options."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.cli import main
from ev_chargepoints.core.analysis import demand, geometry
from ev_chargepoints.core.analysis.siting.analyser import analyse_sites
from ev_chargepoints.core.analysis.siting.population import london_population_grid
from ev_chargepoints.core.analysis.siting.sites import located_devices, sites_from_points
from ev_chargepoints.core.errors import EvChargepointsError
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.workspace import Workspace

NCR = LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz"
# deep inside Kelsey and Eden Park (Bromley; > 750 m from its edges, checked below)
KELSEY = ("E05000120", 537150.0, 167950.0)
GLA = demand.GLA_2030


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sitedemand") / "london.gpkg"
    with Workspace(path) as ws:
        ws.import_files([NCR])
    return path


@pytest.fixture(scope="module")
def grid():
    return london_population_grid(2018)


@pytest.fixture(scope="module")
def gla(store):
    with Workspace(store, create=False) as ws:
        return ws.demand(demand.PRESETS[GLA])


@pytest.fixture(scope="module")
def devices(store):
    with Workspace(store, create=False) as ws:
        return located_devices(ws.devices(), ws.assignment().table)


def _gap(table, code):
    return max(float(table.set_index("area_code")["gap"][code]), 0.0)


def test_the_gap_spreads_like_the_residents_and_sums_to_london(grid, gla):
    population = grid.areas.table["population"].to_numpy("float64")
    np.testing.assert_allclose(grid.spread(population), grid.flat, rtol=1e-12, atol=1e-9)
    gaps = demand.positive_gaps(gla, grid.areas.codes)
    assert (gaps >= 0).all() and gaps.max() > 100
    # only wards short of connectors count, every one of them in full
    short = pd.to_numeric(gla["gap"]).clip(lower=0).sum()
    assert grid.spread(gaps).sum() == pytest.approx(short, rel=1e-9)


def test_demand_gap_deep_inside_a_ward_is_its_gap_times_the_share_reached(grid, gla,
                                                                          devices):
    code, x, y = KELSEY
    g = int(np.flatnonzero(grid.areas.codes == code)[0])
    edges = grid.areas.polygons.edges()
    mine = edges["geom"] == g
    clearance = geometry.segment_distances(x, y, edges["x0"][mine], edges["y0"][mine],
                                           edges["x1"][mine], edges["y1"][mine]).min()
    assert clearance > 400 + 2 * grid.cell_m  # the premise: the circle is all in the ward
    row = analyse_sites(sites_from_points([x], [y]), devices, population=grid,
                        demand=gla).iloc[0]
    gap = _gap(gla, code)
    assert gap > 100  # one of London's largest gaps under the GLA 2030 preset
    # cells whose centre is within 400 m, each 1 / (sampled cells of the ward) of its gap
    cx, cy = grid.centres()
    n_cells = int((np.hypot(cx - x, cy - y) <= 400).sum())
    share = n_cells * grid.cell_m ** 2 / grid.sampled_area_m2()[g]
    assert row.demand_gap_within == pytest.approx(gap * share, rel=1e-9)
    # comparable with the residents: the same share of the ward's residents
    population = grid.areas.table["population"].iloc[g]
    assert row.demand_gap_within == pytest.approx(gap * row.residents_within / population,
                                                  rel=1e-9)
    assert row.demand_scenario == GLA


def test_demand_gap_across_a_boundary_adds_each_wards_sampled_share(grid, gla, devices):
    code, x, y = KELSEY
    g = int(np.flatnonzero(grid.areas.codes == code)[0])
    edges = grid.areas.polygons.edges()
    k = int(np.flatnonzero(edges["geom"] == g)[5])
    sx, sy = (edges["x0"][k] + edges["x1"][k]) / 2, (edges["y0"][k] + edges["y1"][k]) / 2
    row = analyse_sites(sites_from_points([sx], [sy]), devices, population=grid,
                        demand=gla).iloc[0]
    # by hand: 20 m samples of every cell whose centre is within 400 m, located here
    cx, cy = grid.centres()
    reached = np.flatnonzero(np.hypot(cx - sx, cy - sy) <= 400)
    offsets = (np.arange(5) + 0.5) * 20.0 - 50.0
    ox, oy = np.meshgrid(offsets, offsets)
    px = (cx[reached][:, None] + ox.ravel()).ravel()
    py = (cy[reached][:, None] + oy.ravel()).ravel()
    ward = geometry.locate_points(grid.areas.polygons, px, py).index
    inside = ward >= 0
    counts = np.bincount(ward[inside], minlength=len(grid.areas))
    assert (counts > 0).sum() >= 2  # the premise: the catchment reaches two wards or more
    gaps = demand.positive_gaps(gla, grid.areas.codes)
    expected = float((counts * gaps / grid.area_samples).sum())
    assert expected > 0
    assert row.demand_gap_within == pytest.approx(expected, rel=1e-3)


def test_a_site_in_a_ward_short_of_connectors_ranks_higher_with_the_demand_gap(
        grid, gla, devices):
    rng = np.random.default_rng(5)
    x = np.r_[KELSEY[1], rng.uniform(525_000, 535_000, 15)]
    y = np.r_[KELSEY[2], rng.uniform(175_000, 185_000, 15)]
    sites = sites_from_points(x, y)
    plain = analyse_sites(sites, devices, population=grid)
    zero = analyse_sites(sites, devices, population=grid, demand=gla)
    # a weight of 0 (the default) leaves every score as without demand
    assert "demand_gap_within" not in plain and "demand_gap_within" in zero
    np.testing.assert_array_equal(plain["score"], zero["score"])
    np.testing.assert_array_equal(plain["rank"], zero["rank"])
    by_residents = analyse_sites(sites, devices, population=grid, demand=gla,
                                 weights={"residents": 1.0, "demand_gap": 0.0})
    weighted = analyse_sites(sites, devices, population=grid, demand=gla,
                             weights={"residents": 1.0, "demand_gap": 2.0})
    # Kelsey and Eden Park (suburban, short of 100+ connectors) climbs
    assert weighted["rank"][0] < by_residents["rank"][0]
    gap = weighted["demand_gap_within"]
    residents = weighted["residents_within"] / weighted["residents_within"].max()
    expected = 100 * (residents + 2 * gap / gap.max()) / 3
    np.testing.assert_allclose(weighted["score"], expected, atol=1e-6)


def test_the_workspace_takes_a_scenario_or_a_preset_name(store):
    sites = sites_from_points([KELSEY[1], 530_000.0], [KELSEY[2], 180_000.0])
    with Workspace(store, create=False) as ws:
        plain = ws.analyse_sites(sites)
        named = ws.analyse_sites(sites, scenario="2035 (half of cars electric)")
        own = ws.analyse_sites(sites, scenario=demand.Scenario(name="mine", ev_share=0.1))
        asked = ws.analyse_sites(sites, weights={"residents": 1, "demand_gap": 1})
        with pytest.raises(EvChargepointsError, match="no preset"):
            ws.analyse_sites(sites, scenario="2050")
    assert "demand_gap_within" not in plain
    assert set(named["demand_scenario"]) == {"2035 (half of cars electric)"}
    assert set(own["demand_scenario"]) == {"mine"}
    # half of cars electric needs more than a tenth
    assert named["demand_gap_within"][0] > own["demand_gap_within"][0] > 0
    assert set(asked["demand_scenario"]) == {GLA}  # the weight alone: the default preset
    np.testing.assert_array_equal(plain["score"], named["score"])


def test_sites_command_weighs_the_demand_gap_of_a_scenario(store, tmp_path, capsys):
    sites = tmp_path / "sites.csv"
    pd.DataFrame({"site_id": ["kelsey", "centre", "west"],
                  "x": [KELSEY[1], 530_000.0, 515_000.0],
                  "y": [KELSEY[2], 180_000.0, 180_000.0]}).to_csv(sites, index=False)
    out = tmp_path / "out.csv"
    assert main(["sites", "--store", str(store), "--sites", str(sites), "--out", str(out),
                 "--weights", "new_coverage=0.1", "--demand-weight", "2",
                 "--preset", "2030 (busier connectors)", "--ev-share", "0.3",
                 "--distance", "400", "--distance", "800"]) == 0
    table = read_csv(out)
    name = "2030 (busier connectors), adjusted: ev_share=0.3"
    assert set(table["demand_scenario"]) == {name}
    assert {"demand_gap_within", "demand_gap_within_800m"} <= set(table.columns)
    assert (table["demand_gap_within_800m"] >= table["demand_gap_within"]).all()
    assert table.set_index("site_id")["rank"]["kelsey"] == 1
    printed = capsys.readouterr().out
    assert f"demand gap: scenario '{name}'" in printed and "demand_gap_within" in printed
    # no demand option: the output is as before
    assert main(["sites", "--store", str(store), "--sites", str(sites), "--out",
                 str(out)]) == 0
    assert "demand_gap_within" not in read_csv(out).columns
    assert main(["sites", "--store", str(store), "--sites", str(sites), "--out", str(out),
                 "--demand-weight", "-1"]) == 2
    assert "--demand-weight must be 0 or more" in capsys.readouterr().err
    assert not math.isnan(table["demand_gap_within"].sum())
