"""Candidate-site analysis on the bundled London snapshot, checked independently.

Every figure is recomputed here by brute force (plain numpy distances from
each site to every device or grid-cell centre), never through the siting
module's own index or span arithmetic.
"""

import math

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core import errors
from ev_chargepoints.core.analysis import areas, geometry
from ev_chargepoints.core.analysis.siting.analyser import (
    IncrementalSiteAnalyser,
    analyse_sites,
    definitions,
)
from ev_chargepoints.core.analysis.siting.catchment import Catchment, RadiusCatchment
from ev_chargepoints.core.analysis.siting.population import PopulationGrid
from ev_chargepoints.core.analysis.siting.sites import sites_from_lonlat, sites_from_points
from ev_chargepoints.core.analysis.siting.suggest import suggest_sites
from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.progress import Cancelled, Progress
from ev_chargepoints.core.schema import POWER_CLASSES
from ev_chargepoints.core.sources.parsers import parse_file

# Sites deep inside large wards (checked below to be > 1.2 km from any edge).
CHISLEHURST = ("E05000111", 544244.2, 170351.8)
MILL_HILL = ("E05000057", 523114.0, 191847.1)
# Documented lattice error of 100 m cells for r = 400 m is at most 6.5 %; the
# sampled ward area is within 1 %.
LATTICE_ERROR_400 = 0.065 + 0.01


@pytest.fixture(scope="module")
def wards():
    return areas.load_wards(2018)


@pytest.fixture(scope="module")
def grid(wards):
    return PopulationGrid.from_areas(wards)


@pytest.fixture(scope="module")
def devices():
    parsed = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    frame = parsed.table("devices")
    x, y = wgs84_to_bng(frame["longitude"].to_numpy(), frame["latitude"].to_numpy())
    return frame.assign(x=x, y=y)


@pytest.fixture(scope="module")
def usage(devices):
    """Hand-made sums for two quarters; one device in five has no record."""
    rng = np.random.default_rng(7)
    frames = []
    for q, label in ((8089, "2022-Q2"), (8090, "2022-Q3")):
        has = rng.random(len(devices)) > 0.2
        n = int(has.sum())
        available = 2184.0 * devices["connector_count"].to_numpy()[has]
        frames.append(pd.DataFrame({
            "device_id": devices["device_id"].to_numpy(object)[has], "period": label,
            "period_index": q, "sessions": rng.integers(0, 300, n),
            "kwh": rng.uniform(0, 4000, n), "plugged_hours": available * rng.uniform(0, .4, n),
            "available_hours": available}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def sample_sites(devices):
    """Device locations moved a little, a few random points, one outside London."""
    rng = np.random.default_rng(3)
    pick = rng.choice(len(devices), 25, replace=False)
    x = np.r_[devices["x"].to_numpy()[pick] + rng.normal(0, 150, 25),
              rng.uniform(515_000, 545_000, 10), 603_576.0]
    y = np.r_[devices["y"].to_numpy()[pick] + rng.normal(0, 150, 25),
              rng.uniform(165_000, 195_000, 10), 126_292.0]
    return sites_from_points(x, y, fields={"label": [f"L{i}" for i in range(len(x))]})


def _distances(x, y, px, py):
    return np.sqrt((np.asarray(px) - x) ** 2 + (np.asarray(py) - y) ** 2)


def _cells(grid):
    """Every grid cell with residents: centre x, y and residents, computed here."""
    rows, cols = np.nonzero(grid.residents > 0)
    cx = grid.x0 + (cols + 0.5) * grid.cell_m
    cy = grid.y0 + (rows + 0.5) * grid.cell_m
    return cx, cy, grid.residents[rows, cols]


def _covered_by(cx, cy, px, py, r):
    """Whether each cell centre is within r of any of the points (brute force)."""
    out = np.zeros(len(cx), dtype=bool)
    for x, y in zip(px, py):
        near = (np.abs(cx - x) <= r) & (np.abs(cy - y) <= r)
        idx = np.flatnonzero(near & ~out)
        out[idx[_distances(x, y, cx[idx], cy[idx]) <= r]] = True
    return out


# --- counts ----------------------------------------------------------------------

@pytest.mark.parametrize("distance", [150.0, 400.0, 1000.0])
def test_counts_match_an_independent_distance_loop(devices, sample_sites, distance):
    out = analyse_sites(sample_sites, devices, distances=(distance,))
    assert list(out["site_id"]) == list(sample_sites["site_id"])
    assert list(out["label"]) == list(sample_sites["label"])
    px, py = devices["x"].to_numpy(), devices["y"].to_numpy()
    classes = devices["power_class"].to_numpy(object)
    for row in out.itertuples():
        d = _distances(row.x, row.y, px, py)
        inside = d <= distance
        assert row.devices_within == inside.sum()
        assert row.connectors_within == devices["connector_count"].to_numpy()[inside].sum()
        for name in POWER_CLASSES:
            assert getattr(row, f"{name}_within") == (classes[inside] == name).sum()
        assert row.nearest_device_m == pytest.approx(d.min(), abs=1e-6)
        assert row.nearest_device_id == devices["device_id"].iloc[int(np.argmin(d))]
    assert out["devices_within"].sum() > 100  # the sample does reach devices


def test_a_device_exactly_on_the_circle_counts():
    devices = pd.DataFrame({"device_id": ["a", "b", "c"], "x": [1000.0, 1400.0, 1401.0],
                            "y": [5000.0, 5000.0, 5000.0], "connector_count": [1, 2, 4],
                            "power_class": ["slow", "rapid", None], "operator": ["P", "Q", "P"]})
    out = analyse_sites(sites_from_points([1000.0], [5000.0]), devices,
                               distances=(400,))
    row = out.iloc[0]
    assert (row.devices_within, row.connectors_within) == (2, 3)
    assert (row.slow_within, row.rapid_within, row.unknown_power_within) == (1, 1, 0)
    assert row.top_operators_within == "P (1); Q (1)"


def test_top_operators_and_demand_are_recomputed_from_sums(devices, sample_sites, usage):
    out = analyse_sites(sample_sites, devices, utilisation=usage, distances=(800,))
    latest = usage[usage["period"] == "2022-Q3"].set_index("device_id")
    px, py = devices["x"].to_numpy(), devices["y"].to_numpy()
    assert set(out["usage_period"]) == {"2022-Q3"}
    checked = 0
    for row in out.itertuples():
        inside = _distances(row.x, row.y, px, py) <= 800
        ids = devices["device_id"].to_numpy(object)[inside]
        rec = latest.reindex(ids).dropna(subset=["available_hours"])
        assert row.devices_with_usage_within == len(rec)
        assert row.sessions_within == rec["sessions"].sum()
        assert row.kwh_within == pytest.approx(rec["kwh"].sum())
        if len(rec):
            expected = 100 * rec["plugged_hours"].sum() / rec["available_hours"].sum()
            assert row.occupancy_pct_within == pytest.approx(expected)
            checked += 1
        else:
            assert math.isnan(row.occupancy_pct_within)
        counts = devices["operator"][inside].value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        expected_ops = "; ".join(f"{k} ({v})" for k, v in ranked) or None
        assert row.top_operators_within == expected_ops
    assert checked > 10
    earlier = analyse_sites(sample_sites, devices, utilisation=usage, distances=(800,),
                                   period="2022-Q2")
    assert set(earlier["usage_period"]) == {"2022-Q2"}
    assert not np.allclose(earlier["kwh_within"], out["kwh_within"])
    with pytest.raises(ValueError, match="2021-Q1"):
        analyse_sites(sample_sites, devices, utilisation=usage, period="2021-Q1")


# --- population --------------------------------------------------------------

def test_grid_conserves_ward_population_and_samples_areas_closely(wards, grid):
    assert grid.total == pytest.approx(wards.table["population"].sum(), rel=1e-9)
    assert grid.unplaced == 0
    sampled = grid.sampled_area_m2()
    exact = wards.table["area_m2"].to_numpy()
    assert np.abs(sampled / exact - 1).max() < 0.01
    assert (grid.residents >= 0).all()
    assert "evenly" in grid.note


@pytest.mark.parametrize("ward", [CHISLEHURST, MILL_HILL])
@pytest.mark.parametrize("distance", [400.0, 800.0])
def test_residents_deep_inside_a_ward_are_its_density_times_the_circle(
        wards, grid, devices, ward, distance):
    code, x, y = ward
    g = int(np.flatnonzero(wards.codes == code)[0])
    edges = wards.polygons.edges()
    mine = edges["geom"] == g
    clearance = geometry.segment_distances(x, y, edges["x0"][mine], edges["y0"][mine],
                                           edges["x1"][mine], edges["y1"][mine]).min()
    assert clearance > distance + 2 * grid.cell_m  # the premise: the circle is all in it
    row = analyse_sites(sites_from_points([x], [y]), devices, population=grid,
                               distances=(distance,)).iloc[0]
    assert row.ward_code == code
    population = wards.table["population"].iloc[g]
    density = population / wards.table["area_m2"].iloc[g]
    # exactly: cells whose centre is within the distance, at the sampled density
    cx, cy, _ = _cells(grid)
    n_cells = int((_distances(x, y, cx, cy) <= distance).sum())
    sampled_density = population / grid.sampled_area_m2()[g]
    assert row.residents_within == pytest.approx(
        n_cells * grid.cell_m ** 2 * sampled_density, rel=1e-9)
    # and within the documented error of density × πr²
    expected = density * math.pi * distance ** 2
    assert abs(row.residents_within / expected - 1) < LATTICE_ERROR_400
    assert row.catchment_in_area_pct == 100
    assert row.note is None


def test_a_site_outside_london_has_no_residents_and_says_so(grid, devices):
    lon_lat = sites_from_lonlat([0.9, -0.1276], [51.0, 51.5072], ids=["kent", "centre"])
    out = analyse_sites(lon_lat, devices, population=grid)
    kent, centre = out.iloc[0], out.iloc[1]
    assert kent.residents_within == 0 and kent.new_coverage_residents == 0
    assert kent.catchment_in_area_pct == 0
    assert "outside the population boundaries" in kent.note
    assert kent.ward_code is None and kent.devices_within == 0
    assert kent.nearest_device_m > 40_000
    assert kent.score == 0  # a gap nobody lives in scores nothing
    assert centre.residents_within > 1000 and centre.ward_code is not None


def test_a_site_on_the_london_boundary_counts_only_residents_inside(wards, grid, devices):
    # the westernmost vertex of the wards: half of any circle there is outside
    i = int(np.argmin(wards.polygons.x))
    x, y = wards.polygons.x[i] + 1.0, wards.polygons.y[i]
    row = analyse_sites(sites_from_points([x], [y]), devices,
                               population=grid).iloc[0]
    assert 0 < row.catchment_in_area_pct < 75
    assert "lies outside the population boundaries" in row.note


# --- coverage ----------------------------------------------------------------

def test_already_covered_new_and_unique_coverage_match_brute_force(grid, devices):
    rng = np.random.default_rng(11)
    # outer London, where coverage has gaps; two sites close together overlap
    x = np.r_[rng.uniform(505_000, 512_000, 6), 540_000.0, 540_300.0]
    y = np.r_[rng.uniform(180_000, 190_000, 6), 165_000.0, 165_000.0]
    sites = sites_from_points(x, y)
    r = 400.0
    out = analyse_sites(sites, devices, population=grid, distances=(r,))
    cx, cy, res = _cells(grid)
    px, py = devices["x"].to_numpy(), devices["y"].to_numpy()
    relevant = np.zeros(len(cx), dtype=bool)
    for sx, sy in zip(x, y):
        relevant |= _distances(sx, sy, cx, cy) <= r
    cx, cy, res = cx[relevant], cy[relevant], res[relevant]
    existing = _covered_by(cx, cy, px, py, r)
    reach = np.array([_distances(sx, sy, cx, cy) <= r for sx, sy in zip(x, y)])
    for i, row in enumerate(out.itertuples()):
        within = res[reach[i]].sum()
        new = res[reach[i] & ~existing].sum()
        others = np.delete(reach, i, axis=0).any(axis=0)
        unique = res[reach[i] & ~existing & ~others].sum()
        assert row.residents_within == pytest.approx(within)
        assert row.residents_already_covered == pytest.approx(within - new)
        assert row.new_coverage_residents == pytest.approx(new)
        assert row.unique_new_coverage_residents == pytest.approx(unique)
        if within:
            assert row.residents_already_covered_pct == pytest.approx(
                100 * (within - new) / within)
    pair = out.iloc[6:8]
    assert (pair["unique_new_coverage_residents"] < pair["new_coverage_residents"]).all()
    assert out["new_coverage_residents"].gt(0).sum() >= 3


def test_suggestions_pick_the_largest_marginal_gain_at_every_step(grid, devices):
    rng = np.random.default_rng(5)
    n = 40
    x = rng.uniform(515_000, 530_000, n)
    y = rng.uniform(170_000, 180_000, n)
    # a duplicate of a strong candidate makes an exact tie: the first listed must win
    x[20], y[20] = x[2], y[2]
    candidates = sites_from_points(x, y, ids=[f"c{i:02d}" for i in range(n)])
    r = 400.0
    picks = suggest_sites(candidates, devices, grid, k=10, distance=r)
    cx, cy, res = _cells(grid)
    near = np.zeros(len(cx), dtype=bool)
    for sx, sy in zip(x, y):
        near |= _distances(sx, sy, cx, cy) <= r
    cx, cy, res = cx[near], cy[near], res[near]
    covered = _covered_by(cx, cy, devices["x"].to_numpy(), devices["y"].to_numpy(), r)
    reach = np.array([_distances(sx, sy, cx, cy) <= r for sx, sy in zip(x, y)])
    start = res[covered].sum()
    chosen = []
    assert len(picks) > 3
    for step in picks.itertuples():
        gains = np.array([res[reach[j] & ~covered].sum() for j in range(n)])
        gains[chosen] = -1
        pick = int(step.site_id[1:])
        assert gains[pick] == pytest.approx(step.gain_residents, rel=1e-9)
        assert gains[pick] >= gains.max() - 1e-6 * max(gains.max(), 1)
        best = np.flatnonzero(gains >= gains.max() - 1e-6 * max(gains.max(), 1))
        assert pick == best[0]  # ties go to the candidate listed first
        others = np.delete(gains, chosen + [pick])
        assert step.runner_up_gain_residents == pytest.approx(others.max(), rel=1e-9, abs=1e-9)
        chosen.append(pick)
        covered |= reach[pick]
    gained = res[covered].sum() - start
    assert picks["cumulative_gain_residents"].iloc[-1] == pytest.approx(gained)
    assert np.all(np.diff(picks["gain_residents"]) <= 1e-9)
    assert picks["covered_pct"].is_monotonic_increasing
    assert "c02" in set(picks["site_id"]) and "c20" not in set(picks["site_id"])


def test_suggestions_stop_when_nobody_new_can_be_covered(grid, devices):
    # candidates on existing devices in central London add nothing
    central = devices[(devices["x"].between(528_000, 532_000))
                      & (devices["y"].between(179_000, 182_000))].head(5)
    picks = suggest_sites(central[["x", "y"]], devices, grid, k=3)
    assert len(picks) == 0


# --- score, rank, editing --------------------------------------------------------

def test_score_and_rank_follow_the_weights(grid, devices, usage, sample_sites):
    weights = {"new_coverage": 2.0, "demand": 1.0, "gap": 1.0}
    out = analyse_sites(sample_sites, devices, utilisation=usage, population=grid,
                               distances=(400,), weights=weights)
    new = out["new_coverage_residents"] / out["new_coverage_residents"].max()
    demand = out["occupancy_pct_within"].fillna(0)
    demand = demand / demand.max()
    gap = np.minimum(out["nearest_device_m"] / 800, 1).where(out["catchment_in_area_pct"] > 0,
                                                             0)
    expected = 100 * (2 * new + demand + gap) / 4
    np.testing.assert_allclose(out["score"], expected, atol=1e-6)
    order = sorted(range(len(out)), key=lambda i: (-round(expected[i], 6),
                                                   -out["new_coverage_residents"][i], i))
    assert list(out["rank"][order]) == list(range(1, len(out) + 1))

    by_gap = analyse_sites(sample_sites, devices, population=grid,
                                  weights={"gap": 1})
    assert by_gap["score"].max() <= 100
    best = by_gap.loc[by_gap["rank"] == 1].iloc[0]
    assert best.score == by_gap["score"].max()
    # without utilisation the demand weight has no data and is left out
    no_usage = analyse_sites(sample_sites, devices, population=grid,
                                    weights={"new_coverage": 1, "demand": 5})
    np.testing.assert_allclose(
        no_usage["score"], 100 * no_usage["new_coverage_residents"]
        / no_usage["new_coverage_residents"].max(), atol=1e-6)
    with pytest.raises(ValueError, match="unknown"):
        analyse_sites(sample_sites, devices, weights={"popularity": 1})
    with pytest.raises(ValueError):
        analyse_sites(sample_sites, devices, weights={"gap": 0})


def test_moving_a_site_changes_its_figures_and_its_neighbours(grid, devices, usage):
    analyser = IncrementalSiteAnalyser(devices, utilisation=usage, population=grid)
    analyser.add_site(508_000.0, 185_000.0, site_id="a", owner="council")
    b = analyser.add_site(508_300.0, 185_000.0, site_id="b").iloc[0]
    before = analyser.table().set_index("site_id")
    moved = analyser.move_site("a", 530_000.0, 181_000.0).iloc[0]
    assert moved.site_id == "a" and moved.owner == "council"
    assert moved.devices_within != before.loc["a", "devices_within"]
    assert moved.residents_within != pytest.approx(before.loc["a", "residents_within"])
    fresh = analyse_sites(sites_from_points([530_000.0], [181_000.0]),
                                 devices, utilisation=usage, population=grid).iloc[0]
    for column in ("devices_within", "connectors_within", "kwh_within", "nearest_device_m",
                   "residents_within", "new_coverage_residents"):
        assert getattr(moved, column) == pytest.approx(getattr(fresh, column))
    after = analyser.table().set_index("site_id")
    # a no longer overlaps b, so b keeps all its new coverage to itself
    assert before.loc["b", "unique_new_coverage_residents"] < b.new_coverage_residents
    assert after.loc["b", "unique_new_coverage_residents"] == pytest.approx(
        after.loc["b", "new_coverage_residents"])
    assert list(after.index) == ["a", "b"]
    analyser.remove_site("a")
    assert list(analyser.table()["site_id"]) == ["b"]
    with pytest.raises(KeyError):
        analyser.move_site("a", 0, 0)


def test_adding_sites_one_by_one_equals_the_batch(grid, devices, usage, sample_sites):
    batch = analyse_sites(sample_sites, devices, utilisation=usage, population=grid,
                                 distances=(400, 800))
    analyser = IncrementalSiteAnalyser(devices, utilisation=usage, population=grid,
                                              distances=(400, 800))
    for row in sample_sites.itertuples():
        rows = analyser.add_site(row.x, row.y, site_id=row.site_id, label=row.label)
        assert list(rows["distance_m"]) == [400, 800]
    one_by_one = analyser.table()
    assert list(batch["distance_m"][:4]) == [400, 800, 400, 800]
    numeric = batch.select_dtypes("number").columns
    pd.testing.assert_frame_equal(one_by_one[numeric], batch[numeric], check_dtype=False)
    assert list(one_by_one["top_operators_within"]) == list(batch["top_operators_within"])
    wide = batch.pivot(index="site_id", columns="distance_m", values="devices_within")
    assert (wide[800] >= wide[400]).all()
    summary = analyser.coverage_summary()
    assert (summary["covered_with_sites_pct"] >= summary["covered_by_existing_pct"]).all()


class _SquareCatchment(RadiusCatchment):
    """A catchment that only implements the interface (no fast reach count)."""

    def reach_counts(self, grid, sx, sy):
        return Catchment.reach_counts(self, grid, sx, sy)


def test_another_catchment_plugs_in_through_the_interface(grid, devices, sample_sites):
    plain = analyse_sites(sample_sites, devices, population=grid)
    other = analyse_sites(sample_sites, devices, population=grid,
                                 catchment_factory=_SquareCatchment)
    np.testing.assert_allclose(other["new_coverage_residents"],
                               plain["new_coverage_residents"])
    assert set(plain["catchment"]) == {"straight line, 400 m"}


def test_without_devices_every_resident_within_is_new(grid):
    none = pd.DataFrame({"device_id": pd.Series([], dtype=object), "x": [], "y": []})
    row = analyse_sites(sites_from_points([530_000.0], [180_000.0]), none,
                               population=grid).iloc[0]
    assert row.devices_within == 0 and math.isnan(row.nearest_device_m)
    assert row.residents_within > 0
    assert row.new_coverage_residents == row.residents_within
    assert "no existing device located" in row.note


def test_cancel_stops_the_analysis(devices, sample_sites):
    with pytest.raises(Cancelled):
        analyse_sites(sample_sites, devices,
                             progress=Progress(is_cancelled=lambda: True))


# --- inputs and definitions ------------------------------------------------------

def test_sites_accept_lon_lat_and_refuse_bad_tables(devices):
    sites = sites_from_lonlat([-0.1276], [51.5072], ids=[17],
                                     fields={"name": ["Trafalgar"]})
    assert list(sites.columns) == ["site_id", "name", "x", "y", "longitude", "latitude"]
    assert sites["site_id"].iloc[0] == "17"
    assert sites["x"].iloc[0] == pytest.approx(530_000, abs=300)
    lonlat_only = pd.DataFrame({"longitude": [-0.1276], "latitude": [51.5072],
                                "score": [9]})
    out = analyse_sites(lonlat_only, devices)
    assert out["x"].iloc[0] == pytest.approx(sites["x"].iloc[0])
    assert out["score_input"].iloc[0] == 9
    with pytest.raises(errors.ParseError, match="longitude/latitude"):
        analyse_sites(pd.DataFrame({"a": [1]}), devices)
    with pytest.raises(errors.ParseError, match="unique"):
        analyse_sites(pd.DataFrame({"site_id": ["s", "s"], "x": [1.0, 2.0],
                                           "y": [1.0, 2.0]}), devices)


def test_every_output_column_has_a_definition(grid, devices, usage, sample_sites):
    out = analyse_sites(sample_sites, devices, utilisation=usage, population=grid)
    defined = definitions()
    missing = [c for c in out.columns if c not in defined and c != "label"]
    assert missing == []
    assert all(text.strip() for text in defined.values())
